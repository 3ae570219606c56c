package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/govchannels/channels"
)

// Service applies the rules of fees over a PaymentStore: a citizen is
// never charged twice nor for a failure, and money paid twice is found and
// refunded. Every state change is durable before anything is sent to a
// provider, so a Service made again on the same store after a crash takes
// up where the last one stopped.
type Service struct {
	Store     channels.PaymentStore
	Providers map[string]Provider
	// Filed is called for a bill that is paid and not filed: it files the
	// case (idempotently: the bill's Key is the submission's key) and
	// sends the receipt, and returns the case's reference, which the
	// Service records. Poll offers such bills again until one is recorded.
	Filed func(ctx context.Context, b *channels.Bill) (string, error)
	// Backoff is how long after a status read an unfinished attempt is
	// read again by Poll; 30 s when zero.
	Backoff time.Duration
	// Expiry is how long a provider's prompt may stay unanswered: an
	// attempt sent longer ago whose status still says nothing ends in
	// error. 10 minutes when zero (M-Pesa's STK prompt lasts about one).
	Expiry time.Duration
	Now    func() time.Time // time.Now when nil
	Log    *slog.Logger     // slog.Default when nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) provider(name string) (Provider, error) {
	p, ok := s.Providers[name]
	if !ok {
		return nil, channels.Errorf(channels.EINVALID, "payment.method", "no provider %q", name)
	}
	return p, nil
}

// Open creates the bill b (a fresh ID when b.ID is empty) or, for a key
// seen before, returns the first bill of that key.
func (s *Service) Open(ctx context.Context, b channels.Bill) (*channels.Bill, error) {
	if b.Fee.Amount <= 0 || b.Fee.Currency == "" {
		return nil, channels.Errorf(channels.EINVALID, "error.internal", "bill fee %+v", b.Fee)
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = s.now()
	}
	fresh := b.ID == ""
	for range 5 {
		if fresh {
			b.ID = channels.NewBillID()
		}
		got, err := s.Store.CreateBill(ctx, &b)
		if fresh && channels.ErrorCode(err) == channels.ECONFLICT {
			continue // an ID drawn twice: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("payment: open bill: %w", err)
		}
		return got, nil
	}
	return nil, fmt.Errorf("payment: open bill: no free ID after 5 draws")
}

// Start stores a new attempt to pay the bill with provider method from
// phone, as created: nothing is sent yet (Send does). ECONFLICT
// payment.already_paid or payment.pending when the bill may not take one.
func (s *Service) Start(ctx context.Context, bill, method, phone string) (*channels.Payment, error) {
	if _, err := s.provider(method); err != nil {
		return nil, err
	}
	b, err := s.Store.Bill(ctx, bill)
	if err != nil {
		return nil, fmt.Errorf("payment: start: %w", err)
	}
	now := s.now()
	p := &channels.Payment{ID: uuid.NewString(), Bill: b.ID, Provider: method, Phone: phone, Amount: b.Fee,
		State: channels.PaymentCreated, CreatedAt: now, UpdatedAt: now}
	p, err = s.Store.StartPayment(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("payment: start: %w", err)
	}
	return p, nil
}

