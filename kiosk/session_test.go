package kiosk

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// TestSessionCookie checks the session cookie: HttpOnly, SameSite=Strict,
// scoped to the console, Secure over TLS or when configured, never
// otherwise; its value is a random token that the store does not hold.
func TestSessionCookie(t *testing.T) {
	tests := []struct {
		name   string
		opts   []func(*options)
		secure bool
	}{
		{"plain HTTP", nil, false},
		{"over TLS", []func(*options){withTLS}, true},
		{"behind a TLS proxy (Config.Secure)", []func(*options){withConfig(func(c *Config) { c.Secure = true })}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			c := e.client(t)
			if !cookie(t, c.get("/kiosk/sign-in"), signInCookie).HttpOnly {
				t.Error("the sign-in cookie is not HttpOnly")
			}
			p := c.post("/kiosk/sign-in", "id", amina, "password", aminaPW)
			ck := cookie(t, p, sessionCookie)
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/kiosk/" || ck.Secure != tt.secure || !validToken(ck.Value) || ck.MaxAge != 0 {
				t.Errorf("session cookie %+v, Secure want %v", ck, tt.secure)
			}
			if cookie(t, p, signInCookie).MaxAge >= 0 {
				t.Error("the sign-in cookie outlives the sign-in")
			}
			if _, err := e.db.Session(t.Context(), "kiosk/"+ck.Value, now); channels.ErrorCode(err) != channels.ENOTFOUND {
				t.Errorf("the store holds the token as a session ID: %v", err)
			}
			if _, err := e.db.Session(t.Context(), storeID(ck.Value), now); err != nil {
				t.Errorf("no session under the token's hash: %v", err)
			}
		})
	}
}

// TestCSRF posts every form of the console without its token, or with a
// wrong one: each is 403 with a localized page, and nothing is done.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(amina, aminaPW)
	docSlot := c.byDocument(nationalID, "fr")

	// The token of another session is no better than none.
	stranger := e.client(t)
	stranger.signIn(baraka, barakaPW)
	wrong := stranger.csrf
	c.get("/kiosk/")
	if wrong == c.csrf {
		t.Fatal("two sessions share a form token")
	}
	auditBefore := len(e.audit(t, ""))

	forms := []struct {
		name string
		path string
		kv   []string
	}{
		{"add a citizen by phone", "/kiosk/citizens", []string{"mode", "phone", "phone", phoneA}},
		{"add a citizen by document", "/kiosk/citizens", []string{"mode", "document", "national_id", "79927398713", "checked", "1"}},
		{"give consent", "/kiosk/citizens/" + docSlot + "/consent", []string{"code", "123456"}},
		{"start a service", "/kiosk/citizens/" + docSlot + "/services", []string{"service", "report_problem"}},
		{"answer a screen", "/kiosk/citizens/" + docSlot + "/walk", []string{"text", "1"}},
		{"finish with a citizen", "/kiosk/citizens/" + docSlot + "/done", nil},
		{"sign out", "/kiosk/sign-out", nil},
	}
	for _, f := range forms {
		for _, variant := range []string{"missing", "wrong"} {
			t.Run(f.name+", token "+variant, func(t *testing.T) {
				var p page
				if variant == "missing" {
					p = c.postWithout(f.path, f.kv...)
				} else {
					p = c.do(http.MethodPost, f.path, formOf(append([]string{"csrf", wrong}, f.kv...)...))
				}
				if p.status != http.StatusForbidden || !p.has("This form has expired or did not come from this console.") {
					t.Errorf("%d %s", p.status, p.text())
				}
			})
		}
	}
	if n := len(e.audit(t, "")); n != auditBefore {
		t.Errorf("%d audit entries written by refused forms", n-auditBefore)
	}
	if q := e.queued(t, phoneA); len(q) != 0 {
		t.Errorf("SMS queued by refused forms: %+v", q)
	}
	// Still signed in, the citizen still there, no service started.
	p := c.get("/kiosk/citizens/" + docSlot)
	if p.status != http.StatusOK || strings.Contains(p.body, "/walk") {
		t.Errorf("the citizen's page after the refused forms: %d %s", p.status, p.text())
	}

	t.Run("sign-in without its token", func(t *testing.T) {
		c := e.client(t)
		c.get("/kiosk/sign-in")
		before := len(e.audit(t, ""))
		p := c.postWithout("/kiosk/sign-in", "id", amina, "password", aminaPW)
		if p.status != http.StatusForbidden || len(p.header.Values("Set-Cookie")) != 0 {
			t.Errorf("%d %v %s", p.status, p.header, p.text())
		}
		if n := len(e.audit(t, "")); n != before {
			t.Errorf("%d audit entries", n-before)
		}
		if p := c.get("/kiosk/"); p.status != http.StatusSeeOther {
			t.Errorf("signed in after all: %d", p.status)
		}
	})
}

// formOf is a form of name, value pairs.
func formOf(kv ...string) map[string][]string {
	f := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = []string{kv[i+1]}
	}
	return f
}

