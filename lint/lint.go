// Package lint is the equal-service lint: it proves that every service of
// a catalog works the same for every citizen, whatever their channel and
// language. It runs the definition lint of flows (reachability, ends,
// capabilities), then renders every screen of every step in every
// language on USSD and SMS and checks each text exists and renders, each
// USSD page fits the budget of every gateway dialect given, each prompt
// fits one page and each SMS reply its segments. channels validate, the
// server's startup check and tests share it.
package lint

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/ussd"
)

// The rules of the channel lints; the definition's are flows.Rule*.
const (
	RuleMessage     = "message"      // a text a service shows is missing in a locale, or does not render
	RuleArgument    = "argument"     // a template uses an argument the engine does not give it
	RuleUSSDPage    = "ussd-page"    // a USSD page, paginated and with its navigation, is over the budget of its encoding
	RuleUSSDPrompt  = "ussd-prompt"  // an input prompt, with any refusal above it, takes more than one USSD page
	RuleSMSSegments = "sms-segments" // an SMS reply takes more segments than allowed
	RuleNavigation  = "navigation"   // a number input takes an answer that a channel's navigation key stands for, so it cannot be typed there
)

// NamedLayout is the page budget of a USSD gateway dialect, named for the
// findings that break it.
type NamedLayout struct {
	Name   string // "Kannel"; a finding names no dialect when empty
	Layout ussd.Layout
}

// Options are the budgets Check holds screens to.
type Options struct {
	// USSD are the layouts of the dialects pages are rendered for; each
	// page is checked against each. None: the protocol's, ussd.Layout{}.
	USSD []NamedLayout
	// SMSSegments is how many segments an SMS reply may take; 0: SMS
	// replies are not checked.
	SMSSegments int
}

// navKey is a reply a channel always takes as navigation, never as an
// answer.
type navKey struct {
	channel channels.Channel
	key     string
	does    string // "goes back"
}

// navKeys returns the navigation keys of every layout and of SMS, each once.
func (l *linter) navKeys() []navKey {
	var out []navKey
	add := func(k navKey) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	for _, nl := range l.layouts {
		k := nl.Layout.Keys
		add(navKey{channels.ChannelUSSD, k.Back, "goes back"})
		add(navKey{channels.ChannelUSSD, k.Home, "goes home"})
		add(navKey{channels.ChannelUSSD, k.More, "shows the next page"})
	}
	add(navKey{channels.ChannelSMS, sms.BackKey, "goes back"})
	return out
}

// navigation reports each number input of svc that accepts, as the
// engine checks it, an answer a navigation key stands for (0 for "0" and
// "00", 98): the app takes it, but USSD or SMS navigate instead, and a
// citizen whose answer it is is stuck there. Text inputs are left alone:
// no one's name is "0".
func (l *linter) navigation(svc *flows.Service) flows.Findings {
	var found flows.Findings
	lang := l.bundle.Langs()[0]
	for _, step := range svc.Steps {
		if step.Kind != flows.StepInput || step.Type != channels.InputNumber {
			continue
		}
		var values []string
		blocked := map[string][]navKey{} // by the value stored
		for _, k := range l.navKeys() {
			st := flows.State{Service: svc.ID, Step: step.ID, Lang: lang, Channel: k.channel}
			if sc, err := l.engine.Screen(st); err != nil || sc.Kind != channels.KindInput {
				continue // an alternative is shown there instead
			}
			r, err := l.engine.Step(st, flows.Input{Text: k.key})
			if err != nil || r.Screen.Error != nil || len(r.State.Trail) == 0 {
				continue
			}
			v := r.State.Trail[len(r.State.Trail)-1].Value
			if blocked[v] == nil {
				values = append(values, v)
			}
			blocked[v] = append(blocked[v], k)
		}
		for _, v := range values {
			var where []string
			for _, ch := range []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS} {
				var how []string
				for _, k := range blocked[v] {
					if k.channel == ch {
						how = append(how, k.key+" "+k.does)
					}
				}
				if len(how) > 0 {
					where = append(where, fmt.Sprintf("%s (%s)", ch, strings.Join(how, ", ")))
				}
			}
			found = append(found, flows.Finding{File: svc.File, Line: step.Line, Service: svc.ID, Step: step.ID, Rule: RuleNavigation,
				Message: fmt.Sprintf("accepts %s, which cannot be typed on %s: a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way",
					v, strings.Join(where, " or "))})
		}
	}
	return found
}

