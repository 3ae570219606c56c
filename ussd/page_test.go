package ussd

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
)

// testBundle is the shipped locales plus "t.raw", whose text is its
// argument S, so that a test lays out any text.
func testBundle(t testing.TB) *locales.Bundle {
	t.Helper()
	b, err := locales.New(fstest.MapFS{
		"t.en.yaml": {Data: []byte("t.raw: \"{{.S}}\"\n")},
		"t.fr.yaml": {Data: []byte("t.raw: \"{{.S}}\"\n")},
		"t.sw.yaml": {Data: []byte("t.raw: \"{{.S}}\"\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func raw(s string) channels.Message { return channels.Msg("t.raw", "S", s) }

func options(labels ...string) []channels.Option {
	o := make([]channels.Option, len(labels))
	for i, l := range labels {
		o[i] = channels.Option{Key: string(rune('1' + i)), Text: raw(l)}
	}
	return o
}

// words is a text of n numbered words, each 6 or 7 characters.
func words(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = "word" + strings.Repeat("x", i%2) + string(rune('a'+i%26))
	}
	return strings.Join(w, " ")
}

func TestPages(t *testing.T) {
	b := testBundle(t)
	tests := []struct {
		name   string
		screen channels.Screen
		layout Layout
		want   []string
	}{
		{
			name:   "root menu: options, no navigation",
			screen: channels.Screen{Kind: channels.KindMenu, Text: raw("Services"), Options: options("Birth", "Status")},
			want:   []string{"Services\n1. Birth\n2. Status"},
		},
		{
			name:   "inside a service: back and home",
			screen: channels.Screen{Kind: channels.KindInput, Service: "s", Text: raw("Name:"), CanGoBack: true},
			want:   []string{"Name:\n0. Back\n00. Home"},
		},
		{
			name:   "the error comes first",
			screen: channels.Screen{Kind: channels.KindInput, Service: "s", Text: raw("Name:"), Error: &channels.Message{ID: "error.required"}, CanGoBack: true},
			want:   []string{"Please enter a value.\nName:\n0. Back\n00. Home"},
		},
		{
			name:   "text, lines, options",
			screen: channels.Screen{Kind: channels.KindConfirm, Service: "s", Text: raw("Check:"), Lines: []channels.Message{raw("A: 1"), raw("B: 2")}, Options: options("Yes", "No"), CanGoBack: true},
			want:   []string{"Check:\nA: 1\nB: 2\n1. Yes\n2. No\n0. Back\n00. Home"},
		},
		{
			name:   "final screen: no navigation",
			screen: channels.Screen{Kind: channels.KindEnd, Service: "s", Text: raw("Done.")},
			want:   []string{"Done."},
		},
		{
			name: "home is left out where it does not fit",
			// 160 + "\n0. Back" = 168 fits 170; with "\n00. Home" it is 177.
			screen: channels.Screen{Kind: channels.KindInput, Service: "s", Text: raw(strings.Repeat("a", 160)), CanGoBack: true},
			layout: Layout{MaxChars: 170},
			want:   []string{strings.Repeat("a", 160) + "\n0. Back"},
		},
		{
			name:   "options are never split: the one that does not fit moves on",
			screen: channels.Screen{Kind: channels.KindMenu, Text: raw("Pick:"), Options: options(strings.Repeat("a", 25), strings.Repeat("b", 25), strings.Repeat("c", 25))},
			layout: Layout{MaxChars: 60},
			want: []string{
				"Pick:\n1. " + strings.Repeat("a", 25) + "\n98. More",
				"2. " + strings.Repeat("b", 25) + "\n98. More\n0. Back",
				"3. " + strings.Repeat("c", 25) + "\n0. Back",
			},
		},
		{
			name:   "a long final screen: More, Back after the first page, nothing on the last",
			screen: channels.Screen{Kind: channels.KindEnd, Service: "s", Text: raw("Cases:"), Lines: []channels.Message{raw(strings.Repeat("a", 40)), raw(strings.Repeat("b", 40)), raw(strings.Repeat("c", 40))}},
			layout: Layout{MaxChars: 60},
			want: []string{
				"Cases:\n" + strings.Repeat("a", 40) + "\n98. More",
				strings.Repeat("b", 40) + "\n98. More\n0. Back",
				strings.Repeat("c", 40),
			},
		},
		{
			name:   "custom keys",
			screen: channels.Screen{Kind: channels.KindInput, Service: "s", Text: raw("Name:"), CanGoBack: true},
			layout: Layout{Keys: Keys{Back: "8", Home: "9"}},
			want:   []string{"Name:\n8. Back\n9. Home"},
		},
		{
			name:   "localized navigation",
			screen: channels.Screen{Kind: channels.KindInput, Service: "s", Text: raw("Jina:"), CanGoBack: true},
			want:   []string{"Jina:\n0. Rudi\n00. Mwanzo"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang := "en"
			if strings.HasPrefix(tt.name, "localized") {
				lang = "sw"
			}
			got := Pages(b, lang, tt.screen, tt.layout)
			if !slices.Equal(got, tt.want) {
				t.Errorf("pages:\n%s\nwant:\n%s", strings.Join(got, "\n----\n"), strings.Join(tt.want, "\n----\n"))
			}
		})
	}
}

// TestPagesSplitLongText: a text longer than a page is split at spaces,
// every page within the budget, nothing lost or repeated.
func TestPagesSplitLongText(t *testing.T) {
	b := testBundle(t)
	tests := []struct {
		name   string
		text   string
		layout Layout
	}{
		{"gsm at 182", words(80), Layout{}},
		{"gsm at 160", words(80), Layout{MaxChars: 160}},
		{"ucs2 at 80", "Tafadhali " + words(40) + " ç", Layout{}},
		{"one word longer than a page is cut inside", strings.Repeat("x", 500), Layout{}},
		{"extension characters count twice", strings.Repeat("{} ", 150), Layout{}},
		{"newlines are break points too", strings.Repeat("line of text\n", 40), Layout{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := channels.Screen{Kind: channels.KindInput, Service: "s", Text: raw(tt.text), CanGoBack: true}
			pages := Pages(b, "en", sc, tt.layout)
			if len(pages) < 2 {
				t.Fatalf("%d page(s), want several", len(pages))
			}
			var content []string
			for i, p := range pages {
				if !tt.layout.Fits(p) {
					t.Errorf("page %d over budget:\n%s", i+1, p)
				}
				lines := strings.Split(p, "\n")
				nav := []string{"0. Back", "00. Home"}
				if i < len(pages)-1 {
					nav = append([]string{"98. More"}, nav...)
				}
				if !slices.Equal(lines[len(lines)-len(nav):], nav) {
					t.Errorf("page %d ends with %q, want %q", i+1, lines[len(lines)-len(nav):], nav)
				}
				content = append(content, lines[:len(lines)-len(nav)]...)
			}
			if got, want := strings.Join(strings.Fields(strings.Join(content, " ")), ""), strings.Join(strings.Fields(tt.text), ""); got != want {
				t.Errorf("text across pages:\n%s\nwant:\n%s", got, want)
			}
			if !strings.Contains(tt.name, "cut inside") {
				for _, w := range strings.Fields(strings.Join(content, " ")) {
					if !strings.Contains(tt.text, w) {
						t.Errorf("word %q was cut", w)
					}
				}
			}
		})
	}
}

// TestPagesEncodingPerPage: a page is measured by its own characters, so
// a UCS-2 character on one page does not shrink the others.
func TestPagesEncodingPerPage(t *testing.T) {
	b := testBundle(t)
	gsm := strings.Repeat("a", 150)
	sc := channels.Screen{Kind: channels.KindEnd, Text: raw("Cases:"), Lines: []channels.Message{raw(gsm), raw("reçu")}}
	pages := Pages(b, "en", sc, Layout{})
	want := []string{"Cases:\n" + gsm + "\n98. More", "reçu"}
	if !slices.Equal(pages, want) {
		t.Errorf("pages:\n%q\nwant:\n%q", pages, want)
	}
	// With the UCS-2 line first, that page holds 80 units only.
	sc.Lines = []channels.Message{raw("reçu"), raw(gsm)}
	pages = Pages(b, "en", sc, Layout{})
	if len(pages) != 2 || pages[0] != "Cases:\nreçu\n98. More" {
		t.Errorf("pages:\n%q", pages)
	}
}

func TestLayoutValidate(t *testing.T) {
	tests := []struct {
		name   string
		layout Layout
		ok     bool
	}{
		{"zero is the protocol's", Layout{}, true},
		{"160 everywhere", Layout{MaxChars: 160, UCS2MaxChars: 70}, true},
		{"over the protocol", Layout{MaxChars: 200}, false},
		{"ucs2 over the protocol", Layout{UCS2MaxChars: 90}, false},
		{"too small", Layout{MaxChars: 30}, false},
		{"keys clash", Layout{Keys: Keys{More: "0"}}, false},
		{"star in a key", Layout{Keys: Keys{Home: "*0"}}, false},
		{"hubtel keys", Layout{Keys: Keys{More: "9", Back: "8", Home: "00"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.layout.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestLayoutFits(t *testing.T) {
	tests := []struct {
		name string
		page string
		want bool
	}{
		{"182 septets", strings.Repeat("a", 182), true},
		{"183 septets", strings.Repeat("a", 183), false},
		{"extension characters count two", strings.Repeat("€", 92), false},
		{"80 units", strings.Repeat("ç", 80), true},
		{"81 units", strings.Repeat("ç", 81), false},
		{"an emoji is two units", strings.Repeat("ç", 79) + "👍", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Layout{}).Fits(tt.page); got != tt.want {
				t.Errorf("Fits = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzPages lays out screens of arbitrary texts in arbitrary valid layouts:
// no page may exceed the budget, be empty, or lose or repeat text; every
// page but the last offers More; nothing may panic; the same screen gives
// the same pages.
func FuzzPages(f *testing.F) {
	b := testBundle(f)
	f.Add("Short text", "Option", uint8(3), uint8(0b0011), uint8(255))
	f.Add("A very long explanation that goes on and on, with many words to split across pages of a USSD screen", "Another option label", uint8(12), uint8(0b0111), uint8(100))
	f.Add("Ωμέγα مرحبا", "€{}", uint8(5), uint8(0b1001), uint8(0))
	f.Add(strings.Repeat("x", 300), "👍", uint8(2), uint8(0b1111), uint8(7))
	f.Fuzz(func(t *testing.T, text, option string, n, flags, budget uint8) {
		l := Layout{MaxChars: minPage + int(budget)%(maxGSMPage-minPage+1), UCS2MaxChars: minPage + int(budget)%(maxUCS2Page-minPage+1)}
		sc := channels.Screen{Kind: channels.KindMenu, Text: raw(text), CanGoBack: flags&1 != 0}
		if flags&2 != 0 {
			sc.Service = "s"
		}
		if flags&4 != 0 {
			sc.Kind = channels.KindEnd
		}
		if flags&8 != 0 {
			sc.Error = &channels.Message{ID: "error.choice"}
		}
		sc.Lines = []channels.Message{raw(option + " " + text)}
		for i := range int(n % 12) {
			sc.Options = append(sc.Options, channels.Option{Key: string(rune('1' + i%9)), Text: raw(option)})
		}
		pages := Pages(b, "en", sc, l)
		if again := Pages(b, "en", sc, l); !slices.Equal(pages, again) {
			t.Fatalf("not deterministic")
		}
		end := sc.Kind == channels.KindEnd
		var content, want []string
		if sc.Error != nil {
			want = append(want, b.Text("en", *sc.Error))
		}
		want = append(want, b.Text("en", sc.Text), b.Text("en", sc.Lines[0]))
		for _, o := range sc.Options {
			want = append(want, o.Key+". "+b.Text("en", o.Text))
		}
		for i, p := range pages {
			if !l.Fits(p) {
				t.Fatalf("page %d of %d over budget %+v:\n%s", i+1, len(pages), l, p)
			}
			last := i == len(pages)-1
			var foot string
			if !last {
				foot += "\n98. More"
			}
			if (i > 0 || (sc.CanGoBack && !end)) && !(end && last) {
				foot += "\n0. Back"
			}
			if sc.Service != "" && !end && (len(pages) > 1 || strings.HasSuffix(p, "\n00. Home")) {
				foot += "\n00. Home"
			}
			body, ok := strings.CutSuffix(p, foot)
			if blank := strings.TrimSpace(strings.Join(want, "")) == ""; blank && p == strings.TrimPrefix(foot, "\n") {
				body, ok = "", true // nothing to show but the navigation
			}
			if !ok || (strings.TrimSpace(body) == "" && strings.TrimSpace(strings.Join(want, "")) != "") {
				t.Fatalf("page %d of %d does not end with %q after some text:\n%s", i+1, len(pages), foot, p)
			}
			content = append(content, body)
		}
		squeeze := func(ss []string) string { return strings.Join(strings.Fields(strings.Join(ss, " ")), "") }
		if got, want := squeeze(content), squeeze(want); got != want {
			t.Fatalf("text across pages:\n%q\nwant:\n%q", got, want)
		}
	})
}

func TestLayoutResolved(t *testing.T) {
	tests := []struct {
		name   string
		layout Layout
		want   Layout
	}{
		{"the protocol's", Layout{}, Layout{MaxChars: 182, UCS2MaxChars: 80, Keys: Keys{More: "98", Back: "0", Home: "00"}}},
		{"Kannel's one SMS, Hubtel's keys", Layout{MaxChars: 160, UCS2MaxChars: 70, Keys: Keys{More: "9", Back: "8"}},
			Layout{MaxChars: 160, UCS2MaxChars: 70, Keys: Keys{More: "9", Back: "8", Home: "00"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.layout.Resolved(); got != tt.want {
				t.Errorf("Resolved() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
