package flows

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// nairobi is where the call tests show datetimes.
var nairobi = time.FixedZone("EAT", 3*3600)

func newCallEngine(t testing.TB) *Engine {
	t.Helper()
	c, err := Load(os.DirFS("testdata/calls"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Catalog: c, Langs: []string{"en", "fr"}, Region: "KE", Location: nairobi, Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const citizen = "+254712345678"

// walk starts service on USSD and feeds inputs as a channel does: every
// result is settled against h before the next input, and the state is
// round-tripped through its encoding between hops. It returns the last
// settled result and the error of each Settle.
func walk(t *testing.T, e *Engine, h Host, service string, inputs ...string) (Result, []error) {
	t.Helper()
	ctx := context.Background()
	r, err := e.Start(channels.ChannelUSSD, "en", service)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	settle := func() {
		var err error
		r, err = e.Settle(ctx, h, citizen, "ussd/s1", r)
		if err != nil {
			var ce *CallError
			if !errors.As(err, &ce) {
				t.Fatalf("settle at %s: %v", r.State.Step, err)
			}
			errs = append(errs, err)
		}
	}
	settle()
	for _, in := range inputs {
		st, err := DecodeState(r.State.Encode())
		if err != nil {
			t.Fatal(err)
		}
		i := Input{Text: in}
		if in == "<" {
			i = Input{Action: Back}
		}
		if r, err = e.Step(st, i); err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
		settle()
	}
	return r, errs
}

var pinFound = AgencyAnswer{Outcome: OutcomeFound, Fields: map[string]string{
	"status": "valid", "name": "Amani Otieno", "due": "2026-12-31", "amount": "1500", "undeclared": "dropped"}}

func TestCallOutcomes(t *testing.T) {
	e := newCallEngine(t)
	// Results not on the path show empty, not as "<no value>".
	noResult := map[string]string{"status": "", "name": "", "due": "", "amount": ""}
	tests := []struct {
		name   string
		answer AgencyAnswer
		step   string // the exit's step shown
		logged bool   // a CallError reports it
		result map[string]string
	}{
		{"found", pinFound, "show", false, map[string]string{"status": "valid", "name": "Amani Otieno", "due": "31/12/2026", "amount": "1500"}},
		{"not found", AgencyAnswer{Outcome: OutcomeNotFound}, "no_pin", false, noResult},
		{"failed", AgencyAnswer{Outcome: OutcomeFailed, Reason: "status 500"}, "try_later", true, noResult},
		{"timeout", AgencyAnswer{Outcome: OutcomeTimeout, Reason: "deadline 3s"}, "by_sms", true, noResult},
		{"unknown outcome is failed", AgencyAnswer{Outcome: "maybe"}, "try_later", true, noResult},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHost{answer: tt.answer}
			r, errs := walk(t, e, h, "pin", "A012345678Z")
			if r.State.Step != tt.step || !r.Ended() {
				t.Fatalf("shown %s (ended %v), want the end step %s", r.State.Step, r.Ended(), tt.step)
			}
			if got := r.Screen.Text.Args["Result"]; !reflect.DeepEqual(got, tt.result) {
				t.Errorf("Result = %#v, want %#v", got, tt.result)
			}
			if (len(errs) > 0) != tt.logged {
				t.Errorf("errors = %v, want logged %v", errs, tt.logged)
			}
			if tt.logged && !strings.Contains(errs[0].Error(), "revenue/pin_status (key ussd/s1/check/1)") {
				t.Errorf("error %q does not say which call", errs[0])
			}
			if len(h.asked) != 1 {
				t.Fatalf("asked %d times, want once", len(h.asked))
			}
			req := h.asked[0]
			want := AgencyRequest{Key: "ussd/s1/check/1", Agency: "revenue", Operation: "pin_status", Service: "pin", Step: "check",
				Phone: citizen, Lang: "en", Channel: channels.ChannelUSSD, Params: []channels.Answer{{Field: "pin", Value: "A012345678Z"}},
				Returns: e.Catalog().Service("pin").Step("check").Returns, Deadline: 3 * time.Second, Later: req.Later}
			if !reflect.DeepEqual(req, want) {
				t.Errorf("request =\n%+v\nwant\n%+v", req, want)
			}
			st, err := DecodeState(req.Later)
			if err != nil || st.Step != "check" || len(st.Trail) != 1 {
				t.Errorf("later state = %+v, %v; want the state waiting at check", st, err)
			}
		})
	}
}

// TestCallDeadlineDefault: a call step without a deadline gets 4 s.
func TestCallDeadlineDefault(t *testing.T) {
	e := newCallEngine(t)
	h := &recordingHost{answer: AgencyAnswer{Outcome: OutcomeNotFound}}
	walk(t, e, h, "appt", "1")
	if len(h.asked) != 1 || h.asked[0].Deadline != DefaultDeadline || h.asked[0].Later != nil {
		t.Errorf("asked %+v, want one call with the default deadline and no later state", h.asked)
	}
}

// slots answers free_slots with the most items the step declares, and
// one more that must be dropped.
var slots = AgencyAnswer{Outcome: OutcomeFound, Lists: map[string][]ListItem{"slots": {
	{ID: "s-0912", Value: "2026-12-08T09:30:00+03:00"},
	{ID: "s-0913", Value: "2026-12-08T07:00:00Z"},
	{ID: "s-0914", Value: "2026-12-09T11:15:00+03:00"},
	{ID: "s-0915", Value: "2026-12-10T08:00:00+03:00"},
	{ID: "s-0916", Value: "2026-12-11T14:45:00+03:00"},
	{ID: "s-0917", Value: "2026-12-12T14:45:00+03:00"},
}}}

func appointmentHost() *recordingHost {
	return &recordingHost{answers: map[string]AgencyAnswer{
		"free_slots": slots,
		"hold_slot":  {Outcome: OutcomeFound, Fields: map[string]string{"hold": "h-77", "until": "2026-11-26T18:14:05+03:00"}},
		"book_slot":  {Outcome: OutcomeFound, Fields: map[string]string{"booking": "b-1", "start": "2026-12-08T10:00:00+03:00"}},
	}}
}

func TestCallOptionsFromMenu(t *testing.T) {
	e := newCallEngine(t)
	r, _ := walk(t, e, appointmentHost(), "appt", "1")
	if r.State.Step != "choose" || r.Screen.Kind != channels.KindMenu {
		t.Fatalf("at %s, want the menu of slots", r.State.Step)
	}
	var got []string
	for _, o := range r.Screen.Options {
		if o.Text.ID == itemMessage {
			got = append(got, o.Key+" "+o.Text.Args["Value"].(string))
		} else {
			got = append(got, o.Key+" "+o.Text.ID)
		}
	}
	want := []string{"1 08/12/2026 09:30", "2 08/12/2026 10:00", "3 09/12/2026 11:15", "4 10/12/2026 08:00", "5 11/12/2026 14:45", "6 appt.none_fit"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options = %q, want %q", got, want)
	}

	tests := []struct {
		name, input, step string
		err               string
	}{
		{"item by number", "2", "confirm", ""},
		{"item by its ID", "S-0914", "confirm", ""},
		{"static option after the items", "6", "none", ""},
		{"the dropped sixth item", "s-0917", "choose", "error.choice"},
		{"past the options", "7", "choose", "error.choice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := appointmentHost()
			r, _ := walk(t, e, h, "appt", "1", tt.input)
			if r.State.Step != tt.step || errID(r) != tt.err {
				t.Errorf("at %s with error %q, want %s with %q", r.State.Step, errID(r), tt.step, tt.err)
			}
		})
	}
}

