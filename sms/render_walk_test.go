package sms

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// renderToday is the fixed date of the render tests: the sample dates of
// birth are in the past.
var renderToday = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

// renderSamples are the answers the walk types into each input field: one
// the step refuses, one it accepts. A new input field in the catalog needs
// a line here (the walk says so).
var renderSamples = map[string]struct{ bad, good string }{
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
}

// renderRef is the reference of every case in the walk.
const renderRef = "4821773057"

var errRenderInjected = errors.New("injected failure")

// renderShipped returns the shipped engine on the fixed date and the
// shipped messages.
func renderShipped(t testing.TB) (*flows.Engine, *locales.Bundle) {
	t.Helper()
	return channelstest.Shipped(t, func() time.Time { return renderToday })
}

// renderScreen is one screen the walk reached: group is the service, or
// "home" for the screens outside every service; label says how it was
// reached.
type renderScreen struct {
	group, label string
	screen       channels.Screen
}

// renderScreens returns every screen the shipped catalog can show in lang
// on SMS: the root and language menus with a refused choice, then each
// option of each menu, a refused and an accepted answer to each input,
// confirm and cancel, and every outcome of each call. It fails t when the
// walk misses a step of a service.
func renderScreens(t testing.TB, e *flows.Engine, lang string) []renderScreen {
	t.Helper()
	w := &renderWalk{t: t, e: e, lang: lang, tried: map[string]bool{}}
	w.root()
	for _, svc := range e.Catalog().Services {
		w.group = svc.ID
		reached := map[string]bool{}
		w.reached = reached
		res, err := e.Start(channels.ChannelSMS, lang, svc.ID)
		if err != nil {
			t.Fatal(err)
		}
		w.visit(svc.ID+"/start", res)
		for _, step := range svc.Steps {
			if !reached[step.ID] {
				t.Errorf("the walk never reached %s/%s: extend renderSamples or the walk", svc.ID, step.ID)
			}
		}
	}
	return w.out
}

type renderWalk struct {
	t       testing.TB
	e       *flows.Engine
	lang    string
	group   string
	reached map[string]bool // steps of the current service reached
	tried   map[string]bool // steps already refused once
	out     []renderScreen
}

func (w *renderWalk) show(label string, sc channels.Screen) {
	w.out = append(w.out, renderScreen{group: w.group, label: label, screen: sc})
}

func (w *renderWalk) step(res flows.Result, text string) flows.Result {
	next, err := w.e.Step(res.State, flows.Input{Text: text})
	if err != nil {
		w.t.Fatalf("step %s/%s with %q: %v", res.State.Service, res.State.Step, text, err)
	}
	return next
}

func (w *renderWalk) root() {
	w.group = "home"
	res, err := w.e.Start(channels.ChannelSMS, w.lang, "")
	if err != nil {
		w.t.Fatal(err)
	}
	w.show("root", res.Screen)
	w.show(`root ← "9"`, w.step(res, "9").Screen)
	langMenu := w.step(res, fmt.Sprint(len(w.e.Catalog().Services)+1))
	w.show("language", langMenu.Screen)
	w.show(`language ← "7"`, w.step(langMenu, "7").Screen)
	w.show("failure", channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("error.internal")})
}

func (w *renderWalk) visit(label string, res flows.Result) {
	st := res.State
	w.reached[st.Step] = true
	if res.Call != nil {
		for _, o := range renderOutcomes(res.Call) {
			done, err := w.e.Complete(st, o.out)
			if err != nil {
				w.t.Fatal(err)
			}
			// A failed submission shows the confirm step again, with the
			// error: shown, not walked again.
			w.show(label+" → "+o.name, done.Screen)
		}
		return
	}
	w.show(label, res.Screen)
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
			w.show(key+` ← "99"`, w.step(res, "99").Screen)
		}
		for i := range step.Options {
			in := fmt.Sprint(i + 1)
			w.visit(key+` ← "`+in+`"`, w.step(res, in))
		}
	case flows.StepInput:
		s, ok := renderSamples[step.Field]
		if !ok {
			w.t.Fatalf("no sample answers for field %q of %s: add them to renderSamples", step.Field, key)
		}
		if !w.tried[key] {
			w.tried[key] = true
			refused := w.step(res, s.bad)
			if refused.Screen.Error == nil {
				w.t.Errorf("%s accepted the bad sample %q", key, s.bad)
			}
			w.show(fmt.Sprintf("%s ← %q", key, s.bad), refused.Screen)
		}
		w.visit(fmt.Sprintf("%s ← %q", key, s.good), w.step(res, s.good))
	case flows.StepConfirm:
		w.visit(key+` ← "2"`, w.step(res, "2"))
		w.visit(key+` ← "1"`, w.step(res, "1"))
	}
}

type renderOutcome struct {
	name string
	out  flows.Outcome
}

// renderOutcomes are the results the walk gives a call, fixed so that the
// goldens are the same every run.
func renderOutcomes(c *flows.Call) []renderOutcome {
	found := func(n int) []*channels.Case {
		var cs []*channels.Case
		for i := range n {
			svc := []string{"birth_certificate", "report_problem"}[i%2]
			st := []channels.Status{channels.StatusReady, channels.StatusInReview, channels.StatusSubmitted}[i%3]
			cs = append(cs, &channels.Case{Ref: renderRef, Service: svc, Status: st})
		}
		return cs
	}
	switch c.Kind {
	case flows.CallSubmit:
		return []renderOutcome{
			{"stored", flows.Outcome{Ref: renderRef}},
			{"store failed", flows.Outcome{Err: errRenderInjected}},
		}
	case flows.CallCase:
		return []renderOutcome{
			{"found", flows.Outcome{Cases: found(1)}},
			{"not found", flows.Outcome{Err: channels.Errorf(channels.ENOTFOUND, "error.not_found", "no case")}},
			{"lookup failed", flows.Outcome{Err: errRenderInjected}},
		}
	}
	return []renderOutcome{
		{"five found", flows.Outcome{Cases: found(5)}},
		{"none found", flows.Outcome{}},
	}
}
