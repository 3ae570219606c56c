package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/ratelimit"
	"github.com/govchannels/channels/store/bolt"
)

// now is the tests' starting time.
var now = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

const (
	phone    = "+254712345678"
	stranger = "+254733000000"
)

// testKey is the key of the tests' Auth.
var testKey = bytes.Repeat([]byte{7}, MinKeySize)

// outbox records the SMS it is given, or fails with err.
type outbox struct {
	mu   sync.Mutex
	sent []channels.Outbound
	err  error
}

func (o *outbox) Send(_ context.Context, ms ...*channels.Outbound) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	for _, m := range ms {
		o.sent = append(o.sent, *m)
	}
	return nil
}

func (o *outbox) all() []channels.Outbound {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]channels.Outbound(nil), o.sent...)
}

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// lastCode returns the code of the last SMS to to; "" if none.
func (o *outbox) lastCode(to string) string {
	ms := o.all()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].To == to {
			return codeRE.FindString(ms[i].Text)
		}
	}
	return ""
}

// env is an Auth on a gin router over a bbolt store, with a protected
// route GET /me that answers the signed-in phone.
type env struct {
	a      *Auth
	db     *bolt.DB
	clock  *channelstest.Clock
	logs   *channelstest.LogBuffer
	outbox *outbox
	router *gin.Engine
}

func newEnv(t *testing.T, change ...func(*Config)) *env {
	t.Helper()
	gin.SetMode(gin.TestMode)
	_, bundle := channelstest.Shipped(t, func() time.Time { return now })
	e := &env{db: channelstest.OpenStore(t), clock: channelstest.NewClock(now), logs: &channelstest.LogBuffer{}, outbox: &outbox{}}
	cfg := Config{
		Sessions: e.db, SignOuts: e.db, Prefs: e.db, Outbox: e.outbox, Bundle: bundle, Key: testKey, Region: "KE",
		Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, c := range change {
		c(&cfg)
	}
	e.a = New(cfg)
	e.router = gin.New()
	e.a.Register(e.router)
	e.router.GET("/me", e.a.Require(), func(c *gin.Context) { c.String(http.StatusOK, Phone(c)) })
	return e
}

// resp is an answer, its JSON decoded when it is JSON.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r resp) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}
func (r resp) message() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// serve sends a request from the client address ip with the header pairs.
func (e *env) serve(method, path, body, ip string, header ...string) resp {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = net.JoinHostPort(ip, "40000")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, r)
	out := resp{status: w.Code, header: w.Header(), raw: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &out.body)
	return out
}

const client = "192.0.2.1"

