package locales

import (
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gsm7"
)

func mustNew(t testing.TB, extra ...fs.FS) *Bundle {
	t.Helper()
	b, err := New(extra...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLangs(t *testing.T) {
	b := mustNew(t)
	if got := strings.Join(b.Langs(), " "); got != "en fr sw" {
		t.Errorf("Langs() = %s, want en fr sw", got)
	}
	b.Langs()[0] = "xx"
	if b.Langs()[0] != Default {
		t.Error("Langs() returns the bundle's own slice")
	}
	for _, lang := range []string{"en", "fr", "sw"} {
		if !b.Supports(lang) {
			t.Errorf("Supports(%s) = false", lang)
		}
	}
	if b.Supports("de") || b.Supports("") {
		t.Error("Supports accepts a language that has no messages")
	}
}

// TestComplete fails when any message is missing from any language: a
// missing translation must never reach a citizen as another language.
func TestComplete(t *testing.T) {
	for _, g := range mustNew(t).Gaps() {
		t.Error(g)
	}
	gapped := mustNew(t, fstest.MapFS{"x.fr.yaml": {Data: []byte("only.fr: Seulement\n")}})
	var got []string
	for _, g := range gapped.Gaps() {
		got = append(got, g.String())
	}
	want := "message only.fr is missing in locale en|message only.fr is missing in locale sw"
	if strings.Join(got, "|") != want {
		t.Errorf("Gaps = %q, want %q", got, want)
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// placeholders returns the sorted, distinct argument names a template uses.
func placeholders(tmpl string) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

// TestPlaceholdersMatch checks that each translation uses exactly the
// arguments its English message uses, so no value is dropped or invented.
func TestPlaceholdersMatch(t *testing.T) {
	b := mustNew(t)
	for _, id := range b.IDs(Default) {
		want := strings.Join(placeholders(b.raw(Default, id)), ",")
		for _, lang := range b.Langs()[1:] {
			if got := strings.Join(placeholders(b.raw(lang, id)), ","); got != want {
				t.Errorf("%s in %s uses {%s}, English uses {%s}", id, lang, got, want)
			}
		}
	}
}

// TestTemplatesExecute runs every message of every language with the
// arguments its English version uses: each must parse, execute and show
// every argument.
func TestTemplatesExecute(t *testing.T) {
	b := mustNew(t)
	for _, lang := range b.Langs() {
		for _, id := range b.IDs(lang) {
			names := placeholders(b.raw(Default, id))
			args := map[string]any{}
			for _, name := range names {
				args[name] = "<" + name + ">"
			}
			got := b.Text(lang, channels.Message{ID: id, Args: args})
			switch {
			case got == "" || strings.Contains(got, "[["):
				t.Errorf("%s %s: does not execute: %q", lang, id, got)
			case strings.Contains(got, "<no value>") || strings.Contains(got, "{{"):
				t.Errorf("%s %s: argument left unfilled: %q", lang, id, got)
			}
			for _, name := range names {
				if !strings.Contains(got, "<"+name+">") {
					t.Errorf("%s %s: argument %s not shown: %q", lang, id, name, got)
				}
			}
		}
	}
	if b.Missing() != 0 {
		t.Errorf("Missing() = %d after executing every shipped message", b.Missing())
	}
}

// TestGSM7 keeps every shipped text in the GSM-7 alphabet, so that a USSD
// page holds 182 characters instead of about 80 and an SMS segment 160
// instead of 70.
func TestGSM7(t *testing.T) {
	b := mustNew(t)
	for _, lang := range b.Langs() {
		for _, id := range b.IDs(lang) {
			text := b.raw(lang, id)
			if _, ok := gsm7.Septets(text); !ok {
				var bad []string
				for _, r := range text {
					if _, ok := gsm7.Septets(string(r)); !ok {
						bad = append(bad, string(r))
					}
				}
				t.Errorf("%s %s: %q is not GSM-7 (%s)", lang, id, text, strings.Join(bad, " "))
			}
		}
	}
}

// TestShippedFiles checks the layout of the shipped message files: flat
// maps of strings, sorted by ID, each ID in one file of its language only.
func TestShippedFiles(t *testing.T) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{} // lang + " " + id → file
	for _, name := range names {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			t.Errorf("%s: not a map of message ID to text", name)
			continue
		}
		lang := strings.TrimSuffix(name[strings.IndexByte(name, '.')+1:], ".yaml")
		prev := ""
		nodes := doc.Content[0].Content
		for i := 0; i+1 < len(nodes); i += 2 {
			id, text := nodes[i], nodes[i+1]
			if text.Kind != yaml.ScalarNode || text.Value == "" {
				t.Errorf("%s:%d: %s is not a plain text", name, id.Line, id.Value)
			}
			if id.Value <= prev {
				t.Errorf("%s:%d: %s is out of order or repeated (after %s); keep the file sorted by ID", name, id.Line, id.Value, prev)
			}
			prev = id.Value
			if other, ok := owner[lang+" "+id.Value]; ok {
				t.Errorf("%s:%d: %s is also in %s", name, id.Line, id.Value, other)
			}
			owner[lang+" "+id.Value] = name
		}
	}
}

// TestSystemIDs pins the message IDs the engine and the channels use.
func TestSystemIDs(t *testing.T) {
	b := mustNew(t)
	ids := []string{
		"home.title", "home.language", "lang.prompt", "lang.name",
		"confirm.yes", "confirm.cancel", "summary.line", "end.cancelled", "case.line",
		"error.required", "error.too_short", "error.too_long", "error.pattern",
		"error.number", "error.number_range", "error.date_format", "error.date_before",
		"error.date_after", "error.phone", "error.national_id", "error.reference",
		"error.choice", "error.internal", "error.not_found", "error.conflict",
		"error.session_unknown", "error.bad_request", "error.too_large",
		"nav.back", "nav.home", "nav.more",
		"resume.prompt", "resume.continue", "resume.restart",
	}
	for _, s := range []channels.Status{
		channels.StatusSubmitted, channels.StatusInReview, channels.StatusMoreInfo,
		channels.StatusApproved, channels.StatusRejected, channels.StatusReady, channels.StatusClosed,
	} {
		ids = append(ids, "status."+string(s))
	}
	for _, lang := range b.Langs() {
		for _, id := range ids {
			if !b.Has(lang, id) {
				t.Errorf("system message %s is missing in %s", id, lang)
			}
		}
	}
}

func TestText(t *testing.T) {
	b := mustNew(t, fstest.MapFS{
		"test.en.yaml": {Data: []byte("test.cases:\n  one: \"{{.Count}} case\"\n  other: \"{{.Count}} cases\"\n")},
		"test.fr.yaml": {Data: []byte("test.cases:\n  one: \"{{.Count}} dossier\"\n  other: \"{{.Count}} dossiers\"\n")},
	})
	label := channels.Msg("birth.sex.label")
	tests := []struct {
		name string
		lang string
		msg  channels.Message
		want string
	}{
		{"plain", "en", channels.Msg("nav.back"), "Back"},
		{"french", "fr", channels.Msg("nav.back"), "Retour"},
		{"swahili", "sw", channels.Msg("nav.back"), "Rudi"},
		{"argument", "en", channels.Msg("error.too_short", "Min", 2), "At least 2 characters."},
		{"two arguments", "fr", channels.Msg("error.number_range", "Min", 1, "Max", 9), "Entrez un nombre entre 1 et 9."},
		{"nested message in the reader's language", "sw", channels.Msg("summary.line", "Label", label, "Value", channels.Msg("birth.sex.female")), "Jinsia: Kike"},
		{"nested message by pointer", "en", channels.Msg("summary.line", "Label", &label, "Value", "Female"), "Sex: Female"},
		{"nested twice", "fr", channels.Msg("case.line", "Reference", "BC-7Q2K", "Service", channels.Msg("birth.title"), "Status", channels.Msg("status.ready")), "BC-7Q2K Acte de naissance: Disponible au guichet"},
		{"message read in its own language", "en", channels.Message{ID: "lang.name", Lang: "sw"}, "Kiswahili"},
		{"nested message read in its own language", "en", channels.Msg("summary.line", "Label", "Lang", "Value", channels.Message{ID: "lang.name", Lang: "fr"}), "Lang: Francais"},
		{"count without plural forms", "en", channels.Msg("check.case", "Count", 1), "Your application:"},
		{"plural form one", "en", channels.Msg("test.cases", "Count", 1), "1 case"},
		{"plural form other", "en", channels.Msg("test.cases", "Count", 3), "3 cases"},
		{"french plural of zero is one", "fr", channels.Msg("test.cases", "Count", 0), "0 dossier"},
		{"count that is not an int", "en", channels.Msg("test.cases", "Count", "3"), "3 cases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Text(tt.lang, tt.msg); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
		})
	}
	if b.Missing() != 0 {
		t.Errorf("Missing() = %d, want 0", b.Missing())
	}
}

// TestTextMissing checks that a missing message never falls back to
// another language: it is visible and counted.
func TestTextMissing(t *testing.T) {
	b := mustNew(t, fstest.MapFS{"extra.en.yaml": {Data: []byte("only.english: Only in English\n")}})
	loop := channels.Msg("summary.line", "Label", "x")
	loop.Args["Value"] = loop // an argument map that contains itself
	tests := []struct {
		name string
		lang string
		msg  channels.Message
		want string
	}{
		{"unknown id", "fr", channels.Msg("no.such.id"), "[[no.such.id]]"},
		{"present in English only", "sw", channels.Msg("only.english"), "[[only.english]]"},
		{"unknown language", "xx", channels.Msg("nav.back"), "[[nav.back]]"},
		{"empty language", "", channels.Msg("nav.back"), "[[nav.back]]"},
		{"missing nested message", "en", channels.Msg("summary.line", "Label", channels.Msg("no.label"), "Value", "1"), "[[no.label]]: 1"},
		{"self-referencing arguments", "en", loop, "x: x: x: x: x: [[summary.line]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.Missing()
			if got := b.Text(tt.lang, tt.msg); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
			if b.Missing() != before+1 {
				t.Errorf("Missing() went from %d to %d, want one more", before, b.Missing())
			}
		})
	}
}

