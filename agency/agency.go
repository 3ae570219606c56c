// Package agency is the back-office API of the agencies that handle the
// catalog's services, under /v1/agency. An integrator holds an API key of
// one agency ("Authorization: Bearer chk_<id>_<secret>", made by
// `channels agency add` or `channels agency key`) and, with it:
//
//	GET  /v1/agency/cases?service=a,b&status=submitted&cursor=…&limit=50
//	     → {"cases": [case…], "next_cursor": "…"}, oldest first
//	GET  /v1/agency/cases/{ref}                    → case
//	POST /v1/agency/cases/{ref}/status             {"status", "note"} → case
//	POST /v1/agency/cases/{ref}/info-requests      {"question"} → case
//
// A case is always the JSON of channels.Case. A key sees its agency's cases
// only: another agency's case answers exactly as an unknown reference (404,
// never 403), so a key cannot even learn that the reference exists, and a
// service filter naming another agency's service selects nothing (an empty
// page, not an error: the API does not load the catalog, and a case keeps
// the agency it was submitted to even if its service later moves).
//
// Every error is {"error": {"code", "message"}}, the message in the
// language of Accept-Language. A missing, malformed, forged or revoked key
// is 401 with WWW-Authenticate; each key has its own rate limit (429 with
// Retry-After).
package agency

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/locales"
)

// Defaults of the Config fields left zero.
const (
	DefaultMaxBody = 16 << 10
	DefaultRate    = 20 // requests a second per key, sustained
	DefaultBurst   = 40 // requests per key at once
)

// Cases is what the API needs of the store: reading one case, listing an
// agency's cases and changing one atomically. *bolt.DB is one.
type Cases interface {
	Case(ctx context.Context, ref string) (*channels.Case, error)
	ListCases(ctx context.Context, q channels.CaseQuery) ([]*channels.Case, string, error)
	UpdateCase(ctx context.Context, ref string, change func(*channels.Case) error) (*channels.Case, error)
}

// Config wires an API. Cases, Keys and Bundle are required; the other
// fields have defaults.
type Config struct {
	Cases  Cases
	Keys   KeyStore // the agency keys, read on every request
	Bundle *locales.Bundle
	Log    *slog.Logger // discarded when nil

	MaxBody int64            // request body limit in bytes; DefaultMaxBody when 0
	Rate    rate.Limit       // sustained requests a second per key; DefaultRate when 0
	Burst   int              // requests per key at once; DefaultBurst when 0
	Now     func() time.Time // the clock of history entries and rate limits; time.Now when nil
}

// API serves the agency endpoints. It is safe for concurrent use.
type API struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // by key ID; only keys that authenticated get one
}

// New returns the API for cfg. It panics when a required dependency is
// missing, which is a wiring mistake rather than a runtime condition.
func New(cfg Config) *API {
	if cfg.Cases == nil || cfg.Keys == nil || cfg.Bundle == nil {
		panic("agency: Config needs Cases, Keys and Bundle")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, log: log.With("edge", "agency"), limiters: map[string]*rate.Limiter{}}
}

// Register mounts the endpoints on r under /v1/agency, every one behind
// the key check and the key's rate limit but the two OpenAPI documents,
// served to anyone: the API's (agency/openapi.yaml) at
// /v1/agency/openapi.json, and the contract agencies implement for call
// steps (agency/operations.yaml) at /v1/agency/operations.json.
func (a *API) Register(r gin.IRouter) {
	r.GET("/v1/agency/openapi.json", a.handle(apijson.ServeDocument(openAPIJSON)))
	r.GET("/v1/agency/operations.json", a.handle(apijson.ServeDocument(operationsJSON)))
	g := r.Group("/v1/agency", a.requireKey)
	g.GET("/cases", a.handle(a.listCases))
	g.GET("/cases/:ref", a.handle(a.getCase))
	g.POST("/cases/:ref/status", a.handle(a.changeStatus))
	g.POST("/cases/:ref/info-requests", a.handle(a.requestInfo))
}

// keyKey is where requireKey leaves the authenticated key on a request.
const keyKey = "agency.key"

// requireKey is the middleware that admits a request with a valid key of
// some agency, within that key's rate limit. The key is read from the
// store on every request, so a revoked key is refused from the next
// request on. Failures are logged with the key ID at most: the
// Authorization header is never logged.
func (a *API) requireKey(c *gin.Context) {
	scheme, tok, _ := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
	if tok = strings.TrimSpace(tok); !strings.EqualFold(scheme, "Bearer") || tok == "" {
		c.Header("WWW-Authenticate", `Bearer realm="channels-agency"`)
		a.fail(c, channels.Errorf(channels.EUNAUTHORIZED, "error.agency_key", "no bearer key"))
		c.Abort()
		return
	}
	k, err := Authenticate(c.Request.Context(), a.cfg.Keys, tok)
	if err != nil {
		if channels.ErrorCode(err) == channels.EUNAUTHORIZED {
			c.Header("WWW-Authenticate", `Bearer realm="channels-agency", error="invalid_token"`)
			// The detail names the key ID at most, never its secret.
			a.log.InfoContext(c.Request.Context(), "agency: key refused", "err", err, "client", c.ClientIP())
		}
		a.fail(c, err)
		c.Abort()
		return
	}
	if wait, ok := a.allow(k.ID); !ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		a.fail(c, channels.Errorf(channels.ERATELIMITED, "error.rate_limited", "key %s over its limit for %v", k.ID, wait))
		c.Abort()
		return
	}
	c.Set(keyKey, k)
	c.Next()
}

// allow takes a token of the key's bucket, or says how long until one is
// there. Refused requests take nothing, so a client that waits as told is
// admitted.
func (a *API) allow(keyID string) (wait time.Duration, ok bool) {
	a.mu.Lock()
	lim := a.limiters[keyID]
	if lim == nil {
		lim = rate.NewLimiter(a.cfg.Rate, a.cfg.Burst)
		a.limiters[keyID] = lim
	}
	a.mu.Unlock()
	now := a.cfg.Now()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// key returns the key requireKey admitted the request with.
func key(c *gin.Context) *channels.AgencyKey {
	k, _ := c.Get(keyKey)
	return k.(*channels.AgencyKey)
}

// actor names a key in a case's history: its agency and its ID, so that an
// agency can tell which of its integrations made a change.
func actor(k *channels.AgencyKey) string { return "agency:" + k.Agency + "/key:" + k.ID }

// handle adapts an endpoint that returns its error to gin.
func (a *API) handle(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			a.fail(c, err)
		}
	}
}

// fail answers err as JSON, localized by Accept-Language. Internal errors
// are logged with their detail, which the client never sees.
func (a *API) fail(c *gin.Context, err error) {
	apijson.WriteError(c, a.cfg.Bundle, a.cfg.Bundle.Match(c.GetHeader("Accept-Language")), a.log, err)
}
