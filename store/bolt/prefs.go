package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// Prefs returns the preferences of phone, zero when none are stored.
func (d *DB) Prefs(_ context.Context, phone string) (channels.Prefs, error) {
	var p channels.Prefs
	err := d.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketPrefs).Get([]byte(phone)); v != nil {
			return json.Unmarshal(v, &p)
		}
		return nil
	})
	if err != nil {
		return channels.Prefs{}, fmt.Errorf("bolt: prefs of %s: %w", channels.MaskPhone(phone), err)
	}
	return p, nil
}

// UpdatePrefs applies change to the preferences of phone in one
// transaction, fsynced before it returns.
func (d *DB) UpdatePrefs(_ context.Context, phone string, change func(*channels.Prefs)) (channels.Prefs, error) {
	var p channels.Prefs
	// Batch may run the function more than once: it starts from what is
	// stored each time.
	err := d.db.Batch(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPrefs)
		p = channels.Prefs{}
		if v := b.Get([]byte(phone)); v != nil {
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
		}
		change(&p)
		v, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return b.Put([]byte(phone), v)
	})
	if err != nil {
		return channels.Prefs{}, fmt.Errorf("bolt: update prefs of %s: %w", channels.MaskPhone(phone), err)
	}
	return p, nil
}

// PutPrefs replaces the preferences of phone.
func (d *DB) PutPrefs(_ context.Context, phone string, p channels.Prefs) error {
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("bolt: put prefs of %s: %w", channels.MaskPhone(phone), err)
	}
	err = d.db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPrefs).Put([]byte(phone), v) })
	if err != nil {
		return fmt.Errorf("bolt: put prefs of %s: %w", channels.MaskPhone(phone), err)
	}
	return nil
}