// Send asks the provider to collect the created attempt id, then records
// it as pending with the provider's Ref. An attempt no longer created is
// left as it is (Send is idempotent); an error from the provider leaves it
// created for Confirm to read, since the request may have been taken.
func (s *Service) Send(ctx context.Context, id, description string) (*channels.Payment, error) {
	p, err := s.Store.Payment(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payment: send: %w", err)
	}
	if p.State != channels.PaymentCreated || !p.SentAt.IsZero() {
		return p, nil
	}
	prov, err := s.provider(p.Provider)
	if err != nil {
		return nil, err
	}
	// Durable before the request: a crash after it is read, not repeated.
	p, err = s.Store.UpdatePayment(ctx, id, func(p *channels.Payment, _ *channels.Bill) error {
		p.SentAt, p.UpdatedAt = s.now(), s.now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payment: send: %w", err)
	}
	acc, err := prov.Request(ctx, Request{Attempt: p.ID, Bill: p.Bill, Phone: p.Phone, Amount: p.Amount, Description: description})
	if err != nil {
		s.log().Warn("payment request failed; its status will be read", "payment", p.ID, "provider", p.Provider, "phone", channels.MaskPhone(p.Phone), "err", err)
		return p, fmt.Errorf("payment: send %s: %w", p.ID, err)
	}
	p, err = s.Store.UpdatePayment(ctx, id, func(p *channels.Payment, _ *channels.Bill) error {
		if p.State == channels.PaymentCreated {
			p.State = channels.PaymentPending
		}
		if p.Ref == "" {
			p.Ref = acc.Ref
		}
		p.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payment: send: %w", err)
	}
	return p, nil
}

// Confirm reads the provider's status of the payment id and applies it:
// the only way to a finished state. A success is de-duplicated on its
// receipt; a distinct success of a bill already paid is marked Duplicate
// and refunded whole.
func (s *Service) Confirm(ctx context.Context, id string) (*channels.Payment, error) {
	p, err := s.Store.Payment(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payment: confirm: %w", err)
	}
	if p.State.Finished() {
		return s.settleRefunds(ctx, p)
	}
	prov, err := s.provider(p.Provider)
	if err != nil {
		return nil, err
	}
	a := Attempt{Attempt: p.ID, Ref: p.Ref, Bill: p.Bill}
	if p.Unrequested {
		a.Attempt = ""
	}
	st, err := prov.Status(ctx, a)
	if err != nil {
		s.Store.UpdatePayment(ctx, id, func(p *channels.Payment, _ *channels.Bill) error {
			p.Checks++
			p.CheckedAt = s.now()
			return nil
		})
		return p, fmt.Errorf("payment: status of %s: %w", id, err)
	}
	var other *channels.Payment
	if st.State == channels.PaymentSuccess && st.Receipt != "" {
		if o, err := s.Store.PaymentByReceipt(ctx, p.Provider, st.Receipt); err == nil && o.ID != p.ID {
			other = o
		}
	}
	now := s.now()
	p, err = s.Store.UpdatePayment(ctx, id, func(p *channels.Payment, b *channels.Bill) error {
		p.Checks++
		p.CheckedAt, p.UpdatedAt = now, now
		if p.State.Finished() {
			return nil
		}
		switch {
		case st.State == channels.PaymentSuccess:
			p.State, p.FinishedAt = channels.PaymentSuccess, now
			if other != nil {
				p.SameAs = other.ID // the same money, counted on other
				return nil
			}
			p.Receipt = st.Receipt
			if st.Paid.Amount > 0 && st.Paid != p.Amount {
				p.Reason = fmt.Sprintf("provider took %d %s", st.Paid.Amount, st.Paid.Currency)
			}
			if b.Paid == "" {
				b.Paid, b.PaidAt = p.ID, now
			} else if b.Paid != p.ID {
				p.Duplicate = true
			}
		case st.State.Finished():
			p.State, p.Reason, p.FinishedAt = st.State, st.Reason, now
		case !p.SentAt.IsZero() && now.Sub(p.SentAt) > s.expiry() && st.State != channels.PaymentPending:
			p.State, p.Reason, p.FinishedAt = channels.PaymentError, "prompt expired without a status", now
		case p.State == channels.PaymentCreated && st.State == channels.PaymentPending:
			p.State = channels.PaymentPending
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payment: confirm %s: %w", id, err)
	}
	if p.Duplicate && len(p.Refunds) == 0 {
		// The whole of a duplicate goes back; a stale amount means another
		// Confirm refunded it meanwhile.
		got, err := s.refund(ctx, p, p.Refundable(), p.Refundable(), "duplicate", "system")
		if channels.ErrorMessage(err) == "payment.refund_stale" {
			return s.Store.Payment(ctx, p.ID)
		}
		return got, err
	}
	return s.settleRefunds(ctx, p)
}

func (s *Service) expiry() time.Duration {
	if s.Expiry > 0 {
		return s.Expiry
	}
	return 10 * time.Minute
}

// Hint confirms the attempt a callback names (by attempt ID, Ref or the
// bill's open attempt). A C2B notice of money with no attempt is recorded
// as unrequested money for the bill and confirmed the same way.
func (s *Service) Hint(ctx context.Context, h Hint) (*channels.Payment, error) {
	if h.Attempt != "" {
		if p, err := s.Store.Payment(ctx, h.Attempt); err == nil {
			return s.Confirm(ctx, p.ID)
		}
	}
	if h.Ref != "" {
		if p, err := s.Store.PaymentByRef(ctx, h.Provider, h.Ref); err == nil {
			return s.Confirm(ctx, p.ID)
		}
	}
	if h.Receipt != "" {
		if p, err := s.Store.PaymentByReceipt(ctx, h.Provider, h.Receipt); err == nil {
			return p, nil // that money is recorded
		}
		if p, err := s.Store.PaymentByRef(ctx, h.Provider, h.Receipt); err == nil {
			return s.Confirm(ctx, p.ID)
		}
	}
	if h.Bill == "" {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "hint of %s names no attempt", h.Provider)
	}
	ps, err := s.Store.BillPayments(ctx, h.Bill)
	if err != nil {
		return nil, fmt.Errorf("payment: hint: %w", err)
	}
	for _, p := range ps {
		if !p.State.Finished() && p.Provider == h.Provider && !p.Unrequested {
			if p, err := s.Confirm(ctx, p.ID); err != nil || h.Receipt == "" || p.Receipt == h.Receipt || p.SameAs != "" {
				return p, err
			}
		}
	}
	if h.Receipt == "" {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "hint for bill %s names nothing open", h.Bill)
	}
	now := s.now()
	p := &channels.Payment{ID: uuid.NewString(), Bill: h.Bill, Provider: h.Provider, Phone: h.Payer, Amount: h.Paid,
		State: channels.PaymentPending, Ref: h.Receipt, Unrequested: true, CreatedAt: now, UpdatedAt: now, SentAt: now}
	if _, err := s.Store.StartPayment(ctx, p); err != nil {
		if channels.ErrorMessage(err) == "payment.taken" {
			if o, err := s.Store.PaymentByRef(ctx, h.Provider, h.Receipt); err == nil {
				return s.Confirm(ctx, o.ID)
			}
		}
		return nil, fmt.Errorf("payment: record money for bill %s: %w", h.Bill, err)
	}
	return s.Confirm(ctx, p.ID)
}

// Poll confirms the open payments whose last read is older than the
// back-off, sends their refunds left unsent, and offers each paid bill not
// yet filed to Filed. It returns the first error after doing what it could.
func (s *Service) Poll(ctx context.Context) error {
	var errs []error
	ps, err := s.Store.OpenPayments(ctx, 200)
	if err != nil {
		return fmt.Errorf("payment: poll: %w", err)
	}
	backoff := s.Backoff
	if backoff <= 0 {
		backoff = 30 * time.Second
	}
	for _, p := range ps {
		if !p.State.Finished() && s.now().Sub(p.CheckedAt) < backoff {
			continue
		}
		if _, err := s.Confirm(ctx, p.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Filed == nil {
		return errors.Join(errs...)
	}
	bills, err := s.Store.UnfiledBills(ctx, 200)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("payment: poll: %w", err))...)
	}
	for _, b := range bills {
		ref, err := s.Filed(ctx, b)
		if err == nil {
			_, err = s.Store.FileBill(ctx, b.ID, ref)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("payment: file bill %s: %w", b.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Refund sends amount of the payment id back, when refundable is what the
// caller saw still refundable (else ECONFLICT payment.refund_stale),
// through the provider or, when it cannot, recorded as the agency's.
func (s *Service) Refund(ctx context.Context, id string, refundable, amount int64, reason, actor string) (*channels.Payment, error) {
	p, err := s.Store.Payment(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payment: refund: %w", err)
	}
	return s.refund(ctx, p, refundable, amount, reason, actor)
}

func (s *Service) refund(ctx context.Context, p *channels.Payment, refundable, amount int64, reason, actor string) (*channels.Payment, error) {
	r := channels.Refund{ID: uuid.NewString(), Amount: channels.Money{Amount: amount, Currency: p.Amount.Currency},
		State: channels.RefundCreated, Reason: reason, Actor: actor, At: s.now()}
	p, err := s.Store.AddRefund(ctx, p.ID, refundable, r)
	if err != nil {
		return nil, fmt.Errorf("payment: refund: %w", err)
	}
	return s.settleRefunds(ctx, p)
}

// settleRefunds sends each created refund of p to its provider, recording
// the answer: accepted or the agency's to make. It returns p as stored
// after, with the errors of the refunds left created for the next Poll.
func (s *Service) settleRefunds(ctx context.Context, p *channels.Payment) (*channels.Payment, error) {
	var errs []error
	for _, r := range p.Refunds {
		if r.State != channels.RefundCreated || r.ByAgency {
			continue
		}
		prov, err := s.provider(p.Provider)
		if err != nil {
			return p, err
		}
		acc, err := prov.Refund(ctx, RefundRequest{Refund: r.ID, Attempt: p.ID, Receipt: p.Receipt, Phone: p.Phone, Amount: r.Amount, Reason: r.Reason})
		byAgency := errors.Is(err, ErrNoRefund) || channels.ErrorMessage(err) == ErrNoRefund.Message
		if err != nil && !byAgency {
			errs = append(errs, fmt.Errorf("payment: refund %s: %w", r.ID, err))
			continue
		}
		got, err := s.Store.UpdatePayment(ctx, p.ID, func(p *channels.Payment, _ *channels.Bill) error {
			for i := range p.Refunds {
				if p.Refunds[i].ID == r.ID && p.Refunds[i].State == channels.RefundCreated {
					if byAgency {
						p.Refunds[i].ByAgency = true
					} else {
						p.Refunds[i].State, p.Refunds[i].Ref = channels.RefundAccepted, acc.Ref
					}
				}
			}
			p.UpdatedAt = s.now()
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p = got
		if byAgency {
			s.log().Warn("refund is the agency's to make", "payment", p.ID, "refund", r.ID, "bill", p.Bill, "amount", r.Amount.Amount)
		}
	}
	return p, errors.Join(errs...)
}