func jsonBody(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (e *env) ask(p string, header ...string) resp {
	return e.serve(http.MethodPost, "/v1/auth/otp", jsonBody("phone", p), client, header...)
}

func (e *env) verify(p, code string, header ...string) resp {
	return e.serve(http.MethodPost, "/v1/auth/verify", jsonBody("phone", p, "code", code), client, header...)
}

// signIn asks a code for p and trades it for a token.
func (e *env) signIn(t *testing.T, p string) string {
	t.Helper()
	if r := e.ask(p); r.status != http.StatusAccepted {
		t.Fatalf("ask a code: %d %s", r.status, r.raw)
	}
	r := e.verify(p, e.outbox.lastCode(p))
	tok, _ := r.body["token"].(string)
	if r.status != http.StatusOK || tok == "" {
		t.Fatalf("verify: %d %s", r.status, r.raw)
	}
	return tok
}

// me calls the protected route with the Authorization header auth.
func (e *env) me(auth string, header ...string) resp {
	return e.serve(http.MethodGet, "/me", "", client, append([]string{"Authorization", auth}, header...)...)
}

// TestSignIn follows a sign-in: the SMS as queued, in the phone's
// language, the token and what it opens; the code signs in once.
func TestSignIn(t *testing.T) {
	tests := []struct {
		name   string
		phone  string // as typed
		prefs  channels.Prefs
		header []string
		text   string // the SMS without its code
	}{
		{"E.164, default language", phone, channels.Prefs{}, nil, "Your government services code is ******. Valid for 5 min. Never share it with anyone."},
		{"national, the request's language", "0712 345 678", channels.Prefs{}, []string{"Accept-Language", "fr-CM"}, "Votre code des services publics est ******. Valable 5 min. Ne le donnez à personne."},
		{"the phone's language wins", phone, channels.Prefs{Lang: "sw"}, []string{"Accept-Language", "fr"}, "Nambari yako ya siri ya huduma za serikali ni ******. Inatumika kwa dakika 5. Usimpe mtu yeyote."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if err := e.db.PutPrefs(t.Context(), phone, tt.prefs); err != nil {
				t.Fatal(err)
			}
			r := e.ask(tt.phone, tt.header...)
			if r.status != http.StatusAccepted || r.raw != `{"expires_in":300}` {
				t.Fatalf("ask: %d %s", r.status, r.raw)
			}
			sent := e.outbox.all()
			if len(sent) != 1 {
				t.Fatalf("%d SMS queued, want 1", len(sent))
			}
			m := sent[0]
			code := codeRE.FindString(m.Text)
			s, err := e.db.Session(t.Context(), "otp/"+phone, now)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := decodePending(s.Edge)
			if !ok || code == "" || m.Key != "otp/"+p.challengeID() || m.To != phone || m.Purpose != channels.PurposeOTP ||
				!m.AtMostOnce || !m.ExpiresAt.Equal(now.Add(5*time.Minute)) || !s.ExpiresAt.Equal(m.ExpiresAt) || s.Channel != channels.ChannelApp {
				t.Errorf("SMS %+v for session %+v", m, s)
			}
			if got := strings.Replace(m.Text, code, "******", 1); got != tt.text {
				t.Errorf("SMS text %q, want %q", got, tt.text)
			}
			if bytes.Contains(s.Edge, []byte(code)) || bytes.Contains(s.State, []byte(code)) {
				t.Error("the code is stored as it is")
			}

			v := e.verify(tt.phone, code[:3]+" "+code[3:])
			tok, _ := v.body["token"].(string)
			if v.status != http.StatusOK || v.body["phone"] != phone || v.body["expires_at"] != "2026-12-26T15:04:05Z" || tok == "" {
				t.Fatalf("verify: %d %s", v.status, v.raw)
			}
			if me := e.me("Bearer " + tok); me.status != http.StatusOK || me.raw != phone {
				t.Errorf("GET /me: %d %s", me.status, me.raw)
			}
			if again := e.verify(tt.phone, code); again.status != http.StatusNotFound || again.code() != channels.ENOTFOUND {
				t.Errorf("the code signed in twice: %d %s", again.status, again.raw)
			}
		})
	}
}

// TestVerifyCode checks the answers to guesses: wrong ones count, the
// fifth burns the code, a malformed one does not count, and a new code
// replaces the pending one.
func TestVerifyCode(t *testing.T) {
	// other returns a code that is not code.
	other := func(code string) string {
		if code == "000000" {
			return "000001"
		}
		return "000000"
	}
	type guess struct {
		code    func(code string) string
		status  int
		message string
	}
	var (
		right     = guess{func(c string) string { return c }, http.StatusOK, ""}
		bad       = guess{other, http.StatusBadRequest, "That code is not right. Enter the 6 digits from the SMS."}
		burnt     = guess{other, http.StatusNotFound, "Too many wrong codes. Ask for a new code."}
		none      = guess{func(c string) string { return c }, http.StatusNotFound, "This code is no longer valid. Ask for a new code."}
		malformed = guess{func(string) string { return "12a456" }, http.StatusBadRequest, "That code is not right. Enter the 6 digits from the SMS."}
		short     = guess{func(string) string { return "12345" }, http.StatusBadRequest, "That code is not right. Enter the 6 digits from the SMS."}
	)
	tests := []struct {
		name    string
		guesses []guess
	}{
		{"right at once", []guess{right}},
		{"right at the fifth attempt", []guess{bad, bad, bad, bad, right}},
		{"five wrong codes burn it", []guess{bad, bad, bad, bad, burnt, none}},
		{"malformed codes do not count", []guess{malformed, short, malformed, short, malformed, short, bad, bad, bad, bad, right}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if r := e.ask(phone); r.status != http.StatusAccepted {
				t.Fatal(r.raw)
			}
			code := e.outbox.lastCode(phone)
			for i, g := range tt.guesses {
				r := e.verify(phone, g.code(code))
				if r.status != g.status || r.message() != g.message {
					t.Fatalf("guess %d: %d %s, want %d %q", i+1, r.status, r.raw, g.status, g.message)
				}
			}
		})
	}

	t.Run("a new code replaces the pending one and its attempts", func(t *testing.T) {
		e := newEnv(t)
		e.ask(phone)
		first := e.outbox.lastCode(phone)
		for range 4 {
			e.verify(phone, other(first))
		}
		e.ask(phone)
		second := e.outbox.lastCode(phone)
		if first != second {
			if r := e.verify(phone, first); r.status != http.StatusBadRequest {
				t.Errorf("the replaced code: %d %s", r.status, r.raw)
			}
		}
		if r := e.verify(phone, second); r.status != http.StatusOK {
			t.Errorf("the new code after 5 wrong guesses in all: %d %s", r.status, r.raw)
		}
	})

	t.Run("no code asked", func(t *testing.T) {
		e := newEnv(t)
		if r := e.verify(stranger, "123456"); r.status != http.StatusNotFound || r.code() != channels.ENOTFOUND {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
}

// TestCodeExpires checks that a code is good for CodeTTL and no longer.
func TestCodeExpires(t *testing.T) {
	tests := []struct {
		name   string
		ttl    time.Duration
		after  time.Duration
		status int
	}{
		{"a second before", 0, 5*time.Minute - time.Second, http.StatusOK},
		{"at expiry", 0, 5 * time.Minute, http.StatusNotFound},
		{"a configured validity", 2 * time.Minute, 2*time.Minute + time.Second, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.CodeTTL = tt.ttl })
			e.ask(phone)
			e.clock.Add(tt.after)
			r := e.verify(phone, e.outbox.lastCode(phone))
			if r.status != tt.status {
				t.Errorf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.status == http.StatusNotFound && r.message() != "This code is no longer valid. Ask for a new code." {
				t.Errorf("message %q", r.message())
			}
		})
	}
}

