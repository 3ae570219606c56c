package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/store/storetest"
)

// mustOpen opens a store on a fresh file under t.TempDir and closes it when
// the test ends.
func mustOpen(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "channels.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) channels.Store {
		db, _ := mustOpen(t)
		return db
	})
}

// TestSharedContract checks the contracts of several instances on the one
// handle a single process holds.
func TestSharedContract(t *testing.T) {
	storetest.RunInstances(t, func(t *testing.T) (channels.Store, channels.Store) {
		db, _ := mustOpen(t)
		return db, db
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpen(t)
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	c := &channels.Case{Ref: "4821773057", Service: "report_problem", Phone: "+254712345678", Status: channels.StatusSubmitted, IdempotencyKey: "ussd/x", CreatedAt: at}
	if _, err := db.CreateCase(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSession(ctx, &channels.Session{ID: "ussd/x", Phone: "+254712345678", State: []byte{1, 2}, ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPrefs(ctx, "+254712345678", channels.Prefs{Lang: "sw"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.Case(ctx, c.Ref); err != nil || got.IdempotencyKey != "ussd/x" {
		t.Errorf("case after reopen: %+v %v", got, err)
	}
	if got, err := db.Session(ctx, "ussd/x", at); err != nil || string(got.State) != "\x01\x02" {
		t.Errorf("session after reopen: %+v %v", got, err)
	}
	if p, err := db.Prefs(ctx, "+254712345678"); err != nil || p.Lang != "sw" {
		t.Errorf("prefs after reopen: %+v %v", p, err)
	}
}

func TestOpenLockedFile(t *testing.T) {
	_, path := mustOpen(t)
	const timeout = 200 * time.Millisecond
	start := time.Now()
	db, err := Open(path, Options{Timeout: timeout})
	waited := time.Since(start)
	if err == nil {
		db.Close()
		t.Fatal("opened a file held by another DB")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want ErrLocked naming %s", err, path)
	}
	if waited < timeout/2 || waited > timeout+5*time.Second { // bbolt polls the lock every 50ms
		t.Errorf("waited %v for the lock, want about %v", waited, timeout)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	raw, err := bbolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = raw.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyVersion, []byte{0, 0, 0, 9})
	})
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	notBolt := filepath.Join(dir, "text.db")
	if err := os.WriteFile(notBolt, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"newer schema", newer, "schema version 9 is newer"},
		{"not a bbolt file", notBolt, "text.db"},
		{"missing directory", filepath.Join(dir, "no", "such", "dir.db"), "dir.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(tt.path, Options{})
			if err == nil {
				db.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCorruptSessionRecord(t *testing.T) {
	db, _ := mustOpen(t)
	err := db.sessions.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketSessions).Put([]byte("bad"), []byte{1, 200}) })
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Session(context.Background(), "bad", time.Now())
	if err == nil || channels.ErrorCode(err) != channels.EINTERNAL {
		t.Errorf("err = %v, want an internal error", err)
	}
}

// TestTimeEncoding: stored times come back equal, the zero time among
// them, and index keys sort like the times, with every time before 1970
// (the zero time too) as the oldest.
func TestTimeEncoding(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name      string
		t         time.Time
		roundtrip bool
	}{
		{"zero", time.Time{}, true},
		{"before UnixNano's range", time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"before the epoch", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), true},
		{"epoch", time.Unix(0, 0), true},
		{"now", at, true},
		{"in another zone", at.In(time.FixedZone("EAT", 3*3600)).Add(time.Nanosecond), true},
		{"after UnixNano's range", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), false},
	}
	var prev []byte
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromNanos(nanos(tt.t))
			if tt.roundtrip && (!got.Equal(tt.t) || got.IsZero() != tt.t.IsZero()) {
				t.Errorf("stored as %v, want %v", got, tt.t)
			}
			key := appendTimeKey(nil, tt.t)
			if bytes.Compare(key, prev) < 0 {
				t.Errorf("key %x sorts before the earlier time's %x", key, prev)
			}
			prev = key
		})
	}
}

