package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// outboxColumns are the columns scanOutbound reads, in its order.
const outboxColumns = `key, kind, recipient, body, title, data, purpose, fallback, at_most_once, status, attempts,
	next_attempt, expires_at, sender, provider_id, reason, created_at, updated_at`

func scanOutbound(row pgx.Row) (*channels.Outbound, error) {
	var (
		m              channels.Outbound
		data, fallback []byte
	)
	err := row.Scan(&m.Key, &m.Kind, &m.To, &m.Text, &m.Title, &data, &m.Purpose, &fallback, &m.AtMostOnce, &m.Status, &m.Attempts,
		&m.NextAttempt, &m.ExpiresAt, &m.Sender, &m.ProviderID, &m.Reason, &m.CreatedAt, &m.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if data != nil {
		if err := json.Unmarshal(data, &m.Data); err != nil {
			return nil, fmt.Errorf("outbound message %s: data: %w", m.Key, err)
		}
	}
	if fallback != nil {
		m.Fallback = &channels.Outbound{}
		if err := json.Unmarshal(fallback, m.Fallback); err != nil {
			return nil, fmt.Errorf("outbound message %s: fallback: %w", m.Key, err)
		}
	}
	m.NextAttempt, m.ExpiresAt, m.CreatedAt, m.UpdatedAt = fromDB(m.NextAttempt), fromDB(m.ExpiresAt), fromDB(m.CreatedAt), fromDB(m.UpdatedAt)
	return &m, nil
}

// outboundArgs returns the values of outboxColumns for m, times as the
// store keeps them.
func outboundArgs(m *channels.Outbound) ([]any, error) {
	var data, fallback []byte
	var err error
	if len(m.Data) > 0 {
		if data, err = json.Marshal(m.Data); err != nil {
			return nil, err
		}
	}
	if m.Fallback != nil {
		if fallback, err = json.Marshal(m.Fallback); err != nil {
			return nil, err
		}
	}
	return []any{m.Key, m.Kind, m.To, m.Text, m.Title, data, m.Purpose, fallback, m.AtMostOnce, string(m.Status), m.Attempts,
		micro(m.NextAttempt), micro(m.ExpiresAt), m.Sender, m.ProviderID, m.Reason, micro(m.CreatedAt), micro(m.UpdatedAt)}, nil
}

// Enqueue stores each message whose key is new. The inserts go as one
// pgx batch, which the server runs in one implicit transaction.
func (d *DB) Enqueue(ctx context.Context, ms ...*channels.Outbound) error {
	b := &pgx.Batch{}
	for _, m := range ms {
		if m.Key == "" {
			return channels.Errorf(channels.EINVALID, "error.internal", "outbound message without a key")
		}
		args, err := outboundArgs(m)
		if err != nil {
			return fmt.Errorf("postgres: enqueue %s: %w", m.Key, err)
		}
		b.Queue(`INSERT INTO outbox (`+outboxColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (key) DO NOTHING`, args...)
	}
	if b.Len() == 0 {
		return nil
	}
	return wrap(d.pool.SendBatch(ctx, b).Close(), "enqueue %d messages", len(ms))
}

// Outbound returns the message with key.
func (d *DB) Outbound(ctx context.Context, key string) (*channels.Outbound, error) {
	m, err := scanOutbound(d.pool.QueryRow(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("outbound message " + key)
	}
	if err != nil {
		return nil, wrap(err, "outbound message %s", key)
	}
	return m, nil
}

// DueOutbound returns the messages of kind left sending (by key), then its
// queued messages due by now, earliest first, up to limit in all, leaving
// out those to a recipient in skip, each part read through its partial
// index.
//
// Several instances that call it at once get the same messages: the
// interface lists, it does not claim. Claiming would be a method that, in
// one transaction, selects the due rows FOR UPDATE SKIP LOCKED (so that
// instances take disjoint sets without waiting on each other) and marks
// them sending before it commits.
func (d *DB) DueOutbound(ctx context.Context, kind string, now time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	if limit <= 0 {
		return nil, nil
	}
	if skip == nil {
		skip = []string{} // <> ALL of NULL would match nothing
	}
	rows, err := d.pool.Query(ctx, `SELECT `+outboxColumns+` FROM (
			(SELECT `+outboxColumns+`, 0 AS part FROM outbox WHERE status = 'sending' AND kind = $3 AND recipient <> ALL($4)
				ORDER BY key LIMIT $2)
			UNION ALL
			(SELECT `+outboxColumns+`, 1 AS part FROM outbox WHERE status = 'queued' AND kind = $3 AND next_attempt <= $1
				AND recipient <> ALL($4) ORDER BY next_attempt, key LIMIT $2)
		) due
		ORDER BY part, CASE WHEN part = 1 THEN next_attempt END, key
		LIMIT $2`, now, limit, kind, skip)
	if err != nil {
		return nil, wrap(err, "due outbound messages of kind %q", kind)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*channels.Outbound, error) { return scanOutbound(row) })
	if err != nil {
		return nil, wrap(err, "due outbound messages of kind %q", kind)
	}
	return out, nil
}

// UpdateOutbound replaces the message with m.Key; the statement locks the
// row, so concurrent replacements apply one after the other, the last
// winning.
func (d *DB) UpdateOutbound(ctx context.Context, m *channels.Outbound) error {
	args, err := outboundArgs(m)
	if err != nil {
		return fmt.Errorf("postgres: update outbound %s: %w", m.Key, err)
	}
	tag, err := d.pool.Exec(ctx, `UPDATE outbox SET kind = $2, recipient = $3, body = $4, title = $5, data = $6, purpose = $7,
			fallback = $8, at_most_once = $9, status = $10, attempts = $11, next_attempt = $12, expires_at = $13,
			sender = $14, provider_id = $15, reason = $16, created_at = $17, updated_at = $18
		WHERE key = $1`, args...)
	if err != nil {
		return wrap(err, "update outbound %s", m.Key)
	}
	if tag.RowsAffected() == 0 {
		return notFound("outbound message " + m.Key)
	}
	return nil
}

// Secret returns the secret name, made from size random bytes and stored
// the first time. Instances asking at once all get the first one stored.
func (d *DB) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, err)
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, wrap(err, "secret %s", name)
	}
	var out []byte
	if err := d.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&out); err != nil {
		return nil, wrap(err, "secret %s", name)
	}
	return out, nil
}

// OutboxBacklog counts queued and sending messages per kind over the
// partial indexes outbox_due and outbox_sending, without reading a
// message's row where the visibility map allows an index-only scan.
func (d *DB) OutboxBacklog(ctx context.Context, now time.Time) ([]channels.Backlog, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT kind, count(*), count(*) FILTER (WHERE next_attempt <= $1),
			min(next_attempt) FILTER (WHERE next_attempt <= $1), 0
		FROM outbox WHERE status = 'queued' GROUP BY kind
		UNION ALL
		SELECT kind, 0, 0, NULL, count(*) FROM outbox WHERE status = 'sending' GROUP BY kind`, now)
	if err != nil {
		return nil, wrap(err, "outbox backlog")
	}
	byKind := map[string]*channels.Backlog{}
	var order []string
	for rows.Next() {
		var kind string
		var queued, due, sending int
		var oldest *time.Time
		if err := rows.Scan(&kind, &queued, &due, &oldest, &sending); err != nil {
			rows.Close()
			return nil, wrap(err, "outbox backlog")
		}
		b := byKind[kind]
		if b == nil {
			b = &channels.Backlog{Kind: kind}
			byKind[kind] = b
			order = append(order, kind)
		}
		b.Queued += queued
		b.Due += due
		b.Sending += sending
		if oldest != nil {
			b.OldestDue = oldest.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "outbox backlog")
	}
	slices.Sort(order)
	out := make([]channels.Backlog, 0, len(order))
	for _, k := range order {
		out = append(out, *byKind[k])
	}
	return out, nil
}
