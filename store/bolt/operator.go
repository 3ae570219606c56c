package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// CreateOperator stores a new operator; ECONFLICT when the ID is taken.
func (d *DB) CreateOperator(_ context.Context, o channels.Operator) error {
	v, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("bolt: create operator %s: %w", o.ID, err)
	}
	err = d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOperators)
		if b.Get([]byte(o.ID)) != nil {
			return channels.Errorf(channels.ECONFLICT, "error.conflict", "operator %s exists already", o.ID)
		}
		return b.Put([]byte(o.ID), v)
	})
	return wrap(err, "create operator %s", o.ID)
}

// Operator returns the operator id.
func (d *DB) Operator(_ context.Context, id string) (*channels.Operator, error) {
	var o channels.Operator
	if err := d.getJSON(bucketOperators, id, "operator", &o); err != nil {
		return nil, wrap(err, "operator %s", id)
	}
	return &o, nil
}

// Operators returns every operator, by ID.
func (d *DB) Operators(_ context.Context) ([]channels.Operator, error) {
	var out []channels.Operator
	err := d.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOperators).ForEach(func(_, v []byte) error {
			var o channels.Operator
			if err := json.Unmarshal(v, &o); err != nil {
				return err
			}
			out = append(out, o)
			return nil
		})
	})
	return out, wrap(err, "operators")
}

// UpdateOperator applies change to the operator id in one fsynced
// transaction.
func (d *DB) UpdateOperator(_ context.Context, id string, change func(*channels.Operator) error) (*channels.Operator, error) {
	var out channels.Operator
	err := d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOperators)
		v := b.Get([]byte(id))
		if v == nil {
			return notFound("operator " + id)
		}
		if err := json.Unmarshal(v, &out); err != nil {
			return err
		}
		if err := change(&out); err != nil {
			return err
		}
		if out.ID != id {
			return fmt.Errorf("an update may not rename operator %s", id)
		}
		v, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return nil, wrap(err, "update operator %s", id)
	}
	return &out, nil
}

// Audit appends e to the audit log, chained to the entry before it.
func (d *DB) Audit(_ context.Context, e channels.AuditEntry) (channels.AuditEntry, error) {
	if e.At.IsZero() {
		return e, errors.New("bolt: audit entry without a time")
	}
	e.At = e.At.UTC()
	// Batch may run this more than once; it reads what is stored each time.
	var out channels.AuditEntry
	err := d.db.Batch(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		b.FillPercent = appendFill // appended in key order, as the case log
		prev := ""
		if _, v := b.Cursor().Last(); v != nil {
			var last channels.AuditEntry
			if err := json.Unmarshal(v, &last); err != nil {
				return err
			}
			prev = last.Hash
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		out = e
		out.Seq = seq
		out.Hash = out.ChainHash(prev)
		v, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), v)
	})
	if err != nil {
		return e, fmt.Errorf("bolt: audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return out, nil
}

// AuditEntries returns the entries q selects, oldest first.
func (d *DB) AuditEntries(_ context.Context, q channels.AuditQuery) ([]channels.AuditEntry, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	out := []channels.AuditEntry{}
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, q.After+1)); k != nil && len(out) < q.Limit; k, v = c.Next() {
			var e channels.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			switch {
			case q.Actor != "" && e.Actor != q.Actor,
				q.Citizen != "" && e.Citizen != q.Citizen,
				q.Action != "" && e.Action != q.Action,
				!q.Since.IsZero() && e.At.Before(q.Since),
				!q.Until.IsZero() && !e.At.Before(q.Until):
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: audit entries: %w", err)
	}
	return out, nil
}

// VerifyAudit checks the chain of the whole log, and that the bucket's
// sequence still names its last entry, so that cutting the tail shows.
func (d *DB) VerifyAudit(_ context.Context) (int, error) {
	n := 0
	err := d.db.View(func(tx *bbolt.Tx) error {
		prev := ""
		b := tx.Bucket(bucketAudit)
		err := b.ForEach(func(k, v []byte) error {
			want := uint64(n + 1)
			var e channels.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %d is unreadable: %w", binary.BigEndian.Uint64(k), err)
			}
			switch {
			case binary.BigEndian.Uint64(k) != want || e.Seq != want:
				return fmt.Errorf("audit entry %d is missing or out of place (found %d)", want, e.Seq)
			case e.Hash != e.ChainHash(prev):
				return fmt.Errorf("audit entry %d was altered, or one before it", e.Seq)
			}
			prev = e.Hash
			n++
			return nil
		})
		if err == nil && b.Sequence() != uint64(n) {
			return fmt.Errorf("audit entries after %d were removed", n)
		}
		return err
	})
	return n, err
}
