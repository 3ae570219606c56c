package ussd

import (
	"errors"
	"fmt"
	"strings"

	"unicode/utf8"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
)

// Keys are the navigation inputs. They are reserved on every screen: a
// citizen typing one always navigates, whatever the screen asks. Most
// gateways and citizens know 98 for more, 0 for back and 00 for home; a
// deployment can change them (Hubtel's SDK uses 9 and 8, say).
type Keys struct {
	More string // the next page of a long screen
	Back string // the previous page, else the previous screen
	Home string // the root menu
}

// Layout is the page budget and navigation keys of a gateway. The zero
// Layout is the protocol's: 182 GSM-7 characters, 80 UCS-2 units, 98/0/00.
type Layout struct {
	// MaxChars is what a page holds, in septets, when all its text is
	// GSM-7: 182 is the protocol ceiling (160 octets), 160 is safe with
	// every aggregator. 182 when 0.
	MaxChars int
	// UCS2MaxChars is what a page holds, in UTF-16 units, when some
	// character of it is outside GSM-7. 80 when 0.
	UCS2MaxChars int
	// Keys are the navigation keys; each empty one takes its default.
	Keys Keys
}

// The protocol's limits, and the smallest page a layout may ask for: the
// navigation lines of a long page take about 30 characters and a page must
// leave room for some text besides.
const (
	maxGSMPage  = 182
	maxUCS2Page = 80
	minPage     = 40
)

// Kannel sends a page as one SMS of its sms-length, 140 octets by
// default: 160 GSM-7 septets, or 70 UTF-16 units in UCS-2. Measured with
// the real Kannel (TestKannelPages): a longer page reaches the operator
// split in two concatenated messages, or cut to that length when the
// sms-service has max-messages = 1.
const (
	kannelGSMPage  = 160
	kannelUCS2Page = 70
)

// KannelLayout is the layout of pages sent through Kannel, for a server
// whose pages otherwise hold pageChars GSM-7 characters (182 when 0): at
// most 160 GSM-7 characters and 70 UCS-2 units, so that each page reaches
// the handset whole. The server and the catalog lint both use it.
func KannelLayout(pageChars int) Layout {
	if pageChars <= 0 {
		pageChars = maxGSMPage
	}
	return Layout{MaxChars: min(pageChars, kannelGSMPage), UCS2MaxChars: kannelUCS2Page}
}

func (l Layout) withDefaults() Layout {
	if l.MaxChars == 0 {
		l.MaxChars = maxGSMPage
	}
	if l.UCS2MaxChars == 0 {
		l.UCS2MaxChars = maxUCS2Page
	}
	if l.Keys.More == "" {
		l.Keys.More = "98"
	}
	if l.Keys.Back == "" {
		l.Keys.Back = "0"
	}
	if l.Keys.Home == "" {
		l.Keys.Home = "00"
	}
	return l
}

// Validate reports a layout no gateway can honour: a budget over the
// protocol's or too small to hold the navigation lines and some text, or
// keys that are empty once defaulted, equal, or contain the "*" that
// separates inputs in the accumulated text of Africa's Talking.
func (l Layout) Validate() error {
	l = l.withDefaults()
	var errs []error
	if l.MaxChars < minPage || l.MaxChars > maxGSMPage {
		errs = append(errs, fmt.Errorf("ussd page of %d GSM-7 characters: want %d to %d", l.MaxChars, minPage, maxGSMPage))
	}
	if l.UCS2MaxChars < minPage || l.UCS2MaxChars > maxUCS2Page {
		errs = append(errs, fmt.Errorf("ussd page of %d UCS-2 characters: want %d to %d", l.UCS2MaxChars, minPage, maxUCS2Page))
	}
	k := l.Keys
	if k.More == k.Back || k.More == k.Home || k.Back == k.Home {
		errs = append(errs, fmt.Errorf("ussd navigation keys %q, %q, %q: want three different keys", k.More, k.Back, k.Home))
	}
	for _, key := range []string{k.More, k.Back, k.Home} {
		if strings.ContainsAny(key, "* \n") || len(key) > 4 {
			errs = append(errs, fmt.Errorf("ussd navigation key %q: want at most 4 characters, no \"*\" or space", key))
		}
	}
	return errors.Join(errs...)
}