// TestConcurrentGuesses sends many wrong guesses at once: no more than
// MaxAttempts-1 are answered as wrong before the code is burnt, so
// parallel requests earn no extra guesses, and the code is then dead.
func TestConcurrentGuesses(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PerClient = ratelimit.Limit{Every: time.Millisecond, Burst: 1000} })
	e.ask(phone)
	code := e.outbox.lastCode(phone)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = e.verify(phone, wrong).status })
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusBadRequest] != DefaultMaxAttempts-1 || count[http.StatusNotFound] != n-DefaultMaxAttempts+1 {
		t.Errorf("answers %v, want %d wrong and the rest not found", count, DefaultMaxAttempts-1)
	}
	if r := e.verify(phone, code); r.status != http.StatusNotFound {
		t.Errorf("the right code after the burn: %d %s", r.status, r.raw)
	}
}

// TestAskErrors checks the refusals of POST /v1/auth/otp, localized, and
// that none of them sends an SMS.
func TestAskErrors(t *testing.T) {
	e := newEnv(t)
	if err := e.db.PutPrefs(t.Context(), stranger, channels.Prefs{Lang: "sw", OptedOut: true}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    string
		header  []string
		status  int
		code    string
		message string
	}{
		{"opted-out phone", jsonBody("phone", stranger), nil, 403, "forbidden", "SMS to this number are turned off. Send START by SMS to turn them on, then try again."},
		{"opted-out phone, in the request's language", jsonBody("phone", "0733000000"), []string{"Accept-Language", "fr"}, 403, "forbidden", "Les SMS vers ce numéro sont désactivés. Envoyez START par SMS pour les réactiver, puis réessayez."},
		{"invalid phone", jsonBody("phone", "12345"), nil, 400, "invalid", "That phone number is not valid."},
		{"invalid phone, in Swahili", jsonBody("phone", "+2547"), []string{"Accept-Language", "sw"}, 400, "invalid", "Nambari hiyo ya simu si sahihi."},
		{"no phone", `{}`, nil, 400, "invalid", "That phone number is not valid."},
		{"unknown field", `{"phone":"+254712345678","lang":"sw"}`, nil, 400, "invalid", "The request is not valid."},
		{"not an object", `"+254712345678"`, nil, 400, "invalid", "The request is not valid."},
		{"trailing data", `{"phone":"+254712345678"}{}`, nil, 400, "invalid", "The request is not valid."},
		{"empty body", ``, nil, 400, "invalid", "The request is not valid."},
		{"oversized body", `{"phone":"` + strings.Repeat("1", 2000) + `"}`, nil, 413, "too_large", "The request is too large."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.serve(http.MethodPost, "/v1/auth/otp", tt.body, client, tt.header...)
			if r.status != tt.status || r.code() != tt.code || r.message() != tt.message {
				t.Errorf("%d %s, want %d %s %q", r.status, r.raw, tt.status, tt.code, tt.message)
			}
		})
	}
	if n := len(e.outbox.all()); n != 0 {
		t.Errorf("%d SMS queued by refused requests", n)
	}
}

