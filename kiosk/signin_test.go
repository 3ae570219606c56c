package kiosk

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/password"
	"github.com/govchannels/channels/ratelimit"
)

// TestSignIn checks the answers to a sign-in: the right password opens a
// session and lands on the home page in the operator's language; a wrong
// password, an unknown operator and a disabled one are refused, each
// audited, with no session.
func TestSignIn(t *testing.T) {
	tests := []struct {
		name     string
		id, pw   string
		change   func(*channels.Operator)
		status   int
		says     string // on the page that follows
		audit    string // the action recorded
		detail   string
		lang     string // the lang attribute of the page that follows
		rtl      bool
		signedIn bool
	}{
		{"right password", amina, aminaPW, nil, http.StatusSeeOther, "Amina Otieno at kisumu-post-office", channels.AuditSignIn, "", "en", false, true},
		{"ID typed with capitals and blanks", " Amina ", aminaPW, nil, http.StatusSeeOther, "Serve a citizen", channels.AuditSignIn, "", "en", false, true},
		{"in the operator's language", amina, aminaPW, func(o *channels.Operator) { o.Lang = "sw" }, http.StatusSeeOther, "Hudumia mwananchi", channels.AuditSignIn, "", "sw", false, true},
		{"in Arabic, right to left", amina, aminaPW, func(o *channels.Operator) { o.Lang = "ar" }, http.StatusSeeOther, "خدمة مواطن", channels.AuditSignIn, "", "ar", true, true},
		{"wrong password", amina, "not the password", nil, http.StatusUnauthorized, "Wrong operator ID or password.", channels.AuditSignInFailed, "wrong password", "en", false, false},
		{"unknown operator", "nobody", aminaPW, nil, http.StatusUnauthorized, "Wrong operator ID or password.", channels.AuditSignInFailed, "unknown operator", "en", false, false},
		{"disabled operator, right password", amina, aminaPW, func(o *channels.Operator) { o.Disabled = true }, http.StatusForbidden, "This operator account is disabled. Ask your administrator.", channels.AuditSignInFailed, "disabled", "en", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.change != nil {
				e.update(t, amina, tt.change)
			}
			c := e.client(t)
			c.get("/kiosk/sign-in")
			p := c.post("/kiosk/sign-in", "id", tt.id, "password", tt.pw)
			if p.status != tt.status {
				t.Fatalf("sign-in: %d %s, want %d", p.status, p.text(), tt.status)
			}
			if p.status == http.StatusSeeOther {
				p = c.follow(p)
			}
			if !p.has(tt.says) || !strings.Contains(p.body, `lang="`+tt.lang+`"`) || strings.Contains(p.body, `dir="rtl"`) != tt.rtl {
				t.Errorf("page %d in %s (rtl %v): %s", p.status, tt.lang, tt.rtl, p.body)
			}
			if strings.Contains(p.text(), tt.pw) {
				t.Error("the page shows the password")
			}
			es := e.audit(t, "")
			if len(es) != 1 || es[0].Action != tt.audit || es[0].Detail != tt.detail || es[0].Actor != "operator:"+strings.ToLower(strings.TrimSpace(tt.id)) || !es[0].At.Equal(now) {
				t.Errorf("audit %+v, want one %s (%s)", es, tt.audit, tt.detail)
			}
			if got := c.get("/kiosk/"); (got.status == http.StatusOK) != tt.signedIn {
				t.Errorf("home after the sign-in: %d, signed in %v", got.status, tt.signedIn)
			}
		})
	}
}

