package kiosk

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/lenprefix"
	"github.com/govchannels/channels/password"
	"github.com/govchannels/channels/ratelimit"
)

// operatorID is the shape of an operator's ID (see channels.Operator).
var operatorID = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// maxPassword bounds the password a sign-in checks, in bytes.
const maxPassword = 1024

// maxPasswordChecks is how many password checks run at once: one per core
// (at least two). Each takes 19 MiB and about 30 ms of a core (argon2id);
// more at once would only share the cores, while sign-ins from many
// addresses, each within its rate limit, could take all the server's
// memory.
func maxPasswordChecks() int { return max(2, runtime.GOMAXPROCS(0)) }

// passwordCheck checks pw against hash in one of the slots of
// maxPasswordChecks, waiting for one while the request lasts.
func (k *Console) passwordCheck(ctx context.Context, hash, pw string) (bool, error) {
	select {
	case k.passwordChecks <- struct{}{}:
		defer func() { <-k.passwordChecks }()
	case <-ctx.Done():
		return false, fmt.Errorf("wait to check a password: %w", ctx.Err())
	}
	return k.checkPassword(hash, pw)
}

// decoyHash returns the hash of a random password, checked when someone
// signs in as an unknown operator.
func decoyHash() string {
	h, err := password.Hash(password.Generate())
	if err != nil {
		panic(fmt.Sprintf("kiosk: decoy password hash: %v", err))
	}
	return h
}

// signInPage is GET /kiosk/sign-in: the sign-in form.
func (k *Console) signInPage(c *gin.Context) {
	k.signInForm(c, http.StatusOK, channels.Message{}, "")
}

// signInForm shows the sign-in form with status and notice (none when its
// ID is empty), the operator ID filled in with id. Its form token is bound to
// a cookie of its own, kept while it is valid, so that two tabs both work.
func (k *Console) signInForm(c *gin.Context, status int, notice channels.Message, id string) {
	token, err := c.Cookie(signInCookie)
	if err != nil || !validToken(token) {
		token = newToken()
	}
	k.setCookie(c, signInCookie, token)
	k.page(c, status, "signin", &view{
		Lang:   k.operatorLang(c, nil),
		CSRF:   token,
		Notice: notice,
		Form:   map[string]string{"id": id},
	})
}

