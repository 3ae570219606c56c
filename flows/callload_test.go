package flows

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// callService is a valid service around one call step (line 10), whose
// lines are call; tail adds steps after the ends.
func callService(call, tail string) string {
	return `id: s
title: s.title
agency: revenue
steps:
  - id: pin
    kind: input
    text: pin.prompt
    field: pin
    type: text
    next: check
  - id: check
    kind: call
` + call + `  - {id: show, kind: end, text: show}
  - {id: none, kind: end, text: none}
  - {id: failed, kind: end, text: failed}
  - {id: late, kind: end, text: late}
` + tail
}

const (
	okExits   = "    exits: {found: show, not_found: none, failed: failed, timeout: late}\n"
	okReturns = "    returns:\n      status: {type: text, values: [valid, invalid]}\n      start: {type: datetime}\n      slots: {type: list, item: datetime, max_items: 5}\n"
)

func TestParseCallProblems(t *testing.T) {
	base := "    operation: pin_status\n    send: [pin]\n"
	tests := []struct {
		name string
		yaml string
		line int
		want string
	}{
		{"text on a call", callService(base+"    text: x\n"+okReturns+okExits, ""), 11, "a call step shows nothing itself"},
		{"next on a call", callService(base+"    next: show\n"+okReturns+okExits, ""), 11, "goes on by its exits"},
		{"no agency", strings.Replace(callService(base+okReturns+okExits, ""), "agency: revenue\n", "", 1), 10, "needs an agency"},
		{"bad agency", callService(base+"    agency: Rev\n"+okReturns+okExits, ""), 11, `agency "Rev"`},
		{"bad operation", callService("    operation: Pin-Status\n"+okReturns+okExits, ""), 11, `operation "Pin-Status"`},
		{"long operation", callService("    operation: "+strings.Repeat("a", 42)+"\n"+okReturns+okExits, ""), 11, "at most 41"},
		{"deadline too short", callService(base+"    deadline: 100ms\n"+okReturns+okExits, ""), 11, "deadline 100ms must be between 500ms and 8s"},
		{"deadline too long", callService(base+"    deadline: 9s\n"+okReturns+okExits, ""), 11, "deadline 9s must be between"},
		{"bad deadline", callService(base+"    deadline: soon\n"+okReturns+okExits, ""), 15, "soon"},
		{"send unknown", callService("    operation: op\n    send: [ghost]\n"+okReturns+okExits, ""), 11, `send "ghost" is not a field`},
		{"send a list", callService("    operation: op\n    send: [slots]\n"+okReturns+okExits, ""), 11, `send "slots": a list cannot be sent`},
		{"no exits", callService(base+okReturns, ""), 11, "needs exits"},
		{"exit missing", callService(base+okReturns+"    exits: {found: show, not_found: none, failed: failed}\n", ""), 11, "exit timeout is missing"},
		{"exit dangling", callService(base+okReturns+"    exits: {found: show, not_found: none, failed: failed, timeout: zz}\n", ""), 11, `exit timeout: step "zz" does not exist`},
		{"unknown exit", callService(base+okReturns+"    exits: {ok: show}\n", ""), 19, "field ok not found in exits"},
		{"later exit not an end", callService(base+"    later: true\n"+okReturns+"    exits: {found: show, not_found: pin, failed: failed, timeout: late}\n", ""), 11, `exit not_found leads to input step "pin": with later, every exit must be an end step`},
		{"too many returns", callService(base+"    returns:\n"+manyReturns(13)+okExits, ""), 11, "at most 12 returns"},
		{"bad return name", callService(base+"    returns:\n      Status: {type: text, max_length: 5}\n"+okExits, ""), 11, `return "Status": name must be`},
		{"return without type", callService(base+"    returns:\n      status: {max_length: 5}\n"+okExits, ""), 11, `return "status": needs a type`},
		{"unknown return type", callService(base+"    returns:\n      status: {type: bool}\n"+okExits, ""), 11, `unknown type "bool"`},
		{"unknown return field", callService(base+"    returns:\n      status: {type: text, max_len: 5}\n"+okExits, ""), 16, "field max_len not found in return"},
		{"text without max_length", callService(base+"    returns:\n      name: {type: text}\n"+okExits, ""), 11, "a text needs max_length between 1 and 160"},
		{"text too long", callService(base+"    returns:\n      name: {type: text, max_length: 161}\n"+okExits, ""), 11, "not 161"},
		{"values and a wrong max_length", callService(base+"    returns:\n      status: {type: text, values: [valid], max_length: 9}\n"+okExits, ""), 11, "max_length 9 is not the longest of values (5)"},
		{"values twice", callService(base+"    returns:\n      status: {type: text, values: [a, a]}\n"+okExits, ""), 11, "values must be distinct"},
		{"values on a number", callService(base+"    returns:\n      n: {type: number, values: ['1']}\n"+okExits, ""), 11, "values apply to text only"},
		{"min above max", callService(base+"    returns:\n      n: {type: number, min: 5, max: 1}\n"+okExits, ""), 11, "min 5 is above max 1"},
		{"min on a date", callService(base+"    returns:\n      d: {type: date, min: 1}\n"+okExits, ""), 11, "min and max apply to numbers only"},
		{"max_length on a date", callService(base+"    returns:\n      d: {type: date, max_length: 10}\n"+okExits, ""), 11, "max_length applies to text only"},
		{"unicode on a number", callService(base+"    returns:\n      n: {type: number, unicode: true}\n"+okExits, ""), 11, "unicode applies to text only"},
		{"list without item", callService(base+"    returns:\n      l: {type: list, max_items: 3}\n"+okExits, ""), 11, "a list needs an item type"},
		{"list of lists", callService(base+"    returns:\n      l: {type: list, item: list, max_items: 3}\n"+okExits, ""), 11, `unknown item type "list"`},
		{"list without max_items", callService(base+"    returns:\n      l: {type: list, item: date}\n"+okExits, ""), 11, "max_items 0 must be between 1 and 9"},
		{"list too long", callService(base+"    returns:\n      l: {type: list, item: date, max_items: 10}\n"+okExits, ""), 11, "max_items 10"},
		{"list of text without max_length", callService(base+"    returns:\n      l: {type: list, item: text, max_items: 3}\n"+okExits, ""), 11, "a text needs max_length"},
		{"required list", callService(base+"    returns:\n      l: {type: list, item: date, max_items: 3, required: true}\n"+okExits, ""), 11, "a list cannot be required"},
		{"item on a text", callService(base+"    returns:\n      t: {type: text, max_length: 3, max_items: 3}\n"+okExits, ""), 11, "apply to lists only"},
		{"remind without changes", callService(base+okReturns+okExits+"    remind: {at: start, before: 24h, key: pin, text: r}\n", ""), 11, "remind is for a call that changes something"},
		{"remind at a text", callService(base+"    changes: true\n"+okReturns+okExits+"    remind: {at: status, before: 24h, key: pin, text: r}\n", ""), 11, `remind at "status" must be a datetime return of this step`},
		{"remind of an unknown key", callService(base+"    changes: true\n"+okReturns+okExits+"    remind: {at: start, before: 24h, key: ghost, text: r}\n", ""), 11, `remind key "ghost"`},
		{"remind before nothing", callService(base+"    changes: true\n"+okReturns+okExits+"    remind: {at: start, key: pin, text: r}\n", ""), 11, "remind before must be a positive duration"},
		{"remind without text", callService(base+"    changes: true\n"+okReturns+okExits+"    remind: {at: start, before: 1h, key: pin}\n", ""), 11, "remind needs a text"},
		{"cancel with more", callService(base+"    changes: true\n"+okReturns+okExits+"    remind: {key: pin, cancel: true, text: r}\n", ""), 11, "a remind that cancels takes only key and cancel"},
		{"call settings on an input", strings.Replace(callService(base+okReturns+okExits, ""), "    type: text\n", "    type: text\n    operation: x\n", 1), 5, "apply to call steps only, not a input step"},
		{"options_from on an input", strings.Replace(callService(base+okReturns+okExits, ""), "    type: text\n", "    type: text\n    options_from: slots\n", 1), 5, "options_from applies to menus only"},
		{"options_from not a list", callService(base+okReturns+"    exits: {found: pick, not_found: none, failed: failed, timeout: late}\n",
			"  - {id: pick, kind: menu, text: p, field: slot, options_from: status, next: show}\n"), 24, `options_from "status" is not a list return`},
		{"options_from without next", callService(base+okReturns+"    exits: {found: pick, not_found: none, failed: failed, timeout: late}\n",
			"  - {id: pick, kind: menu, text: p, field: slot, options_from: slots}\n"), 24, "a menu with options_from needs a next"},
		{"submit goes on without field", callService(base+okReturns+"    exits: {found: c, not_found: none, failed: failed, timeout: late}\n",
			"  - {id: c, kind: confirm, text: c, summary: [pin], next: sub}\n  - {id: sub, kind: submit, next: show}\n"), 25, "needs a field to keep the case's reference in"},
		{"answer goes on", callService(base+okReturns+"    exits: {found: c, not_found: none, failed: failed, timeout: late}\n",
			"  - {id: c, kind: confirm, text: c, summary: [pin], next: sub}\n  - {id: sub, kind: submit, action: answer_info, field: pin, summary: [pin], next: show}\n"), 25, "only a submit that creates a case can go on"},
		{"call that loops", callService(base+okReturns+"    exits: {found: check, not_found: check, failed: check, timeout: check}\n", ""), 11, "never reaches an end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, tt.yaml, tt.line, tt.want)
		})
	}
}

