// Package consolesms is an SMS sender for development: it prints each
// message, phone number and text in full, on a console instead of sending
// it, so that someone trying the server without an SMS gateway can read
// their sign-in code. It is an outbox.Sender like the real gateways, so
// messages are queued, paced and recorded as they are in production. It
// must never run in production: it prints secrets (one-time codes) and
// whole phone numbers.
package consolesms

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
)

// Name is the sender's name in the outbox, in logs and in -sms-sender.
const Name = "console"

// Sender prints every message on its writer. It is safe for concurrent
// use: one message is printed whole before the next.
type Sender struct {
	mu sync.Mutex
	w  io.Writer
}

var _ outbox.Sender = (*Sender)(nil)

// New returns a Sender that prints on w.
func New(w io.Writer) *Sender { return &Sender{w: w} }

// Name is "console".
func (s *Sender) Name() string { return Name }

// Send prints m between two marked lines, the first naming its phone, and
// returns its key as the provider ID. A write that fails is retried by the
// outbox like a gateway that is down.
func (s *Sender) Send(_ context.Context, m *channels.Outbound) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.w, "%s\n%s\n%s\n", header(m.To), m.Text, footer); err != nil {
		return "", fmt.Errorf("console sms: print the message %s: %w", m.Key, err)
	}
	return m.Key, nil
}

// header is the line printed before each message to phone.
func header(phone string) string {
	return "==== SMS to " + phone + " (console sender, development only: not sent) ===="
}

// footer is the line printed after each message.
const footer = "==== end of SMS ===="
