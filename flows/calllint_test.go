package flows

import (
	"os"
	"reflect"
	"testing"
)

func TestLintResults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"sent on every way", callService("    operation: op\n    send: [pin]\n"+okReturns+"    exits: {found: again, not_found: none, failed: failed, timeout: late}\n",
			"  - {id: again, kind: call, operation: more, send: [status], exits: {found: show, not_found: none, failed: failed, timeout: late}}\n"), nil},
		{"a result sent after a way that did not find it", callService("    operation: op\n    send: [pin]\n"+okReturns+"    exits: {found: again, not_found: again, failed: failed, timeout: late}\n",
			"  - {id: again, kind: call, operation: more, send: [status], exits: {found: show, not_found: none, failed: failed, timeout: late}}\n"),
			[]string{`24 again result: send "status" is not set on every way from the start step "pin" to here`}},
		{"a list offered after a way that did not find it", callService("    operation: op\n    send: [pin]\n"+okReturns+"    exits: {found: pick, not_found: pick, failed: none, timeout: late}\n",
			"  - {id: pick, kind: menu, text: p, field: slot, options_from: slots, next: show, options: [{value: x, text: x, next: failed}]}\n"),
			[]string{`24 pick result: options_from "slots" is not set on every way from the start step "pin" to here`}},
		{"a remind keyed by what a branch skipped", `id: s
title: t
agency: a
steps:
  - id: kind
    kind: menu
    text: k
    field: kind
    options:
      - {value: a, text: a, next: ref}
      - {value: b, text: b, next: book}
  - {id: ref, kind: input, type: reference, text: r, field: reference, next: book}
  - id: book
    kind: call
    operation: book
    changes: true
    returns: {start: {type: datetime}}
    remind: {at: start, before: 1h, key: reference, text: r}
    exits: {found: done, not_found: done, failed: done, timeout: done}
  - {id: done, kind: end, text: d}
`, []string{`13 book result: remind key "reference" is not set on every way from the start step "kind" to here`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := brief(mustParse(t, tt.yaml).lint())
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLintCallCatalog(t *testing.T) {
	c, err := Load(os.DirFS("testdata/calls"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Lint(); len(got) > 0 {
		t.Errorf("findings on testdata/calls:\n%v", got)
	}
	uses := map[string]MessageUse{}
	for _, u := range c.MessageUses() {
		uses[u.ID] = u
	}
	if u := uses["appt.reminder"]; u.Service != "appt" || u.Step != "book" || u.Line != 56 {
		t.Errorf("use of the reminder text = %+v, want appt.yaml:56 in step book", u)
	}
	if u := uses[itemMessage]; u.Step != "choose" {
		t.Errorf("use of %s = %+v, want the menu offering the list", itemMessage, u)
	}
}

func TestWaysOfCalls(t *testing.T) {
	c, err := Load(os.DirFS("testdata/calls"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Service("appt")
	var got []string
	for _, id := range []string{"slots", "choose", "submit"} {
		for _, w := range s.Ways(s.Step(id)) {
			got = append(got, id+" "+string(w.Outcome)+" "+w.To)
		}
	}
	want := []string{"slots found choose", "slots not_found none", "slots failed try_later", "slots timeout try_later",
		"choose  none", "choose  hold", "submit  book"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ways = %q, want %q", got, want)
	}
}