// Fits reports whether page is within the budget: its septets against
// MaxChars when all of it is GSM-7, else its UTF-16 units against
// UCS2MaxChars.
func (l Layout) Fits(page string) bool {
	return l.withDefaults().fits(measure(page).fill())
}

// Resolved returns l with every unset field given its default, so that a
// lint reads the budgets and keys a gateway really uses.
func (l Layout) Resolved() Layout { return l.withDefaults() }

// size is the length of a text by both counts.
type size struct {
	septets int  // GSM-7 septets; meaningless when ucs2
	units   int  // UTF-16 units
	ucs2    bool // some character is outside GSM-7
}

func measure(s string) size {
	n, ok := gsm7.Septets(s)
	return size{septets: n, units: gsm7.UCS2Units(s), ucs2: !ok}
}

func (s size) fill() fill { return fill{size: s, n: 1} }

// fill is the size of n blocks joined by newlines.
type fill struct {
	size
	n int
}

func (a fill) join(b fill) fill {
	switch {
	case a.n == 0:
		return b
	case b.n == 0:
		return a
	}
	return fill{size: size{septets: a.septets + b.septets + 1, units: a.units + b.units + 1, ucs2: a.ucs2 || b.ucs2}, n: a.n + b.n}
}

func (a fill) plus(s size) fill { return a.join(s.fill()) }

func (l Layout) fits(f fill) bool {
	if f.ucs2 {
		return f.units <= l.UCS2MaxChars
	}
	return f.septets <= l.MaxChars
}

// block is one line of a page as rendered: a message, a summary line, an
// option or a navigation line.
type block struct {
	text  string
	size  size
	whole bool // an option: moved to the next page rather than split
}

func newBlock(text string, whole bool) block {
	return block{text: text, size: measure(text), whole: whole}
}

// footer is the navigation lines under a page.
type footer struct {
	blocks []block
	fill   fill
}

func newFooter(bs ...block) footer {
	f := footer{blocks: bs}
	for _, b := range bs {
		f.fill = f.fill.plus(b.size)
	}
	return f
}

// Pages lays a screen out as USSD pages in lang, each within l's budget:
//
//   - the previous input's error first, short, so that the citizen reads why
//     before reading the prompt again;
//   - the text, then the lines (a summary, a list of cases);
//   - the options, numbered "1. Label";
//   - the navigation: "0. Back" on a screen that can go back, "00. Home" on
//     a screen inside a service where it fits.
//
// A screen too long for one page is paginated: every page but the last
// ends with "98. More" and every page after the first offers "0. Back" (to
// the page before). An option is never split across pages; a text longer
// than a page is split at spaces. A final screen (KindEnd) offers no
// navigation but More and, after its first page, Back: the channel ends
// the session on its last page only.
//
// The result depends only on its arguments.
func Pages(b *locales.Bundle, lang string, sc channels.Screen, l Layout) []string {
	l = l.withDefaults()
	blocks := make([]block, 0, 2+len(sc.Lines)+len(sc.Options))
	add := func(text string, whole bool) {
		if text != "" { // an empty text takes no line
			blocks = append(blocks, newBlock(text, whole))
		}
	}
	if sc.Error != nil {
		add(b.Text(lang, *sc.Error), false)
	}
	add(b.Text(lang, sc.Text), false)
	for _, line := range sc.Lines {
		add(b.Text(lang, line), false)
	}
	for _, o := range sc.Options {
		add(o.Key+". "+b.Text(lang, o.Text), true)
	}
	end := sc.Kind == channels.KindEnd
	p := pager{
		layout:  l,
		blocks:  blocks,
		end:     end,
		canBack: sc.CanGoBack && !end,
		more:    newBlock(l.Keys.More+". "+b.Text(lang, channels.Msg("nav.more")), true),
		back:    newBlock(l.Keys.Back+". "+b.Text(lang, channels.Msg("nav.back")), true),
	}
	if sc.Service != "" && !end {
		p.home = newBlock(l.Keys.Home+". "+b.Text(lang, channels.Msg("nav.home")), true)
	}
	return p.pages()
}

// pager packs blocks into pages.
type pager struct {
	layout           Layout
	blocks           []block
	end, canBack     bool
	more, back, home block // home.text is "" when the screen offers none
}

