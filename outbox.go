package channels

import (
	"context"
	"time"
)

// OutboundStatus is where an outbound SMS stands.
type OutboundStatus string

// The statuses of an outbound SMS. A message is written as queued before
// anything tries to send it; sending marks the attempt durably before the
// gateway is called, so a crash in between is never mistaken for "not sent".
const (
	OutboundQueued    OutboundStatus = "queued"    // waiting for its next attempt
	OutboundSending   OutboundStatus = "sending"   // handed to a gateway; outcome not yet recorded
	OutboundSent      OutboundStatus = "sent"      // the gateway accepted it
	OutboundDelivered OutboundStatus = "delivered" // the handset received it (delivery report)
	OutboundFailed    OutboundStatus = "failed"    // given up; Reason says why
)

// Final reports whether no more attempts will be made for a message in s.
func (s OutboundStatus) Final() bool {
	return s == OutboundSent || s == OutboundDelivered || s == OutboundFailed
}

// The purposes of an outbound SMS. The purpose decides whether an opted-out
// phone may still receive it and whether an attempt of unknown outcome is
// repeated.
const (
	PurposeReply  = "reply"   // a dialogue screen sent after the inbound request ended
	PurposeOTP    = "otp"     // a one-time sign-in code
	PurposeNotice = "notice"  // news of a case
	PurposeOptOut = "opt_out" // the one confirmation a STOP still receives
	PurposeEvent  = "event"   // an agency's webhook of a case event
)

// The kinds of outbound message, each sent by its own sender.
const (
	KindSMS     = ""        // an SMS to a phone (the zero value: the first kind)
	KindPush    = "push"    // a push notice to every device of a phone
	KindWebhook = "webhook" // a signed POST to an agency's webhook
	// KindEvent is a case event the notifier could not handle at once,
	// kept in the outbox to be tried again and, when its attempts run
	// out, failed where an operator sees it: To is the case's reference,
	// Data["seq"] the event's sequence number. No gateway sends it.
	KindEvent = "event"
	// KindCall is a call to an agency that ran out of time inside a hop
	// and is finished in the background: To is the agency ID, Text the
	// request with the state waiting on it. Its answer is sent to the
	// citizen as another message (an SMS or a push notice).
	KindCall = "call"
)

// Outbound is one message to send: an SMS, a push notice or an agency
// webhook. Key identifies it for its whole life: a second Enqueue with the
// same key stores nothing, and delivery reports find the message by it.
type Outbound struct {
	Key  string `json:"key"`
	Kind string `json:"kind,omitempty"` // KindSMS, KindPush, KindWebhook
	// To is an E.164 phone for SMS and push, an agency ID for a webhook.
	To string `json:"to"`
	// Text is the SMS; for push, the notice's body (Title its title);
	// for a webhook, the JSON body.
	Text    string            `json:"text"`
	Title   string            `json:"title,omitempty"`
	Data    map[string]string `json:"data,omitempty"` // push: the data payload (reference, status, deep link)
	Purpose string            `json:"purpose"`
	// Fallback is sent instead when this message fails for good: the SMS
	// of a push notice that no device took.
	Fallback *Outbound `json:"fallback,omitempty"`
	// AtMostOnce marks a message that must never reach the phone twice (a
	// one-time code): an attempt whose outcome was lost in a crash fails it
	// instead of sending again.
	AtMostOnce bool           `json:"at_most_once,omitempty"`
	Status     OutboundStatus `json:"status"`
	Attempts   int            `json:"attempts"`
	// NextAttempt is when a queued message is due.
	NextAttempt time.Time `json:"next_attempt"`
	// ExpiresAt, when set, is when the message stops being worth sending
	// (a code past its validity, a reply to an ended dialogue): it is then
	// failed as expired instead.
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	Sender     string    `json:"sender,omitempty"`      // the gateway that took it ("twilio", "kannel")
	ProviderID string    `json:"provider_id,omitempty"` // the gateway's message ID, once known
	Reason     string    `json:"reason,omitempty"`      // why the last attempt failed
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// OutboxStore keeps outbound messages durably until they are sent and
// reported.
type OutboxStore interface {
	// Enqueue stores each of ms, all in one durable write, except those
	// whose Key is already stored, which are left as they are.
	Enqueue(ctx context.Context, ms ...*Outbound) error
	// Outbound returns the message with key; ENOTFOUND if none.
	Outbound(ctx context.Context, key string) (*Outbound, error)
	// DueOutbound returns up to limit messages of kind: those left in
	// OutboundSending (an attempt interrupted by a crash) first, then the
	// queued ones whose NextAttempt is at or before now, earliest first.
	// Each kind is read on its own, so that a backlog of one (SMS paced
	// at one a second) never hides the others. Messages whose To is among
	// skip are left out, so that the backlog of a recipient who holds as
	// many attempts as it may (an agency whose webhook hangs) never hides
	// the others'.
	DueOutbound(ctx context.Context, kind string, now time.Time, limit int, skip ...string) ([]*Outbound, error)
	// FailedOutbound returns up to limit failed messages of kind, by key,
	// those whose key sorts after after ("" for the first page).
	FailedOutbound(ctx context.Context, kind, after string, limit int) ([]*Outbound, error)
	// RequeueOutbound puts the failed message with key back in the queue
	// as if new (no attempts, no sender, provider ID or reason), due at
	// now, and returns it as stored: ENOTFOUND if there is none, ECONFLICT
	// when it is not failed. It does not look at what the message is:
	// whoever calls it decides that it may be sent again.
	RequeueOutbound(ctx context.Context, key string, now time.Time) (*Outbound, error)
	// UpdateOutbound replaces the stored message with m.Key durably;
	// ENOTFOUND if there is none. It leaves the message's claim as it is.
	UpdateOutbound(ctx context.Context, m *Outbound) error
	// OutboxBacklog counts what waits in the outbox, per kind with any
	// message queued or sending, in kind order: from the indexes alone,
	// never reading a message, so that a metrics scrape costs little.
	OutboxBacklog(ctx context.Context, now time.Time) ([]Backlog, error)
	OutboxClaims
}

// Backlog is what waits in the outbox for one kind at a moment.
type Backlog struct {
	Kind    string
	Queued  int // queued, due or not (a reminder waits for its time)
	Due     int // queued and due by now: waiting for a worker
	Sending int // an attempt under way, or interrupted by a crash
	// OldestDue is the NextAttempt of the earliest queued message due by
	// now; zero when none is due.
	OldestDue time.Time
}

// SecretStore keeps the deployment's own secrets (token signing keys).
type SecretStore interface {
	// Secret returns the secret named name, creating it durably from size
	// random bytes the first time it is asked for.
	Secret(ctx context.Context, name string, size int) ([]byte, error)
}
