package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/ussd"
)

// The rules of the channel lints; the definition's are flows.Rule*.
const (
	ruleMessage     = "message"      // a text a service shows is missing in a locale, or does not render
	ruleArgument    = "argument"     // a template uses an argument the engine does not give it
	ruleUSSDPage    = "ussd-page"    // a USSD page, paginated and with its navigation, is over the budget of its encoding
	ruleUSSDPrompt  = "ussd-prompt"  // an input prompt, with any refusal above it, takes more than one USSD page
	ruleSMSSegments = "sms-segments" // an SMS reply takes more segments than allowed
)

// ucs2Page is what a USSD page holds, in UTF-16 units, when some character
// of it is outside GSM-7: about 80 (USSD.md), ussd.Layout's default.
const ucs2Page = 80

// lintRef is the reference the lint shows on final screens: as long as any.
const lintRef = "1234567890"

// catalogFS returns the service files of dir (the shipped ones when dir is
// empty) and the messages they use: the shipped ones with the message files
// of dir/locales on top.
func catalogFS(dir string) (fs.FS, *locales.Bundle, error) {
	var svcFS fs.FS = services.FS
	var extra []fs.FS
	if dir != "" {
		info, err := os.Stat(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("service catalog: %w", err)
		}
		if !info.IsDir() {
			return nil, nil, fmt.Errorf("service catalog %s is not a directory", dir)
		}
		svcFS = os.DirFS(dir)
		if info, err := os.Stat(filepath.Join(dir, "locales")); err == nil && info.IsDir() {
			extra = append(extra, os.DirFS(filepath.Join(dir, "locales")))
		}
	}
	bundle, err := locales.New(extra...)
	if err != nil {
		return nil, nil, fmt.Errorf("load messages: %w", err)
	}
	return svcFS, bundle, nil
}

// catalog loads the service definitions and the messages they use: the
// shipped ones when dir is empty, else the YAML files in dir with the
// message files in dir/locales on top of the shipped messages. A catalog
// that fails to load returns flows.Problems.
func catalog(dir string) (*flows.Catalog, *locales.Bundle, error) {
	svcFS, bundle, err := catalogFS(dir)
	if err != nil {
		return nil, nil, err
	}
	cat, err := flows.Load(svcFS)
	if err != nil {
		return nil, nil, err
	}
	return cat, bundle, nil
}

// checks are the budgets the lint holds screens to.
type checks struct {
	page     int // characters of a GSM-7 USSD page
	segments int // segments of an SMS reply; 0: SMS not checked
}

// lint checks what serve refuses to run with: the definition lint of
// flows (reachability, ends, capabilities), every text a service shows in
// every language with the arguments it is given, every USSD page within
// the budget of each dialect (pageChars or the UCS-2 budget, and behind
// Kannel ussd.KannelLayout), every prompt on one page.
func lint(cat *flows.Catalog, bundle *locales.Bundle, pageChars int) flows.Findings {
	return check(cat, bundle, checks{page: pageChars})
}

// check runs every lint on a catalog that loaded, findings sorted by file
// and line.
func check(cat *flows.Catalog, bundle *locales.Bundle, c checks) flows.Findings {
	found := cat.Lint()
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs()})
	if err != nil {
		return append(found, flows.Finding{File: ".", Rule: flows.RuleLoad, Message: err.Error()})
	}
	l := &linter{
		bundle: bundle,
		engine: engine,
		checks: c,
		layouts: []dialect{
			{"", ussd.Layout{MaxChars: c.page, UCS2MaxChars: ucs2Page}},
			{" behind Kannel", ussd.KannelLayout(c.page)},
		},
		reported: map[string]bool{},
		gaps:     map[string]bool{},
	}
	found = append(found, l.catalogMessages(cat)...)
	for _, lang := range bundle.Langs() {
		found = append(found, l.root(lang)...)
	}
	for _, svc := range cat.Services {
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
	checks   checks
	layouts  []dialect       // the pages of each are checked, in turn
	reported map[string]bool // "rule lang id": a text reported once a locale
	gaps     map[string]bool // "service lang" ("" for the root menus): a text of it is missing
}

