package sms

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// command is what a keyword asks for.
type command int

const (
	cmdNone command = iota
	cmdMenu
	cmdBack
	cmdStop
	cmdStart
	cmdHelp
	cmdService // start Keyword.Service
	cmdLang    // choose a language: the menu, or the language named after the word
)

// The message IDs of the system keywords, each a comma-separated list of
// words in its language.
var systemKeywords = []struct {
	id  string
	cmd command
}{
	{"sms.keyword.menu", cmdMenu},
	{"sms.keyword.back", cmdBack},
	{"sms.keyword.stop", cmdStop},
	{"sms.keyword.start", cmdStart},
	{"sms.keyword.help", cmdHelp},
	{"sms.keyword.lang", cmdLang},
}

// keyword is the meaning of one folded word.
type keyword struct {
	cmd     command
	service string // for cmdService
	// lang is the only language the word belongs to, "" when it is shared
	// ("MENU" is the same in English and French): a citizen with no
	// language yet is answered in it.
	lang string
}

// keywords maps every keyword of every language, folded, to its meaning.
// A citizen may text any language's keyword: STOP must work whatever the
// language the phone last chose.
type keywords map[string]keyword

// newKeywords reads the system keywords and each service's keywords in
// every language of b. Two meanings for one word, in any languages, is a
// problem: the citizen could not be sure what the word does.
func newKeywords(cat *flows.Catalog, b *locales.Bundle) (keywords, []string) {
	kw := keywords{}
	var problems []string
	add := func(lang, id string, k keyword) {
		if !b.Has(lang, id) {
			return // the locales lint reports missing texts
		}
		for _, w := range strings.Split(b.Text(lang, channels.Msg(id)), ",") {
			f := fold(w)
			if f == "" {
				continue
			}
			k.lang = lang
			old, seen := kw[f]
			switch {
			case !seen:
				kw[f] = k
			case old.cmd != k.cmd || old.service != k.service:
				problems = append(problems, fmt.Sprintf("SMS keyword %q (%s, %s) has two meanings: %s and %s", strings.TrimSpace(w), lang, id, old.describe(), k.describe()))
			case old.lang != lang:
				old.lang = ""
				kw[f] = old
			}
		}
	}
	for _, lang := range b.Langs() {
		for _, s := range systemKeywords {
			add(lang, s.id, keyword{cmd: s.cmd})
		}
		for _, svc := range cat.Services {
			if svc.Keyword != "" {
				add(lang, svc.Keyword, keyword{cmd: cmdService, service: svc.ID})
			}
		}
	}
	for f := range kw {
		if isNumber(f) {
			problems = append(problems, fmt.Sprintf("SMS keyword %q is a number: it would hide a numbered choice", f))
		}
	}
	return kw, problems
}

func (k keyword) describe() string {
	if k.cmd == cmdService {
		return "service " + k.service
	}
	return [...]string{"none", "menu", "back", "stop", "start", "help", "service", "language"}[k.cmd]
}

// match returns the meaning of a message that is a keyword, and what
// follows the keyword, folded: a language keyword may be followed by the
// language ("LANG ar", "LUGHA 3", "لغة العربية"), which the caller checks
// (a message that merely starts with the word is not a keyword); every
// other keyword is the whole message.
func (kw keywords) match(text string) (k keyword, arg string, ok bool) {
	f := fold(text)
	if k, ok := kw[f]; ok {
		return k, "", true
	}
	for i := 0; i < len(f); i++ {
		if f[i] != ' ' {
			continue
		}
		if k, ok := kw[f[:i]]; ok && k.cmd == cmdLang {
			return k, f[i+1:], true
		}
	}
	return keyword{}, "", false
}

// CheckKeywords reports every SMS keyword of the catalog and the system
// that has two meanings, in any of b's languages, or that is a number.
func CheckKeywords(cat *flows.Catalog, b *locales.Bundle) []string {
	_, problems := newKeywords(cat, b)
	return problems
}

// fold reduces a reply to what matching compares: letters without their
// accents, upper case, words separated by one space, surrounding
// punctuation dropped. "  Arrêt! " and "ARRET" fold alike. Arabic loses
// its vowel marks and hamzas the same way (NFD makes them marks), and the
// letters people write for one another at the end of words fold alike, ة
// as ه and ى as ي ("العربية", "العربيه"); the tatweel that stretches a
// word is dropped.
func fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch r {
		case 'ة': // teh marbuta
			r = 'ه'
		case 'ى': // alef maksura
			r = 'ي'
		case 'ـ': // tatweel
			continue
		}
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToUpper(r))
		default:
			space = true
		}
	}
	return b.String()
}

// asciiDigits returns s with the Arabic-Indic digits (٠-٩) and their
// Persian and Urdu forms (۰-۹) that an Arabic keyboard types replaced by
// 0-9: the menus number options in ASCII, and dates, phones and
// references are read in it.
func asciiDigits(s string) string {
	if !strings.ContainsFunc(s, isArabicDigit) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '٠' && r <= '٩':
			return '0' + r - '٠'
		case r >= '۰' && r <= '۹':
			return '0' + r - '۰'
		}
		return r
	}, s)
}

func isArabicDigit(r rune) bool { return (r >= '٠' && r <= '٩') || (r >= '۰' && r <= '۹') }

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
