package flows

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// today is the fixed clock of the engine tests.
var today = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	c, err := Load(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Catalog: c, Langs: []string{"en", "fr"}, Region: "KE", Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// play starts service and feeds inputs ("<" is Back, "^" is Home), failing
// on any engine error. It returns every result.
func play(t *testing.T, e *Engine, service string, inputs ...string) []Result {
	t.Helper()
	r, err := e.Start(channels.ChannelUSSD, "en", service)
	if err != nil {
		t.Fatal(err)
	}
	out := []Result{r}
	for _, in := range inputs {
		i := Input{Text: in}
		switch in {
		case "<":
			i = Input{Action: Back}
		case "^":
			i = Input{Action: Home}
		}
		// Round-trip the state as every channel does between hops.
		st, err := DecodeState(r.State.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if r, err = e.Step(st, i); err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
		out = append(out, r)
	}
	return out
}

func last(rs []Result) Result { return rs[len(rs)-1] }

func errID(r Result) string {
	if r.Screen.Error == nil {
		return ""
	}
	return r.Screen.Error.ID
}

func TestEngineSteps(t *testing.T) {
	e := newTestEngine(t)
	tests := []struct {
		name    string
		service string
		inputs  []string
		step    string // where the flow stands after the inputs
		err     string // the error shown, if any
		call    CallKind
	}{
		{"home menu", "", nil, homeStep, "", 0},
		{"home choice starts service", "", []string{"1"}, "name", "", 0},
		{"home invalid choice", "", []string{"9"}, homeStep, "error.choice", 0},
		{"language menu", "", []string{"3"}, langStep, "", 0},
		{"deep link", "permit", nil, "name", "", 0},
		{"empty input", "permit", []string{"  "}, "name", "error.required", 0},
		{"too short", "permit", []string{"A"}, "name", "error.too_short", 0},
		{"too long", "permit", []string{"Abcdefghijklmnopqrstu"}, "name", "error.too_long", 0},
		{"pattern", "permit", []string{"R2D2"}, "name", "error.pattern", 0},
		{"menu by number", "permit", []string{"Ann", "1"}, "stalls", "", 0},
		{"menu by value", "permit", []string{"Ann", "MARKET"}, "stalls", "", 0},
		{"menu invalid", "permit", []string{"Ann", "3"}, "kind", "error.choice", 0},
		{"option next", "permit", []string{"Ann", "2"}, "day", "", 0},
		{"number not a number", "permit", []string{"Ann", "1", "ten"}, "stalls", "error.number", 0},
		{"number out of range", "permit", []string{"Ann", "1", "11"}, "stalls", "error.number_range", 0},
		{"branch taken", "permit", []string{"Ann", "1", "10"}, "big", "", 0},
		{"branch not taken", "permit", []string{"Ann", "1", "3"}, "confirm", "", 0},
		{"luhn refused", "permit", []string{"Ann", "1", "10", "12345678"}, "big", "error.national_id", 0},
		{"luhn accepted", "permit", []string{"Ann", "1", "10", "12345674"}, "confirm", "", 0},
		{"id pattern", "permit", []string{"Ann", "1", "10", "1234567"}, "big", "error.national_id", 0},
		{"date format", "permit", []string{"Ann", "2", "31/02/2026"}, "day", "error.date_format", 0},
		{"date before min", "permit", []string{"Ann", "2", "25/11/2026"}, "day", "error.date_before", 0},
		{"date after max", "permit", []string{"Ann", "2", "01/03/2027"}, "day", "error.date_after", 0},
		{"date keypad form", "permit", []string{"Ann", "2", "26112026"}, "phone", "", 0},
		{"phone invalid", "permit", []string{"Ann", "2", "2026-12-01", "12"}, "phone", "error.phone", 0},
		{"back drops answer", "permit", []string{"Ann", "1", "<"}, "kind", "", 0},
		{"back from first step", "permit", []string{"<"}, homeStep, "", 0},
		{"home from inside", "permit", []string{"Ann", "^"}, homeStep, "", 0},
		{"confirm invalid", "permit", []string{"Ann", "1", "3", "7"}, "confirm", "error.choice", 0},
		{"confirm submits", "permit", []string{"Ann", "1", "3", "1"}, "submit", "", CallSubmit},
		{"lookup by reference", "lookup", []string{"1", "482 177-3057"}, "show", "", 0},
		{"lookup bad reference", "lookup", []string{"1", "4821773051"}, "ref", "error.reference", 0},
		{"my cases", "lookup", []string{"2"}, "mine", "", CallMyCases},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := last(play(t, e, tt.service, tt.inputs...))
			if r.State.Step != tt.step {
				t.Errorf("step = %q, want %q", r.State.Step, tt.step)
			}
			if errID(r) != tt.err {
				t.Errorf("error = %q, want %q", errID(r), tt.err)
			}
			if tt.call != 0 && (r.Call == nil || r.Call.Kind != tt.call) {
				t.Errorf("call = %+v, want kind %d", r.Call, tt.call)
			}
		})
	}
}