func TestCallAppointment(t *testing.T) {
	e := newCallEngine(t)
	h := appointmentHost()
	r, errs := walk(t, e, h, "appt", "1", "2")
	if len(errs) > 0 || r.State.Step != "confirm" {
		t.Fatalf("at %s with %v, want confirm", r.State.Step, errs)
	}
	lines := []channels.Message{
		channels.Msg("summary.line", "Label", channels.Msg("appt.office"), "Value", channels.Msg("appt.office.nairobi")),
		channels.Msg("summary.line", "Label", channels.Msg("appt.choose"), "Value", "08/12/2026 10:00"),
	}
	if !reflect.DeepEqual(r.Screen.Lines, lines) {
		t.Errorf("summary =\n%+v\nwant\n%+v", r.Screen.Lines, lines)
	}
	if got := h.asked[1].Params; !reflect.DeepEqual(got, []channels.Answer{{Field: "office", Value: "nairobi"}, {Field: "slot", Value: "s-0913"}}) {
		t.Errorf("hold params = %+v, want the office and the chosen slot's ID", got)
	}
	r, errs = walk(t, e, h, "appt", "1", "2", "1")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if r.State.Step != "booked" || !r.Ended() {
		t.Fatalf("at %s, want booked", r.State.Step)
	}
	if r.Screen.Reference != "4821773057" {
		t.Errorf("booked screen's reference = %q, want the case's", r.Screen.Reference)
	}
	res := r.Screen.Text.Args["Result"].(map[string]string)
	if res["reference"] != "4821773057" || res["start"] != "08/12/2026 10:00" || res["slot"] != "08/12/2026 10:00" || res["hold"] != "h-77" {
		t.Errorf("Result = %v", res)
	}
	book := h.asked[len(h.asked)-1]
	if book.Operation != "book_slot" || !book.Changes || book.Deadline != 6*time.Second ||
		!reflect.DeepEqual(book.Params, []channels.Answer{{Field: "hold", Value: "h-77"}, {Field: "reference", Value: "4821773057"}}) {
		t.Errorf("book request = %+v", book)
	}
	// The trail: office, slots, choose, hold, confirm, submit: book is the 7th visit.
	if book.Key != "ussd/s1/book/6" {
		t.Errorf("book key = %q, want ussd/s1/book/6", book.Key)
	}
	if len(h.subs) != 1 || !reflect.DeepEqual(h.subs[0].Answers, []channels.Answer{{Field: "office", Value: "nairobi"}, {Field: "slot", Value: "s-0913"}}) {
		t.Errorf("submissions = %+v", h.subs)
	}
	want := Reminder{Key: "civil_registry/4821773057", Phone: citizen, Lang: "en", Channel: channels.ChannelUSSD,
		At:   time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC),
		Text: channels.Msg("appt.reminder", "Result", res)}
	if len(h.reminders) != 1 || !h.reminders[0].At.Equal(want.At) {
		t.Fatalf("reminders = %+v, want one at %s", h.reminders, want.At)
	}
	got := h.reminders[0]
	got.At = want.At
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reminder =\n%+v\nwant\n%+v", got, want)
	}
	if r.Reminder != nil {
		t.Error("the settled result still carries its reminder")
	}
}

