// Package locales holds every citizen-facing text, one set of go-i18n
// message files per language, and turns a channels.Message into text in a
// language.
//
// The shipped files are split by area so that several people can edit them:
// system.<lang>.yaml (engine, errors, navigation) and services.<lang>.yaml
// (the texts of the shipped services). Each file is a flat YAML map from
// message ID to template, kept sorted by ID.
package locales

import (
	"embed"
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

//go:embed *.yaml
var files embed.FS

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
	plural bool // has plural forms besides "other"
}

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
	}
	if b.texts[Default] == nil {
		return nil, fmt.Errorf("no messages for the default language %s", Default)
	}
	for lang := range b.texts {
		if lang != Default {
			b.langs = append(b.langs, lang)
		}
	}
	sort.Strings(b.langs)
	b.langs = append([]string{Default}, b.langs...)
	tags := make([]language.Tag, len(b.langs))
	b.localizers = make(map[string]*i18n.Localizer, len(b.langs))
	for i, lang := range b.langs {
		tags[i] = language.MustParse(lang)
		b.localizers[lang] = i18n.NewLocalizer(b.bundle, lang)
	}
	b.matcher = language.NewMatcher(tags)
	return b, nil
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
		e := entry{
			tmpl:   m.Other,
			plural: m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != "",
		}
		if !e.plural && !strings.Contains(m.Other, "{{") {
			e.static, e.plain = true, strings.TrimSpace(m.Other)
		}
		b.texts[lang][m.ID] = e
	}
	return nil
}

// Langs returns the languages loaded, the default first, then sorted.
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
		if n, ok := m.Args["Count"].(int); ok && e.plural {
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
