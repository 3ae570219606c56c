package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// caseRecord is a case as stored: channels.Case hides its idempotency key
// from JSON, the store keeps it.
type caseRecord struct {
	*channels.Case
	Key string `json:"idempotency_key,omitempty"`
}

func phoneKey(phone string, c *channels.Case) []byte {
	k := appendTimeKey(append([]byte(phone), 0), c.CreatedAt)
	return append(k, c.Ref...)
}

// CreateCase stores c durably: bbolt fsyncs the transaction before Batch
// returns, and Batch lets concurrent submissions share one fsync. With an
// idempotency key seen before it returns the first case instead.
func (d *DB) CreateCase(_ context.Context, c *channels.Case) (*channels.Case, error) {
	rec, err := json.Marshal(caseRecord{Case: c, Key: c.IdempotencyKey})
	if err != nil {
		return nil, fmt.Errorf("bolt: create case %s: %w", c.Ref, err)
	}
	var out *channels.Case
	// Batch may run the function more than once; it decides from what is
	// stored each time, so a rerun gives the same result.
	err = d.db.Batch(func(tx *bbolt.Tx) error {
		var err error
		out, err = createCase(tx, c, rec)
		return err
	})
	var ce *channels.Error
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: create case %s: %w", c.Ref, err)
	}
	return out, nil
}

// createCase stores c, encoded as rec, with its index entries and its
// first event in the case log; with an idempotency key seen before it
// stores nothing and returns that key's case.
func createCase(tx *bbolt.Tx, c *channels.Case, rec []byte) (*channels.Case, error) {
	cases, keys := tx.Bucket(bucketCases), tx.Bucket(bucketCaseKeys)
	if c.IdempotencyKey != "" {
		if ref := keys.Get([]byte(c.IdempotencyKey)); ref != nil {
			return readCase(cases, string(ref))
		}
	}
	if cases.Get([]byte(c.Ref)) != nil {
		return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "case reference %s is taken", c.Ref)
	}
	if err := cases.Put([]byte(c.Ref), rec); err != nil {
		return nil, err
	}
	if c.IdempotencyKey != "" {
		if err := keys.Put([]byte(c.IdempotencyKey), []byte(c.Ref)); err != nil {
			return nil, err
		}
	}
	if c.Agency != "" {
		// Each agency's keys grow with the time: new ones go at the end of
		// its range, as in a log.
		byAgency := tx.Bucket(bucketCaseAgency)
		byAgency.FillPercent = appendFill
		if err := byAgency.Put(agencyKey(c), nil); err != nil {
			return nil, err
		}
	}
	if err := logEvents(tx, c.Ref, true, c.History[:min(1, len(c.History))]); err != nil {
		return nil, err
	}
	if c.NationalID != "" {
		if err := tx.Bucket(bucketCaseNationalID).Put(phoneKey(c.NationalID, c), nil); err != nil {
			return nil, err
		}
	}
	if c.Phone != "" {
		if err := tx.Bucket(bucketCasePhone).Put(phoneKey(c.Phone, c), nil); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// CreateCases stores cs, none of which may be stored yet, in one fsynced
// transaction, each as CreateCase stores it (record, indexes, case log):
// all or none. A reference or idempotency key already taken is ECONFLICT.
// It is for loading many cases at once (a migration, the load harness's
// pre-fill), where one fsync per case would take hours.
func (d *DB) CreateCases(_ context.Context, cs []*channels.Case) error {
	recs := make([][]byte, len(cs))
	for i, c := range cs {
		rec, err := json.Marshal(caseRecord{Case: c, Key: c.IdempotencyKey})
		if err != nil {
			return fmt.Errorf("bolt: create case %s: %w", c.Ref, err)
		}
		recs[i] = rec
	}
	err := d.db.Update(func(tx *bbolt.Tx) error {
		for i, c := range cs {
			got, err := createCase(tx, c, recs[i])
			if err != nil {
				return err
			}
			if got != c {
				return channels.Errorf(channels.ECONFLICT, "error.conflict", "idempotency key of case %s is taken", c.Ref)
			}
		}
		return nil
	})
	var ce *channels.Error
	if errors.As(err, &ce) {
		return err
	}
	if err != nil {
		return fmt.Errorf("bolt: create %d cases: %w", len(cs), err)
	}
	return nil
}

// CaseCount returns how many cases are stored.
func (d *DB) CaseCount(context.Context) (int, error) {
	n := 0
	err := d.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketCases).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: count cases: %w", err)
	}
	return n, nil
}

func readCase(cases *bbolt.Bucket, ref string) (*channels.Case, error) {
	v := cases.Get([]byte(ref))
	if v == nil {
		return nil, notFound("case " + ref)
	}
	rec := caseRecord{Case: &channels.Case{}}
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("bolt: case %s: %w", ref, err)
	}
	rec.Case.IdempotencyKey = rec.Key
	return rec.Case, nil
}

// Case returns the case ref.
func (d *DB) Case(_ context.Context, ref string) (*channels.Case, error) {
	var c *channels.Case
	err := d.db.View(func(tx *bbolt.Tx) error {
		var err error
		c, err = readCase(tx.Bucket(bucketCases), ref)
		return err
	})
	return c, err
}

// CasesByPhone returns up to limit cases of phone, newest first, walking the
// phone index backwards.
func (d *DB) CasesByPhone(_ context.Context, phone string, limit int) ([]*channels.Case, error) {
	return d.newestCases(bucketCasePhone, phone, limit)
}

// CasesByNationalID returns up to limit cases made at kiosks for the
// holder of identity document id, newest first.
func (d *DB) CasesByNationalID(_ context.Context, id string, limit int) ([]*channels.Case, error) {
	return d.newestCases(bucketCaseNationalID, id, limit)
}

// newestCases walks the index bucket back from the newest case of who.
func (d *DB) newestCases(bucket []byte, who string, limit int) ([]*channels.Case, error) {
	out := []*channels.Case{}
	if who == "" {
		return out, nil
	}
	prefix := append([]byte(who), 0)
	err := d.db.View(func(tx *bbolt.Tx) error {
		cases := tx.Bucket(bucketCases)
		c := tx.Bucket(bucket).Cursor()
		// Seek past the last key of the prefix, then step back.
		end := append(bytes.Clone(prefix[:len(prefix)-1]), 1)
		k, _ := c.Seek(end)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			cs, err := readCase(cases, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			out = append(out, cs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
