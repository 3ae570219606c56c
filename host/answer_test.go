package host_test

import (
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/services"
)

// TestAnswerInfo drives the shipped check_status service's answer to an
// agency's request for information against a real store: the case goes
// back to review with the citizen's words, once, and only from its own
// phone while information is awaited.
func TestAnswerInfo(t *testing.T) {
	const owner, stranger = "+254712345678", "+254722000111"
	ctx := t.Context()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: []string{"en"}, Region: "KE"})
	if err != nil {
		t.Fatal(err)
	}
	db := channelstest.OpenStore(t)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	host := &host.Store{Cases: db, Prefs: db, Log: db, Now: func() time.Time { return at }}
	ref, err := host.Submit(ctx, flows.Submission{Key: "ussd/s1", Service: "birth_certificate", Agency: "civil_registry", Phone: owner, Lang: "en", Channel: channels.ChannelUSSD})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(t *testing.T, status channels.Status, note string) {
		t.Helper()
		if _, err := db.UpdateCase(ctx, ref, func(c *channels.Case) error {
			return c.Transition(status, at, "agency:civil_registry/key:k1", note)
		}); err != nil {
			t.Fatal(err)
		}
	}

	// answer walks check_status → answer a request → ref → text → confirm
	// as phone and returns the last screen.
	answer := func(t *testing.T, phone, ref, text string) channels.Screen {
		t.Helper()
		res, err := engine.Start(channels.ChannelUSSD, "en", "check_status")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []string{"3", ref, text, "1"} {
			if res, err = engine.Step(res.State, flows.Input{Text: in}); err != nil {
				t.Fatal(err)
			}
			if res.Screen.Error != nil {
				t.Fatalf("input %q refused: %s", in, res.Screen.Error.ID)
			}
		}
		if res.Call == nil || res.Call.Kind != flows.CallAnswer || res.Call.Ref != ref {
			t.Fatalf("confirming asks %+v, want an answer to %s", res.Call, ref)
		}
		res, err = engine.Settle(ctx, host, phone, "ussd/"+phone+text, res)
		if err != nil && channels.ErrorCode(err) == channels.EINTERNAL {
			t.Fatal(err)
		}
		return res.Screen
	}
	history := func(t *testing.T) []channels.StatusChange {
		t.Helper()
		c, err := db.Case(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return c.History
	}

	// Not asked yet: refused, nothing stored.
	sc := answer(t, owner, ref, "ID 12345678")
	if sc.Error == nil || sc.Error.ID != "info.not_requested" || sc.Kind != channels.KindConfirm {
		t.Fatalf("answer before any request: %+v, want the confirm step again with info.not_requested", sc)
	}

	ask(t, channels.StatusMoreInfo, "Send the national ID number of the mother.")
	lookup, err := engine.Start(channels.ChannelUSSD, "en", "check_status")
	if err != nil {
		t.Fatal(err)
	}
	lookup, _ = engine.Step(lookup.State, flows.Input{Text: "2"})
	lookup, err = engine.Settle(ctx, host, owner, "ussd/look", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(lookup.Screen.Lines) != 1 || lookup.Screen.Lines[0].ID != "case.line.note" || !strings.Contains(argString(lookup.Screen.Lines[0], "Note"), "national ID number of the mother") {
		t.Errorf("my cases shows %+v, want the agency's question with the status", lookup.Screen.Lines)
	}

	sc = answer(t, stranger, ref, "ID 99999999")
	if sc.Error == nil || sc.Error.ID != "error.reference" {
		t.Fatalf("another phone's answer: %+v, want error.reference as for an unknown case", sc)
	}
	if n := len(history(t)); n != 2 {
		t.Fatalf("another phone's answer changed the history (%d entries)", n)
	}

	for range 2 { // the second is a gateway's retry of the same answer
		sc = answer(t, owner, ref, "ID 12345678")
		if sc.Kind != channels.KindEnd || sc.Reference != ref || sc.Text.ID != "info.sent" {
			t.Fatalf("answer: %+v, want the end screen info.sent with the reference", sc)
		}
	}
	h := history(t)
	if len(h) != 3 || h[2].Status != channels.StatusInReview || h[2].Actor != flows.ActorCitizen || h[2].Note != "ID 12345678" {
		t.Fatalf("history %+v, want one answer putting the case back in review with the citizen's words", h)
	}
}

// argString returns the argument name of m as text.
func argString(m channels.Message, name string) string {
	s, _ := m.Args[name].(string)
	return s
}
