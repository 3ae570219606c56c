// Package bolt is the embedded default store: cases, preferences, the SMS
// outbox and sessions in bbolt files beside each other, so `channels serve`
// needs nothing else.
package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/govchannels/channels"
)

// schemaVersion is the layout of the buckets below; Open refuses a file
// written by a newer version.
// Version 2 keys the outbox's due index by kind; version 3 keeps each due
// message's recipient in the due index and adds the indexes of failed
// messages (for operators) and of final ones by when they became final (for
// the purge).
const schemaVersion = 3

var (
	bucketMeta           = []byte("meta")
	bucketSessions       = []byte("sessions")         // id → session record
	bucketSessionExpiry  = []byte("session_expiry")   // expiry (8 bytes BE unix nanos) + id → nil
	bucketCases          = []byte("cases")            // ref → case record (JSON)
	bucketCaseKeys       = []byte("case_keys")        // idempotency key → ref
	bucketCasePhone      = []byte("case_phone")       // phone 0x00 created (8 bytes BE) ref → nil
	bucketPrefs          = []byte("prefs")            // phone → JSON
	bucketOutbox         = []byte("outbox")           // key → outbound message (JSON)
	bucketOutboxDue      = []byte("outbox_due")       // kind 0x00 next attempt (8 bytes BE) key → recipient, queued messages
	bucketOutboxSending  = []byte("outbox_sending")   // key → kind, messages handed to a gateway
	bucketOutboxFailed   = []byte("outbox_failed")    // kind 0x00 key → nil, failed messages
	bucketOutboxFinal    = []byte("outbox_final")     // updated (8 bytes BE) key → nil, final messages
	bucketSecrets        = []byte("secrets")          // name → random bytes
	bucketCaseAgency     = []byte("case_agency")      // agency 0x00 created (8 bytes BE) ref → nil
	bucketCaseEvents     = []byte("case_events")      // seq (8 bytes BE) → case event (JSON)
	bucketCursors        = []byte("cursors")          // follower name → seq (8 bytes BE)
	bucketDevices        = []byte("devices")          // phone 0x00 token → device (JSON)
	bucketDeviceTokens   = []byte("device_tokens")    // token → phone
	bucketAgencies       = []byte("agencies")         // id → agency (JSON)
	bucketAgencyKeys     = []byte("agency_keys")      // key id → key (JSON)
	bucketCaseNationalID = []byte("case_national_id") // document number 0x00 created (8 bytes BE) ref → nil
	bucketOperators      = []byte("operators")        // id → operator (JSON)
	bucketAudit          = []byte("audit")            // seq (8 bytes BE) → audit entry (JSON)
	bucketSignOuts       = []byte("signouts")         // phone → signed out at, kept until (8 bytes BE unix nanos each)
	bucketSignOutKeep    = []byte("signout_keep")     // kept until (8 bytes BE) phone → nil
	keyVersion           = []byte("version")
)

// DB is a channels.Store in two bbolt files. Cases, preferences, the outbox
// and secrets live in the data file, where every write is fsynced before it
// returns. Sessions live beside it in <data file>-sessions, written without
// fsync: a session lasts minutes and is written on every hop, and skipping
// the fsync is what lets one machine serve thousands of hops a second. Unsynced writes survive
// a crash of the process (they are in the kernel's page cache) but not of
// the machine, so the sessions file is discarded when the machine has
// rebooted since it was last opened.
type DB struct {
	db       *bbolt.DB
	sessions *bbolt.DB
	inst     instance
}

var _ channels.Store = (*DB)(nil)

// ErrLocked is returned, wrapped with the path, by Open when another
// process holds the file for longer than Options.Timeout.
var ErrLocked = errors.New("data file locked by another process")

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for the file lock held by another process;
	// 1s when zero, so a second server fails clearly instead of hanging.
	Timeout time.Duration
	// BatchDelay is how long a write waits for concurrent writes to share
	// its transaction (and, for cases, its fsync), in both files. When
	// zero, dataBatchDelay in the data file and sessionBatchDelay in the
	// sessions file. Longer raises throughput under load and the latency
	// of every write.
	BatchDelay time.Duration
}

// dataBatchDelay is the data file's default batch window. Each commit
// there is two fsyncs and the pages of several B+trees, made by the one
// writer while the hops wait for cores: under load, submissions that share
// an 8 ms window rather than a 2 ms one leave the CPU to the hops (measured
// with `channels load`: 0.43 to 0.46× the baseline's hops/s with 2 ms,
// 0.48 to 0.54× with 8 ms, p99 no worse; 16 ms had a worse p99).
const dataBatchDelay = 8 * time.Millisecond

