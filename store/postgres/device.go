package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// PutDevice stores dev; a token registered before by another phone moves
// to dev.Phone, since the token is the table's key.
func (d *DB) PutDevice(ctx context.Context, dev channels.Device) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO devices (token, phone, platform, lang, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (token) DO UPDATE SET phone = EXCLUDED.phone, platform = EXCLUDED.platform, lang = EXCLUDED.lang,
			created_at = EXCLUDED.created_at`,
		dev.Token, dev.Phone, dev.Platform, dev.Lang, micro(dev.CreatedAt))
	return wrap(err, "put device of %s", channels.MaskPhone(dev.Phone))
}

// DeleteDevice removes the device token of phone; a token that moved to
// another phone stays there.
func (d *DB) DeleteDevice(ctx context.Context, phone, token string) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM devices WHERE token = $1 AND phone = $2`, token, phone)
	return wrap(err, "delete device of %s", channels.MaskPhone(phone))
}

// Devices returns the devices of phone, oldest first (then by token).
func (d *DB) Devices(ctx context.Context, phone string) ([]channels.Device, error) {
	rows, err := d.pool.Query(ctx, `SELECT phone, token, platform, lang, created_at FROM devices
		WHERE phone = $1 ORDER BY created_at, token`, phone)
	if err != nil {
		return nil, wrap(err, "devices of %s", channels.MaskPhone(phone))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (channels.Device, error) {
		var dev channels.Device
		err := row.Scan(&dev.Phone, &dev.Token, &dev.Platform, &dev.Lang, &dev.CreatedAt)
		dev.CreatedAt = fromDB(dev.CreatedAt)
		return dev, err
	})
	if err != nil {
		return nil, wrap(err, "devices of %s", channels.MaskPhone(phone))
	}
	return out, nil
}
