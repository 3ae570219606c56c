// Package locales holds every citizen-facing text, one set of go-i18n
// message files per language, and turns a channels.Message into text in a
// language.
//
// The shipped files are split by area so that several people can edit them:
// system.<lang>.yaml (engine, errors, navigation), services.<lang>.yaml
// (the texts of the shipped services), pay.<lang>.yaml (paying a fee),
// sms.<lang>.yaml (SMS keywords and replies), auth.<lang>.yaml (sign-in)
// and lang.<lang>.yaml (choosing a language on every channel). Each file is a flat YAML map from message ID
// to template, kept sorted by ID; a message shown with a count may instead
// map to its CLDR plural forms (zero, one, two, few, many, other), as
// go-i18n reads them, as Arabic does for the cases a lookup found:
//
//	check.mine:
//	  zero: "ليست لديك طلبات:"
//	  one: "طلبك الأخير:"
//	  two: "طلباك الأخيران:"
//	  few: "آخر {{.Count}} طلبات لك:"
//	  many: "آخر {{.Count}} طلبًا لك:"
//	  other: "آخر {{.Count}} طلب لك:"
//
// langs.txt lists the languages in the order the language menus number
// them, the default first. The order is chosen, not alphabetical: a
// language added later goes at the end, so that the numbers citizens have
// learned ("4 then 2 for French") keep working. An operator's catalog may
// bring its own langs.txt, which replaces the shipped one.
package locales

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"

	"github.com/govchannels/channels"
)

//go:embed *.yaml langs.txt
var files embed.FS

// orderFile names the languages of the menus in order, one a line; "#"
// starts a comment.
const orderFile = "langs.txt"

// Default is the language used when a citizen has chosen none that is
// offered.
const Default = "en"

// maxDepth bounds how deeply Message arguments may nest, so that an
// argument map that refers to itself cannot recurse forever.
const maxDepth = 4

// entry is one message of one language as loaded.
type entry struct {
	tmpl   string // the "other" template, as written
	plain  string // the final text when static (no action, no plural forms)
	static bool
	forms  []form // the plural forms written, in CLDR order: "other" alone when there are none
}

// form is one plural form of a message.
type form struct{ name, tmpl string }

// plural reports whether e has plural forms besides "other".
func (e entry) plural() bool { return len(e.forms) > 1 }

// pluralForms are the CLDR plural categories, in the order go-i18n's
// message files and Gap list them.
var pluralForms = []string{"zero", "one", "two", "few", "many", "other"}

// maxCount bounds the counts whose plural forms Gaps requires: counts of
// cases, characters or minutes shown to a citizen stay below it. (French
// has a "many" form for a million, which no message here needs.)
const maxCount = 1000

// Bundle is the loaded messages of every language. It is safe for
// concurrent use once New has returned.
type Bundle struct {
	bundle     *i18n.Bundle
	langs      []string
	localizers map[string]*i18n.Localizer
	texts      map[string]map[string]entry // lang → id → message
	matcher    language.Matcher
	missing    atomic.Int64
}

// New loads the shipped message files, then the *.yaml message files at the
// root of each of extra (an operator's catalog may bring its own texts),
// which add to or override the shipped ones, later files winning. File names
// follow go-i18n: <anything>.<lang>.yaml. Errors name the file at fault.
func New(extra ...fs.FS) (*Bundle, error) {
	b := &Bundle{
		bundle: i18n.NewBundle(language.MustParse(Default)),
		texts:  map[string]map[string]entry{},
	}
	b.bundle.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	var order []string
	for _, fsys := range append([]fs.FS{files}, extra...) {
		names, err := fs.Glob(fsys, "*.yaml")
		if err != nil {
			return nil, fmt.Errorf("list message files: %w", err)
		}
		for _, name := range names {
			if err := b.load(fsys, name); err != nil {
				return nil, err
			}
		}
		switch o, err := readOrder(fsys); {
		case err != nil:
			return nil, err
		case o != nil:
			order = o
		}
	}
	if b.texts[Default] == nil {
		return nil, fmt.Errorf("no messages for the default language %s", Default)
	}
	langs, err := b.order(order)
	if err != nil {
		return nil, err
	}
	b.langs = langs
	tags := make([]language.Tag, len(b.langs))
	b.localizers = make(map[string]*i18n.Localizer, len(b.langs))
	for i, lang := range b.langs {
		tags[i] = language.MustParse(lang)
		b.localizers[lang] = i18n.NewLocalizer(b.bundle, lang)
	}
	b.matcher = language.NewMatcher(tags)
	return b, nil
}

// readOrder reads the order file of fsys; nil when it has none.
func readOrder(fsys fs.FS) ([]string, error) {
	data, err := fs.ReadFile(fsys, orderFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", orderFile, err)
	}
	order := []string{}
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "#")
		order = append(order, strings.Fields(line)...)
	}
	return order, nil
}

