package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/govchannels/channels"
)

// storedBill returns a copy of b with its times as the store keeps them.
func storedBill(b *channels.Bill) *channels.Bill {
	s := *b
	s.Answers = slices.Clone(b.Answers)
	s.CreatedAt, s.PaidAt = micro(b.CreatedAt), micro(b.PaidAt)
	return &s
}

// storedPayment returns a copy of p with its times as the store keeps them.
func storedPayment(p *channels.Payment) *channels.Payment {
	s := *p
	s.Refunds = slices.Clone(p.Refunds)
	for i := range s.Refunds {
		s.Refunds[i].At = micro(s.Refunds[i].At)
	}
	s.CheckedAt, s.SentAt, s.CreatedAt, s.UpdatedAt, s.FinishedAt = micro(p.CheckedAt), micro(p.SentAt), micro(p.CreatedAt), micro(p.UpdatedAt), micro(p.FinishedAt)
	return &s
}

func scanBill(row pgx.Row) (*channels.Bill, error) {
	var (
		doc []byte
		key *string
	)
	if err := row.Scan(&doc, &key); err != nil {
		return nil, err
	}
	var b channels.Bill
	if err := json.Unmarshal(doc, &b); err != nil {
		return nil, err
	}
	if key != nil {
		b.Key = *key
	}
	return &b, nil
}

func scanPayment(row pgx.Row) (*channels.Payment, error) {
	var doc []byte
	if err := row.Scan(&doc); err != nil {
		return nil, err
	}
	var p channels.Payment
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func collectPayments(rows pgx.Rows, err error) ([]*channels.Payment, error) {
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*channels.Payment, error) { return scanPayment(row) })
	if out == nil && err == nil {
		out = []*channels.Payment{}
	}
	return out, err
}

// nullTime returns t, or nil (NULL) for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// taken turns a unique violation into ECONFLICT payment.taken.
func taken(err error, what string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return channels.Errorf(channels.ECONFLICT, "payment.taken", "%s: %s", what, pe.ConstraintName)
	}
	return err
}

const billSelect = `SELECT doc, idempotency_key FROM bills`

// CreateBill stores b, or returns the bill of its key.
func (d *DB) CreateBill(ctx context.Context, b *channels.Bill) (*channels.Bill, error) {
	s := storedBill(b)
	doc, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("postgres: create bill %s: %w", b.ID, err)
	}
	var key any
	if s.Key != "" {
		key = s.Key
	}
	tag, err := d.pool.Exec(ctx, `INSERT INTO bills (id, idempotency_key, paid, paid_at, case_ref, created_at, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING`,
		s.ID, key, s.Paid, nullTime(s.PaidAt), s.CaseRef, s.CreatedAt, doc)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "bill ID %s is taken", b.ID)
	}
	if err != nil {
		return nil, wrap(err, "create bill %s", b.ID)
	}
	if tag.RowsAffected() == 0 {
		first, err := scanBill(d.pool.QueryRow(ctx, billSelect+` WHERE idempotency_key = $1`, s.Key))
		return first, wrap(err, "bill of a key")
	}
	return s, nil
}

// Bill returns the bill id.
func (d *DB) Bill(ctx context.Context, id string) (*channels.Bill, error) {
	b, err := scanBill(d.pool.QueryRow(ctx, billSelect+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("bill " + id)
	}
	return b, wrap(err, "bill %s", id)
}

// putBill writes b over its row in tx.
func putBill(ctx context.Context, tx pgx.Tx, b *channels.Bill) error {
	doc, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE bills SET paid = $2, paid_at = $3, case_ref = $4, doc = $5 WHERE id = $1`,
		b.ID, b.Paid, nullTime(b.PaidAt), b.CaseRef, doc)
	return err
}

func lockBill(ctx context.Context, tx pgx.Tx, id string) (*channels.Bill, error) {
	b, err := scanBill(tx.QueryRow(ctx, billSelect+` WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("bill " + id)
	}
	return b, err
}

