package sms

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/ussd"
)

// renderToday is the fixed date of the render tests: the sample dates of
// birth are in the past.
var renderToday = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

// renderShipped returns the shipped engine on the fixed date and the
// shipped messages.
func renderShipped(t testing.TB) (*flows.Engine, *locales.Bundle) {
	t.Helper()
	return channelstest.Shipped(t, func() time.Time { return renderToday })
}

// renderScreen is one screen the walk reached: group is the service, or
// "home" for the screens outside every service; label says how it was
// reached.
type renderScreen struct {
	group, label string
	screen       channels.Screen
}

// renderScreens returns every screen the shipped catalog can show in lang
// on SMS (see channelstest.Walk): the screens outside every service and
// the failure page, then those of each service. It fails t when the walk
// misses a step of a service.
func renderScreens(t testing.TB, e *flows.Engine, lang string) []renderScreen {
	t.Helper()
	var out []renderScreen
	in := func(group string) func(string, channels.Screen) {
		return func(label string, sc channels.Screen) {
			out = append(out, renderScreen{group: group, label: label, screen: sc})
		}
	}
	home := in("home")
	channelstest.Walk(t, e, channels.ChannelSMS, lang, "", home)
	home("failure", channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("error.internal")})
	for _, svc := range e.Catalog().Services {
		channelstest.Walk(t, e, channels.ChannelSMS, lang, svc.ID, in(svc.ID))
	}
	return out
}

