package kiosk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
)

// The console's cookies, both scoped to its pages.
const (
	sessionCookie = "kiosk_session" // the session token
	signInCookie  = "kiosk_signin"  // the form token of the sign-in page, before any session
	cookiePath    = "/kiosk/"
	csrfField     = "csrf" // the form field of the form token
)

// session is an operator's console session, kept as JSON in the State of
// the channels.Session "kiosk/<hash of its token>" until it expires. The
// token itself is only in the operator's cookie, so that reading the store
// is not enough to take over a session.
type session struct {
	Operator   string    `json:"operator"`
	SignedInAt time.Time `json:"signed_in_at"`
	// CSRF is the form token of the session: every form carries it and
	// every POST must bring it back.
	CSRF string `json:"csrf"`
	// Citizens are the citizens served in this session, each with their
	// consent (or the code they were sent), oldest first.
	Citizens []*citizen `json:"citizens,omitempty"`

	id   string             // the store ID
	op   *channels.Operator // the operator as read at this request
	lang string             // the operator's language at this request
}

// maxCitizens bounds the citizens one session keeps: the oldest is
// dropped (consent and all) when another comes.
const maxCitizens = 8

// sessionKey is where the session middleware leaves the session.
const sessionKey = "kiosk.session"

// newToken returns 128 random bits as 32 lowercase hex digits.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	return hex.EncodeToString(b[:])
}

// validToken reports whether t has the shape newToken gives.
func validToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil
}

// hashToken names a token without revealing it: the first 128 bits of its
// SHA-256, in hex.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:16])
}

// storeID is the store ID of the session whose cookie holds token.
func storeID(token string) string { return string(channels.ChannelKiosk) + "/" + hashToken(token) }

// consentPurpose is the purpose of the consent codes sent in session id:
// a code is good in no other session, and for nothing else.
func consentPurpose(id string) string { return "consent/" + id[len(channels.ChannelKiosk)+1:] }

// secure reports whether the cookies of a request must be Secure.
func (k *Console) secure(c *gin.Context) bool { return k.cfg.Secure || c.Request.TLS != nil }

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, Secure over
// TLS, for the browser session only (the server decides when a session
// ends). An empty value deletes it.
func (k *Console) setCookie(c *gin.Context, name, value string) {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     cookiePath,
		HttpOnly: true,
		Secure:   k.secure(c),
		SameSite: http.SameSiteStrictMode,
	}
	if value == "" {
		ck.MaxAge = -1
	}
	http.SetCookie(c.Writer, ck)
}

// sameToken compares a form token to the expected one in constant time;
// an empty expected token matches nothing.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// expiry is when s ends if no request comes after now: SessionTTL after
// now, but never past SessionMax after sign-in.
func (k *Console) expiry(s *session, now time.Time) time.Time {
	idle, end := now.Add(k.cfg.SessionTTL), s.SignedInAt.Add(k.cfg.SessionMax)
	if end.Before(idle) {
		return end
	}
	return idle
}

// save writes s back, extending its life to expiry.
func (k *Console) save(ctx context.Context, s *session) error {
	now := k.cfg.Now()
	state, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode session of %s: %w", s.Operator, err)
	}
	err = k.cfg.Store.PutSession(ctx, &channels.Session{
		ID:        s.id,
		Channel:   channels.ChannelKiosk,
		State:     state,
		UpdatedAt: now,
		ExpiresAt: k.expiry(s, now),
	})
	if err != nil {
		return fmt.Errorf("save session of %s: %w", s.Operator, err)
	}
	return nil
}

// load returns the live session id; ENOTFOUND when there is none, it
// expired, or it cannot be read.
func (k *Console) load(ctx context.Context, id string, now time.Time) (*session, error) {
	rec, err := k.cfg.Store.Session(ctx, id, now)
	if err != nil {
		return nil, err
	}
	s := &session{}
	if err := json.Unmarshal(rec.State, s); err != nil || s.Operator == "" || s.CSRF == "" {
		return nil, channels.Errorf(channels.ENOTFOUND, "kiosk.signin.ended", "unreadable session %s", id)
	}
	if !now.Before(s.SignedInAt.Add(k.cfg.SessionMax)) {
		return nil, channels.Errorf(channels.ENOTFOUND, "kiosk.signin.ended", "session %s past its longest life", id)
	}
	s.id = id
	return s, nil
}

