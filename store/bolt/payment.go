package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// The buckets of bills and payments, created by Open in the data file.
var (
	bucketBills           = []byte("bills")            // id → bill record (JSON)
	bucketBillKeys        = []byte("bill_keys")        // idempotency key → id
	bucketBillsUnfiled    = []byte("bills_unfiled")    // paid at (8 bytes BE) id → nil, bills paid and not filed
	bucketPayments        = []byte("payments")         // id → payment (JSON)
	bucketPaymentBill     = []byte("payment_bill")     // bill 0x00 created (8 bytes BE) id → nil
	bucketPaymentPhone    = []byte("payment_phone")    // phone 0x00 created (8 bytes BE) id → nil
	bucketPaymentCreated  = []byte("payment_created")  // created (8 bytes BE) id → nil
	bucketPaymentOpen     = []byte("payment_open")     // created (8 bytes BE) id → nil, payments that are Open
	bucketPaymentRefs     = []byte("payment_refs")     // provider 0x00 ref → id
	bucketPaymentReceipts = []byte("payment_receipts") // provider 0x00 receipt → id
)

var paymentBuckets = [][]byte{bucketBills, bucketBillKeys, bucketBillsUnfiled, bucketPayments, bucketPaymentBill,
	bucketPaymentPhone, bucketPaymentCreated, bucketPaymentOpen, bucketPaymentRefs, bucketPaymentReceipts}

// billRecord is a bill as stored: channels.Bill hides its key from JSON.
type billRecord struct {
	*channels.Bill
	Key string `json:"idempotency_key,omitempty"`
}

func readBill(tx *bbolt.Tx, id string) (*channels.Bill, error) {
	v := tx.Bucket(bucketBills).Get([]byte(id))
	if v == nil {
		return nil, notFound("bill " + id)
	}
	rec := billRecord{Bill: &channels.Bill{}}
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, err
	}
	rec.Bill.Key = rec.Key
	return rec.Bill, nil
}

func unfiledKey(b *channels.Bill) []byte { return append(appendTimeKey(nil, b.PaidAt), b.ID...) }

// putBill stores b, whose stored version was before (nil for a new bill),
// and keeps the index of unfiled bills.
func putBill(tx *bbolt.Tx, before, b *channels.Bill) error {
	v, err := json.Marshal(billRecord{Bill: b, Key: b.Key})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketBills).Put([]byte(b.ID), v); err != nil {
		return err
	}
	unfiled := tx.Bucket(bucketBillsUnfiled)
	if before != nil && before.Paid != "" && before.CaseRef == "" {
		if err := unfiled.Delete(unfiledKey(before)); err != nil {
			return err
		}
	}
	if b.Paid != "" && b.CaseRef == "" {
		return unfiled.Put(unfiledKey(b), nil)
	}
	return nil
}

// CreateBill stores b, or returns the bill of its key.
func (d *DB) CreateBill(_ context.Context, b *channels.Bill) (*channels.Bill, error) {
	var out *channels.Bill
	err := d.db.Update(func(tx *bbolt.Tx) error {
		keys := tx.Bucket(bucketBillKeys)
		if b.Key != "" {
			if id := keys.Get([]byte(b.Key)); id != nil {
				var err error
				out, err = readBill(tx, string(id))
				return err
			}
		}
		if tx.Bucket(bucketBills).Get([]byte(b.ID)) != nil {
			return channels.Errorf(channels.ECONFLICT, "error.conflict", "bill ID %s is taken", b.ID)
		}
		if b.Key != "" {
			if err := keys.Put([]byte(b.Key), []byte(b.ID)); err != nil {
				return err
			}
		}
		out = b
		return putBill(tx, nil, b)
	})
	return out, wrap(err, "create bill %s", b.ID)
}

// Bill returns the bill id.
func (d *DB) Bill(_ context.Context, id string) (*channels.Bill, error) {
	var b *channels.Bill
	err := d.db.View(func(tx *bbolt.Tx) error {
		var err error
		b, err = readBill(tx, id)
		return err
	})
	return b, wrap(err, "bill %s", id)
}

// FileBill records the case filed for the paid bill id.
func (d *DB) FileBill(_ context.Context, id, ref string) (*channels.Bill, error) {
	var out *channels.Bill
	err := d.db.Update(func(tx *bbolt.Tx) error {
		b, err := readBill(tx, id)
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
		before := *b
		b.CaseRef = ref
		return putBill(tx, &before, b)
	})
	if err != nil {
		return nil, wrap(err, "file bill %s", id)
	}
	return out, nil
}