func TestEngineRefusedInputKeepsState(t *testing.T) {
	e := newTestEngine(t)
	rs := play(t, e, "permit", "Ann", "1", "11")
	if !reflect.DeepEqual(rs[2].State, rs[3].State) {
		t.Errorf("state changed on refused input:\n%+v\n%+v", rs[2].State, rs[3].State)
	}
}

// TestEngineTodayIsLocal: at 01:30 in Nairobi (22:30 UTC the day before),
// today's date is Nairobi's.
func TestEngineTodayIsLocal(t *testing.T) {
	c, err := Load(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatal(err)
	}
	nairobi := time.FixedZone("EAT", 3*3600)
	e, err := New(Config{Catalog: c, Langs: []string{"en"}, Region: "KE", Location: nairobi,
		Now: func() time.Time { return time.Date(2026, 11, 26, 22, 30, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	r := last(play(t, e, "permit", "Ann", "2", "27/11/2026"))
	if r.State.Step != "phone" {
		t.Errorf("27/11/2026 at 01:30 in Nairobi: step %s, error %q", r.State.Step, errID(r))
	}
}

func TestEngineInputSpec(t *testing.T) {
	e := newTestEngine(t)
	r := last(play(t, e, "permit", "Ann", "2"))
	want := &channels.Input{Field: "day", Type: channels.InputDate, Min: "2026-11-26", Max: "2027-02-24"}
	if !reflect.DeepEqual(r.Screen.Input, want) {
		t.Errorf("input = %+v, want %+v", r.Screen.Input, want)
	}
	r = last(play(t, e, "permit"))
	if r.Screen.Input.Pattern != "^(?:[A-Za-z '-]+)$" || r.Screen.Input.MaxLength != 20 {
		t.Errorf("input = %+v", r.Screen.Input)
	}
}

func TestEngineSubmitAnswersFollowPath(t *testing.T) {
	e := newTestEngine(t)
	// Choose event, go back, choose market: the event's date must not be
	// submitted, nor the first name.
	r := last(play(t, e, "permit", "Bob", "<", "Ann", "2", "01/12/2026", "<", "<", "1", "4", "1"))
	if r.Call == nil || r.Call.Kind != CallSubmit {
		t.Fatalf("no submit call: %+v", r)
	}
	want := []channels.Answer{{Field: "name", Value: "Ann"}, {Field: "kind", Value: "market"}, {Field: "stalls", Value: "4"}}
	if !reflect.DeepEqual(r.Call.Answers, want) {
		t.Errorf("answers = %+v, want %+v", r.Call.Answers, want)
	}
}

func TestEngineConfirmSummary(t *testing.T) {
	e := newTestEngine(t)
	r := last(play(t, e, "permit", "Ann", "2", "01/12/2026", "0712 345678"))
	if r.Screen.Kind != channels.KindConfirm {
		t.Fatalf("kind = %s", r.Screen.Kind)
	}
	want := []channels.Message{
		channels.Msg("summary.line", "Label", channels.Msg("permit.name"), "Value", "Ann"),
		channels.Msg("summary.line", "Label", channels.Msg("permit.kind"), "Value", channels.Msg("permit.kind.event")),
		channels.Msg("summary.line", "Label", channels.Msg("permit.day"), "Value", "01/12/2026"),
		channels.Msg("summary.line", "Label", channels.Msg("permit.phone"), "Value", "+254712345678"),
	}
	if !reflect.DeepEqual(r.Screen.Lines, want) {
		t.Errorf("lines =\n%+v\nwant\n%+v", r.Screen.Lines, want)
	}
}

func TestEngineConfirmCancel(t *testing.T) {
	e := newTestEngine(t)
	r := last(play(t, e, "permit", "Ann", "1", "3", "2"))
	if !r.Ended() || r.Screen.Text.ID != "end.cancelled" || r.Call != nil {
		t.Errorf("cancel = %+v", r)
	}
}

func TestEngineLanguageChoice(t *testing.T) {
	e := newTestEngine(t)
	rs := play(t, e, "", "3")
	if got := rs[1].Screen.Options[1].Text; got.ID != "lang.name" || got.Lang != "fr" {
		t.Errorf("second language option = %+v", got)
	}
	r := last(play(t, e, "", "3", "2"))
	if r.Lang != "fr" || r.State.Lang != "fr" || r.State.Step != homeStep {
		t.Errorf("after choosing French: %+v", r)
	}
	r = last(play(t, e, "", "3", "<"))
	if r.State.Step != homeStep || r.Lang != "" {
		t.Errorf("back from language menu: %+v", r)
	}
}

func TestEngineUnknownService(t *testing.T) {
	e := newTestEngine(t)
	if _, err := e.Start(channels.ChannelApp, "en", "nope"); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("err = %v, want not found", err)
	}
	if _, err := e.Step(State{Service: "gone", Step: "x"}, Input{Text: "1"}); channels.ErrorCode(err) != channels.EINVALID {
		t.Errorf("stale state err = %v, want invalid", err)
	}
}

// TestEngineFailedSubmitWithoutTrail completes a failed submission on a
// state with no step before the submit, as a service starting with one
// would give (the loader refuses those now): the citizen is taken to the
// root menu, told why, instead of the engine panicking.
func TestEngineFailedSubmitWithoutTrail(t *testing.T) {
	e := newTestEngine(t)
	st := State{Service: "permit", Step: "submit", Lang: "en", Channel: channels.ChannelUSSD}
	r, err := e.Complete(st, Outcome{Err: errors.New("store down")})
	if err != nil {
		t.Fatal(err)
	}
	if r.State.Service != "" || r.State.Step != homeStep || errID(r) != "error.internal" || r.Screen.Kind != channels.KindMenu {
		t.Errorf("failed submission without a trail: state %+v, screen %+v; want the root menu under error.internal", r.State, r.Screen)
	}
}

// TestEngineCraftedStates feeds the engine every step of the catalog, and
// steps it does not have, with empty and stale trails, on every channel:
// each call answers or errs, none panics.
func TestEngineCraftedStates(t *testing.T) {
	t.Run("catalog", func(t *testing.T) { craftStates(t, newTestEngine(t)) })
	t.Run("calls", func(t *testing.T) { craftStates(t, newCallEngine(t)) })
}

func craftStates(t *testing.T, e *Engine) {
	type place struct{ service, step string }
	places := []place{{"", homeStep}, {"", langStep}, {"", "bogus"}, {"gone", "x"}}
	trails := [][]Visit{nil, {{Step: "bogus"}}, {{Step: ""}}}
	for _, svc := range e.Catalog().Services {
		places = append(places, place{svc.ID, "bogus"}, place{svc.ID, ""})
		for _, st := range svc.Steps {
			places = append(places, place{svc.ID, st.ID})
			trails = append(trails, []Visit{{Step: st.ID, Value: "x"}}, []Visit{{Step: st.ID, Value: "\x01\x05"}})
		}
		trails = append(trails, svc.LongestTrail("4821773057"))
	}
	inputs := []Input{{Text: "1"}, {Text: "2"}, {Text: ""}, {Text: "x"}, {Action: Back}, {Action: Home}, {Action: Action(9)}}
	outcomes := []Outcome{{}, {Ref: "4821773057"}, {Err: errors.New("down")}, {Err: channels.Errorf(channels.ENOTFOUND, "error.not_found", "none")},
		{Answer: &AgencyAnswer{Outcome: OutcomeFound}}, {Answer: &AgencyAnswer{Outcome: OutcomeFound, Fields: map[string]string{"start": "not a time"}}},
		{Answer: &AgencyAnswer{Outcome: OutcomeTimeout}}}
	for _, p := range places {
		for _, trail := range trails {
			for _, ch := range []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS, channels.ChannelApp, channels.ChannelKiosk, "fax"} {
				st := State{Service: p.service, Step: p.step, Lang: "en", Channel: ch, Trail: trail}
				call := func(what string, f func()) {
					t.Helper()
					defer func() {
						if v := recover(); v != nil {
							t.Errorf("%s on %+v panics: %v", what, st, v)
						}
					}()
					f()
				}
				for _, in := range inputs {
					call(fmt.Sprintf("Step(%+v)", in), func() { _, _ = e.Step(st, in) })
				}
				for _, out := range outcomes {
					call(fmt.Sprintf("Complete(%+v)", out), func() { _, _ = e.Complete(st, out) })
				}
				call("Screen", func() { _, _ = e.Screen(st) })
				call("Later", func() { _, _ = e.Later(st.Encode(), AgencyAnswer{Outcome: OutcomeFound}) })
				call("EndScreen", func() { _, _ = e.EndScreen(st) })
				call("RemindText", func() { e.RemindText(st) })
				call("Waiting", func() { e.Waiting(st) })
			}
		}
	}
}

// recordingHost is a Host for engine tests: it records what it was asked
// and answers from its fields: an agency call by its operation in
// answers (else answer), a reminder with remindErr.
type recordingHost struct {
	subs      []Submission
	cases     []*channels.Case
	err       error
	lang      string
	asked     []AgencyRequest
	answer    AgencyAnswer
	answers   map[string]AgencyAnswer
	reminders []Reminder
	remindErr error
	pays      []PayRequest
	bills     []string
	paid      PayAnswer  // what Pay answers, and Bill when billed is nil
	billed    *PayAnswer // what Bill answers
}

func (h *recordingHost) Pay(_ context.Context, req PayRequest) PayAnswer {
	h.pays = append(h.pays, req)
	return h.paid
}

func (h *recordingHost) Bill(_ context.Context, phone, bill string) PayAnswer {
	h.bills = append(h.bills, phone+" "+bill)
	if h.billed != nil {
		return *h.billed
	}
	return h.paid
}

func (h *recordingHost) Ask(_ context.Context, req AgencyRequest) AgencyAnswer {
	h.asked = append(h.asked, req)
	if a, ok := h.answers[req.Operation]; ok {
		return a
	}
	return h.answer
}

func (h *recordingHost) Remind(_ context.Context, r Reminder) error {
	h.reminders = append(h.reminders, r)
	return h.remindErr
}

func (h *recordingHost) Submit(_ context.Context, s Submission) (string, error) {
	h.subs = append(h.subs, s)
	return "4821773057", h.err
}

func (h *recordingHost) Case(_ context.Context, phone, ref string) (*channels.Case, error) {
	for _, c := range h.cases {
		if c.Ref == ref && c.Phone == phone {
			return c, nil
		}
	}
	if h.err != nil {
		return nil, h.err
	}
	return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "case %s", ref)
}

func (h *recordingHost) CasesByPhone(context.Context, string) ([]*channels.Case, error) {
	return h.cases, h.err
}

func (h *recordingHost) SetLang(_ context.Context, _, lang string) error {
	h.lang = lang
	return h.err
}

func TestSettle(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	existing := &channels.Case{Ref: "4821773057", Service: "permit", Phone: "+254712345678", Status: channels.StatusInReview}

	t.Run("submit", func(t *testing.T) {
		h := &recordingHost{}
		r, err := e.Settle(ctx, h, "+254712345678", "ussd/s1", last(play(t, e, "permit", "Ann", "1", "3", "1")))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Ended() || r.Screen.Reference != "4821773057" || r.Screen.Text.Args["Reference"] != "4821773057" {
			t.Errorf("end screen = %+v", r.Screen)
		}
		if len(h.subs) != 1 || h.subs[0].Key != "ussd/s1" || h.subs[0].Phone != "+254712345678" || h.subs[0].Channel != channels.ChannelUSSD {
			t.Errorf("submissions = %+v", h.subs)
		}
	})
	t.Run("submit fails: back on confirm", func(t *testing.T) {
		h := &recordingHost{err: errors.New("disk full")}
		r, err := e.Settle(ctx, h, "+254712345678", "ussd/s1", last(play(t, e, "permit", "Ann", "1", "3", "1")))
		var ce *CallError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want CallError", err)
		}
		if r.State.Step != "confirm" || errID(r) != "error.internal" || r.Ended() {
			t.Errorf("result = %+v", r)
		}
	})
	t.Run("lookup found", func(t *testing.T) {
		h := &recordingHost{cases: []*channels.Case{existing}}
		r, err := e.Settle(ctx, h, "+254712345678", "k", last(play(t, e, "lookup", "1", "4821773057")))
		if err != nil {
			t.Fatal(err)
		}
		want := channels.Msg("case.line", "Reference", "4821773057", "Service", channels.Msg("permit.title"), "Status", channels.Msg("status.in_review"))
		if !r.Ended() || r.Screen.Text.ID != "lookup.found" || len(r.Screen.Lines) != 1 || !reflect.DeepEqual(r.Screen.Lines[0], want) {
			t.Errorf("screen = %+v", r.Screen)
		}
	})
	t.Run("lookup of another phone's case", func(t *testing.T) {
		h := &recordingHost{cases: []*channels.Case{existing}}
		r, err := e.Settle(ctx, h, "+254733000000", "k", last(play(t, e, "lookup", "1", "4821773057")))
		if err != nil || r.Screen.Text.ID != "lookup.none" {
			t.Errorf("screen = %+v, err %v", r.Screen, err)
		}
	})
	t.Run("lookup not found", func(t *testing.T) {
		r, err := e.Settle(ctx, &recordingHost{}, "+254712345678", "k", last(play(t, e, "lookup", "1", "4821773057")))
		if err != nil || r.Screen.Text.ID != "lookup.none" {
			t.Errorf("screen = %+v, err %v", r.Screen, err)
		}
	})
	t.Run("my cases none", func(t *testing.T) {
		r, err := e.Settle(ctx, &recordingHost{}, "+254712345678", "k", last(play(t, e, "lookup", "2")))
		if err != nil || r.Screen.Text.ID != "lookup.none" || !r.Ended() {
			t.Errorf("screen = %+v, err %v", r.Screen, err)
		}
	})
	t.Run("lookup fails", func(t *testing.T) {
		r, err := e.Settle(ctx, &recordingHost{err: errors.New("down")}, "+254712345678", "k", last(play(t, e, "lookup", "2")))
		if err == nil || r.Screen.Text.ID != "error.internal" || !r.Ended() {
			t.Errorf("screen = %+v, err %v", r.Screen, err)
		}
	})
	t.Run("language not remembered: the session goes on", func(t *testing.T) {
		r, err := e.Settle(ctx, &recordingHost{err: errors.New("disk full")}, "+254712345678", "k", last(play(t, e, "", "3", "2")))
		var ce *CallError
		if !errors.As(err, &ce) || r.State.Lang != "fr" || r.Screen.Kind != channels.KindMenu {
			t.Errorf("result %+v, err %v", r, err)
		}
	})
	t.Run("language remembered", func(t *testing.T) {
		h := &recordingHost{}
		if _, err := e.Settle(ctx, h, "+254712345678", "k", last(play(t, e, "", "3", "2"))); err != nil || h.lang != "fr" {
			t.Errorf("lang = %q, err %v", h.lang, err)
		}
	})
}

