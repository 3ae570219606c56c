// Package postgres keeps sessions, cases, the outbox and the rest in a
// PostgreSQL database, through pgx: for deployments that want the data on
// a database server, backed up and replicated as such, rather than in a
// file beside the binary. Several `channels serve` may share one
// database: the outbox claims messages in it (FOR UPDATE SKIP LOCKED, with
// a lease that passes a dead instance's claims to the others), the key
// locks that serialize a session's hops are advisory locks, leaderships
// (the notifier, the purge) are advisory locks on connections of their
// own, and the rate limits that protect citizens are token buckets in a
// table.
//
// It behaves as store/bolt does (store/storetest checks both). Where bolt
// relies on its single writer, this package uses transactions that lock
// what they read (SELECT ... FOR UPDATE) and, for the two logs that must
// stay in order (the case log and the audit log), a row per log in the
// heads table that every append updates: appends are serialized, so
// sequence numbers are gap-free and commit in order.
//
// Times are kept as timestamptz, to the microsecond: a time is truncated
// to the microsecond when it is written, and a write returns what a read
// will.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/govchannels/channels"
)

// DB is a channels.Store in a PostgreSQL database.
type DB struct {
	pool  *pgxpool.Pool
	locks *locker     // the key locks and leaderships, on connections of their own
	cases caseBatcher // gathers concurrent CreateCase calls into one transaction
}

var _ channels.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one file of migrations/, named NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: the name must start with its version, as 0001_", base)
		}
		sql, err := fs.ReadFile(migrationFiles, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(sql)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.name, i+1)
		}
	}
	return out, nil
}

// migrationLock is the key of the advisory lock Open holds while it looks
// at and changes the schema: "channels" in ASCII.
const migrationLock = 0x6368616e6e656c73

// Open connects to the database at url (a PostgreSQL URL or key=value
// string, as pgx takes it: "postgres://user:pass@host:5432/channels";
// pool settings such as pool_max_conns go in it too) and brings its
// schema up to date.
//
// The migrations the program embeds that the database lacks are applied
// in one transaction, under an advisory lock, so that instances starting
// together neither race nor see half a schema. Open refuses a database
// whose schema is newer than the program.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &DB{pool: pool, locks: newLocker(cfg.ConnConfig)}, nil
}

// migrate applies the migrations the database lacks.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("lock the schema: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&exists); err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_version (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return fmt.Errorf("create schema_version: %w", err)
			}
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&current); err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		if current > len(ms) {
			return fmt.Errorf("schema version %d is newer than this program's %d: upgrade channels", current, len(ms))
		}
		for _, m := range ms[current:] {
			// Without arguments, Exec uses the simple protocol, which
			// runs a file of several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES ($1)", m.version); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// Close closes the connections of the key locks, which drops any lock
// still held, and every connection of the pool, waiting for those in use.
func (d *DB) Close() error {
	d.locks.close()
	d.pool.Close()
	return nil
}

// micro returns t as timestamptz keeps it: UTC, truncated to the
// microsecond (as pgx truncates). The zero time stays zero.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ceilMicro returns the earliest microsecond at or after t: a stored time
// is at or after t exactly when it is at or after ceilMicro(t).
func ceilMicro(t time.Time) time.Time {
	m := micro(t)
	if m.Before(t) {
		m = m.Add(time.Microsecond)
	}
	return m
}

// fromDB returns a time read from the database in UTC; the zero time
// (stored as 0001-01-01 UTC) comes back as time.Time{}.
func fromDB(t time.Time) time.Time { return t.UTC() }

func notFound(what string) error {
	return channels.Errorf(channels.ENOTFOUND, "error.not_found", "%s", what)
}

// wrap adds context to a store error, keeping a *channels.Error as it is.
func wrap(err error, format string, args ...any) error {
	var ce *channels.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("postgres: "+format+": %w", append(args, err)...)
}

// nullBytes returns b, or nil (stored as NULL) when it is empty.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
