package locales

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/govchannels/channels"
)

func mustNew(t testing.TB) *Bundle {
	t.Helper()
	b, err := New()
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
}

// TestComplete fails when any message is missing from any language: a
// missing translation must never reach a citizen as another language.
func TestComplete(t *testing.T) {
	b := mustNew(t)
	all := map[string]bool{}
	for _, lang := range b.Langs() {
		for _, id := range b.IDs(lang) {
			all[id] = true
		}
	}
	for _, lang := range b.Langs() {
		var missing []string
		for id := range all {
			if !b.Has(lang, id) {
				missing = append(missing, id)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("locale %s lacks %d messages: %s", lang, len(missing), strings.Join(missing, ", "))
		}
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// TestPlaceholdersMatch checks that each translation uses exactly the
// arguments its English message uses, so no value is dropped or invented.
func TestPlaceholdersMatch(t *testing.T) {
	b := mustNew(t)
	args := func(lang, id string) string {
		text := b.raw(lang, id)
		var names []string
		for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
			names = append(names, m[1])
		}
		sort.Strings(names)
		return strings.Join(names, ",")
	}
	for _, id := range b.IDs(Default) {
		want := args(Default, id)
		for _, lang := range b.Langs()[1:] {
			if got := args(lang, id); got != want {
				t.Errorf("%s in %s uses {%s}, English uses {%s}", id, lang, got, want)
			}
		}
	}
}

func TestText(t *testing.T) {
	b, err := New(fstest.MapFS{"test.en.yaml": {Data: []byte("test.cases:\n  one: \"{{.Count}} case\"\n  other: \"{{.Count}} cases\"\n")}})
	if err != nil {
		t.Fatal(err)
	}
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
		{"nested message in the reader's language", "sw", channels.Msg("summary.line", "Label", channels.Msg("birth.sex.label"), "Value", channels.Msg("birth.sex.female")), "Jinsia: Kike"},
		{"message read in its own language", "en", channels.Message{ID: "lang.name", Lang: "sw"}, "Kiswahili"},
		{"count without plural forms", "en", channels.Msg("check.case", "Count", 1), "Your application:"},
		{"plural form one", "en", channels.Msg("test.cases", "Count", 1), "1 case"},
		{"plural form other", "en", channels.Msg("test.cases", "Count", 3), "3 cases"},
		{"unknown language", "xx", channels.Msg("nav.back"), "[[nav.back]]"},
		{"missing message is visible", "fr", channels.Msg("no.such.id"), "[[no.such.id]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Text(tt.lang, tt.msg); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
		})
	}
	if b.Missing() != 2 {
		t.Errorf("Missing() = %d, want 2", b.Missing())
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
		{"regional variant", []string{"fr-CM"}, "fr"},
		{"weighted header", []string{"de;q=0.9, sw-KE;q=0.8, en;q=0.1"}, "sw"},
		{"unsupported", []string{"zh"}, "en"},
		{"first usable preference", []string{"garbage;;", "fr"}, "fr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Match(tt.prefs...); got != tt.want {
				t.Errorf("Match(%q) = %s, want %s", tt.prefs, got, tt.want)
			}
		})
	}
}

func TestExtraFilesOverrideAndAdd(t *testing.T) {
	b, err := New(fstest.MapFS{
		"mine.en.yaml": {Data: []byte("nav.back: Go back\npermit.title: Market permit\n")},
		"mine.fr.yaml": {Data: []byte("permit.title: Permis de marché\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Text("en", channels.Msg("nav.back")); got != "Go back" {
		t.Errorf("override = %q", got)
	}
	if got := b.Text("fr", channels.Msg("permit.title")); got != "Permis de marché" || !b.Has("fr", "permit.title") {
		t.Errorf("added = %q", got)
	}
	if _, err := New(fstest.MapFS{"bad.en.yaml": {Data: []byte("a: [\n")}}); err == nil || !strings.Contains(err.Error(), "bad.en.yaml") {
		t.Errorf("broken file: err = %v", err)
	}
}

func BenchmarkText(b *testing.B) {
	bundle := mustNew(b)
	m := channels.Msg("summary.line", "Label", channels.Msg("birth.sex.label"), "Value", "Female")
	b.ReportAllocs()
	for b.Loop() {
		bundle.Text("fr", m)
	}
}
