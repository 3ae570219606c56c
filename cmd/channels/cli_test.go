package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/services"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		want   []string
		absent []string
	}{
		{"shipped catalog", []string{"validate"}, 0, []string{"ok: 7 services"}, nil},
		{"catalog with its own messages, one missing in sw", []string{"validate", "testdata/extra"}, 1, []string{
			`testdata/extra/permit.yaml:1: locale sw: message "permit.title" is missing [message]`,
			`testdata/extra/permit.yaml:4: step name, locale sw: message "permit.name" is missing [message]`,
		}, []string{"locale fr", "locale en", "locale ar", "USSD", "SMS"}},
		{"prompt that fits a page of 80 UCS-2 units but not Kannel's 70", []string{"validate", "testdata/kannelprompt"}, 1, []string{
			`testdata/kannelprompt/permit.yaml:4: step name, locale ar: the prompt under error.too_short takes 2 USSD pages of 70 UCS-2 characters; a prompt must fit one on Kannel [ussd-prompt]`,
		}, []string{"locale en", "locale fr", "locale sw", "of 80 UCS-2"}},
		{"shipped catalog on the strictest aggregators", []string{"validate", "-ussd-page", "160"}, 0, []string{"ok: 7 services"}, nil},
		{"a screen within a budget of three segments", []string{"validate", "-sms-segments", "3", "testdata/broken"}, 1, []string{"[ussd-page]"}, []string{"[sms-segments]"}},
		{"a step that needs a photo, with its alternative", []string{"validate", "testdata/photo"}, 0, []string{"ok: 1 services, 4 languages"}, nil},
		{"no SMS segment at all", []string{"validate", "-sms-segments", "0"}, 2, nil, nil},
		{"a USSD page too small for its navigation", []string{"validate", "-ussd-page", "30"}, 2, nil, nil},
		{"not a directory", []string{"validate", "main.go"}, 1, nil, nil},
		{"usage", []string{"validate", "a", "b"}, 2, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("output has %q:\n%s", a, out)
				}
			}
		})
	}
}

// TestValidateShippedCatalog runs the equal-service lint on the shipped
// catalog, every service in every language: it must pass. When it fails,
// the output says which text or step to fix.
func TestValidateShippedCatalog(t *testing.T) {
	code, out, errOut := runCmd(t, "", "validate")
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("channels validate: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCmd(t, "", "validate", "-format", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("channels validate -format json: exit %d\n%s", code, out)
	}
}

// brokenRules are the rules of the lint; testdata/broken breaks each.
var brokenRules = []string{"load", "target", "unreachable", "cycle", "dead-end", "capability", "message", "argument", "ussd-page", "ussd-prompt", "sms-segments", "navigation"}

