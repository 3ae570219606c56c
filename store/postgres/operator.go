package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

const operatorColumns = `id, name, kiosk, region, lang, password_hash, password_set_at, disabled, failed_sign_ins,
	locked_until, created_at`

func scanOperator(row pgx.Row) (channels.Operator, error) {
	var o channels.Operator
	err := row.Scan(&o.ID, &o.Name, &o.Kiosk, &o.Region, &o.Lang, &o.PasswordHash, &o.PasswordSetAt, &o.Disabled,
		&o.FailedSignIns, &o.LockedUntil, &o.CreatedAt)
	o.PasswordSetAt, o.LockedUntil, o.CreatedAt = fromDB(o.PasswordSetAt), fromDB(o.LockedUntil), fromDB(o.CreatedAt)
	return o, err
}

func operatorArgs(o *channels.Operator) []any {
	return []any{o.ID, o.Name, o.Kiosk, o.Region, o.Lang, o.PasswordHash, micro(o.PasswordSetAt), o.Disabled,
		o.FailedSignIns, micro(o.LockedUntil), micro(o.CreatedAt)}
}

// CreateOperator stores a new operator; ECONFLICT when the ID is taken.
func (d *DB) CreateOperator(ctx context.Context, o channels.Operator) error {
	tag, err := d.pool.Exec(ctx, `INSERT INTO operators (`+operatorColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`, operatorArgs(&o)...)
	if err != nil {
		return wrap(err, "create operator %s", o.ID)
	}
	if tag.RowsAffected() == 0 {
		return channels.Errorf(channels.ECONFLICT, "error.conflict", "operator %s exists already", o.ID)
	}
	return nil
}

// Operator returns the operator id.
func (d *DB) Operator(ctx context.Context, id string) (*channels.Operator, error) {
	o, err := scanOperator(d.pool.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("operator " + id)
	}
	if err != nil {
		return nil, wrap(err, "operator %s", id)
	}
	return &o, nil
}

// Operators returns every operator, by ID.
func (d *DB) Operators(ctx context.Context) ([]channels.Operator, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY id`)
	if err != nil {
		return nil, wrap(err, "operators")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (channels.Operator, error) { return scanOperator(row) })
	return out, wrap(err, "operators")
}

// UpdateOperator applies change to the operator id in one transaction,
// holding the row's lock from its read to the commit, so that two
// instances counting failed sign-ins lose neither.
func (d *DB) UpdateOperator(ctx context.Context, id string, change func(*channels.Operator) error) (*channels.Operator, error) {
	var out channels.Operator
	var changeErr error
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		o, err := scanOperator(tx.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("operator " + id)
		}
		if err != nil {
			return err
		}
		if err := change(&o); err != nil {
			changeErr = err
			return err
		}
		if o.ID != id {
			return fmt.Errorf("an update may not rename operator %s", id)
		}
		_, err = tx.Exec(ctx, `UPDATE operators SET name = $2, kiosk = $3, region = $4, lang = $5, password_hash = $6,
				password_set_at = $7, disabled = $8, failed_sign_ins = $9, locked_until = $10, created_at = $11
			WHERE id = $1`, operatorArgs(&o)...)
		out = o
		return err
	})
	switch {
	case err == nil:
		// What is stored: times to the microsecond.
		out.PasswordSetAt, out.LockedUntil, out.CreatedAt = micro(out.PasswordSetAt), micro(out.LockedUntil), micro(out.CreatedAt)
		return &out, nil
	case changeErr != nil && errors.Is(err, changeErr):
		return nil, changeErr
	}
	return nil, wrap(err, "update operator %s", id)
}
