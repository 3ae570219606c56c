package outbox

import (
	"regexp"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// digits finds any digit: a redacted code leaves none.
var digits = regexp.MustCompile(`[0-9]`)

// TestCodesRedactedOnceFinal sends one-time codes through the outbox to
// every final state and reads the stored message back: its text holds no
// digit of the code, while the gateway got the whole code. Other messages
// keep their text.
func TestCodesRedactedOnceFinal(t *testing.T) {
	const code = "482913"
	tests := []struct {
		name     string
		msg      *channels.Outbound
		setup    func(t *testing.T, f *fixture, m *channels.Outbound)
		script   func(m *channels.Outbound, n int) (string, error)
		status   channels.OutboundStatus
		redacted bool
		sent     bool // the gateway got the code
	}{
		{name: "sent", msg: otp("otp/sent"), status: channels.OutboundSent, redacted: true, sent: true},
		{name: "sent, then delivered", msg: otp("otp/delivered"), status: channels.OutboundDelivered, redacted: true, sent: true},
		{name: "refused for good", msg: otp("otp/refused"), status: channels.OutboundFailed, redacted: true, sent: true,
			script: func(*channels.Outbound, int) (string, error) { return "", Permanent("invalid_number", errUnavailable) }},
		{name: "expired before it could be sent", msg: func() *channels.Outbound {
			m := otp("otp/expired")
			m.ExpiresAt = t0.Add(-time.Second)
			return m
		}(), status: channels.OutboundFailed, redacted: true},
		{name: "to an opted-out phone", msg: otp("otp/opted-out"), status: channels.OutboundFailed, redacted: true,
			setup: func(t *testing.T, f *fixture, m *channels.Outbound) {
				if err := f.store.PutPrefs(t.Context(), m.To, channels.Prefs{OptedOut: true}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "a notice keeps its text", msg: notice("n/kept"), status: channels.OutboundSent, sent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			sender := &fakeSender{script: tt.script}
			f := newFixture(t, sender, nil)
			m := tt.msg
			if m.Purpose == channels.PurposeOTP {
				m.Text = "Your code is " + code
			}
			text := m.Text
			if tt.setup != nil {
				tt.setup(t, f, m)
			}
			if err := f.box.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
			f.step(t)
			if tt.status == channels.OutboundDelivered {
				if err := f.box.Report(ctx, m.Key, channels.OutboundDelivered, ""); err != nil {
					t.Fatal(err)
				}
			}
			got := f.get(t, m.Key)
			if got.Status != tt.status {
				t.Fatalf("status %s (%s), want %s", got.Status, got.Reason, tt.status)
			}
			switch {
			case tt.redacted && (got.Text != channels.RedactedText || digits.MatchString(got.Text)):
				t.Errorf("stored text %q, want %q", got.Text, channels.RedactedText)
			case !tt.redacted && got.Text != text:
				t.Errorf("stored text %q, want %q", got.Text, text)
			}
			if tt.sent && (sender.total() != 1 || sender.calls[0].Text != text) {
				t.Errorf("the gateway got %+v, want one message with %q", sender.calls, text)
			}
			if !tt.sent && sender.total() != 0 {
				t.Errorf("the gateway got %d messages, want none", sender.total())
			}
		})
	}
}

// TestInterruptedCodeRedacted leaves a code in "sending", as a crash
// during its attempt does, and recovers it as the next Run does: failed,
// never sent again, and stored without the code.
func TestInterruptedCodeRedacted(t *testing.T) {
	ctx := t.Context()
	sender := &fakeSender{}
	f := newFixture(t, sender, nil)
	m := otp("otp/interrupted")
	m.Status, m.Attempts, m.Sender, m.NextAttempt = channels.OutboundSending, 1, "fake", t0
	if err := f.store.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := f.box.recoverInterrupted(ctx, channels.KindSMS); err != nil {
		t.Fatal(err)
	}
	got := f.get(t, m.Key)
	if got.Status != channels.OutboundFailed || got.Reason != ReasonOutcomeUnknown {
		t.Errorf("got %s (%s), want failed (%s)", got.Status, got.Reason, ReasonOutcomeUnknown)
	}
	if got.Text != channels.RedactedText || digits.MatchString(got.Text) {
		t.Errorf("stored text %q, want %q", got.Text, channels.RedactedText)
	}
	if n := sender.total(); n != 0 {
		t.Errorf("sent %d times, want never", n)
	}
}
