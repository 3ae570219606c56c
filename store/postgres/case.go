package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/govchannels/channels"
)

// caseColumns are the columns scanCase reads, in its order.
const caseColumns = `ref, service, agency, phone, national_id, assisted, channel, lang, answers, status, history, idempotency_key, created_at`

// scanCase reads a row of caseColumns.
func scanCase(row pgx.Row) (*channels.Case, error) {
	var (
		c                          channels.Case
		assisted, answers, history []byte
		key                        []byte
	)
	err := row.Scan(&c.Ref, &c.Service, &c.Agency, &c.Phone, &c.NationalID, &assisted, &c.Channel, &c.Lang,
		&answers, &c.Status, &history, &key, &c.CreatedAt)
	if err != nil {
		return nil, err
	}
	if assisted != nil {
		c.Assisted = &channels.Assistance{}
		if err := json.Unmarshal(assisted, c.Assisted); err != nil {
			return nil, fmt.Errorf("case %s: assistance: %w", c.Ref, err)
		}
	}
	if err := json.Unmarshal(answers, &c.Answers); err != nil {
		return nil, fmt.Errorf("case %s: answers: %w", c.Ref, err)
	}
	if err := json.Unmarshal(history, &c.History); err != nil {
		return nil, fmt.Errorf("case %s: history: %w", c.Ref, err)
	}
	c.IdempotencyKey = string(key)
	c.CreatedAt = fromDB(c.CreatedAt)
	return &c, nil
}

// collectCases reads every row of rows with scanCase; never nil.
func collectCases(rows pgx.Rows, err error) ([]*channels.Case, error) {
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*channels.Case, error) { return scanCase(row) })
	if out == nil && err == nil {
		out = []*channels.Case{}
	}
	return out, err
}

// caseJSON is the nested parts of a case as their columns keep them.
type caseJSON struct {
	assisted, answers, history []byte
}

func encodeCase(c *channels.Case) (caseJSON, error) {
	var (
		j   caseJSON
		err error
	)
	if c.Assisted != nil {
		if j.assisted, err = json.Marshal(c.Assisted); err != nil {
			return j, err
		}
	}
	if j.answers, err = json.Marshal(c.Answers); err != nil {
		return j, err
	}
	j.history, err = json.Marshal(c.History)
	return j, err
}

// stored returns a copy of c with its times as the store keeps them.
func stored(c *channels.Case) *channels.Case {
	s := *c
	s.CreatedAt = micro(c.CreatedAt)
	s.Answers = slices.Clone(c.Answers)
	s.History = slices.Clone(c.History)
	for i := range s.History {
		s.History[i].At = micro(s.History[i].At)
	}
	if c.Assisted != nil {
		a := *c.Assisted
		s.Assisted = &a
	}
	return &s
}

// Case returns the case ref.
func (d *DB) Case(ctx context.Context, ref string) (*channels.Case, error) {
	c, err := scanCase(d.pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE ref = $1`, ref))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("case " + ref)
	}
	if err != nil {
		return nil, wrap(err, "case %s", ref)
	}
	return c, nil
}

// CasesByPhone returns up to limit cases of phone, newest first; cases
// created in the same microsecond by reference, descending.
func (d *DB) CasesByPhone(ctx context.Context, phone string, limit int) ([]*channels.Case, error) {
	if phone == "" || limit <= 0 {
		return []*channels.Case{}, nil
	}
	// phone <> '' lets the planner use the partial index with a generic
	// plan, which cannot see that $1 is not empty.
	cs, err := collectCases(d.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE phone = $1 AND phone <> '' ORDER BY created_at DESC, ref DESC LIMIT $2`, phone, limit))
	return cs, wrap(err, "cases of %s", channels.MaskPhone(phone))
}

// CasesByNationalID returns up to limit cases made at kiosks for the
// holder of identity document id, newest first.
func (d *DB) CasesByNationalID(ctx context.Context, id string, limit int) ([]*channels.Case, error) {
	if id == "" || limit <= 0 {
		return []*channels.Case{}, nil
	}
	cs, err := collectCases(d.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE national_id = $1 AND national_id <> '' ORDER BY created_at DESC, ref DESC LIMIT $2`, id, limit))
	return cs, wrap(err, "cases of a national ID")
}

// CreateCases stores cs, none of which may be stored yet, in one
// transaction, each as CreateCase stores it (row, indexes, case log): all
// or none. A reference or idempotency key already taken is ECONFLICT. The
// rows go by COPY, and the case log's numbers are taken from heads once
// for the lot: it is for loading many cases at once (a migration, the
// load harness's pre-fill), where a transaction per case would take hours.
func (d *DB) CreateCases(ctx context.Context, cs []*channels.Case) error {
	if len(cs) == 0 {
		return nil
	}
	rows := make([][]any, len(cs))
	var events []channels.CaseEvent
	for i, c := range cs {
		if c.Ref == "" {
			return channels.Errorf(channels.EINVALID, "error.internal", "case without a reference")
		}
		s := stored(c)
		j, err := encodeCase(s)
		if err != nil {
			return fmt.Errorf("postgres: create case %s: %w", c.Ref, err)
		}
		var key []byte
		if s.IdempotencyKey != "" {
			key = []byte(s.IdempotencyKey)
		}
		rows[i] = []any{s.Ref, s.Service, s.Agency, s.Phone, s.NationalID, j.assisted, string(s.Channel), s.Lang,
			j.answers, string(s.Status), j.history, key, s.CreatedAt}
		if len(s.History) > 0 {
			events = append(events, channels.CaseEvent{Ref: s.Ref, Created: true, Change: s.History[0]})
		}
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases"}, strings.Split(caseColumns, ", "), pgx.CopyFromRows(rows)); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == uniqueViolation {
				return channels.Errorf(channels.ECONFLICT, "error.conflict", "a reference or idempotency key of %d cases is taken", len(cs))
			}
			return err
		}
		var last uint64
		if err := tx.QueryRow(ctx, `UPDATE heads SET seq = seq + $1 WHERE log = 'case_events' RETURNING seq`, len(events)).Scan(&last); err != nil {
			return err
		}
		first := last - uint64(len(events)) + 1
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"case_events"}, []string{"seq", "ref", "created", "change"},
			pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
				change, err := json.Marshal(events[i].Change)
				return []any{int64(first) + int64(i), events[i].Ref, true, string(change)}, err
			}))
		return err
	})
	return wrap(err, "create %d cases", len(cs))
}

// CaseCount returns how many cases are stored.
func (d *DB) CaseCount(ctx context.Context) (int, error) {
	var n int
	err := d.pool.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&n)
	return n, wrap(err, "count cases")
}

// uniqueViolation is PostgreSQL's SQLSTATE for a unique index refusing a
// row.
const uniqueViolation = "23505"
