// Package app is the mobile-app JSON API, versioned under /v1: the same
// services, screens, validation, texts and case references as every other
// channel, as JSON a native app renders with its own widgets.
//
// A session walks a service screen by screen (POST /v1/sessions, then
// POST /v1/sessions/{id}/input); a whole form can also be posted at once
// (POST /v1/services/{id}/submissions) and is checked step by step exactly
// as the screens would check it. The endpoints, the screen schema and the
// error schema are described by the OpenAPI document served at
// /v1/openapi.json (app/openapi.yaml).
//
// A citizen signs in with a code sent by SMS (package auth, mounted under
// /v1/auth). Every endpoint that can read or create a citizen's cases
// needs the bearer token: the sessions (any session can reach the lookups
// from its root menu, and choosing a language there changes the phone's
// preferences), whole forms and case reads. Their phone is the token's,
// never one the request names: the old "phone" field and parameter are
// still accepted but must then be the signed-in phone (403 otherwise), and
// a session answers only the phone that started it. Browsing the services
// and this document stay open.
//
// Every text is in one language per answer, named by its Content-Language
// header and its "lang" field, with "dir" ("ltr", or "rtl" for Arabic)
// for the app's layout. The language a citizen chooses, on the profile
// (GET and PUT /v1/profile) or on any other channel's language menu, is
// remembered per phone and used by every channel.
package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// Defaults of the Config fields left zero.
const (
	DefaultSessionTTL = 30 * time.Minute
	DefaultMaxBody    = 64 << 10
)

// Config wires an API. Engine, Host, Store, Bundle and Auth are required;
// the other fields have defaults.
type Config struct {
	Engine *flows.Engine
	// Auth signs citizens in; Register mounts its endpoints with the app's.
	Auth *auth.Auth
	// Host carries out the engine's calls (creating and reading cases,
	// remembering a language); usually a *host.Store over Store.
	Host flows.Host
	// Devices, when set, serves the push-notice device endpoints
	// (push.Devices) as part of this API, under its document.
	Devices interface {
		Register(r gin.IRouter, require gin.HandlerFunc)
	}
	// Store keeps the app's sessions and reads the phones' preferences;
	// its KeyLocker serializes the inputs of one session, so that a double
	// tap, sent to one instance or two, cannot step the same state twice
	// and lose one of the writes.
	Store  channels.Store
	Bundle *locales.Bundle
	Log    *slog.Logger   // discarded when nil
	Meter  channels.Meter // counts screens shown and answered; none when nil

	Region     string           // ISO 3166 country of national phone numbers ("0712…"), e.g. "KE"
	SessionTTL time.Duration    // a session lives this long after its last input; DefaultSessionTTL when 0
	MaxBody    int64            // request body limit in bytes; DefaultMaxBody when 0
	Now        func() time.Time // the clock of session expiry; time.Now when nil
}

// API serves the app endpoints. It is safe for concurrent use.
type API struct {
	cfg Config
	log *slog.Logger
}

// New returns the API for cfg. It panics when a required dependency is
// missing, which is a wiring mistake rather than a runtime condition.
func New(cfg Config) *API {
	if cfg.Engine == nil || cfg.Host == nil || cfg.Store == nil || cfg.Bundle == nil || cfg.Auth == nil {
		panic("app: Config needs Engine, Host, Store, Bundle and Auth")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Meter == nil {
		cfg.Meter = channels.NopMeter{}
	}
	return &API{cfg: cfg, log: log.With("channel", string(channels.ChannelApp))}
}

// Register mounts the endpoints on r under /v1, the sign-in endpoints of
// Config.Auth included (so the served document and the routes always
// agree; do not register the Auth again). Every endpoint answers errors as
// JSON through one middleware, and reads at most MaxBody bytes of a request
// body; the endpoints about a citizen's cases need a token (see the
// package doc).
func (a *API) Register(r gin.IRouter) {
	a.cfg.Auth.Register(r)
	v1 := r.Group("/v1", a.renderErrors, a.limitBody)
	v1.GET("/openapi.json", a.handle(apijson.ServeDocument(openAPIJSON)))
	v1.GET("/services", a.handle(a.listServices))

	signedIn := v1.Group("", a.cfg.Auth.Require())
	signedIn.POST("/services/:id/submissions", a.handle(a.submit))
	signedIn.POST("/sessions", a.handle(a.startSession))
	signedIn.GET("/sessions/:id", a.handle(a.getSession))
	signedIn.POST("/sessions/:id/input", a.handle(a.postInput))
	signedIn.GET("/cases", a.handle(a.listCases))
	if a.cfg.Devices != nil {
		a.cfg.Devices.Register(r, a.cfg.Auth.Require())
	}
	signedIn.GET("/cases/:ref", a.handle(a.getCase))
	signedIn.GET("/profile", a.handle(a.getProfile))
	signedIn.PUT("/profile", a.handle(a.putProfile))
}

// handle adapts an endpoint that returns its error to gin: the error is
// recorded on the context for renderErrors to answer.
func (a *API) handle(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			_ = c.Error(err)
		}
	}
}

