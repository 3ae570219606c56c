package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// runPayments checks the ledger of bills and payments.
func runPayments(t *testing.T, open func(t *testing.T) channels.Store) {
	t.Run("Bills", func(t *testing.T) { testBills(t, open(t)) })
	t.Run("StartPayment", func(t *testing.T) { testStartPayment(t, open(t)) })
	t.Run("ConcurrentStarts", func(t *testing.T) { testConcurrentStarts(t, open(t)) })
	t.Run("UpdatePayment", func(t *testing.T) { testUpdatePayment(t, open(t)) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { testConcurrentPaymentUpdates(t, open(t)) })
	t.Run("Refunds", func(t *testing.T) { testRefunds(t, open(t)) })
	t.Run("PaymentLists", func(t *testing.T) { testPaymentLists(t, open(t)) })
}

var kes = func(n int64) channels.Money { return channels.Money{Amount: n, Currency: "KES"} }

func newBill(id, key string, at time.Time) *channels.Bill {
	return &channels.Bill{ID: id, Key: key, Service: "birth_certificate", Agency: "civil_registry", Phone: "+254712345678",
		Lang: "sw", Channel: channels.ChannelUSSD, Answers: []channels.Answer{{Field: "name", Value: "Amina"}}, Fee: kes(5000), CreatedAt: at}
}

func newPayment(id, bill string, at time.Time) *channels.Payment {
	return &channels.Payment{ID: id, Bill: bill, Provider: "mpesa", Phone: "+254712345678", Amount: kes(5000),
		State: channels.PaymentCreated, CreatedAt: at, UpdatedAt: at}
}

// wantErr fails t unless err has code and, when msg is set, message ID msg.
func wantErr(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	if channels.ErrorCode(err) != code || (msg != "" && channels.ErrorMessage(err) != msg) {
		t.Errorf("%s: %v, want %s %s", what, err, code, msg)
	}
}

func mustBill(t *testing.T, s channels.Store, b *channels.Bill) *channels.Bill {
	t.Helper()
	got, err := s.CreateBill(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func mustStart(t *testing.T, s channels.Store, p *channels.Payment) {
	t.Helper()
	if _, err := s.StartPayment(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// succeed moves the payment id to success with receipt, paying its bill
// when nothing paid it yet, as payment.Service does.
func succeed(s channels.Store, id, receipt string, at time.Time) (*channels.Payment, error) {
	return s.UpdatePayment(context.Background(), id, func(p *channels.Payment, b *channels.Bill) error {
		p.State, p.Receipt, p.FinishedAt, p.UpdatedAt = channels.PaymentSuccess, receipt, at, at
		if b.Paid == "" {
			b.Paid, b.PaidAt = p.ID, at
		} else if b.Paid != p.ID {
			p.Duplicate = true
		}
		return nil
	})
}

func testBills(t *testing.T, s channels.Store) {
	ctx := context.Background()
	in := newBill("100000000011", "ussd/s1/submit", base)
	got := mustBill(t, s, in)
	read, err := s.Bill(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*channels.Bill{got, read} {
		if b.ID != in.ID || b.Key != in.Key || b.Service != in.Service || b.Agency != in.Agency || b.Phone != in.Phone ||
			b.Lang != in.Lang || b.Channel != in.Channel || !reflect.DeepEqual(b.Answers, in.Answers) || b.Fee != in.Fee ||
			!b.CreatedAt.Equal(in.CreatedAt) || b.Paid != "" || b.CaseRef != "" {
			t.Errorf("bill = %+v, want %+v", b, in)
		}
	}
	tests := []struct {
		name     string
		bill     *channels.Bill
		wantID   string
		wantCode string
	}{
		{"same key returns the first bill", newBill("100000000029", "ussd/s1/submit", base.Add(time.Second)), in.ID, ""},
		{"ID taken", newBill(in.ID, "ussd/s2/submit", base), "", channels.ECONFLICT},
		{"no key is always new", newBill("100000000037", "", base), "100000000037", ""},
		{"another key", newBill("100000000045", "ussd/s3/submit", base), "100000000045", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CreateBill(ctx, tt.bill)
			if tt.wantCode != "" {
				wantErr(t, "CreateBill", err, tt.wantCode, "")
				return
			}
			if err != nil || got.ID != tt.wantID {
				t.Errorf("CreateBill = %v, %v, want bill %s", got, err, tt.wantID)
			}
		})
	}
	if _, err := s.Bill(ctx, "100000000029"); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("a bill refused for its key was stored: %v", err)
	}

	t.Run("file", func(t *testing.T) {
		_, err := s.FileBill(ctx, in.ID, "1000000001")
		wantErr(t, "filing an unpaid bill", err, channels.ECONFLICT, "payment.unpaid")
		mustStart(t, s, newPayment("a0000000-0000-4000-8000-000000000001", in.ID, base))
		if _, err := succeed(s, "a0000000-0000-4000-8000-000000000001", "RCPT1", base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		unfiled, err := s.UnfiledBills(ctx, 10)
		if err != nil || len(unfiled) != 1 || unfiled[0].ID != in.ID || !unfiled[0].PaidAt.Equal(base.Add(time.Minute)) {
			t.Fatalf("UnfiledBills = %v, %v, want %s", unfiled, err, in.ID)
		}
		for _, ref := range []string{"1000000001", "1000000001"} {
			b, err := s.FileBill(ctx, in.ID, ref)
			if err != nil || b.CaseRef != ref {
				t.Errorf("FileBill %s = %v, %v", ref, b, err)
			}
		}
		_, err = s.FileBill(ctx, in.ID, "1000000002")
		wantErr(t, "filing again with another case", err, channels.ECONFLICT, "")
		if unfiled, err := s.UnfiledBills(ctx, 10); err != nil || len(unfiled) != 0 {
			t.Errorf("UnfiledBills after filing = %v, %v", unfiled, err)
		}
		if _, err := s.FileBill(ctx, "199999999999", "1"); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("FileBill of no bill: %v", err)
		}
	})
}

func testStartPayment(t *testing.T, s channels.Store) {
	ctx := context.Background()
	mustBill(t, s, newBill("200000000001", "k1", base))
	id := func(n int) string { return fmt.Sprintf("b0000000-0000-4000-8000-%012d", n) }
	steps := []struct {
		name     string
		do       func() error
		wantCode string
		wantMsg  string
	}{
		{"first attempt", func() error { _, err := s.StartPayment(ctx, newPayment(id(1), "200000000001", base)); return err }, "", ""},
		{"second while the first is created", func() error {
			_, err := s.StartPayment(ctx, newPayment(id(2), "200000000001", base))
			return err
		}, channels.ECONFLICT, "payment.pending"},
		{"pending still blocks", func() error {
			if _, err := s.UpdatePayment(ctx, id(1), func(p *channels.Payment, _ *channels.Bill) error {
				p.State, p.Ref = channels.PaymentPending, "ws_CO_1"
				return nil
			}); err != nil {
				return err
			}
			_, err := s.StartPayment(ctx, newPayment(id(2), "200000000001", base))
			return err
		}, channels.ECONFLICT, "payment.pending"},
		{"after a failure a new attempt", func() error {
			if _, err := s.UpdatePayment(ctx, id(1), func(p *channels.Payment, _ *channels.Bill) error {
				p.State, p.Reason, p.FinishedAt = channels.PaymentFailed, "1032", base
				return nil
			}); err != nil {
				return err
			}
			_, err := s.StartPayment(ctx, newPayment(id(2), "200000000001", base.Add(time.Second)))
			return err
		}, "", ""},
		{"the same ID again", func() error {
			_, err := s.StartPayment(ctx, newPayment(id(2), "200000000001", base.Add(time.Second)))
			return err
		}, channels.ECONFLICT, "payment.taken"},
		{"paid bill refuses an attempt", func() error {
			if _, err := succeed(s, id(2), "RC2", base.Add(time.Minute)); err != nil {
				return err
			}
			_, err := s.StartPayment(ctx, newPayment(id(3), "200000000001", base.Add(2*time.Second)))
			return err
		}, channels.ECONFLICT, "payment.already_paid"},
		{"money that arrived is recorded on a paid bill", func() error {
			p := newPayment(id(4), "200000000001", base.Add(3*time.Second))
			p.Unrequested, p.State, p.Ref = true, channels.PaymentPending, "RC4"
			_, err := s.StartPayment(ctx, p)
			return err
		}, "", ""},
		{"a ref taken by another payment", func() error {
			p := newPayment(id(5), "200000000001", base.Add(4*time.Second))
			p.Unrequested, p.State, p.Ref = true, channels.PaymentPending, "RC4"
			_, err := s.StartPayment(ctx, p)
			return err
		}, channels.ECONFLICT, "payment.taken"},
		{"no such bill", func() error { _, err := s.StartPayment(ctx, newPayment(id(6), "299999999999", base)); return err }, channels.ENOTFOUND, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.do()
			if st.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, st.name, err, st.wantCode, st.wantMsg)
		})
	}
	ps, err := s.BillPayments(ctx, "200000000001")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.ID+" "+string(p.State))
	}
	want := []string{id(1) + " failed", id(2) + " success", id(4) + " pending"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BillPayments = %v, want %v", got, want)
	}
}

