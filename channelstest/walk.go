package channelstest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// samples are the answers Walk types into each input field: one the step
// refuses, one it accepts. A new input field in the catalog needs a line
// here (Walk says so).
var samples = map[string]struct{ bad, good string }{
	"child_name":  {"Amina 2", "Amina Wanjiru Otieno"},
	"child_dob":   {"31/02/2024", "12/03/2024"},
	"place":       {"K", "Kisumu District Hospital"},
	"guardian_id": {"12345678", "12345674"},
	"mother_name": {"G", "Grace Achieng Otieno"},
	"phone":       {"12", "0712345678"},
	"address":     {"Box", "P.O. Box 42, Kisumu"},
	"reference":   {"123", "4821773057"},
	"location":    {"K", "Kisumu, near the bus park"},
	"description": {"Pipe", "Broken water pipe next to stall 4 of the Kibuye market, leaking since Monday"},
	"answer_ref":  {"4821773058", "4821773057"},
	"answer":      {"A", "Milimani estate, Oginga Odinga street"},
}

// walkQuestion is the agency's question on the case the walk finds
// waiting for information: as long as the case lines show.
const walkQuestion = "Which estate and street is the pipe in, and is there a landmark near it that our team can find easily?"

// walkRef is the reference of every case in the walk.
const walkRef = "4821773057"

var errWalkInjected = errors.New("injected failure")

// Walk visits every screen the engine shows on channel in lang for one
// service, calling visit with a label that says how the screen was reached
// (for example `birth_certificate/child_name ← "Amina 2"` or
// `birth_certificate/start → stored`) and the screen. Labels depend only on
// the catalog, so goldens keyed by them are stable.
//
// For a service, Walk takes each option of each menu, a refused and an
// accepted answer to each input (the samples in walk.go; it fails t on a
// field without one), confirm and cancel, and gives each submission and
// lookup every outcome: stored or failed; found, not found or failed; five
// found or none. A refused choice or answer is shown once per step and path
// of menu choices. It fails t when the walk misses a step of the service.
//
// For service "" Walk visits the screens of the engine outside every
// service: "root", `root ← "9"` (a refused choice), "language" and
// `language ← "7"`. The pages a channel shows itself (a failure page, a
// resume menu) are the caller's to add.
//
// The answers and outcomes are fixed: on an engine with a clock that
// stands still (see Shipped) the screens are the same every run.
func Walk(t testing.TB, e *flows.Engine, channel channels.Channel, lang, service string, visit func(label string, sc channels.Screen)) {
	t.Helper()
	w := &walker{t: t, e: e, lang: lang, visit: visit, reached: map[string]bool{}, tried: map[string]bool{}}
	res, err := e.Start(channel, lang, service)
	if err != nil {
		t.Fatal(err)
	}
	if service == "" {
		w.home(res)
		return
	}
	w.walk(service+"/start", res)
	for _, step := range e.Catalog().Service(service).Steps {
		if !w.reached[step.ID] {
			t.Errorf("the walk never reached %s/%s: extend the samples in channelstest/walk.go or the walk", service, step.ID)
		}
	}
}

type walker struct {
	t       testing.TB
	e       *flows.Engine
	lang    string
	visit   func(string, channels.Screen)
	reached map[string]bool // steps of the service reached
	tried   map[string]bool // steps, by path, already refused once
}

func (w *walker) step(res flows.Result, text string) flows.Result {
	next, err := w.e.Step(res.State, flows.Input{Text: text})
	if err != nil {
		w.t.Fatalf("step %s/%s with %q: %v", res.State.Service, res.State.Step, text, err)
	}
	return next
}

func (w *walker) home(res flows.Result) {
	w.visit("root", res.Screen)
	w.visit(`root ← "9"`, w.step(res, "9").Screen)
	langMenu := w.step(res, fmt.Sprint(len(w.e.Catalog().Services)+1))
	w.visit("language", langMenu.Screen)
	w.visit(`language ← "7"`, w.step(langMenu, "7").Screen)
}