// BenchmarkPutSession is many USSD hops at once, each writing its session:
// what Batch and the unsynced sessions file are for. With few writers each
// waits out most of the batch delay; with many they share transactions.
func BenchmarkPutSession(b *testing.B) {
	ctx := context.Background()
	state := make([]byte, 300)
	for _, perCPU := range []int{1, 32} {
		b.Run(fmt.Sprintf("goroutines-per-cpu=%d", perCPU), func(b *testing.B) {
			db, _ := mustOpen(b)
			var n atomic.Int64
			b.SetParallelism(perCPU)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("ussd/%d", n.Add(1))
					if err := db.PutSession(ctx, &channels.Session{ID: id, State: state, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
						b.Error(err)
					}
				}
			})
		})
	}
}

// BenchmarkCreateCase is one submission at a time, each waiting for the
// batch delay and its own fsync, and many at once, sharing fsyncs.
func BenchmarkCreateCase(b *testing.B) {
	ctx := context.Background()
	create := func(b *testing.B, db *DB) {
		c := &channels.Case{Ref: channels.NewReference(), Service: "report_problem", Phone: "+254712345678", Status: channels.StatusSubmitted,
			Answers: []channels.Answer{{Field: "problem", Value: "streetlight out"}}, CreatedAt: time.Now()}
		// Random references may collide in a long run; that is no failure.
		if _, err := db.CreateCase(ctx, c); err != nil && channels.ErrorCode(err) != channels.ECONFLICT {
			b.Error(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		db, _ := mustOpen(b)
		b.ReportAllocs()
		for b.Loop() {
			create(b, db)
		}
	})
	b.Run("goroutines-per-cpu=32", func(b *testing.B) {
		db, _ := mustOpen(b)
		b.SetParallelism(32)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				create(b, db)
			}
		})
	})
}

