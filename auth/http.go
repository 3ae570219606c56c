package auth

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/ratelimit"
)

// maxBody bounds the request bodies of the sign-in endpoints, which hold a
// phone and a code.
const maxBody = 1 << 10

// phoneKey is where Require leaves the signed-in phone on a request.
const phoneKey = "auth.phone"

// otpRequest is the body of POST /v1/auth/otp.
type otpRequest struct {
	Phone string `json:"phone"`
}

// otpReply is the answer of POST /v1/auth/otp.
type otpReply struct {
	ExpiresIn int `json:"expires_in"` // seconds the code is valid
}

// verifyRequest is the body of POST /v1/auth/verify.
type verifyRequest struct {
	Phone string `json:"phone"`
	Code  string `json:"code"`
}

// verifyReply is the answer of POST /v1/auth/verify.
type verifyReply struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Phone     string    `json:"phone"` // E.164
}

// Register mounts the sign-in endpoints on r: POST /v1/auth/otp
// {"phone"} → 202 {"expires_in"}, POST /v1/auth/verify {"phone",
// "code"} → 200 {"token", "expires_at", "phone"}, and POST
// /v1/auth/signout with the token → 204, which voids every token of its
// phone. Package app's Register calls it; a server that mounts the app
// does not call it again.
func (a *Auth) Register(r gin.IRouter) {
	g := r.Group("/v1/auth")
	g.POST("/otp", a.handle(a.requestCode))
	g.POST("/verify", a.handle(a.verify))
	g.POST("/signout", a.Require(), a.handle(a.signOut))
}

// Require returns the middleware of the endpoints that need a signed-in
// citizen: it reads "Authorization: Bearer <token>" and leaves the phone
// of a valid token for Phone; a missing, malformed, forged or expired token,
// or one issued before its phone signed out, is 401
// (channels.EUNAUTHORIZED, with WWW-Authenticate), its message in the
// language of Accept-Language, and the request goes no further.
func (a *Auth) Require() gin.HandlerFunc {
	return func(c *gin.Context) {
		scheme, tok, _ := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
		if tok = strings.TrimSpace(tok); !strings.EqualFold(scheme, "Bearer") || tok == "" {
			c.Header("WWW-Authenticate", `Bearer realm="channels"`)
			a.fail(c, channels.Errorf(channels.EUNAUTHORIZED, "error.sign_in", "no bearer token"))
			c.Abort()
			return
		}
		phone, err := a.checkToken(c.Request.Context(), tok, a.cfg.Now())
		if err != nil && !errors.Is(err, errBadToken) && !errors.Is(err, errExpiredToken) && !errors.Is(err, errSignedOutToken) {
			a.fail(c, err) // the store failed: not the citizen's doing
			c.Abort()
			return
		}
		if err != nil {
			msg := "error.sign_in"
			switch {
			case errors.Is(err, errExpiredToken):
				msg = "error.sign_in_expired"
			case errors.Is(err, errSignedOutToken):
				msg = "error.signed_out"
			}
			c.Header("WWW-Authenticate", `Bearer realm="channels", error="invalid_token"`)
			a.fail(c, channels.Errorf(channels.EUNAUTHORIZED, msg, "%v", err))
			c.Abort()
			return
		}
		c.Set(phoneKey, phone)
		c.Next()
	}
}

// Phone returns the E.164 phone Require found in the request's token; ""
// on a request that did not pass through Require.
func Phone(c *gin.Context) string { return c.GetString(phoneKey) }

// handle adapts an endpoint that returns its error to gin.
func (a *Auth) handle(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			a.fail(c, err)
		}
	}
}

// fail answers err as the app's JSON error, localized by Accept-Language.
// Internal errors are logged with their detail, which the client never
// sees; no error detail here holds a code or a token.
func (a *Auth) fail(c *gin.Context, err error) {
	apijson.WriteError(c, a.cfg.Bundle, a.cfg.Bundle.Match(c.GetHeader("Accept-Language")), a.log, err)
}