// TestOutboxFails checks that a code the outbox would not take is a 500,
// logged for the operator without the code.
func TestOutboxFails(t *testing.T) {
	e := newEnv(t)
	e.outbox.err = errors.New("outbox on fire")
	r := e.ask(phone)
	if r.status != http.StatusInternalServerError || r.code() != channels.EINTERNAL || r.message() != "Sorry, something went wrong. Please try again later." {
		t.Errorf("%d %s", r.status, r.raw)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "outbox on fire") || strings.Contains(logs, phone) {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestRateLimits checks the limits per phone and per client address: 429
// with Retry-After, a refused request spends nothing, the limit of one
// phone or client is not another's, and time refills them.
func TestRateLimits(t *testing.T) {
	t.Run("per phone", func(t *testing.T) {
		e := newEnv(t)
		for i := range DefaultPerPhone.Burst {
			if r := e.ask(phone); r.status != http.StatusAccepted {
				t.Fatalf("code %d: %d %s", i+1, r.status, r.raw)
			}
		}
		r := e.ask(phone, "Accept-Language", "sw")
		if r.status != http.StatusTooManyRequests || r.code() != channels.ERATELIMITED || r.header.Get("Retry-After") != "60" ||
			r.message() != "Majaribio ni mengi mno. Subiri kidogo kisha ujaribu tena." {
			t.Errorf("over the limit: %d %v %s", r.status, r.header, r.raw)
		}
		if n := len(e.outbox.all()); n != DefaultPerPhone.Burst {
			t.Errorf("%d SMS sent, want %d", n, DefaultPerPhone.Burst)
		}
		if r := e.ask(stranger); r.status != http.StatusAccepted {
			t.Errorf("another phone: %d %s", r.status, r.raw)
		}
		e.clock.Add(59 * time.Second)
		if r := e.ask(phone); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
			t.Errorf("59 s later: %d %v", r.status, r.header)
		}
		e.clock.Add(time.Second)
		if r := e.ask(phone); r.status != http.StatusAccepted {
			t.Errorf("a minute later: %d %s", r.status, r.raw)
		}
	})
	t.Run("per client address", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.PerClient = ratelimit.Limit{Every: 10 * time.Second, Burst: 2} })
		tests := []struct {
			name   string
			ip     string
			path   string
			body   string
			status int
		}{
			{"first", client, "/v1/auth/otp", jsonBody("phone", phone), http.StatusAccepted},
			{"second, to verify", client, "/v1/auth/verify", jsonBody("phone", phone, "code", "12345"), http.StatusBadRequest},
			{"third, another phone", client, "/v1/auth/otp", jsonBody("phone", stranger), http.StatusTooManyRequests},
			{"third, to verify", client, "/v1/auth/verify", jsonBody("phone", phone, "code", "123456"), http.StatusTooManyRequests},
			{"another client", "198.51.100.7", "/v1/auth/otp", jsonBody("phone", stranger), http.StatusAccepted},
			{"an IPv6 client", "2001:db8:1:2::1", "/v1/auth/verify", jsonBody("phone", stranger, "code", "12345"), http.StatusBadRequest},
			{"the same IPv6 /64", "2001:db8:1:2:ffff::9", "/v1/auth/verify", jsonBody("phone", stranger, "code", "12345"), http.StatusBadRequest},
			{"the same IPv6 /64 again", "2001:db8:1:2:aaaa::3", "/v1/auth/verify", jsonBody("phone", stranger, "code", "12345"), http.StatusTooManyRequests},
			{"another IPv6 /64", "2001:db8:1:3::1", "/v1/auth/verify", jsonBody("phone", stranger, "code", "12345"), http.StatusBadRequest},
		}
		for _, tt := range tests {
			r := e.serve(http.MethodPost, tt.path, tt.body, tt.ip)
			if r.status != tt.status {
				t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.raw, tt.status)
			}
			if r.status == http.StatusTooManyRequests && (r.header.Get("Retry-After") != "10" || r.code() != channels.ERATELIMITED) {
				t.Errorf("%s: Retry-After %q, %s", tt.name, r.header.Get("Retry-After"), r.raw)
			}
		}
		if n := len(e.outbox.all()); n != 2 {
			t.Errorf("%d SMS sent, want 2", n)
		}
	})
}