// TestLockout checks that five wrong passwords in a row lock the account
// for fifteen minutes, even against the right password, that the lock
// ends by itself, and that a successful sign-in clears the count.
func TestLockout(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.get("/kiosk/sign-in")
	try := func(pw string) page { return c.post("/kiosk/sign-in", "id", amina, "password", pw) }
	for i := 1; i < MaxFailedSignIns; i++ {
		if p := try("wrong " + strings.Repeat("x", i)); p.status != http.StatusUnauthorized || !p.has("Wrong operator ID or password.") {
			t.Fatalf("wrong password %d: %d %s", i, p.status, p.text())
		}
	}
	if p := try("wrong again"); p.status != http.StatusForbidden || !p.has("This account is locked: try again in 15 min.") {
		t.Fatalf("wrong password %d: %d %s", MaxFailedSignIns, p.status, p.text())
	}
	op, err := e.db.Operator(t.Context(), amina)
	if err != nil || !op.LockedUntil.Equal(now.Add(LockoutTime)) {
		t.Fatalf("operator %+v, %v: want locked until %v", op, err, now.Add(LockoutTime))
	}
	e.clock.Add(10 * time.Minute)
	if p := try(aminaPW); p.status != http.StatusForbidden || !p.has("try again in 5 min.") {
		t.Errorf("the right password while locked: %d %s", p.status, p.text())
	}
	if got := e.audit(t, channels.AuditSignInFailed); len(got) != MaxFailedSignIns+1 || got[len(got)-1].Detail != "locked" {
		t.Errorf("failures audited: %+v", got)
	}
	e.clock.Add(5 * time.Minute)
	if p := try(aminaPW); p.status != http.StatusSeeOther {
		t.Fatalf("the right password when the lock ends: %d %s", p.status, p.text())
	}
	if op, _ := e.db.Operator(t.Context(), amina); op.FailedSignIns != 0 || !op.LockedUntil.IsZero() {
		t.Errorf("after a sign-in: %d failures, locked until %v", op.FailedSignIns, op.LockedUntil)
	}

	// Four wrong, one right, four wrong again: never five in a row.
	c2 := e.client(t)
	for round := range 2 {
		c2.get("/kiosk/sign-in")
		for i := 1; i < MaxFailedSignIns; i++ {
			if p := c2.post("/kiosk/sign-in", "id", amina, "password", "wrong"); p.status != http.StatusUnauthorized {
				t.Fatalf("round %d, wrong password %d: %d %s", round, i, p.status, p.text())
			}
		}
		if round == 0 {
			c2.signIn(amina, aminaPW)
		}
	}
	if op, _ := e.db.Operator(t.Context(), amina); !op.LockedUntil.IsZero() || op.FailedSignIns != MaxFailedSignIns-1 {
		t.Errorf("four wrong after a sign-in: %d failures, locked until %v", op.FailedSignIns, op.LockedUntil)
	}
}

// TestSignInRateLimit checks that sign-in attempts are limited per client
// address, whatever the operator tried: 429 with Retry-After, in the
// browser's language, nothing checked or audited, and another address is
// not held back.
func TestSignInRateLimit(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.SignInLimit = ratelimit.Limit{Every: time.Minute, Burst: 2} }))
	c := e.client(t)
	c.ip, c.lang = "198.51.100.7", "fr"
	c.get("/kiosk/sign-in")
	for i, id := range []string{amina, baraka} {
		if p := c.post("/kiosk/sign-in", "id", id, "password", "wrong"); p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i+1, p.status, p.text())
		}
	}
	p := c.post("/kiosk/sign-in", "id", amina, "password", aminaPW)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "60" || !p.has("Trop de tentatives") {
		t.Errorf("third attempt: %d %v %s", p.status, p.header, p.text())
	}
	if n := len(e.audit(t, "")); n != 2 {
		t.Errorf("%d entries audited, want the 2 attempts checked", n)
	}
	if op, _ := e.db.Operator(t.Context(), amina); op.FailedSignIns != 1 {
		t.Errorf("%d failures counted, want 1: the refused attempt checked nothing", op.FailedSignIns)
	}

	other := e.client(t)
	other.ip = "203.0.113.9"
	other.signIn(amina, aminaPW)

	e.clock.Add(time.Minute)
	c.get("/kiosk/sign-in")
	if p := c.post("/kiosk/sign-in", "id", amina, "password", aminaPW); p.status != http.StatusSeeOther {
		t.Errorf("a minute later: %d %s", p.status, p.text())
	}
}

