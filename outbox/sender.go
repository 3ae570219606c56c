// Package outbox sends every outbound message (SMS, push notices, agency
// webhooks) through a durable queue: a message is stored before a gateway
// sees it, retried with backoff when the gateway fails for a while, given
// up at once when it refuses for good (its fallback, such as the SMS of a
// push notice, then sent instead), and paced to each gateway's rate.
//
// Messages marked AtMostOnce (one-time codes) reach a gateway at most once:
// an attempt is recorded as sending before the gateway is called, and one
// whose outcome a crash hid is failed as outcome_unknown rather than
// repeated; the citizen asks for a new code. Every other message is sent at
// least once, and may be sent twice after a crash.
package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/govchannels/channels"
)

// Sender hands one message to a gateway (Twilio, Kannel, FCM, an agency's
// webhook).
type Sender interface {
	// Name identifies the gateway in the outbox and in logs: "twilio".
	Name() string
	// Send submits m and returns the gateway's ID for it. An error marked
	// with Permanent is not retried; any other error is.
	Send(ctx context.Context, m *channels.Outbound) (providerID string, err error)
}

// PermanentError is a refusal that no retry can change: an invalid
// number, a recipient who opted out, a request the gateway rejects.
type PermanentError struct {
	Reason string // short and stable, kept on the message: "invalid_number"
	Err    error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as a refusal not worth retrying, for reason.
func Permanent(reason string, err error) error {
	return &PermanentError{Reason: reason, Err: err}
}

// IsPermanent returns the reason of a permanent error in err's chain.
func IsPermanent(err error) (reason string, ok bool) {
	var p *PermanentError
	if errors.As(err, &p) {
		return p.Reason, true
	}
	return "", false
}