func TestFill(t *testing.T) {
	e := newTestEngine(t)
	tests := []struct {
		name    string
		answers map[string]string
		bad     map[string]string // field → message ID
		want    []channels.Answer
	}{
		{"complete", map[string]string{"name": "Ann", "kind": "event", "day": "2026-12-01", "phone": "+254712345678", "stalls": "ignored"}, nil,
			[]channels.Answer{{Field: "name", Value: "Ann"}, {Field: "kind", Value: "event"}, {Field: "day", Value: "2026-12-01"}, {Field: "phone", Value: "+254712345678"}}},
		{"menu by number", map[string]string{"name": "Ann", "kind": "1", "stalls": "2"}, nil,
			[]channels.Answer{{Field: "name", Value: "Ann"}, {Field: "kind", Value: "market"}, {Field: "stalls", Value: "2"}}},
		{"every bad field", map[string]string{"name": "A", "kind": "event", "day": "2020-01-01", "phone": "1"},
			map[string]string{"name": "error.too_short", "day": "error.date_before", "phone": "error.phone"}, nil},
		{"missing field", map[string]string{"name": "Ann", "kind": "market"}, map[string]string{"stalls": "error.required"}, nil},
		{"bad choice stops", map[string]string{"name": "Ann", "kind": "boat"}, map[string]string{"kind": "error.choice"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, bad, err := e.Fill(channels.ChannelApp, "en", "permit", tt.answers)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, fe := range bad {
				got[fe.Field] = fe.Message.ID
			}
			if len(tt.bad) > 0 || len(got) > 0 {
				if !reflect.DeepEqual(got, tt.bad) {
					t.Errorf("field errors = %v, want %v", got, tt.bad)
				}
				return
			}
			if r.Call == nil || r.Call.Kind != CallSubmit || !reflect.DeepEqual(r.Call.Answers, tt.want) {
				t.Errorf("call = %+v, want answers %+v", r.Call, tt.want)
			}
		})
	}
}