// TestSessionExpiry checks that a session ends after SessionTTL without a
// request, lives on while used, but never past SessionMax after sign-in.
func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t)
		c := e.client(t)
		c.signIn(amina, aminaPW)
		e.clock.Add(DefaultSessionTTL - time.Second)
		if p := c.get("/kiosk/"); p.status != http.StatusOK {
			t.Fatalf("a second before the idle limit: %d", p.status)
		}
		e.clock.Add(DefaultSessionTTL - time.Second)
		if p := c.get("/kiosk/"); p.status != http.StatusOK {
			t.Fatalf("used again within the idle limit: %d", p.status)
		}
		e.clock.Add(DefaultSessionTTL)
		p := c.get("/kiosk/")
		if p.status != http.StatusUnauthorized || !p.has("Your session has ended. Please sign in again.") || !p.has("Operator sign-in") {
			t.Errorf("after the idle limit: %d %s", p.status, p.text())
		}
		if ck := cookie(t, p, sessionCookie); ck.MaxAge >= 0 {
			t.Errorf("the ended session's cookie is kept: %+v", ck)
		}
	})
	t.Run("longest life", func(t *testing.T) {
		e := newEnv(t)
		c := e.client(t)
		c.signIn(amina, aminaPW)
		for at := 20 * time.Minute; at < DefaultSessionMax; at += 20 * time.Minute {
			e.clock.Add(20 * time.Minute)
			if p := c.get("/kiosk/"); p.status != http.StatusOK {
				t.Fatalf("busy session after %v: %d", at, p.status)
			}
		}
		e.clock.Add(20 * time.Minute)
		if p := c.get("/kiosk/"); p.status != http.StatusUnauthorized {
			t.Errorf("busy session after %v: %d", DefaultSessionMax, p.status)
		}
	})
}

// TestOperatorChanged checks that a disabled operator's session, or one
// signed in before the password was reset, stops at its next request:
// the request does nothing, the session is gone for good (enabling the
// operator again does not bring it back) and the end is audited.
func TestOperatorChanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(*channels.Operator)
		detail string
	}{
		{"disabled", func(o *channels.Operator) { o.Disabled = true }, "operator disabled"},
		{"password reset", func(o *channels.Operator) { o.PasswordSetAt = now.Add(time.Second) }, "password reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client(t)
			c.signIn(amina, aminaPW)
			s := c.byDocument(nationalID, "en")
			c.get("/kiosk/citizens/" + s)
			e.clock.Add(2 * time.Second)
			e.update(t, amina, tt.change)

			p := c.post("/kiosk/citizens/"+s+"/services", "service", "report_problem")
			if p.status != http.StatusUnauthorized || !p.has("Your session has ended.") {
				t.Fatalf("a service started by a %s operator: %d %s", tt.name, p.status, p.text())
			}
			if n := len(e.audit(t, channels.AuditServiceStarted)); n != 0 {
				t.Errorf("%d services started", n)
			}
			ends := e.audit(t, channels.AuditSignOut)
			if len(ends) != 1 || ends[0].Detail != tt.detail || ends[0].Actor != "operator:amina" || ends[0].Kiosk != "kisumu-post-office" {
				t.Errorf("sign-outs audited: %+v", ends)
			}
			e.update(t, amina, func(o *channels.Operator) { o.Disabled = false })
			if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusSeeOther && p.status != http.StatusUnauthorized {
				t.Errorf("the old session after the operator was enabled: %d %s", p.status, p.text())
			}
		})
	}

	t.Run("a new sign-in after the reset works", func(t *testing.T) {
		e := newEnv(t)
		e.clock.Add(time.Minute)
		e.update(t, amina, func(o *channels.Operator) { o.PasswordSetAt = e.clock.Now() })
		c := e.client(t)
		c.signIn(amina, aminaPW)
		if p := c.get("/kiosk/"); p.status != http.StatusOK {
			t.Errorf("%d %s", p.status, p.text())
		}
	})
}

// TestSignOut checks that signing out ends the session and the consents
// given in it: the old cookie opens nothing.
func TestSignOut(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(amina, aminaPW)
	s := c.byDocument(nationalID, "en")
	token := ""
	for _, ck := range c.http.Jar.Cookies(mustURL(t, e.srv.URL+"/kiosk/")) {
		if ck.Name == sessionCookie {
			token = ck.Value
		}
	}
	p := c.post("/kiosk/sign-out")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/kiosk/sign-in" || cookie(t, p, sessionCookie).MaxAge >= 0 {
		t.Fatalf("sign-out: %d %v", p.status, p.header)
	}
	if out := e.audit(t, channels.AuditSignOut); len(out) != 1 || out[0].Actor != "operator:amina" || out[0].Detail != "" {
		t.Errorf("sign-outs audited: %+v", out)
	}
	if _, err := e.db.Session(t.Context(), storeID(token), e.clock.Now()); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("the session is still stored: %v", err)
	}
	// The old cookie, replayed, opens nothing.
	replay := e.client(t)
	replay.http.Jar.SetCookies(mustURL(t, e.srv.URL+"/kiosk/"), []*http.Cookie{{Name: sessionCookie, Value: token, Path: "/kiosk/"}})
	if p := replay.get("/kiosk/citizens/" + s); p.status != http.StatusUnauthorized || p.has(nationalID) {
		t.Errorf("the citizen's page with the old cookie: %d %s", p.status, p.text())
	}
}

// TestSignInAgain checks that signing in again in the same browser ends
// the session it had, which no copy of the old cookie opens any more.
func TestSignInAgain(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(amina, aminaPW)
	u := mustURL(t, e.srv.URL+"/kiosk/")
	first := c.http.Jar.Cookies(u)
	if len(first) != 1 || first[0].Name != sessionCookie {
		t.Fatalf("cookies after the first sign-in: %v", first)
	}
	c.signIn(baraka, barakaPW)
	replay := e.client(t)
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: first[0].Value, Path: "/kiosk/"}})
	if p := replay.get("/kiosk/"); p.status != http.StatusUnauthorized {
		t.Errorf("the first session after the second sign-in: %d %s", p.status, p.text())
	}
	if p := c.get("/kiosk/"); p.status != http.StatusOK || !p.has("Baraka Kip at eldoret-huduma") {
		t.Errorf("the second session: %d %s", p.status, p.text())
	}
}
