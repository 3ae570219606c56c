package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

func deviceKey(phone, token string) []byte {
	return append(append([]byte(phone), 0), token...)
}

// PutDevice stores d; a token registered before by another phone moves.
func (d *DB) PutDevice(_ context.Context, dev channels.Device) error {
	v, err := json.Marshal(dev)
	if err != nil {
		return fmt.Errorf("bolt: put device: %w", err)
	}
	err = d.db.Batch(func(tx *bbolt.Tx) error {
		devices, tokens := tx.Bucket(bucketDevices), tx.Bucket(bucketDeviceTokens)
		if old := tokens.Get([]byte(dev.Token)); old != nil && string(old) != dev.Phone {
			if err := devices.Delete(deviceKey(string(old), dev.Token)); err != nil {
				return err
			}
		}
		if err := tokens.Put([]byte(dev.Token), []byte(dev.Phone)); err != nil {
			return err
		}
		return devices.Put(deviceKey(dev.Phone, dev.Token), v)
	})
	if err != nil {
		return fmt.Errorf("bolt: put device of %s: %w", channels.MaskPhone(dev.Phone), err)
	}
	return nil
}

// DeleteDevice removes the device token of phone.
func (d *DB) DeleteDevice(_ context.Context, phone, token string) error {
	err := d.db.Batch(func(tx *bbolt.Tx) error {
		tokens := tx.Bucket(bucketDeviceTokens)
		if owner := tokens.Get([]byte(token)); owner != nil && string(owner) == phone {
			if err := tokens.Delete([]byte(token)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketDevices).Delete(deviceKey(phone, token))
	})
	if err != nil {
		return fmt.Errorf("bolt: delete device of %s: %w", channels.MaskPhone(phone), err)
	}
	return nil
}

// Devices returns the devices of phone, oldest first.
func (d *DB) Devices(_ context.Context, phone string) ([]channels.Device, error) {
	var out []channels.Device
	prefix := append([]byte(phone), 0)
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketDevices).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var dev channels.Device
			if err := json.Unmarshal(v, &dev); err != nil {
				return err
			}
			out = append(out, dev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: devices of %s: %w", channels.MaskPhone(phone), err)
	}
	slices.SortStableFunc(out, func(a, b channels.Device) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}
