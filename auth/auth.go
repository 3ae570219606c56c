// Package auth signs citizens in to the mobile app with their phone: the
// app asks for a one-time code (POST /v1/auth/otp), which is sent by SMS
// through the durable outbox, and trades it for a signed bearer token
// (POST /v1/auth/verify). Require checks the token on the endpoints that
// read or create a citizen's cases and leaves the signed-in phone on the
// request for Phone to read: the phone comes from the token, never from
// what a request claims.
//
// # Codes
//
// A code is six digits drawn uniformly from crypto/rand. Only a keyed,
// salted hash of it is stored, as the Session "<purpose>/<E.164 phone>",
// expiring with the code (CodeTTL, or the TTL of its request); the SMS
// that carries it is queued AtMostOnce, and the outbox redacts its text
// once it is final. The app's
// sign-in codes have the purpose SignIn ("otp/<phone>"); other edges send
// and check codes of their own purposes through SendCode and CheckCode (a
// kiosk asks a citizen's consent with one), and a code is found only under
// the purpose it was sent for, so it never stands for another. A guess is
// compared in constant time; after MaxAttempts wrong guesses the code is
// burnt and the citizen asks for a new one. A new request replaces the
// pending code of its purpose. Requests are rate-limited per phone (over
// every purpose) and per client (an address, or whoever an edge names),
// so that nobody can flood a phone with SMS or spend the SMS budget; and
// the guesses at the codes of a phone are limited over every code and
// purpose (PerPhoneGuesses), so that asking for new codes brings no
// fresh guesses without end.
//
// # Tokens
//
// A token is the base64url encoding (no padding) of payload || tag:
//
//	payload = version (1 byte, 2) || expiry (8 bytes, big-endian Unix seconds) || issued (8 bytes, big-endian Unix microseconds) || phone (E.164, ASCII)
//	tag     = HMAC-SHA256(token key, payload)
//
// about 83 characters. The tag is checked, in constant time, before any
// field is read. (Version 1 had no issue time; such tokens are still
// read, and any sign-out of their phone voids them.)
// It stays valid until it expires (TokenTTL) or its citizen signs out
// everywhere (POST /v1/auth/signout): that records, per phone, the instant
// up to which its tokens are void (Config.SignOuts), which Require reads on
// every request, so that every token of the phone is refused from the next
// request on, and a sign-in right after works. Rotating the signing key
// (Config.Key) signs everybody out. The code hash and the tokens use two
// keys derived from Config.Key, so that neither can be made to stand for
// the other.
//
// # Errors
//
// Every error is answered as the app's JSON error (package apijson), the
// message localized by Accept-Language: channels.EUNAUTHORIZED (401) tells the app to
// sign in again, channels.ERATELIMITED (429) to retry after the Retry-After header.
//
// Neither a code nor a token is ever logged; phones are masked in logs.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/keylock"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/ratelimit"
)

// Defaults of the Config fields left zero.
const (
	DefaultCodeTTL     = 5 * time.Minute
	DefaultTokenTTL    = 30 * 24 * time.Hour
	DefaultMaxAttempts = 5
)

// DefaultPerPhone allows a phone one code a minute, three in a row: enough
// for an SMS that was slow to arrive, too few to flood a phone.
var DefaultPerPhone = ratelimit.Limit{Every: time.Minute, Burst: 3}

// DefaultPerPhoneGuesses allows the codes of a phone ten guesses at once,
// then one every fifteen minutes, over every code and purpose: enough for
// a citizen who mistypes, while without it each new code (one a minute)
// brought MaxAttempts fresh guesses, some 7,000 a day at one phone.
var DefaultPerPhoneGuesses = ratelimit.Limit{Every: 15 * time.Minute, Burst: 10}

// DefaultPerClient allows a client address 10 requests a minute, 20 in a
// row, over both endpoints.
var DefaultPerClient = ratelimit.Limit{Every: 6 * time.Second, Burst: 20}

// MinKeySize is the shortest Config.Key New accepts.
const MinKeySize = 32

// Outbox is where a code's SMS is queued: the durable outbox, which sends
// it at most once and drops it once it is past its expiry.
type Outbox interface {
	Send(ctx context.Context, ms ...*channels.Outbound) error
}

