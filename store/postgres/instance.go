package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/keylock"
)

// lockConns is how many connections of their own the key locks share. A
// key's lock is a session advisory lock taken on the connection its hash
// picks; the connection is busy only for the statement that takes or
// drops it, not while the lock is held, so that a hop holding a lock never
// waits for a connection of the pool it needs for its work, and a holder
// of one key can lock another.
const lockConns = 4

// lockStatement bounds one statement on a lock connection, and the wait
// for the connection while another statement runs on it: a database that
// does not answer fails a hop within a few seconds, as the store's other
// calls do. The statement runs detached from the caller's context: pgx
// closes a connection whose statement is cancelled, which would drop the
// other keys' locks with it.
const lockStatement = 2 * time.Second

// errLockBusy is a lock connection that stayed busy for lockStatement:
// the database is not answering its statements.
var errLockBusy = errors.New("lock connection busy: the database does not answer")

// lockPoll is the longest pause between two tries at a key another
// instance holds.
const lockPoll = 20 * time.Millisecond

// maxLockWait bounds the wait for a key another instance holds, longer
// than any hop (a gateway gives up on a USSD hop within seconds): a holder
// cut off from the citizen and from the database without dying keeps its
// lock until the server notices its connection gone, and a request must
// fail politely rather than hang till then.
const maxLockWait = 15 * time.Second

// lockConn is one connection of the key locks, connected on first use and
// again after it broke.
type lockConn struct {
	slot chan struct{} // one statement at a time; a channel, so that waiting for it is bounded
	conn *pgx.Conn
	gen  int // bumped at each new connection: a lock taken on an older one is gone
}

// locker is the key locks of a DB: a key is held first in this process
// (so that one connection's session, which may take a lock it holds
// again, never serves two holders), then in the database.
type locker struct {
	cfg   *pgx.ConnConfig
	local keylock.Keys
	conns [lockConns]lockConn
}

// newLocker makes the key locks of a database reached through cfg.
func newLocker(cfg *pgx.ConnConfig) *locker {
	l := &locker{cfg: cfg}
	for i := range l.conns {
		l.conns[i].slot = make(chan struct{}, 1)
	}
	return l
}

// acquire waits for c's statement slot, at most lockStatement and until
// ctx ends.
func (c *lockConn) acquire(ctx context.Context) error {
	t := time.NewTimer(lockStatement)
	defer t.Stop()
	select {
	case c.slot <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errLockBusy
	}
}

func (c *lockConn) release() { <-c.slot }

// lockID is the advisory lock of key: its 64-bit FNV-1a hash, apart from
// the keys of leaderships by a prefix. Two keys of one hash wait for each
// other, harmlessly and with odds of one in 2^64.
func lockID(space, key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(space))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// LockKey holds key across every process serving from the database until
// the unlock: in this process first, then by a session advisory lock in
// the database, tried every few milliseconds until it is free, ctx ends or
// maxLockWait has passed. A process that dies drops its locks with its
// sessions.
func (d *DB) LockKey(ctx context.Context, key string) (func(), error) {
	l := d.locks
	unlockLocal := l.local.Lock(key)
	id := lockID("key", key)
	c := &l.conns[uint64(id)%lockConns]
	wait := time.Millisecond
	giveUp := time.Now().Add(maxLockWait)
	for {
		gen, ok, err := c.try(ctx, l.cfg, id)
		if err != nil {
			unlockLocal()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("postgres: lock %s: %w", key, ctx.Err())
			}
			return nil, channels.Errorf(channels.EUNAVAILABLE, "error.internal", "postgres: lock %s: %v", key, err)
		}
		if ok {
			return func() {
				c.unlock(gen, id)
				unlockLocal()
			}, nil
		}
		if time.Now().After(giveUp) {
			unlockLocal()
			return nil, channels.Errorf(channels.EUNAVAILABLE, "error.internal", "postgres: lock %s: held elsewhere for over %v", key, maxLockWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			unlockLocal()
			return nil, fmt.Errorf("postgres: lock %s: %w", key, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, lockPoll)
	}
}

// try tries the advisory lock id on c, connecting first if need be, and
// returns the generation of the connection that holds it.
func (c *lockConn) try(ctx context.Context, cfg *pgx.ConnConfig, id int64) (gen int, ok bool, err error) {
	if err := c.acquire(ctx); err != nil {
		return 0, false, err
	}
	defer c.release()
	ctx, cancel := context.WithTimeout(context.Background(), lockStatement)
	defer cancel()
	if c.conn == nil || c.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return 0, false, err
		}
		c.conn = conn
		c.gen++
	}
	if err := c.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil {
		c.drop()
		return 0, false, err
	}
	return c.gen, ok, nil
}

