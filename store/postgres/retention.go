package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// PurgeOutbound removes up to limit final messages last updated before
// before, oldest first, read through the partial index of final messages.
func (d *DB) PurgeOutbound(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	// Stored times are whole microseconds: one is before before exactly
	// when it is before before rounded up.
	tag, err := d.pool.Exec(ctx, `DELETE FROM outbox WHERE key IN (
			SELECT key FROM outbox WHERE status IN ('sent', 'delivered', 'failed') AND updated_at < $1
			ORDER BY updated_at, key LIMIT $2)`, ceilMicro(before), limit)
	if err != nil {
		return 0, wrap(err, "purge outbound messages")
	}
	return int(tag.RowsAffected()), nil
}

// SignOut records that the tokens of phone issued at or before at are
// void, unless a later sign-out is recorded. at is rounded up to the
// microsecond, so that a token issued at at is void.
func (d *DB) SignOut(ctx context.Context, phone string, at, keep time.Time) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO signouts (phone, signed_out_at, keep_until) VALUES ($1, $2, $3)
		ON CONFLICT (phone) DO UPDATE SET signed_out_at = EXCLUDED.signed_out_at, keep_until = EXCLUDED.keep_until
		WHERE signouts.signed_out_at < EXCLUDED.signed_out_at`, phone, ceilMicro(at), micro(keep))
	return wrap(err, "sign out %s", channels.MaskPhone(phone))
}

// SignedOut returns the instant up to which the tokens of phone are void;
// zero when none is recorded.
func (d *DB) SignedOut(ctx context.Context, phone string) (time.Time, error) {
	var at time.Time
	err := d.pool.QueryRow(ctx, `SELECT signed_out_at FROM signouts WHERE phone = $1`, phone).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap(err, "sign-out of %s", channels.MaskPhone(phone))
	}
	return fromDB(at), nil
}

// PurgeSignOuts removes the sign-out records kept until at or before now.
func (d *DB) PurgeSignOuts(ctx context.Context, now time.Time) (int, error) {
	tag, err := d.pool.Exec(ctx, `DELETE FROM signouts WHERE keep_until <= $1`, now)
	if err != nil {
		return 0, wrap(err, "purge sign-outs")
	}
	return int(tag.RowsAffected()), nil
}