// limitBody caps the request body, so that no client can make the server
// buffer more than MaxBody bytes; reading past it is ETOOLARGE.
func (a *API) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, a.cfg.MaxBody)
	}
	c.Next()
}

// langKey is where a handler leaves the language of its request, so that
// an error is told in the language the rest of the exchange uses.
const langKey = "app.lang"

// setLang records lang as the language of the request's answer: for the
// error middleware, and in the Content-Language header, which every
// answer of the /v1 endpoints carries (the body's "dir" says which way
// its script runs).
func setLang(c *gin.Context, lang string) {
	c.Set(langKey, lang)
	c.Header("Content-Language", lang)
}

// language picks the language of a request and remembers it for errors:
// explicit (a "lang" field or parameter) when the bundle supports it, else
// the language the phone chose on any channel, else the best match of
// Accept-Language, else the default.
func (a *API) language(c *gin.Context, explicit, phone string) string {
	lang := ""
	switch {
	case explicit != "" && a.cfg.Bundle.Supports(explicit):
		lang = explicit
	case phone != "":
		p, err := a.cfg.Store.Prefs(c.Request.Context(), phone)
		if err != nil {
			a.log.WarnContext(c.Request.Context(), "app: read language preference", "err", err)
		}
		if a.cfg.Bundle.Supports(p.Lang) {
			lang = p.Lang
		}
	}
	if lang == "" {
		lang = a.cfg.Bundle.Match(c.GetHeader("Accept-Language"))
	}
	setLang(c, lang)
	return lang
}

// phone returns the signed-in phone of a request, which Require left on
// it. claimed is the phone the request names, from the days before
// sign-in; when set it must be the same phone: EINVALID with error.phone
// when it is not a valid number, EFORBIDDEN when it is another one, so
// that naming a phone never acts as it.
func (a *API) phone(c *gin.Context, claimed string) (string, error) {
	phone := auth.Phone(c)
	if phone == "" {
		return "", fmt.Errorf("%s %s: no signed-in phone (route mounted without Auth.Require)", c.Request.Method, c.FullPath())
	}
	if claimed == "" {
		return phone, nil
	}
	p, ok := flows.NormalizePhone(claimed, a.cfg.Region)
	if !ok {
		return "", channels.Errorf(channels.EINVALID, "error.phone", "phone of %d bytes is not valid in region %q", len(claimed), a.cfg.Region)
	}
	if p != phone {
		return "", channels.Errorf(channels.EFORBIDDEN, "error.phone_mismatch", "the request names a phone other than the signed-in one")
	}
	return phone, nil
}

// newID returns 128 random bits as 32 lowercase hex digits: unguessable, so
// that a session ID is all a client needs to hold.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	return hex.EncodeToString(b[:])
}

// validID reports whether id has the shape newID gives.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if (id[i] < '0' || id[i] > '9') && (id[i] < 'a' || id[i] > 'f') {
			return false
		}
	}
	return true
}

// sessionKey is the store ID of the app session id, scoped by channel.
func sessionKey(id string) string { return string(channels.ChannelApp) + "/" + id }

// formKey is the submission key of a whole form: the client's
// Idempotency-Key, scoped by service and phone so that two clients that
// happen to pick the same key never share a case.
func formKey(service, phone, key string) string {
	return fmt.Sprintf("%s-form/%s/%s/%s", channels.ChannelApp, service, phone, key)
}
