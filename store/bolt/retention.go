package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// PurgeOutbound removes up to limit final messages last updated before
// before, walking only the old end of the final index, in one fsynced
// transaction.
func (d *DB) PurgeOutbound(_ context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	cut := appendTimeKey(nil, before)
	n := 0
	err := d.db.Update(func(tx *bbolt.Tx) error {
		box, final, failed := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxFinal), tx.Bucket(bucketOutboxFailed)
		var old [][]byte
		c := final.Cursor()
		for k, _ := c.First(); k != nil && len(old) < limit && bytes.Compare(k[:8], cut) < 0; k, _ = c.Next() {
			old = append(old, bytes.Clone(k))
		}
		for _, k := range old {
			// A failed message is listed for operators too: that entry goes
			// with it.
			if v := box.Get(k[8:]); v != nil {
				var m channels.Outbound
				if err := json.Unmarshal(v, &m); err == nil && m.Status == channels.OutboundFailed {
					if err := failed.Delete(failedKey(&m)); err != nil {
						return err
					}
				}
			}
			if err := box.Delete(k[8:]); err != nil {
				return err
			}
			if err := final.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: purge outbound messages: %w", err)
	}
	return n, nil
}

// A sign-out record is the instant up to which the phone's tokens are
// void, then the time it is kept until, each as 8 big-endian bytes of
// signed unix nanoseconds (see nanos).
func encodeSignOut(at, keep time.Time) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(nanos(at)))
	return binary.BigEndian.AppendUint64(b, uint64(nanos(keep)))
}

func decodeSignOut(b []byte) (at, keep time.Time, ok bool) {
	if len(b) != 16 {
		return time.Time{}, time.Time{}, false
	}
	return fromNanos(int64(binary.BigEndian.Uint64(b))), fromNanos(int64(binary.BigEndian.Uint64(b[8:]))), true
}

func signOutKeepKey(keep time.Time, phone string) []byte {
	return append(appendTimeKey(make([]byte, 0, 8+len(phone)), keep), phone...)
}

// SignOut records, fsynced, that the tokens of phone issued at or before
// at are void, unless a later sign-out is recorded.
func (d *DB) SignOut(_ context.Context, phone string, at, keep time.Time) error {
	err := d.db.Batch(func(tx *bbolt.Tx) error {
		recs, index := tx.Bucket(bucketSignOuts), tx.Bucket(bucketSignOutKeep)
		if oldAt, oldKeep, ok := decodeSignOut(recs.Get([]byte(phone))); ok {
			if !at.After(oldAt) {
				return nil
			}
			if err := index.Delete(signOutKeepKey(oldKeep, phone)); err != nil {
				return err
			}
		}
		if err := recs.Put([]byte(phone), encodeSignOut(at, keep)); err != nil {
			return err
		}
		return index.Put(signOutKeepKey(keep, phone), nil)
	})
	if err != nil {
		return fmt.Errorf("bolt: sign out %s: %w", channels.MaskPhone(phone), err)
	}
	return nil
}

// SignedOut returns the instant up to which the tokens of phone are void;
// zero when none is recorded.
func (d *DB) SignedOut(_ context.Context, phone string) (time.Time, error) {
	var at time.Time
	err := d.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSignOuts).Get([]byte(phone))
		if v == nil {
			return nil
		}
		var ok bool
		if at, _, ok = decodeSignOut(v); !ok {
			return fmt.Errorf("unreadable record of %d bytes", len(v))
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("bolt: sign-out of %s: %w", channels.MaskPhone(phone), err)
	}
	return at, nil
}

// PurgeSignOuts removes the sign-out records kept until at or before now,
// walking only the old end of their index.
func (d *DB) PurgeSignOuts(_ context.Context, now time.Time) (int, error) {
	limit := appendTimeKey(nil, now)
	n := 0
	err := d.db.Update(func(tx *bbolt.Tx) error {
		recs, index := tx.Bucket(bucketSignOuts), tx.Bucket(bucketSignOutKeep)
		var old [][]byte
		c := index.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
			old = append(old, bytes.Clone(k))
		}
		for _, k := range old {
			if err := recs.Delete(k[8:]); err != nil {
				return err
			}
			if err := index.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: purge sign-outs: %w", err)
	}
	return n, nil
}
