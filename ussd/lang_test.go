package ussd

import (
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
)

// TestArabicPages lays out every Arabic screen and checks that each page
// is measured in UCS-2 and held to the UCS-2 budget of the layout (80 by
// default, USSD.md; a gateway may ask for less), never to the 182 GSM-7
// characters: screens that would fit one GSM-7 page take several. The one
// exception is a page that holds only Latin text, such as the end of an
// agency's note written in English: it is GSM-7 and held to that budget.
func TestArabicPages(t *testing.T) {
	f := newFixture(t)
	for _, l := range []Layout{{}, {MaxChars: 160, UCS2MaxChars: 70}} {
		budget := l.withDefaults().UCS2MaxChars
		screens, longest, paged := 0, 0, 0
		screen := func(label string, sc channels.Screen) {
			screens++
			pages := Pages(f.bundle, "ar", sc, l)
			whole := 0 // the units of the screen on one page
			for i, p := range pages {
				s := measure(p)
				// A page of Arabic is UCS-2; only a page holding nothing
				// but an agency's note in Latin letters may be GSM-7.
				if (s.ucs2 && s.units > budget) || (!s.ucs2 && (s.units > l.withDefaults().MaxChars || !latinOnly(p))) {
					t.Errorf("%s page %d/%d: UCS-2 %v, %d units, want UCS-2 within %d:\n%s", label, i+1, len(pages), s.ucs2, s.units, budget, p)
				}
				longest = max(longest, s.units)
				whole += s.units
			}
			if len(pages) > 1 && whole <= maxGSMPage {
				paged++ // one page had it been measured as GSM-7
			}
		}
		rootScreens(t, f, "ar", screen)
		for _, svc := range serviceIDs(f) {
			channelstest.Walk(t, f.engine, channels.ChannelUSSD, "ar", svc, screen)
		}
		if screens < 50 || paged == 0 || longest < budget-10 {
			t.Errorf("budget %d: %d screens, %d paged by the UCS-2 budget alone, longest page %d units", budget, screens, paged, longest)
		}
		t.Logf("budget %d: %d Arabic screens, longest page %d units, %d screens paged that one GSM-7 page would hold", budget, screens, longest, paged)
	}
}

// TestLanguageMenuPages checks the language menu of every language: four
// languages, each named in itself, numbered in the order of langs.txt, and
// UCS-2 in every language because of the name of Arabic, within 80 units.
func TestLanguageMenuPages(t *testing.T) {
	f := newFixture(t)
	for _, lang := range f.bundle.Langs() {
		channelstest.Walk(t, f.engine, channels.ChannelUSSD, lang, "", func(label string, sc channels.Screen) {
			if label != "language" {
				return
			}
			pages := Pages(f.bundle, lang, sc, Layout{})
			if len(pages) != 1 {
				t.Fatalf("%s: %d pages", lang, len(pages))
			}
			want := "\n1. English\n2. Francais\n3. Kiswahili\n4. العربية\n0. " + f.bundle.Text(lang, channels.Msg("nav.back"))
			if s := measure(pages[0]); !strings.HasSuffix(pages[0], want) || !s.ucs2 || s.units > maxUCS2Page {
				t.Errorf("%s (%d units):\n%s", lang, s.units, pages[0])
			}
		})
	}
}

// latinOnly reports whether page has no letter outside ASCII.
func latinOnly(page string) bool {
	for _, r := range page {
		if r > 0x7f {
			return false
		}
	}
	return true
}
