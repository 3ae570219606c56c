package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// nairobi is a zone other than UTC, as times read back from a store carry.
var nairobi = time.FixedZone("EAT", 3*60*60)

// sampleCase returns a case submitted at 12:00 EAT, put in review a day
// later and then asked for more information, as a store would return it.
func sampleCase() *channels.Case {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, nairobi)
	return &channels.Case{
		Ref:     "1234567897",
		Service: "birth_certificate",
		Agency:  "civil_registry",
		Phone:   "+254712345678",
		Channel: channels.ChannelUSSD,
		Lang:    "en",
		Answers: []channels.Answer{{Field: "child_name", Value: "Amani Otieno"}, {Field: "child_dob", Value: "2025-02-14"}},
		Status:  channels.StatusMoreInfo,
		History: []channels.StatusChange{
			{Status: channels.StatusSubmitted, At: at, Actor: "citizen"},
			{Status: channels.StatusInReview, At: at.Add(24*time.Hour + 15*time.Minute), Actor: "agency:civil_registry/key:k1"},
			{Status: channels.StatusMoreInfo, At: at.Add(26 * time.Hour), Actor: "agency:civil_registry/key:k1", Note: "Photo of the birth notification is unreadable"},
		},
		IdempotencyKey: "ussd/session-1",
		CreatedAt:      at,
	}
}

// TestPayloadGolden fixes the exact bytes of the body, field order
// included, for each event type; docs/webhooks.md shows the status change.
func TestPayloadGolden(t *testing.T) {
	c := sampleCase()
	tests := []struct {
		name  string
		event channels.CaseEvent
	}{
		{"created", channels.CaseEvent{Seq: 41, Ref: c.Ref, Created: true, Change: c.History[0]}},
		{"status_changed", channels.CaseEvent{Seq: 42, Ref: c.Ref, Change: c.History[1]}},
		{"status_changed_note", channels.CaseEvent{Seq: 57, Ref: c.Ref, Change: c.History[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := Payload(tt.event, c)
			if err != nil {
				t.Fatal(err)
			}
			channelstest.Golden(t, filepath.Join("testdata", "payload", tt.name+".json"), string(body)+"\n", *update)
		})
	}
}

// TestDocsShowPayload checks that the example in docs/webhooks.md is what
// Payload produces, so the documentation cannot drift from the code.
func TestDocsShowPayload(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "payload", "status_changed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, bytes.TrimSpace(golden), "", "  "); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```json\n"+pretty.String()+"\n```") {
		t.Errorf("docs/webhooks.md does not show the status_changed payload; paste this in its json block:\n%s", pretty.String())
	}
}

// TestPayloadSnapshot checks that the case in the body stands as it did
// just after the event, whatever happened to it since, in UTC, and with
// the type and ID the event calls for.
func TestPayloadSnapshot(t *testing.T) {
	c := sampleCase()
	tests := []struct {
		name        string
		event       channels.CaseEvent
		wantType    string
		wantID      string
		wantHistory int
	}{
		{"created", channels.CaseEvent{Seq: 1, Ref: c.Ref, Created: true, Change: c.History[0]}, TypeCaseCreated, "evt_1_1234567897", 1},
		{"middle change", channels.CaseEvent{Seq: 2, Ref: c.Ref, Change: c.History[1]}, TypeCaseStatusChanged, "evt_2_1234567897", 2},
		{"latest change", channels.CaseEvent{Seq: 3, Ref: c.Ref, Change: c.History[2]}, TypeCaseStatusChanged, "evt_3_1234567897", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := Payload(tt.event, c)
			if err != nil {
				t.Fatal(err)
			}
			var ev Event
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.ID != tt.wantID || ev.Type != tt.wantType {
				t.Errorf("id, type = %q, %q; want %q, %q", ev.ID, ev.Type, tt.wantID, tt.wantType)
			}
			if len(ev.Case.History) != tt.wantHistory || ev.Case.Status != tt.event.Change.Status {
				t.Errorf("case has %d history entries and status %s; want %d and %s", len(ev.Case.History), ev.Case.Status, tt.wantHistory, tt.event.Change.Status)
			}
			if last := ev.Case.History[len(ev.Case.History)-1]; !last.At.Equal(tt.event.Change.At) || last.Status != tt.event.Change.Status {
				t.Errorf("history ends with %+v, not the event's change %+v", last, tt.event.Change)
			}
			if !ev.OccurredAt.Equal(tt.event.Change.At) || ev.OccurredAt.Location() != time.UTC {
				t.Errorf("occurred_at = %v; want %v in UTC", ev.OccurredAt, tt.event.Change.At)
			}
			if strings.Contains(string(body), "+03:00") || strings.Contains(string(body), "ussd/session-1") {
				t.Errorf("body has a non-UTC time or the idempotency key: %s", body)
			}
		})
	}
	if c.Status != channels.StatusMoreInfo || len(c.History) != 3 {
		t.Errorf("Payload changed the case it was given: status %s, %d entries", c.Status, len(c.History))
	}
}

// TestPayloadEmptyLists checks that a case without answers has "answers":
// [] rather than null.
func TestPayloadEmptyLists(t *testing.T) {
	c := sampleCase()
	c.Answers = nil
	body, err := Payload(channels.CaseEvent{Seq: 1, Ref: c.Ref, Created: true, Change: c.History[0]}, c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"answers":[]`) {
		t.Errorf("body = %s; want \"answers\":[]", body)
	}
}

// TestPayloadErrors checks that an event is never described with a case
// it does not belong to.
func TestPayloadErrors(t *testing.T) {
	c := sampleCase()
	tests := []struct {
		name  string
		event channels.CaseEvent
		c     *channels.Case
		want  string
	}{
		{"no case", channels.CaseEvent{Seq: 1, Ref: c.Ref, Change: c.History[0]}, nil, "not of the case given"},
		{"another case", channels.CaseEvent{Seq: 1, Ref: "9876543210", Change: c.History[0]}, c, "not of the case given"},
		{"change not in history", channels.CaseEvent{Seq: 1, Ref: c.Ref, Change: channels.StatusChange{Status: channels.StatusApproved, At: c.CreatedAt, Actor: "agency:civil_registry/key:k1"}}, c, "has no approved entry"},
		{"same status at another time", channels.CaseEvent{Seq: 1, Ref: c.Ref, Change: channels.StatusChange{Status: channels.StatusInReview, At: c.CreatedAt, Actor: "agency:civil_registry/key:k1"}}, c, "has no in_review entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Payload(tt.event, tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want one saying %q", err, tt.want)
			}
		})
	}
}

// TestMessage checks that the outbox message carries the body to the
// case's agency under the body's own ID.
func TestMessage(t *testing.T) {
	c := sampleCase()
	e := channels.CaseEvent{Seq: 42, Ref: c.Ref, Change: c.History[1]}
	m, err := Message(e, c)
	if err != nil {
		t.Fatal(err)
	}
	var ev Event
	if err := json.Unmarshal([]byte(m.Text), &ev); err != nil {
		t.Fatal(err)
	}
	if m.Key != ev.ID || m.Kind != channels.KindWebhook || m.To != "civil_registry" {
		t.Errorf("message key %q kind %q to %q; want key %q (the body's id), kind webhook, to civil_registry", m.Key, m.Kind, m.To, ev.ID)
	}

	c.Agency = ""
	if _, err := Message(e, c); err == nil || !strings.Contains(err.Error(), "no agency") {
		t.Errorf("case without agency: err = %v; want one saying it has no agency", err)
	}
}
