package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/ratelimit"
)

// codeDigits is the length of a code.
const codeDigits = 6

// codeSpace is the number of codes, 10^codeDigits.
const codeSpace = 1_000_000

// newCode returns a code of codeDigits digits, every one of the codeSpace
// codes equally likely (see codeOf).
func newCode() string {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
		if code, ok := codeOf(binary.BigEndian.Uint32(b[:])); ok {
			return code
		}
	}
}

// codeLimit is the largest multiple of codeSpace a uint32 holds.
const codeLimit = (1 << 32) / codeSpace * codeSpace

// codeOf returns the code of the uniform random n, false when n is at or
// above codeLimit and must be drawn again: reducing it too would favour
// the low codes (modulo bias).
func codeOf(n uint32) (string, bool) {
	if n >= codeLimit {
		return "", false
	}
	return formatCode(n % codeSpace), true
}

// formatCode writes n as codeDigits digits, zeros first.
func formatCode(n uint32) string {
	var b [codeDigits]byte
	for i := codeDigits - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

// cleanCode returns the code a citizen typed without the spaces and dashes
// an SMS app may keep when copying it, and reports whether it is then
// codeDigits ASCII digits.
func cleanCode(s string) (string, bool) {
	if len(s) > 2*codeDigits+8 {
		return "", false
	}
	b := make([]byte, 0, codeDigits)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '-':
		default:
			return "", false
		}
	}
	return string(b), len(b) == codeDigits
}

// pending is a code waiting for its guess, as kept in the Edge of the
// Session "<purpose>/<phone>" (whose ExpiresAt is the code's expiry):
//
//	version (1 byte, 1) || attempts (1) || challenge (16) || salt (16) || HMAC-SHA256(code key, salt || challenge || subject || 0 || code) (32)
//
// The subject is the Session's ID, so the hash binds the code to its
// phone, its purpose and its challenge, and the key makes a stolen store
// useless for recovering codes: a plain hash of six digits is undone by
// trying the million of them.
type pending struct {
	attempts  int // wrong guesses so far
	challenge [16]byte
	salt      [16]byte
	mac       [sha256.Size]byte
}

const (
	pendingVersion = 1
	pendingSize    = 1 + 1 + 16 + 16 + sha256.Size
)

// newPending returns the pending form of code for subject (the ID of its
// Session), with a fresh challenge and salt.
func (a *Auth) newPending(subject, code string) *pending {
	p := &pending{}
	_, _ = rand.Read(p.challenge[:])
	_, _ = rand.Read(p.salt[:])
	copy(p.mac[:], a.codeMAC(p, subject, code))
	return p
}

