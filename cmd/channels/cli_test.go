package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
		{"shipped catalog", []string{"validate"}, 0, []string{"ok: 3 services, 3 languages"}, nil},
		{"broken catalog", []string{"validate", "testdata/broken"}, 1, []string{
			"testdata/broken/lost.yaml:7: field colour not found in step",
			`testdata/broken/permit.yaml:10: step "confirm": next step "submitt" does not exist`,
		}, []string{"ok:"}},
		{"catalog with its own messages, one missing in sw", []string{"validate", "testdata/extra"}, 1, []string{
			`testdata/extra/permit.yaml:1: message "permit.title" is missing in locale sw`,
			`testdata/extra/permit.yaml:4: message "permit.name" is missing in locale sw`,
		}, []string{"missing in locale fr", "missing in locale en"}},
		{"prompt longer than a page in one language", []string{"validate", "testdata/longprompt"}, 1, []string{
			`testdata/longprompt/permit.yaml:4: step "name" in locale sw: the prompt takes 2 USSD pages of 182 characters; a prompt must fit one`,
		}, []string{"locale en", "locale fr"}},
		{"shipped catalog on the strictest aggregators", []string{"validate", "-ussd-page", "160"}, 0, []string{"ok: 3 services"}, nil},
		{"screen longer than two SMS segments in one language", []string{"validate", "testdata/longsms"}, 1, []string{
			`testdata/longsms/permit.yaml:4: step "kind" in locale fr: the screen takes 3 SMS segments; a reply must fit 2`,
		}, []string{"locale en", "locale sw", "ok:"}},
		{"the same screen within a budget of three segments", []string{"validate", "-sms-segments", "3", "testdata/longsms"}, 0, []string{"ok: 1 services"}, nil},
		{"no SMS segment at all", []string{"validate", "-sms-segments", "0"}, 2, nil, nil},
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

func TestValidateJSON(t *testing.T) {
	code, out, _ := runCmd(t, "", "validate", "-format", "json", "testdata/broken")
	var report struct {
		OK       bool `json:"ok"`
		Problems []struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Reason string `json:"reason"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if code != 1 || report.OK || len(report.Problems) != 2 || report.Problems[0].Line == 0 {
		t.Errorf("exit %d, report %+v", code, report)
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

var update = flag.Bool("update", false, "rewrite the service diagrams under docs/services")

// TestServiceDiagramsCurrent checks that docs/services holds the current
// diagram of every shipped service; -update rewrites them.
func TestServiceDiagramsCurrent(t *testing.T) {
	for _, id := range []string{"birth_certificate", "check_status", "report_problem"} {
		code, out, errOut := runCmd(t, "", "graph", id)
		if code != 0 {
			t.Fatalf("graph %s: %d %s", id, code, errOut)
		}
		file := filepath.Join("..", "..", "docs", "services", id+".mmd")
		if *update {
			if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil || string(want) != out {
			t.Errorf("%s is not the current diagram of %s (run go test ./cmd/channels -update): %v", file, id, err)
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
		{"unknown service", []string{"graph", "passport"}, 1, nil},
		{"unknown language", []string{"graph", "-lang", "xx", "report_problem"}, 1, nil},
		{"usage", []string{"graph"}, 2, nil},
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
