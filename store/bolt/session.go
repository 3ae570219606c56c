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
	"github.com/govchannels/channels/lenprefix"
)

// A session record is: version byte 1, then uvarint-length-prefixed phone,
// channel, state and edge (package lenprefix), then updated-at and
// expires-at as 8-byte big-endian signed unix nanoseconds (see nanos for
// the zero time). The expiry comes last so the index entry of a stored
// record can be found from its tail alone.
const sessionRecordVersion = 1

func encodeSession(s *channels.Session) []byte {
	b := make([]byte, 0, 32+len(s.Phone)+len(s.Channel)+len(s.State)+len(s.Edge))
	b = append(b, sessionRecordVersion)
	b = lenprefix.AppendString(b, s.Phone)
	b = lenprefix.AppendString(b, string(s.Channel))
	b = lenprefix.AppendBytes(b, s.State)
	b = lenprefix.AppendBytes(b, s.Edge)
	b = binary.BigEndian.AppendUint64(b, uint64(nanos(s.UpdatedAt)))
	return binary.BigEndian.AppendUint64(b, uint64(nanos(s.ExpiresAt)))
}

var errBadRecord = errors.New("unreadable session record")

func decodeSession(id string, b []byte) (*channels.Session, error) {
	if len(b) == 0 || b[0] != sessionRecordVersion {
		return nil, errBadRecord
	}
	r := lenprefix.NewReader(b[1:])
	s := &channels.Session{
		ID:      id,
		Phone:   r.String(),
		Channel: channels.Channel(r.String()),
		// Copies: the record's bytes live only as long as the transaction.
		State: bytes.Clone(r.Bytes()),
		Edge:  bytes.Clone(r.Bytes()),
	}
	times := r.Rest()
	if r.Bad() || len(times) != 16 {
		return nil, errBadRecord
	}
	s.UpdatedAt = fromNanos(int64(binary.BigEndian.Uint64(times)))
	s.ExpiresAt = fromNanos(int64(binary.BigEndian.Uint64(times[8:])))
	return s, nil
}

func expiryKey(at time.Time, id string) []byte {
	return append(appendTimeKey(make([]byte, 0, 8+len(id)), at), id...)
}

// expiresAt reads the expiry from the tail of a stored record.
func expiresAt(record []byte) (time.Time, bool) {
	if len(record) < 17 {
		return time.Time{}, false
	}
	return fromNanos(int64(binary.BigEndian.Uint64(record[len(record)-8:]))), true
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
	// Batch may run this more than once (after another write in its batch
	// failed); it replaces whatever is stored each time, so reruns agree.
	err := d.sessions.Batch(func(tx *bbolt.Tx) error {
		for i, s := range ss {
			if err := putSession(tx, s.ID, recs[i], s.ExpiresAt); err != nil {
				return fmt.Errorf("session %s: %w", s.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: put sessions: %w", err)
	}
	return nil
}

// putSession stores the record rec under id and moves its index entry from
// the old expiry, if any, to expires.
func putSession(tx *bbolt.Tx, id string, rec []byte, expires time.Time) error {
	sessions, expiry := tx.Bucket(bucketSessions), tx.Bucket(bucketSessionExpiry)
	if at, ok := expiresAt(sessions.Get([]byte(id))); ok {
		if err := expiry.Delete(expiryKey(at, id)); err != nil {
			return err
		}
	}
	if err := sessions.Put([]byte(id), rec); err != nil {
		return err
	}
	return expiry.Put(expiryKey(expires, id), nil)
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

// sessionPurgeBatch bounds how many sessions one transaction of
// PurgeSessions removes: bbolt has one writer, and every hop waits for it,
// so a purge after a burst of traffic must hand it back often.
const sessionPurgeBatch = 1000

// PurgeSessions removes the sessions expired at or before now, walking only
// the expired end of the expiry index, sessionPurgeBatch a transaction
// so that hops are written between them.
func (d *DB) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n, err := d.purgeSessions(now, sessionPurgeBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("bolt: purge sessions: %w", err)
		}
		if n < sessionPurgeBatch || ctx.Err() != nil {
			return total, nil
		}
	}
}

// purgeSessions removes up to limit of the sessions expired at or before
// now, in one transaction.
func (d *DB) purgeSessions(now time.Time, limit int) (int, error) {
	n := 0
	end := appendTimeKey(nil, now)
	err := d.sessions.Update(func(tx *bbolt.Tx) error {
		var ids [][]byte
		c := tx.Bucket(bucketSessionExpiry).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < limit && bytes.Compare(k[:8], end) <= 0; k, _ = c.Next() {
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
	return n, err
}