// unlock drops the advisory lock id taken on generation gen of c. A lock
// whose connection broke since is gone already; if the unlock fails, the
// connection is closed, which drops it too.
func (c *lockConn) unlock(gen int, id int64) {
	c.slot <- struct{}{} // the lock must go: wait as long as the statement before takes
	defer c.release()
	if c.gen != gen || c.conn == nil || c.conn.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockStatement)
	defer cancel()
	if _, err := c.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", id); err != nil {
		c.drop()
	}
}

// drop closes c's connection; the server ends its session and its locks.
func (c *lockConn) drop() {
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.conn.Close(ctx)
		c.conn = nil
	}
}

// close closes every lock connection.
func (l *locker) close() {
	for i := range l.conns {
		c := &l.conns[i]
		c.slot <- struct{}{}
		c.drop()
		c.release()
	}
}

// leadPing is how often a leader checks that its connection, and so its
// lock, is still there.
const leadPing = 2 * time.Second

// TryLead takes the leadership of name as a session advisory lock on a
// connection of its own, held until Release, until the process dies (the
// server ends its session) or until the connection fails a ping (Lost).
func (d *DB) TryLead(ctx context.Context, name string) (channels.Lead, error) {
	conn, err := pgx.ConnectConfig(ctx, d.locks.cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: lead %s: %w", name, err)
	}
	id := lockID("lead", name)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil || !ok {
		conn.Close(context.Background())
		if err != nil {
			return nil, fmt.Errorf("postgres: lead %s: %w", name, err)
		}
		return nil, nil
	}
	l := &lead{conn: conn, id: id, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, nil
}

// lead is a leadership held by an advisory lock on conn.
type lead struct {
	conn *pgx.Conn
	id   int64
	lost chan struct{} // closed when the lock is gone or released
	stop chan struct{} // closed by Release
	done chan struct{} // closed when watch has returned
	once sync.Once
}

func (l *lead) Lost() <-chan struct{} { return l.lost }

// watch pings the connection until it fails or Release; then it drops the
// lock and the connection.
func (l *lead) watch() {
	defer close(l.done)
	defer close(l.lost)
	t := time.NewTicker(leadPing)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			ctx, cancel := context.WithTimeout(context.Background(), lockStatement)
			l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.id)
			l.conn.Close(ctx)
			cancel()
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), lockStatement)
			err := l.conn.Ping(ctx)
			if err != nil {
				l.conn.Close(ctx)
			}
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// Release gives the leadership up and waits until the lock is dropped.
func (l *lead) Release() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// claimColumns are outboxColumns of the table o.
var claimColumns = "o." + strings.Join(strings.Fields(strings.ReplaceAll(outboxColumns, ",", " ")), ", o.")