// testConcurrentStarts starts attempts on one bill at once: one, and only
// one, is stored.
func testConcurrentStarts(t *testing.T, s channels.Store) {
	ctx := context.Background()
	mustBill(t, s, newBill("300000000001", "", base))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.StartPayment(ctx, newPayment(fmt.Sprintf("c0000000-0000-4000-8000-%012d", i), "300000000001", base))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case channels.ErrorMessage(err) != "payment.pending":
			t.Errorf("StartPayment: %v, want payment.pending", err)
		}
	}
	if ps, err := s.BillPayments(ctx, "300000000001"); ok != 1 || err != nil || len(ps) != 1 {
		t.Errorf("%d attempts started, %d stored (%v), want 1", ok, len(ps), err)
	}
}

func testUpdatePayment(t *testing.T, s channels.Store) {
	ctx := context.Background()
	mustBill(t, s, newBill("400000000001", "", base))
	mustBill(t, s, newBill("400000000002", "", base))
	a, b := "d0000000-0000-4000-8000-000000000001", "d0000000-0000-4000-8000-000000000002"
	mustStart(t, s, newPayment(a, "400000000001", base))
	mustStart(t, s, newPayment(b, "400000000002", base))
	refused := errors.New("refused by the change")
	tests := []struct {
		name     string
		id       string
		change   func(*channels.Payment, *channels.Bill) error
		wantCode string
		wantMsg  string
	}{
		{"the change's error as is", a, func(p *channels.Payment, _ *channels.Bill) error { p.Reason = "lost"; return refused }, "refused", ""},
		{"pending with a ref", a, func(p *channels.Payment, _ *channels.Bill) error {
			p.State, p.Ref, p.SentAt = channels.PaymentPending, "ws_CO_A", base
			return nil
		}, "", ""},
		{"a ref another payment has", b, func(p *channels.Payment, _ *channels.Bill) error { p.Ref = "ws_CO_A"; return nil }, channels.ECONFLICT, "payment.taken"},
		{"success pays the bill", a, func(p *channels.Payment, bill *channels.Bill) error {
			p.State, p.Receipt, p.FinishedAt = channels.PaymentSuccess, "RCA", base.Add(time.Minute)
			bill.Paid, bill.PaidAt = p.ID, base.Add(time.Minute)
			return nil
		}, "", ""},
		{"a finished attempt keeps its state", a, func(p *channels.Payment, _ *channels.Bill) error { p.State = channels.PaymentFailed; return nil }, channels.ECONFLICT, "payment.finished"},
		{"a receipt another payment has", b, func(p *channels.Payment, _ *channels.Bill) error {
			p.State, p.Receipt = channels.PaymentSuccess, "RCA"
			return nil
		}, channels.ECONFLICT, "payment.taken"},
		{"a paid bill keeps its payment", a, func(_ *channels.Payment, bill *channels.Bill) error { bill.Paid = "other"; return nil }, channels.ECONFLICT, "payment.already_paid"},
		{"the amount is fixed", b, func(p *channels.Payment, _ *channels.Bill) error { p.Amount = kes(1); return nil }, channels.ECONFLICT, ""},
		{"another receipt pays the other bill", b, func(p *channels.Payment, bill *channels.Bill) error {
			p.State, p.Receipt = channels.PaymentSuccess, "RCA-other"
			bill.Paid = p.ID
			return nil
		}, "", ""},
		{"no such payment", "d0000000-0000-4000-8000-000000000009", func(*channels.Payment, *channels.Bill) error { return nil }, channels.ENOTFOUND, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.Payment(ctx, tt.id)
			got, err := s.UpdatePayment(ctx, tt.id, tt.change)
			switch {
			case tt.wantCode == "refused":
				if !errors.Is(err, refused) {
					t.Errorf("err = %v, want the change's", err)
				}
			case tt.wantCode != "":
				wantErr(t, "UpdatePayment", err, tt.wantCode, tt.wantMsg)
			case err != nil:
				t.Fatal(err)
			}
			after, _ := s.Payment(ctx, tt.id)
			if tt.wantCode != "" && before != nil && !reflect.DeepEqual(normalizePayment(before), normalizePayment(after)) {
				t.Errorf("a refused change was stored: %+v, was %+v", after, before)
			}
			if tt.wantCode == "" && !reflect.DeepEqual(normalizePayment(got), normalizePayment(after)) {
				t.Errorf("UpdatePayment returned %+v, stored %+v", got, after)
			}
		})
	}
	if p, err := s.PaymentByReceipt(ctx, "mpesa", "RCA"); err != nil || p.ID != a {
		t.Errorf("PaymentByReceipt = %v, %v, want %s", p, err, a)
	}
	if p, err := s.PaymentByRef(ctx, "mpesa", "ws_CO_A"); err != nil || p.ID != a {
		t.Errorf("PaymentByRef = %v, %v, want %s", p, err, a)
	}
	for _, look := range []func() (*channels.Payment, error){
		func() (*channels.Payment, error) { return s.PaymentByReceipt(ctx, "momo", "RCA") },
		func() (*channels.Payment, error) { return s.PaymentByReceipt(ctx, "mpesa", "") },
		func() (*channels.Payment, error) { return s.PaymentByRef(ctx, "mpesa", "ws_CO_none") },
	} {
		if _, err := look(); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("look-up of nothing: %v, want not found", err)
		}
	}
	if bill, err := s.Bill(ctx, "400000000001"); err != nil || bill.Paid != a {
		t.Errorf("bill 400000000001 = %+v, %v, want paid by %s", bill, err, a)
	}
}

