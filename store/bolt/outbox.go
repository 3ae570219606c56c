package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// dueKey indexes a queued message by its kind, then when it is next due.
func dueKey(m *channels.Outbound) []byte {
	return append(appendTimeKey(duePrefix(m.Kind), m.NextAttempt), m.Key...)
}

// duePrefix is the part of the due index that holds the messages of kind.
func duePrefix(kind string) []byte { return append([]byte(kind), 0) }

// failedKey indexes a failed message by its kind, then its key.
func failedKey(m *channels.Outbound) []byte {
	return append(duePrefix(m.Kind), m.Key...)
}

// finalKey indexes a final message by when it was last updated, for the
// purge.
func finalKey(m *channels.Outbound) []byte {
	return append(appendTimeKey(nil, m.UpdatedAt), m.Key...)
}

// index keeps a message's entries in the due, sending, failed and final
// indexes in step with its status: queued messages are in the due index
// (with their recipient, so that DueOutbound skips without reading them),
// messages in sending in the sending index, final ones in the final index
// and failed ones in the failed index too.
func index(tx *bbolt.Tx, old, m *channels.Outbound) error {
	due, sending := tx.Bucket(bucketOutboxDue), tx.Bucket(bucketOutboxSending)
	failed, final := tx.Bucket(bucketOutboxFailed), tx.Bucket(bucketOutboxFinal)
	if old != nil {
		if err := due.Delete(dueKey(old)); err != nil {
			return err
		}
		if err := sending.Delete([]byte(old.Key)); err != nil {
			return err
		}
		if err := failed.Delete(failedKey(old)); err != nil {
			return err
		}
		if err := final.Delete(finalKey(old)); err != nil {
			return err
		}
	}
	if m.Status == channels.OutboundFailed {
		if err := failed.Put(failedKey(m), nil); err != nil {
			return err
		}
	}
	switch {
	case m.Status == channels.OutboundQueued:
		return due.Put(dueKey(m), []byte(m.To))
	case m.Status == channels.OutboundSending:
		return sending.Put([]byte(m.Key), []byte(m.Kind))
	case m.Status.Final():
		return final.Put(finalKey(m), nil)
	}
	return nil
}

// reindex rebuilds the outbox's indexes from the messages: the migration
// from an older schema version.
func reindex(tx *bbolt.Tx) error {
	for _, b := range [][]byte{bucketOutboxDue, bucketOutboxSending, bucketOutboxFailed, bucketOutboxFinal} {
		if err := tx.DeleteBucket(b); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(b); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
		var m channels.Outbound
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("outbound message %s: %w", k, err)
		}
		return index(tx, nil, &m)
	})
}