// footers returns the navigation of page i: mid for a page followed by
// another, last for the last one.
func (p *pager) footers(i int) (mid, last footer) {
	back := i > 0 || p.canBack
	var nav []block
	if back {
		nav = append(nav, p.back)
	}
	if p.home.text != "" {
		nav = append(nav, p.home)
	}
	mid = newFooter(append([]block{p.more}, nav...)...)
	if p.end {
		return mid, footer{}
	}
	return mid, newFooter(nav...)
}

func (p *pager) pages() []string {
	l := p.layout
	var content fill
	for _, b := range p.blocks {
		content = content.plus(b.size)
	}
	// One page: with Home when it fits, else without it.
	_, last := p.footers(0)
	if l.fits(content.join(last.fill)) {
		return []string{render(p.blocks, last.blocks)}
	}
	if p.home.text != "" {
		var back []block
		if p.canBack {
			back = []block{p.back}
		}
		if short := newFooter(back...); l.fits(content.join(short.fill)) {
			return []string{render(p.blocks, short.blocks)}
		}
	}

	var out []string
	rest := p.blocks
	for len(rest) > 0 {
		mid, last := p.footers(len(out))
		nextMid, _ := p.footers(len(out) + 1)
		var cur fill
		n := 0         // whole blocks of rest on this page
		var head block // the first part of a split block, when set
		consumed := 0  // 1 when the split block left no tail
		for n < len(rest) {
			b := rest[n]
			if l.fits(cur.plus(b.size).join(mid.fill)) {
				cur = cur.plus(b.size)
				n++
				continue
			}
			if remaining := fillOf(rest[n:]); l.fits(cur.join(remaining).join(last.fill)) {
				n = len(rest)
				break
			}
			if n > 0 && (b.whole || l.fits(b.size.fill().join(nextMid.fill))) {
				break // it reads better whole on the next page
			}
			h, t := p.split(b.text, cur, mid.fill, n == 0)
			if h == "" {
				if n == 0 {
					n = 1 // nothing fits even alone: never loop without progress
				}
				break
			}
			head = newBlock(h, false)
			if t == "" {
				consumed = 1
			} else {
				rest[n] = newBlock(t, b.whole)
			}
			break
		}
		page := rest[:n:n]
		if head.text != "" {
			page = append(page, head)
		}
		rest = rest[n+consumed:]
		f := mid
		if len(rest) == 0 {
			f = last
		}
		out = append(out, render(page, f.blocks))
	}
	return out
}

func fillOf(bs []block) fill {
	var f fill
	for _, b := range bs {
		f = f.plus(b.size)
	}
	return f
}

// split returns the longest head of s that fits on a page holding cur and
// the footer, ending before a space or newline, and the rest. When no word
// fits and force is set (the page is empty) it cuts inside the word, and
// keeps at least one character whatever the budget, so that every page
// makes progress.
func (p *pager) split(s string, cur, foot fill, force bool) (head, tail string) {
	var prefix size
	word, hard := 0, 0 // byte lengths of the longest fitting heads
	text := false      // a character other than a break point was seen
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		brk := r == ' ' || r == '\n'
		if brk && text {
			if !p.layout.fits(cur.plus(prefix).join(foot)) {
				break
			}
			word = i
		}
		text = text || !brk
		// An invalid byte decodes as U+FFFD, outside GSM-7, one unit: as
		// gsm7 counts it.
		n, ok := gsm7.RuneSeptets(r)
		prefix.septets += n
		prefix.ucs2 = prefix.ucs2 || !ok
		prefix.units++
		if r >= 0x10000 {
			prefix.units++
		}
		if !p.layout.fits(cur.plus(prefix).join(foot)) {
			break
		}
		i += w
		hard = i
	}
	switch {
	case word > 0:
		head = s[:word]
	case force:
		if hard == 0 {
			_, hard = utf8.DecodeRuneInString(s)
		}
		head = s[:hard]
	default:
		return "", s
	}
	return strings.TrimRight(head, " \n"), strings.TrimLeft(s[len(head):], " \n")
}

// render joins the blocks of a page and its footer with newlines.
func render(page, foot []block) string {
	n := 0
	for _, b := range page {
		n += len(b.text) + 1
	}
	for _, b := range foot {
		n += len(b.text) + 1
	}
	var sb strings.Builder
	sb.Grow(n)
	first := true
	for _, list := range [2][]block{page, foot} {
		for _, b := range list {
			if !first {
				sb.WriteByte('\n')
			}
			first = false
			sb.WriteString(b.text)
		}
	}
	return sb.String()
}
