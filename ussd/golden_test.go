package ussd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// goldenPaths visit every screen of every shipped service, invalid answers
// included; "<" goes back. Lookups end with a fixed outcome.
var goldenPaths = map[string][]string{
	"home":              {"9", "4", "7"},
	"birth_certificate": {"", "A", "Amina Wanjiru Otieno", "31/02/2024", "01/01/2030", "12/03/2024", "5", "1", "Kisumu District Hospital", "3", "12345678", "12345674", "Grace Achieng Otieno", "12", "0712345678", "2", "Box", "P.O. Box 42, Kisumu", "9", "1"},
	"check_status":      {"7", "1", "123", "4821773057"},
	"report_problem":    {"4", "Kisumu, near the bus park", "Pipe", "Broken water pipe next to stall 4", "1"},
}

// TestGoldenPages renders every screen of the shipped services in every
// language as USSD pages and compares them with testdata/pages; -update
// rewrites the files. Every page must fit the 182-character budget.
func TestGoldenPages(t *testing.T) {
	f := newFixture(t)
	layout := Layout{}.withDefaults()
	for _, lang := range f.bundle.Langs() {
		for service, inputs := range goldenPaths {
			t.Run(service+"."+lang, func(t *testing.T) {
				var out strings.Builder
				svc := service
				if svc == "home" {
					svc = ""
				}
				res, err := f.engine.Start(channels.ChannelUSSD, lang, svc)
				if err != nil {
					t.Fatal(err)
				}
				show := func(label string, res flows.Result) {
					sc := res.Screen
					if res.Call != nil {
						sc = outcome(t, f, res)
					}
					pages := Pages(f.bundle, lang, sc, layout)
					for i, p := range pages {
						fmt.Fprintf(&out, "== %s (page %d/%d, %d chars)\n%s\n", label, i+1, len(pages), length(p), p)
						if length(p) > layout.Budget(p) {
							t.Errorf("%s page %d has %d characters, over %d", label, i+1, length(p), layout.Budget(p))
						}
					}
				}
				show("start", res)
				for _, in := range inputs {
					if res.Call != nil || res.Ended() {
						break
					}
					if res, err = f.engine.Step(res.State, flows.Input{Text: in}); err != nil {
						t.Fatal(err)
					}
					show(fmt.Sprintf("%q", in), res)
				}
				file := filepath.Join("testdata", "pages", service+"."+lang+".golden")
				if *update {
					if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test ./ussd -update)", err)
				}
				if out.String() != string(want) {
					t.Errorf("pages differ from %s (run go test ./ussd -update and review the diff):\n%s", file, diff(string(want), out.String()))
				}
			})
		}
	}
}

// outcome completes a call with a fixed result so the final screens render
// the same every run: submissions get one reference, lookups find one case.
func outcome(t *testing.T, f *fixture, res flows.Result) channels.Screen {
	t.Helper()
	out := flows.Outcome{Ref: "4821773057"}
	if res.Call.Kind != flows.CallSubmit {
		out.Cases = []*channels.Case{{Ref: "4821773057", Service: "birth_certificate", Status: channels.StatusReady}}
	}
	done, err := f.engine.Complete(res.State, out)
	if err != nil {
		t.Fatal(err)
	}
	return done.Screen
}