// TestRequire checks the tokens Require refuses, each 401 with
// WWW-Authenticate and a localized message.
func TestRequire(t *testing.T) {
	e := newEnv(t)
	tok := e.signIn(t, phone)
	raw, err := tokenEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	// forge re-encodes the token's bytes after change.
	forge := func(change func(b []byte) []byte) string {
		return tokenEncoding.EncodeToString(change(bytes.Clone(raw)))
	}
	other := New(Config{Sessions: e.db, SignOuts: e.db, Prefs: e.db, Outbox: e.outbox, Bundle: e.a.cfg.Bundle, Key: bytes.Repeat([]byte{8}, MinKeySize), Now: e.clock.Now})
	const (
		signIn  = "Please sign in with your phone number."
		expired = "Your sign-in has expired. Please sign in again."
	)
	tests := []struct {
		name    string
		auth    string
		header  []string
		message string
	}{
		{"no header", "", nil, signIn},
		{"no token", "Bearer", nil, signIn},
		{"another scheme", "Basic " + tok, nil, signIn},
		{"garbage", "Bearer x.y.z", nil, signIn},
		{"payload: another phone", "Bearer " + forge(func(b []byte) []byte { b[len(b)-sha256.Size-1] = '9'; return b }), nil, signIn},
		{"payload: a later expiry", "Bearer " + forge(func(b []byte) []byte { b[5]++; return b }), nil, signIn},
		{"payload: another version", "Bearer " + forge(func(b []byte) []byte { b[0] = 1; return b }), nil, signIn},
		{"payload: an unknown version", "Bearer " + forge(func(b []byte) []byte { b[0] = 3; return b }), nil, signIn},
		{"signature flipped", "Bearer " + forge(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), nil, signIn},
		{"signature cut", "Bearer " + forge(func(b []byte) []byte { return b[:len(b)-1] }), nil, signIn},
		{"signature missing", "Bearer " + forge(func(b []byte) []byte { return b[:len(b)-sha256.Size] }), nil, signIn},
		{"signed with another key", "Bearer " + other.issue(phone, now, now.Add(time.Hour)), nil, signIn},
		{"with a line break", "Bearer " + tok[:10] + "\n" + tok[10:], nil, signIn},
		{"with padding", "Bearer " + tok + "=", nil, signIn},
		{"in French", "", []string{"Accept-Language", "fr"}, "Veuillez vous connecter avec votre numéro de téléphone."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.me(tt.auth, tt.header...)
			if r.status != http.StatusUnauthorized || r.code() != channels.EUNAUTHORIZED || r.message() != tt.message || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%d %v %s", r.status, r.header, r.raw)
			}
		})
	}

	if r := e.me("bearer  " + tok + " "); r.status != http.StatusOK || r.raw != phone {
		t.Errorf("the scheme is case-insensitive, blanks are trimmed: %d %s", r.status, r.raw)
	}
	e.clock.Add(DefaultTokenTTL - time.Second)
	if r := e.me("Bearer " + tok); r.status != http.StatusOK {
		t.Errorf("a second before expiry: %d %s", r.status, r.raw)
	}
	e.clock.Add(time.Second)
	r := e.me("Bearer "+tok, "Accept-Language", "sw")
	if r.status != http.StatusUnauthorized || r.message() != "Muda wako wa kuingia umekwisha. Tafadhali ingia tena." || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("expired: %d %v %s", r.status, r.header, r.raw)
	}
	if r := e.me("Bearer " + tok); r.message() != expired {
		t.Errorf("expired, in English: %s", r.raw)
	}
}

