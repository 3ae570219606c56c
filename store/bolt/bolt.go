// Package bolt is the embedded default store: every session, case and
// preference in one bbolt file, so `channels serve` needs nothing else.
package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/govchannels/channels"
)

// schemaVersion is the layout of the buckets below; Open refuses a file
// written by a newer version.
const schemaVersion = 1

var (
	bucketMeta          = []byte("meta")
	bucketSessions      = []byte("sessions")       // id → session record
	bucketSessionExpiry = []byte("session_expiry") // expiry (8 bytes BE unix nanos) + id → nil
	bucketCases         = []byte("cases")          // ref → case record (JSON)
	bucketCaseKeys      = []byte("case_keys")      // idempotency key → ref
	bucketCasePhone     = []byte("case_phone")     // phone 0x00 created (8 bytes BE) ref → nil
	bucketPrefs         = []byte("prefs")          // phone → JSON
	keyVersion          = []byte("version")
)

// DB is a channels.Store in one bbolt file.
type DB struct {
	db *bbolt.DB
}

var _ channels.Store = (*DB)(nil)

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for the file lock held by another process;
	// 1s when zero, so a second server fails clearly instead of hanging.
	Timeout time.Duration
}

// Open opens or creates the data file at path.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.Timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open data file %s: locked by another process (is another channels running?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketSessions, bucketSessionExpiry, bucketCases, bucketCaseKeys, bucketCasePhone, bucketPrefs} {
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
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	return &DB{db: db}, nil
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

func notFound(what string) error {
	return channels.Errorf(channels.ENOTFOUND, "error.not_found", "%s", what)
}
