// Package webhook tells agencies of their cases by signed HTTP POST: one
// JSON event for each new case and each status change, sent through the
// outbox so that it is retried with backoff until the agency acknowledges
// it and survives a restart. docs/webhooks.md is the integrators' side of
// this contract.
//
// The pieces:
//   - Payload and Message turn a case event into the body and the outbox
//     message that carries it (Kind channels.KindWebhook, To the agency).
//   - Sender is the outbox.Sender that signs and POSTs it, reading the
//     agency's URL and secret at each attempt.
//   - Verify is what a receiver written in Go calls to check a delivery.
//
// Delivery is at least once: an attempt whose acknowledgement is lost is
// made again with the same body, whose signed "id" receivers use to drop
// duplicates (the Channels-Webhook-Id header repeats it, unsigned).
package webhook

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/govchannels/channels"
)

// The event types, in the body's "type".
const (
	TypeCaseCreated       = "case.created"        // a citizen submitted a case
	TypeCaseStatusChanged = "case.status_changed" // a case moved to another status
)

// Event is the JSON body of every webhook. Its fields are marshalled in
// this order, and the case's in the order of channels.Case's fields; all
// times are RFC 3339 in UTC. A status change (testdata/payload has the
// exact bytes of each type):
//
//	{
//	  "id": "evt_42_1234567897",
//	  "type": "case.status_changed",
//	  "occurred_at": "2025-03-02T09:15:00Z",
//	  "case": {
//	    "reference": "1234567897",
//	    "service": "birth_certificate",
//	    "agency": "civil_registry",
//	    "phone": "+254712345678",
//	    "channel": "ussd",
//	    "lang": "en",
//	    "answers": [{"field": "child_name", "value": "Amani Otieno"}],
//	    "status": "in_review",
//	    "history": [
//	      {"status": "submitted", "at": "2025-03-01T09:00:00Z", "actor": "citizen"},
//	      {"status": "in_review", "at": "2025-03-02T09:15:00Z", "actor": "agency:civil_registry/key:k1"}
//	    ],
//	    "created_at": "2025-03-01T09:00:00Z"
//	  },
//	  "change": {"status": "in_review", "at": "2025-03-02T09:15:00Z", "actor": "agency:civil_registry/key:k1"}
//	}
type Event struct {
	// ID names the event for good, across every attempt to deliver it:
	// receivers drop a second delivery of an ID they have handled.
	ID         string    `json:"id"`
	Type       string    `json:"type"`        // TypeCaseCreated or TypeCaseStatusChanged
	OccurredAt time.Time `json:"occurred_at"` // Change.At
	// Case is the case as it stood just after Change: its Status is
	// Change.Status and its History ends with Change, so the length of
	// History orders the events of one case even when retries deliver
	// them out of order.
	Case   *channels.Case        `json:"case"`
	Change channels.StatusChange `json:"change"`
}

// EventID returns the ID of the event e: "evt_<seq>_<reference>". The
// sequence number alone would be unique within one data file, but a
// deployment restored from a backup, or started on a new file, hands out
// numbers a receiver has seen already; with the random case reference in
// it, such an ID does not collide with one the receiver would drop.
func EventID(e channels.CaseEvent) string {
	return "evt_" + strconv.FormatUint(e.Seq, 10) + "_" + e.Ref
}

// Payload returns the body of the webhook for the event e of the case c:
// the JSON of an Event. c may be newer than e (a case keeps changing while
// its events wait to be sent); Payload shows it as it stood just after e,
// so the body is the same whenever it is built. It fails when c is not
// the case of e or e's change is not in c's history.
func Payload(e channels.CaseEvent, c *channels.Case) ([]byte, error) {
	ev, err := event(e, c)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("webhook: encode event %d of case %s: %w", e.Seq, e.Ref, err)
	}
	return body, nil
}

// Message returns the outbox message that delivers the event e of the case
// c to c's agency: Kind channels.KindWebhook, To the agency ID, Text the
// Payload and Key its EventID, so that the Channels-Webhook-Id header and
// the body's "id" agree and enqueuing the same event twice stores it once.
// It fails as Payload does, and when c has no agency.
func Message(e channels.CaseEvent, c *channels.Case) (*channels.Outbound, error) {
	if c != nil && c.Agency == "" {
		return nil, fmt.Errorf("webhook: event %d: case %s has no agency", e.Seq, c.Ref)
	}
	body, err := Payload(e, c)
	if err != nil {
		return nil, err
	}
	return &channels.Outbound{
		Key:     EventID(e),
		Kind:    channels.KindWebhook,
		To:      c.Agency,
		Text:    string(body),
		Purpose: channels.PurposeEvent,
	}, nil
}

// event builds the Event of e from a copy of c cut back to e's change.
func event(e channels.CaseEvent, c *channels.Case) (*Event, error) {
	if c == nil || c.Ref != e.Ref {
		return nil, fmt.Errorf("webhook: event %d is of case %s, not of the case given", e.Seq, e.Ref)
	}
	// The last entry equal to the change: entries differ at least by time.
	i := -1
	for j, h := range slices.Backward(c.History) {
		if h.Status == e.Change.Status && h.At.Equal(e.Change.At) && h.Actor == e.Change.Actor && h.Note == e.Change.Note {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, fmt.Errorf("webhook: event %d: case %s has no %s entry at %s in its history", e.Seq, e.Ref, e.Change.Status, e.Change.At.Format(time.RFC3339Nano))
	}
	snap := *c
	snap.Status = e.Change.Status
	snap.CreatedAt = c.CreatedAt.UTC()
	// Empty lists rather than null, so receivers need not tell them apart.
	snap.Answers = append([]channels.Answer{}, c.Answers...)
	snap.History = make([]channels.StatusChange, i+1)
	for j, h := range c.History[:i+1] {
		h.At = h.At.UTC()
		snap.History[j] = h
	}
	typ := TypeCaseStatusChanged
	if e.Created {
		typ = TypeCaseCreated
	}
	change := e.Change
	change.At = change.At.UTC()
	return &Event{ID: EventID(e), Type: typ, OccurredAt: change.At, Case: &snap, Change: change}, nil
}