// TestSignInPage checks the sign-in page: in the browser's language, its
// form token bound to a cookie of its own, and the cookie attributes.
func TestSignInPage(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.lang = "sw-KE,sw;q=0.9"
	p := c.get("/kiosk/sign-in")
	if p.status != http.StatusOK || !p.has("Kuingia kwa mhudumu") || !strings.Contains(p.body, `<html lang="sw" dir="ltr">`) || p.header.Get("Content-Language") != "sw" {
		t.Errorf("sign-in page: %d %v %s", p.status, p.header, p.body)
	}
	ck := cookie(t, p, signInCookie)
	if ck.Value != c.csrf || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/kiosk/" || ck.Secure {
		t.Errorf("sign-in cookie %+v for the form token %q", ck, c.csrf)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Cache-Control"} {
		if p.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if strings.Contains(p.body, "<script") {
		t.Error("the page has a script")
	}
	if p := c.get("/kiosk/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/kiosk/sign-in" {
		t.Errorf("home without a session: %d %v", p.status, p.header)
	}
}

// cookie returns the cookie name that p sets.
func cookie(t *testing.T, p page, name string) *http.Cookie {
	t.Helper()
	for _, line := range p.header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err == nil && ck.Name == name {
			return ck
		}
	}
	t.Fatalf("no cookie %s set: %v", name, p.header.Values("Set-Cookie"))
	return nil
}

// TestLockoutTellsNothing checks that the lockout does not tell which
// operator IDs exist: wrong passwords for an ID nobody has lock it as they
// lock an operator's account, with the same answers, and the lock ends
// the same way.
func TestLockoutTellsNothing(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		detail string // of the audited failure that locks
	}{
		{"an operator's ID", amina, "wrong password: locked for 15m0s"},
		{"an ID nobody has", "nobody", "unknown operator: locked for 15m0s"},
		{"an ID nobody has, typed with capitals", " NoBody ", "unknown operator: locked for 15m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client(t)
			c.get("/kiosk/sign-in")
			for i := 1; i < MaxFailedSignIns; i++ {
				if p := c.post("/kiosk/sign-in", "id", tt.id, "password", "wrong password"); p.status != http.StatusUnauthorized || !p.has("Wrong operator ID or password.") {
					t.Fatalf("wrong password %d: %d %s", i, p.status, p.text())
				}
			}
			if p := c.post("/kiosk/sign-in", "id", tt.id, "password", "wrong password"); p.status != http.StatusForbidden || !p.has("This account is locked: try again in 15 min.") {
				t.Errorf("wrong password %d: %d %s", MaxFailedSignIns, p.status, p.text())
			}
			e.clock.Add(10 * time.Minute)
			if p := c.post("/kiosk/sign-in", "id", tt.id, "password", aminaPW); p.status != http.StatusForbidden || !p.has("This account is locked: try again in 5 min.") {
				t.Errorf("while locked: %d %s", p.status, p.text())
			}
			e.clock.Add(5 * time.Minute)
			if p := c.post("/kiosk/sign-in", "id", tt.id, "password", "wrong password"); p.status != http.StatusUnauthorized || !p.has("Wrong operator ID or password.") {
				t.Errorf("when the lock ends: %d %s", p.status, p.text())
			}
			got := e.audit(t, channels.AuditSignInFailed)
			if len(got) != MaxFailedSignIns+2 || got[MaxFailedSignIns-1].Detail != tt.detail || !strings.HasSuffix(got[MaxFailedSignIns].Detail, "locked") {
				t.Errorf("failures audited: %+v", got)
			}
		})
	}
}