// signIn is POST /kiosk/sign-in {csrf, id, password}: a new session for
// the operator, then the home page. Refused: a client address over its
// limit (429), a missing or wrong form token (403), an unknown operator or
// a wrong password (401, the same answer for both; the wrong password
// counts towards a lockout), a locked or disabled operator (403).
func (k *Console) signIn(c *gin.Context) {
	ctx, now := c.Request.Context(), k.cfg.Now()
	lang := k.operatorLang(c, nil)
	if wait, ok, err := k.signIns.Take(ctx, clientKey(c), now); err != nil {
		k.fail(c, lang, err)
		return
	} else if !ok {
		k.log.WarnContext(ctx, "kiosk: sign-ins of a client over their limit", "client", c.ClientIP())
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		k.page(c, http.StatusTooManyRequests, "error", &view{Lang: lang, Notice: channels.Msg("error.rate_limited")})
		return
	}
	token, _ := c.Cookie(signInCookie)
	if !validToken(token) || !sameToken(c.PostForm(csrfField), token) {
		k.log.WarnContext(ctx, "kiosk: sign-in without its form token", "client", c.ClientIP())
		k.page(c, http.StatusForbidden, "error", &view{Lang: lang, Notice: channels.Msg("kiosk.error.csrf")})
		return
	}
	id := strings.ToLower(strings.TrimSpace(c.PostForm("id")))
	pw := c.PostForm("password")
	if !operatorID.MatchString(id) || pw == "" || len(pw) > maxPassword {
		k.signInForm(c, http.StatusUnauthorized, channels.Msg("kiosk.signin.wrong"), "")
		return
	}

	// One attempt at a time per ID, across the instances sharing the
	// store, so that each sees the count of wrong passwords the ones
	// before it left: attempts sent all at once would otherwise all read
	// the account unlocked, and all be checked.
	unlock, err := k.cfg.Store.LockKey(ctx, "kiosk-signin/"+id)
	if err != nil {
		k.fail(c, lang, fmt.Errorf("lock the sign-ins of %s: %w", id, err))
		return
	}
	defer unlock()
	op, err := k.cfg.Store.Operator(ctx, id)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		k.unknownSignIn(c, id, pw, now)
		return
	}
	if err != nil {
		k.fail(c, lang, fmt.Errorf("sign in %s: %w", id, err))
		return
	}
	failed := channels.AuditEntry{Actor: actor(id), Kiosk: op.Kiosk, Action: channels.AuditSignInFailed}
	if now.Before(op.LockedUntil) {
		failed.Detail = "locked"
		k.refuseSignIn(c, failed, lockedNotice(op.LockedUntil.Sub(now)), id)
		return
	}
	ok, err := k.passwordCheck(ctx, op.PasswordHash, pw)
	if err != nil {
		k.fail(c, lang, fmt.Errorf("check the password of %s: %w", id, err))
		return
	}
	if !ok {
		locked, err := k.countFailure(ctx, id, now)
		if err != nil {
			k.fail(c, lang, err)
			return
		}
		msg := channels.Msg("kiosk.signin.wrong")
		failed.Detail = "wrong password"
		if locked {
			failed.Detail, msg = fmt.Sprintf("wrong password: locked for %v", LockoutTime), lockedNotice(LockoutTime)
		}
		k.refuseSignIn(c, failed, msg, id)
		return
	}
	if op.Disabled {
		failed.Detail = "disabled"
		k.refuseSignIn(c, failed, channels.Msg("kiosk.signin.disabled"), id)
		return
	}
	if op.FailedSignIns != 0 || !op.LockedUntil.IsZero() {
		if _, err := k.cfg.Store.UpdateOperator(ctx, id, func(o *channels.Operator) error {
			o.FailedSignIns, o.LockedUntil = 0, time.Time{}
			return nil
		}); err != nil {
			k.fail(c, lang, fmt.Errorf("reset the failed sign-ins of %s: %w", id, err))
			return
		}
	}

	if err := k.audit(ctx, channels.AuditEntry{Actor: actor(id), Kiosk: op.Kiosk, Action: channels.AuditSignIn}); err != nil {
		k.fail(c, lang, err)
		return
	}
	if old, err := c.Cookie(sessionCookie); err == nil && validToken(old) {
		// A browser signing in again leaves no second session behind.
		if err := k.cfg.Store.DeleteSession(ctx, storeID(old)); err != nil {
			k.fail(c, lang, fmt.Errorf("end the previous session of %s: %w", id, err))
			return
		}
	}
	token = newToken()
	s := &session{Operator: id, SignedInAt: now, CSRF: newToken(), id: storeID(token)}
	if err := k.save(ctx, s); err != nil {
		k.fail(c, lang, err)
		return
	}
	k.setCookie(c, sessionCookie, token)
	k.setCookie(c, signInCookie, "")
	k.log.InfoContext(ctx, "kiosk: signed in", "operator", id, "kiosk", op.Kiosk)
	c.Redirect(http.StatusSeeOther, "/kiosk/")
}

// unknownSignIn refuses a sign-in as id, which no operator has, exactly as
// a wrong password of an operator is refused: after as long a check (the
// decoy hash), and locked after as many wrong ones in a row for as long,
// so that neither the answer nor the lock tells which operators exist.
// The caller holds the sign-in lock of id.
func (k *Console) unknownSignIn(c *gin.Context, id, pw string, now time.Time) {
	ctx := c.Request.Context()
	failed := channels.AuditEntry{Actor: actor(id), Action: channels.AuditSignInFailed, Detail: "unknown operator"}
	st, err := k.stranger(ctx, id, now)
	if err != nil {
		k.fail(c, k.operatorLang(c, nil), err)
		return
	}
	if now.Before(st.lockedUntil) {
		failed.Detail += ": locked"
		k.refuseSignIn(c, failed, lockedNotice(st.lockedUntil.Sub(now)), id)
		return
	}
	_, _ = k.passwordCheck(ctx, k.decoy, pw)
	msg := channels.Msg("kiosk.signin.wrong")
	locked, err := k.strangerFailed(ctx, id, st, now)
	if err != nil {
		k.fail(c, k.operatorLang(c, nil), err)
		return
	}
	if locked {
		failed.Detail, msg = fmt.Sprintf("unknown operator: locked for %v", LockoutTime), lockedNotice(LockoutTime)
	}
	k.refuseSignIn(c, failed, msg, id)
}

// stranger is the count of wrong sign-ins of an ID no operator has, kept
// as an operator's is (Operator.FailedSignIns and LockedUntil), in a
// session record of the store that every instance sees: the record of an
// ID idle for longer than a lock, and not locked, expires.
type stranger struct {
	failed      int
	lockedUntil time.Time
}

// strangerRecord is the session ID of the count of id.
func strangerRecord(id string) string { return "kiosk-stranger/" + id }