func TestCallRemindFails(t *testing.T) {
	e := newCallEngine(t)
	h := appointmentHost()
	h.remindErr = errors.New("outbox full")
	r, errs := walk(t, e, h, "appt", "1", "2", "1")
	if r.State.Step != "booked" || len(errs) != 1 || !strings.Contains(errs[0].Error(), "remind civil_registry/4821773057: outbox full") {
		t.Errorf("at %s, errors %v; want booked and the reminder's failure logged", r.State.Step, errs)
	}
}

func TestCallBackPassesCalls(t *testing.T) {
	e := newCallEngine(t)
	tests := []struct {
		name   string
		inputs []string
		step   string
		calls  int
	}{
		{"from the list to the office", []string{"1", "<"}, "office", 1},
		{"from confirm to the list, not asking again", []string{"1", "2", "<"}, "choose", 2},
		{"back twice", []string{"1", "2", "<", "<"}, "office", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := appointmentHost()
			r, _ := walk(t, e, h, "appt", tt.inputs...)
			if r.State.Step != tt.step || len(h.asked) != tt.calls {
				t.Errorf("at %s after %d calls, want %s after %d", r.State.Step, len(h.asked), tt.step, tt.calls)
			}
		})
	}
}

func TestCallResultInBranches(t *testing.T) {
	e := newCallEngine(t)
	tests := []struct {
		name   string
		status string
		input  string
		step   string
	}{
		{"booked: cancel", "booked", "1", "cancelled"},
		{"booked: keep", "booked", "2", "kept"},
		{"already cancelled", "cancelled", "1", "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHost{answers: map[string]AgencyAnswer{
				"booking":        {Outcome: OutcomeFound, Fields: map[string]string{"status": tt.status, "start": "2026-12-08T10:00:00+03:00"}},
				"cancel_booking": {Outcome: OutcomeFound, Fields: map[string]string{"status": "cancelled"}},
			}}
			r, _ := walk(t, e, h, "mine", "4821773057", tt.input)
			if r.State.Step != tt.step {
				t.Fatalf("at %s, want %s", r.State.Step, tt.step)
			}
			if tt.step != "cancelled" {
				return
			}
			want := []Reminder{{Key: "civil_registry/4821773057", Phone: citizen, Lang: "en", Channel: channels.ChannelUSSD, Cancel: true}}
			if !reflect.DeepEqual(h.reminders, want) {
				t.Errorf("reminders = %+v, want %+v", h.reminders, want)
			}
		})
	}
}

