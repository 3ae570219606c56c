package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// FailedOutbound returns up to limit failed messages of kind after the key
// after, by key, through the partial index outbox_failed.
func (d *DB) FailedOutbound(ctx context.Context, kind, after string, limit int) ([]*channels.Outbound, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox
		WHERE status = 'failed' AND kind = $1 AND key > $2 ORDER BY key LIMIT $3`, kind, after, limit)
	if err != nil {
		return nil, wrap(err, "failed outbound messages of kind %q", kind)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*channels.Outbound, error) { return scanOutbound(row) })
	if err != nil {
		return nil, wrap(err, "failed outbound messages of kind %q", kind)
	}
	return out, nil
}

// RequeueOutbound puts the failed message with key back in the queue as
// new, due at now. The UPDATE changes the row only while it is failed, so
// of two operators retrying at once one gets ECONFLICT.
func (d *DB) RequeueOutbound(ctx context.Context, key string, now time.Time) (*channels.Outbound, error) {
	m, err := scanOutbound(d.pool.QueryRow(ctx, `UPDATE outbox SET status = 'queued', attempts = 0, next_attempt = $2,
			sender = '', provider_id = '', reason = '', updated_at = $2
		WHERE key = $1 AND status = 'failed'
		RETURNING `+outboxColumns, key, micro(now)))
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap(err, "requeue outbound %s", key)
	}
	old, err := d.Outbound(ctx, key)
	if err != nil {
		return nil, err
	}
	return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "outbound message %s is %s, not failed", key, old.Status)
}