func TestMatch(t *testing.T) {
	b := mustNew(t)
	tests := []struct {
		name  string
		prefs []string
		want  string
	}{
		{"nothing", nil, "en"},
		{"empty header", []string{""}, "en"},
		{"exact", []string{"sw"}, "sw"},
		{"upper case", []string{"FR"}, "fr"},
		{"regional variant", []string{"fr-CM"}, "fr"},
		{"swahili of Tanzania", []string{"sw-TZ"}, "sw"},
		{"british english", []string{"en-GB"}, "en"},
		{"weighted header", []string{"de;q=0.9, sw-KE;q=0.8, en;q=0.1"}, "sw"},
		{"header order", []string{"fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7"}, "fr"},
		{"wildcard", []string{"*"}, "en"},
		{"unsupported", []string{"zh"}, "en"},
		{"unsupported then supported", []string{"zh, sw;q=0.5"}, "sw"},
		{"first usable preference", []string{"garbage;;", "fr"}, "fr"},
		{"earlier argument wins", []string{"sw", "fr"}, "sw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Match(tt.prefs...); got != tt.want {
				t.Errorf("Match(%q) = %s, want %s", tt.prefs, got, tt.want)
			}
		})
	}
}

func TestExtraFiles(t *testing.T) {
	b := mustNew(t, fstest.MapFS{
		"mine.en.yaml":     {Data: []byte("nav.back: Go back\npermit.title: Market permit\n")},
		"mine.fr.yaml":     {Data: []byte("permit.title: Permis de marché\n")},
		"sub/skip.en.yaml": {Data: []byte("nav.home: Not loaded\n")},
	})
	tests := []struct {
		name string
		lang string
		id   string
		want string
	}{
		{"override", "en", "nav.back", "Go back"},
		{"other languages keep the shipped text", "fr", "nav.back", "Retour"},
		{"added", "fr", "permit.title", "Permis de marché"},
		{"only the root is read", "en", "nav.home", "Home"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Text(tt.lang, channels.Msg(tt.id)); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
		})
	}
	if !b.Has("fr", "permit.title") || b.Has("sw", "permit.title") {
		t.Error("Has does not reflect the extra files")
	}
	later := mustNew(t, fstest.MapFS{"a.en.yaml": {Data: []byte("nav.back: First\n")}}, fstest.MapFS{"a.en.yaml": {Data: []byte("nav.back: Second\n")}})
	if got := later.Text("en", channels.Msg("nav.back")); got != "Second" {
		t.Errorf("later file system: %q, want Second", got)
	}
	added := mustNew(t, fstest.MapFS{"mine.pt.yaml": {Data: []byte("nav.back: Voltar\n")}})
	if got := strings.Join(added.Langs(), " "); got != "en fr sw pt" {
		t.Errorf("Langs() with a new unlisted language = %s, want it after the listed ones", got)
	}
	reordered := mustNew(t, fstest.MapFS{
		"mine.pt.yaml": {Data: []byte("nav.back: Voltar\n")},
		"langs.txt":    {Data: []byte("# ours\nen\npt # first after English\nsw\n")},
	})
	if got := strings.Join(reordered.Langs(), " "); got != "en pt sw fr" {
		t.Errorf("Langs() with an operator's langs.txt = %s, want en pt sw fr", got)
	}
}