// stranger reads the count of id; zero when it has none.
func (k *Console) stranger(ctx context.Context, id string, now time.Time) (stranger, error) {
	rec, err := k.cfg.Store.Session(ctx, strangerRecord(id), now)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return stranger{}, nil
	}
	if err != nil {
		return stranger{}, fmt.Errorf("read the wrong sign-ins of %s: %w", id, err)
	}
	rd := lenprefix.NewReader(rec.Edge)
	st := stranger{failed: int(rd.Uvarint())}
	if n := rd.Uvarint(); n != 0 {
		st.lockedUntil = time.Unix(0, int64(n))
	}
	if rd.Bad() {
		return stranger{}, nil // unreadable: counted again from zero
	}
	return st, nil
}

// strangerFailed counts a wrong sign-in of id, whose count was st, at now,
// and reports whether it locked id: the MaxFailedSignIns-th in a row locks
// it for LockoutTime and starts the count again.
func (k *Console) strangerFailed(ctx context.Context, id string, st stranger, now time.Time) (locked bool, err error) {
	st.failed++
	if st.failed >= MaxFailedSignIns {
		st.failed, st.lockedUntil, locked = 0, now.Add(LockoutTime), true
	}
	var until uint64
	if !st.lockedUntil.IsZero() {
		until = uint64(st.lockedUntil.UnixNano())
	}
	edge := lenprefix.AppendUvarint(lenprefix.AppendUvarint(nil, uint64(st.failed)), until)
	expires := now.Add(LockoutTime)
	if st.lockedUntil.After(expires) {
		expires = st.lockedUntil
	}
	if err := k.cfg.Store.PutSession(ctx, &channels.Session{ID: strangerRecord(id), Channel: channels.ChannelKiosk, Edge: edge, UpdatedAt: now, ExpiresAt: expires}); err != nil {
		return false, fmt.Errorf("count a wrong sign-in of %s: %w", id, err)
	}
	return locked, nil
}

// countFailure records a wrong password of the operator id at now, and
// reports whether it locked the account: the MaxFailedSignIns-th in a row
// locks it for LockoutTime and starts the count again.
func (k *Console) countFailure(ctx context.Context, id string, now time.Time) (locked bool, err error) {
	_, err = k.cfg.Store.UpdateOperator(ctx, id, func(o *channels.Operator) error {
		o.FailedSignIns++
		if o.FailedSignIns >= MaxFailedSignIns {
			o.FailedSignIns, o.LockedUntil, locked = 0, now.Add(LockoutTime), true
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("count a wrong password of %s: %w", id, err)
	}
	if locked {
		k.log.WarnContext(ctx, "kiosk: operator locked after wrong passwords", "operator", id, "until", now.Add(LockoutTime))
	}
	return locked, nil
}

// lockedNotice tells an operator locked out for another d.
func lockedNotice(d time.Duration) channels.Message {
	return channels.Msg("kiosk.signin.locked", "Minutes", max(1, int(math.Ceil(d.Minutes()))))
}

// refuseSignIn audits a refused sign-in and shows the form again with
// msg: 403 for a locked or disabled account, 401 otherwise.
func (k *Console) refuseSignIn(c *gin.Context, e channels.AuditEntry, msg channels.Message, id string) {
	if err := k.audit(c.Request.Context(), e); err != nil {
		k.fail(c, k.operatorLang(c, nil), err)
		return
	}
	status := http.StatusUnauthorized
	if msg.ID != "kiosk.signin.wrong" {
		status = http.StatusForbidden
	}
	k.log.InfoContext(c.Request.Context(), "kiosk: sign-in refused", "operator", id, "why", e.Detail)
	k.signInForm(c, status, msg, id)
}

// signOut is POST /kiosk/sign-out: the session and every consent given in
// it end; the sign-in page follows.
func (k *Console) signOut(c *gin.Context) {
	ctx, s := c.Request.Context(), current(c)
	if err := k.cfg.Store.DeleteSession(ctx, s.id); err != nil {
		k.fail(c, s.lang, fmt.Errorf("sign out %s: %w", s.Operator, err))
		return
	}
	k.setCookie(c, sessionCookie, "")
	if err := k.audit(ctx, channels.AuditEntry{Actor: actor(s.Operator), Kiosk: s.op.Kiosk, Action: channels.AuditSignOut}); err != nil {
		k.fail(c, s.lang, err)
		return
	}
	k.log.InfoContext(ctx, "kiosk: signed out", "operator", s.Operator)
	c.Redirect(http.StatusSeeOther, "/kiosk/sign-in")
}

// clientKey is the rate-limit key of the request's client address (an
// IPv6 address counts as its /64).
func clientKey(c *gin.Context) string { return ratelimit.ClientKey(c.ClientIP()) }
