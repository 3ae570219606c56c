package ussd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// samples are the answers the walk types into each input field: one the
// step refuses, one it accepts. A new input field in the catalog needs a
// line here (the walk says so).
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
}

// goldenRef is the reference of every case in the walk.
const goldenRef = "4821773057"

// walk visits every screen the shipped catalog can show in one language:
// each option of each menu, a refused and an accepted answer to each
// input, confirm and cancel, and every outcome of each call (success,
// nothing found, a long list, a failure). Screens are visited once per
// distinct layout.
type walk struct {
	t      *testing.T
	f      *fixture
	lang   string
	screen func(label string, sc channels.Screen) // called for each screen
	steps  map[string]bool                        // "service/step" reached
	tried  map[string]bool                        // input steps already refused once
}

func newWalk(t *testing.T, f *fixture, lang string, screen func(string, channels.Screen)) *walk {
	return &walk{t: t, f: f, lang: lang, screen: screen, steps: map[string]bool{}, tried: map[string]bool{}}
}

// service walks one service from its first step.
func (w *walk) service(id string) {
	res, err := w.f.engine.Start(channels.ChannelUSSD, w.lang, id)
	if err != nil {
		w.t.Fatal(err)
	}
	w.visit(id+"/start", res)
}

func (w *walk) step(res flows.Result, in flows.Input) flows.Result {
	next, err := w.f.engine.Step(res.State, in)
	if err != nil {
		w.t.Fatalf("step %s/%s with %q: %v", res.State.Service, res.State.Step, in.Text, err)
	}
	return next
}

func (w *walk) visit(label string, res flows.Result) {
	st := res.State
	w.steps[st.Service+"/"+st.Step] = true
	if res.Call != nil {
		for _, o := range outcomes(res.Call) {
			done, err := w.f.engine.Complete(st, o.out)
			if err != nil {
				w.t.Fatal(err)
			}
			// A failed submission shows the confirm step again, with
			// the error: shown, not walked again.
			w.screen(label+" → "+o.name, done.Screen)
		}
		return
	}
	w.screen(label, res.Screen)
	if res.Ended() {
		return
	}
	svc := w.f.engine.Catalog().Service(st.Service)
	step := svc.Step(st.Step)
	key := st.Service + "/" + st.Step
	// The choices made so far tell apart the screens of different paths.
	var choices []string
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
			w.screen(key+` ← "99"`, w.step(res, flows.Input{Text: "99"}).Screen)
		}
		for i := range step.Options {
			in := fmt.Sprint(i + 1)
			w.visit(key+` ← "`+in+`"`, w.step(res, flows.Input{Text: in}))
		}
	case flows.StepInput:
		s, ok := samples[step.Field]
		if !ok {
			w.t.Fatalf("no sample answers for field %q of %s: add them to samples", step.Field, key)
		}
		if !w.tried[key] {
			w.tried[key] = true
			refused := w.step(res, flows.Input{Text: s.bad})
			if refused.Screen.Error == nil {
				w.t.Errorf("%s accepted the bad sample %q", key, s.bad)
			}
			w.screen(fmt.Sprintf("%s ← %q", key, s.bad), refused.Screen)
		}
		w.visit(fmt.Sprintf("%s ← %q", key, s.good), w.step(res, flows.Input{Text: s.good}))
	case flows.StepConfirm:
		w.visit(key+` ← "2"`, w.step(res, flows.Input{Text: "2"}))
		w.visit(key+` ← "1"`, w.step(res, flows.Input{Text: "1"}))
	}
}

type outcome struct {
	name string
	out  flows.Outcome
}

// outcomes are the results the walk gives a call, fixed so that the pages
// are the same every run.
func outcomes(c *flows.Call) []outcome {
	found := func(n int) []*channels.Case {
		var cs []*channels.Case
		for i := range n {
			svc := []string{"birth_certificate", "report_problem"}[i%2]
			st := []channels.Status{channels.StatusReady, channels.StatusInReview, channels.StatusSubmitted}[i%3]
			cs = append(cs, &channels.Case{Ref: goldenRef, Service: svc, Status: st})
		}
		return cs
	}
	switch c.Kind {
	case flows.CallSubmit:
		return []outcome{
			{"stored", flows.Outcome{Ref: goldenRef}},
			{"store failed", flows.Outcome{Err: errInjected}},
		}
	case flows.CallCase:
		return []outcome{
			{"found", flows.Outcome{Cases: found(1)}},
			{"not found", flows.Outcome{Err: channels.Errorf(channels.ENOTFOUND, "error.not_found", "no case")}},
			{"lookup failed", flows.Outcome{Err: errInjected}},
		}
	}
	return []outcome{
		{"five found", flows.Outcome{Cases: found(5)}},
		{"none found", flows.Outcome{}},
	}
}

