package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// putJSON stores v under key in bucket, in one fsynced transaction.
func (d *DB) putJSON(bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return d.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), data) })
}

// getJSON reads key of bucket into v; ENOTFOUND names what when absent.
func (d *DB) getJSON(bucket []byte, key, what string, v any) error {
	return d.db.View(func(tx *bbolt.Tx) error {
		data := tx.Bucket(bucket).Get([]byte(key))
		if data == nil {
			return notFound(what + " " + key)
		}
		return json.Unmarshal(data, v)
	})
}

// wrap adds context to a store error, keeping a *channels.Error as it is.
func wrap(err error, format string, args ...any) error {
	var ce *channels.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("bolt: "+format+": %w", append(args, err)...)
}

// PutAgency creates or replaces the agency a.ID.
func (d *DB) PutAgency(_ context.Context, a channels.Agency) error {
	return wrap(d.putJSON(bucketAgencies, a.ID, a), "put agency %s", a.ID)
}

// Agency returns the agency id.
func (d *DB) Agency(_ context.Context, id string) (*channels.Agency, error) {
	var a channels.Agency
	if err := d.getJSON(bucketAgencies, id, "agency", &a); err != nil {
		return nil, wrap(err, "agency %s", id)
	}
	return &a, nil
}

// Agencies returns every agency, by ID.
func (d *DB) Agencies(_ context.Context) ([]channels.Agency, error) {
	var out []channels.Agency
	err := d.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAgencies).ForEach(func(_, v []byte) error {
			var a channels.Agency
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, wrap(err, "agencies")
}

// PutAgencyKey creates or replaces the key k.ID.
func (d *DB) PutAgencyKey(_ context.Context, k channels.AgencyKey) error {
	return wrap(d.putJSON(bucketAgencyKeys, k.ID, k), "put agency key %s", k.ID)
}

// AgencyKey returns the key id.
func (d *DB) AgencyKey(_ context.Context, id string) (*channels.AgencyKey, error) {
	var k channels.AgencyKey
	if err := d.getJSON(bucketAgencyKeys, id, "agency key", &k); err != nil {
		return nil, wrap(err, "agency key %s", id)
	}
	return &k, nil
}

// AgencyKeys returns the keys of agency, revoked ones included, by ID.
func (d *DB) AgencyKeys(_ context.Context, agency string) ([]channels.AgencyKey, error) {
	var out []channels.AgencyKey
	err := d.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAgencyKeys).ForEach(func(_, v []byte) error {
			var k channels.AgencyKey
			if err := json.Unmarshal(v, &k); err != nil {
				return err
			}
			if k.Agency == agency {
				out = append(out, k)
			}
			return nil
		})
	})
	return out, wrap(err, "keys of agency %s", agency)
}