// order returns the languages loaded in the order of the order file: the
// default first, then those listed, then any other loaded language,
// alphabetically. A listed language without messages, listed twice or
// listed before the default is an error naming the order file.
func (b *Bundle) order(listed []string) ([]string, error) {
	langs := make([]string, 0, len(b.texts))
	seen := map[string]bool{}
	for i, lang := range listed {
		switch {
		case b.texts[lang] == nil:
			return nil, fmt.Errorf("%s: language %q has no message files", orderFile, lang)
		case seen[lang]:
			return nil, fmt.Errorf("%s: language %q is listed twice", orderFile, lang)
		case i == 0 && lang != Default:
			return nil, fmt.Errorf("%s: the default language %s must come first, not %s", orderFile, Default, lang)
		}
		seen[lang] = true
		langs = append(langs, lang)
	}
	if !seen[Default] {
		langs = append([]string{Default}, langs...)
		seen[Default] = true
	}
	var rest []string
	for lang := range b.texts {
		if !seen[lang] {
			rest = append(rest, lang)
		}
	}
	sort.Strings(rest)
	return append(langs, rest...), nil
}

// load adds the message file name of fsys to the bundle.
func (b *Bundle) load(fsys fs.FS, name string) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("read message file %s: %w", name, err)
	}
	mf, err := b.bundle.ParseMessageFileBytes(data, path.Base(name))
	if err != nil {
		return fmt.Errorf("message file %s: %w", name, err)
	}
	if mf.Tag == language.Und {
		return fmt.Errorf("message file %s: no language in its name (want <name>.<lang>.yaml)", name)
	}
	if len(mf.Messages) == 0 {
		return fmt.Errorf("message file %s: no messages (want a map of message ID to text)", name)
	}
	lang := mf.Tag.String()
	if b.texts[lang] == nil {
		b.texts[lang] = map[string]entry{}
	}
	for _, m := range mf.Messages {
		switch {
		case m.ID == "":
			return fmt.Errorf("message file %s: a message without ID (want a map of message ID to text)", name)
		case m.Other == "":
			return fmt.Errorf("message file %s: message %s has no text (or no \"other\" plural form)", name, m.ID)
		}
		e := entry{tmpl: m.Other}
		for i, text := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
			if text != "" {
				e.forms = append(e.forms, form{pluralForms[i], text})
			}
		}
		if !e.plural() && !strings.Contains(m.Other, "{{") {
			e.static, e.plain = true, strings.TrimSpace(m.Other)
		}
		b.texts[lang][m.ID] = e
	}
	return nil
}

// Langs returns the languages loaded, in the order of the language menus:
// the default first, then as langs.txt lists them, then any other,
// alphabetically.
func (b *Bundle) Langs() []string { return slices.Clone(b.langs) }

// Supports reports whether lang has messages.
func (b *Bundle) Supports(lang string) bool { return b.localizers[lang] != nil }

// Has reports whether message id exists in lang itself (no fallback).
func (b *Bundle) Has(lang, id string) bool {
	_, ok := b.texts[lang][id]
	return ok
}