func manyReturns(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("      r" + string(rune('a'+i)) + ": {type: date}\n")
	}
	return b.String()
}

// TestParseCallAccepts: the shapes the spec allows load, with the
// defaults the loader fills in.
func TestParseCallAccepts(t *testing.T) {
	base := "    operation: pin_status\n    send: [pin]\n"
	tests := []struct {
		name  string
		yaml  string
		check func(*Service) string
	}{
		{"default deadline", callService(base+okReturns+okExits, ""), func(s *Service) string {
			if d := s.Step("check").Deadline; d != DefaultDeadline {
				return "deadline " + d.String()
			}
			return ""
		}},
		{"max_length from values", callService(base+okReturns+okExits, ""), func(s *Service) string {
			if n := s.Step("check").Returns["status"].MaxLength; n != len("invalid") {
				return "max_length is not the longest value"
			}
			return ""
		}},
		{"later with every exit an end", callService(base+"    later: true\n"+okReturns+okExits, ""), nil},
		{"remind and cancel", callService(base+"    changes: true\n"+okReturns+okExits+"    remind: {key: pin, cancel: true}\n", ""), nil},
		{"step agency overrides", strings.Replace(callService(base+"    agency: registry\n"+okReturns+okExits, ""), "agency: revenue\n", "", 1), nil},
		{"send a result", callService(base+okReturns+"    exits: {found: again, not_found: none, failed: failed, timeout: late}\n",
			"  - {id: again, kind: call, operation: more, send: [status, pin], exits: {found: show, not_found: none, failed: failed, timeout: late}}\n"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("svc.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				if why := tt.check(s); why != "" {
					t.Error(why)
				}
			}
		})
	}
}

// FuzzParseCalls checks the loader on call steps: no definition panics
// it, and a call step it accepts has its four exits and a deadline in
// bounds, and every return a type.
func FuzzParseCalls(f *testing.F) {
	entries, err := os.ReadDir("testdata/calls")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile("testdata/calls/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 || ps[0].File != "f.yaml" {
				t.Fatalf("error without file: %v", err)
			}
			return
		}
		for _, st := range s.Steps {
			if st.Kind != StepCall {
				continue
			}
			for _, x := range st.Exits.exits() {
				if s.Step(x.Step) == nil {
					t.Fatalf("call %s: exit %s leads to no step", st.ID, x.Outcome)
				}
			}
			if st.Deadline < minDeadline || st.Deadline > maxDeadline {
				t.Fatalf("call %s: deadline %s accepted", st.ID, st.Deadline)
			}
			for name, r := range st.Returns {
				if r == nil || r.Type == "" {
					t.Fatalf("call %s: return %s without a type", st.ID, name)
				}
			}
		}
	})
}