// FileBill records the case filed for the paid bill id.
func (d *DB) FileBill(ctx context.Context, id, ref string) (*channels.Bill, error) {
	var out *channels.Bill
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		b, err := lockBill(ctx, tx, id)
		if err != nil {
			return err
		}
		out = b
		switch {
		case b.Paid == "":
			return channels.Errorf(channels.ECONFLICT, "payment.unpaid", "bill %s is not paid", id)
		case b.CaseRef == ref:
			return nil
		case b.CaseRef != "":
			return channels.Errorf(channels.ECONFLICT, "payment.unpaid", "bill %s is filed as %s", id, b.CaseRef)
		}
		b.CaseRef = ref
		return putBill(ctx, tx, b)
	})
	if err != nil {
		return nil, wrap(err, "file bill %s", id)
	}
	return out, nil
}

// UnfiledBills returns up to limit bills paid and not filed, earliest paid
// first.
func (d *DB) UnfiledBills(ctx context.Context, limit int) ([]*channels.Bill, error) {
	rows, err := d.pool.Query(ctx, billSelect+` WHERE paid <> '' AND case_ref = '' ORDER BY paid_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, wrap(err, "unfiled bills")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*channels.Bill, error) { return scanBill(row) })
	if out == nil {
		out = []*channels.Bill{}
	}
	return out, wrap(err, "unfiled bills")
}

// StartPayment stores the attempt p when its bill may take one, holding
// the bill's row lock so that two attempts never start at once.
func (d *DB) StartPayment(ctx context.Context, p *channels.Payment) (*channels.Payment, error) {
	s := storedPayment(p)
	doc, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("postgres: start payment %s: %w", p.ID, err)
	}
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		b, err := lockBill(ctx, tx, p.Bill)
		if err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payments WHERE id = $1)`, p.ID).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return channels.Errorf(channels.ECONFLICT, "payment.taken", "payment %s exists", p.ID)
		}
		if !p.Unrequested {
			if b.Paid != "" {
				return channels.Errorf(channels.ECONFLICT, "payment.already_paid", "bill %s is paid", b.ID)
			}
			var pending string
			err := tx.QueryRow(ctx, `SELECT id FROM payments WHERE bill = $1 AND state IN ('created', 'pending') LIMIT 1`, b.ID).Scan(&pending)
			switch {
			case err == nil:
				return channels.Errorf(channels.ECONFLICT, "payment.pending", "bill %s has attempt %s", b.ID, pending)
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO payments (id, bill, provider, phone, state, ref, receipt, open, created_at, doc)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			s.ID, s.Bill, s.Provider, s.Phone, string(s.State), s.Ref, s.Receipt, s.Open(), s.CreatedAt, doc)
		return taken(err, "payment "+p.ID)
	})
	if err != nil {
		return nil, wrap(err, "start payment %s", p.ID)
	}
	return s, nil
}

