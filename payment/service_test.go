package payment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/store/bolt"
)

// scripted is a Provider whose answers a test sets, checking every input
// as a provider would: attempt and refund IDs are UUID v4, bills are
// well-formed, amounts are what was asked, a refund names a receipt and
// stays within what was paid. A Request repeated for one attempt is
// idempotent, as MoMo's X-Reference-Id makes it.
type scripted struct {
	t          *testing.T
	mu         sync.Mutex
	fee        channels.Money
	requests   map[string]int                    // attempt → requests seen
	status     map[string]channels.PaymentStatus // attempt ID (or, for money that arrived, the receipt) → status
	requestErr error                             // the next Request's error, after it was taken
	refundErr  error
	refunds    []RefundRequest
}

func newScripted(t *testing.T) *scripted {
	return &scripted{t: t, fee: channels.Money{Amount: 5000, Currency: "KES"}, requests: map[string]int{}, status: map[string]channels.PaymentStatus{}}
}

func (p *scripted) Name() string { return "mpesa" }

func isV4(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.Version() == 4 && u.String() == id
}

func (p *scripted) Request(_ context.Context, r Request) (Accepted, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !isV4(r.Attempt) {
		p.t.Errorf("Request attempt %q is not a UUID v4", r.Attempt)
	}
	if _, ok := channels.ParseBillID(r.Bill); !ok || r.Amount != p.fee || !strings.HasPrefix(r.Phone, "+") {
		p.t.Errorf("Request %+v: bill, amount or phone wrong", r)
	}
	p.requests[r.Attempt]++
	if _, ok := p.status[r.Attempt]; !ok {
		p.status[r.Attempt] = channels.PaymentStatus{State: channels.PaymentPending}
	}
	if err := p.requestErr; err != nil {
		p.requestErr = nil
		return Accepted{}, err
	}
	return Accepted{Ref: "ws_CO_" + r.Attempt[:8]}, nil
}

func (p *scripted) Status(_ context.Context, a Attempt) (channels.PaymentStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.Attempt != "" && !isV4(a.Attempt) {
		p.t.Errorf("Status of attempt %q, not a UUID v4", a.Attempt)
	}
	if st, ok := p.status[a.Attempt]; ok && a.Attempt != "" {
		return st, nil
	}
	if st, ok := p.status[a.Ref]; ok {
		return st, nil
	}
	return channels.PaymentStatus{State: channels.PaymentCreated}, nil
}

func (p *scripted) Refund(_ context.Context, r RefundRequest) (RefundAccepted, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !isV4(r.Refund) || r.Receipt == "" || r.Amount.Amount < 1 || r.Amount.Amount > p.fee.Amount {
		p.t.Errorf("Refund %+v: ID, receipt or amount wrong", r)
	}
	if p.refundErr != nil {
		return RefundAccepted{}, p.refundErr
	}
	for _, o := range p.refunds {
		if o.Refund == r.Refund {
			return RefundAccepted{Ref: "RV-" + r.Refund[:8]}, nil
		}
	}
	p.refunds = append(p.refunds, r)
	return RefundAccepted{Ref: "RV-" + r.Refund[:8]}, nil
}

// pay sets the provider's status of attempt to success with receipt.
func (p *scripted) pay(attempt, receipt string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[attempt] = channels.PaymentStatus{State: channels.PaymentSuccess, Receipt: receipt, Paid: p.fee}
}

func (p *scripted) set(attempt string, st channels.PaymentStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[attempt] = st
}

// charges counts the distinct receipts the provider took money under.
func (p *scripted) charges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	for _, st := range p.status {
		if st.State == channels.PaymentSuccess {
			seen[st.Receipt] = true
		}
	}
	return len(seen)
}

// rig is a Service over a real bbolt file, made again by reopen as after
// a crash.
type rig struct {
	t     *testing.T
	path  string
	db    *bolt.DB
	prov  *scripted
	now   time.Time
	filed map[string]int // bill → Filed calls
	svc   *Service
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, path: filepath.Join(t.TempDir(), "data.db"), prov: newScripted(t), now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), filed: map[string]int{}}
	r.reopen()
	t.Cleanup(func() { r.db.Close() })
	return r
}