func TestLater(t *testing.T) {
	e := newCallEngine(t)
	h := &recordingHost{answer: AgencyAnswer{Outcome: OutcomeTimeout, Reason: "deadline"}}
	r, _ := walk(t, e, h, "pin", "A012345678Z")
	if r.State.Step != "by_sms" {
		t.Fatalf("at %s, want by_sms", r.State.Step)
	}
	later := h.asked[0].Later
	tests := []struct {
		name   string
		answer AgencyAnswer
		step   string
		text   string
	}{
		{"found", pinFound, "show", "pin.show"},
		{"not found", AgencyAnswer{Outcome: OutcomeNotFound}, "no_pin", "pin.none"},
		{"failed", AgencyAnswer{Outcome: OutcomeFailed}, "try_later", "pin.failed"},
		{"timed out again", AgencyAnswer{Outcome: OutcomeTimeout}, "by_sms", "pin.by_sms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := e.Later(later, tt.answer)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Kind != channels.KindEnd || sc.Step != tt.step || sc.Text.ID != tt.text {
				t.Errorf("screen = %+v, want the end %s", sc, tt.step)
			}
		})
	}
	sc, _ := e.Later(later, pinFound)
	if res := sc.Text.Args["Result"].(map[string]string); res["name"] != "Amani Otieno" || res["due"] != "31/12/2026" {
		t.Errorf("late Result = %v", res)
	}

	refusals := []struct {
		name  string
		state []byte
		want  error
	}{
		{"garbage", []byte{9, 9}, ErrBadState},
		{"not at a call", r.State.Encode(), ErrNotLater},
		{"a call without later", (&State{Service: "appt", Step: "slots", Lang: "en", Channel: channels.ChannelUSSD, Trail: []Visit{{Step: "office", Value: "nairobi"}}}).Encode(), ErrNotLater},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Later(tt.state, pinFound); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCallStateSize: the largest state waiting for an answer after calls,
// at the confirm of an appointment with every slot at its longest, stays
// a few hundred bytes.
func TestCallStateSize(t *testing.T) {
	e := newCallEngine(t)
	long := AgencyAnswer{Outcome: OutcomeFound, Lists: map[string][]ListItem{"slots": make([]ListItem, 5)}}
	for i := range long.Lists["slots"] {
		long.Lists["slots"][i] = ListItem{ID: "slot-2026-12-08-0930-" + string(rune('a'+i)), Value: "2026-12-08T09:30:00+03:00"}
	}
	h := appointmentHost()
	h.answers["free_slots"] = long
	h.answers["hold_slot"] = AgencyAnswer{Outcome: OutcomeFound, Fields: map[string]string{"hold": strings.Repeat("h", 20), "until": "2026-11-26T18:14:05+03:00"}}
	r, _ := walk(t, e, h, "appt", "1", "5")
	if r.State.Step != "confirm" {
		t.Fatalf("at %s, want confirm", r.State.Step)
	}
	n := len(r.State.Encode())
	t.Logf("state at confirm with 5 slots: %d bytes", n)
	if n > 512 {
		t.Errorf("state is %d bytes, want at most 512", n)
	}
}

func TestAnswerEncoding(t *testing.T) {
	step := newCallEngine(t).Catalog().Service("appt").Step("slots")
	v := encodeAnswer(step, slots)
	fields, lists, ok := decodeAnswer(v)
	if !ok || len(fields) != 0 || !reflect.DeepEqual(lists["slots"], slots.Lists["slots"][:5]) {
		t.Errorf("decoded %v %v %v", fields, lists, ok)
	}
	for _, bad := range []string{"", "\x01", "\x00\x01\x05slots\xff", v + "x", v[:len(v)-1]} {
		if _, _, ok := decodeAnswer(bad); ok {
			t.Errorf("decodeAnswer(%q) ok", bad)
		}
	}
}

// TestLongestTrail: the lint's trail gives every result its longest
// value, and the screens and reminder that show them get it.
func TestLongestTrail(t *testing.T) {
	e := newCallEngine(t)
	pin := e.Catalog().Service("pin")
	st := State{Service: "pin", Step: "show", Lang: "en", Channel: channels.ChannelSMS, Trail: pin.LongestTrail("1234567890")}
	sc, err := e.EndScreen(st)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"status": "suspended", "name": strings.Repeat("ع", 40), "due": "28/12/2026", "amount": "100000000"}
	if got := sc.Text.Args["Result"]; !reflect.DeepEqual(got, want) {
		t.Errorf("Result = %v, want %v", got, want)
	}
	appt := e.Catalog().Service("appt")
	st = State{Service: "appt", Step: "book", Lang: "en", Channel: channels.ChannelSMS, Trail: appt.LongestTrail("1234567890")}
	text, ok := e.RemindText(st)
	res, _ := text.Args["Result"].(map[string]string)
	if !ok || text.ID != "appt.reminder" || res["reference"] != "1234567890" || res["start"] != "29/12/2026 02:59" || res["slot"] != "29/12/2026 02:59" {
		t.Errorf("reminder text = %+v, %v", text, ok)
	}
	st.Step = "choose"
	sc, err = e.Screen(st)
	if err != nil || len(sc.Options) != 6 {
		t.Errorf("menu of the longest list = %+v, %v; want 5 items and the static option", sc.Options, err)
	}
	if _, err := e.EndScreen(State{Service: "appt", Step: "choose"}); err == nil {
		t.Error("EndScreen of a menu")
	}
	if _, ok := e.RemindText(State{Service: "mine", Step: "cancel"}); ok {
		t.Error("RemindText of a cancelling remind")
	}
}

