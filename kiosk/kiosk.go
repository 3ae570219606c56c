// Package kiosk is the assisted-service console: a kiosk operator signs in
// to web pages served under /kiosk/ and runs the government services for a
// citizen who came to the kiosk, with the citizen's consent, through the
// same engine, screens, validation and texts as USSD, SMS and the app.
//
// The pages are server-rendered HTML (html/template, embedded) with a few
// lines of inline CSS and no JavaScript, so that a cheap tablet on a slow
// link loads them fast and a browser with scripts off works the same. The
// console speaks the operator's language (Operator.Lang, else the
// browser's Accept-Language); the screens of a service are shown in the
// citizen's language, with "dir" set for right-to-left scripts.
//
// # Sign-in and sessions
//
// An operator signs in with their ID and password (argon2id, package
// password). Sign-in is rate-limited per client address, and five wrong
// passwords in a row lock the account for fifteen minutes. The attempts
// on one ID are taken one at a time, so that attempts sent all at once
// get no more checks; an ID no operator has is checked against a decoy
// hash and locks the same way, so that neither the answer nor the lock
// tells which IDs exist; and password checks run a few at a time
// (maxPasswordChecks), however many clients sign in. A session is kept
// server-side (channels.SessionStore) under a hash of the random 128-bit
// token its cookie holds (HttpOnly, SameSite=Strict, Secure over TLS or
// when Config.Secure); it ends after SessionTTL without a request,
// SessionMax after sign-in, at sign-out, and at the next request after the
// operator is disabled or their password is reset, since every request
// reads the operator again. Every form carries a token bound to the
// session (the sign-in form, one bound to a cookie of its own), checked on
// every POST: a request without it is refused with 403 and does nothing.
//
// # Consent
//
// The operator serves a citizen only with their consent, given in the
// operator's session: a six-digit code sent by SMS to the citizen's phone
// (auth.SendCode, under a purpose naming the session, so the code is good
// in no other session and signs in to nothing) which the citizen reads
// out, or, for a citizen without a phone, the number of an identity
// document the operator checked (as every channel checks a national_id
// input), at most DocumentLimit of them per operator since the operator's
// word is the whole consent. The citizen is served in their phone's
// language, else in the one the operator chose for them. A consent lasts
// ConsentTTL and ends with the session; without one the operator can
// neither start a service for the citizen nor see their cases, so an
// operator of another kiosk (another session) must ask the citizen again.
//
// # Cases and audit
//
// A case made at the kiosk has the channel kiosk and carries
// channels.Assistance (operator, kiosk, how the citizen consented), and
// the document number of a citizen without a phone, by which their cases
// are then found. A citizen with a phone gets the reference by SMS
// (kiosk.receipt, in their language) through the durable outbox. Sign-ins
// (and failures), sign-outs, consents asked, given, failed and by
// document, services started, cases submitted and look-ups (a refused
// one too, with the reference tried) are written to the append-only audit
// log (channels.AuditLog), as "operator:<id>" at their kiosk, about the
// citizen's E.164 phone or "id:<number>". An action whose entry cannot be
// written is refused; a case stored just before its entry failed is found
// again, under the same key, by the operator's retry.
package kiosk

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/password"
	"github.com/govchannels/channels/ratelimit"
)

// Defaults of the Config fields left zero.
const (
	DefaultSessionTTL = 30 * time.Minute // idle time that ends a session
	DefaultSessionMax = 12 * time.Hour   // a session's longest life, however busy
	DefaultConsentTTL = 30 * time.Minute // how long a citizen's consent lasts
	// ConsentCodeTTL is how long a consent code sent by SMS is valid.
	ConsentCodeTTL = 10 * time.Minute
	// MaxFailedSignIns wrong passwords in a row lock an operator out
	// for LockoutTime.
	MaxFailedSignIns = 5
	LockoutTime      = 15 * time.Minute
)

// DefaultSignInLimit allows a client address ten sign-in attempts at once,
// then one every six seconds: enough for a kiosk of several operators,
// too few to guess passwords.
var DefaultSignInLimit = ratelimit.Limit{Every: 6 * time.Second, Burst: 10}

// DefaultDocumentLimit allows an operator ten consents by identity
// document at once, then one a minute: more than a kiosk serves citizens
// without a phone, too few to walk through the document numbers and read
// the cases of everybody served without one. (A consent by SMS code needs
// the citizen's code, and SendCode limits the codes an operator asks for.)
var DefaultDocumentLimit = ratelimit.Limit{Every: time.Minute, Burst: 10}

// Outbox is where the SMS receipts are queued: the durable outbox.
type Outbox interface {
	Send(ctx context.Context, ms ...*channels.Outbound) error
}

