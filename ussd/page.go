package ussd

import (
	"strings"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
)

// Keys are the navigation inputs, reserved on every screen. Most gateways
// and citizens know 98 for more, 0 for back and 00 for home; a deployment
// can change them.
type Keys struct {
	More, Back, Home string
}

// Layout is the page budget of a gateway.
type Layout struct {
	// MaxChars is what a page holds when all its text is GSM-7: 182 is the
	// protocol ceiling, 160 is safe with every aggregator.
	MaxChars int
	// UCS2MaxChars is what a page holds when some character needs UCS-2.
	UCS2MaxChars int
	Keys         Keys
}

func (l Layout) withDefaults() Layout {
	if l.MaxChars == 0 {
		l.MaxChars = 182
	}
	if l.UCS2MaxChars == 0 {
		l.UCS2MaxChars = 80
	}
	if l.Keys == (Keys{}) {
		l.Keys = Keys{More: "98", Back: "0", Home: "00"}
	}
	return l
}

// Budget returns what a page holding text may hold, by its encoding.
func (l Layout) Budget(text string) int {
	if _, ok := gsm7.Septets(text); ok {
		return l.MaxChars
	}
	return l.UCS2MaxChars
}

// Pages lays a screen out as USSD pages in lang. The previous input's error
// comes first, then the text, the lines and the numbered options; a screen
// too long for one page is split (never inside an option, long texts at
// spaces) and every page but the last offers More. Screens inside a service
// offer Back and Home; later pages always offer Back (to the page before).
// A final screen too long for one page is paginated too: the channel ends
// the session only on its last page.
func Pages(b *locales.Bundle, lang string, sc channels.Screen, l Layout) []string {
	l = l.withDefaults()
	var blocks []string
	if sc.Error != nil {
		blocks = append(blocks, b.Text(lang, *sc.Error))
	}
	blocks = append(blocks, b.Text(lang, sc.Text))
	for _, line := range sc.Lines {
		blocks = append(blocks, b.Text(lang, line))
	}
	for _, o := range sc.Options {
		blocks = append(blocks, o.Key+". "+b.Text(lang, o.Text))
	}
	back := l.Keys.Back + ". " + b.Text(lang, channels.Msg("nav.back"))
	home := l.Keys.Home + ". " + b.Text(lang, channels.Msg("nav.home"))
	more := l.Keys.More + ". " + b.Text(lang, channels.Msg("nav.more"))
	var nav []string
	if sc.Kind != channels.KindEnd {
		if sc.CanGoBack {
			nav = append(nav, back)
		}
		if sc.Service != "" {
			nav = append(nav, home)
		}
	}

	all := strings.Join(append(append([]string{}, blocks...), more, back, home), "\n")
	budget := l.Budget(all)
	if one := join(blocks, nav); length(one) <= budget {
		return []string{one}
	}

	// Every page reserves room for More and for Back and Home.
	var pages []string
	var cur []string
	used := func() int { return length(join(cur, nil)) }
	room := func() int {
		footer := []string{more, back}
		if sc.Service != "" && sc.Kind != channels.KindEnd {
			footer = append(footer, home)
		}
		return budget - length(strings.Join(footer, "\n")) - 1
	}
	flush := func(last bool) {
		var footer []string
		if !last {
			footer = append(footer, more)
		}
		if len(pages) > 0 || sc.CanGoBack && sc.Kind != channels.KindEnd {
			footer = append(footer, back)
		}
		if sc.Service != "" && sc.Kind != channels.KindEnd {
			footer = append(footer, home)
		}
		pages = append(pages, join(cur, footer))
		cur = nil
	}
	for _, block := range blocks {
		for block != "" {
			avail := room()
			if len(cur) > 0 {
				avail -= used() + 1
			}
			if length(block) <= avail {
				cur = append(cur, block)
				block = ""
				continue
			}
			if len(cur) > 0 && length(block) <= room() {
				flush(false)
				continue
			}
			head, tail := splitAt(block, avail)
			if head == "" {
				flush(false)
				continue
			}
			cur = append(cur, head)
			block = tail
			flush(false)
		}
	}
	flush(true)
	return pages
}

func join(blocks, footer []string) string {
	return strings.Join(append(append([]string{}, blocks...), footer...), "\n")
}

// length measures text as the page budget counts it.
func length(s string) int {
	n, _ := gsm7.Length(s)
	return n
}

// splitAt returns the longest head of s, ending at a space when there is
// one, that fits in n, and the rest.
func splitAt(s string, n int) (string, string) {
	if n <= 0 {
		return "", s
	}
	fit := 0 // bytes of s that fit
	for i := range s {
		if length(s[:i]) > n {
			break
		}
		fit = i
	}
	if length(s) <= n {
		return s, ""
	}
	if sp := strings.LastIndexByte(s[:fit], ' '); sp > 0 {
		return s[:sp], strings.TrimLeft(s[sp:], " ")
	}
	return s[:fit], s[fit:]
}
