// Package channels holds the domain vocabulary shared by every part of the
// service: citizens, sessions, screens, cases and the errors they report.
// It depends on the standard library only; the flow engine, the channel
// edges and the stores all import it, and it imports none of them.
package channels

// Channel names the way a citizen reaches a service.
type Channel string

// The channels a service can be delivered on.
const (
	ChannelUSSD  Channel = "ussd"
	ChannelSMS   Channel = "sms"
	ChannelApp   Channel = "app"
	ChannelKiosk Channel = "kiosk"
)

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool {
	switch c {
	case ChannelUSSD, ChannelSMS, ChannelApp, ChannelKiosk:
		return true
	}
	return false
}

// Citizen is the person a session serves, known by an E.164 phone number
// ("+254712345678") and the language they chose.
type Citizen struct {
	Phone string
	Lang  string
}

// MaskPhone keeps enough of a phone number to correlate logs, not to call:
// "+254***678".
func MaskPhone(p string) string {
	if len(p) <= 6 {
		return "***"
	}
	return p[:4] + "***" + p[len(p)-3:]
}