// normalizePayment makes two reads of one payment comparable with
// reflect.DeepEqual: times as instants.
func normalizePayment(p *channels.Payment) channels.Payment {
	if p == nil {
		return channels.Payment{}
	}
	n := *p
	for _, t := range []*time.Time{&n.CheckedAt, &n.SentAt, &n.CreatedAt, &n.UpdatedAt, &n.FinishedAt} {
		*t = t.UTC()
	}
	n.Refunds = nil
	for _, r := range p.Refunds {
		r.At = r.At.UTC()
		n.Refunds = append(n.Refunds, r)
	}
	return n
}

// testConcurrentPaymentUpdates runs read-modify-writes of one payment at
// once: none is lost.
func testConcurrentPaymentUpdates(t *testing.T, s channels.Store) {
	ctx := context.Background()
	mustBill(t, s, newBill("500000000001", "", base))
	id := "e0000000-0000-4000-8000-000000000001"
	mustStart(t, s, newPayment(id, "500000000001", base))
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.UpdatePayment(ctx, id, func(p *channels.Payment, _ *channels.Bill) error { p.Checks++; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p, err := s.Payment(ctx, id); err != nil || p.Checks != n {
		t.Errorf("checks = %v (%v), want %d", p, err, n)
	}
}

func testRefunds(t *testing.T, s channels.Store) {
	ctx := context.Background()
	mustBill(t, s, newBill("600000000001", "", base))
	id := "f0000000-0000-4000-8000-000000000001"
	mustStart(t, s, newPayment(id, "600000000001", base))
	refund := func(n int, amount int64) channels.Refund {
		return channels.Refund{ID: fmt.Sprintf("f1000000-0000-4000-8000-%012d", n), Amount: kes(amount), State: channels.RefundCreated,
			Reason: "duplicate", Actor: "system", At: base.Add(time.Hour)}
	}
	_, err := s.AddRefund(ctx, id, 0, refund(1, 100))
	wantErr(t, "refund of an unfinished payment", err, channels.ECONFLICT, "payment.not_paid")
	if _, err := succeed(s, id, "RF1", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name           string
		refundable     int64
		refund         channels.Refund
		wantCode       string
		wantMsg        string
		wantRefundable int64
	}{
		{"stale amount", 4000, refund(1, 1000), channels.ECONFLICT, "payment.refund_stale", 5000},
		{"more than refundable", 5000, refund(1, 5001), channels.EINVALID, "payment.refund_amount", 5000},
		{"nothing", 5000, refund(1, 0), channels.EINVALID, "payment.refund_amount", 5000},
		{"another currency", 5000, channels.Refund{ID: "f1000000-0000-4000-8000-000000000009", Amount: channels.Money{Amount: 10, Currency: "RWF"}}, channels.EINVALID, "payment.refund_amount", 5000},
		{"part", 5000, refund(1, 1500), "", "", 3500},
		{"the same refund again", 3500, refund(1, 1500), channels.ECONFLICT, "payment.taken", 3500},
		{"the rest", 3500, refund(2, 3500), "", "", 0},
		{"nothing left", 0, refund(3, 1), channels.EINVALID, "payment.refund_amount", 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			_, err := s.AddRefund(ctx, id, st.refundable, st.refund)
			if st.wantCode != "" {
				wantErr(t, "AddRefund", err, st.wantCode, st.wantMsg)
			} else if err != nil {
				t.Fatal(err)
			}
			p, err := s.Payment(ctx, id)
			if err != nil || p.Refundable() != st.wantRefundable {
				t.Errorf("refundable %d (%v), want %d", p.Refundable(), err, st.wantRefundable)
			}
		})
	}
	open, err := s.OpenPayments(ctx, 10)
	if err != nil || len(open) != 1 || open[0].ID != id {
		t.Errorf("OpenPayments = %v, %v, want the payment with created refunds", open, err)
	}
	p, err := s.UpdatePayment(ctx, id, func(p *channels.Payment, _ *channels.Bill) error {
		p.Refunds[0].State, p.Refunds[0].Ref = channels.RefundAccepted, "RV1"
		p.Refunds[1].State, p.Refunds[1].Reason = channels.RefundFailed, "reversal refused"
		return nil
	})
	if err != nil || p.Refunded != 1500 || p.Refundable() != 3500 {
		t.Fatalf("after a failed refund: %+v, %v, want 1500 refunded", p, err)
	}
	if open, err := s.OpenPayments(ctx, 10); err != nil || len(open) != 0 {
		t.Errorf("OpenPayments after the refunds settled = %v, %v", open, err)
	}
	_, err = s.UpdatePayment(ctx, id, func(p *channels.Payment, _ *channels.Bill) error {
		p.Refunds[1].State = channels.RefundAccepted
		return nil
	})
	wantErr(t, "reviving a failed refund", err, channels.ECONFLICT, "")

	t.Run("concurrent refunds of what is left", func(t *testing.T) {
		var wg sync.WaitGroup
		const n = 6
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = s.AddRefund(ctx, id, 3500, refund(10+i, 3500)) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if channels.ErrorMessage(err) != "payment.refund_stale" {
				t.Errorf("AddRefund: %v, want payment.refund_stale", err)
			}
		}
		if p, err := s.Payment(ctx, id); ok != 1 || err != nil || p.Refundable() != 0 {
			t.Errorf("%d refunds of the rest made, refundable %d", ok, p.Refundable())
		}
	})
}