// TestValidateBroken checks the report on testdata/broken, a catalog
// that breaks every rule, against its goldens in both formats (-update
// rewrites them), and that every rule is in it.
func TestValidateBroken(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", "validate", "-format", format, "testdata/broken")
			if code != 1 {
				t.Errorf("exit %d, want 1: %s", code, errOut)
			}
			golden := "testdata/broken.report.txt"
			if format == "json" {
				golden = "testdata/broken.report.json"
			}
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("report differs from %s (go test ./cmd/channels -update rewrites it):\n%s", golden, out)
			}
		})
	}
	_, out, _ := runCmd(t, "", "validate", "-format", "json", "testdata/broken")
	var report []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Service string `json:"service"`
		Step    string `json:"step"`
		Locale  string `json:"locale"`
		Rule    string `json:"rule"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("not a JSON array of findings: %v\n%s", err, out)
	}
	rules := map[string]int{}
	for _, f := range report {
		rules[f.Rule]++
		root := f.File == "testdata/broken" && f.Line == 0 && f.Service == "" && f.Locale != "" // the root menu
		if !root && (!strings.HasPrefix(f.File, "testdata/broken/") || f.Line == 0 || f.Service == "") || f.Message == "" {
			t.Errorf("finding not located: %+v", f)
		}
	}
	for _, r := range brokenRules {
		if rules[r] == 0 {
			t.Errorf("no finding of rule %s on testdata/broken", r)
		}
	}
	if len(rules) != len(brokenRules) {
		t.Errorf("rules found %v, want exactly %v", rules, brokenRules)
	}
}

var simRef = regexp.MustCompile(`reference is ([1-9][0-9]{9})`)

func TestSimulateUSSD(t *testing.T) {
	code, out, errOut := runCmd(t, "3\n1\nKisumu market\nBroken pipe by stall 4\n1\n2\n1\n$REF\n", "simulate", "-channel", "ussd")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := simRef.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "END Your application:\n"+m[1]+" Report a problem: Submitted") {
		t.Errorf("transcript does not submit and find the case:\n%s", out)
	}
}

func TestSimulateSMS(t *testing.T) {
	code, out, errOut := runCmd(t, "PROBLEM\n1\nKisumu market\nBroken pipe by stall 4\nconfirm\nSTOP\nMENU\n", "simulate", "-channel", "sms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"> confirm\nReport received. Your reference is ", "> STOP\nYou will get no more SMS", "> MENU\n(no reply)"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulateAppWithOwnCatalog(t *testing.T) {
	code, out, errOut := runCmd(t, "Jane Trader\n1\n", "simulate", "-channel", "app", "-services", "testdata/extra", "-service", "permit", "-lang", "fr")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`"text": "Nom complet du commerçant:"`, `"kind": "confirm"`, `"reference": "`, `"ended": true`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestSimulateRefusesBadFlags(t *testing.T) {
	if code, _, _ := runCmd(t, "", "simulate", "-channel", "fax"); code != 2 {
		t.Errorf("unknown channel: exit %d", code)
	}
	if code, _, errOut := runCmd(t, "", "simulate", "-phone", "12"); code != 2 || !strings.Contains(errOut, "not a valid phone") {
		t.Errorf("bad phone: exit %d %s", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	if code, _, errOut := runCmd(t, ""); code != 2 || !strings.Contains(errOut, "usage: channels") {
		t.Errorf("no command: %d %s", code, errOut)
	}
	if code, _, _ := runCmd(t, "", "frobnicate"); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
}

// TestLoadHarness runs the shipped load harness briefly: every session must
// reach its END with a reference, in both phases' bookkeeping.
func TestLoadHarness(t *testing.T) {
	code, out, errOut := runCmd(t, "", "load", "-sessions", "4", "-dials", "8", "-warmup", "4", "-rounds", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, out, errOut)
	}
	for _, want := range []string{"baseline        48", "ussd            48", "ussd/baseline: hops/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden files: the diagrams under docs/services and the reports on testdata/broken")

// shippedServices returns the IDs of the services of the shipped catalog,
// each drawn in docs/services.
func shippedServices(t *testing.T) []string {
	t.Helper()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range cat.Services {
		ids = append(ids, s.ID)
	}
	return ids
}

// generatorComment is the line of an SVG that names the Graphviz version.
var generatorComment = regexp.MustCompile(`(?s)<!-- Generated by graphviz.*?-->\n?`)

// needDot returns Graphviz's dot, skipping the test without it, or failing
// it when the test peers are required (scripts/test installs Graphviz
// with them).
func needDot(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dot"); err != nil {
		if os.Getenv("CHANNELS_PEERS") == "require" {
			t.Fatalf("Graphviz's dot is not installed: run scripts/test, which installs it")
		}
		t.Skip("Graphviz's dot is not installed: run scripts/test, which installs it")
	}
}

// TestServiceDiagramsCurrent checks that docs/services holds the current
// diagrams of every shipped service, in English: Mermaid and DOT exactly,
// and the SVG that Graphviz renders of the DOT; -update rewrites them.
// Graphviz writes its version into a comment, so the SVGs are compared
// without it; the drawing itself (its layout and text widths) depends on
// Graphviz and its fonts, which scripts/peers installs from Debian, the
// same on every machine.
func TestServiceDiagramsCurrent(t *testing.T) {
	ids := shippedServices(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "services", "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		if !slices.Contains(ids, id) {
			t.Errorf("%s draws no shipped service: remove it", f)
		}
	}
	for _, id := range ids {
		for _, format := range []string{"mermaid", "dot", "svg"} {
			t.Run(id+"."+format, func(t *testing.T) {
				ext := map[string]string{"mermaid": ".mmd", "dot": ".dot", "svg": ".svg"}[format]
				if format == "svg" {
					needDot(t)
				}
				code, out, errOut := runCmd(t, "", "graph", "-format", format, id)
				if code != 0 {
					t.Fatalf("graph %s: %d %s", id, code, errOut)
				}
				file := filepath.Join("..", "..", "docs", "services", id+ext)
				if *update {
					if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(file)
				if format == "svg" {
					want, out = generatorComment.ReplaceAll(want, nil), generatorComment.ReplaceAllString(out, "")
				}
				if err != nil || string(want) != out {
					t.Errorf("%s is not the current diagram of %s (run go test ./cmd/channels -update): %v", file, id, err)
				}
			})
		}
	}
}

