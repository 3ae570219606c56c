package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// FailedOutbound returns up to limit failed messages of kind after the key
// after, by key, through the failed index. An index entry whose message is
// gone is passed over.
func (d *DB) FailedOutbound(_ context.Context, kind, after string, limit int) ([]*channels.Outbound, error) {
	var out []*channels.Outbound
	prefix := duePrefix(kind)
	err := d.db.View(func(tx *bbolt.Tx) error {
		box := tx.Bucket(bucketOutbox)
		c := tx.Bucket(bucketOutboxFailed).Cursor()
		k, _ := c.Seek(append(bytes.Clone(prefix), after...))
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
			key := k[len(prefix):]
			if string(key) == after && after != "" {
				continue
			}
			m, err := readOutbound(box, key)
			if channels.ErrorCode(err) == channels.ENOTFOUND {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: failed outbound messages of kind %q: %w", kind, err)
	}
	return out, nil
}

// RequeueOutbound puts the failed message with key back in the queue as
// new, due at now, in one fsynced transaction.
func (d *DB) RequeueOutbound(_ context.Context, key string, now time.Time) (*channels.Outbound, error) {
	var m *channels.Outbound
	err := d.db.Update(func(tx *bbolt.Tx) error {
		box := tx.Bucket(bucketOutbox)
		old, err := readOutbound(box, []byte(key))
		if err != nil {
			return err
		}
		if old.Status != channels.OutboundFailed {
			return channels.Errorf(channels.ECONFLICT, "error.conflict", "outbound message %s is %s, not failed", key, old.Status)
		}
		fresh := *old
		fresh.Status, fresh.Attempts, fresh.NextAttempt, fresh.UpdatedAt = channels.OutboundQueued, 0, now, now
		fresh.Sender, fresh.ProviderID, fresh.Reason = "", "", ""
		v, err := json.Marshal(&fresh)
		if err != nil {
			return err
		}
		if err := box.Put([]byte(key), v); err != nil {
			return err
		}
		m = &fresh
		return index(tx, old, &fresh)
	})
	var ce *channels.Error
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: requeue outbound %s: %w", key, err)
	}
	return m, nil
}
