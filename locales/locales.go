// Package locales holds every citizen-facing text, one go-i18n message file
// set per language, and turns a channels.Message into text in a language.
package locales

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
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

// Bundle is the loaded messages of every language.
type Bundle struct {
	bundle     *i18n.Bundle
	langs      []string
	localizers map[string]*i18n.Localizer
	texts      map[string]map[string]string // lang → id → template (plural "other")
	plural     map[string]bool              // lang + "/" + id → has plural forms
	plain      map[string]map[string]string // lang → id → final text of messages without arguments
	matcher    language.Matcher
	missing    atomic.Int64
}

// New loads the shipped message files, then the *.yaml message files at the
// root of each of extra (an operator's catalog may bring its own texts), which
// add to or override the shipped ones. File names follow go-i18n:
// <anything>.<lang>.yaml.
func New(extra ...fs.FS) (*Bundle, error) {
	b := &Bundle{bundle: i18n.NewBundle(language.MustParse(Default)), texts: map[string]map[string]string{}, plural: map[string]bool{}}
	b.bundle.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	for _, fsys := range append([]fs.FS{files}, extra...) {
		names, err := fs.Glob(fsys, "*.yaml")
		if err != nil {
			return nil, fmt.Errorf("list message files: %w", err)
		}
		for _, name := range names {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("read message file %s: %w", name, err)
			}
			mf, err := b.bundle.ParseMessageFileBytes(data, path.Base(name))
			if err != nil {
				return nil, fmt.Errorf("message file %s: %w", name, err)
			}
			lang := mf.Tag.String()
			if b.texts[lang] == nil {
				b.texts[lang] = map[string]string{}
			}
			for _, m := range mf.Messages {
				b.texts[lang][m.ID] = m.Other
				b.plural[lang+"/"+m.ID] = m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != ""
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
	// Most texts (prompts, options, navigation) take no arguments: render
	// them once, since go-i18n matches languages on every call.
	b.plain = make(map[string]map[string]string, len(b.langs))
	for _, lang := range b.langs {
		b.plain[lang] = map[string]string{}
		for id, text := range b.texts[lang] {
			if strings.Contains(text, "{{") || b.plural[lang+"/"+id] {
				continue
			}
			s, err := b.localizers[lang].Localize(&i18n.LocalizeConfig{MessageID: id})
			if err != nil {
				return nil, fmt.Errorf("message %s in %s: %w", id, lang, err)
			}
			b.plain[lang][id] = strings.TrimSpace(s)
		}
	}
	return b, nil
}

// Langs returns the languages loaded, the default first.
func (b *Bundle) Langs() []string { return b.langs }

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
// each an Accept-Language header or a tag; the default when none fits.
func (b *Bundle) Match(prefs ...string) string {
	var tags []language.Tag
	for _, p := range prefs {
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

// Missing counts texts asked for that do not exist in the language asked.
// The completeness test keeps it at zero for the shipped catalog.
func (b *Bundle) Missing() int64 { return b.missing.Load() }

// Text returns m in lang (or in m.Lang when set). Arguments that are
// Messages are localized first; an int argument named Count selects the
// plural form of a message that has them. A message missing in that language is never
// replaced silently by another language: it shows as [[id]] and is counted.
func (b *Bundle) Text(lang string, m channels.Message) string {
	if m.Lang != "" {
		lang = m.Lang
	}
	loc := b.localizers[lang]
	if loc == nil || !b.Has(lang, m.ID) {
		b.missing.Add(1)
		return "[[" + m.ID + "]]"
	}
	if len(m.Args) == 0 {
		if s, ok := b.plain[lang][m.ID]; ok {
			return s
		}
	}
	cfg := i18n.LocalizeConfig{MessageID: m.ID}
	if len(m.Args) > 0 {
		data := make(map[string]any, len(m.Args))
		for k, v := range m.Args {
			switch v := v.(type) {
			case channels.Message:
				data[k] = b.Text(lang, v)
			default:
				data[k] = v
			}
		}
		cfg.TemplateData = data
		if n, ok := m.Args["Count"].(int); ok && b.plural[lang+"/"+m.ID] {
			cfg.PluralCount = n
		}
	}
	s, err := loc.Localize(&cfg)
	if err != nil {
		b.missing.Add(1)
		return "[[" + m.ID + "]]"
	}
	return strings.TrimSpace(s)
}

// raw returns the unexecuted template of id in lang, for tests and lints.
func (b *Bundle) raw(lang, id string) string { return b.texts[lang][id] }