func testPaymentLists(t *testing.T, s channels.Store) {
	ctx := context.Background()
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	mustBill(t, s, newBill("700000000001", "", day))
	mustBill(t, s, newBill("700000000002", "", day))
	id := func(n int) string { return fmt.Sprintf("70000000-0000-4000-8000-%012d", n) }
	at := []time.Time{day.Add(-time.Microsecond), day, day.Add(12 * time.Hour), day.Add(24*time.Hour - time.Microsecond), day.Add(24 * time.Hour)}
	for i, when := range at {
		p := newPayment(id(i), "700000000001", when)
		if i%2 == 1 {
			p.Phone = "+254700000001"
		}
		if i > 0 {
			p.Bill = "700000000002"
			if i > 1 {
				p.Unrequested, p.State, p.Ref = true, channels.PaymentPending, fmt.Sprintf("R%d", i)
			}
		}
		mustStart(t, s, p)
	}
	if _, err := s.UpdatePayment(ctx, id(0), func(p *channels.Payment, _ *channels.Bill) error { p.State = channels.PaymentError; return nil }); err != nil {
		t.Fatal(err)
	}
	ids := func(ps []*channels.Payment, err error) []string {
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"of the day", ids(s.PaymentsCreated(ctx, day, day.Add(24*time.Hour))), []string{id(1), id(2), id(3)}},
		{"of no day", ids(s.PaymentsCreated(ctx, day.Add(48*time.Hour), day.Add(72*time.Hour))), []string{}},
		{"of a bill", ids(s.BillPayments(ctx, "700000000002")), []string{id(1), id(2), id(3), id(4)}},
		{"of no bill", ids(s.BillPayments(ctx, "799999999999")), []string{}},
		{"of a phone", ids(s.PaymentsByPhone(ctx, "+254700000001", 10)), []string{id(3), id(1)}},
		{"of a phone, limited", ids(s.PaymentsByPhone(ctx, "+254712345678", 2)), []string{id(4), id(2)}},
		{"open", ids(s.OpenPayments(ctx, 10)), []string{id(1), id(2), id(3), id(4)}},
		{"open, limited", ids(s.OpenPayments(ctx, 2)), []string{id(1), id(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}