// TestSecretsNotLogged runs every path that logs and checks that the log
// holds neither a code nor a token nor a whole phone, but does hold the
// masked phone.
func TestSecretsNotLogged(t *testing.T) {
	e := newEnv(t)
	tok := e.signIn(t, phone)
	e.ask(stranger)
	code := e.outbox.lastCode(stranger)
	for range DefaultMaxAttempts {
		e.verify(stranger, "999999")
	}
	e.me("Bearer " + tok + "x")
	if err := e.db.PutPrefs(t.Context(), stranger, channels.Prefs{OptedOut: true}); err != nil {
		t.Fatal(err)
	}
	e.ask(stranger)

	logs := e.logs.String()
	var codes []string
	for _, m := range e.outbox.all() {
		codes = append(codes, codeRE.FindString(m.Text))
	}
	for _, secret := range append(codes, code, tok, phone, stranger, "712345678", tok[:20]) {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{channels.MaskPhone(phone), channels.MaskPhone(stranger), "signed in", "code burnt", "opted-out"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

func TestNewPanics(t *testing.T) {
	e := newEnv(t)
	full := e.a.cfg
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no sessions", func(c *Config) { c.Sessions = nil }},
		{"no sign-outs", func(c *Config) { c.SignOuts = nil }},
		{"no prefs", func(c *Config) { c.Prefs = nil }},
		{"no outbox", func(c *Config) { c.Outbox = nil }},
		{"no bundle", func(c *Config) { c.Bundle = nil }},
		{"short key", func(c *Config) { c.Key = c.Key[:MinKeySize-1] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := full
			tt.change(&cfg)
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			New(cfg)
		})
	}
}

// TestGuessLimit checks that the guesses at the codes of one phone are
// limited over every code and purpose, not only per code: asking for a
// new code after each burnt one gives no fresh guesses once the phone's
// budget is spent, so a six-digit code cannot be worn down by asking
// again. Over the limit even the right code is refused (429, Retry-After),
// which tells nothing; another phone is not held back; time refills it.
func TestGuessLimit(t *testing.T) {
	const budget = 7
	e := newEnv(t, func(c *Config) {
		c.PerPhone = ratelimit.Limit{Every: time.Second, Burst: 100}
		c.PerClient = ratelimit.Limit{Every: time.Millisecond, Burst: 1000}
		c.PerPhoneGuesses = ratelimit.Limit{Every: time.Hour, Burst: budget}
	})
	other := func(code string) string {
		if code == "000000" {
			return "000001"
		}
		return "000000"
	}
	checked, over := 0, resp{}
	for round := 0; round < 5 && over.status == 0; round++ {
		if r := e.ask(phone); r.status != http.StatusAccepted {
			t.Fatalf("code %d: %d %s", round+1, r.status, r.raw)
		}
		code := e.outbox.lastCode(phone)
		for range DefaultMaxAttempts - 1 {
			r := e.verify(phone, other(code))
			if r.status == http.StatusTooManyRequests {
				over = r
				break
			}
			if r.status != http.StatusBadRequest {
				t.Fatalf("wrong guess %d: %d %s", checked+1, r.status, r.raw)
			}
			checked++
		}
	}
	if checked != budget || over.code() != channels.ERATELIMITED || over.header.Get("Retry-After") == "" {
		t.Fatalf("%d wrong guesses checked, then %d %v %s; want %d, then 429 with Retry-After", checked, over.status, over.header, over.raw, budget)
	}
	code := e.outbox.lastCode(phone)
	tests := []struct {
		name   string
		wait   time.Duration
		phone  string
		fresh  bool // a new code is asked first (the other expired)
		status int
	}{
		{"the right code, over the limit", 0, phone, false, http.StatusTooManyRequests},
		{"a new code, over the limit", 0, phone, true, http.StatusTooManyRequests},
		{"a malformed code does not count", 0, phone, false, http.StatusBadRequest},
		{"another phone", 0, stranger, true, http.StatusOK},
		{"the right code, an hour later", time.Hour, phone, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Add(tt.wait)
			if tt.fresh {
				if r := e.ask(tt.phone); r.status != http.StatusAccepted {
					t.Fatalf("a new code: %d %s", r.status, r.raw)
				}
				code = e.outbox.lastCode(tt.phone)
			}
			guess := code
			if tt.status == http.StatusBadRequest {
				guess = "12a456"
			}
			if r := e.verify(tt.phone, guess); r.status != tt.status {
				t.Errorf("%d %s, want %d", r.status, r.raw, tt.status)
			}
		})
	}
}
