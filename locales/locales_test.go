package locales

import (
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/services"
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
	// The order of langs.txt: Arabic came last, so French stays "2".
	if got := strings.Join(b.Langs(), " "); got != "en fr sw ar" {
		t.Errorf("Langs() = %s, want en fr sw ar", got)
	}
	b.Langs()[0] = "xx"
	if b.Langs()[0] != Default {
		t.Error("Langs() returns the bundle's own slice")
	}
	for _, lang := range []string{"en", "fr", "sw", "ar"} {
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
		if g.ID == "only.fr" { // the shipped gaps are reported above
			got = append(got, g.String())
		}
	}
	want := "message only.fr is missing in locale en|message only.fr is missing in locale sw|message only.fr is missing in locale ar"
	if strings.Join(got, "|") != want {
		t.Errorf("Gaps = %q, want %q", got, want)
	}
}

// TestCompletePluralForms checks that Gaps asks, of a message with plural
// forms, every form its language tells apart among the counts a citizen
// sees: two in English, and for 0 to 999 one and other in French (its
// "many" is for a million) but six in Arabic.
func TestCompletePluralForms(t *testing.T) {
	b := mustNew(t, fstest.MapFS{
		"t.en.yaml": {Data: []byte("test.n:\n  one: \"{{.Count}} case\"\n  other: \"{{.Count}} cases\"\n")},
		"t.fr.yaml": {Data: []byte("test.n:\n  one: \"{{.Count}} dossier\"\n  other: \"{{.Count}} dossiers\"\n")},
		"t.sw.yaml": {Data: []byte("test.n: \"Maombi {{.Count}}\"\n")}, // one form for every count
		"t.ar.yaml": {Data: []byte("test.n:\n  one: \"طلب واحد\"\n  few: \"{{.Count}} طلبات\"\n  other: \"{{.Count}} طلب\"\n")},
	})
	var got []string
	for _, g := range b.Gaps() {
		if g.ID == "test.n" { // the shipped gaps are TestComplete's
			got = append(got, g.String())
		}
	}
	want := []string{
		`message test.n is missing plural form "zero" in locale ar`,
		`message test.n is missing plural form "two" in locale ar`,
		`message test.n is missing plural form "many" in locale ar`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Gaps =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the gaps mean at run time: a count needing a missing form is
	// shown as the message ID, never as another form.
	before := b.Missing()
	if got := b.Text("ar", channels.Msg("test.n", "Count", 2)); got != "[[test.n]]" {
		t.Errorf("Text(ar, 2) = %q, want [[test.n]]", got)
	}
	if got := b.Text("ar", channels.Msg("test.n", "Count", 7)); got != "7 طلبات" {
		t.Errorf("Text(ar, 7) = %q", got)
	}
	if b.Missing() != before+1 {
		t.Errorf("Missing() went from %d to %d, want one more", before, b.Missing())
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// placeholders returns the sorted, distinct argument names templates use.
func placeholders(tmpls ...string) []string {
	seen := map[string]bool{}
	names := []string{}
	for _, tmpl := range tmpls {
		for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	sort.Strings(names)
	return names
}

var resultPlaceholder = regexp.MustCompile(`\.Result\.(\w+)`)

// resultFields returns the sorted, distinct results of agency calls
// templates read ({{.Result.name}}, {{if eq .Result.status "valid"}}).
func resultFields(tmpls ...string) []string {
	seen := map[string]bool{}
	names := []string{}
	for _, tmpl := range tmpls {
		for _, m := range resultPlaceholder.FindAllStringSubmatch(tmpl, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	sort.Strings(names)
	return names
}

// TestPlaceholdersMatch checks that each translation uses exactly the
// arguments its English message uses, so no value is dropped or invented.
// One exception: a message the engine shows with a count (the text of a
// lookup step) may show {{.Count}} in a language whose grammar wants the
// number ("آخر 3 طلبات لك") where English does without it.
func TestPlaceholdersMatch(t *testing.T) {
	b := mustNew(t)
	counted := countedIDs(t)
	for _, id := range b.IDs(Default) {
		want := placeholders(b.raw(Default, id))
		for _, lang := range b.Langs()[1:] {
			got := placeholders(b.rawForms(lang, id)...)
			if counted[id] && !slices.Contains(want, "Count") {
				got = slices.DeleteFunc(got, func(s string) bool { return s == "Count" })
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s in %s uses {%s}, English uses {%s}", id, lang, strings.Join(got, ","), strings.Join(want, ","))
			}
			if got, want := resultFields(b.rawForms(lang, id)...), resultFields(b.raw(Default, id)); !slices.Equal(got, want) {
				t.Errorf("%s in %s reads results {%s}, English reads {%s}", id, lang, strings.Join(got, ","), strings.Join(want, ","))
			}
		}
	}
	for id := range counted {
		if !b.Has(Default, id) {
			t.Errorf("the catalog shows %s with a count, but it has no message", id)
		}
	}
}

// countedIDs returns the messages the engine shows with a Count argument:
// the texts of the shipped catalog's lookup steps (the number of cases
// found).
func countedIDs(t *testing.T) map[string]bool {
	t.Helper()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, svc := range cat.Services {
		for _, st := range svc.Steps {
			if st.Kind == flows.StepLookup {
				ids[st.Text] = true
			}
		}
	}
	if len(ids) == 0 {
		t.Fatal("no lookup step in the shipped catalog: countedIDs has nothing to check")
	}
	return ids
}

// pluralCounts are counts that reach every plural form of the shipped
// languages: Arabic's zero, one, two, few (3-10), many (11-99) and other
// (100-102).
var pluralCounts = []int{0, 1, 2, 3, 10, 11, 99, 100, 101}

// TestTemplatesExecute runs every message of every language with the
// arguments its English version uses: each must parse, execute and show
// every argument. A message with plural forms is run with a count that
// reaches each of them.
func TestTemplatesExecute(t *testing.T) {
	b := mustNew(t)
	for _, lang := range b.Langs() {
		for _, id := range b.IDs(lang) {
			names := placeholders(b.raw(Default, id))
			args := map[string]any{}
			for _, name := range names {
				args[name] = "<" + name + ">"
			}
			// Results are shown as the engine gives them, a string each;
			// a text choosing by a result's value may not show it.
			if fields := resultFields(b.raw(Default, id)); len(fields) > 0 {
				result := map[string]string{}
				for _, f := range fields {
					result[f] = "<" + f + ">"
				}
				args["Result"] = result
			}
			counts := []int{-1} // no count
			if len(b.rawForms(lang, id)) > 1 {
				counts = pluralCounts
			}
			for _, n := range counts {
				if n >= 0 {
					args["Count"] = n
				}
				got := b.Text(lang, channels.Message{ID: id, Args: args})
				switch {
				case got == "" || strings.Contains(got, "[["):
					t.Errorf("%s %s (count %d): does not execute: %q", lang, id, n, got)
				case strings.Contains(got, "<no value>") || strings.Contains(got, "{{"):
					t.Errorf("%s %s (count %d): argument left unfilled: %q", lang, id, n, got)
				}
				for _, name := range names {
					if !strings.Contains(got, "<"+name+">") {
						t.Errorf("%s %s (count %d): argument %s not shown: %q", lang, id, n, name, got)
					}
				}
			}
		}
	}
	if b.Missing() != 0 {
		t.Errorf("Missing() = %d after executing every shipped message", b.Missing())
	}
}

// gsm7Langs are the shipped languages whose alphabet GSM-7 covers. Their
// texts must stay in it: a single character outside it (a curly quote
// pasted into French, a "ç" where the alphabet has only "Ç") makes the
// whole USSD page UCS-2, about 80 characters instead of 182, and doubles
// the cost of an SMS (70 characters a segment instead of 160). Arabic
// needs UCS-2 whatever we do, as would Hausa's hooked letters (ɓ ɗ ƙ):
// such languages are held to the UCS-2 budgets instead (TestBudgets).
var gsm7Langs = []string{"en", "fr", "sw"}

// TestGSM7 keeps every text of the GSM-7 languages in the GSM-7 alphabet.
func TestGSM7(t *testing.T) {
	b := mustNew(t)
	for _, lang := range gsm7Langs {
		if !b.Supports(lang) {
			t.Errorf("%s is not shipped any more: update gsm7Langs", lang)
		}
		for _, id := range b.IDs(lang) {
			for _, text := range b.rawForms(lang, id) {
				if _, ok := gsm7.Septets(text); !ok {
					var bad []string
					for _, r := range text {
						if _, ok := gsm7.Septets(string(r)); !ok {
							bad = append(bad, fmt.Sprintf("%q", r))
						}
					}
					t.Errorf("%s %s: %q is not GSM-7 (%s): it would make its page UCS-2", lang, id, text, strings.Join(bad, " "))
				}
			}
		}
	}
}

// The budgets of one text alone, in the encoding it needs: a USSD page
// (182 GSM-7 septets or 80 UCS-2 units, USSD.md) for every text a screen
// may show, two SMS segments (306 septets or 134 units) for the texts
// only SMS sends (smsOnly). The screens as a whole (a prompt under its
// refusal, with the navigation lines) are held to the same budgets by the
// ussd and sms tests and `channels validate`; this test names the message
// at fault.
const (
	budgetPageGSM7  = 182
	budgetPageUCS2  = 80
	budgetSMSParts  = 2
	budgetSampleArg = "4821773057" // a reference's ten digits, the longest common argument
)

// smsOnly reports whether the message id is sent as an SMS (or a push
// notice), never shown on a USSD page: the SMS texts, the sign-in code,
// the notices of a case's progress and the reminders of appointments.
func smsOnly(id string) bool {
	return strings.HasPrefix(id, "sms.") || strings.HasPrefix(id, "notice.") || id == "auth.code_sms" || strings.HasSuffix(id, ".reminder")
}

// overBudget says how the text of message id exceeds its budget in the
// encoding it needs; "" when it fits.
func overBudget(id, text string) string {
	length, ucs2 := gsm7.Length(text)
	unit := "GSM-7 septets"
	if ucs2 {
		unit = "UCS-2 units"
	}
	if smsOnly(id) {
		if parts, _ := gsm7.Segments(text); parts > budgetSMSParts {
			return fmt.Sprintf("%d SMS segments (%d %s), over %d", parts, length, unit, budgetSMSParts)
		}
		return ""
	}
	budget := budgetPageGSM7
	if ucs2 {
		budget = budgetPageUCS2
	}
	if length > budget {
		return fmt.Sprintf("%d %s, over a USSD page of %d", length, unit, budget)
	}
	return ""
}

// TestBudgets checks that every text of every language, each argument a
// ten-digit sample and each plural form with a count that selects it, fits
// its budget in the encoding it really needs: UCS-2 for Arabic, GSM-7 for
// the others (TestGSM7), whichever a text of an operator's language needs.
//
// A text showing results of agency calls is measured with the longest
// value each may take in the shipped catalog, and once with each value a
// result is declared to take, so that every branch of a text choosing by
// it ({{if eq .Result.status "valid"}}) is measured too.
func TestBudgets(t *testing.T) {
	b := mustNew(t)
	longest, values := catalogResults(t)
	for _, lang := range b.Langs() {
		for _, id := range b.IDs(lang) {
			args := map[string]any{}
			for _, name := range placeholders(b.rawForms(lang, id)...) {
				args[name] = budgetSampleArg
			}
			results := []map[string]string{nil}
			if fields := resultFields(b.rawForms(lang, id)...); len(fields) > 0 {
				base := map[string]string{}
				for _, f := range fields {
					base[f] = longest[f]
				}
				results = []map[string]string{base}
				for _, f := range fields {
					for _, v := range values[f] {
						r := maps.Clone(base)
						r[f] = v
						results = append(results, r)
					}
				}
			}
			counts := []int{-1}
			if len(b.rawForms(lang, id)) > 1 {
				counts = pluralCounts
			}
			for _, result := range results {
				if result != nil {
					args["Result"] = result
				}
				for _, n := range counts {
					if n >= 0 {
						args["Count"] = n
					}
					text := b.Text(lang, channels.Message{ID: id, Args: args})
					if why := overBudget(id, text); why != "" {
						t.Errorf("%s %s: %s: %q", lang, id, why, text)
					}
				}
			}
		}
	}
}

// catalogResults returns, for each result a call step of the shipped
// catalog declares (and each case reference a submission keeps), the
// longest value it is shown with, and the values a text result is
// declared to take.
func catalogResults(t *testing.T) (longest map[string]string, values map[string][]string) {
	t.Helper()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	longest, values = map[string]string{}, map[string][]string{}
	keep := func(name, v string) {
		if utf8.RuneCountInString(v) > utf8.RuneCountInString(longest[name]) {
			longest[name] = v
		}
	}
	for _, svc := range cat.Services {
		for _, st := range svc.Steps {
			if st.Kind == flows.StepSubmit && st.Field != "" {
				keep(st.Field, budgetSampleArg)
			}
			for name, r := range st.Returns {
				switch {
				case r.Type == flows.ReturnText && len(r.Values) > 0:
					for _, v := range r.Values {
						keep(name, v)
						if !slices.Contains(values[name], v) {
							values[name] = append(values[name], v)
						}
					}
				case r.Type == flows.ReturnText && r.Unicode:
					keep(name, strings.Repeat("ع", r.MaxLength))
				case r.Type == flows.ReturnText:
					keep(name, strings.Repeat("W", r.MaxLength))
				case r.Type == flows.ReturnDate:
					keep(name, "99/99/9999")
				case r.Type == flows.ReturnDateTime:
					keep(name, "99/99/9999 99:99")
				case r.Type == flows.ReturnNumber:
					keep(name, strings.Repeat("9", 19))
				}
			}
		}
	}
	return longest, values
}

// TestOverBudget checks the measure of TestBudgets on texts of known
// length: a single letter outside GSM-7 (Arabic, Hausa's hooked b, the
// small ç) switches a text from the GSM-7 budgets to the UCS-2 ones.
func TestOverBudget(t *testing.T) {
	ar := func(n int) string { return strings.Repeat("ب", n) }
	tests := []struct {
		name, id, text string
		over           bool
	}{
		{"GSM-7 page full", "x.prompt", strings.Repeat("a", 182), false},
		{"GSM-7 page over", "x.prompt", strings.Repeat("a", 183), true},
		{"extension characters count two septets", "x.prompt", strings.Repeat("a", 181) + "{", true},
		{"Arabic page full", "x.prompt", ar(80), false},
		{"Arabic page over", "x.prompt", ar(81), true},
		{"one Hausa letter makes a GSM-7 page of 81 too long", "x.prompt", strings.Repeat("a", 80) + "ɗ", true},
		{"one small ç makes a GSM-7 page of 81 too long", "x.prompt", strings.Repeat("a", 80) + "ç", true},
		{"a capital Ç is GSM-7", "x.prompt", strings.Repeat("a", 181) + "Ç", false},
		{"Arabic SMS in two segments", "sms.x", ar(134), false},
		{"Arabic SMS in three segments", "sms.x", ar(135), true},
		{"GSM-7 SMS in two segments", "sms.x", strings.Repeat("a", 306), false},
		{"the code SMS is held to SMS segments", "auth.code_sms", ar(100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if why := overBudget(tt.id, tt.text); (why != "") != tt.over {
				t.Errorf("overBudget = %q, want over %v", why, tt.over)
			}
		})
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
			if why := shippedText(text); why != "" {
				t.Errorf("%s:%d: %s %s", name, id.Line, id.Value, why)
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

// shippedText says what is wrong with the value of a message in a shipped
// file; "" when it is a plain text, or a map of CLDR plural forms to plain
// texts, in CLDR order, "other" included.
func shippedText(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "" {
			return "is empty"
		}
		return ""
	case yaml.MappingNode:
	default:
		return "is neither a text nor a map of plural forms"
	}
	last, other := -1, false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		at := slices.Index(pluralForms, k.Value)
		switch {
		case at < 0:
			return fmt.Sprintf("has %q, which is not a plural form (%s)", k.Value, strings.Join(pluralForms, ", "))
		case at <= last:
			return fmt.Sprintf("has plural form %q out of order (want %s)", k.Value, strings.Join(pluralForms, ", "))
		case v.Kind != yaml.ScalarNode || v.Value == "":
			return fmt.Sprintf("plural form %q is not a plain text", k.Value)
		}
		last, other = at, k.Value == "other"
	}
	if !other {
		return `has plural forms but no "other"`
	}
	return ""
}

// TestShippedText checks what TestShippedFiles accepts as a message.
func TestShippedText(t *testing.T) {
	tests := []struct {
		name, yaml string
		ok         bool
	}{
		{"text", "a: Back", true},
		{"empty", `a: ""`, false},
		{"plural forms", "a:\n  one: a case\n  other: cases", true},
		{"six forms", "a: {zero: z, one: o, two: t, few: f, many: m, other: x}", true},
		{"no other", "a:\n  one: a case", false},
		{"out of order", "a:\n  other: cases\n  one: a case", false},
		{"not a form", "a:\n  description: d\n  other: cases", false},
		{"a list", "a: [x, y]", false},
		{"nested map", "a:\n  one: {x: y}\n  other: z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &doc); err != nil {
				t.Fatal(err)
			}
			if why := shippedText(doc.Content[0].Content[1]); (why == "") != tt.ok {
				t.Errorf("shippedText = %q, want ok %v", why, tt.ok)
			}
		})
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
		// Choosing a language: SMS LANG and its confirmation, the app's profile.
		"sms.keyword.lang", "lang.set", "error.lang", "sms.nav.menu",
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
		{"arabic", "ar", channels.Msg("nav.back"), "رجوع"},
		{"arabic argument", "ar", channels.Msg("error.number_range", "Min", 1, "Max", 9), "أدخل رقمًا من 1 إلى 9."},
		{"arabic nested", "ar", channels.Msg("summary.line", "Label", label, "Value", channels.Msg("birth.sex.female")), "الجنس: أنثى"},
		{"arabic name on an english menu", "en", channels.Message{ID: "lang.name", Lang: "ar"}, "العربية"},
		{"arabic plural zero", "ar", channels.Msg("check.mine", "Count", 0), "ليست لديك طلبات:"},
		{"arabic plural one", "ar", channels.Msg("check.mine", "Count", 1), "طلبك الأخير:"},
		{"arabic plural two", "ar", channels.Msg("check.mine", "Count", 2), "طلباك الأخيران:"},
		{"arabic plural few", "ar", channels.Msg("check.mine", "Count", 5), "آخر 5 طلبات لك:"},
		{"arabic plural few ends at 10", "ar", channels.Msg("check.mine", "Count", 10), "آخر 10 طلبات لك:"},
		{"arabic plural many", "ar", channels.Msg("check.mine", "Count", 11), "آخر 11 طلبًا لك:"},
		{"arabic plural other", "ar", channels.Msg("check.mine", "Count", 100), "آخر 100 طلب لك:"},
		{"arabic plural few again past 100", "ar", channels.Msg("check.mine", "Count", 103), "آخر 103 طلبات لك:"},
		{"arabic plural without a count reads other", "ar", channels.Msg("check.mine", "Count", "x"), "آخر x طلب لك:"},
		{"english has one form for every count", "en", channels.Msg("check.mine", "Count", 1), "Your latest applications:"},
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
		{"arabic", []string{"ar"}, "ar"},
		{"egyptian arabic", []string{"ar-EG"}, "ar"},
		{"arabic of Saudi Arabia first", []string{"ar-SA,ar;q=0.9,en;q=0.8"}, "ar"},
		{"arabic of Chad after french", []string{"fr-TD,ar-TD;q=0.9"}, "fr"},
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
	if got := strings.Join(added.Langs(), " "); got != "en fr sw ar pt" {
		t.Errorf("Langs() with a new unlisted language = %s, want it after the listed ones", got)
	}
	reordered := mustNew(t, fstest.MapFS{
		"mine.pt.yaml": {Data: []byte("nav.back: Voltar\n")},
		"langs.txt":    {Data: []byte("# ours\nen\npt # first after English\nsw\n")},
	})
	if got := strings.Join(reordered.Langs(), " "); got != "en pt sw ar fr" {
		t.Errorf("Langs() with an operator's langs.txt = %s, want en pt sw ar fr", got)
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