// IDs returns the message IDs of lang, sorted.
func (b *Bundle) IDs(lang string) []string {
	ids := make([]string, 0, len(b.texts[lang]))
	for id := range b.texts[lang] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Gap is a message that exists in some language but not in Lang or, when
// Form is set, a plural form that Lang's message ID needs and lacks.
type Gap struct {
	Lang string
	ID   string
	Form string // a CLDR plural category: zero, one, two, few, many
}

func (g Gap) String() string {
	if g.Form != "" {
		return fmt.Sprintf("message %s is missing plural form %q in locale %s", g.ID, g.Form, g.Lang)
	}
	return fmt.Sprintf("message %s is missing in locale %s", g.ID, g.Lang)
}

// Gaps returns every message that some language has and another lacks,
// and every plural form that a message with plural forms lacks for a
// count its language tells apart (Arabic has six forms, English two): the
// translations to write before the catalog ships, by language (in Langs
// order) then ID. Nothing falls back to another language or form at run
// time.
func (b *Bundle) Gaps() []Gap {
	all := map[string]bool{}
	for _, texts := range b.texts {
		for id := range texts {
			all[id] = true
		}
	}
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var gaps []Gap
	for _, lang := range b.langs {
		var needed []string // computed for the first plural message only
		for _, id := range ids {
			e, ok := b.texts[lang][id]
			if !ok {
				gaps = append(gaps, Gap{Lang: lang, ID: id})
				continue
			}
			if !e.plural() {
				continue // "other" alone: every count reads it
			}
			if needed == nil {
				needed = neededForms(lang)
			}
			for _, name := range needed {
				if !slices.ContainsFunc(e.forms, func(f form) bool { return f.name == name }) {
					gaps = append(gaps, Gap{Lang: lang, ID: id, Form: name})
				}
			}
		}
	}
	return gaps
}

// neededForms returns the plural forms go-i18n picks in lang for the counts
// 0 to maxCount-1, in CLDR order: the forms a message with plural forms
// must have, since a missing one shows as [[id]]. It asks go-i18n itself,
// so that the check and the run time agree on every rule.
func neededForms(lang string) []string {
	probe := i18n.NewBundle(language.MustParse(Default))
	tag := language.MustParse(lang)
	m := &i18n.Message{ID: "probe", Zero: "zero", One: "one", Two: "two", Few: "few", Many: "many", Other: "other"}
	// Neither call can fail: go-i18n loaded messages of lang, so it has
	// its plural rule, and the probe has every form.
	if err := probe.AddMessages(tag, m); err != nil {
		panic(fmt.Sprintf("locales: plural probe for %s: %v", lang, err))
	}
	l := i18n.NewLocalizer(probe, lang)
	seen := map[string]bool{}
	for n := range maxCount {
		form, err := l.Localize(&i18n.LocalizeConfig{MessageID: "probe", PluralCount: n})
		if err != nil {
			panic(fmt.Sprintf("locales: plural probe for %s, count %d: %v", lang, n, err))
		}
		seen[form] = true
	}
	var forms []string
	for _, f := range pluralForms {
		if seen[f] {
			forms = append(forms, f)
		}
	}
	return forms
}

// Match returns the loaded language that best fits the given preferences,
// each an Accept-Language header ("sw-KE,sw;q=0.9,en;q=0.5") or a single
// tag; the default language when none fits. Unparsable values are skipped.
func (b *Bundle) Match(acceptLanguage ...string) string {
	var tags []language.Tag
	for _, p := range acceptLanguage {
		if p == "" {
			continue
		}
		t, _, err := language.ParseAcceptLanguage(p)
		if err == nil {
			tags = append(tags, t...)
		}
	}
	if len(tags) == 0 {
		return Default
	}
	_, i, conf := b.matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	return b.langs[i]
}

// Missing counts the texts asked for that did not exist in the language
// asked (or failed to execute). The completeness tests keep it at zero for
// the shipped catalog; a non-zero value in production is a bug to report.
func (b *Bundle) Missing() int64 { return b.missing.Load() }

// Text returns m in lang, or in m.Lang when that is set (a language menu
// names each language in itself). Arguments that are Messages are localized
// first, in the same language; an int argument named Count selects the
// plural form of a message that has plural forms. A message missing in that
// language is never replaced silently by another language: it shows as
// [[id]] and is counted by Missing.
func (b *Bundle) Text(lang string, m channels.Message) string {
	return b.text(lang, m, 0)
}

func (b *Bundle) text(lang string, m channels.Message, depth int) string {
	if m.Lang != "" {
		lang = m.Lang
	}
	e, ok := b.texts[lang][m.ID]
	if !ok || depth > maxDepth {
		return b.miss(m.ID)
	}
	if e.static {
		return e.plain
	}
	cfg := i18n.LocalizeConfig{MessageID: m.ID}
	if len(m.Args) > 0 {
		cfg.TemplateData = b.args(lang, m.Args, depth)
		if n, ok := m.Args["Count"].(int); ok && e.plural() {
			cfg.PluralCount = n
		}
	}
	s, err := b.localizers[lang].Localize(&cfg)
	if err != nil {
		return b.miss(m.ID)
	}
	return strings.TrimSpace(s)
}

// args returns the template data of a message: args itself when no
// argument is a Message, else a copy with each Message localized.
func (b *Bundle) args(lang string, args map[string]any, depth int) map[string]any {
	nested := false
	for _, v := range args {
		switch v.(type) {
		case channels.Message, *channels.Message:
			nested = true
		}
	}
	if !nested {
		return args
	}
	data := make(map[string]any, len(args))
	for k, v := range args {
		switch v := v.(type) {
		case channels.Message:
			data[k] = b.text(lang, v, depth+1)
		case *channels.Message:
			if v != nil {
				data[k] = b.text(lang, *v, depth+1)
			}
		default:
			data[k] = v
		}
	}
	return data
}

// miss counts a missing message and returns its visible stand-in.
func (b *Bundle) miss(id string) string {
	b.missing.Add(1)
	return "[[" + id + "]]"
}

// raw returns the unexecuted template of id in lang, for tests and lints.
func (b *Bundle) raw(lang, id string) string { return b.texts[lang][id].tmpl }

// rawForms returns the unexecuted template of each plural form of id in
// lang, "other" last; just raw for a message without plural forms.
func (b *Bundle) rawForms(lang, id string) []string {
	var out []string
	for _, f := range b.texts[lang][id].forms {
		out = append(out, f.tmpl)
	}
	return out
}
