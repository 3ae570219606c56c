package flows

import (
	"context"
	"time"

	"github.com/govchannels/channels"
)

// StepCall asks an agency's system a question (a register look-up, an
// eligibility check, free slots) or asks it to do something (hold or book
// a slot), and goes on by how that ended: Exits names a step for each
// CallOutcome. The engine only asks; the host makes the call.
const StepCall StepKind = "call"

// CallAgency is the Call of a call step: ask Agency's Operation with
// Params, and report its AgencyAnswer.
const CallAgency CallKind = 100

// CallOutcome is how a call to an agency ended. Every call step names the
// step that follows each of them.
type CallOutcome string

// The four outcomes of a call.
const (
	OutcomeFound    CallOutcome = "found"     // the agency answered, with the declared fields
	OutcomeNotFound CallOutcome = "not_found" // the agency has no record of what was asked
	OutcomeFailed   CallOutcome = "failed"    // the agency refused, erred or answered something malformed
	OutcomeTimeout  CallOutcome = "timeout"   // no answer within the step's deadline
)

// ReturnType is the type of a field an agency may answer.
type ReturnType string

// The types of answered fields. Values travel as strings: a number in
// decimal, a date as YYYY-MM-DD, a datetime as RFC 3339 with its offset.
const (
	ReturnText     ReturnType = "text"
	ReturnNumber   ReturnType = "number" // an integer
	ReturnDate     ReturnType = "date"
	ReturnDateTime ReturnType = "datetime"
	ReturnList     ReturnType = "list" // up to MaxItems items of type Item, each with an ID
)

// Return declares one field an agency may answer: its type and the bounds
// a value must keep, so that every screen showing it is linted with its
// longest value and a value outside them is a failed call.
type Return struct {
	Type ReturnType `yaml:"type"`
	// Text (and a list of text): at most MaxLength characters, one of
	// Values when they are given, GSM-7 unless Unicode is set.
	MaxLength int      `yaml:"max_length"`
	Values    []string `yaml:"values"`
	Unicode   bool     `yaml:"unicode"`
	// Number: the range a value must be in, when set.
	Min *int64 `yaml:"min"`
	Max *int64 `yaml:"max"`
	// List: the items' type and how many there may be.
	Item     ReturnType `yaml:"item"`
	MaxItems int        `yaml:"max_items"`
	// Required fields must be in every found answer.
	Required bool `yaml:"required"`

	Line int `yaml:"-"`
}

// Exits names the step that follows each outcome of a call step; the
// loader refuses a call step with one missing. A pay step names
// started, pending, paid, failed and unavailable instead; a bill step
// paid, pending, failed, not_found and unavailable.
type Exits struct {
	Found       string `yaml:"found"`
	NotFound    string `yaml:"not_found"`
	Failed      string `yaml:"failed"`
	Timeout     string `yaml:"timeout"`
	Started     string `yaml:"started"`
	Pending     string `yaml:"pending"`
	Paid        string `yaml:"paid"`
	Unavailable string `yaml:"unavailable"`
	Line        int    `yaml:"-"`
}

// Remind asks, when a call step is found, for a reminder to the citizen
// Before the datetime in the answered field At: Text (with the call's
// results) sent by SMS or push in their language. Key names the field
// (an answer or a result) identifying what is booked: a later reminder of
// the same key replaces the earlier one, and Cancel on a step drops it.
type Remind struct {
	At     string        `yaml:"at"`
	Before time.Duration `yaml:"before"`
	Key    string        `yaml:"key"`
	Text   string        `yaml:"text"`
	Cancel bool          `yaml:"cancel"`
	Line   int           `yaml:"-"`
}

// AgencyRequest is one call of an agency's operation, as the host is to
// make it.
type AgencyRequest struct {
	// Key is the call's idempotency key: the same on every attempt of one
	// visit of the step (a gateway's retry, a background retry), so that
	// an agency can rely on it never to do the same thing twice.
	Key       string
	Agency    string
	Operation string
	Service   string
	Step      string
	Phone     string // the caller's phone, as proved by its channel ("" at a kiosk for a citizen without one)
	Lang      string
	Channel   channels.Channel
	Params    []channels.Answer // the fields the step sends, in its order
	Returns   map[string]*Return
	// Changes marks an operation that changes something at the agency:
	// it is never retried without its Key, and never retried inline.
	Changes  bool
	Deadline time.Duration
	// Later, when set, is the encoded state waiting on this call: when
	// the deadline passes, the host finishes the call in the background
	// and sends the citizen the screen Complete gives for its outcome.
	Later []byte
}

// AgencyAnswer is what came of an AgencyRequest.
type AgencyAnswer struct {
	Outcome CallOutcome
	Fields  map[string]string     // found: the answered fields other than lists, checked against Returns
	Lists   map[string][]ListItem // found: the answered lists
	Reason  string                // failed, timeout: what went wrong, for the log; never shown to a citizen
}

// ListItem is one item of an answered list: an ID the agency knows it by
// (sent back when the citizen chooses it) and its value.
type ListItem struct {
	ID    string
	Value string
}

// Reminder is a message to send the citizen at a later time, asked for by
// a call step's Remind.
type Reminder struct {
	Key     string // the agency and what is booked ("civil_registry/<reference>"): replaces the pending reminder of the same key
	Phone   string
	Lang    string
	Channel channels.Channel
	At      time.Time
	Text    channels.Message
	Cancel  bool // drop the pending reminder of Key instead
}

// AgencyCaller makes calls to agencies. It never fails: what goes wrong
// is the answer's Failed or Timeout outcome, with a Reason.
type AgencyCaller interface {
	Ask(ctx context.Context, req AgencyRequest) AgencyAnswer
}

// Reminders schedules and cancels reminders durably.
type Reminders interface {
	Remind(ctx context.Context, r Reminder) error
}