// ClaimOutbound claims due messages of kind for owner in one statement:
// the rows it picks are locked FOR UPDATE SKIP LOCKED, so that instances
// claiming at once take disjoint sets without waiting for each other, and
// marked claimed by owner until until before the statement commits.
func (d *DB) ClaimOutbound(ctx context.Context, kind, owner string, now, until time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	if limit <= 0 {
		return nil, nil
	}
	if skip == nil {
		skip = []string{} // <> ALL of NULL would match nothing
	}
	rows, err := d.pool.Query(ctx, `WITH sending AS (
			SELECT key FROM outbox WHERE status = 'sending' AND kind = $3 AND recipient <> ALL($4)
				AND (claimed_until IS NULL OR claimed_until <= $1)
			ORDER BY key LIMIT $2 FOR UPDATE SKIP LOCKED
		), queued AS (
			SELECT key, next_attempt FROM outbox WHERE status = 'queued' AND kind = $3 AND next_attempt <= $1
				AND recipient <> ALL($4) AND (claimed_until IS NULL OR claimed_until <= $1)
			ORDER BY next_attempt, key LIMIT $2 FOR UPDATE SKIP LOCKED
		), picked AS (
			SELECT key, part FROM (
				SELECT key, 0 AS part, NULL::timestamptz AS next_attempt FROM sending
				UNION ALL
				SELECT key, 1, next_attempt FROM queued
			) due ORDER BY part, next_attempt, key LIMIT $2
		)
		UPDATE outbox o SET claimed_by = $5, claimed_until = $6 FROM picked WHERE o.key = picked.key
		RETURNING `+claimColumns+`, picked.part`, now, limit, kind, skip, owner, micro(until))
	if err != nil {
		return nil, wrap(err, "claim outbound messages of kind %q", kind)
	}
	type claimed struct {
		m    *channels.Outbound
		part int
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
		var c claimed
		var err error
		c.m, err = scanOutbound(partRow{row, &c.part})
		return c, err
	})
	if err != nil {
		return nil, wrap(err, "claim outbound messages of kind %q", kind)
	}
	slices.SortFunc(out, func(a, b claimed) int {
		if a.part != b.part {
			return a.part - b.part
		}
		if a.part == 1 {
			if c := a.m.NextAttempt.Compare(b.m.NextAttempt); c != 0 {
				return c
			}
		}
		return strings.Compare(a.m.Key, b.m.Key)
	})
	ms := make([]*channels.Outbound, len(out))
	for i, c := range out {
		ms[i] = c.m
	}
	return ms, nil
}

// partRow scans a claimed row: the outbox columns, then its part.
type partRow struct {
	pgx.Row
	part *int
}

func (r partRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.part)...) }

// ReleaseOutbound ends owner's claims on keys.
func (d *DB) ReleaseOutbound(ctx context.Context, owner string, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := d.pool.Exec(ctx, `UPDATE outbox SET claimed_by = '', claimed_until = NULL
		WHERE key = ANY($2) AND claimed_by = $1`, owner, keys); err != nil {
		return wrap(err, "release %d outbound messages", len(keys))
	}
	return nil
}

// TakeToken takes a token from the bucket key in one statement: an
// upsert whose update applies only when the refilled bucket holds a token,
// so that instances taking at once each see the others' takes. Only a
// refusal reads again, to say how long to wait.
func (d *DB) TakeToken(ctx context.Context, key string, every time.Duration, burst int, now time.Time) (time.Duration, bool, error) {
	if every <= 0 || burst <= 0 {
		return 0, true, nil
	}
	now = micro(now)
	us := max(float64(every.Microseconds()), 1)
	// refilled is the bucket's tokens at $2, at most $3.
	const refilled = `least($3::float8, b.tokens + greatest(0, extract(epoch FROM ($2::timestamptz - b.at)) * 1e6) / $4::float8)`
	for {
		var left float64
		err := d.pool.QueryRow(ctx, `INSERT INTO rate_buckets AS b (key, tokens, at, full_at)
			VALUES ($1, $3::float8 - 1, $2, $2::timestamptz + $4::float8 * interval '1 microsecond')
			ON CONFLICT (key) DO UPDATE SET
				tokens = `+refilled+` - 1,
				at = greatest(b.at, $2),
				full_at = greatest(b.at, $2) + ($3::float8 - (`+refilled+` - 1)) * $4::float8 * interval '1 microsecond'
			WHERE `+refilled+` >= 1
			RETURNING tokens`, key, now, burst, us).Scan(&left)
		if err == nil {
			return 0, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, false, wrap(err, "take a token of %s", key)
		}
		var have float64
		err = d.pool.QueryRow(ctx, `SELECT `+refilled+` FROM rate_buckets b WHERE key = $1`, key, now, burst, us).Scan(&have)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // purged in between, full again: take again
		}
		if err != nil {
			return 0, false, wrap(err, "read the bucket of %s", key)
		}
		return time.Duration(math.Ceil((1-have)*us)) * time.Microsecond, false, nil
	}
}

// purgeBuckets forgets the rate buckets full again at now, which behave
// as new ones.
func (d *DB) purgeBuckets(ctx context.Context, now time.Time) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM rate_buckets WHERE full_at <= $1`, now)
	return wrap(err, "purge rate buckets")
}
