package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// Session returns the session id unless it is missing or expired at now.
func (d *DB) Session(ctx context.Context, id string, now time.Time) (*channels.Session, error) {
	s := &channels.Session{ID: id}
	err := d.pool.QueryRow(ctx, `SELECT phone, channel, state, edge, updated_at, expires_at FROM sessions WHERE id = $1`,
		[]byte(id)).Scan(&s.Phone, &s.Channel, &s.State, &s.Edge, &s.UpdatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("session " + id)
	}
	if err != nil {
		return nil, wrap(err, "session %s", id)
	}
	s.UpdatedAt, s.ExpiresAt = fromDB(s.UpdatedAt), fromDB(s.ExpiresAt)
	if !s.ExpiresAt.After(now) {
		return nil, notFound("session " + id + " expired")
	}
	return s, nil
}

// PutSession creates or replaces each of ss. The statements go as one
// pgx batch, which the server runs in one implicit transaction: all are
// stored or none, in one round trip.
func (d *DB) PutSession(ctx context.Context, ss ...*channels.Session) error {
	if len(ss) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, s := range ss {
		b.Queue(`INSERT INTO sessions (id, phone, channel, state, edge, updated_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET phone = EXCLUDED.phone, channel = EXCLUDED.channel, state = EXCLUDED.state,
				edge = EXCLUDED.edge, updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at`,
			[]byte(s.ID), s.Phone, string(s.Channel), notNil(s.State), notNil(s.Edge), micro(s.UpdatedAt), micro(s.ExpiresAt))
	}
	return wrap(d.pool.SendBatch(ctx, b).Close(), "put %d sessions", len(ss))
}

// notNil returns b, or an empty slice: the column is NOT NULL.
func notNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DeleteSession removes the session id, if any.
func (d *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, []byte(id))
	return wrap(err, "delete session %s", id)
}

// PurgeSessions removes the sessions expired at or before now, and the
// rate buckets full again.
func (d *DB) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	// Stored expiries are whole microseconds, so comparing them with now
	// truncated (as pgx sends it) is exact.
	tag, err := d.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, wrap(err, "purge sessions")
	}
	// The rate buckets full again go with them: like an expired session,
	// a full bucket behaves as none.
	return int(tag.RowsAffected()), d.purgeBuckets(ctx, now)
}
