package kiosk

import (
	"net/http"
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
)

// TestEveryLanguage walks every page of the console with an operator of
// each language serving a citizen of another: every text exists (no
// [[id]] stand-in, none counted missing), the page names its language and
// direction, and no page carries a script.
func TestEveryLanguage(t *testing.T) {
	e := newEnv(t)
	langs := e.bundle.Langs()
	for i, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			citizenLang := langs[(i+1)%len(langs)]
			e.update(t, amina, func(o *channels.Operator) { o.Lang = lang })
			c := e.client(t)
			c.lang = lang
			pages := []page{c.get("/kiosk/sign-in"), c.signIn(amina, aminaPW)}
			s := c.byDocument(nationalID, citizenLang)
			pages = append(pages, c.get("/kiosk/citizens/"+s))
			walk := c.start(s, "report_problem")
			pages = append(pages, walk, c.answer(s, walk, "9"))
			end := c.reportProblem(s)
			pages = append(pages, end, c.get("/kiosk/citizens/"+s+"/cases/"+reference(t, end)))
			pages = append(pages, c.get("/kiosk/citizens/0000000000000000"), c.postWithout("/kiosk/citizens"))
			dir := locales.Direction(lang)
			for j, p := range pages {
				if strings.Contains(p.body, "[[") || !strings.Contains(p.body, `<html lang="`+lang+`" dir="`+dir+`">`) || strings.Contains(p.body, "<script") {
					t.Errorf("page %d (%d): %s", j, p.status, p.body)
				}
			}
			if !strings.Contains(end.body, `lang="`+citizenLang+`" dir="`+locales.Direction(citizenLang)+`"`) {
				t.Errorf("the service's screen is not marked as %s: %s", citizenLang, end.body)
			}
			c.post("/kiosk/sign-out")
		})
	}
	if n := e.bundle.Missing(); n != 0 {
		t.Errorf("%d texts missing", n)
	}
}

// TestNewPanics checks that New refuses a Config without a required
// dependency.
func TestNewPanics(t *testing.T) {
	e := newEnv(t)
	full := e.console.cfg
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no engine", func(c *Config) { c.Engine = nil }},
		{"no host", func(c *Config) { c.Host = nil }},
		{"no store", func(c *Config) { c.Store = nil }},
		{"no auth", func(c *Config) { c.Auth = nil }},
		{"no outbox", func(c *Config) { c.Outbox = nil }},
		{"no bundle", func(c *Config) { c.Bundle = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := full
			tt.change(&cfg)
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			New(cfg)
		})
	}
}

// TestUnknownCitizen checks that a citizen slot the session does not hold
// is not found, with the console's own page.
func TestUnknownCitizen(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(amina, aminaPW)
	if p := c.get("/kiosk/citizens/0123456789abcdef/consent"); p.status != http.StatusNotFound || !p.has("This citizen is not being served in this session.") {
		t.Errorf("an unknown citizen's consent page: %d %s", p.status, p.text())
	}
}
