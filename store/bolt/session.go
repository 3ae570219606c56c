package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// A session record is: version byte 1, then uvarint-length-prefixed phone,
// channel, state and edge, then updated-at and expires-at as 8-byte
// big-endian unix nanoseconds.
const sessionRecordVersion = 1

func encodeSession(s *channels.Session) []byte {
	b := make([]byte, 0, 32+len(s.Phone)+len(s.Channel)+len(s.State)+len(s.Edge))
	b = append(b, sessionRecordVersion)
	for _, f := range [][]byte{[]byte(s.Phone), []byte(s.Channel), s.State, s.Edge} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(s.UpdatedAt.UnixNano()))
	return binary.BigEndian.AppendUint64(b, uint64(s.ExpiresAt.UnixNano()))
}

var errBadRecord = errors.New("unreadable session record")

func decodeSession(id string, b []byte) (*channels.Session, error) {
	if len(b) == 0 || b[0] != sessionRecordVersion {
		return nil, errBadRecord
	}
	b = b[1:]
	var fields [4][]byte
	for i := range fields {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errBadRecord
		}
		fields[i] = bytes.Clone(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	if len(b) != 16 {
		return nil, errBadRecord
	}
	return &channels.Session{
		ID:        id,
		Phone:     string(fields[0]),
		Channel:   channels.Channel(fields[1]),
		State:     fields[2],
		Edge:      fields[3],
		UpdatedAt: time.Unix(0, int64(binary.BigEndian.Uint64(b))),
		ExpiresAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[8:]))),
	}, nil
}

func expiryKey(at time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(at.UnixNano()))
	return append(k, id...)
}

// expiresAt reads the expiry from the tail of a stored record.
func expiresAt(record []byte) (time.Time, bool) {
	if len(record) < 17 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(record[len(record)-8:]))), true
}

// Session returns the session id unless it is missing or expired at now.
func (d *DB) Session(_ context.Context, id string, now time.Time) (*channels.Session, error) {
	var s *channels.Session
	err := d.sessions.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(id))
		if v == nil {
			return notFound("session " + id)
		}
		var err error
		s, err = decodeSession(id, v)
		if err != nil {
			return fmt.Errorf("bolt: session %s: %w", id, err)
		}
		if !s.ExpiresAt.After(now) {
			return notFound("session " + id + " expired")
		}
		return nil
	})
	return s, err
}

// PutSession creates or replaces each of ss in one transaction. Writes
// from concurrent requests are batched into one transaction by bbolt's
// Batch.
func (d *DB) PutSession(_ context.Context, ss ...*channels.Session) error {
	recs := make([][]byte, len(ss))
	for i, s := range ss {
		recs[i] = encodeSession(s)
	}
	err := d.sessions.Batch(func(tx *bbolt.Tx) error {
		sessions, expiry := tx.Bucket(bucketSessions), tx.Bucket(bucketSessionExpiry)
		for i, s := range ss {
			if old := sessions.Get([]byte(s.ID)); old != nil {
				if at, ok := expiresAt(old); ok {
					if err := expiry.Delete(expiryKey(at, s.ID)); err != nil {
						return err
					}
				}
			}
			if err := sessions.Put([]byte(s.ID), recs[i]); err != nil {
				return err
			}
			if err := expiry.Put(expiryKey(s.ExpiresAt, s.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: put sessions: %w", err)
	}
	return nil
}

// DeleteSession removes the session id, if any.
func (d *DB) DeleteSession(_ context.Context, id string) error {
	err := d.sessions.Batch(func(tx *bbolt.Tx) error { return deleteSession(tx, []byte(id)) })
	if err != nil {
		return fmt.Errorf("bolt: delete session %s: %w", id, err)
	}
	return nil
}

func deleteSession(tx *bbolt.Tx, id []byte) error {
	sessions := tx.Bucket(bucketSessions)
	old := sessions.Get(id)
	if old == nil {
		return nil
	}
	if at, ok := expiresAt(old); ok {
		if err := tx.Bucket(bucketSessionExpiry).Delete(expiryKey(at, string(id))); err != nil {
			return err
		}
	}
	return sessions.Delete(id)
}

// PurgeSessions removes the sessions expired at or before now, walking only
// the expired end of the expiry index.
func (d *DB) PurgeSessions(_ context.Context, now time.Time) (int, error) {
	n := 0
	limit := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	err := d.sessions.Update(func(tx *bbolt.Tx) error {
		var ids [][]byte
		c := tx.Bucket(bucketSessionExpiry).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
			ids = append(ids, bytes.Clone(k[8:]))
		}
		for _, id := range ids {
			if err := deleteSession(tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: purge sessions: %w", err)
	}
	return n, nil
}