// Payment returns the payment id.
func (d *DB) Payment(ctx context.Context, id string) (*channels.Payment, error) {
	p, err := scanPayment(d.pool.QueryRow(ctx, `SELECT doc FROM payments WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("payment " + id)
	}
	return p, wrap(err, "payment %s", id)
}

// PaymentByRef returns the payment of provider whose request is ref.
func (d *DB) PaymentByRef(ctx context.Context, provider, ref string) (*channels.Payment, error) {
	return d.paymentBy(ctx, "ref", provider, ref)
}

// PaymentByReceipt returns the payment of provider whose money has receipt.
func (d *DB) PaymentByReceipt(ctx context.Context, provider, receipt string) (*channels.Payment, error) {
	return d.paymentBy(ctx, "receipt", provider, receipt)
}

// paymentBy finds a payment by column (ref or receipt, never the caller's
// text) and provider.
func (d *DB) paymentBy(ctx context.Context, column, provider, value string) (*channels.Payment, error) {
	p, err := scanPayment(d.pool.QueryRow(ctx, `SELECT doc FROM payments WHERE provider = $1 AND `+column+` = $2 AND `+column+` <> ''`, provider, value))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("payment " + provider + " " + value)
	}
	return p, wrap(err, "payment %s %s", provider, value)
}

// putPayment writes p over its row in tx.
func putPayment(ctx context.Context, tx pgx.Tx, p *channels.Payment) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE payments SET state = $2, ref = $3, receipt = $4, open = $5, doc = $6 WHERE id = $1`,
		p.ID, string(p.State), p.Ref, p.Receipt, p.Open(), doc)
	return taken(err, "payment "+p.ID)
}

// UpdatePayment applies change to the payment id and its bill in one
// transaction, holding the bill's row lock and then the payment's (the
// order StartPayment takes them in) from the read to the commit.
func (d *DB) UpdatePayment(ctx context.Context, id string, change func(*channels.Payment, *channels.Bill) error) (*channels.Payment, error) {
	var out *channels.Payment
	var changeErr error
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var bill string
		err := tx.QueryRow(ctx, `SELECT bill FROM payments WHERE id = $1`, id).Scan(&bill)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("payment " + id)
		}
		if err != nil {
			return err
		}
		b, err := lockBill(ctx, tx, bill)
		if err != nil {
			return err
		}
		p, err := scanPayment(tx.QueryRow(ctx, `SELECT doc FROM payments WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		before, billBefore := storedPayment(p), storedBill(b)
		if err := change(p, b); err != nil {
			changeErr = err
			return err
		}
		if err := channels.CheckPaymentChange(before, p, billBefore, b); err != nil {
			return err
		}
		p, b = storedPayment(p), storedBill(b)
		if err := putPayment(ctx, tx, p); err != nil {
			return err
		}
		out = p
		return putBill(ctx, tx, b)
	})
	if changeErr != nil {
		return nil, changeErr
	}
	if err != nil {
		return nil, wrap(err, "update payment %s", id)
	}
	return out, nil
}

// AddRefund appends r to the payment id when refundable is current,
// holding the payment's row lock.
func (d *DB) AddRefund(ctx context.Context, id string, refundable int64, r channels.Refund) (*channels.Payment, error) {
	var out *channels.Payment
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		p, err := scanPayment(tx.QueryRow(ctx, `SELECT doc FROM payments WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("payment " + id)
		}
		if err != nil {
			return err
		}
		if err := channels.CheckRefund(p, refundable, r); err != nil {
			return err
		}
		r.Payment = p.ID
		p.Refunds = append(p.Refunds, r)
		p.Refunded += r.Amount.Amount
		p.UpdatedAt = r.At
		out = storedPayment(p)
		return putPayment(ctx, tx, out)
	})
	if err != nil {
		return nil, wrap(err, "refund payment %s", id)
	}
	return out, nil
}

// OpenPayments returns up to limit payments that need work, oldest first.
func (d *DB) OpenPayments(ctx context.Context, limit int) ([]*channels.Payment, error) {
	ps, err := collectPayments(d.pool.Query(ctx, `SELECT doc FROM payments WHERE open ORDER BY created_at, id LIMIT $1`, limit))
	return ps, wrap(err, "open payments")
}

// BillPayments returns the payments of the bill id, oldest first.
func (d *DB) BillPayments(ctx context.Context, id string) ([]*channels.Payment, error) {
	ps, err := collectPayments(d.pool.Query(ctx, `SELECT doc FROM payments WHERE bill = $1 ORDER BY created_at, id`, id))
	return ps, wrap(err, "payments of bill %s", id)
}

// PaymentsByPhone returns up to limit payments of phone, newest first.
func (d *DB) PaymentsByPhone(ctx context.Context, phone string, limit int) ([]*channels.Payment, error) {
	if phone == "" || limit <= 0 {
		return []*channels.Payment{}, nil
	}
	ps, err := collectPayments(d.pool.Query(ctx, `SELECT doc FROM payments WHERE phone = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, phone, limit))
	return ps, wrap(err, "payments of %s", channels.MaskPhone(phone))
}

// PaymentsCreated returns the payments created in [from, to), oldest first.
func (d *DB) PaymentsCreated(ctx context.Context, from, to time.Time) ([]*channels.Payment, error) {
	ps, err := collectPayments(d.pool.Query(ctx, `SELECT doc FROM payments WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id`,
		ceilMicro(from), ceilMicro(to)))
	return ps, wrap(err, "payments from %s", from.Format(time.RFC3339))
}