// TestRefusalsCoverCheckInput: every refusal the engine shows for an input
// is one Refusals lists, so the page lint checks what citizens can see.
func TestRefusalsCoverCheckInput(t *testing.T) {
	e := newTestEngine(t)
	tests := []struct {
		name, service string
		inputs        []string
	}{
		{"text", "permit", []string{"", "A", "Abcdefghijklmnopqrstu", "R2D2"}},
		{"number", "permit", []string{"Ann", "1", "ten"}},
		{"number range", "permit", []string{"Ann", "1", "11"}},
		{"date", "permit", []string{"Ann", "2", "31/02/2026"}},
		{"date before", "permit", []string{"Ann", "2", "25/11/2026"}},
		{"date after", "permit", []string{"Ann", "2", "01/03/2027"}},
		{"id", "permit", []string{"Ann", "1", "10", "12345678"}},
		{"menu", "permit", []string{"Ann", "9"}},
		{"reference", "lookup", []string{"1", "123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := play(t, e, tt.service, tt.inputs...)
			for i, r := range rs[1:] {
				if r.Screen.Error == nil {
					continue
				}
				found := false
				for _, m := range e.Refusals(tt.service, rs[i].State.Step) {
					found = found || reflect.DeepEqual(m, *r.Screen.Error)
				}
				if !found {
					t.Errorf("refusal %+v of step %s is not in Refusals", *r.Screen.Error, rs[i].State.Step)
				}
			}
		})
	}
	if got := e.Refusals("permit", "confirm"); len(got) != 1 || got[0].ID != "error.choice" {
		t.Errorf("confirm refusals = %+v", got)
	}
	if e.Refusals("nope", "x") != nil || e.Refusals("permit", "submit") != nil {
		t.Error("refusals for a step that takes no answer")
	}
}
