package ussd

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
)

// rootScreens are the screens outside every service: the root and language
// menus, the resume menu, the failure page.
func rootScreens(t *testing.T, f *fixture, lang string, screen func(string, channels.Screen)) {
	channelstest.Walk(t, f.engine, channels.ChannelUSSD, lang, "", screen)
	screen("resume", resumeMenu(nil))
	screen(`resume ← "3"`, resumeMenu(&channels.Message{ID: "error.choice"}))
	screen("failure", channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("error.internal")})
}

// TestGoldenPages lays out every screen of the shipped catalog in every
// language and compares the pages with testdata/pages/<service>.<lang>.golden
// for the protocol's budget, and testdata/pages/kannel/… for Kannel's
// (KannelLayout); -update rewrites them. It fails when the walk misses a
// step.
func TestGoldenPages(t *testing.T) {
	f := newFixture(t)
	layouts := []struct {
		dir    string
		layout Layout
	}{
		{"pages", Layout{}.withDefaults()},
		{filepath.Join("pages", "kannel"), KannelLayout(0).withDefaults()},
	}
	for _, dl := range layouts {
		layout := dl.layout
		for _, lang := range f.bundle.Langs() {
			for _, svc := range append([]string{"home"}, serviceIDs(f)...) {
				t.Run(dl.dir+"/"+svc+"."+lang, func(t *testing.T) {
					var out strings.Builder
					seen := map[string]bool{}
					screen := func(label string, sc channels.Screen) {
						pages := Pages(f.bundle, lang, sc, layout)
						all := strings.Join(pages, "\f")
						if seen[all] {
							return
						}
						seen[all] = true
						for i, p := range pages {
							fmt.Fprintf(&out, "== %s (page %d/%d, %s)\n%s\n", label, i+1, len(pages), sizeLabel(p), p)
						}
					}
					if svc == "home" {
						rootScreens(t, f, lang, screen)
					} else {
						channelstest.Walk(t, f.engine, channels.ChannelUSSD, lang, svc, screen)
					}
					channelstest.Golden(t, filepath.Join("testdata", dl.dir, svc+"."+lang+".golden"), out.String(), *update)
				})
			}
		}
	}
	if n := f.bundle.Missing(); n != 0 {
		t.Errorf("%d messages missing while laying out the catalog", n)
	}
}

// TestPagesWithinBudget lays out every screen of the catalog in every
// language for the protocol's budget and for tighter gateways: every page
// fits, shows no missing message, and every option appears whole on a page.
func TestPagesWithinBudget(t *testing.T) {
	f := newFixture(t)
	layouts := []Layout{{}, {MaxChars: 160}, KannelLayout(0), {MaxChars: 120, UCS2MaxChars: 60}}
	for _, l := range layouts {
		for _, lang := range f.bundle.Langs() {
			t.Run(fmt.Sprintf("%d-%d.%s", l.MaxChars, l.UCS2MaxChars, lang), func(t *testing.T) {
				screens := 0
				screen := func(label string, sc channels.Screen) {
					screens++
					pages := Pages(f.bundle, lang, sc, l)
					for i, p := range pages {
						if !l.Fits(p) {
							t.Errorf("%s: page %d/%d over budget (%s):\n%s", label, i+1, len(pages), sizeLabel(p), p)
						}
						if strings.Contains(p, "[[") {
							t.Errorf("%s: missing message on page %d:\n%s", label, i+1, p)
						}
					}
					var lines []string
					for _, p := range pages {
						lines = append(lines, strings.Split(p, "\n")...)
					}
					for _, o := range sc.Options {
						if opt := o.Key + ". " + f.bundle.Text(lang, o.Text); !slices.Contains(lines, opt) {
							t.Errorf("%s: option %q not whole on a page", label, opt)
						}
					}
				}
				rootScreens(t, f, lang, screen)
				for _, svc := range serviceIDs(f) {
					channelstest.Walk(t, f.engine, channels.ChannelUSSD, lang, svc, screen)
				}
				if screens < 50 {
					t.Errorf("only %d screens walked", screens)
				}
			})
		}
	}
}

func serviceIDs(f *fixture) []string {
	var ids []string
	for _, svc := range f.engine.Catalog().Services {
		ids = append(ids, svc.ID)
	}
	return ids
}

// sizeLabel says how a page is counted: septets, or UCS-2 units.
func sizeLabel(p string) string {
	s := measure(p)
	if s.ucs2 {
		return fmt.Sprintf("%d UCS-2 units", s.units)
	}
	return fmt.Sprintf("%d septets", s.septets)
}