// lintRef is the reference the lint shows on final screens: as long as any.
const lintRef = "1234567890"

// Check runs every lint on a catalog that loaded, in every language of
// bundle: the definition lint of flows, every text a service shows with
// the arguments it is given, every USSD page within the budget of each
// layout of o, every prompt on one page, every SMS reply within its
// segments. The findings are sorted by file and line.
func Check(cat *flows.Catalog, bundle *locales.Bundle, o Options) flows.Findings {
	found := cat.Lint()
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs()})
	if err != nil {
		return append(found, flows.Finding{File: ".", Rule: flows.RuleLoad, Message: err.Error()})
	}
	if len(o.USSD) == 0 {
		o.USSD = []NamedLayout{{}}
	}
	l := &linter{
		bundle:   bundle,
		engine:   engine,
		opts:     o,
		reported: map[string]bool{},
		gaps:     map[string]bool{},
	}
	for _, nl := range o.USSD {
		l.layouts = append(l.layouts, NamedLayout{Name: nl.Name, Layout: nl.Layout.Resolved()})
	}
	found = append(found, l.catalogMessages(cat)...)
	for _, lang := range bundle.Langs() {
		found = append(found, l.root(lang)...)
	}
	for _, svc := range cat.Services {
		found = append(found, l.navigation(svc)...)
		for _, lang := range bundle.Langs() {
			found = append(found, l.service(svc, lang)...)
		}
	}
	found.Sort()
	return found
}

// linter checks the screens of a catalog in every language.
type linter struct {
	bundle   *locales.Bundle
	engine   *flows.Engine
	opts     Options
	layouts  []NamedLayout   // o.USSD, resolved
	reported map[string]bool // "rule lang id": a text reported once a locale
	gaps     map[string]bool // "service lang" ("" for the root menus): a text of it is missing
}

// catalogMessages reports each use of a message the definitions name that
// is missing in a locale.
func (l *linter) catalogMessages(cat *flows.Catalog) flows.Findings {
	var found flows.Findings
	for _, use := range cat.MessageUses() {
		for _, lang := range l.bundle.Langs() {
			if l.bundle.Has(lang, use.ID) {
				continue
			}
			l.gaps[use.Service+" "+lang] = true
			l.reported[RuleMessage+" "+lang+" "+use.ID] = true
			found = append(found, flows.Finding{File: use.File, Line: use.Line, Service: use.Service, Step: use.Step, Locale: lang,
				Rule: RuleMessage, Message: fmt.Sprintf("message %q is missing", use.ID)})
		}
	}
	return found
}

// shown is one screen a step shows on a channel, rendered.
type shown struct {
	how    string // "", " under error.too_long", " with one case": appended to "the screen"
	sc     channels.Screen
	prompt bool       // an input's prompt, which must fit one USSD page
	pages  [][]string // USSD, a list of pages for each layout
	text   string     // SMS
}

// locus is where the screens checked together come from: a step, or the
// root menus; findings about them are reported there.
type locus struct {
	at      flows.Finding // File, Line, Service, Step
	screens func(ch channels.Channel) ([]shown, error)
}

// service checks every screen of every step of svc in lang.
func (l *linter) service(svc *flows.Service, lang string) flows.Findings {
	var loci []locus
	for _, step := range svc.Steps {
		loci = append(loci, locus{
			at:      flows.Finding{File: svc.File, Line: step.Line, Service: svc.ID, Step: step.ID},
			screens: func(ch channels.Channel) ([]shown, error) { return l.screens(svc, step, lang, ch) },
		})
	}
	return l.check(loci, svc.ID, lang)
}

// root checks the root menu (every service's title) and the language menu
// in lang, reported at the catalog itself.
func (l *linter) root(lang string) flows.Findings {
	screens := func(ch channels.Channel) ([]shown, error) {
		home, err := l.engine.Start(ch, lang, "")
		if err != nil {
			return nil, err
		}
		refused, err := l.engine.Step(home.State, flows.Input{Text: "x"})
		if err != nil {
			return nil, err
		}
		out := []shown{{how: " of the root menu", sc: home.Screen}, {how: " of the root menu under error.choice", sc: refused.Screen}}
		if len(l.bundle.Langs()) > 1 { // its last choice is the language menu
			langs, err := l.engine.Step(home.State, flows.Input{Text: home.Screen.Options[len(home.Screen.Options)-1].Key})
			if err != nil {
				return nil, err
			}
			if refused, err = l.engine.Step(langs.State, flows.Input{Text: "x"}); err != nil {
				return nil, err
			}
			out = append(out, shown{how: " of the language menu", sc: langs.Screen}, shown{how: " of the language menu under error.choice", sc: refused.Screen})
		}
		return out, nil
	}
	return l.check([]locus{{at: flows.Finding{File: "."}, screens: screens}}, "", lang)
}

