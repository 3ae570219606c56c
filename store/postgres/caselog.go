package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// logEvents appends an event for each of changes to the case log, in the
// transaction tx. Taking the next numbers from heads locks its row until
// tx ends, so the case log grows in commit order without gaps: a follower
// that has read up to n never finds an event below n later.
func logEvents(ctx context.Context, tx pgx.Tx, ref string, created bool, changes []channels.StatusChange) error {
	if len(changes) == 0 {
		return nil
	}
	docs := make([]string, len(changes))
	for i, ch := range changes {
		v, err := json.Marshal(ch)
		if err != nil {
			return err
		}
		docs[i] = string(v)
	}
	_, err := tx.Exec(ctx, `WITH head AS (
			UPDATE heads SET seq = seq + cardinality($3::json[]) WHERE log = 'case_events' RETURNING seq
		)
		INSERT INTO case_events (seq, ref, created, change)
		SELECT head.seq - cardinality($3::json[]) + e.i, $1, $2 AND e.i = 1, e.change
		FROM head, unnest($3::json[]) WITH ORDINALITY AS e(change, i)`, ref, created, docs)
	return err
}

// sameChange reports whether two history entries are the same.
func sameChange(a, b channels.StatusChange) bool {
	return a.Status == b.Status && a.At.Equal(b.At) && a.Actor == b.Actor && a.Note == b.Note
}

// UpdateCase applies change to the case ref in one transaction, holding
// the case's row lock from its read to the commit, and logs an event for
// each history entry change added. change sees a fresh copy and is called
// once; it may not change what identifies the case, nor rewrite history.
func (d *DB) UpdateCase(ctx context.Context, ref string, change func(*channels.Case) error) (*channels.Case, error) {
	var out *channels.Case
	var changeErr error
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		c, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE ref = $1 FOR UPDATE`, ref))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("case " + ref)
		}
		if err != nil {
			return err
		}
		before := *c
		before.History = slices.Clone(c.History)
		if err := change(c); err != nil {
			changeErr = err
			return err
		}
		switch {
		case c.Ref != before.Ref || c.Phone != before.Phone || c.Agency != before.Agency || !c.CreatedAt.Equal(before.CreatedAt) || c.IdempotencyKey != before.IdempotencyKey:
			return fmt.Errorf("case %s: an update may not change its reference, phone, agency, creation or key", ref)
		case len(c.History) < len(before.History) || !slices.EqualFunc(c.History[:len(before.History)], before.History, sameChange):
			return fmt.Errorf("case %s: history is append-only", ref)
		}
		c = stored(c)
		j, err := encodeCase(c)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE cases SET service = $2, national_id = $3, assisted = $4, channel = $5, lang = $6,
				answers = $7, status = $8, history = $9
			WHERE ref = $1`,
			ref, c.Service, c.NationalID, j.assisted, string(c.Channel), c.Lang, j.answers, string(c.Status), j.history)
		if err != nil {
			return err
		}
		out = c
		return logEvents(ctx, tx, ref, false, c.History[len(before.History):])
	})
	switch {
	case err == nil:
		return out, nil
	case changeErr != nil && errors.Is(err, changeErr):
		return nil, changeErr // as is, as the contract says
	}
	return nil, wrap(err, "update case %s", ref)
}

// listCursor is the position of a case in its agency's list: its
// creation as microseconds since 1970 (8 bytes, big-endian, two's
// complement), then its reference.
func listCursor(c *channels.Case) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.CreatedAt.UnixMicro()))
	return base64.RawURLEncoding.EncodeToString(append(b, c.Ref...))
}

// ListCases returns the cases of q in (creation, reference) order, from
// after the cursor q.After: a case created later than the cursor's comes
// after it, so pages neither repeat nor skip a case.
func (d *DB) ListCases(ctx context.Context, q channels.CaseQuery) ([]*channels.Case, string, error) {
	if q.Agency == "" || q.Limit < 1 {
		return nil, "", channels.Errorf(channels.EINVALID, "error.bad_request", "case query needs an agency and a limit")
	}
	services := q.Services
	if services == nil {
		services = []string{} // nil would be NULL, which matches nothing
	}
	args := pgx.NamedArgs{"agency": q.Agency, "status": string(q.Status), "services": services, "limit": q.Limit + 1}
	after := ""
	if q.After != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.After)
		if err != nil || len(b) < 8 {
			return nil, "", channels.Errorf(channels.EINVALID, "error.cursor", "cursor %q is not one this API gave", q.After)
		}
		args["created"] = time.UnixMicro(int64(binary.BigEndian.Uint64(b)))
		args["ref"] = string(b[8:])
		after = `AND (created_at, ref) > (@created, @ref)`
	}
	cs, err := collectCases(d.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE agency = @agency AND agency <> '' `+after+`
			AND (@status = '' OR status = @status)
			AND (cardinality(@services::text[]) = 0 OR service = ANY(@services::text[]))
		ORDER BY created_at, ref LIMIT @limit`, args))
	if err != nil {
		return nil, "", wrap(err, "list cases of %s", q.Agency)
	}
	next := ""
	if len(cs) > q.Limit {
		cs = cs[:q.Limit]
		next = listCursor(cs[len(cs)-1])
	}
	return cs, next, nil
}

// CaseEvents returns up to limit events after seq.
func (d *DB) CaseEvents(ctx context.Context, after uint64, limit int) ([]channels.CaseEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT seq, ref, created, change FROM case_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
		int64(after), limit)
	if err != nil {
		return nil, wrap(err, "case events after %d", after)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (channels.CaseEvent, error) {
		var (
			e      channels.CaseEvent
			seq    int64
			change []byte
		)
		if err := row.Scan(&seq, &e.Ref, &e.Created, &change); err != nil {
			return e, err
		}
		e.Seq = uint64(seq)
		if err := json.Unmarshal(change, &e.Change); err != nil {
			return e, fmt.Errorf("event %d: %w", seq, err)
		}
		return e, nil
	})
	return out, wrap(err, "case events after %d", after)
}

// Cursor returns the recorded position of the follower name.
func (d *DB) Cursor(ctx context.Context, name string) (uint64, error) {
	var seq int64
	err := d.pool.QueryRow(ctx, `SELECT seq FROM cursors WHERE name = $1`, name).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(err, "cursor %s", name)
	}
	return uint64(seq), nil
}

// PutCursor records the position of the follower name.
func (d *DB) PutCursor(ctx context.Context, name string, seq uint64) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO cursors (name, seq) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq`, name, int64(seq))
	return wrap(err, "put cursor %s", name)
}