// UnfiledBills returns up to limit bills paid and not filed, earliest paid
// first.
func (d *DB) UnfiledBills(_ context.Context, limit int) ([]*channels.Bill, error) {
	out := []*channels.Bill{}
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketBillsUnfiled).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			b, err := readBill(tx, string(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	return out, wrap(err, "unfiled bills")
}

func readPayment(tx *bbolt.Tx, id string) (*channels.Payment, error) {
	v := tx.Bucket(bucketPayments).Get([]byte(id))
	if v == nil {
		return nil, notFound("payment " + id)
	}
	var p channels.Payment
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func providerKey(provider, id string) []byte { return append(append([]byte(provider), 0), id...) }

func prefixTimeKey(prefix string, t time.Time, id string) []byte {
	return append(appendTimeKey(append([]byte(prefix), 0), t), id...)
}

// claimID maps provider+value to id in bucket, ECONFLICT payment.taken when
// it maps to another payment.
func claimID(b *bbolt.Bucket, provider, value, id string) error {
	if value == "" {
		return nil
	}
	k := providerKey(provider, value)
	if got := b.Get(k); got != nil && string(got) != id {
		return channels.Errorf(channels.ECONFLICT, "payment.taken", "%s %s is recorded on payment %s", provider, value, got)
	}
	return b.Put(k, []byte(id))
}

// putPayment stores p, whose stored version was before (nil for a new
// payment), with its index entries.
func putPayment(tx *bbolt.Tx, before, p *channels.Payment) error {
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	refs, receipts := tx.Bucket(bucketPaymentRefs), tx.Bucket(bucketPaymentReceipts)
	if before != nil && before.Ref != "" && before.Ref != p.Ref {
		if err := refs.Delete(providerKey(before.Provider, before.Ref)); err != nil {
			return err
		}
	}
	if err := claimID(refs, p.Provider, p.Ref, p.ID); err != nil {
		return err
	}
	if err := claimID(receipts, p.Provider, p.Receipt, p.ID); err != nil {
		return err
	}
	if err := tx.Bucket(bucketPayments).Put([]byte(p.ID), v); err != nil {
		return err
	}
	open := tx.Bucket(bucketPaymentOpen)
	openKey := append(appendTimeKey(nil, p.CreatedAt), p.ID...)
	if p.Open() {
		if err := open.Put(openKey, nil); err != nil {
			return err
		}
	} else if err := open.Delete(openKey); err != nil {
		return err
	}
	if before != nil {
		return nil
	}
	if err := tx.Bucket(bucketPaymentBill).Put(prefixTimeKey(p.Bill, p.CreatedAt, p.ID), nil); err != nil {
		return err
	}
	if err := tx.Bucket(bucketPaymentPhone).Put(prefixTimeKey(p.Phone, p.CreatedAt, p.ID), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketPaymentCreated).Put(append(appendTimeKey(nil, p.CreatedAt), p.ID...), nil)
}

// billPayments reads the payments of bill, oldest first.
func billPayments(tx *bbolt.Tx, bill string) ([]*channels.Payment, error) {
	out := []*channels.Payment{}
	prefix := append([]byte(bill), 0)
	c := tx.Bucket(bucketPaymentBill).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		p, err := readPayment(tx, string(k[len(prefix)+8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// StartPayment stores the attempt p when its bill may take one.
func (d *DB) StartPayment(_ context.Context, p *channels.Payment) (*channels.Payment, error) {
	err := d.db.Update(func(tx *bbolt.Tx) error {
		b, err := readBill(tx, p.Bill)
		if err != nil {
			return err
		}
		if tx.Bucket(bucketPayments).Get([]byte(p.ID)) != nil {
			return channels.Errorf(channels.ECONFLICT, "payment.taken", "payment %s exists", p.ID)
		}
		if !p.Unrequested {
			if b.Paid != "" {
				return channels.Errorf(channels.ECONFLICT, "payment.already_paid", "bill %s is paid", b.ID)
			}
			ps, err := billPayments(tx, p.Bill)
			if err != nil {
				return err
			}
			for _, o := range ps {
				if !o.State.Finished() {
					return channels.Errorf(channels.ECONFLICT, "payment.pending", "bill %s has attempt %s %s", b.ID, o.ID, o.State)
				}
			}
		}
		return putPayment(tx, nil, p)
	})
	if err != nil {
		return nil, wrap(err, "start payment %s", p.ID)
	}
	return p, nil
}

// Payment returns the payment id.
func (d *DB) Payment(_ context.Context, id string) (*channels.Payment, error) {
	var p *channels.Payment
	err := d.db.View(func(tx *bbolt.Tx) error {
		var err error
		p, err = readPayment(tx, id)
		return err
	})
	return p, wrap(err, "payment %s", id)
}

// PaymentByRef returns the payment of provider whose request is ref.
func (d *DB) PaymentByRef(_ context.Context, provider, ref string) (*channels.Payment, error) {
	return d.paymentBy(bucketPaymentRefs, provider, ref)
}

// PaymentByReceipt returns the payment of provider whose money has receipt.
func (d *DB) PaymentByReceipt(_ context.Context, provider, receipt string) (*channels.Payment, error) {
	return d.paymentBy(bucketPaymentReceipts, provider, receipt)
}

func (d *DB) paymentBy(bucket []byte, provider, value string) (*channels.Payment, error) {
	var p *channels.Payment
	err := d.db.View(func(tx *bbolt.Tx) error {
		id := tx.Bucket(bucket).Get(providerKey(provider, value))
		if value == "" || id == nil {
			return notFound("payment " + provider + " " + value)
		}
		var err error
		p, err = readPayment(tx, string(id))
		return err
	})
	return p, wrap(err, "payment %s %s", provider, value)
}

// UpdatePayment applies change to the payment id and its bill in one
// fsynced transaction.
func (d *DB) UpdatePayment(_ context.Context, id string, change func(*channels.Payment, *channels.Bill) error) (*channels.Payment, error) {
	var out *channels.Payment
	var changeErr error
	err := d.db.Update(func(tx *bbolt.Tx) error {
		p, err := readPayment(tx, id)
		if err != nil {
			return err
		}
		b, err := readBill(tx, p.Bill)
		if err != nil {
			return err
		}
		before, billBefore := clonePayment(p), *b
		if err := change(p, b); err != nil {
			changeErr = err
			return err
		}
		if err := channels.CheckPaymentChange(before, p, &billBefore, b); err != nil {
			return err
		}
		if err := putPayment(tx, before, p); err != nil {
			return err
		}
		out = p
		return putBill(tx, &billBefore, b)
	})
	if changeErr != nil {
		return nil, changeErr
	}
	if err != nil {
		return nil, wrap(err, "update payment %s", id)
	}
	return out, nil
}

func clonePayment(p *channels.Payment) *channels.Payment {
	c := *p
	c.Refunds = append([]channels.Refund(nil), p.Refunds...)
	return &c
}

// AddRefund appends r to the payment id when refundable is current.
func (d *DB) AddRefund(_ context.Context, id string, refundable int64, r channels.Refund) (*channels.Payment, error) {
	var out *channels.Payment
	err := d.db.Update(func(tx *bbolt.Tx) error {
		p, err := readPayment(tx, id)
		if err != nil {
			return err
		}
		if err := channels.CheckRefund(p, refundable, r); err != nil {
			return err
		}
		before := clonePayment(p)
		r.Payment = p.ID
		p.Refunds = append(p.Refunds, r)
		p.Refunded += r.Amount.Amount
		p.UpdatedAt = r.At
		out = p
		return putPayment(tx, before, p)
	})
	if err != nil {
		return nil, wrap(err, "refund payment %s", id)
	}
	return out, nil
}

// OpenPayments returns up to limit payments that need work, oldest first.
func (d *DB) OpenPayments(_ context.Context, limit int) ([]*channels.Payment, error) {
	out := []*channels.Payment{}
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketPaymentOpen).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			p, err := readPayment(tx, string(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out, wrap(err, "open payments")
}

// BillPayments returns the payments of the bill id, oldest first.
func (d *DB) BillPayments(_ context.Context, id string) ([]*channels.Payment, error) {
	var out []*channels.Payment
	err := d.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = billPayments(tx, id)
		return err
	})
	return out, wrap(err, "payments of bill %s", id)
}

// PaymentsByPhone returns up to limit payments of phone, newest first.
func (d *DB) PaymentsByPhone(_ context.Context, phone string, limit int) ([]*channels.Payment, error) {
	out := []*channels.Payment{}
	if phone == "" {
		return out, nil
	}
	prefix := append([]byte(phone), 0)
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketPaymentPhone).Cursor()
		k, _ := c.Seek(append([]byte(phone), 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			p, err := readPayment(tx, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out, wrap(err, "payments of %s", channels.MaskPhone(phone))
}

// PaymentsCreated returns the payments created in [from, to), oldest first.
func (d *DB) PaymentsCreated(_ context.Context, from, to time.Time) ([]*channels.Payment, error) {
	out := []*channels.Payment{}
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketPaymentCreated).Cursor()
		for k, _ := c.Seek(appendTimeKey(nil, from)); k != nil; k, _ = c.Next() {
			p, err := readPayment(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if !p.CreatedAt.Before(to) {
				break
			}
			if p.CreatedAt.Before(from) {
				continue
			}
			out = append(out, p)
		}
		return nil
	})
	return out, wrap(err, "payments from %s", from.Format(time.RFC3339))
}