// refuse answers a request over a rate limit: Retry-After, in whole
// seconds, and the error for fail to answer.
func refuse(c *gin.Context, err error) error {
	if wait, ok := RetryAfter(err); ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	}
	return err
}

// requestCode is POST /v1/auth/otp {"phone"}: a new sign-in code for
// phone, sent by SMS in the phone's language (else the request's),
// replacing any code pending; 202 {"expires_in"}.
func (a *Auth) requestCode(c *gin.Context) error {
	if wait, ok := a.perClient.Allow(ratelimit.ClientKey(c.ClientIP()), a.cfg.Now()); !ok {
		return refuse(c, limited(wait, "client"))
	}
	var req otpRequest
	if err := apijson.DecodeBody(c, maxBody, &req); err != nil {
		return err
	}
	ttl, err := a.SendCode(c.Request.Context(), CodeRequest{
		Phone:   req.Phone,
		Purpose: SignIn,
		Channel: channels.ChannelApp,
		Lang:    a.cfg.Bundle.Match(c.GetHeader("Accept-Language")),
	})
	if err != nil {
		return refuse(c, err)
	}
	c.JSON(http.StatusAccepted, otpReply{ExpiresIn: int(ttl / time.Second)})
	return nil
}

// verify is POST /v1/auth/verify {"phone", "code"}: the token of phone
// when code is its pending sign-in code, which is then used up. A wrong
// code is 400 and counts as an attempt (a malformed one does not: it
// cannot be right); the attempt that reaches MaxAttempts burns the code.
// No code pending (never asked, expired, used or burnt) is 404.
func (a *Auth) verify(c *gin.Context) error {
	ctx, now := c.Request.Context(), a.cfg.Now()
	if wait, ok := a.perClient.Allow(ratelimit.ClientKey(c.ClientIP()), now); !ok {
		return refuse(c, limited(wait, "client"))
	}
	var req verifyRequest
	if err := apijson.DecodeBody(c, maxBody, &req); err != nil {
		return err
	}
	phone, err := a.phone(req.Phone)
	if err != nil {
		return err
	}
	if err := a.CheckCode(ctx, phone, SignIn, req.Code); err != nil {
		return refuse(c, err)
	}
	exp := now.Add(a.cfg.TokenTTL).Truncate(time.Second)
	a.log.InfoContext(ctx, "auth: signed in", "phone", channels.MaskPhone(phone), "expires_at", exp)
	c.JSON(http.StatusOK, verifyReply{Token: a.issue(phone, now, exp), ExpiresAt: exp.UTC(), Phone: phone})
	return nil
}

// signOut is POST /v1/auth/signout, behind Require: every token of the
// signed-in phone, on every device, is refused from the next request on;
// 204. The instant recorded is rounded up to the microsecond a token's
// issue time keeps, so that a token issued in the same instant is void
// too, while one issued a microsecond later (a new sign-in) is not.
func (a *Auth) signOut(c *gin.Context) error {
	ctx, now, phone := c.Request.Context(), a.cfg.Now(), Phone(c)
	at := now.Truncate(time.Microsecond)
	if at.Before(now) {
		at = at.Add(time.Microsecond)
	}
	// Every token it voids expires within TokenTTL of at: the record is
	// of no use after that.
	if err := a.cfg.SignOuts.SignOut(ctx, phone, at, at.Add(a.cfg.TokenTTL)); err != nil {
		return fmt.Errorf("sign out %s: %w", channels.MaskPhone(phone), err)
	}
	a.log.InfoContext(ctx, "auth: signed out everywhere", "phone", channels.MaskPhone(phone))
	c.Status(http.StatusNoContent)
	return nil
}

// phone normalizes a phone number of a request to E.164; EINVALID with
// error.phone when it is not a valid number.
func (a *Auth) phone(raw string) (string, error) {
	p, ok := flows.NormalizePhone(raw, a.cfg.Region)
	if !ok {
		return "", channels.Errorf(channels.EINVALID, "error.phone", "phone of %d bytes is not valid in region %q", len(raw), a.cfg.Region)
	}
	return p, nil
}