// TestLockoutConcurrent checks that wrong passwords sent all at once (from
// many addresses, so that no rate limit holds them back) get exactly
// MaxFailedSignIns password checks before the account locks, every other
// attempt refused as locked without a check: each attempt sees the count
// the ones before it left. The right password, sent next, is refused
// unchecked too.
func TestLockoutConcurrent(t *testing.T) {
	const attempts = 3 * MaxFailedSignIns
	tests := []struct {
		name string
		id   string
	}{
		{"an operator's ID", amina},
		{"an ID nobody has", "nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var checks atomic.Int32
			e.console.checkPassword = func(hash, pw string) (bool, error) {
				checks.Add(1)
				return password.Check(hash, pw)
			}
			clients := make([]*client, attempts)
			for i := range clients {
				clients[i] = e.client(t)
				clients[i].ip = fmt.Sprintf("198.51.100.%d", i+1)
				clients[i].get("/kiosk/sign-in")
			}
			statuses := make([]int, attempts)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, c := range clients {
				wg.Go(func() {
					<-start
					statuses[i] = c.post("/kiosk/sign-in", "id", tt.id, "password", fmt.Sprintf("wrong password %d", i)).status
				})
			}
			close(start)
			wg.Wait()
			checked, locked := 0, 0
			for _, a := range e.audit(t, channels.AuditSignInFailed) {
				if strings.HasSuffix(a.Detail, ": locked") || a.Detail == "locked" {
					locked++
				} else {
					checked++
				}
			}
			if checked != MaxFailedSignIns || locked != attempts-MaxFailedSignIns {
				t.Errorf("%d passwords checked and %d refused as locked, want %d and %d (statuses %v)", checked, locked, MaxFailedSignIns, attempts-MaxFailedSignIns, statuses)
			}
			if n := checks.Load(); n != MaxFailedSignIns {
				t.Errorf("%d passwords checked, want %d (statuses %v)", n, MaxFailedSignIns, statuses)
			}
			// The wrong password that locks the account is answered as
			// locked too: MaxFailedSignIns-1 answers say "wrong".
			wrong, refused := 0, 0
			for _, st := range statuses {
				switch st {
				case http.StatusUnauthorized:
					wrong++
				case http.StatusForbidden:
					refused++
				}
			}
			if wrong != MaxFailedSignIns-1 || refused != attempts-MaxFailedSignIns+1 {
				t.Errorf("%d answered wrong and %d locked, want %d and %d (statuses %v)", wrong, refused, MaxFailedSignIns-1, attempts-MaxFailedSignIns+1, statuses)
			}
			c := e.client(t)
			c.ip = "203.0.113.1"
			c.get("/kiosk/sign-in")
			if st := c.post("/kiosk/sign-in", "id", tt.id, "password", aminaPW).status; st != http.StatusForbidden || checks.Load() != MaxFailedSignIns {
				t.Errorf("the right password while locked: %d after %d checks, want 403 unchecked", st, checks.Load())
			}
		})
	}
}

// TestPasswordChecksBounded checks that sign-ins sent all at once (from
// many addresses, each within its rate limit) run exactly maxPasswordChecks
// password checks at a time, never more (each check waits until that many
// are running, so the bound is reached): each takes 19 MiB and a core's worth
// of argon2id, and the addresses of one IPv6 customer alone are more than
// enough to exhaust the server's memory otherwise. Every attempt is still
// answered, and audited.
func TestPasswordChecksBounded(t *testing.T) {
	tests := []struct {
		name      string
		operators bool // the IDs are operators' (else nobody's: the decoy is checked)
	}{
		{"IDs nobody has (the decoy)", false},
		{"operators' IDs", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			n := 4*maxPasswordChecks() + 2
			id := func(i int) string { return fmt.Sprintf("op%d", i) }
			if tt.operators {
				for i := range n {
					e.addOperator(t, channels.Operator{ID: id(i), Kiosk: "kisumu-post-office"}, aminaPW)
				}
			}
			var mu sync.Mutex
			inFlight, most, total, filled := 0, 0, 0, false
			full := make(chan struct{})
			e.console.checkPassword = func(hash, pw string) (bool, error) {
				mu.Lock()
				inFlight++
				total++
				most = max(most, inFlight)
				if inFlight == maxPasswordChecks() && !filled {
					filled = true
					close(full)
				}
				mu.Unlock()
				<-full
				// Stay a while, yielding: checks let in past the bound
				// would be counted inside with this one.
				for range 100 {
					runtime.Gosched()
				}
				mu.Lock()
				inFlight--
				mu.Unlock()
				return false, nil
			}
			clients := make([]*client, n)
			for i := range clients {
				clients[i] = e.client(t)
				clients[i].ip = fmt.Sprintf("2001:db8:%x::1", i+1)
				clients[i].get("/kiosk/sign-in")
			}
			statuses := make([]int, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, c := range clients {
				wg.Go(func() {
					<-start
					statuses[i] = c.post("/kiosk/sign-in", "id", id(i), "password", "wrong password").status
				})
			}
			close(start)
			wg.Wait()
			if most != maxPasswordChecks() || total != n {
				t.Errorf("%d of %d password checks at once, want %d of %d", most, total, maxPasswordChecks(), n)
			}
			for i, s := range statuses {
				if s != http.StatusUnauthorized {
					t.Errorf("attempt %d: %d", i, s)
				}
			}
			if got := len(e.audit(t, channels.AuditSignInFailed)); got != n {
				t.Errorf("%d failures audited, want %d", got, n)
			}
		})
	}
}
