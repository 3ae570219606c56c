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
// Until phone sign-in exists, the phone a request names is taken on trust:
// it chooses the language and whose cases a lookup may show, and nothing
// more.
package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// Defaults of the Config fields left zero.
const (
	DefaultSessionTTL = 30 * time.Minute
	DefaultMaxBody    = 64 << 10
)

// Config wires an API. Engine, Host, Store and Bundle are required; the
// other fields have defaults.
type Config struct {
	Engine *flows.Engine
	// Host carries out the engine's calls (creating and reading cases,
	// remembering a language); usually a *flows.StoreHost over Store.
	Host flows.Host
	// Store keeps the app's sessions and reads the phones' preferences.
	Store  channels.Store
	Bundle *locales.Bundle
	Log    *slog.Logger // discarded when nil

	Region     string           // ISO 3166 country of national phone numbers ("0712…"), e.g. "KE"
	SessionTTL time.Duration    // a session lives this long after its last input; DefaultSessionTTL when 0
	MaxBody    int64            // request body limit in bytes; DefaultMaxBody when 0
	Now        func() time.Time // the clock of session expiry; time.Now when nil
}

// API serves the app endpoints. It is safe for concurrent use.
type API struct {
	cfg Config
	log *slog.Logger

	// locks serializes the inputs of one session, so that a double tap
	// cannot step the same state twice and lose one of the writes. Sessions
	// share the stripes by hash; contention between strangers is rare and
	// short.
	locks [64]sync.Mutex
	seed  maphash.Seed
}

// New returns the API for cfg. It panics when a required dependency is
// missing, which is a wiring mistake rather than a runtime condition.
func New(cfg Config) *API {
	if cfg.Engine == nil || cfg.Host == nil || cfg.Store == nil || cfg.Bundle == nil {
		panic("app: Config needs Engine, Host, Store and Bundle")
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
	return &API{cfg: cfg, log: log.With("channel", string(channels.ChannelApp)), seed: maphash.MakeSeed()}
}

// Register mounts the endpoints on r under /v1. Every endpoint answers
// errors as JSON through one middleware, and reads at most MaxBody bytes of
// a request body.
func (a *API) Register(r gin.IRouter) {
	v1 := r.Group("/v1", a.renderErrors, a.limitBody)
	v1.GET("/openapi.json", a.handle(a.openAPI))
	v1.GET("/services", a.handle(a.listServices))
	v1.POST("/services/:id/submissions", a.handle(a.submit))
	v1.POST("/sessions", a.handle(a.startSession))
	v1.GET("/sessions/:id", a.handle(a.getSession))
	v1.POST("/sessions/:id/input", a.handle(a.postInput))
	v1.GET("/cases/:ref", a.handle(a.getCase))
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
	c.Set(langKey, lang)
	return lang
}

// phone normalizes a phone number from a request to E.164; EINVALID with
// error.phone when it is not a valid number.
func (a *API) phone(raw string) (string, error) {
	p, ok := flows.NormalizePhone(raw, a.cfg.Region)
	if !ok {
		return "", channels.Errorf(channels.EINVALID, "error.phone", "phone of %d bytes is not valid in region %q", len(raw), a.cfg.Region)
	}
	return p, nil
}

// lock holds the stripe of session id until the returned func is called.
func (a *API) lock(id string) (unlock func()) {
	m := &a.locks[maphash.String(a.seed, id)%uint64(len(a.locks))]
	m.Lock()
	return m.Unlock
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
