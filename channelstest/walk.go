package channelstest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

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
	"pin":         {"A01234567Z", "A012345678Z"},
	"national_id": {"2743119", "27431198"},
}

// results are the values Walk answers for the text results of agency
// calls that declare no values; a new one in the catalog needs a line
// here (Walk says so). Dates, datetimes, numbers and lists are made up
// from their type, and a text with values takes each of them in turn.
var results = map[string]string{
	"name":      "Amani Wanjiru Otieno",
	"programme": "Inua Jamii",
	"id_number": "27431198",
	"hold":      "h-7Q2KX9",
	"booking":   "B-20261208-0930",
}

// walkStart is the first datetime of the walk's answers, in the offices'
// zone; list items follow it half an hour apart.
var walkStart = time.Date(2026, 12, 8, 9, 30, 0, 0, time.FixedZone("EAT", 3*3600))

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
// found or none. A call to an agency is found (once with each value of
// each text result that declares values: the results in walk.go), not
// found, failed and out of time, and the walk goes on from each; a menu
// offers what its screen shows (an answered list first); a step met again
// on the same way is shown, not walked again. A refused choice or answer is shown once per step and path
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
		for _, o := range w.outcomes(res.Call) {
			done, err := w.e.Complete(st, o.out)
			if err != nil {
				w.t.Fatal(err)
			}
			// Every outcome of an agency call, and a stored case, goes
			// on (a submission may go on to another step). A failed
			// submission shows the confirm step again, with the error:
			// shown, not walked again.
			if res.Call.Kind == flows.CallAgency || (res.Call.Kind == flows.CallSubmit && o.out.Err == nil) {
				w.walk(label+" → "+o.name, done)
				continue
			}
			w.visit(label+" → "+o.name, done.Screen)
		}
		return
	}
	w.visit(label, res.Screen)
	if res.Ended() {
		return
	}
	// A step met again on the same way (a menu choice that goes back to
	// choose another office) is shown, not walked again.
	for _, v := range st.Trail {
		if v.Step == st.Step {
			return
		}
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
		// The options shown: a list an agency answered, then the static
		// ones.
		for _, o := range res.Screen.Options {
			w.walk(key+` ← "`+o.Key+`"`, w.step(res, o.Key))
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
func (w *walker) outcomes(c *flows.Call) []outcome {
	if c.Kind == flows.CallAgency {
		return w.agencyOutcomes(c)
	}
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

// agencyOutcomes are the answers the walk gives a call to an agency: found
// with the first value of each text that declares values and then with
// each other value of each in turn (so that every branch of a text
// choosing by them shows), not found, failed and out of time.
func (w *walker) agencyOutcomes(c *flows.Call) []outcome {
	names := slices.Sorted(maps.Keys(c.Returns))
	base := flows.AgencyAnswer{Outcome: flows.OutcomeFound, Fields: map[string]string{}, Lists: map[string][]flows.ListItem{}}
	for _, name := range names {
		r := c.Returns[name]
		switch r.Type {
		case flows.ReturnText:
			if len(r.Values) > 0 {
				base.Fields[name] = r.Values[0]
				continue
			}
			v, ok := results[name]
			if !ok {
				w.t.Fatalf("no sample value for the result %q of %s/%s: add it to the results in channelstest/walk.go", name, c.Service, c.Step)
			}
			base.Fields[name] = v
		case flows.ReturnNumber:
			base.Fields[name] = "1500"
		case flows.ReturnDate:
			base.Fields[name] = walkStart.Format(time.DateOnly)
		case flows.ReturnDateTime:
			base.Fields[name] = walkStart.Format(time.RFC3339)
		case flows.ReturnList:
			items := make([]flows.ListItem, r.MaxItems)
			for i := range items {
				at := walkStart.Add(time.Duration(i) * 30 * time.Minute)
				items[i] = flows.ListItem{ID: fmt.Sprintf("s-%d", i+1), Value: at.Format(time.RFC3339)}
				switch r.Item {
				case flows.ReturnText:
					items[i].Value = fmt.Sprintf("item %d", i+1)
				case flows.ReturnNumber:
					items[i].Value = fmt.Sprint(i + 1)
				case flows.ReturnDate:
					items[i].Value = at.AddDate(0, 0, i).Format(time.DateOnly)
				}
			}
			base.Lists[name] = items
		}
	}
	answer := func(a flows.AgencyAnswer) flows.Outcome { return flows.Outcome{Answer: &a} }
	out := []outcome{{"found", answer(base)}}
	for _, name := range names {
		r := c.Returns[name]
		if r.Type != flows.ReturnText {
			continue
		}
		for _, v := range r.Values[min(1, len(r.Values)):] {
			a := base
			a.Fields = maps.Clone(base.Fields)
			a.Fields[name] = v
			out = append(out, outcome{"found, " + name + " " + v, answer(a)})
		}
	}
	return append(out,
		outcome{"not found", answer(flows.AgencyAnswer{Outcome: flows.OutcomeNotFound})},
		outcome{"failed", answer(flows.AgencyAnswer{Outcome: flows.OutcomeFailed, Reason: "walk: the agency answered 500"})},
		outcome{"timeout", answer(flows.AgencyAnswer{Outcome: flows.OutcomeTimeout, Reason: "walk: no answer within the deadline"})},
	)
}
