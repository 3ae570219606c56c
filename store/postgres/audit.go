package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

const auditColumns = `seq, at, actor, kiosk, action, citizen, ref, detail, hash`

func scanAudit(row pgx.Row) (channels.AuditEntry, error) {
	var (
		e   channels.AuditEntry
		seq int64
	)
	err := row.Scan(&seq, &e.At, &e.Actor, &e.Kiosk, &e.Action, &e.Citizen, &e.Ref, &e.Detail, &e.Hash)
	e.Seq, e.At = uint64(seq), fromDB(e.At)
	return e, err
}

// Audit appends e to the audit log, chained to the entry before it. The
// head of the log is read FOR UPDATE and moved in the same transaction,
// so appends from every instance form one chain.
func (d *DB) Audit(ctx context.Context, e channels.AuditEntry) (channels.AuditEntry, error) {
	if e.At.IsZero() {
		return e, errors.New("postgres: audit entry without a time")
	}
	// The hash covers the time as it will be read back.
	e.At = micro(e.At)
	var out channels.AuditEntry
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var (
			seq  int64
			prev string
		)
		if err := tx.QueryRow(ctx, `SELECT seq, hash FROM heads WHERE log = 'audit' FOR UPDATE`).Scan(&seq, &prev); err != nil {
			return err
		}
		out = e
		out.Seq = uint64(seq + 1)
		out.Hash = out.ChainHash(prev)
		if _, err := tx.Exec(ctx, `INSERT INTO audit (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			int64(out.Seq), out.At, out.Actor, out.Kiosk, out.Action, out.Citizen, out.Ref, out.Detail, out.Hash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE heads SET seq = $1, hash = $2 WHERE log = 'audit'`, int64(out.Seq), out.Hash)
		return err
	})
	if err != nil {
		return e, wrap(err, "audit %s by %s", e.Action, e.Actor)
	}
	return out, nil
}

// AuditEntries returns the entries q selects, oldest first.
func (d *DB) AuditEntries(ctx context.Context, q channels.AuditQuery) ([]channels.AuditEntry, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	where := []string{"seq > $1"}
	args := []any{int64(q.After)}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Citizen != "" {
		add("citizen = ?", q.Citizen)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	// Stored times are whole microseconds: at >= t exactly when at >=
	// ceilMicro(t), and the same for <.
	if !q.Since.IsZero() {
		add("at >= ?", ceilMicro(q.Since))
	}
	if !q.Until.IsZero() {
		add("at < ?", ceilMicro(q.Until))
	}
	args = append(args, q.Limit)
	rows, err := d.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, wrap(err, "audit entries")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (channels.AuditEntry, error) { return scanAudit(row) })
	if err != nil {
		return nil, wrap(err, "audit entries")
	}
	if out == nil {
		out = []channels.AuditEntry{}
	}
	return out, nil
}

// VerifyAudit checks the chain of the whole log, reading it in one
// snapshot, and that the head still names its last entry, so that
// cutting the tail, adding to it, or editing the last entry and its hash
// shows.
func (d *DB) VerifyAudit(ctx context.Context) (int, error) {
	n := 0
	var verr error // what is wrong with the log, as opposed to a failure to read it
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var (
			headSeq  int64
			headHash string
		)
		if err := tx.QueryRow(ctx, `SELECT seq, hash FROM heads WHERE log = 'audit'`).Scan(&headSeq, &headHash); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+auditColumns+` FROM audit ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		prev := ""
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				return err
			}
			want := uint64(n + 1)
			switch {
			case e.Seq != want:
				verr = fmt.Errorf("audit entry %d is missing or out of place (found %d)", want, e.Seq)
				return nil
			case e.Hash != e.ChainHash(prev):
				verr = fmt.Errorf("audit entry %d was altered, or one before it", e.Seq)
				return nil
			}
			prev = e.Hash
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		switch {
		case headSeq > int64(n):
			verr = fmt.Errorf("audit entries after %d were removed", n)
		case headSeq < int64(n):
			verr = fmt.Errorf("audit entries after %d were not appended by the store", headSeq)
		case headHash != prev:
			verr = fmt.Errorf("audit entry %d was altered", n)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("postgres: verify audit: %w", err)
	}
	return n, verr
}