// rootScreens are the screens outside every service: the root and language
// menus, the resume menu, the failure page.
func rootScreens(t *testing.T, f *fixture, lang string, screen func(string, channels.Screen)) {
	res, err := f.engine.Start(channels.ChannelUSSD, lang, "")
	if err != nil {
		t.Fatal(err)
	}
	screen("root", res.Screen)
	next := func(res flows.Result, in string) flows.Result {
		r, err := f.engine.Step(res.State, flows.Input{Text: in})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	screen(`root ← "9"`, next(res, "9").Screen)
	langMenu := next(res, fmt.Sprint(len(f.engine.Catalog().Services)+1))
	screen("language", langMenu.Screen)
	screen(`language ← "7"`, next(langMenu, "7").Screen)
	screen("resume", resumeMenu(nil))
	screen(`resume ← "3"`, resumeMenu(&channels.Message{ID: "error.choice"}))
	screen("failure", channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("error.internal")})
}

// TestGoldenPages lays out every screen of the shipped catalog in every
// language and compares the pages with testdata/pages/<service>.<lang>.golden;
// -update rewrites them. It fails when the walk misses a step.
func TestGoldenPages(t *testing.T) {
	f := newFixture(t)
	layout := Layout{}.withDefaults()
	for _, lang := range f.bundle.Langs() {
		for _, svc := range append([]string{"home"}, serviceIDs(f)...) {
			t.Run(svc+"."+lang, func(t *testing.T) {
				var out strings.Builder
				seen := map[string]bool{}
				screen := func(label string, sc channels.Screen) {
					pages := Pages(f.bundle, lang, sc, layout)
					all := strings.Join(pages, "\f")
					if seen[all] {
						return
					}
					seen[all] = true
					for i, p := range pages {
						fmt.Fprintf(&out, "== %s (page %d/%d, %s)\n%s\n", label, i+1, len(pages), sizeLabel(p), p)
					}
				}
				if svc == "home" {
					rootScreens(t, f, lang, screen)
				} else {
					w := newWalk(t, f, lang, screen)
					w.service(svc)
					checkSteps(t, f, svc, w.steps)
				}
				compareGolden(t, filepath.Join("testdata", "pages", svc+"."+lang+".golden"), out.String())
			})
		}
	}
	if n := f.bundle.Missing(); n != 0 {
		t.Errorf("%d messages missing while laying out the catalog", n)
	}
}

// TestPagesWithinBudget lays out every screen of the catalog in every
// language for the protocol's budget and for tighter gateways: every page
// fits, shows no missing message, and every option appears whole on a page.
func TestPagesWithinBudget(t *testing.T) {
	f := newFixture(t)
	layouts := []Layout{{}, {MaxChars: 160}, {MaxChars: 120, UCS2MaxChars: 60}}
	for _, l := range layouts {
		for _, lang := range f.bundle.Langs() {
			t.Run(fmt.Sprintf("%d-%d.%s", l.MaxChars, l.UCS2MaxChars, lang), func(t *testing.T) {
				screens := 0
				screen := func(label string, sc channels.Screen) {
					screens++
					pages := Pages(f.bundle, lang, sc, l)
					for i, p := range pages {
						if !l.Fits(p) {
							t.Errorf("%s: page %d/%d over budget (%s):\n%s", label, i+1, len(pages), sizeLabel(p), p)
						}
						if strings.Contains(p, "[[") {
							t.Errorf("%s: missing message on page %d:\n%s", label, i+1, p)
						}
					}
					var lines []string
					for _, p := range pages {
						lines = append(lines, strings.Split(p, "\n")...)
					}
					for _, o := range sc.Options {
						if opt := o.Key + ". " + f.bundle.Text(lang, o.Text); !slices.Contains(lines, opt) {
							t.Errorf("%s: option %q not whole on a page", label, opt)
						}
					}
				}
				rootScreens(t, f, lang, screen)
				for _, svc := range serviceIDs(f) {
					newWalk(t, f, lang, screen).service(svc)
				}
				if screens < 50 {
					t.Errorf("only %d screens walked", screens)
				}
			})
		}
	}
}

func serviceIDs(f *fixture) []string {
	var ids []string
	for _, svc := range f.engine.Catalog().Services {
		ids = append(ids, svc.ID)
	}
	return ids
}

// checkSteps fails when the walk did not reach every step of the service.
func checkSteps(t *testing.T, f *fixture, id string, reached map[string]bool) {
	t.Helper()
	for _, step := range f.engine.Catalog().Service(id).Steps {
		if !reached[id+"/"+step.ID] {
			t.Errorf("the walk never reached %s/%s: extend samples or the walk", id, step.ID)
		}
	}
}

// sizeLabel says how a page is counted: septets, or UCS-2 units.
func sizeLabel(p string) string {
	s := measure(p)
	if s.ucs2 {
		return fmt.Sprintf("%d UCS-2 units", s.units)
	}
	return fmt.Sprintf("%d septets", s.septets)
}

// compareGolden compares got with the file, or rewrites it under -update.
func compareGolden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./ussd -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./ussd -update and review the diff):\n%s", file, diff(string(want), got))
	}
}