// TestSettleStopsCallsInARow: calls whose exits lead into each other
// without a screen stop after maxChainedCalls, with an error that is no
// CallError (the channel shows its internal-error screen).
func TestSettleStopsCallsInARow(t *testing.T) {
	s := mustParse(t, `id: s
title: t
agency: a
steps:
  - {id: start, kind: input, type: text, max_length: 5, text: x, field: f, next: a}
  - {id: a, kind: call, operation: a, exits: {found: b, not_found: done, failed: done, timeout: done}}
  - {id: b, kind: call, operation: b, exits: {found: a, not_found: done, failed: done, timeout: done}}
  - {id: done, kind: end, text: d}
`)
	e, err := New(Config{Catalog: &Catalog{Services: []*Service{s}, byID: map[string]*Service{"s": s}}, Langs: []string{"en"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Start(channels.ChannelSMS, "en", "s")
	if err != nil {
		t.Fatal(err)
	}
	if r, err = e.Step(r.State, Input{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	h := &recordingHost{answer: AgencyAnswer{Outcome: OutcomeFound}}
	_, err = e.Settle(context.Background(), h, citizen, "k", r)
	var ce *CallError
	if err == nil || errors.As(err, &ce) || len(h.asked) != maxChainedCalls {
		t.Errorf("err = %v after %d calls, want a plain error after %d", err, len(h.asked), maxChainedCalls)
	}
}