// Enqueue stores each message whose key is new, in one fsynced batch.
func (d *DB) Enqueue(_ context.Context, ms ...*channels.Outbound) error {
	recs := make([][]byte, len(ms))
	for i, m := range ms {
		if m.Key == "" {
			return channels.Errorf(channels.EINVALID, "error.internal", "outbound message without a key")
		}
		v, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("bolt: enqueue %s: %w", m.Key, err)
		}
		recs[i] = v
	}
	err := d.db.Batch(func(tx *bbolt.Tx) error {
		box := tx.Bucket(bucketOutbox)
		for i, m := range ms {
			if box.Get([]byte(m.Key)) != nil {
				continue
			}
			if err := box.Put([]byte(m.Key), recs[i]); err != nil {
				return err
			}
			if err := index(tx, nil, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: enqueue %d messages: %w", len(ms), err)
	}
	return nil
}

func readOutbound(box *bbolt.Bucket, key []byte) (*channels.Outbound, error) {
	v := box.Get(key)
	if v == nil {
		return nil, notFound("outbound message " + string(key))
	}
	var m channels.Outbound
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("bolt: outbound message %s: %w", key, err)
	}
	return &m, nil
}

// Outbound returns the message with key.
func (d *DB) Outbound(_ context.Context, key string) (*channels.Outbound, error) {
	var m *channels.Outbound
	err := d.db.View(func(tx *bbolt.Tx) error {
		var err error
		m, err = readOutbound(tx.Bucket(bucketOutbox), []byte(key))
		return err
	})
	return m, err
}

// DueOutbound returns the messages of kind left sending, then its queued
// messages due by now, earliest first, up to limit in all, leaving out
// those to a recipient in skip.
func (d *DB) DueOutbound(_ context.Context, kind string, now time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	return d.due(kind, now, limit, skip, nil)
}

// due lists as DueOutbound does, leaving out too the keys held says are
// held.
func (d *DB) due(kind string, now time.Time, limit int, skip []string, held func(key string) bool) ([]*channels.Outbound, error) {
	var out []*channels.Outbound
	prefix := duePrefix(kind)
	end := appendTimeKey(bytes.Clone(prefix), now)
	skipped := func(to string) bool { return slices.Contains(skip, to) }
	err := d.db.View(func(tx *bbolt.Tx) error {
		box := tx.Bucket(bucketOutbox)
		c := tx.Bucket(bucketOutboxSending).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			if string(v) != kind || (held != nil && held(string(k))) {
				continue
			}
			m, err := readOutbound(box, k)
			if err != nil {
				return err
			}
			if !skipped(m.To) {
				out = append(out, m)
			}
		}
		c = tx.Bucket(bucketOutboxDue).Cursor()
		for k, to := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, to = c.Next() {
			if bytes.Compare(k[:len(end)], end) > 0 {
				break
			}
			if len(skip) > 0 && skipped(string(to)) {
				continue
			}
			if held != nil && held(string(k[len(end):])) {
				continue
			}
			m, err := readOutbound(box, k[len(end):])
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: due outbound messages: %w", err)
	}
	return out, nil
}

// UpdateOutbound replaces the message with m.Key and its index entries,
// durably.
func (d *DB) UpdateOutbound(_ context.Context, m *channels.Outbound) error {
	v, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("bolt: update outbound %s: %w", m.Key, err)
	}
	err = d.db.Batch(func(tx *bbolt.Tx) error {
		box := tx.Bucket(bucketOutbox)
		old, err := readOutbound(box, []byte(m.Key))
		if err != nil {
			return err
		}
		if err := box.Put([]byte(m.Key), v); err != nil {
			return err
		}
		return index(tx, old, m)
	})
	var ce *channels.Error
	if errors.As(err, &ce) {
		return err
	}
	if err != nil {
		return fmt.Errorf("bolt: update outbound %s: %w", m.Key, err)
	}
	return nil
}

// Secret returns the secret name, made from size random bytes and stored
// durably the first time.
func (d *DB) Secret(_ context.Context, name string, size int) ([]byte, error) {
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("bolt: secret %s: %w", name, err)
	}
	var out []byte
	err := d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSecrets)
		if v := b.Get([]byte(name)); v != nil {
			out = append([]byte(nil), v...)
			return nil
		}
		out = fresh
		return b.Put([]byte(name), fresh)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: secret %s: %w", name, err)
	}
	return out, nil
}

// OutboxBacklog counts the due and sending indexes' keys per kind. The
// due index sorts each kind's messages by when they are due, so the first
// key of a kind is its oldest; no message is read.
func (d *DB) OutboxBacklog(_ context.Context, now time.Time) ([]channels.Backlog, error) {
	byKind := map[string]*channels.Backlog{}
	get := func(kind string) *channels.Backlog {
		b := byKind[kind]
		if b == nil {
			b = &channels.Backlog{Kind: kind}
			byKind[kind] = b
		}
		return b
	}
	cut := nanos(now)
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(k) < i+9 {
				return fmt.Errorf("malformed due index key %q", k)
			}
			b := get(string(k[:i]))
			b.Queued++
			at := int64(binary.BigEndian.Uint64(k[i+1 : i+9]))
			if at > cut {
				continue
			}
			b.Due++
			if b.OldestDue.IsZero() {
				b.OldestDue = fromNanos(at)
			}
		}
		return tx.Bucket(bucketOutboxSending).ForEach(func(_, kind []byte) error {
			get(string(kind)).Sending++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: outbox backlog: %w", err)
	}
	out := make([]channels.Backlog, 0, len(byKind))
	for _, b := range byKind {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b channels.Backlog) int { return strings.Compare(a.Kind, b.Kind) })
	return out, nil
}