// sessionBatchDelay is the sessions file's default batch window: its
// commits make no fsync, and a hop writes there every time, so a longer
// window mostly makes every hop wait (measured: 10 ms gives 0.33×).
const sessionBatchDelay = 2 * time.Millisecond

// Open opens or creates the data file at path and its sessions file.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	dataOpts, sessionOpts := opts, opts
	if opts.BatchDelay == 0 {
		dataOpts.BatchDelay, sessionOpts.BatchDelay = dataBatchDelay, sessionBatchDelay
	}
	db, err := openFile(path, dataOpts, append([][]byte{bucketCases, bucketCaseKeys, bucketCasePhone, bucketPrefs, bucketOutbox, bucketOutboxDue, bucketOutboxSending, bucketOutboxFailed, bucketSecrets,
		bucketCaseAgency, bucketCaseEvents, bucketCursors, bucketDevices, bucketDeviceTokens, bucketAgencies, bucketAgencyKeys,
		bucketCaseNationalID, bucketOperators, bucketAudit, bucketOutboxFinal, bucketSignOuts, bucketSignOutKeep}, paymentBuckets...))
	if err != nil {
		return nil, err
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: upgrade %s: %w", path, err)
	}
	spath := path + "-sessions"
	if err := checkBoot(spath); err != nil {
		db.Close()
		return nil, err
	}
	sessions, err := openFile(spath, sessionOpts, [][]byte{bucketSessions, bucketSessionExpiry})
	if err != nil {
		db.Close()
		return nil, err
	}
	sessions.NoSync = true
	return &DB{db: db, sessions: sessions}, nil
}

func openFile(path string, opts Options, buckets [][]byte) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.Timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: %w (is another channels running?)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	db.MaxBatchDelay = opts.BatchDelay
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range append([][]byte{bucketMeta}, buckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keyVersion)
		switch {
		case v == nil:
			return meta.Put(keyVersion, binary.BigEndian.AppendUint32(nil, schemaVersion))
		case len(v) != 4:
			return fmt.Errorf("unreadable schema version")
		case binary.BigEndian.Uint32(v) > schemaVersion:
			return fmt.Errorf("schema version %d is newer than this program's %d: upgrade channels", binary.BigEndian.Uint32(v), schemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return db, nil
}

// migrate brings a data file written by an older version to
// schemaVersion, in one transaction.
func migrate(db *bbolt.DB) error {
	return db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := binary.BigEndian.Uint32(meta.Get(keyVersion)); v == schemaVersion {
			return nil
		}
		// Versions 1 and 2 differ only in the outbox's indexes: rebuilding
		// every index upgrades both.
		if err := reindex(tx); err != nil {
			return err
		}
		return meta.Put(keyVersion, binary.BigEndian.AppendUint32(nil, schemaVersion))
	})
}

// bootIDFile holds the kernel's identifier of the current boot on Linux.
var bootIDFile = "/proc/sys/kernel/random/boot_id"

// checkBoot removes the sessions file at path unless it was last opened
// during this boot of the machine (recorded in path.boot), since unsynced
// writes may be torn only by a machine crash. Where the boot cannot be
// known, the file is always removed.
func checkBoot(path string) error {
	boot, err := os.ReadFile(bootIDFile)
	marker := path + ".boot"
	if seen, rerr := os.ReadFile(marker); err != nil || rerr != nil || !bytes.Equal(seen, boot) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("discard sessions file %s from an earlier boot: %w", path, err)
		}
	}
	if err != nil {
		return nil
	}
	tmp := marker + ".tmp"
	if err := os.WriteFile(tmp, boot, 0o600); err != nil {
		return fmt.Errorf("record boot of sessions file: %w", err)
	}
	return os.Rename(tmp, marker)
}

// Close closes both files.
func (d *DB) Close() error {
	return errors.Join(d.sessions.Close(), d.db.Close())
}

// zeroNanos stands for the zero time.Time in stored records. It is the
// earliest instant UnixNano can express (in 1677), which no session uses.
const zeroNanos = math.MinInt64

// nanos returns t as nanoseconds since the Unix epoch for a stored record:
// the zero time as zeroNanos, times beyond what int64 nanoseconds express
// (before 1678, after 2262) clamped, where UnixNano would wrap around.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return zeroNanos
	case t.Before(minTime):
		return zeroNanos + 1
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, zeroNanos+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// fromNanos is the inverse of nanos.
func fromNanos(n int64) time.Time {
	if n == zeroNanos {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// appendTimeKey appends t to an index key as 8 big-endian bytes that sort
// like the times they encode. Times before 1970, the zero time among them,
// all sort as 1970, the oldest; no session or case has a real one.
func appendTimeKey(k []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(max(nanos(t), 0)))
}

func notFound(what string) error {
	return channels.Errorf(channels.ENOTFOUND, "error.not_found", "%s", what)
}