func (w *walker) walk(label string, res flows.Result) {
	st := res.State
	w.reached[st.Step] = true
	if res.Call != nil {
		for _, o := range outcomes(res.Call) {
			done, err := w.e.Complete(st, o.out)
			if err != nil {
				w.t.Fatal(err)
			}
			// A failed submission shows the confirm step again, with the
			// error: shown, not walked again.
			w.visit(label+" → "+o.name, done.Screen)
		}
		return
	}
	w.visit(label, res.Screen)
	if res.Ended() {
		return
	}
	svc := w.e.Catalog().Service(st.Service)
	step := svc.Step(st.Step)
	key := st.Service + "/" + st.Step
	var choices []string // the menu choices so far tell paths apart
	for _, v := range st.Trail {
		if s := svc.Step(v.Step); s != nil && s.Kind == flows.StepMenu {
			choices = append(choices, v.Value)
		}
	}
	if len(choices) > 0 {
		key += " [" + strings.Join(choices, " ") + "]"
	}
	switch step.Kind {
	case flows.StepMenu:
		if !w.tried[key] {
			w.tried[key] = true
			w.visit(key+` ← "99"`, w.step(res, "99").Screen)
		}
		for i := range step.Options {
			in := fmt.Sprint(i + 1)
			w.walk(key+` ← "`+in+`"`, w.step(res, in))
		}
	case flows.StepInput:
		s, ok := samples[step.Field]
		if !ok {
			w.t.Fatalf("no sample answers for field %q of %s: add them to the samples in channelstest/walk.go", step.Field, key)
		}
		if !w.tried[key] {
			w.tried[key] = true
			refused := w.step(res, s.bad)
			if refused.Screen.Error == nil {
				w.t.Errorf("%s accepted the bad sample %q", key, s.bad)
			}
			w.visit(fmt.Sprintf("%s ← %q", key, s.bad), refused.Screen)
		}
		w.walk(fmt.Sprintf("%s ← %q", key, s.good), w.step(res, s.good))
	case flows.StepConfirm:
		w.walk(key+` ← "2"`, w.step(res, "2"))
		w.walk(key+` ← "1"`, w.step(res, "1"))
	}
}

type outcome struct {
	name string
	out  flows.Outcome
}

// outcomes are the results the walk gives a call.
func outcomes(c *flows.Call) []outcome {
	found := func(n int) []*channels.Case {
		var cs []*channels.Case
		for i := range n {
			svc := []string{"birth_certificate", "report_problem"}[i%2]
			st := []channels.Status{channels.StatusReady, channels.StatusInReview, channels.StatusSubmitted}[i%3]
			cs = append(cs, &channels.Case{Ref: walkRef, Service: svc, Status: st})
		}
		return cs
	}
	switch c.Kind {
	case flows.CallAnswer:
		return []outcome{
			{"answered", flows.Outcome{Ref: walkRef}},
			{"nothing asked", flows.Outcome{Err: channels.Errorf(channels.ECONFLICT, "info.not_requested", "case is in review")}},
			{"another phone's", flows.Outcome{Err: channels.Errorf(channels.ENOTFOUND, "error.reference", "another phone")}},
			{"store failed", flows.Outcome{Err: errWalkInjected}},
		}
	case flows.CallSubmit:
		return []outcome{
			{"stored", flows.Outcome{Ref: walkRef}},
			{"store failed", flows.Outcome{Err: errWalkInjected}},
		}
	case flows.CallCase:
		return []outcome{
			{"found", flows.Outcome{Cases: found(1)}},
			{"found, waiting for information", flows.Outcome{Cases: []*channels.Case{{
				Ref: walkRef, Service: "report_problem", Status: channels.StatusMoreInfo,
				History: []channels.StatusChange{{Status: channels.StatusMoreInfo, Actor: "agency:county_works/key:k1", Note: walkQuestion}},
			}}}},
			{"not found", flows.Outcome{Err: channels.Errorf(channels.ENOTFOUND, "error.not_found", "no case")}},
			{"lookup failed", flows.Outcome{Err: errWalkInjected}},
		}
	}
	return []outcome{
		{"five found", flows.Outcome{Cases: found(5)}},
		{"none found", flows.Outcome{}},
	}
}