func TestOrderErrors(t *testing.T) {
	tests := []struct {
		name  string
		order string
		want  string
	}{
		{"language without messages", "en\nfr\nzz\n", `"zz" has no message files`},
		{"listed twice", "en\nsw\nsw\n", `"sw" is listed twice`},
		{"default not first", "fr\nen\n", "must come first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(fstest.MapFS{"langs.txt": {Data: []byte(tt.order)}})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "langs.txt") {
				t.Fatalf("New = %v, want an error naming langs.txt and %q", err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		data string
	}{
		{"broken yaml", "bad.en.yaml", "a: [\n"},
		{"no language in the name", "catalog.yaml", "a: b\n"},
		{"not a map", "list.fr.yaml", "- a\n- b\n"},
		{"empty file", "empty.sw.yaml", ""},
		{"empty text", "blank.en.yaml", "nav.back: \"\"\n"},
		{"plural without other", "plural.en.yaml", "test.cases:\n  one: one case\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(fstest.MapFS{tt.file: {Data: []byte(tt.data)}})
			if err == nil || !strings.Contains(err.Error(), tt.file) {
				t.Errorf("err = %v, want one naming %s", err, tt.file)
			}
		})
	}
}

func BenchmarkText(b *testing.B) {
	bundle := mustNew(b)
	benchmarks := []struct {
		name string
		msg  channels.Message
	}{
		{"nested", channels.Msg("summary.line", "Label", channels.Msg("birth.sex.label"), "Value", "Female")},
		{"args", channels.Msg("error.number_range", "Min", 1, "Max", 9)},
		{"static", channels.Msg("birth.child_name")},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bundle.Text("fr", bm.msg)
			}
		})
	}
}