func (r *rig) reopen() {
	if r.db != nil {
		r.db.Close()
	}
	db, err := bolt.Open(r.path, bolt.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.db = db
	r.svc = &Service{Store: db, Providers: map[string]Provider{"mpesa": r.prov}, Now: func() time.Time { return r.now },
		Filed: func(_ context.Context, b *channels.Bill) (string, error) {
			r.filed[b.ID]++
			return "1000000001", nil
		}}
}

func (r *rig) bill(key string) *channels.Bill {
	b, err := r.svc.Open(context.Background(), channels.Bill{Key: key, Service: "birth_certificate", Phone: "+254712345678", Lang: "en",
		Channel: channels.ChannelUSSD, Fee: r.prov.fee, Answers: []channels.Answer{{Field: "name", Value: "Amina"}}})
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *rig) start(bill string) *channels.Payment {
	p, err := r.svc.Start(context.Background(), bill, "mpesa", "+254712345678")
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) sent(bill string) *channels.Payment {
	p, err := r.svc.Send(context.Background(), r.start(bill).ID, "Birth certificate")
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) poll() {
	r.now = r.now.Add(time.Minute)
	if err := r.svc.Poll(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// ends checks the outcome the rules promise for bill: charges, whether it
// is paid, and how often it was filed.
func (r *rig) ends(bill string, charges int, paid bool, filed int) {
	r.t.Helper()
	b, err := r.db.Bill(context.Background(), bill)
	if err != nil {
		r.t.Fatal(err)
	}
	if got := r.prov.charges(); got != charges {
		r.t.Errorf("%d charges, want %d", got, charges)
	}
	if (b.Paid != "") != paid {
		r.t.Errorf("bill paid by %q, want paid %v", b.Paid, paid)
	}
	if r.filed[bill] != filed || (filed > 0 && b.CaseRef != "1000000001") {
		r.t.Errorf("filed %d times (case %q), want %d", r.filed[bill], b.CaseRef, filed)
	}
}

func TestRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, r *rig)
	}{
		{"the same key opens the same bill", func(t *testing.T, r *rig) {
			if a, b := r.bill("s1"), r.bill("s1"); a.ID != b.ID || len(a.ID) != channels.BillIDLen {
				t.Errorf("bills %s and %s", a.ID, b.ID)
			}
		}},
		{"a success pays the bill once and files it once", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			if p.State != channels.PaymentPending || p.Ref == "" {
				t.Errorf("sent: %+v", p)
			}
			r.prov.pay(p.ID, "RC1")
			for range 2 {
				if got, err := r.svc.Confirm(ctx, p.ID); err != nil || got.State != channels.PaymentSuccess || got.Duplicate {
					t.Fatalf("Confirm = %+v, %v", got, err)
				}
			}
			r.poll()
			r.poll()
			r.ends(b.ID, 1, true, 1)
		}},
		{"a failure charges nothing and a new attempt may start", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			r.prov.set(p.ID, channels.PaymentStatus{State: channels.PaymentFailed, Reason: "1032"})
			if got, err := r.svc.Confirm(ctx, p.ID); err != nil || got.State != channels.PaymentFailed || got.Reason != "1032" {
				t.Fatalf("Confirm = %+v, %v", got, err)
			}
			r.poll()
			r.ends(b.ID, 0, false, 0)
			r.sent(b.ID)
		}},
		{"an attempt under way refuses a second", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			r.sent(b.ID)
			_, err := r.svc.Start(ctx, b.ID, "mpesa", "+254712345678")
			if channels.ErrorMessage(err) != "payment.pending" {
				t.Errorf("Start = %v, want payment.pending", err)
			}
		}},
		{"a paid bill refuses an attempt", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			r.prov.pay(p.ID, "RC1")
			r.poll()
			_, err := r.svc.Start(ctx, b.ID, "mpesa", "+254712345678")
			if channels.ErrorMessage(err) != "payment.already_paid" {
				t.Errorf("Start = %v, want payment.already_paid", err)
			}
		}},
		{"Send twice requests once", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.start(b.ID)
			for range 2 {
				if _, err := r.svc.Send(ctx, p.ID, "fee"); err != nil {
					t.Fatal(err)
				}
			}
			if n := r.prov.requests[p.ID]; n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		}},
		{"a lost answer to Request is read, never requested again", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.start(b.ID)
			r.prov.requestErr = errors.New("timeout")
			if _, err := r.svc.Send(ctx, p.ID, "fee"); err == nil {
				t.Fatal("Send hid the provider's error")
			}
			r.prov.pay(p.ID, "RC1")
			r.poll()
			if _, err := r.svc.Send(ctx, p.ID, "fee"); err != nil || r.prov.requests[p.ID] != 1 {
				t.Errorf("Send again: %v, %d requests", err, r.prov.requests[p.ID])
			}
			r.ends(b.ID, 1, true, 1)
		}},
		{"a prompt expired with no status ends in error", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.start(b.ID)
			r.prov.requestErr = errors.New("timeout")
			r.svc.Send(ctx, p.ID, "fee")
			r.prov.set(p.ID, channels.PaymentStatus{State: channels.PaymentCreated})
			r.poll()
			if got, _ := r.db.Payment(ctx, p.ID); got.State != channels.PaymentCreated {
				t.Errorf("before the prompt expired: %s", got.State)
			}
			r.now = r.now.Add(15 * time.Minute)
			r.poll()
			if got, _ := r.db.Payment(ctx, p.ID); got.State != channels.PaymentError {
				t.Errorf("after the prompt expired: %s", got.State)
			}
			r.ends(b.ID, 0, false, 0)
		}},
		{"a callback is only a reason to read the status", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			got, err := r.svc.Hint(ctx, Hint{Provider: "mpesa", Ref: p.Ref, Receipt: "FORGED"})
			if err != nil || got.State != channels.PaymentPending {
				t.Errorf("forged hint: %+v, %v", got, err)
			}
			r.prov.pay(p.ID, "RC1")
			if got, err := r.svc.Hint(ctx, Hint{Provider: "mpesa", Attempt: p.ID}); err != nil || got.State != channels.PaymentSuccess {
				t.Errorf("hint: %+v, %v", got, err)
			}
		}},
		{"the same receipt again is the same payment", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			r.prov.pay(p.ID, "RC1")
			r.poll()
			got, err := r.svc.Hint(ctx, Hint{Provider: "mpesa", Bill: b.ID, Receipt: "RC1", Paid: r.prov.fee, Payer: "+254712345678"})
			if err != nil || got.ID != p.ID {
				t.Errorf("Hint = %+v, %v, want payment %s", got, err, p.ID)
			}
			if ps, _ := r.db.BillPayments(ctx, b.ID); len(ps) != 1 {
				t.Errorf("%d payments recorded, want 1", len(ps))
			}
		}},
		{"a second payment of a paid bill is refunded by the provider", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			r.prov.pay(p.ID, "RC1")
			r.poll()
			r.prov.pay("RC2", "RC2") // paid again at the paybill
			got, err := r.svc.Hint(ctx, Hint{Provider: "mpesa", Bill: b.ID, Receipt: "RC2", Paid: r.prov.fee, Payer: "+254712345678"})
			if err != nil || !got.Duplicate || !got.Unrequested || got.Refundable() != 0 || len(got.Refunds) != 1 || got.Refunds[0].State != channels.RefundAccepted {
				t.Fatalf("Hint = %+v, %v, want a duplicate refunded", got, err)
			}
			if len(r.prov.refunds) != 1 || r.prov.refunds[0].Receipt != "RC2" {
				t.Errorf("refunds asked: %+v", r.prov.refunds)
			}
			r.poll()
			if len(r.prov.refunds) != 1 {
				t.Errorf("refunded again: %+v", r.prov.refunds)
			}
			r.ends(b.ID, 2, true, 1)
		}},
		{"a refund the provider cannot make is the agency's", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			r.prov.pay(p.ID, "RC1")
			r.poll()
			r.prov.refundErr = ErrNoRefund
			r.prov.pay("RC2", "RC2")
			got, err := r.svc.Hint(ctx, Hint{Provider: "mpesa", Bill: b.ID, Receipt: "RC2", Paid: r.prov.fee})
			if err != nil || !got.Duplicate || len(got.Refunds) != 1 || !got.Refunds[0].ByAgency || got.Open() {
				t.Fatalf("Hint = %+v, %v, want the agency's refund", got, err)
			}
		}},
		{"a refund in part, then one on a stale amount", func(t *testing.T, r *rig) {
			b := r.bill("s1")
			p := r.sent(b.ID)
			r.prov.pay(p.ID, "RC1")
			r.poll()
			got, err := r.svc.Refund(ctx, p.ID, 5000, 2000, "fee waived in part", "agency:key1")
			if err != nil || got.Refundable() != 3000 {
				t.Fatalf("Refund = %+v, %v", got, err)
			}
			_, err = r.svc.Refund(ctx, p.ID, 5000, 1000, "again", "agency:key1")
			if channels.ErrorMessage(err) != "payment.refund_stale" || channels.ErrorCode(err) != channels.ECONFLICT {
				t.Errorf("stale refund: %v", err)
			}
			_, err = r.svc.Refund(ctx, p.ID, 3000, 3001, "too much", "agency:key1")
			if channels.ErrorMessage(err) != "payment.refund_amount" {
				t.Errorf("refund over the rest: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newRig(t)) })
	}
}

// TestCrashes re-creates the Service on the same bbolt file after each
// step: whatever step a crash follows, the bill ends paid once, charged
// once, filed once.
func TestCrashes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(r *rig, bill string)
	}{
		{"after Start", func(r *rig, bill string) {
			p := r.start(bill)
			r.reopen()
			if _, err := r.svc.Send(ctx, p.ID, "fee"); err != nil {
				r.t.Fatal(err)
			}
			r.prov.pay(p.ID, "RC1")
			r.poll()
		}},
		{"after Send, before its answer is stored", func(r *rig, bill string) {
			p := r.start(bill)
			// The request reached the provider; the process died before
			// recording the answer.
			r.prov.requestErr = errors.New("process died")
			r.svc.Send(ctx, p.ID, "fee")
			r.reopen()
			r.prov.pay(p.ID, "RC1")
			r.poll()
			r.reopen()
			r.poll()
		}},
		{"between a hint and its Confirm", func(r *rig, bill string) {
			p := r.sent(bill)
			r.prov.pay(p.ID, "RC1")
			r.reopen() // the callback arrived; the process died before reading the status
			if _, err := r.svc.Hint(ctx, Hint{Provider: "mpesa", Ref: p.Ref}); err != nil {
				r.t.Fatal(err)
			}
			r.reopen()
			r.poll()
		}},
		{"between paid and filed", func(r *rig, bill string) {
			p := r.sent(bill)
			r.prov.pay(p.ID, "RC1")
			if _, err := r.svc.Confirm(ctx, p.ID); err != nil {
				r.t.Fatal(err)
			}
			r.reopen()
			r.poll()
			r.reopen()
			r.poll()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			b := r.bill("s1")
			tt.run(r, b.ID)
			r.ends(b.ID, 1, true, 1)
			if ps, _ := r.db.BillPayments(ctx, b.ID); len(ps) != 1 {
				t.Errorf("%d payments, want 1", len(ps))
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	kes := func(n int64) channels.Money { return channels.Money{Amount: n, Currency: "KES"} }
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ours := []*channels.Payment{
		{ID: "p1", Bill: "b1", Provider: "mpesa", State: channels.PaymentSuccess, Receipt: "R1", Amount: kes(5000)},
		{ID: "p2", Bill: "b1", Provider: "mpesa", State: channels.PaymentSuccess, Receipt: "R2", Amount: kes(5000), Duplicate: true, Refunded: 5000,
			Refunds: []channels.Refund{{ID: "f1", Amount: kes(5000), State: channels.RefundAccepted, Ref: "RV1"}}},
		{ID: "p3", Bill: "b2", Provider: "mpesa", State: channels.PaymentSuccess, Receipt: "R3", Amount: kes(5000), Duplicate: true},
		{ID: "p4", Bill: "b3", Provider: "mpesa", State: channels.PaymentSuccess, Receipt: "R4", Amount: kes(5000)},
		{ID: "p5", Bill: "b4", Provider: "mpesa", State: channels.PaymentFailed, Amount: kes(5000)},
		{ID: "p6", Bill: "b5", Provider: "mpesa", State: channels.PaymentSuccess, Receipt: "R6", Amount: kes(5000)},
	}
	txs := []Transaction{
		{Provider: "mpesa", Receipt: "R1", Account: "b1", Amount: kes(5000), At: at, Kind: KindPayment},
		{Provider: "mpesa", Receipt: "R2", Account: "b1", Amount: kes(5000), At: at, Kind: KindPayment},
		{Provider: "mpesa", Receipt: "RV1", Account: "b1", Amount: kes(5000), At: at, Kind: KindRefund},
		{Provider: "mpesa", Receipt: "R3", Account: "b2", Amount: kes(5000), At: at, Kind: KindPayment},
		{Provider: "mpesa", Receipt: "R9", Account: "b9", Amount: kes(700), At: at, Kind: KindPayment},
		{Provider: "mpesa", Receipt: "R6", Account: "b5", Amount: kes(4000), At: at, Kind: KindPayment},
	}
	rep := Reconcile(txs, ours)
	var got []string
	for _, l := range rep.Lines {
		got = append(got, l.Receipt+"="+l.Class)
	}
	want := []string{"R1=matched", "R2=refunded", "RV1=refunded", "R3=duplicate", "R9=missing_ours", "R6=mismatch", "R4=missing_theirs"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("lines %v, want %v", got, want)
	}
	var csvOut, jsonOut bytes.Buffer
	if err := rep.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(csvOut.String()), "\n"); len(lines) != len(want)+1 || lines[6] != "mismatch,payment,mpesa,R6,b5,p6,KES,4000,5000,0" {
		t.Errorf("CSV:\n%s", csvOut.String())
	}
	if err := rep.WriteJSON(&jsonOut); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(jsonOut.Bytes(), &back); err != nil || len(back.Lines) != len(want) || back.Lines[4].Theirs != 700 {
		t.Errorf("JSON %s: %v", jsonOut.String(), err)
	}
}