// check renders the screens of each locus on USSD and SMS in lang and
// checks them: first that every text exists and renders with its
// arguments; then, when none of the group is missing, the USSD pages and
// SMS replies against their budgets (pages of missing texts say nothing
// useful).
func (l *linter) check(loci []locus, group, lang string) flows.Findings {
	var found flows.Findings
	add := func(at flows.Finding, rule, message string) {
		at.Locale, at.Rule, at.Message = lang, rule, message
		found = append(found, at)
	}
	rendered := make([][2][]shown, len(loci))
	for i, lc := range loci {
		for c, ch := range []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS} {
			list, err := lc.screens(ch)
			if err != nil {
				add(lc.at, flows.RuleLoad, fmt.Sprintf("%s: %v", ch, err))
				continue
			}
			for j := range list {
				if ch == channels.ChannelUSSD {
					for _, nl := range l.layouts {
						list[j].pages = append(list[j].pages, ussd.Pages(l.bundle, lang, list[j].sc, nl.Layout))
					}
				} else {
					list[j].text = sms.Render(l.bundle, lang, list[j].sc, sms.Layout{MaxSegments: l.opts.SMSSegments})
				}
				for _, f := range l.texts(list[j], group, lang) {
					add(lc.at, f[0], f[1])
				}
			}
			rendered[i][c] = list
		}
	}
	if l.gaps[group+" "+lang] {
		return found
	}
	for i, lc := range loci {
		for _, f := range l.ussdPages(rendered[i][0], lang) {
			add(lc.at, f[0], f[1])
		}
		if l.opts.SMSSegments == 0 {
			continue
		}
		if f, ok := l.sms(rendered[i][1]); ok {
			add(lc.at, f[0], f[1])
		}
	}
	return found
}

