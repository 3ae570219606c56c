package ussd

import (
	"testing"

	"github.com/govchannels/channels"
)

// FuzzPages lays out screens with arbitrary texts: no page may exceed the
// budget and nothing may panic.
func FuzzPages(f *testing.F) {
	fx := newFixture(f)
	f.Add("Short text", "Option", uint8(3), true)
	f.Add("A very long explanation that goes on and on, with many words to split across pages of a USSD screen", "Another option label", uint8(12), false)
	f.Add("Ωμέγα مرحبا", "€{}", uint8(5), true)
	f.Fuzz(func(t *testing.T, text, option string, n uint8, inService bool) {
		bundle := fx.bundle
		sc := channels.Screen{Kind: channels.KindMenu, Text: channels.Msg("x"), CanGoBack: true}
		if inService {
			sc.Service = "s"
		}
		for i := range int(n % 20) {
			sc.Options = append(sc.Options, channels.Option{Key: string(rune('1' + i%9)), Text: channels.Msg("report.category.health")})
		}
		sc.Lines = []channels.Message{channels.Msg("summary.line", "Label", text, "Value", option)}
		l := Layout{}.withDefaults()
		for _, p := range Pages(bundle, "en", sc, l) {
			if length(p) > l.Budget(p) {
				t.Fatalf("page of %d characters:\n%s", length(p), p)
			}
		}
	})
}