// Config wires a Console. Engine, Host, Store, Auth, Outbox and Bundle are
// required; the other fields have defaults.
type Config struct {
	Engine *flows.Engine
	// Host carries out the engine's calls, usually a *host.Store
	// over Store; the console wraps it so that the cases it makes carry
	// the operator's assistance.
	Host flows.Host
	// Store keeps the operators, the sessions, the cases, the citizens'
	// preferences and the audit log.
	Store channels.Store
	// Auth sends and checks the consent codes.
	Auth   *auth.Auth
	Outbox Outbox
	Bundle *locales.Bundle
	Region string // ISO 3166 country of national phone numbers ("0712…"), e.g. "KE"
	// Secure marks the session cookies Secure whatever the request: set it
	// when a proxy terminates TLS. A request that came over TLS gets
	// Secure cookies anyway.
	Secure bool
	Log    *slog.Logger     // discarded when nil
	Meter  channels.Meter   // counts screens shown and answered; none when nil
	Now    func() time.Time // time.Now when nil
	// Location is where the dates of cases are told (the day a case was
	// made in Nairobi, whatever the server's zone); UTC when nil.
	Location *time.Location

	SessionTTL  time.Duration   // idle time that ends a session; DefaultSessionTTL when 0
	SessionMax  time.Duration   // a session's longest life; DefaultSessionMax when 0
	ConsentTTL  time.Duration   // how long a consent lasts; DefaultConsentTTL when 0
	SignInLimit ratelimit.Limit // sign-in attempts of a client address; DefaultSignInLimit when zero
	// DocumentLimit bounds the consents by identity document one operator
	// records; DefaultDocumentLimit when zero.
	DocumentLimit ratelimit.Limit
}

// Console serves the kiosk pages. It is safe for concurrent use.
type Console struct {
	cfg      Config
	log      *slog.Logger
	pages    pages
	identity *identity
	// signIns limits the sign-ins of each client address, and documents
	// the consents by identity document of each operator, in the store's
	// buckets, so that they hold across the instances sharing it.
	signIns   ratelimit.Taker
	documents ratelimit.Taker
	// decoy is a password hash checked when an unknown operator signs in,
	// so that the answer takes as long as for a known one.
	decoy string
	// checkPassword is password.Check (tests watch it), run in one of
	// the passwordChecks slots.
	checkPassword  func(hash, pw string) (bool, error)
	passwordChecks chan struct{}
}

// New returns the Console for cfg. It panics when a required dependency is
// missing, which is a wiring mistake rather than a runtime condition.
func New(cfg Config) *Console {
	if cfg.Engine == nil || cfg.Host == nil || cfg.Store == nil || cfg.Auth == nil || cfg.Outbox == nil || cfg.Bundle == nil {
		panic("kiosk: Config needs Engine, Host, Store, Auth, Outbox and Bundle")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = DefaultSessionMax
	}
	if cfg.ConsentTTL <= 0 {
		cfg.ConsentTTL = DefaultConsentTTL
	}
	if cfg.SignInLimit == (ratelimit.Limit{}) {
		cfg.SignInLimit = DefaultSignInLimit
	}
	if cfg.DocumentLimit == (ratelimit.Limit{}) {
		cfg.DocumentLimit = DefaultDocumentLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Meter == nil {
		cfg.Meter = channels.NopMeter{}
	}
	return &Console{
		cfg:            cfg,
		log:            log.With("channel", string(channels.ChannelKiosk)),
		pages:          parsePages(),
		identity:       newIdentity(cfg.Bundle.Langs(), cfg.Region, cfg.Now),
		signIns:        ratelimit.Shared{Store: cfg.Store, Name: "kiosk/signins", Limit: cfg.SignInLimit},
		documents:      ratelimit.Shared{Store: cfg.Store, Name: "kiosk/documents", Limit: cfg.DocumentLimit},
		decoy:          decoyHash(),
		checkPassword:  password.Check,
		passwordChecks: make(chan struct{}, maxPasswordChecks()),
	}
}

// Register mounts the console on r under /kiosk/: the sign-in page is
// open; every other page needs a signed-in operator, and every POST the
// form token of the session.
func (k *Console) Register(r gin.IRouter) {
	g := r.Group("/kiosk", k.headers, k.limitBody)
	g.GET("/sign-in", k.signInPage)
	g.POST("/sign-in", k.signIn)

	s := g.Group("", k.session)
	s.GET("/", k.home)
	s.POST("/sign-out", k.signOut)
	s.POST("/citizens", k.addCitizen)
	s.GET("/citizens/:slot/consent", k.consentPage)
	s.POST("/citizens/:slot/consent", k.checkConsent)
	s.POST("/citizens/:slot/resend", k.resendCode)
	s.GET("/citizens/:slot", k.citizenPage)
	s.POST("/citizens/:slot/done", k.dismissCitizen)
	s.POST("/citizens/:slot/services", k.startService)
	s.GET("/citizens/:slot/walk", k.walkPage)
	s.POST("/citizens/:slot/walk", k.step)
	s.GET("/citizens/:slot/cases/:ref", k.casePage)
}
