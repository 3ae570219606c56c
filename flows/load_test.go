package flows

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadCatalog(t *testing.T) {
	c, err := Load(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{c.Services[0].ID, c.Services[1].ID}; got[0] != "permit" || got[1] != "lookup" {
		t.Fatalf("services in order = %v, want [permit lookup]", got)
	}
	if c.Service("permit").Step("kind").Line != 14 {
		t.Errorf("line of step kind = %d, want 14", c.Service("permit").Step("kind").Line)
	}
	if c.Service("nope") != nil {
		t.Error("unknown service found")
	}
	var ids []string
	for _, m := range c.Messages() {
		ids = append(ids, m.ID)
	}
	for _, want := range []string{"permit.title", "permit.kind.event", "permit.id.label", "lookup.none"} {
		if !strings.Contains(strings.Join(ids, " "), want) {
			t.Errorf("Messages() lacks %s", want)
		}
	}
}

// TestParseProblems feeds broken definitions and checks that each problem is
// reported with the line and the reason an author needs.
func TestParseProblems(t *testing.T) {
	const head = "id: s\ntitle: s.title\nsteps:\n"
	tests := []struct {
		name string
		yaml string
		line int
		want string
	}{
		{"empty file", "", 0, "the file is empty"},
		{"syntax error", "id: [unclosed\n", 1, "did not find expected"},
		{"tab indentation", "id: s\n\tsteps: []\n", 2, "tab"},
		{"unknown field", head + "  - id: a\n    kind: end\n    text: x\n    nxet: b\n", 7, "field nxet not found"},
		{"not a mapping", "- just\n- a list\n", 1, "must be a mapping"},
		{"bad service id", "id: Bad-Id\ntitle: t\nsteps:\n  - {id: a, kind: end, text: x}\n", 1, `service id "Bad-Id"`},
		{"no title", "id: s\nsteps:\n  - {id: a, kind: end, text: x}\n", 1, "has no title"},
		{"no steps", "id: s\ntitle: t\n", 1, "has no steps"},
		{"duplicate step", head + "  - {id: a, kind: end, text: x}\n  - {id: a, kind: end, text: y}\n", 5, "already used at line 4"},
		{"missing kind", head + "  - {id: a, text: x}\n", 4, "kind is required"},
		{"unknown kind", head + "  - {id: a, kind: photo, text: x}\n", 4, `unknown kind "photo"`},
		{"missing text", head + "  - {id: a, kind: end}\n", 4, "text (a message ID) is required"},
		{"dangling next", head + "  - {id: a, kind: input, type: text, field: f, text: x, next: b}\n", 4, `next step "b" does not exist`},
		{"dangling option", head + "  - id: a\n    kind: menu\n    text: x\n    field: f\n    options:\n      - {value: v, text: t, next: zz}\n", 4, `option "v": next step "zz"`},
		{"option leads nowhere", head + "  - id: a\n    kind: menu\n    text: x\n    field: f\n    options:\n      - {value: v, text: t}\n", 4, "leads nowhere"},
		{"unknown action", head + "  - {id: a, kind: submit, action: pay, text: x}\n", 4, `action must be empty (create a case) or "answer_info"`},
		{"action on an end step", head + "  - {id: a, kind: end, action: answer_info, text: x}\n", 4, "only a submit step has an action"},
		{"answer without its reference", head + "  - {id: a, kind: input, type: text, field: f, text: x, next: b}\n  - {id: b, kind: submit, action: answer_info, summary: [f], text: y}\n", 5, "needs the field that holds the reference"},
		{"answer without its note", head + "  - {id: a, kind: input, type: reference, field: r, text: x, next: b}\n  - {id: b, kind: submit, action: answer_info, field: r, text: y}\n", 5, "needs a summary"},
		{"answer from an unknown field", head + "  - {id: a, kind: input, type: reference, field: r, text: x, next: b}\n  - {id: b, kind: submit, action: answer_info, field: r, summary: [zz], text: y}\n", 5, `summary field "zz" is not set`},
		{"menu without options", head + "  - {id: a, kind: menu, text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, "a menu needs options"},
		{"input without type", head + "  - {id: a, kind: input, text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, "needs a type"},
		{"bad pattern", head + "  - {id: a, kind: input, type: text, pattern: '([', text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, "missing closing"},
		{"bad date bound", head + "  - {id: a, kind: input, type: date, max: tomorrow, text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, `"tomorrow" is not a date`},
		{"min above max", head + "  - {id: a, kind: input, type: number, min: '9', max: '1', text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, "min 9 is above max 1"},
		{"bounds on text", head + "  - {id: a, kind: input, type: text, min: '1', text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, "apply to number and date"},
		{"landline on a text input", head + "  - {id: a, kind: input, type: text, landline: true, text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, "landline applies to phone inputs only"},
		{"unknown check", head + "  - {id: a, kind: input, type: national_id, check: mod11, text: x, field: f, next: b}\n  - {id: b, kind: end, text: y}\n", 4, `unknown check "mod11"`},
		{"bad branch expression", head + "  - id: a\n    kind: input\n    type: text\n    text: x\n    field: f\n    next: b\n    branches:\n      - {if: 'answers.f ==', next: b}\n  - {id: b, kind: end, text: y}\n", 4, "branch 1: condition"},
		{"next on an end", head + "  - {id: a, kind: end, text: x, next: a}\n", 4, "cannot have next"},
		{"summary of unknown field", head + "  - {id: a, kind: confirm, text: x, summary: [ghost], next: b}\n  - {id: b, kind: submit, text: y}\n", 4, `summary field "ghost"`},
		{"lookup without field", head + "  - {id: a, kind: lookup, lookup: case, text: x, empty: e}\n", 4, "needs the field"},
		{"lookup without empty", head + "  - {id: a, kind: lookup, lookup: my_cases, text: x}\n", 4, "needs an empty text"},
		{"unknown start", "id: s\ntitle: t\nstart: zz\nsteps:\n  - {id: a, kind: end, text: x}\n", 1, `start step "zz" does not exist`},
		{"submit first", head + "  - {id: a, kind: submit, text: x}\n", 4, `step "a": a service cannot start with a submit`},
		{"submit as the start", "id: s\ntitle: t\nstart: b\nsteps:\n  - {id: a, kind: confirm, text: x, summary: [f], next: b}\n  - {id: b, kind: submit, text: y}\n", 6, `step "b": a service cannot start with a submit`},
		{"unreachable step", head + "  - {id: a, kind: end, text: x}\n  - {id: b, kind: end, text: y}\n", 5, `"b" cannot be reached`},
		{"loop without exit", head + "  - {id: a, kind: input, type: text, text: x, field: f, next: b}\n  - {id: b, kind: input, type: text, text: y, field: g, next: a}\n", 4, "never reaches an end"},
		{"two documents", head + "  - {id: a, kind: end, text: x}\n---\nid: t\n", 5, "second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, tt.yaml, tt.line, tt.want)
		})
	}
}

func TestLoadDuplicateServiceID(t *testing.T) {
	svc := "id: s\ntitle: t\nsteps:\n  - {id: a, kind: end, text: x}\n"
	_, err := Load(fstest.MapFS{
		"a.yaml":    {Data: []byte(svc)},
		"b.yml":     {Data: []byte(svc)},
		"notes.txt": {Data: []byte("ignored")},
	})
	if err == nil || !strings.Contains(err.Error(), `b.yml:1: service id "s" is already used by a.yaml:1`) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadEmptyCatalog(t *testing.T) {
	_, err := Load(fstest.MapFS{"README.md": {Data: []byte("x")}})
	if err == nil || !strings.Contains(err.Error(), "no service definitions") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadReportsEveryFile(t *testing.T) {
	_, err := Load(fstest.MapFS{
		"a.yaml": {Data: []byte("id: [\n")},
		"b.yaml": {Data: []byte("id: b\nsteps: []\n")},
	})
	if err == nil || !strings.Contains(err.Error(), "a.yaml:") || !strings.Contains(err.Error(), "b.yaml:1") {
		t.Fatalf("err = %v, want problems of both files", err)
	}
}

// FuzzParse checks that no definition, however broken, panics the loader,
// and that every refusal names the file.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/catalog/permit.yaml", "testdata/catalog/lookup.yaml"} {
		data, err := os.ReadFile(name)
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
		if s.Step(s.Start) == nil {
			t.Fatalf("accepted service without its start step %q", s.Start)
		}
	})
}

// wantProblem checks that Parse refuses yaml, read as svc.yaml, with a
// problem at line whose reason contains want.
func wantProblem(t *testing.T, yaml string, line int, want string) {
	t.Helper()
	_, err := Parse("svc.yaml", []byte(yaml))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("err = %v, want Problems", err)
	}
	for _, p := range ps {
		if p.File == "svc.yaml" && p.Line == line && strings.Contains(p.Reason, want) {
			return
		}
	}
	t.Errorf("problems:\n%v\nwant one at svc.yaml:%d containing %q", ps, line, want)
}
