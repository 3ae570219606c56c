package channels

import (
	"context"
	"time"
)

// BillIDLen is the length of a bill's ID: eleven random digits and a Damm
// check digit. A bill's ID is what a citizen types as the account number
// when paying at a paybill (M-Pesa allows 12 characters there): digits
// take one press each on a keypad and read aloud without ambiguity, the
// check digit refuses a mistyped one before money goes to it, and eleven
// random digits (10^11 bills) are not found by guessing.
const BillIDLen = 12

// NewBillID returns a fresh random bill ID, never starting with 0.
// Uniqueness is the store's: CreateBill reports ECONFLICT on a clash.
func NewBillID() string { return newChecked(BillIDLen) }

// ParseBillID normalizes what a citizen typed as a bill's account number
// (spaces, dashes and dots dropped) and reports whether it is a
// well-formed bill ID whose check digit matches.
func ParseBillID(s string) (string, bool) { return parseChecked(s, BillIDLen) }

// Bill is a fee owed for a service before its case is filed: what the
// case will be filed with once the fee is paid, and which attempt paid it.
type Bill struct {
	ID string `json:"id"`
	// Key is the submission's idempotency key (a session's): creating a
	// bill with a key seen before returns the first bill.
	Key     string   `json:"-"`
	Service string   `json:"service"`
	Agency  string   `json:"agency,omitempty"`
	Phone   string   `json:"phone"` // E.164, the citizen's (the payer may be another)
	Lang    string   `json:"lang"`
	Channel Channel  `json:"channel"`
	Answers []Answer `json:"answers"` // what the case is filed with once paid
	Fee     Money    `json:"fee"`
	// CaseRef is the reference of the case filed for the bill, once it is:
	// a bill paid with no CaseRef is waiting to be filed.
	CaseRef   string    `json:"case_ref,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Paid is the ID of the attempt whose money paid the bill; empty while
	// unpaid. It is set once and never changes.
	Paid   string    `json:"paid,omitempty"`
	PaidAt time.Time `json:"paid_at,omitzero"`
}

// RefundState is where one refund stands.
type RefundState string

// The states of a refund. A refund is stored as created before the
// provider is asked; one that is the agency's to make is created and
// stays so until the agency says it made it.
const (
	RefundCreated  RefundState = "created"  // recorded; not yet accepted by the provider (or, ByAgency, not yet made)
	RefundAccepted RefundState = "accepted" // the provider took it (Ref), or the agency made it
	RefundFailed   RefundState = "failed"   // the provider refused it: no money went back, the amount is refundable again
)

// Refund is money sent back from a successful payment, whole or part.
type Refund struct {
	ID      string      `json:"id"` // a UUID v4, the idempotency key toward the provider
	Payment string      `json:"payment"`
	Amount  Money       `json:"amount"`
	State   RefundState `json:"state"`
	Ref     string      `json:"ref,omitempty"` // the provider's ID of the refund
	Reason  string      `json:"reason"`        // why: "duplicate", a note of the agency
	Actor   string      `json:"actor"`         // "system", an agency key or an operator
	At      time.Time   `json:"at"`
	// ByAgency marks a refund the provider cannot make (it answered
	// payment.ErrNoRefund): the agency must send the money back itself.
	ByAgency bool `json:"by_agency,omitempty"`
}

// Payment is one attempt to pay a bill, or money that arrived for it
// without our asking (a paybill payment naming the bill as its account).
type Payment struct {
	ID       string       `json:"id"` // a UUID v4, our idempotency key toward the provider
	Bill     string       `json:"bill"`
	Provider string       `json:"provider"` // the Provider's Name: "mpesa", "momo"
	Phone    string       `json:"phone"`    // the payer, E.164
	Amount   Money        `json:"amount"`
	State    PaymentState `json:"state"`
	Reason   string       `json:"reason,omitempty"`
	// Ref is the provider's ID of the request (unique per provider); for
	// money that arrived unrequested, the receipt the notice named.
	Ref     string `json:"ref,omitempty"`
	Receipt string `json:"receipt,omitempty"` // the provider's ID of the money moved, on success; unique per provider
	// Unrequested marks money that arrived for the bill without an
	// attempt of ours (M-Pesa's C2B confirmation).
	Unrequested bool `json:"unrequested,omitempty"`
	// Duplicate marks a second, distinct payment of a bill already paid:
	// its money is owed back.
	Duplicate bool `json:"duplicate,omitempty"`
	// SameAs is set on a successful attempt whose money the provider
	// reports under a receipt already recorded on payment SameAs: the same
	// money, counted there once.
	SameAs   string   `json:"same_as,omitempty"`
	Refunded int64    `json:"refunded"` // minor units refunded or being refunded (every refund not failed)
	Refunds  []Refund `json:"refunds,omitempty"`
	// Checks counts the provider's status reads; CheckedAt is the last.
	Checks     int       `json:"checks,omitempty"`
	CheckedAt  time.Time `json:"checked_at,omitzero"`
	SentAt     time.Time `json:"sent_at,omitzero"` // when the Request was last sent
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Refundable is how much of p's money may still be refunded, in minor
// units: nothing unless it succeeded, and what no refund holds.
func (p *Payment) Refundable() int64 {
	if p.State != PaymentSuccess || p.SameAs != "" {
		return 0
	}
	return p.Amount.Amount - p.Refunded
}

// Open reports whether p still needs work: an attempt not finished, or a
// refund of it not yet accepted by the provider.
func (p *Payment) Open() bool {
	if !p.State.Finished() {
		return true
	}
	for _, r := range p.Refunds {
		if r.State == RefundCreated && !r.ByAgency {
			return true
		}
	}
	return false
}

// PaymentStore keeps bills and their payments durably. Every method that
// changes something returns once the change is durable, so that nothing
// is sent to a provider before what it changes is stored.
type PaymentStore interface {
	// CreateBill stores b. When a bill with b.Key exists, it returns that
	// bill and stores nothing. ECONFLICT when b.ID is taken.
	CreateBill(ctx context.Context, b *Bill) (*Bill, error)
	// Bill returns the bill id; ENOTFOUND if none.
	Bill(ctx context.Context, id string) (*Bill, error)
	// FileBill records that the case ref was filed for the paid bill id,
	// and returns the bill: ECONFLICT (payment.unpaid) when it is not
	// paid, and when it was filed with another reference. Filing again
	// with the same reference is no error.
	FileBill(ctx context.Context, id, ref string) (*Bill, error)
	// UnfiledBills returns up to limit bills that are paid and not filed,
	// the earliest paid first.
	UnfiledBills(ctx context.Context, limit int) ([]*Bill, error)

	// StartPayment stores p, an attempt in PaymentCreated for the bill
	// p.Bill, only when the bill is not paid (else ECONFLICT
	// payment.already_paid) and has no unfinished attempt (else ECONFLICT
	// payment.pending). A p that is Unrequested (money that arrived) is
	// stored whatever the bill's state. ECONFLICT payment.taken when p.ID,
	// or p.Ref or p.Receipt with p.Provider, is taken.
	StartPayment(ctx context.Context, p *Payment) (*Payment, error)
	// Payment returns the payment id; ENOTFOUND if none.
	Payment(ctx context.Context, id string) (*Payment, error)
	// PaymentByRef and PaymentByReceipt find a provider's payment by its
	// request ID or its receipt; ENOTFOUND if none.
	PaymentByRef(ctx context.Context, provider, ref string) (*Payment, error)
	PaymentByReceipt(ctx context.Context, provider, receipt string) (*Payment, error)
	// UpdatePayment applies change to the payment id and its bill and
	// stores both, atomically and serialized with every other change of
	// either: change sees fresh copies and is called once; an error from
	// it aborts and is returned as is. The store refuses (ECONFLICT) a
	// change that moves a finished attempt to another state, sets a
	// receipt another payment of the provider has (payment.taken),
	// changes a bill's Paid once set, or changes what identifies either.
	UpdatePayment(ctx context.Context, id string, change func(*Payment, *Bill) error) (*Payment, error)
	// AddRefund appends r to the payment id and adds r.Amount to its
	// Refunded, when refundable is what the payment has still refundable
	// (else ECONFLICT payment.refund_stale: the caller read an older
	// state) and r.Amount is from 1 to refundable (else EINVALID
	// payment.refund_amount).
	AddRefund(ctx context.Context, id string, refundable int64, r Refund) (*Payment, error)
	// OpenPayments returns up to limit payments that are Open (an attempt
	// not finished, a refund not yet accepted), oldest first.
	OpenPayments(ctx context.Context, limit int) ([]*Payment, error)
	// BillPayments returns the payments of the bill id, oldest first.
	BillPayments(ctx context.Context, id string) ([]*Payment, error)
	// PaymentsByPhone returns up to limit payments made from phone,
	// newest first.
	PaymentsByPhone(ctx context.Context, phone string, limit int) ([]*Payment, error)
	// PaymentsCreated returns the payments created at or after from and
	// before to, oldest first: a day's, for reconciliation.
	PaymentsCreated(ctx context.Context, from, to time.Time) ([]*Payment, error)
}