func TestGraph(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"mermaid with branches and option targets", []string{"graph", "birth_certificate"}, 0, []string{
			"flowchart TD", `relation{"relation (menu)<br/>You are the child's:"}`, `relation -->|"Guardian"| guardian_id`,
			`delivery -->|"if answers.delivery == #quot;post#quot;"| address`, "Your reference is [reference].",
		}},
		{"dot in Swahili", []string{"graph", "-format", "dot", "-lang", "sw", "check_status"}, 0, []string{
			`digraph "check_status"`, `"how" -> "mine" [label="Maombi yangu"];`, `shape=doubleoctagon`,
		}},
		{"a step that needs a photo, and what USSD and SMS show instead", []string{"graph", "-services", "testdata/photo", "-lang", "fr", "permit"}, 0, []string{
			`id_photo["id_photo (input, needs photo)<br/>Photo de votre carte d'identité:<br/>ussd, sms: Apportez votre carte d'identité à un kiosque Huduma sous 14 jours pour terminer la demande."]`,
			"id_photo --> confirm",
		}},
		{"unknown service", []string{"graph", "passport"}, 1, nil},
		{"unknown language", []string{"graph", "-lang", "xx", "report_problem"}, 1, nil},
		{"usage", []string{"graph"}, 2, nil},
		{"unknown format", []string{"graph", "-format", "png", "report_problem"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runCmd(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %s:\n%s", w, out)
				}
			}
		})
	}
}

// TestGraphSVG renders a diagram through Graphviz, and says what is
// missing when Graphviz is not installed.
func TestGraphSVG(t *testing.T) {
	t.Run("rendered", func(t *testing.T) {
		needDot(t)
		code, out, errOut := runCmd(t, "", "graph", "-format", "svg", "-lang", "sw", "check_status")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"<svg ", "<title>check_status</title>", ">Maombi yangu</text>", "</svg>"} {
			if !strings.Contains(out, want) {
				t.Errorf("SVG lacks %s:\n%s", want, out)
			}
		}
	})
	t.Run("without Graphviz", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		code, out, errOut := runCmd(t, "", "graph", "-format", "svg", "check_status")
		if code != 1 || out != "" || !strings.Contains(errOut, "needs Graphviz's dot on the PATH") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

// TestAlternativeOnEveryChannel runs testdata/photo, whose step id_photo
// needs a photo: USSD and SMS show its alternative and go on to submit
// the request; the app shows the step itself.
func TestAlternativeOnEveryChannel(t *testing.T) {
	const kiosk = "Bring your national ID to a Huduma kiosk within 14 days to finish the request."
	code, out, errOut := runCmd(t, "1\nJane Trader\n5\n1\n1\n", "simulate", "-channel", "ussd", "-services", "testdata/photo")
	if code != 0 {
		t.Fatalf("ussd: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"> Jane Trader\nCON " + kiosk + "\n1. Continue\n0. Back\n00. Home\n",
		"> 5\nCON Choose one of the numbers shown.\n" + kiosk,
		"> 1\nCON Check your request:\nTrader: Jane Trader\n1. Confirm",
		"END Request received. Reference ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ussd transcript lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCmd(t, "KIBALI\nAmina\nendelea\n1\n", "simulate", "-channel", "sms", "-services", "testdata/photo")
	if code != 0 {
		t.Fatalf("sms: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"> Amina\nLeta kitambulisho chako kwenye kibanda cha Huduma ndani ya siku 14 kukamilisha ombi.\n1. Endelea\n",
		"> endelea\nHakiki ombi lako:\nMfanyabiashara: Amina\n",
		"Ombi limepokelewa. Kumbukumbu ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sms transcript lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCmd(t, "Jane Trader\nid-photo.jpg\n1\n", "simulate", "-channel", "app", "-services", "testdata/photo", "-service", "permit")
	if code != 0 {
		t.Fatalf("app: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"text": "Photo of your national ID:"`) || strings.Contains(out, kiosk) || !strings.Contains(out, `"reference": "`) {
		t.Errorf("app: want the photo step itself, then a reference:\n%s", out)
	}
}
