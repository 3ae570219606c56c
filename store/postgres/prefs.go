package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// Prefs returns the preferences of phone, zero when none are stored.
func (d *DB) Prefs(ctx context.Context, phone string) (channels.Prefs, error) {
	var p channels.Prefs
	err := d.pool.QueryRow(ctx, `SELECT lang, opted_out FROM prefs WHERE phone = $1`, phone).Scan(&p.Lang, &p.OptedOut)
	if errors.Is(err, pgx.ErrNoRows) {
		return channels.Prefs{}, nil
	}
	if err != nil {
		return channels.Prefs{}, wrap(err, "prefs of %s", channels.MaskPhone(phone))
	}
	return p, nil
}

// PutPrefs replaces the preferences of phone.
func (d *DB) PutPrefs(ctx context.Context, phone string, p channels.Prefs) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO prefs (phone, lang, opted_out) VALUES ($1, $2, $3)
		ON CONFLICT (phone) DO UPDATE SET lang = EXCLUDED.lang, opted_out = EXCLUDED.opted_out`, phone, p.Lang, p.OptedOut)
	return wrap(err, "put prefs of %s", channels.MaskPhone(phone))
}

// UpdatePrefs applies change to the preferences of phone in one
// transaction. The row is made first if there is none, so that there is
// always a row to lock: two first changes at once are applied one after
// the other.
func (d *DB) UpdatePrefs(ctx context.Context, phone string, change func(*channels.Prefs)) (channels.Prefs, error) {
	var p channels.Prefs
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO prefs (phone) VALUES ($1) ON CONFLICT (phone) DO NOTHING`, phone); err != nil {
			return err
		}
		p = channels.Prefs{}
		if err := tx.QueryRow(ctx, `SELECT lang, opted_out FROM prefs WHERE phone = $1 FOR UPDATE`, phone).Scan(&p.Lang, &p.OptedOut); err != nil {
			return err
		}
		change(&p)
		_, err := tx.Exec(ctx, `UPDATE prefs SET lang = $2, opted_out = $3 WHERE phone = $1`, phone, p.Lang, p.OptedOut)
		return err
	})
	if err != nil {
		return channels.Prefs{}, wrap(err, "update prefs of %s", channels.MaskPhone(phone))
	}
	return p, nil
}
