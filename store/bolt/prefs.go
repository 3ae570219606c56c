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
		return channels.Prefs{}, fmt.Errorf("bolt: prefs of %s: %w", phone, err)
	}
	return p, nil
}

// PutPrefs replaces the preferences of phone.
func (d *DB) PutPrefs(_ context.Context, phone string, p channels.Prefs) error {
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("bolt: put prefs of %s: %w", phone, err)
	}
	err = d.db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPrefs).Put([]byte(phone), v) })
	if err != nil {
		return fmt.Errorf("bolt: put prefs of %s: %w", phone, err)
	}
	return nil
}