// TestSessionsSurviveRestartNotReboot: a restart of the process keeps the
// unsynced sessions file; a reboot of the machine discards it, and never a
// case.
func TestSessionsSurviveRestartNotReboot(t *testing.T) {
	ctx := context.Background()
	boot := filepath.Join(t.TempDir(), "boot_id")
	old := bootIDFile
	bootIDFile = boot
	t.Cleanup(func() { bootIDFile = old })
	setBoot := func(id string) {
		if err := os.WriteFile(boot, []byte(id), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now()
	path := filepath.Join(t.TempDir(), "channels.db")
	reopen := func() *DB {
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	setBoot("boot-1")
	db := reopen()
	if err := db.PutSession(ctx, &channels.Session{ID: "ussd/a", ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCase(ctx, &channels.Case{Ref: "4821773057", Phone: "+254712345678", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = reopen()
	if _, err := db.Session(ctx, "ussd/a", at); err != nil {
		t.Errorf("session lost by a restart: %v", err)
	}
	db.Close()

	setBoot("boot-2")
	db = reopen()
	defer db.Close()
	if _, err := db.Session(ctx, "ussd/a", at); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("session kept across a reboot: %v", err)
	}
	if _, err := db.Case(ctx, "4821773057"); err != nil {
		t.Errorf("case lost: %v", err)
	}
}

// TestMigrateVersion1 opens a data file as version 1 wrote it, whose due
// index did not name kinds and which had no index of final or failed
// messages, and checks that every message is due again by its kind, that
// the failed one is listed, that the purge finds both final ones (and
// leaves no failed entry behind), and that the file is marked with the
// current
// version.
func TestMigrateVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "channels.db")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []channels.Outbound{
		{Key: "otp/1", To: "+254712345678", Text: "code", Status: channels.OutboundQueued, NextAttempt: at},
		{Key: "notice/2", Kind: channels.KindPush, To: "+254712345678", Text: "approved", Status: channels.OutboundQueued, NextAttempt: at.Add(time.Second)},
		{Key: "evt_3", Kind: channels.KindWebhook, To: "civil_registry", Text: "{}", Status: channels.OutboundSending, NextAttempt: at},
		{Key: "old", To: "+254712345678", Text: "sent", Status: channels.OutboundSent, NextAttempt: at},
		{Key: "evt_1", Kind: channels.KindWebhook, To: "civil_registry", Text: "{}", Status: channels.OutboundFailed, NextAttempt: at},
	}
	err = raw.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		box, _ := tx.CreateBucket(bucketOutbox)
		due, _ := tx.CreateBucket(bucketOutboxDue)
		sending, _ := tx.CreateBucket(bucketOutboxSending)
		for _, m := range msgs {
			v, _ := json.Marshal(m)
			if err := box.Put([]byte(m.Key), v); err != nil {
				return err
			}
			switch m.Status {
			case channels.OutboundQueued: // version 1's key: time, then key
				if err := due.Put(append(appendTimeKey(nil, m.NextAttempt), m.Key...), nil); err != nil {
					return err
				}
			case channels.OutboundSending:
				if err := sending.Put([]byte(m.Key), nil); err != nil {
					return err
				}
			}
		}
		return meta.Put(keyVersion, binary.BigEndian.AppendUint32(nil, 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for kind, want := range map[string]string{channels.KindSMS: "otp/1", channels.KindPush: "notice/2", channels.KindWebhook: "evt_3"} {
		ms, err := db.DueOutbound(context.Background(), kind, at.Add(time.Hour), 10)
		if err != nil || len(ms) != 1 || ms[0].Key != want {
			t.Errorf("due %q after the upgrade: %v %v, want %s", kind, ms, err, want)
		}
	}
	if ms, err := db.FailedOutbound(context.Background(), channels.KindWebhook, "", 10); err != nil || len(ms) != 1 || ms[0].Key != "evt_1" {
		t.Errorf("failed webhooks after the upgrade: %v %v, want evt_1", ms, err)
	}
	if n, err := db.PurgeOutbound(context.Background(), at, 10); err != nil || n != 2 {
		t.Errorf("purge after the upgrade = %d, %v; want 2 (the sent and the failed message)", n, err)
	}
	if ms, err := db.FailedOutbound(context.Background(), channels.KindWebhook, "", 10); err != nil || len(ms) != 0 {
		t.Errorf("failed webhooks after the purge: %v %v, want none", ms, err)
	}
	err = db.db.View(func(tx *bbolt.Tx) error {
		if v := binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(keyVersion)); v != schemaVersion {
			t.Errorf("version %d after the upgrade, want %d", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPurgeSessionsInBatches purges more expired sessions than one
// transaction takes: one transaction removes at most sessionPurgeBatch,
// PurgeSessions removes them all and keeps the live ones.
func TestPurgeSessionsInBatches(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	expired := 2*sessionPurgeBatch + 500
	var ss []*channels.Session
	for i := range expired + 10 {
		ttl := -time.Duration(i+1) * time.Millisecond
		if i >= expired {
			ttl = time.Hour
		}
		ss = append(ss, &channels.Session{ID: fmt.Sprintf("s%05d", i), Phone: "+254712345678", UpdatedAt: now, ExpiresAt: now.Add(ttl)})
	}
	if err := db.PutSession(ctx, ss...); err != nil {
		t.Fatal(err)
	}
	if n, err := db.purgeSessions(now, sessionPurgeBatch); err != nil || n != sessionPurgeBatch {
		t.Fatalf("one transaction purged %d, %v; want %d", n, err, sessionPurgeBatch)
	}
	if n, err := db.PurgeSessions(ctx, now); err != nil || n != expired-sessionPurgeBatch {
		t.Fatalf("PurgeSessions = %d, %v; want the other %d", n, err, expired-sessionPurgeBatch)
	}
	for i, s := range ss {
		_, err := db.Session(ctx, s.ID, now.Add(-time.Hour))
		if want := i >= expired; (err == nil) != want {
			t.Errorf("session %s after the purge: %v, want kept %v", s.ID, err, want)
		}
	}
}