// codeMAC is the keyed hash of code for subject under p's salt and
// challenge.
func (a *Auth) codeMAC(p *pending, subject, code string) []byte {
	m := hmac.New(sha256.New, a.codeKey)
	m.Write(p.salt[:])
	m.Write(p.challenge[:])
	m.Write([]byte(subject))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// matches reports in constant time whether code is p's code for subject.
func (a *Auth) matches(p *pending, subject, code string) bool {
	return hmac.Equal(a.codeMAC(p, subject, code), p.mac[:])
}

// challengeID names the code in the outbox key; it says nothing of the code.
func (p *pending) challengeID() string { return hex.EncodeToString(p.challenge[:]) }

func (p *pending) encode() []byte {
	b := make([]byte, 0, pendingSize)
	b = append(b, pendingVersion, byte(min(p.attempts, 255)))
	b = append(b, p.challenge[:]...)
	b = append(b, p.salt[:]...)
	return append(b, p.mac[:]...)
}

// decodePending reads an Edge written by encode; false for any other.
func decodePending(b []byte) (*pending, bool) {
	if len(b) != pendingSize || b[0] != pendingVersion {
		return nil, false
	}
	p := &pending{attempts: int(b[1])}
	b = b[2:]
	b = b[copy(p.challenge[:], b):]
	b = b[copy(p.salt[:], b):]
	copy(p.mac[:], b)
	return p, true
}

// SignIn is the purpose of the app's sign-in codes, whose pending code is
// the Session "otp/<phone>".
const SignIn = "otp"

// CodeRequest asks for a one-time code sent by SMS, for SendCode.
type CodeRequest struct {
	// Phone receives the code: E.164, or a national number of
	// Config.Region.
	Phone string
	// Purpose namespaces the pending code, kept as the Session
	// "<purpose>/<phone>" and hashed with that name: CheckCode finds a
	// code only under the purpose it was sent for, so a code sent for one
	// purpose never stands for another. SignIn for the app; a kiosk's
	// consent names the operator's session, so that another session
	// cannot use it.
	Purpose string
	// Channel is recorded on the pending code's Session; ChannelApp when
	// empty.
	Channel channels.Channel
	// Client, when set, makes the request count against the per-client
	// limit (Config.PerClient) under that key: a client's IP address
	// (an IPv6 address counts as its /64) or any other name of who asks,
	// such as "operator:<id>".
	Client string
	// Lang is the language of the SMS when the phone has chosen none
	// (Prefs.Lang); the default language when it is not supported either.
	Lang string
	// TTL is how long the code is valid; Config.CodeTTL when zero.
	TTL time.Duration
	// Text is the SMS that carries code, in lang; auth.code_sms when nil.
	Text func(lang, code string) string
}

// limitError is a request refused by a rate limit: err says so to the
// person, wait is how long until a retry may succeed.
type limitError struct {
	wait time.Duration
	err  *channels.Error
}

func (e *limitError) Error() string { return e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

// limited is the error of a request over its limit for wait.
func limited(wait time.Duration, what string) error {
	return &limitError{wait: wait, err: channels.Errorf(channels.ERATELIMITED, "error.rate_limited", "%s over its limit for %v", what, wait)}
}

// RetryAfter reports how long to wait before retrying a request that
// SendCode (or an HTTP endpoint of Auth) refused with err for a rate
// limit; false when err is no such refusal.
func RetryAfter(err error) (time.Duration, bool) {
	var le *limitError
	if errors.As(err, &le) {
		return le.wait, true
	}
	return 0, false
}

// validPurpose reports whether purpose can name pending codes: not empty,
// printable ASCII without spaces, and short.
func validPurpose(purpose string) bool {
	if purpose == "" || len(purpose) > 100 {
		return false
	}
	for i := 0; i < len(purpose); i++ {
		if purpose[i] <= ' ' || purpose[i] > '~' {
			return false
		}
	}
	return true
}

// purposeKind is the part of a purpose before its first "/": what the
// logs say of it, never a session's name.
func purposeKind(purpose string) string {
	kind, _, _ := strings.Cut(purpose, "/")
	return kind
}

// SendCode sends a new code for req.Phone and req.Purpose by SMS, through
// the durable outbox, replacing any code pending for both, and returns how
// long it is valid. It refuses, each as a *channels.Error whose message ID
// can be shown: a phone that is not valid (EINVALID, error.phone), a phone
// that opted out of SMS (EFORBIDDEN, error.opted_out), and a request over
// the per-phone limit (Config.PerPhone, counted over every purpose) or the
// per-client limit (ERATELIMITED, error.rate_limited; RetryAfter says how
// long to wait). A refused request sends nothing.
func (a *Auth) SendCode(ctx context.Context, req CodeRequest) (time.Duration, error) {
	now := a.cfg.Now()
	if !validPurpose(req.Purpose) {
		return 0, fmt.Errorf("send code: purpose %q cannot name pending codes", req.Purpose)
	}
	phone, err := a.phone(req.Phone)
	if err != nil {
		return 0, err
	}
	if req.Client != "" {
		if wait, ok := a.perClient.Allow(ratelimit.ClientKey(req.Client), now); !ok {
			return 0, limited(wait, "client")
		}
	}
	prefs, err := a.cfg.Prefs.Prefs(ctx, phone)
	if err != nil {
		// Without the preferences, an opt-out cannot be honoured.
		return 0, fmt.Errorf("read preferences of %s: %w", channels.MaskPhone(phone), err)
	}
	if prefs.OptedOut {
		a.log.InfoContext(ctx, "auth: code refused to an opted-out phone", "phone", channels.MaskPhone(phone), "purpose", purposeKind(req.Purpose))
		return 0, channels.Errorf(channels.EFORBIDDEN, "error.opted_out", "phone opted out of SMS")
	}
	if wait, ok, err := a.perPhone.Take(ctx, phone, now); err != nil {
		return 0, err
	} else if !ok {
		a.log.WarnContext(ctx, "auth: codes of a phone over their limit", "phone", channels.MaskPhone(phone))
		return 0, limited(wait, "phone")
	}
	lang := prefs.Lang
	if !a.cfg.Bundle.Supports(lang) {
		lang = req.Lang
	}
	if !a.cfg.Bundle.Supports(lang) {
		lang = locales.Default
	}
	ttl := req.TTL
	if ttl <= 0 {
		ttl = a.cfg.CodeTTL
	}
	ch := req.Channel
	if ch == "" {
		ch = channels.ChannelApp
	}
	text := req.Text
	if text == nil {
		minutes := int(math.Ceil(ttl.Minutes()))
		text = func(lang, code string) string {
			return a.cfg.Bundle.Text(lang, channels.Msg("auth.code_sms", "Code", code, "Minutes", minutes))
		}
	}

	id := sessionID(req.Purpose, phone)
	code := newCode()
	p := a.newPending(id, code)
	exp := now.Add(ttl)
	unlock, err := a.lock(ctx, phone)
	if err != nil {
		return 0, err
	}
	err = a.cfg.Sessions.PutSession(ctx, &channels.Session{
		ID:        id,
		Phone:     phone,
		Channel:   ch,
		Edge:      p.encode(),
		UpdatedAt: now,
		ExpiresAt: exp,
	})
	unlock()
	if err != nil {
		return 0, fmt.Errorf("store the code of %s: %w", channels.MaskPhone(phone), err)
	}
	err = a.cfg.Outbox.Send(ctx, &channels.Outbound{
		Key:        "otp/" + p.challengeID(), // no phone: keys reach logs
		To:         phone,
		Text:       text(lang, code),
		Purpose:    channels.PurposeOTP,
		AtMostOnce: true,
		ExpiresAt:  exp,
	})
	if err != nil {
		return 0, fmt.Errorf("queue the code of %s: %w", channels.MaskPhone(phone), err)
	}
	a.log.InfoContext(ctx, "auth: code sent", "phone", channels.MaskPhone(phone), "purpose", purposeKind(req.Purpose),
		"challenge", p.challengeID(), "expires_at", exp)
	return ttl, nil
}

// CheckCode uses up the code pending for phone (E.164 or national) and
// purpose when code is it, and returns nil. Otherwise it returns, each as
// a *channels.Error whose message ID can be shown: EINVALID error.phone
// for a phone that is not valid; EINVALID error.code_wrong for a code that
// is not six digits (which does not count as an attempt) or a wrong one
// (which does); ENOTFOUND error.code_burnt for the wrong attempt that
// reaches Config.MaxAttempts, which burns the code; ENOTFOUND
// error.code_expired when no code is pending (never sent, expired, used
// or burnt); ERATELIMITED error.rate_limited when the guesses at the codes
// of the phone, over every code and purpose, are over
// Config.PerPhoneGuesses (RetryAfter says how long to wait): the guess is
// then not checked, right or wrong. Guesses about one phone are
// serialized, so parallel requests get no extra attempts and a code is
// used once.
func (a *Auth) CheckCode(ctx context.Context, phone, purpose, code string) error {
	now := a.cfg.Now()
	if !validPurpose(purpose) {
		return fmt.Errorf("check code: purpose %q cannot name pending codes", purpose)
	}
	phone, err := a.phone(phone)
	if err != nil {
		return err
	}
	raw := code
	code, ok := cleanCode(raw)
	if !ok {
		return channels.Errorf(channels.EINVALID, "error.code_wrong", "code of %d bytes is not %d digits", len(raw), codeDigits)
	}

	unlock, err := a.lock(ctx, phone)
	if err != nil {
		return err
	}
	defer unlock()
	id := sessionID(purpose, phone)
	s, err := a.cfg.Sessions.Session(ctx, id, now)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return channels.Errorf(channels.ENOTFOUND, "error.code_expired", "no code pending")
	}
	if err != nil {
		return fmt.Errorf("load the code of %s: %w", channels.MaskPhone(phone), err)
	}
	p, ok := decodePending(s.Edge)
	if !ok {
		if err := a.cfg.Sessions.DeleteSession(ctx, id); err != nil {
			return fmt.Errorf("delete the unreadable code of %s: %w", channels.MaskPhone(phone), err)
		}
		return channels.Errorf(channels.ENOTFOUND, "error.code_expired", "unreadable pending code of %d bytes", len(s.Edge))
	}
	// Each code allows MaxAttempts guesses, and a new code can be asked
	// for every minute: without a budget over all of them, a phone's
	// codes could be guessed without end.
	if wait, ok, err := a.guesses.Take(ctx, phone, now); err != nil {
		return err
	} else if !ok {
		a.log.WarnContext(ctx, "auth: guesses at the codes of a phone over their limit", "phone", channels.MaskPhone(phone), "purpose", purposeKind(purpose))
		return limited(wait, "guesses at the phone's codes")
	}

	if !a.matches(p, id, code) {
		p.attempts++
		if p.attempts >= a.cfg.MaxAttempts {
			if err := a.cfg.Sessions.DeleteSession(ctx, id); err != nil {
				return fmt.Errorf("burn the code of %s: %w", channels.MaskPhone(phone), err)
			}
			a.log.WarnContext(ctx, "auth: code burnt after too many wrong attempts", "phone", channels.MaskPhone(phone), "purpose", purposeKind(purpose), "attempts", p.attempts)
			return channels.Errorf(channels.ENOTFOUND, "error.code_burnt", "wrong code, attempt %d: burnt", p.attempts)
		}
		s.Edge, s.UpdatedAt = p.encode(), now
		if err := a.cfg.Sessions.PutSession(ctx, s); err != nil {
			return fmt.Errorf("count a wrong code of %s: %w", channels.MaskPhone(phone), err)
		}
		a.log.InfoContext(ctx, "auth: wrong code", "phone", channels.MaskPhone(phone), "purpose", purposeKind(purpose), "attempts", p.attempts)
		return channels.Errorf(channels.EINVALID, "error.code_wrong", "wrong code, attempt %d", p.attempts)
	}

	// Used up before the caller acts on it, so a code serves once.
	if err := a.cfg.Sessions.DeleteSession(ctx, id); err != nil {
		return fmt.Errorf("use up the code of %s: %w", channels.MaskPhone(phone), err)
	}
	return nil
}

// sessionID is the store ID of the code pending for purpose and phone.
func sessionID(purpose, phone string) string { return purpose + "/" + phone }
