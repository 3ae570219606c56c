package services_test

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
)

// USSD-minded length budgets, in characters, for a text in any language.
const (
	maxTitle  = 20 // a service on the root menu
	maxOption = 24 // a menu choice (aim for 20)
	maxPrompt = 60 // the question of a menu or input step
	maxLabel  = 14 // the name of an answer on a confirm summary
)

// textRef is one message ID a service file refers to, where, and the
// length budget of its text (0: none).
type textRef struct {
	id, where string
	budget    int
}

// catalogTexts reads a service file as plain YAML, independently of the
// flows loader, and returns the message IDs it refers to in title, text,
// label, empty, option text and a reminder's text.
func catalogTexts(name string, data []byte) ([]textRef, error) {
	var svc map[string]any
	if err := yaml.Unmarshal(data, &svc); err != nil {
		return nil, err
	}
	str := func(m map[string]any, key string) string { s, _ := m[key].(string); return s }
	var refs []textRef
	add := func(id, where string, budget int) {
		if id != "" {
			refs = append(refs, textRef{id, name + ": " + where, budget})
		}
	}
	title := str(svc, "title")
	if title == "" {
		return nil, fmt.Errorf("no title")
	}
	add(title, "title", maxTitle)
	steps, _ := svc["steps"].([]any)
	if len(steps) == 0 {
		return nil, fmt.Errorf("no steps")
	}
	for i, s := range steps {
		step, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("step %d is not a map", i+1)
		}
		id, kind := str(step, "id"), str(step, "kind")
		// A call shows nothing itself, nor does a submission that goes
		// on to another step; every other step shows its text.
		silent := kind == "call" || (kind == "submit" && str(step, "next") != "")
		switch {
		case id == "":
			return nil, fmt.Errorf("step %d has no id", i+1)
		case silent && str(step, "text") != "":
			return nil, fmt.Errorf("step %s shows nothing, yet has a text", id)
		case !silent && str(step, "text") == "":
			return nil, fmt.Errorf("step %s has no text", id)
		}
		budget := 0
		if kind == "menu" || kind == "input" {
			budget = maxPrompt
		}
		add(str(step, "text"), "step "+id+" text", budget)
		if remind, ok := step["remind"].(map[string]any); ok {
			add(str(remind, "text"), "step "+id+" reminder", 0)
		}
		add(str(step, "label"), "step "+id+" label", maxLabel)
		add(str(step, "empty"), "step "+id+" empty", 0)
		options, _ := step["options"].([]any)
		for _, o := range options {
			opt, _ := o.(map[string]any)
			add(str(opt, "text"), "step "+id+" option "+str(opt, "value"), maxOption)
		}
	}
	return refs, nil
}

// TestCatalogTexts checks that every text a shipped service refers to
// exists in every language, within the length budget of where it shows.
func TestCatalogTexts(t *testing.T) {
	b, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(services.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no service files embedded")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(services.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			refs, err := catalogTexts(name, data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, ref := range refs {
				for _, lang := range b.Langs() {
					if !b.Has(lang, ref.id) {
						t.Errorf("%s: message %s is missing in %s", ref.where, ref.id, lang)
						continue
					}
					if ref.budget == 0 {
						continue
					}
					// A text showing a call's results is measured by the lint
					// (channels validate), with the longest value of each.
					text := b.Text(lang, channels.Msg(ref.id))
					if strings.Contains(text, "<no value>") {
						continue
					}
					if n := utf8.RuneCountInString(text); n > ref.budget {
						t.Errorf("%s: %s in %s is %d characters, budget %d: %q", ref.where, ref.id, lang, n, ref.budget, text)
					}
				}
			}
		})
	}
}

// TestShippedCatalog loads the catalog as `channels serve` does: the flows
// loader checks structure (reachable steps, ending paths, patterns,
// expressions, bounds), and every message it reports exists in every
// language.
func TestShippedCatalog(t *testing.T) {
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range cat.Services {
		ids = append(ids, s.ID)
	}
	if got := strings.Join(ids, " "); got != "birth_certificate check_status report_problem tax_pin benefit_eligibility national_id registry_appointment" {
		t.Errorf("services in menu order = %s", got)
	}
	b, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range cat.Messages() {
		for _, lang := range b.Langs() {
			if !b.Has(lang, ref.ID) {
				t.Errorf("%s:%d: message %q missing in %s", ref.File, ref.Line, ref.ID, lang)
			}
		}
	}
}

// contract is the operations the shipped services call, as the agencies
// implement them (channels demo-agency among them): whose they are, the
// params they take and whether they change anything.
var contract = map[string]struct {
	agency  string
	params  []string
	changes bool
}{
	"pin_status":          {"revenue", []string{"pin"}, false},
	"benefit_eligibility": {"social_protection", []string{"national_id"}, false},
	"national_id":         {"national_registry", nil, false},
	"free_slots":          {"civil_registry", []string{"office"}, false},
	"hold_slot":           {"civil_registry", []string{"office", "slot"}, true},
	"book_slot":           {"civil_registry", []string{"hold", "reference"}, true},
	"booking":             {"civil_registry", []string{"reference"}, false},
	"cancel_booking":      {"civil_registry", []string{"reference"}, true},
}

// TestCallsKeepTheContract checks every call step of the shipped catalog
// against the operations agencies implement: the agency, the params sent
// and whether it changes something. A change is never finished in the
// background (its timeout tells the citizen to check before trying again)
// while every look-up whose answer ends the service is, so that a slow
// register still answers by SMS.
func TestCallsKeepTheContract(t *testing.T) {
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	called := map[string]bool{}
	for _, svc := range cat.Services {
		for _, st := range svc.Steps {
			if st.Kind != flows.StepCall {
				continue
			}
			where := svc.ID + "/" + st.ID
			op, ok := contract[st.Operation]
			if !ok {
				t.Errorf("%s calls %s, which no agency implements", where, st.Operation)
				continue
			}
			called[st.Operation] = true
			agency := st.Agency
			if agency == "" {
				agency = svc.Agency
			}
			if agency != op.agency || !slices.Equal(st.Send, op.params) || st.Changes != op.changes {
				t.Errorf("%s calls %s of %s with %v (changes %v); the contract is %s with %v (changes %v)",
					where, st.Operation, agency, st.Send, st.Changes, op.agency, op.params, op.changes)
			}
			ends := true
			for _, next := range []string{st.Exits.Found, st.Exits.NotFound, st.Exits.Failed, st.Exits.Timeout} {
				ends = ends && svc.Step(next).Kind == flows.StepEnd
			}
			switch {
			case st.Changes && st.Later:
				t.Errorf("%s changes something and is finished later: a change is never made in the background", where)
			case !st.Changes && ends && !st.Later:
				t.Errorf("%s is a look-up that ends the service, yet a timeout is not answered later by SMS", where)
			}
		}
	}
	for op := range contract {
		if !called[op] {
			t.Errorf("no shipped service calls %s", op)
		}
	}
}
