package postgres

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/peertest"
	"github.com/govchannels/channels/store/storetest"
)

// TestPostgres runs everything against one throwaway cluster; each
// subtest that needs a store gets a database of its own.
func TestPostgres(t *testing.T) {
	pg := peertest.StartPostgres(t)
	t.Run("Contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) channels.Store {
			db, _ := mustOpen(t, pg)
			return db
		})
	})
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, pg) })
	t.Run("AuditTamper", func(t *testing.T) { testAuditTamper(t, pg) })
	t.Run("Instances", func(t *testing.T) { testInstances(t, pg) })
	t.Run("Times", func(t *testing.T) { testTimes(t, pg) })
	t.Run("OddBytes", func(t *testing.T) { testOddBytes(t, pg) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, pg) })
	t.Run("SharedContract", func(t *testing.T) {
		storetest.RunInstances(t, func(t *testing.T) (channels.Store, channels.Store) {
			a, url := mustOpen(t, pg)
			return a, mustOpenURL(t, url)
		})
	})
}

// mustOpen opens a store on a new database, closed when t ends, and
// returns it with the database's URL.
func mustOpen(t testing.TB, pg *peertest.Postgres) (*DB, string) {
	t.Helper()
	url := pg.Database(t)
	return mustOpenURL(t, url), url
}

func mustOpenURL(t testing.TB, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sql runs statements on the database at url behind the store's back, as
// someone with access to the database could.
func sql(t testing.TB, url string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// testMigrations checks that instances starting together on an empty
// database apply the schema once, that reopening changes nothing, and
// that a schema newer than the program is refused.
func testMigrations(t *testing.T, pg *peertest.Postgres) {
	ctx := context.Background()
	url := pg.Database(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("instances opening at once: %v", err)
	}
	db := mustOpenURL(t, url)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	rows, err := db.pool.Query(ctx, "SELECT version FROM schema_version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(ms) || versions[len(versions)-1] != len(ms) {
		t.Errorf("schema versions %v, want 1..%d once each", versions, len(ms))
	}

	sql(t, url, fmt.Sprintf("INSERT INTO schema_version (version) VALUES (%d)", len(ms)+1))
	if db, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "newer than this program") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open of a newer schema = %v, want it refused", err)
	}
}

