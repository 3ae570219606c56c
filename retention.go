package channels

import (
	"context"
	"time"
)

// RedactedText replaces the text of a message that held a secret (a
// one-time code) once the message is final: the code is of no more use to
// anyone, and the stored message must not give it away later.
const RedactedText = "[redacted]"

// Redacted reports whether m's text is replaced by RedactedText once m is
// final: a message sent at most once, or a one-time code, holds a secret.
func (m *Outbound) Redacted() bool { return m.AtMostOnce || m.Purpose == PurposeOTP }

// RetentionStore removes what need no longer be kept. Cases, the case log
// and the audit log are records and are never purged; sessions (with the
// pending codes, resume records and SMS de-duplication records kept as
// sessions) go with SessionStore.PurgeSessions.
type RetentionStore interface {
	// PurgeOutbound removes up to limit messages that are final (sent,
	// delivered or failed) and were last updated before before, oldest
	// first, and returns how many it removed. Queued and sending messages
	// stay whatever their age. Each call is one short transaction: callers
	// call again while it returns limit.
	PurgeOutbound(ctx context.Context, before time.Time, limit int) (int, error)
}

// SignOutStore keeps, per phone, the instant up to which its app tokens
// are void: a citizen who signs out everywhere voids every token issued
// to their phone until then.
type SignOutStore interface {
	// SignOut records that every token of phone issued at or before at is
	// void, keeping the record until keep (when the last token it voids
	// has expired). A later at replaces an earlier one; an earlier one
	// changes nothing.
	SignOut(ctx context.Context, phone string, at, keep time.Time) error
	// SignedOut returns the instant up to which the tokens of phone are
	// void: the at of its record, rounded up to what the store keeps (so
	// that a token issued at at is void whatever the precision); the zero
	// time when there is none.
	SignedOut(ctx context.Context, phone string) (time.Time, error)
	// PurgeSignOuts removes the records kept until at or before now and
	// returns how many it removed.
	PurgeSignOuts(ctx context.Context, now time.Time) (int, error)
}
