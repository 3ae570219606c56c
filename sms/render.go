package sms

import (
	"strings"
	"unicode/utf8"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
)

// The navigation replies a rendered screen offers: BackKey, the back key
// the USSD channel taught citizens, always goes back (so it is never an
// answer), and MENU is a keyword of every shipped language (the server
// also takes the localized ones).
const (
	BackKey       = "0"
	renderMenuKey = "MENU"
)

// renderMinLine is the fewest characters a summary line keeps when Render
// shortens it, so that its label and the start of its value stay readable.
const renderMinLine = 16

// Layout is the budget of one SMS reply.
type Layout struct {
	// MaxSegments is how many segments a reply may take: Kannel cuts a
	// longer one (its max-messages) and every segment is billed. 2 when 0.
	MaxSegments int
}

func (l Layout) maxSegments() int {
	if l.MaxSegments <= 0 {
		return 2
	}
	return l.MaxSegments
}

// Fits reports whether text is sent in at most l.MaxSegments segments.
func (l Layout) Fits(text string) bool {
	n, _ := gsm7.Segments(text)
	return n <= l.maxSegments()
}

// Render returns the screen as the text of one SMS in lang, fitted into as
// few segments as possible. It shows, one to a line, the previous input's
// error, the text, the lines (a summary, a list of cases), the options as
// "1. Option", the reference when the text does not already show it, and a
// navigation hint ("Reply 0 to go back or MENU for the main menu"; none on
// an end screen).
//
// Of the forms it tries, from the most readable (full hint, "1. Option") to
// the most compact (no hint, "1 Option"), it keeps the first that needs the
// fewest segments. Only a confirm screen still over l's budget is shortened
// further: its summary lines, the citizen's own answers, are cut with
// "..." rather than letting the gateway drop the options at the end. The
// error, text, options and reference are never cut; a screen that needs
// more than the budget all the same comes out longer, and channels
// validate reports it.
//
// The result depends only on its arguments.
func Render(b *locales.Bundle, lang string, sc channels.Screen, l Layout) string {
	p := newRenderPieces(b, lang, sc)
	out, n := p.fewest()
	if budget := l.maxSegments(); n > budget && sc.Kind == channels.KindConfirm {
		if short, ok := p.shorten(budget); ok {
			return short
		}
		// Even cut short the answers do not fit (a long summary in UCS-2,
		// under an error): the citizen saw them on the screen before, so
		// the choice goes without them rather than cut off by the gateway.
		p.lines = nil
		if bare, n := p.fewest(); n <= budget {
			return bare
		}
	}
	return out
}

// renderPieces is a screen localized, before it is laid out.
type renderPieces struct {
	head    []string    // the error and the text
	lines   []string    // summary or list lines
	options [][2]string // key, text
	tail    []string    // the reference
	hints   []string    // the navigation hint, fullest first; "" for none
}

func newRenderPieces(b *locales.Bundle, lang string, sc channels.Screen) *renderPieces {
	p := &renderPieces{}
	text := func(m channels.Message) string {
		if m.ID == "" {
			return "" // no message
		}
		return b.Text(lang, m)
	}
	add := func(list *[]string, s string) {
		if s != "" { // an empty text takes no line
			*list = append(*list, s)
		}
	}
	if sc.Error != nil {
		add(&p.head, text(*sc.Error))
	}
	body := text(sc.Text)
	add(&p.head, body)
	for _, line := range sc.Lines {
		add(&p.lines, text(line))
	}
	for _, o := range sc.Options {
		p.options = append(p.options, [2]string{o.Key, b.Text(lang, o.Text)})
	}
	if sc.Reference != "" && !strings.Contains(body, sc.Reference) {
		add(&p.tail, b.Text(lang, channels.Msg("sms.nav.reference", "Reference", sc.Reference)))
	}
	p.hints = renderHints(b, lang, sc)
	return p
}

// renderHints returns the navigation hints a screen may end with, fullest
// first, then "" for none.
func renderHints(b *locales.Bundle, lang string, sc channels.Screen) []string {
	var full, short string
	back, menu := sc.CanGoBack, sc.Service != ""
	switch {
	case sc.Kind == channels.KindEnd:
		return []string{""}
	case back && menu:
		full, short = "sms.nav.back_menu", "sms.nav.short_back_menu"
	case back:
		full, short = "sms.nav.back", "sms.nav.short_back"
	case menu:
		full, short = "sms.nav.menu", "sms.nav.short_menu"
	case sc.Kind == channels.KindMenu:
		full = "sms.nav.choose" // the root menu: nowhere to go but a choice
	default:
		return []string{""}
	}
	hints := []string{b.Text(lang, channels.Msg(full, "Back", BackKey, "Menu", renderMenuKey))}
	if short != "" {
		hints = append(hints, b.Text(lang, channels.Msg(short, "Back", BackKey, "Menu", renderMenuKey)))
	}
	return append(hints, "")
}

// fewest returns the first form, fullest first, that needs the fewest
// segments, and that number.
func (p *renderPieces) fewest() (string, int) {
	seps := []string{". ", " "}
	if len(p.options) == 0 {
		seps = seps[:1] // the forms would be the same
	}
	best, bestN := "", 0
	for _, hint := range p.hints {
		for _, sep := range seps {
			s := p.join(p.lines, sep, hint)
			n, _ := gsm7.Segments(s)
			if best == "" || n < bestN {
				best, bestN = s, n
			}
			if bestN <= 1 {
				return best, bestN
			}
		}
	}
	return best, bestN
}

// shorten cuts the longest lines, each to the same length, as little as
// lets the screen fit budget segments; false when even the shortest cut does
// not.
func (p *renderPieces) shorten(budget int) (string, bool) {
	longest := 0
	for _, line := range p.lines {
		longest = max(longest, utf8.RuneCountInString(line))
	}
	full := p.lines
	defer func() { p.lines = full }()
	cut := make([]string, len(full))
	for limit := longest - 1; limit >= renderMinLine; limit-- {
		for i, line := range full {
			cut[i] = renderCut(line, limit)
		}
		p.lines = cut
		if s, n := p.fewest(); n <= budget {
			return s, true
		}
	}
	return "", false
}

// renderCut returns s cut to about limit characters, at a space when one
// is in its second half, and marked with "..." (GSM-7, unlike "…").
func renderCut(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	end, n := 0, 0
	for i := range s {
		if n == limit-3 {
			end = i
			break
		}
		n++
	}
	head := s[:end]
	if j := strings.LastIndexByte(head, ' '); j > len(head)/2 {
		head = head[:j]
	}
	return strings.TrimRight(head, " ,;:.") + "..."
}

// join lays the pieces out one to a line, with lines in place of p.lines,
// sep between each option's key and text, and hint last when not empty.
func (p *renderPieces) join(lines []string, sep, hint string) string {
	var sb strings.Builder
	line := func(s string) {
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(s)
	}
	for _, s := range p.head {
		line(s)
	}
	for _, s := range lines {
		line(s)
	}
	for _, o := range p.options {
		line(o[0] + sep + o[1])
	}
	for _, s := range p.tail {
		line(s)
	}
	if hint != "" {
		line(hint)
	}
	return sb.String()
}