// session is the middleware of the pages of a signed-in operator. It
// reads the session of the cookie and the operator again, ending the
// session when the operator is gone, disabled or has a new password;
// checks the form token of a POST (403, nothing done, when it is missing
// or wrong); drops the consents that ended; extends the session's life;
// and holds the session's lock until the page is answered.
func (k *Console) session(c *gin.Context) {
	ctx, now := c.Request.Context(), k.cfg.Now()
	token, err := c.Cookie(sessionCookie)
	if err != nil || !validToken(token) {
		if c.Request.Method == http.MethodGet {
			c.Redirect(http.StatusSeeOther, "/kiosk/sign-in")
		} else {
			k.signInForm(c, http.StatusUnauthorized, channels.Msg("kiosk.signin.ended"), "")
		}
		c.Abort()
		return
	}
	id := storeID(token)
	// The requests of one session are serialized, across the instances
	// sharing the store, so that a double tap cannot step the same state
	// twice or lose one of two writes.
	unlock, err := k.cfg.Store.LockKey(ctx, "kiosk/"+id)
	if err != nil {
		k.fail(c, "", fmt.Errorf("lock session: %w", err))
		c.Abort()
		return
	}
	defer unlock()
	s, err := k.load(ctx, id, now)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		k.setCookie(c, sessionCookie, "")
		k.signInForm(c, http.StatusUnauthorized, channels.Msg("kiosk.signin.ended"), "")
		c.Abort()
		return
	}
	if err != nil {
		k.fail(c, "", fmt.Errorf("load session: %w", err))
		c.Abort()
		return
	}
	op, err := k.cfg.Store.Operator(ctx, s.Operator)
	if err != nil && channels.ErrorCode(err) != channels.ENOTFOUND {
		k.fail(c, "", fmt.Errorf("read operator %s: %w", s.Operator, err))
		c.Abort()
		return
	}
	if why := void(op, s); why != "" {
		k.end(c, s, op, why)
		c.Abort()
		return
	}
	s.op, s.lang = op, k.operatorLang(c, op)
	if c.Request.Method != http.MethodGet && !sameToken(c.PostForm(csrfField), s.CSRF) {
		k.log.WarnContext(ctx, "kiosk: form token missing or wrong", "operator", op.ID, "path", c.FullPath())
		k.page(c, http.StatusForbidden, "error", &view{Operator: op, Lang: s.lang, CSRF: s.CSRF, Notice: channels.Msg("kiosk.error.csrf")})
		c.Abort()
		return
	}
	s.Citizens = live(s.Citizens, now)
	if err := k.save(ctx, s); err != nil {
		k.fail(c, s.lang, err)
		c.Abort()
		return
	}
	c.Set(sessionKey, s)
	c.Next()
}

// void says why the operator op can no longer use session s; "" when
// they can.
func void(op *channels.Operator, s *session) string {
	switch {
	case op == nil:
		return "operator removed"
	case op.Disabled:
		return "operator disabled"
	case op.PasswordSetAt.After(s.SignedInAt):
		return "password reset"
	}
	return ""
}

// end ends the session s at once, for why (op, when still there, is the
// operator as just read): deleted, its cookie cleared, audited as a
// sign-out, and the sign-in page shown.
func (k *Console) end(c *gin.Context, s *session, op *channels.Operator, why string) {
	ctx := c.Request.Context()
	if err := k.cfg.Store.DeleteSession(ctx, s.id); err != nil {
		k.fail(c, "", fmt.Errorf("end session of %s (%s): %w", s.Operator, why, err))
		return
	}
	k.setCookie(c, sessionCookie, "")
	e := channels.AuditEntry{Actor: actor(s.Operator), Action: channels.AuditSignOut, Detail: why}
	if op != nil {
		e.Kiosk = op.Kiosk
	}
	if err := k.audit(ctx, e); err != nil {
		k.log.ErrorContext(ctx, "kiosk: audit of an ended session", "operator", s.Operator, "err", err)
	}
	k.log.InfoContext(ctx, "kiosk: session ended", "operator", s.Operator, "why", why)
	k.signInForm(c, http.StatusUnauthorized, channels.Msg("kiosk.signin.ended"), "")
}

// live returns the citizens whose consent (or wait for a code) has not
// ended at now.
func live(cs []*citizen, now time.Time) []*citizen {
	out := cs[:0]
	for _, c := range cs {
		if now.Before(c.ExpiresAt) {
			out = append(out, c)
		}
	}
	return out
}

// current returns the session the middleware left on c.
func current(c *gin.Context) *session {
	s, _ := c.MustGet(sessionKey).(*session)
	return s
}

// operatorLang is the language of the console for op: their own when the
// bundle has it, else the best match of the browser's.
func (k *Console) operatorLang(c *gin.Context, op *channels.Operator) string {
	if op != nil && k.cfg.Bundle.Supports(op.Lang) {
		return op.Lang
	}
	return k.cfg.Bundle.Match(c.GetHeader("Accept-Language"))
}

// actor is the audit actor of the operator id.
func actor(id string) string { return "operator:" + id }

// audit appends e to the audit log, at now.
func (k *Console) audit(ctx context.Context, e channels.AuditEntry) error {
	e.At = k.cfg.Now().UTC()
	if _, err := k.cfg.Store.Audit(ctx, e); err != nil {
		return fmt.Errorf("audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return nil
}
