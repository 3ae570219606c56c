package kiosk

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
)

// templateFiles are the pages: layout.html, the frame of every page (with
// the inline CSS), and one file per page defining its "main" block.
//
//go:embed templates/*.html
var templateFiles embed.FS

// pageNames are the pages of templateFiles besides the layout.
var pageNames = []string{"signin", "home", "consent", "citizen", "walk", "case", "error"}

// pages are the parsed pages, by name.
type pages map[string]*template.Template

// parsePages parses the embedded pages; it panics on a template that does
// not parse, which every test run catches.
func parsePages() pages {
	p := pages{}
	for _, name := range pageNames {
		p[name] = template.Must(template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	return p
}

// maxBody bounds a form's body: an answer, a code, a password.
const maxBody = 16 << 10

// view is what a page shows. Lang is the operator's language, in which
// every text of the console is told (T, Msg); the screens of a service
// carry the citizen's language themselves (screenView).
type view struct {
	Lang     string
	Operator *channels.Operator // nil before sign-in
	CSRF     string             // the form token every form carries
	Notice   channels.Message   // a refusal or a notice above the page; none when its ID is empty
	Form     map[string]string  // the values a refused form is shown again with

	Citizen  *citizenView
	Citizens []citizenView // home: the citizens of the session
	Services []serviceView // citizen: what can be started
	Cases    []caseView    // citizen: their cases
	Case     *caseView     // case: one case, as a receipt
	Screen   *screenView   // walk: the screen of a service
	Langs    []langView    // home: the languages a citizen may choose

	bundle *locales.Bundle
}

// Dir is "rtl" when the console's language is written right to left.
func (v *view) Dir() string { return locales.Direction(v.Lang) }

// T is the text of message id in the console's language, with arguments
// as key, value pairs.
func (v *view) T(id string, kv ...any) string { return v.bundle.Text(v.Lang, channels.Msg(id, kv...)) }

// In is the text of message id in lang, for what the citizen reads (a
// receipt), with arguments as key, value pairs.
func (v *view) In(lang, id string, kv ...any) string {
	return v.bundle.Text(lang, channels.Msg(id, kv...))
}

// Msg is the text of m in the console's language.
func (v *view) Msg(m channels.Message) string { return v.bundle.Text(v.Lang, m) }

// langView is a language a citizen may be served in, named in itself.
type langView struct {
	Code, Name string
}

// langs lists the languages of the bundle, each named in itself.
func (k *Console) langs() []langView {
	out := []langView{}
	for _, l := range k.cfg.Bundle.Langs() {
		out = append(out, langView{Code: l, Name: k.cfg.Bundle.Text(l, channels.Message{ID: "lang.name", Lang: l})})
	}
	return out
}

// page answers with the page name of v, with status. The page is
// rendered in full before anything is sent, so that a template error is
// a 500 rather than half a page.
func (k *Console) page(c *gin.Context, status int, name string, v *view) {
	v.bundle = k.cfg.Bundle
	if v.Lang == "" {
		v.Lang = locales.Default
	}
	var buf bytes.Buffer
	if err := k.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		k.log.ErrorContext(c.Request.Context(), "kiosk: render page", "page", name, "err", err)
		c.Header("Content-Language", v.Lang)
		c.String(http.StatusInternalServerError, k.cfg.Bundle.Text(v.Lang, channels.Msg("error.internal")))
		return
	}
	c.Header("Content-Language", v.Lang)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// statuses are the HTTP statuses of the error codes.
var statuses = map[string]int{
	channels.EINVALID:      http.StatusBadRequest,
	channels.ENOTFOUND:     http.StatusNotFound,
	channels.ECONFLICT:     http.StatusConflict,
	channels.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	channels.EFORBIDDEN:    http.StatusForbidden,
	channels.EUNAUTHORIZED: http.StatusUnauthorized,
	channels.ERATELIMITED:  http.StatusTooManyRequests,
	channels.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// fail answers err as the error page in lang (the browser's when empty):
// the status of its code and its message; an internal error is logged with
// its detail, which the page never shows.
func (k *Console) fail(c *gin.Context, lang string, err error) {
	if lang == "" {
		lang = k.operatorLang(c, nil)
	}
	code := channels.ErrorCode(err)
	status, ok := statuses[code]
	msg := channels.ErrorMessage(err)
	if !ok {
		status, msg = http.StatusInternalServerError, "error.internal"
		k.log.ErrorContext(c.Request.Context(), "kiosk: request failed", "method", c.Request.Method, "route", c.FullPath(), "err", err)
	}
	v := &view{Lang: lang, Notice: channels.Msg(msg)}
	if s, ok := c.Get(sessionKey); ok {
		v.Operator, v.CSRF = s.(*session).op, s.(*session).CSRF
	}
	k.page(c, status, "error", v)
}

// headers sets what every page of the console sends: no caching (pages
// show citizens' data), no framing, no scripts at all, no referrer.
func (k *Console) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	c.Next()
}

// limitBody caps a request's body at maxBody bytes.
func (k *Console) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	}
	c.Next()
}

// path builds a console path from its parts, each escaped.
func path(parts ...string) string {
	out := "/kiosk"
	for _, p := range parts {
		out += "/" + url.PathEscape(p)
	}
	return out
}