// Config wires an Auth. Sessions, SignOuts, Prefs, Outbox, Bundle and
// Key are required; the other fields have defaults.
type Config struct {
	// Sessions keeps the pending codes, one Session "otp/<phone>" each.
	Sessions channels.SessionStore
	// SignOuts keeps when each phone last signed out everywhere; Require
	// reads it on every request.
	SignOuts channels.SignOutStore
	// Prefs tells the language of the SMS and whether the phone opted out
	// of SMS (it then gets a localized error instead of a code).
	Prefs  channels.PrefStore
	Outbox Outbox
	Bundle *locales.Bundle
	// Key signs the tokens and keys the code hashes; at least MinKeySize
	// random bytes, kept secret: in a file outside the database
	// (-token-key-file), so that a copy of the database cannot sign
	// tokens, or else Store.Secret(ctx, "auth-token", 32).
	Key    []byte
	Region string // ISO 3166 country of national phone numbers ("0712…"), e.g. "KE"

	CodeTTL     time.Duration // how long a code is valid; DefaultCodeTTL when 0
	TokenTTL    time.Duration // how long a sign-in lasts; DefaultTokenTTL when 0
	MaxAttempts int           // wrong guesses that burn a code; DefaultMaxAttempts when 0

	PerPhone  ratelimit.Limit // codes asked for one phone; DefaultPerPhone when zero
	PerClient ratelimit.Limit // requests of one client address (IPv6: its /64); DefaultPerClient when zero
	// PerPhoneGuesses bounds the guesses checked against the codes of one
	// phone, over every code and purpose; DefaultPerPhoneGuesses when zero.
	PerPhoneGuesses ratelimit.Limit
	// Rates, when set, keeps the per-phone limits (codes asked, guesses)
	// where every process sharing the store sees them, so that several
	// instances allow no more than one would; each process keeps its own
	// when nil. The per-client limit is each process's own.
	Rates channels.RateStore
	// Locks serialize the requests about one phone across the processes
	// sharing Sessions; within this process when nil.
	Locks channels.KeyLocker

	Now func() time.Time // time.Now when nil
	Log *slog.Logger     // discarded when nil
}

// Auth serves the sign-in endpoints and checks tokens. It is safe for
// concurrent use.
type Auth struct {
	cfg      Config
	log      *slog.Logger
	codeKey  []byte // keys the hashes of codes
	tokenKey []byte // signs tokens

	perPhone  ratelimit.Taker
	perClient *ratelimit.Limiter
	guesses   ratelimit.Taker // guesses checked against the codes of a phone

	// locks serializes the requests about one phone, so that concurrent
	// guesses cannot both read the same attempt count (and so get more
	// than MaxAttempts guesses) and one code cannot sign in twice:
	// Config.Locks, across the processes sharing the store, or locks of
	// this Auth.
	locks channels.KeyLocker
}

// New returns the Auth for cfg. It panics when a required dependency is
// missing or the key is short, which is a wiring mistake rather than a
// runtime condition.
func New(cfg Config) *Auth {
	if cfg.Sessions == nil || cfg.SignOuts == nil || cfg.Prefs == nil || cfg.Outbox == nil || cfg.Bundle == nil {
		panic("auth: Config needs Sessions, SignOuts, Prefs, Outbox and Bundle")
	}
	if len(cfg.Key) < MinKeySize {
		panic("auth: Config.Key is shorter than MinKeySize")
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.PerPhone == (ratelimit.Limit{}) {
		cfg.PerPhone = DefaultPerPhone
	}
	if cfg.PerClient == (ratelimit.Limit{}) {
		cfg.PerClient = DefaultPerClient
	}
	if cfg.PerPhoneGuesses == (ratelimit.Limit{}) {
		cfg.PerPhoneGuesses = DefaultPerPhoneGuesses
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var locks channels.KeyLocker = &keylock.Keys{}
	if cfg.Locks != nil {
		locks = cfg.Locks
	}
	var rates ratelimit.TokenStore
	if cfg.Rates != nil {
		rates = cfg.Rates
	}
	return &Auth{
		cfg:       cfg,
		log:       log,
		codeKey:   derive(cfg.Key, codePurpose),
		tokenKey:  derive(cfg.Key, tokenPurpose),
		perPhone:  ratelimit.Take(rates, "auth/codes", cfg.PerPhone, ratelimit.Config{}),
		perClient: ratelimit.New(ratelimit.Config{Limit: cfg.PerClient}),
		guesses:   ratelimit.Take(rates, "auth/guesses", cfg.PerPhoneGuesses, ratelimit.Config{}),
		locks:     locks,
	}
}

// The purposes of the keys derived from Config.Key.
const (
	codePurpose  = "channels auth: otp code v1"
	tokenPurpose = "channels auth: token v1"
)

// derive returns the subkey of key for purpose.
func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// lock holds the lock of phone until the returned func is called.
func (a *Auth) lock(ctx context.Context, phone string) (unlock func(), err error) {
	unlock, err = a.locks.LockKey(ctx, "auth/"+phone)
	if err != nil {
		return nil, fmt.Errorf("lock the codes of %s: %w", channels.MaskPhone(phone), err)
	}
	return unlock, nil
}
