package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// agencyKey indexes a case under its agency, in creation order.
func agencyKey(c *channels.Case) []byte {
	k := appendTimeKey(append([]byte(c.Agency), 0), c.CreatedAt)
	return append(k, c.Ref...)
}

// appendFill is how full bbolt packs a page of a bucket whose keys only
// grow (the case log, the audit log) when it splits one: nothing is ever
// inserted between two keys there, so room left for that is waste.
const appendFill = 1.0

// logEvents appends an event for each of changes to the case log.
func logEvents(tx *bbolt.Tx, ref string, created bool, changes []channels.StatusChange) error {
	b := tx.Bucket(bucketCaseEvents)
	// Events are appended in key order: full pages, not bbolt's half-full
	// splits, which suit keys that arrive anywhere.
	b.FillPercent = appendFill
	for i, ch := range changes {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		v, err := json.Marshal(channels.CaseEvent{Seq: seq, Ref: ref, Created: created && i == 0, Change: ch})
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
	}
	return nil
}

// sameChange reports whether two history entries are the same.
func sameChange(a, b channels.StatusChange) bool {
	return a.Status == b.Status && a.At.Equal(b.At) && a.Actor == b.Actor && a.Note == b.Note
}

// UpdateCase applies change to the case ref in one fsynced transaction and
// logs an event for each history entry it added. change sees a fresh copy
// and is called once; it may not change what identifies the case.
func (d *DB) UpdateCase(_ context.Context, ref string, change func(*channels.Case) error) (*channels.Case, error) {
	var out *channels.Case
	err := d.db.Update(func(tx *bbolt.Tx) error {
		cases := tx.Bucket(bucketCases)
		c, err := readCase(cases, ref)
		if err != nil {
			return err
		}
		before := *c
		before.History = slices.Clone(c.History)
		if err := change(c); err != nil {
			return err
		}
		switch {
		case c.Ref != before.Ref || c.Phone != before.Phone || c.Agency != before.Agency || !c.CreatedAt.Equal(before.CreatedAt) || c.IdempotencyKey != before.IdempotencyKey:
			return fmt.Errorf("case %s: an update may not change its reference, phone, agency, creation or key", ref)
		case len(c.History) < len(before.History) || !slices.EqualFunc(c.History[:len(before.History)], before.History, sameChange):
			return fmt.Errorf("case %s: history is append-only", ref)
		}
		rec, err := json.Marshal(caseRecord{Case: c, Key: c.IdempotencyKey})
		if err != nil {
			return err
		}
		if err := cases.Put([]byte(ref), rec); err != nil {
			return err
		}
		out = c
		return logEvents(tx, ref, false, c.History[len(before.History):])
	})
	var ce *channels.Error
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: update case %s: %w", ref, err)
	}
	return out, nil
}

// ListCases walks the agency's index from the cursor, keeping the cases q
// selects.
func (d *DB) ListCases(_ context.Context, q channels.CaseQuery) ([]*channels.Case, string, error) {
	if q.Agency == "" || q.Limit < 1 {
		return nil, "", channels.Errorf(channels.EINVALID, "error.bad_request", "case query needs an agency and a limit")
	}
	prefix := append([]byte(q.Agency), 0)
	start := prefix
	if q.After != "" {
		after, err := base64.RawURLEncoding.DecodeString(q.After)
		if err != nil || len(after) < 8 {
			return nil, "", channels.Errorf(channels.EINVALID, "error.cursor", "cursor %q is not one this API gave", q.After)
		}
		start = append(bytes.Clone(prefix), after...)
	}
	out := []*channels.Case{}
	next := ""
	err := d.db.View(func(tx *bbolt.Tx) error {
		cases := tx.Bucket(bucketCases)
		c := tx.Bucket(bucketCaseAgency).Cursor()
		k, _ := c.Seek(start)
		if q.After != "" && bytes.Equal(k, start) {
			k, _ = c.Next() // the cursor names the last case of the previous page
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			cs, err := readCase(cases, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			if (q.Status != "" && cs.Status != q.Status) || (len(q.Services) > 0 && !slices.Contains(q.Services, cs.Service)) {
				continue
			}
			if len(out) == q.Limit {
				next = base64.RawURLEncoding.EncodeToString(agencyKey(out[len(out)-1])[len(prefix):])
				return nil
			}
			out = append(out, cs)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("bolt: list cases of %s: %w", q.Agency, err)
	}
	return out, next, nil
}

// CaseEvents returns up to limit events after seq.
func (d *DB) CaseEvents(_ context.Context, after uint64, limit int) ([]channels.CaseEvent, error) {
	var out []channels.CaseEvent
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketCaseEvents).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e channels.CaseEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: case events after %d: %w", after, err)
	}
	return out, nil
}

// Cursor returns the recorded position of the follower name.
func (d *DB) Cursor(_ context.Context, name string) (uint64, error) {
	var seq uint64
	err := d.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketCursors).Get([]byte(name)); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq, err
}

// PutCursor records the position of the follower name, durably.
func (d *DB) PutCursor(_ context.Context, name string, seq uint64) error {
	err := d.db.Batch(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCursors).Put([]byte(name), binary.BigEndian.AppendUint64(nil, seq))
	})
	if err != nil {
		return fmt.Errorf("bolt: put cursor %s: %w", name, err)
	}
	return nil
}
