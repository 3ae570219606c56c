package channels

import "time"

// PaymentState is where one attempt to pay a bill stands, after GOV.UK
// Pay's model. Only the provider's own status read moves an attempt to a
// finished state; a callback is a hint to read it.
type PaymentState string

// The states of a payment attempt.
const (
	PaymentCreated   PaymentState = "created"   // stored; nothing sent to the provider yet
	PaymentPending   PaymentState = "pending"   // the provider accepted the request; the payer has not settled it
	PaymentSuccess   PaymentState = "success"   // the provider says the money was taken
	PaymentFailed    PaymentState = "failed"    // refused, cancelled by the payer or expired: no money taken
	PaymentCancelled PaymentState = "cancelled" // cancelled by us before the payer settled it
	PaymentError     PaymentState = "error"     // failed safely on our or the provider's side: no money taken
)

// Finished reports whether s is final: a finished attempt never changes
// state again (a refund is recorded beside it, not as a state).
func (s PaymentState) Finished() bool {
	return s == PaymentSuccess || s == PaymentFailed || s == PaymentCancelled || s == PaymentError
}

// Money is an amount in the minor unit of an ISO 4217 currency (cents of
// KES, the whole franc of RWF): never a float.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// PaymentStatus is what a provider says of one attempt: the only
// authority on whether money was taken.
type PaymentStatus struct {
	State PaymentState
	// Reason is the provider's reason for a failure (MoMo's
	// APPROVAL_REJECTED, M-Pesa's result code), for logs and auditors.
	Reason string
	// Receipt is the provider's identifier of the money moved (M-Pesa's
	// MpesaReceiptNumber, MoMo's financialTransactionId), set on success:
	// the same money arriving twice has one receipt.
	Receipt string
	Paid    Money     // what the provider says it took, on success
	Payer   string    // the payer's phone, E.164, when the provider says
	At      time.Time // when the provider says it happened, when it does
}