// dialect is the page budget of a USSD dialect; name ends the findings
// about its pages.
type dialect struct {
	name   string
	layout ussd.Layout
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
			l.reported[ruleMessage+" "+lang+" "+use.ID] = true
			found = append(found, flows.Finding{File: use.File, Line: use.Line, Service: use.Service, Step: use.Step, Locale: lang,
				Rule: ruleMessage, Message: fmt.Sprintf("message %q is missing", use.ID)})
		}
	}
	return found
}

// shown is one screen a step shows on a channel, rendered.
type shown struct {
	how    string // "", " under error.too_long", " with one case": appended to "the screen"
	sc     channels.Screen
	prompt bool       // an input's prompt, which must fit one USSD page
	pages  [][]string // USSD, laid out for each of linter.layouts
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
					for _, d := range l.layouts {
						list[j].pages = append(list[j].pages, ussd.Pages(l.bundle, lang, list[j].sc, d.layout))
					}
				} else {
					list[j].text = sms.Render(l.bundle, lang, list[j].sc, sms.Layout{MaxSegments: l.checks.segments})
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
		if f, ok := l.ussd(rendered[i][0], lang); ok {
			add(lc.at, f[0], f[1])
		}
		if f, ok := l.ussdPrompt(rendered[i][0]); ok {
			add(lc.at, f[0], f[1])
		}
		if l.checks.segments == 0 {
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
// (one case found, none, a failure) and a cancelled confirmation. A
// confirm screen is shown without answers.
func (l *linter) screens(svc *flows.Service, step *flows.Step, lang string, ch channels.Channel) ([]shown, error) {
	st := flows.State{Service: svc.ID, Step: step.ID, Lang: lang, Channel: ch}
	complete := func(how string, out flows.Outcome) (shown, error) {
		r, err := l.engine.Complete(st, out)
		return shown{how: how, sc: r.Screen}, err
	}
	var out []shown
	switch step.Kind {
	case flows.StepEnd:
		// Reached only from another step: built as the engine enters it.
		sc := channels.Screen{Kind: channels.KindEnd, Service: svc.ID, Step: step.ID, Text: channels.Msg(step.Text)}
		return []shown{{sc: sc}}, nil
	case flows.StepSubmit:
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
		if rule == ruleMessage {
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
			once(ruleMessage, readIn, m.ID, "message %q is missing%s", m.ID, elsewhere(readIn, lang))
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
			once(ruleMessage, readIn, m.ID, "message %q does not render%s: its template fails", m.ID, elsewhere(readIn, lang))
		case strings.Contains(text, "<no value>"):
			gives := "none"
			if len(given) > 0 {
				gives = strings.Join(given, ", ")
			}
			once(ruleArgument, readIn, m.ID, "message %q%s uses an argument the engine does not give it (it gives %s): %q", m.ID, elsewhere(readIn, lang), gives, text)
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
	var all []string
	for _, pages := range s.pages {
		all = append(all, pages...)
	}
	for _, rendered := range append(all, s.text) {
		for _, m := range missingText.FindAllStringSubmatch(rendered, -1) {
			if !l.bundle.Has(lang, m[1]) {
				once(ruleMessage, lang, m[1], "message %q is missing", m[1])
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

// ussd reports the first page of the step's screens over the budget of
// its encoding, else the first option no page shows whole. Pagination
// keeps options whole where it can and measures each page in its own
// encoding, so a page over budget means the navigation lines alone are too
// long in the language, and a split option one too long for any page.
func (l *linter) ussd(list []shown, lang string) ([2]string, bool) {
	for k, d := range l.layouts {
		budget := func(s string) (int, string) {
			if _, ucs2 := gsm7.Length(s); ucs2 {
				return d.layout.UCS2MaxChars, "UCS-2"
			}
			return d.layout.MaxChars, "GSM-7"
		}
		for _, s := range list {
			for i, page := range s.pages[k] {
				if d.layout.Fits(page) {
					continue
				}
				n, _ := gsm7.Length(page)
				max, enc := budget(page)
				return [2]string{ruleUSSDPage, fmt.Sprintf("page %d of %d of the screen%s takes %d %s characters; a page holds %d%s",
					i+1, len(s.pages[k]), s.how, n, enc, max, d.name)}, true
			}
		}
		for _, s := range list {
		options:
			for _, o := range s.sc.Options {
				line := o.Key + ". " + l.bundle.Text(lang, o.Text)
				for _, page := range s.pages[k] {
					if strings.Contains(page, line) {
						continue options
					}
				}
				max, enc := budget(line)
				return [2]string{ruleUSSDPage, fmt.Sprintf("option %s of the screen%s is split across pages: with the navigation it does not fit the %d %s characters of a page%s",
					o.Key, s.how, max, enc, d.name)}, true
			}
		}
	}
	return [2]string{}, false
}

// ussdPrompt reports the first prompt of the step that takes more than one
// page, so that no citizen has to page through what to type. The budget
// named is that of the encoding of its first page.
func (l *linter) ussdPrompt(list []shown) ([2]string, bool) {
	for k, d := range l.layouts {
		for _, s := range list {
			pages := s.pages[k]
			if !s.prompt || len(pages) <= 1 {
				continue
			}
			budget := fmt.Sprintf("%d characters", d.layout.MaxChars)
			if _, ucs2 := gsm7.Length(pages[0]); ucs2 {
				budget = fmt.Sprintf("%d UCS-2 characters", d.layout.UCS2MaxChars)
			}
			return [2]string{ruleUSSDPrompt, fmt.Sprintf("the prompt%s takes %d USSD pages of %s%s; a prompt must fit one", s.how, len(pages), budget, d.name)}, true
		}
	}
	return [2]string{}, false
}

// sms reports the first reply of the step over the segment budget: Kannel
// cuts a longer one and each segment is billed.
func (l *linter) sms(list []shown) ([2]string, bool) {
	layout := sms.Layout{MaxSegments: l.checks.segments}
	for _, s := range list {
		if layout.Fits(s.text) {
			continue
		}
		n, _ := gsm7.Segments(s.text)
		return [2]string{ruleSMSSegments, fmt.Sprintf("the screen%s takes %d SMS segments; a reply must fit %d", s.how, n, l.checks.segments)}, true
	}
	return [2]string{}, false
}

// runValidate is `channels validate [DIR]`: "ok" and status 0 for a sound
// catalog, else one "file:line: step S, locale L: reason [rule]" per
// problem (or a JSON array of them) and status 1.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	page := fs.Int("ussd-page", 182, "characters a GSM-7 USSD page may hold (a page needing UCS-2 holds 80; behind Kannel, also checked, 160 and 70)")
	segments := fs.Int("sms-segments", 2, "segments an SMS reply may take")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels validate [-format text|json] [-ussd-page N] [-sms-segments N] [DIR]\n\nChecks every service in DIR (default: the shipped catalog) in every language.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || (*format != "text" && *format != "json") || *segments < 1 {
		fs.Usage()
		return 2
	}
	if err := (ussd.Layout{MaxChars: *page, UCS2MaxChars: ucs2Page}).Validate(); err != nil {
		fmt.Fprintf(stderr, "channels validate: %v\n", err)
		return 2
	}
	dir := fs.Arg(0)
	svcFS, bundle, err := catalogFS(dir)
	if err != nil {
		fmt.Fprintf(stderr, "channels validate: %v\n", err)
		return 1
	}
	cat, found, err := flows.LoadEach(svcFS)
	if err != nil {
		fmt.Fprintf(stderr, "channels validate: %v\n", err)
		return 1
	}
	if cat != nil {
		found = append(found, check(cat, bundle, checks{page: *page, segments: *segments})...)
	}
	found.Sort()
	for i := range found {
		if dir != "" {
			found[i].File = filepath.Join(dir, found[i].File)
		}
	}
	switch {
	case *format == "json":
		if found == nil {
			found = flows.Findings{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(found)
	case len(found) == 0:
		fmt.Fprintf(stdout, "ok: %d services, %d languages\n", len(cat.Services), len(bundle.Langs()))
	default:
		for _, f := range found {
			fmt.Fprintln(stdout, f.String())
		}
	}
	if len(found) > 0 {
		return 1
	}
	return 0
}