// testAuditTamper edits the audit table behind the store's back, as
// someone with the database's owner role could, and checks that
// VerifyAudit names what was done.
func testAuditTamper(t *testing.T, pg *peertest.Postgres) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	// Edits must first get past the trigger that refuses them.
	const unlock = "ALTER TABLE audit DISABLE TRIGGER audit_append_only"
	tests := []struct {
		name   string
		tamper []string
		want   string
	}{
		{"an entry edited", []string{unlock, "UPDATE audit SET citizen = '+254700000000' WHERE seq = 2"}, "audit entry 2 was altered"},
		{"an entry removed", []string{unlock, "DELETE FROM audit WHERE seq = 2"}, "audit entry 2 is missing"},
		{"the last entry removed", []string{unlock, "DELETE FROM audit WHERE seq = 3"}, "audit entries after 2 were removed"},
		{"the first entry renumbered", []string{unlock, "UPDATE audit SET seq = 0 WHERE seq = 1"}, "audit entry 1 is missing or out of place (found 0)"},
		{"an entry edited with its hash recomputed", nil, "audit entry 3 was altered"},
		{"the last entry edited with its hash recomputed", nil, "audit entry 3 was altered"},
		{"an entry appended behind the store's back", nil, "audit entries after 3 were not appended by the store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db, url := mustOpen(t, pg)
			var stored []channels.AuditEntry
			for i, action := range []string{channels.AuditSignIn, channels.AuditConsentGiven, channels.AuditCaseSubmitted} {
				e, err := db.Audit(ctx, channels.AuditEntry{At: at.Add(time.Duration(i) * time.Minute), Actor: "operator:amina", Action: action, Citizen: "+254712345678"})
				if err != nil {
					t.Fatal(err)
				}
				stored = append(stored, e)
			}
			if n, err := db.VerifyAudit(ctx); n != 3 || err != nil {
				t.Fatalf("before tampering: VerifyAudit = %d, %v", n, err)
			}
			stmts := tt.tamper
			// Forgers who know the chain's rule recompute the hash.
			forge := func(seq int, e channels.AuditEntry) string {
				return fmt.Sprintf("UPDATE audit SET actor = '%s', hash = '%s' WHERE seq = %d", e.Actor, e.Hash, seq)
			}
			switch tt.name {
			case "an entry edited with its hash recomputed":
				e := stored[1]
				e.Actor = "operator:mallory"
				e.Hash = e.ChainHash(stored[0].Hash)
				stmts = []string{unlock, forge(2, e)}
			case "the last entry edited with its hash recomputed":
				e := stored[2]
				e.Actor = "operator:mallory"
				e.Hash = e.ChainHash(stored[1].Hash)
				stmts = []string{unlock, forge(3, e)}
			case "an entry appended behind the store's back":
				e := channels.AuditEntry{Seq: 4, At: at.Add(time.Hour), Actor: "operator:mallory", Action: channels.AuditSignIn}
				e.Hash = e.ChainHash(stored[2].Hash)
				stmts = []string{fmt.Sprintf(`INSERT INTO audit (seq, at, actor, kiosk, action, citizen, ref, detail, hash)
					VALUES (4, '%s', '%s', '', '%s', '', '', '', '%s')`, e.At.Format(time.RFC3339Nano), e.Actor, e.Action, e.Hash)}
			}
			sql(t, url, stmts...)
			if _, err := db.VerifyAudit(ctx); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyAudit = %v, want %q", err, tt.want)
			}
		})
	}

	t.Run("the table refuses changes", func(t *testing.T) {
		ctx := context.Background()
		db, url := mustOpen(t, pg)
		if _, err := db.Audit(ctx, channels.AuditEntry{At: at, Actor: "admin", Action: channels.AuditOperatorChanged}); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, s := range []string{"UPDATE audit SET actor = 'x'", "DELETE FROM audit", "TRUNCATE audit"} {
			if _, err := conn.Exec(ctx, s); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want it refused", s, err)
			}
		}
		if n, err := db.VerifyAudit(ctx); n != 1 || err != nil {
			t.Errorf("VerifyAudit = %d, %v", n, err)
		}
	})
}

// TestAuditAppendOnly checks that the store offers no method that could
// change or remove an audit entry.
func TestAuditAppendOnly(t *testing.T) {
	allowed := map[string]bool{"Audit": true, "AuditEntries": true, "VerifyAudit": true}
	typ := reflect.TypeFor[*DB]()
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		if strings.Contains(strings.ToLower(name), "audit") && !allowed[name] {
			t.Errorf("*postgres.DB has method %s, which reaches the audit log", name)
		}
	}
}