// renderTestBundle is the shipped messages and a few of given lengths:
// test.a<N> is N letters "a", test.curly an answer typed with a
// typographic apostrophe.
func renderTestBundle(t testing.TB) *locales.Bundle {
	t.Helper()
	var yaml strings.Builder
	for _, n := range []int{100, 140, 150} {
		fmt.Fprintf(&yaml, "test.a%d: %s\n", n, strings.Repeat("a", n))
	}
	yaml.WriteString("test.curly: \"Name: O’Brien\"\n")
	yaml.WriteString("test.line: \"{{.Label}}: {{.Value}}\"\n")
	b, err := locales.New(fstest.MapFS{"test.en.yaml": {Data: []byte(yaml.String())}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRender(t *testing.T) {
	b := renderTestBundle(t)
	msg := channels.Msg
	opts := func(ids ...string) []channels.Option {
		var os []channels.Option
		for i, id := range ids {
			os = append(os, channels.Option{Key: fmt.Sprint(i + 1), Text: msg(id)})
		}
		return os
	}
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		lang string
		sc   channels.Screen
		want string
	}{
		{"root menu asks for a number", "en", channels.Screen{Kind: channels.KindMenu, Text: msg("home.title"), Options: opts("birth.title", "home.language")},
			"Government services\n1. Birth certificate\n2. Language\nReply with the number of your choice."},
		{"menu in a service offers back and the main menu", "fr", channels.Screen{Kind: channels.KindMenu, Service: "birth_certificate", Text: msg("birth.sex"), Options: opts("birth.sex.female", "birth.sex.male"), CanGoBack: true},
			"Sexe de l'enfant:\n1. Féminin\n2. Masculin\nRépondez 0 pour revenir ou MENU pour le menu principal."},
		{"language menu offers back only", "sw", channels.Screen{Kind: channels.KindMenu, Step: "language", Text: msg("lang.prompt"), Options: opts("lang.name"), CanGoBack: true},
			"Chagua lugha yako\n1. Kiswahili\nJibu 0 kurudi."},
		{"first step without back offers the main menu", "en", channels.Screen{Kind: channels.KindInput, Service: "report_problem", Text: msg("report.location")},
			"Where? Town or village and a landmark:\nReply MENU for the main menu."},
		{"error above the prompt", "en", channels.Screen{Kind: channels.KindInput, Service: "report_problem", Text: msg("report.location"), Error: &channels.Message{ID: "error.required"}, CanGoBack: true},
			"Please enter a value.\nWhere? Town or village and a landmark:\nReply 0 to go back or MENU for the main menu."},
		{"end screen has no hint, reference already in the text", "en", channels.Screen{Kind: channels.KindEnd, Service: "report_problem", Text: msg("report.done", "Reference", "4821773057"), Reference: "4821773057"},
			"Report received. Your reference is 4821773057. Thank you."},
		{"reference missing from the text gets a line", "sw", channels.Screen{Kind: channels.KindEnd, Service: "report_problem", Text: msg("end.cancelled"), Reference: "4821773057"},
			"Imeghairiwa. Hakuna kilichotumwa.\nKumbukumbu: 4821773057"},
		{"short hint when the full one costs a segment", "en", channels.Screen{Kind: channels.KindInput, Service: "s", Text: msg("test.a140"), CanGoBack: true},
			a(140) + "\n0 Back, MENU Menu"},
		{"no hint when even the short one costs a segment", "en", channels.Screen{Kind: channels.KindInput, Service: "s", Text: msg("test.a150"), CanGoBack: true},
			a(150)},
		{"full hint kept when dropping it saves no segment", "en", channels.Screen{Kind: channels.KindInput, Service: "s", Text: msg("test.a140"), Lines: []channels.Message{msg("test.a100")}, CanGoBack: true},
			a(140) + "\n" + a(100) + "\nReply 0 to go back or MENU for the main menu."},
		{"compact options when they save a segment", "en", channels.Screen{Kind: channels.KindConfirm, Text: msg("test.a140"), Options: opts("confirm.yes", "confirm.cancel")},
			a(140) + "\n1 Confirm\n2 Cancel"},
		{"a typographic apostrophe is kept and counted", "en", channels.Screen{Kind: channels.KindEnd, Text: msg("test.curly")},
			"Name: O’Brien"},
		{"an empty text takes no line", "en", channels.Screen{Kind: channels.KindMenu, Service: "s", Options: opts("confirm.yes"), CanGoBack: true},
			"1. Confirm\nReply 0 to go back or MENU for the main menu."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Render(b, tt.lang, tt.sc, Layout{}); got != tt.want {
				t.Errorf("Render =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if n := b.Missing(); n != 0 {
		t.Errorf("%d messages missing", n)
	}
}

// TestRenderShortensSummary checks that a confirm screen over budget has
// its summary lines cut, never its text or options, and only as far as the
// budget needs.
func TestRenderShortensSummary(t *testing.T) {
	b := renderTestBundle(t)
	long := "Broken water pipe next to stall 4 of the Kibuye market, leaking since Monday, water everywhere"
	line := func(label, value string) channels.Message {
		return channels.Msg("test.line", "Label", label, "Value", value)
	}
	sc := channels.Screen{
		Kind: channels.KindConfirm, Service: "report_problem", Text: channels.Msg("report.confirm"), CanGoBack: true,
		Lines:   []channels.Message{line("Problem", long), line("Place", "Kisumu, near the bus park")},
		Options: []channels.Option{{Key: "1", Text: channels.Msg("confirm.yes")}, {Key: "2", Text: channels.Msg("confirm.cancel")}},
	}
	full := Render(b, "en", sc, Layout{MaxSegments: 2})
	if !strings.Contains(full, long) {
		t.Fatalf("a screen within budget was shortened:\n%s", full)
	}
	got := Render(b, "en", sc, Layout{MaxSegments: 1})
	if n, _ := gsm7.Segments(got); n != 1 {
		t.Errorf("shortened screen takes %d segments:\n%s", n, got)
	}
	lines := strings.Split(got, "\n")
	if lines[0] != "Check your report:" || !strings.HasPrefix(lines[1], "Problem: Broken water pipe") || !strings.HasSuffix(lines[1], "...") {
		t.Errorf("summary not cut as expected:\n%s", got)
	}
	if !strings.Contains(got, "\n1 Confirm\n2 Cancel") && !strings.Contains(got, "\n1. Confirm\n2. Cancel") {
		t.Errorf("options lost:\n%s", got)
	}
	info := sc
	info.Kind = channels.KindInfo
	if got := Render(b, "en", info, Layout{MaxSegments: 1}); !strings.Contains(got, long) {
		t.Errorf("a screen other than confirm was shortened:\n%s", got)
	}
}

func TestRenderCut(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"short enough", "Place: Kisumu", 20, "Place: Kisumu"},
		{"at a space", "Problem: Broken water pipe", 20, "Problem: Broken..."},
		{"inside a long word", "Problem:Brokenwaterpipe", 16, "Problem:Broke..."},
		{"trailing punctuation dropped", "Place: Kisumu, near the bus", 19, "Place: Kisumu..."},
		{"multi-byte letters kept whole", "Mahali: Kibéra Kéré Kéré", 18, "Mahali: Kibéra..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderCut(tt.in, tt.limit); got != tt.want {
				t.Errorf("renderCut(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
}

func TestLayoutFits(t *testing.T) {
	tests := []struct {
		name string
		l    Layout
		text string
		want bool
	}{
		{"two segments by default", Layout{}, strings.Repeat("a", 306), true},
		{"a third segment is over the default", Layout{}, strings.Repeat("a", 307), false},
		{"one segment budget", Layout{MaxSegments: 1}, strings.Repeat("a", 161), false},
		{"UCS-2 counts units", Layout{MaxSegments: 1}, strings.Repeat("ж", 70), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Fits(tt.text); got != tt.want {
				t.Errorf("Fits = %v, want %v", got, tt.want)
			}
		})
	}
}

// serverSegments is the reply budget of a Server whose Config.Layout is
// left zero (New); TestServerSegments keeps the two equal.
const serverSegments = 4

func TestServerSegments(t *testing.T) {
	if got := newFixture(t).srv.cfg.Layout.MaxSegments; got != serverSegments {
		t.Errorf("a Server's default reply budget is %d segments, the render tests assume %d", got, serverSegments)
	}
}

// TestRenderShipped renders every screen of the shipped catalog in every
// language: no message missing, every option, error and reference shown
// whole, and at most 2 segments, the budget channels validate holds the
// catalog to. One exception: the lines of a screen are data, the
// citizen's own answers on a confirm screen or the cases a lookup found,
// and in a language whose text needs UCS-2 (Arabic: 67 characters a part)
// a long form's summary or a list of five cases cannot fit 2 segments
// however short the labels; the server allows a reply serverSegments (and
// shortens a summary to fit), so such a screen is held to that, as sent.
func TestRenderShipped(t *testing.T) {
	e, b := renderShipped(t)
	for _, lang := range b.Langs() {
		screens := renderScreens(t, e, lang)
		if len(screens) < 50 {
			t.Errorf("%s: only %d screens walked", lang, len(screens))
		}
		for _, s := range screens {
			got := Render(b, lang, s.screen, Layout{})
			lines := strings.Split(got, "\n")
			has := func(line string) bool {
				for _, l := range lines {
					if l == line {
						return true
					}
				}
				return false
			}
			if strings.Contains(got, "[[") {
				t.Errorf("%s %s: missing message:\n%s", lang, s.label, got)
			}
			for _, o := range s.screen.Options {
				text := b.Text(lang, o.Text)
				if !has(o.Key+". "+text) && !has(o.Key+" "+text) {
					t.Errorf("%s %s: option %s %q not whole on a line:\n%s", lang, s.label, o.Key, text, got)
				}
			}
			if s.screen.Error != nil && lines[0] != b.Text(lang, *s.screen.Error) {
				t.Errorf("%s %s: error not first:\n%s", lang, s.label, got)
			}
			if s.screen.Reference != "" && !strings.Contains(got, s.screen.Reference) {
				t.Errorf("%s %s: reference not shown:\n%s", lang, s.label, got)
			}
			n, ucs2 := gsm7.Segments(got)
			switch {
			case n <= 2:
			case !ucs2 || len(s.screen.Lines) == 0:
				t.Errorf("%s %s: %d segments:\n%s", lang, s.label, n, got)
			default:
				sent := Render(b, lang, s.screen, Layout{MaxSegments: serverSegments})
				if n, _ := gsm7.Segments(sent); n > serverSegments {
					t.Errorf("%s %s: %d segments as the server sends it:\n%s", lang, s.label, n, sent)
				}
			}
		}
	}
}

// renderSizeLabel says how many segments a text takes and how it is
// counted: septets, or UCS-2 units.
func renderSizeLabel(text string) string {
	n, ucs2 := gsm7.Segments(text)
	length, _ := gsm7.Length(text)
	unit := "segments"
	if n == 1 {
		unit = "segment"
	}
	if ucs2 {
		return fmt.Sprintf("%d %s, UCS-2, %d units", n, unit, length)
	}
	return fmt.Sprintf("%d %s, GSM-7, %d septets", n, unit, length)
}

// TestRenderGolden renders every screen of the shipped catalog in every
// language as the server sends it and compares the texts with testdata/render/<group>.<lang>.golden;
// -update rewrites them.
func TestRenderGolden(t *testing.T) {
	e, b := renderShipped(t)
	for _, lang := range b.Langs() {
		files := map[string]*strings.Builder{}
		var order []string
		seen := map[string]bool{}
		for _, s := range renderScreens(t, e, lang) {
			text := Render(b, lang, s.screen, Layout{MaxSegments: serverSegments}) // as the server sends it
			if seen[s.group+"\x00"+text] {
				continue
			}
			seen[s.group+"\x00"+text] = true
			out := files[s.group]
			if out == nil {
				out = &strings.Builder{}
				files[s.group] = out
				order = append(order, s.group)
			}
			fmt.Fprintf(out, "== %s (%s)\n%s\n", s.label, renderSizeLabel(text), text)
		}
		for _, group := range order {
			channelstest.Golden(t, filepath.Join("testdata", "render", group+"."+lang+".golden"), files[group].String(), *update)
		}
	}
	if n := b.Missing(); n != 0 {
		t.Errorf("%d messages missing while rendering the catalog", n)
	}
}

// renderScreenName names a screen in the segment table: service/step, or
// the first word of its label for the screens outside every service.
func renderScreenName(s renderScreen) string {
	if s.screen.Service != "" {
		return s.screen.Service + "/" + s.screen.Step
	}
	return strings.Fields(s.label)[0]
}

// TestSegmentsDoc checks that docs/sms-segments.md is the current table of
// the segments each screen of the shipped catalog takes in each language;
// -update rewrites it.
func TestSegmentsDoc(t *testing.T) {
	e, b := renderShipped(t)
	langs := b.Langs()
	type cell struct {
		n    int
		ucs2 bool
	}
	cells := map[string]map[string]cell{} // screen → lang → most segments
	var order []string
	worst := map[string]int{}
	for _, lang := range langs {
		for _, s := range renderScreens(t, e, lang) {
			name := renderScreenName(s)
			if cells[name] == nil {
				cells[name] = map[string]cell{}
				order = append(order, name)
			}
			n, ucs2 := gsm7.Segments(Render(b, lang, s.screen, Layout{MaxSegments: serverSegments}))
			if c := cells[name][lang]; n > c.n || (n == c.n && ucs2) {
				cells[name][lang] = cell{n, ucs2}
			}
			worst[lang] = max(worst[lang], n)
		}
	}
	var out strings.Builder
	out.WriteString("# SMS segments per screen\n\n" +
		"The most segments each screen of the shipped catalog takes as one SMS reply, in each language,\n" +
		"over every variant the render tests walk (a refused answer above the prompt, each outcome of a\n" +
		"submission or lookup). A segment holds 160 GSM-7 characters alone, 153 as part of a longer\n" +
		"message; \"U\" marks a reply sent in UCS-2 (70 and 67 characters). `channels validate` holds\n" +
		"every screen to 2 segments (`-sms-segments`) with one case found and no answers. Here each\n" +
		"screen is rendered as the server sends it, within 4 segments: a confirm screen shows the walk's\n" +
		"answers (shortened when they would not fit, left out when even shortened they would not) and a\n" +
		"lookup up to five cases, which in UCS-2 cannot fit 2 segments.\n\n" +
		"Generated by `go test ./sms -run TestSegmentsDoc -update`; do not edit.\n\n")
	out.WriteString("| Screen |")
	for _, lang := range langs {
		out.WriteString(" " + lang + " |")
	}
	out.WriteString("\n|---|")
	for range langs {
		out.WriteString("---:|")
	}
	out.WriteString("\n")
	for _, name := range order {
		out.WriteString("| " + name + " |")
		for _, lang := range langs {
			c := cells[name][lang]
			u := ""
			if c.ucs2 {
				u = " U"
			}
			fmt.Fprintf(&out, " %d%s |", c.n, u)
		}
		out.WriteString("\n")
	}
	out.WriteString("| **most** |")
	for _, lang := range langs {
		fmt.Fprintf(&out, " **%d** |", worst[lang])
	}
	out.WriteString("\n")
	channelstest.Golden(t, filepath.Join("..", "docs", "sms-segments.md"), out.String(), *update)
}

// BenchmarkRender renders every shipped screen in every language as an
// SMS, and, as the baseline of the same run, as USSD pages: the rendering
// every hop of the synchronous channel already pays.
func BenchmarkRender(b *testing.B) {
	e, bundle := renderShipped(b)
	type job struct {
		lang string
		sc   channels.Screen
	}
	var jobs []job
	for _, lang := range bundle.Langs() {
		for _, s := range renderScreens(b, e, lang) {
			jobs = append(jobs, job{lang, s.screen})
		}
	}
	renders := []struct {
		name   string
		render func(j job)
	}{
		{"ussd-baseline", func(j job) { ussd.Pages(bundle, j.lang, j.sc, ussd.Layout{}) }},
		{"sms", func(j job) { Render(bundle, j.lang, j.sc, Layout{}) }},
	}
	for _, r := range renders {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, j := range jobs {
					r.render(j)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(jobs)), "ns/screen")
		})
	}
}

func BenchmarkSegments(b *testing.B) {
	e, bundle := renderShipped(b)
	var texts []string
	for _, lang := range bundle.Langs() {
		for _, s := range renderScreens(b, e, lang) {
			texts = append(texts, Render(bundle, lang, s.screen, Layout{}))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range texts {
			gsm7.Segments(s)
		}
	}
}