// screens returns the screens step shows on ch in lang, as the engine
// builds them: the step's own, under each refusal it can show, and the
// final screens of a submission (with a ten-digit reference), a lookup
// (one case found, none, a failure), a cancelled confirmation and the
// reminder a call step sends. A confirm screen is shown without answers;
// every screen is shown with every result of a call at its longest value
// (flows.Service.LongestTrail).
func (l *linter) screens(svc *flows.Service, step *flows.Step, lang string, ch channels.Channel) ([]shown, error) {
	st := flows.State{Service: svc.ID, Step: step.ID, Lang: lang, Channel: ch, Trail: svc.LongestTrail(lintRef)}
	complete := func(how string, out flows.Outcome) (shown, error) {
		r, err := l.engine.Complete(st, out)
		return shown{how: how, sc: r.Screen}, err
	}
	var out []shown
	switch step.Kind {
	case flows.StepEnd:
		// Reached only from another step: built as the engine enters it.
		sc, err := l.engine.EndScreen(st)
		return []shown{{sc: sc}}, err
	case flows.StepCall:
		// A call shows nothing itself (its exits' steps are checked on
		// their own) but the reminder it may send, an SMS.
		if text, ok := l.engine.RemindText(st); ok {
			return []shown{{how: " of the reminder", sc: channels.Screen{Kind: channels.KindEnd, Service: svc.ID, Step: step.ID, Text: text}}}, nil
		}
		return nil, nil
	case flows.StepSubmit:
		if step.Next != "" {
			return nil, nil // it goes on to a step checked on its own
		}
		s, err := complete("", flows.Outcome{Ref: lintRef})
		return []shown{s}, err
	case flows.StepLookup:
		one := []*channels.Case{{Ref: lintRef, Service: svc.ID, Status: channels.StatusSubmitted}}
		for _, o := range []struct {
			how string
			out flows.Outcome
		}{
			{" with one case", flows.Outcome{Cases: one}},
			{" when nothing is found", flows.Outcome{}},
			{" when the lookup fails", flows.Outcome{Err: errors.New("lint: no store")}},
		} {
			s, err := complete(o.how, o.out)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	sc, err := l.engine.Screen(st)
	if err != nil {
		return nil, err
	}
	input := sc.Kind == channels.KindInput
	out = append(out, shown{sc: sc, prompt: input})
	var whys []channels.Message
	switch {
	case input:
		whys = l.engine.Refusals(svc.ID, step.ID)
	case step.Kind == flows.StepConfirm:
		// A failed submission returns here with error.internal.
		whys = []channels.Message{channels.Msg("error.choice"), channels.Msg("error.internal")}
	default: // a menu, or an alternative shown instead of the step
		whys = []channels.Message{channels.Msg("error.choice")}
	}
	for _, why := range whys {
		under := sc
		under.Error = &why
		out = append(out, shown{how: " under " + why.ID, sc: under, prompt: input})
	}
	if step.Kind == flows.StepConfirm && sc.Kind == channels.KindConfirm {
		r, err := l.engine.Step(st, flows.Input{Text: "2"})
		if err != nil {
			return nil, err
		}
		out = append(out, shown{how: " after cancel", sc: r.Screen})
	}
	return out, nil
}

// missingText finds the stand-in locales shows for a missing message.
var missingText = regexp.MustCompile(`\[\[([^\[\]]+)\]\]`)

// texts checks every message of a rendered screen, its arguments' and the
// channel's own (navigation): each must exist in the locale it is read in
// and render with the arguments the engine gives it. Each problem comes
// once a locale; it marks the service's locale incomplete when a text is
// missing. It returns rule and message pairs.
func (l *linter) texts(s shown, group, lang string) [][2]string {
	var out [][2]string
	once := func(rule, readIn, id, format string, args ...any) {
		key := rule + " " + readIn + " " + id
		if rule == RuleMessage {
			l.gaps[group+" "+lang] = true
		}
		if !l.reported[key] {
			l.reported[key] = true
			out = append(out, [2]string{rule, fmt.Sprintf(format, args...)})
		}
	}
	var visit func(m channels.Message)
	visit = func(m channels.Message) {
		readIn := lang
		if m.Lang != "" {
			readIn = m.Lang
		}
		if !l.bundle.Has(readIn, m.ID) {
			once(RuleMessage, readIn, m.ID, "message %q is missing%s", m.ID, elsewhere(readIn, lang))
			return
		}
		// Its own template, nested messages stood in for.
		own := channels.Message{ID: m.ID, Lang: m.Lang}
		var given []string
		for k, v := range m.Args {
			given = append(given, k)
			if own.Args == nil {
				own.Args = map[string]any{}
			}
			switch v.(type) {
			case channels.Message, *channels.Message:
				own.Args[k] = "x"
			default:
				own.Args[k] = v
			}
		}
		slices.Sort(given)
		switch text := l.bundle.Text(readIn, own); {
		case text == "[["+m.ID+"]]":
			once(RuleMessage, readIn, m.ID, "message %q does not render%s: its template fails", m.ID, elsewhere(readIn, lang))
		case strings.Contains(text, "<no value>"):
			gives := "none"
			if len(given) > 0 {
				gives = strings.Join(given, ", ")
			}
			once(RuleArgument, readIn, m.ID, "message %q%s uses an argument the engine does not give it (it gives %s): %q", m.ID, elsewhere(readIn, lang), gives, text)
		}
		for _, v := range m.Args {
			switch v := v.(type) {
			case channels.Message:
				visit(v)
			case *channels.Message:
				if v != nil {
					visit(*v)
				}
			}
		}
	}
	sc := s.sc
	if sc.Error != nil {
		visit(*sc.Error)
	}
	visit(sc.Text)
	for _, m := range sc.Lines {
		visit(m)
	}
	for _, o := range sc.Options {
		visit(o.Text)
	}
	// What is still missing in the rendering is the channel's own.
	for _, rendered := range append(slices.Concat(s.pages...), s.text) {
		for _, m := range missingText.FindAllStringSubmatch(rendered, -1) {
			if !l.bundle.Has(lang, m[1]) {
				once(RuleMessage, lang, m[1], "message %q is missing", m[1])
			}
		}
	}
	return out
}

// elsewhere names the locale a message is read in when it is not the
// screen's (a language menu names each language in itself).
func elsewhere(readIn, lang string) string {
	if readIn == lang {
		return ""
	}
	return " in locale " + readIn
}

// ussdPages checks the USSD pages of a step's screens against each
// layout: the first page over budget or option split (ussd), the first
// prompt over one page (ussdPrompt). A finding that several layouts share
// word for word is reported once, naming each.
func (l *linter) ussdPages(list []shown, lang string) [][2]string {
	var out [][2]string
	var names [][]string
	note := func(f [2]string, name string) {
		for i, o := range out {
			if o == f {
				names[i] = append(names[i], name)
				return
			}
		}
		out, names = append(out, f), append(names, []string{name})
	}
	for i, nl := range l.layouts {
		if f, ok := l.ussd(list, i, lang); ok {
			note(f, nl.Name)
		}
		if f, ok := l.ussdPrompt(list, i); ok {
			note(f, nl.Name)
		}
	}
	for i := range out {
		if n := slices.DeleteFunc(names[i], func(s string) bool { return s == "" }); len(n) > 0 {
			out[i][1] += " on " + join(n)
		}
	}
	return out
}

// join lists names for a reason: "Kannel", "Africa's Talking and Kannel".
func join(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// budget names what a page of layout holds in the encoding text needs.
func budget(layout ussd.Layout, text string) (int, string) {
	if _, ucs2 := gsm7.Length(text); ucs2 {
		return layout.UCS2MaxChars, "UCS-2"
	}
	return layout.MaxChars, "GSM-7"
}

// ussd reports the first page of the step's screens, rendered for layout
// i, over the budget of its encoding, else the first option no page shows
// whole. Pagination keeps options whole where it can and measures each
// page in its own encoding, so a page over budget means the navigation
// lines alone are too long in the language, and a split option one too
// long for any page.
func (l *linter) ussd(list []shown, i int, lang string) ([2]string, bool) {
	layout := l.layouts[i].Layout
	for _, s := range list {
		for p, page := range s.pages[i] {
			if layout.Fits(page) {
				continue
			}
			n, _ := gsm7.Length(page)
			max, enc := budget(layout, page)
			return [2]string{RuleUSSDPage, fmt.Sprintf("page %d of %d of the screen%s takes %d %s characters; a page holds %d",
				p+1, len(s.pages[i]), s.how, n, enc, max)}, true
		}
	}
	for _, s := range list {
	options:
		for _, o := range s.sc.Options {
			line := o.Key + ". " + l.bundle.Text(lang, o.Text)
			for _, page := range s.pages[i] {
				if strings.Contains(page, line) {
					continue options
				}
			}
			max, enc := budget(layout, line)
			return [2]string{RuleUSSDPage, fmt.Sprintf("option %s of the screen%s is split across pages: with the navigation it does not fit the %d %s characters of a page",
				o.Key, s.how, max, enc)}, true
		}
	}
	return [2]string{}, false
}

// ussdPrompt reports the first prompt of the step that takes more than one
// page of layout i, so that no citizen has to page through what to type.
// The budget named is that of the encoding of its first page.
func (l *linter) ussdPrompt(list []shown, i int) ([2]string, bool) {
	for _, s := range list {
		if !s.prompt || len(s.pages[i]) <= 1 {
			continue
		}
		max, enc := budget(l.layouts[i].Layout, s.pages[i][0])
		size := fmt.Sprintf("%d characters", max)
		if enc == "UCS-2" {
			size = fmt.Sprintf("%d UCS-2 characters", max)
		}
		return [2]string{RuleUSSDPrompt, fmt.Sprintf("the prompt%s takes %d USSD pages of %s; a prompt must fit one", s.how, len(s.pages[i]), size)}, true
	}
	return [2]string{}, false
}

// sms reports the first reply of the step over the segment budget: Kannel
// cuts a longer one and each segment is billed.
func (l *linter) sms(list []shown) ([2]string, bool) {
	layout := sms.Layout{MaxSegments: l.opts.SMSSegments}
	for _, s := range list {
		if layout.Fits(s.text) {
			continue
		}
		n, _ := gsm7.Segments(s.text)
		return [2]string{RuleSMSSegments, fmt.Sprintf("the screen%s takes %d SMS segments; a reply must fit %d", s.how, n, l.opts.SMSSegments)}, true
	}
	return [2]string{}, false
}