// testInstances runs writers on two stores open on one database, as two
// instances behind a load balancer: the case log and the audit log stay
// single, gap-free chains, and read-modify-writes lose nothing.
func testInstances(t *testing.T, pg *peertest.Postgres) {
	ctx := context.Background()
	a, url := mustOpen(t, pg)
	b := mustOpenURL(t, url)
	stores := []*DB{a, b}
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	const n = 20
	if _, err := a.CreateCase(ctx, &channels.Case{Ref: "1000000000", Agency: "civil_registry", Status: channels.StatusSubmitted,
		History: []channels.StatusChange{{Status: channels.StatusSubmitted, At: base, Actor: "citizen"}}, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateOperator(ctx, channels.Operator{ID: "amina", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		s := stores[i%2]
		wg.Go(func() {
			if _, err := s.CreateCase(ctx, &channels.Case{Ref: fmt.Sprintf("2%09d", i), Agency: "civil_registry", Status: channels.StatusSubmitted,
				History: []channels.StatusChange{{Status: channels.StatusSubmitted, At: base, Actor: "citizen"}}, CreatedAt: base}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			// The store checks only that history grows; the lifecycle
			// is the caller's.
			if _, err := s.UpdateCase(ctx, "1000000000", func(c *channels.Case) error {
				c.History = append(c.History, channels.StatusChange{Status: channels.StatusInReview, At: base.Add(time.Minute), Actor: "a", Note: fmt.Sprint(i)})
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := s.Audit(ctx, channels.AuditEntry{At: base, Actor: "operator:amina", Action: channels.AuditCaseLookup, Detail: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := s.UpdateOperator(ctx, "amina", func(o *channels.Operator) error { o.FailedSignIns++; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	events, err := b.CaseEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1+2*n {
		t.Errorf("%d events, want %d", len(events), 1+2*n)
	}
	for i, e := range events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: the log has a gap or is out of order", i, e.Seq)
		}
	}
	c, err := a.Case(ctx, "1000000000")
	if err != nil || len(c.History) != n+1 {
		t.Errorf("case history has %d entries (%v), want %d", len(c.History), err, n+1)
	}
	if n, err := b.VerifyAudit(ctx); n != 20 || err != nil {
		t.Errorf("VerifyAudit = %d, %v; want 20 entries in one chain", n, err)
	}
	if o, err := b.Operator(ctx, "amina"); err != nil || o.FailedSignIns != n {
		t.Errorf("failed sign-ins %d (%v), want %d", o.FailedSignIns, err, n)
	}
}

// testTimes checks that times keep microseconds, that a write returns
// what a read gives, and that the zero time stays zero.
func testTimes(t *testing.T, pg *peertest.Postgres) {
	ctx := context.Background()
	db, _ := mustOpen(t, pg)
	ns := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("EAT", 3*3600))
	want := time.Date(2026, 11, 26, 7, 0, 0, 123456000, time.UTC)
	created, err := db.CreateCase(ctx, &channels.Case{Ref: "1", Phone: "+254712345678", Status: channels.StatusSubmitted,
		History: []channels.StatusChange{{Status: channels.StatusSubmitted, At: ns}}, CreatedAt: ns})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := db.UpdateCase(ctx, "1", func(c *channels.Case) error { return c.Transition(channels.StatusInReview, ns, "a", "") })
	if err != nil {
		t.Fatal(err)
	}
	read, err := db.Case(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]time.Time{
		"created": created.CreatedAt, "created history": created.History[0].At, "read": read.CreatedAt,
		"read history": read.History[1].At, "updated history": updated.History[1].At,
	} {
		if got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if !reflect.DeepEqual(updated, read) {
		t.Errorf("UpdateCase returned %+v, Case reads %+v", updated, read)
	}

	e, err := db.Audit(ctx, channels.AuditEntry{At: ns, Actor: "admin", Action: channels.AuditOperatorChanged})
	if err != nil {
		t.Fatal(err)
	}
	if e.At != want {
		t.Errorf("audit entry at %v, want %v", e.At, want)
	}
	if n, err := db.VerifyAudit(ctx); n != 1 || err != nil {
		t.Errorf("VerifyAudit of an entry made at nanoseconds = %d, %v", n, err)
	}
	for _, tt := range []struct {
		name         string
		since, until time.Time
		found        bool
	}{
		{"since a nanosecond before", want.Add(-time.Nanosecond), time.Time{}, true},
		{"since a nanosecond after", want.Add(time.Nanosecond), time.Time{}, false},
		{"until a nanosecond after", time.Time{}, want.Add(time.Nanosecond), true},
		{"until exactly then", time.Time{}, want, false},
	} {
		es, err := db.AuditEntries(ctx, channels.AuditQuery{Since: tt.since, Until: tt.until})
		if err != nil || (len(es) == 1) != tt.found {
			t.Errorf("%s: %d entries, %v; want found %v", tt.name, len(es), err, tt.found)
		}
	}

	m := &channels.Outbound{Key: "k", Status: channels.OutboundQueued, NextAttempt: ns}
	if err := db.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := db.Outbound(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.NextAttempt != want || got.ExpiresAt != (time.Time{}) || got.CreatedAt != (time.Time{}) {
		t.Errorf("outbound times %v %v %v; want %v and zeros", got.NextAttempt, got.ExpiresAt, got.CreatedAt, want)
	}
	if due, err := db.DueOutbound(ctx, channels.KindSMS, ns, 10); err != nil || len(due) != 1 {
		t.Errorf("due at its own next attempt, to the nanosecond: %d, %v", len(due), err)
	}
}

// testOddBytes stores what PostgreSQL's text and jsonb refuse, U+0000,
// where the store promises to keep it: session IDs (a gateway's) and so
// idempotency keys, and citizens' answers.
func testOddBytes(t *testing.T, pg *peertest.Postgres) {
	ctx := context.Background()
	db, _ := mustOpen(t, pg)
	key := "ussd/\x00\xff"
	c := &channels.Case{Ref: "1", Status: channels.StatusSubmitted, IdempotencyKey: key,
		Answers: []channels.Answer{{Field: "name", Value: "Zoë\x00"}}}
	if _, err := db.CreateCase(ctx, c); err != nil {
		t.Fatal(err)
	}
	again := *c
	again.Ref = "2"
	got, err := db.CreateCase(ctx, &again)
	if err != nil || got.Ref != "1" || got.IdempotencyKey != key || got.Answers[0].Value != "Zoë\x00" {
		t.Errorf("retry = %+v, %v; want the first case with its key and answers", got, err)
	}
}

// testReopen checks that what one store wrote another opening the
// database reads, and that opening an up-to-date database changes
// nothing.
func testReopen(t *testing.T, pg *peertest.Postgres) {
	ctx := context.Background()
	db, url := mustOpen(t, pg)
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	if _, err := db.CreateCase(ctx, &channels.Case{Ref: "4821773057", Phone: "+254712345678", Status: channels.StatusSubmitted, IdempotencyKey: "ussd/x", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSession(ctx, &channels.Session{ID: "ussd/x", Phone: "+254712345678", State: []byte{1, 2}, ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = mustOpenURL(t, url)
	if c, err := db.Case(ctx, "4821773057"); err != nil || c.IdempotencyKey != "ussd/x" {
		t.Errorf("case after reopen: %+v, %v", c, err)
	}
	if s, err := db.Session(ctx, "ussd/x", at); err != nil || !slices.Equal(s.State, []byte{1, 2}) {
		t.Errorf("session after reopen: %+v, %v", s, err)
	}
}

// BenchmarkCreateCase submits cases from parallel goroutines: every
// creation takes the case log's head lock until it commits, so this is
// the rate at which one database takes submissions.
func BenchmarkCreateCase(b *testing.B) {
	pg := peertest.StartPostgres(b)
	db, _ := mustOpen(b, pg)
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			c := &channels.Case{Ref: fmt.Sprint(i), Service: "birth_certificate", Agency: "civil_registry", Phone: "+254712345678",
				Status: channels.StatusSubmitted, IdempotencyKey: fmt.Sprintf("ussd/%d", i), CreatedAt: at,
				Answers: []channels.Answer{{Field: "name", Value: "Zoë Wanjiru"}},
				History: []channels.StatusChange{{Status: channels.StatusSubmitted, At: at, Actor: "citizen"}}}
			if _, err := db.CreateCase(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPutSession writes a session per hop, as the channels do.
func BenchmarkPutSession(b *testing.B) {
	pg := peertest.StartPostgres(b)
	db, _ := mustOpen(b, pg)
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	state := make([]byte, 300)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := &channels.Session{ID: fmt.Sprintf("ussd/%d", n.Add(1)%1000), Phone: "+254712345678", Channel: channels.ChannelUSSD,
				State: state, UpdatedAt: at, ExpiresAt: at.Add(time.Minute)}
			if err := db.PutSession(ctx, s); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLockKey measures what a hop pays to be serialized across
// instances, a key's lock and unlock (two statements on a lock
// connection), against the baseline of one statement on the pool, in the
// same run; in parallel, each goroutine on keys of its own.
func BenchmarkLockKey(b *testing.B) {
	pg := peertest.StartPostgres(b)
	db, _ := mustOpen(b, pg)
	ctx := context.Background()
	var n atomic.Int64
	b.Run("baseline=select-1", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.pool.Exec(ctx, "SELECT 1"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("lock-unlock", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			g := n.Add(1)
			for i := 0; pb.Next(); i++ {
				unlock, err := db.LockKey(ctx, fmt.Sprintf("ussd/bench-%d-%d", g, i))
				if err != nil {
					b.Error(err)
					return
				}
				unlock()
			}
		})
	})
}
