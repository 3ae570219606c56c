// Package payment takes fees by mobile money: one record per bill, an
// attempt at a time, each confirmed by the provider's own status, the same
// money counted once, anything paid twice refunded.
package payment

import (
	"context"

	"github.com/govchannels/channels"
)

// Provider is a mobile-money provider's collection API, as payments use
// it. Implementations (package mpesa, package momo) speak the provider's
// wire format and nothing else: the rules of when to ask, retry or refund
// are this package's.
type Provider interface {
	// Name is the method's stable name: "mpesa", "momo".
	Name() string
	// Request asks the payer to approve r. r.Attempt is our idempotency
	// key toward the provider: a Request repeated after a time-out with
	// the same attempt never makes a second charge where the provider
	// supports it (MoMo's X-Reference-Id); where it does not (M-Pesa's
	// STK push), r.Bill travels as the account reference so that the
	// money can still be matched. An error leaves it unknown whether the
	// provider took the request: read Status before asking again.
	Request(ctx context.Context, r Request) (Accepted, error)
	// Status reads the provider's own state of an attempt.
	Status(ctx context.Context, a Attempt) (channels.PaymentStatus, error)
	// Refund sends back money of a successful attempt (MoMo's
	// disbursement refund, M-Pesa's reversal). ErrNoRefund when the
	// provider cannot: the refund is then the agency's to make.
	Refund(ctx context.Context, r RefundRequest) (RefundAccepted, error)
}

// Request is one attempt to collect a bill's fee.
type Request struct {
	Attempt     string // our ID of the attempt, a UUID v4
	Bill        string // our ID of the bill, at most 12 characters
	Phone       string // the payer, E.164
	Amount      channels.Money
	Description string // what the payer's prompt says the money is for
}

// Accepted is the provider's answer to a Request: it took it, which says
// nothing yet of whether the payer will pay.
type Accepted struct {
	// Ref is the provider's ID of the request (M-Pesa's
	// CheckoutRequestID; MoMo's is our attempt ID itself).
	Ref string
}

// Attempt identifies an attempt toward its provider for Status.
type Attempt struct {
	Attempt string // our attempt ID
	Ref     string // Accepted.Ref, "" when the Request's answer was lost
	Bill    string
}

// RefundRequest returns Amount of the attempt whose money has Receipt.
type RefundRequest struct {
	Refund  string // our ID of the refund, a UUID v4: the idempotency key where the provider has one
	Attempt string
	Receipt string
	Phone   string
	Amount  channels.Money
	Reason  string
}

// RefundAccepted is the provider's answer to a RefundRequest.
type RefundAccepted struct {
	Ref string // the provider's ID of the refund
}

// ErrNoRefund is a Provider's answer to a refund it cannot make.
var ErrNoRefund = channels.Errorf(channels.ECONFLICT, "payment.refund_by_agency", "the provider cannot refund this payment")

// Hint is what a provider's callback or notification says: a reason to
// read an attempt's Status, never a state to believe (M-Pesa's callbacks
// are unsigned; anyone who learns the URL can post one). A C2B
// confirmation, money paid to the bill's account without our request, is
// a hint too: Receipt and Paid say what arrived, Bill where.
type Hint struct {
	Provider string
	Attempt  string // our attempt ID, when the callback's URL or body carries it
	Ref      string // the provider's request ID (M-Pesa's CheckoutRequestID)
	Bill     string // the account reference the payer paid to
	Receipt  string
	Paid     channels.Money
	Payer    string
}
