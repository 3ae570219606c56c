package kiosk

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/kannel"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/password"
	"github.com/govchannels/channels/peertest"
	"github.com/govchannels/channels/store/bolt"
)

// now is the tests' starting time.
var now = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

// The operators and citizens of the tests.
const (
	amina    = "amina"  // an operator at Kisumu
	baraka   = "baraka" // an operator at Eldoret
	aminaPW  = "correct horse battery"
	barakaPW = "staple of the eldoret kiosk"
	phoneA   = "+254712345678" // citizen A
	phoneB   = "+254733000111" // citizen B
	// A national ID number of 8 digits with its Luhn check digit.
	nationalID = "12345674"
)

// env is a Console on a real HTTP server over a bbolt store, with the
// shipped engine and messages, a real Auth and a real outbox. With
// withKannel the outbox runs and sends through a real Kannel, whose
// operator simulator receives the SMS (Kannel.MT); without, the outbox
// keeps what it is given queued in the store, for tests that read it.
type env struct {
	db      *bolt.DB
	clock   *channelstest.Clock
	logs    *channelstest.LogBuffer
	bundle  *locales.Bundle
	engine  *flows.Engine
	auth    *auth.Auth
	console *Console
	srv     *httptest.Server
	kannel  *peertest.Kannel // nil without withKannel
}

// options shape an env.
type options struct {
	kannel bool
	smpp   bool // Kannel talks SMPP to an operator simulator (else fakesmsc)
	tls    bool
	config func(*Config)
}

func withKannel(o *options) { o.kannel = true }
func withTLS(o *options)    { o.tls = true }
func withConfig(f func(*Config)) func(*options) {
	return func(o *options) { o.config = f }
}

// testKey is the Auth key of the tests.
var testKey = bytes.Repeat([]byte{9}, auth.MinKeySize)

func newEnv(t *testing.T, opts ...func(*options)) *env {
	t.Helper()
	gin.SetMode(gin.TestMode)
	var o options
	for _, f := range opts {
		f(&o)
	}
	e := &env{db: channelstest.OpenStore(t), clock: channelstest.NewClock(now), logs: &channelstest.LogBuffer{}}
	e.engine, e.bundle = channelstest.Shipped(t, e.clock.Now)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	sendsms, user, pw := "http://127.0.0.1:9/cgi-bin/sendsms", "channels", "never-used" // a gateway never called: nothing runs the outbox
	if o.kannel {
		e.kannel = peertest.StartKannel(t, peertest.KannelOptions{SMPP: o.smpp})
		sendsms, user, pw = e.kannel.SendSMSURL, e.kannel.Username, e.kannel.Password
	}
	sender, err := kannel.New(kannel.Config{SendSMSURL: sendsms, Username: user, Password: pw, From: "22141"})
	if err != nil {
		t.Fatal(err)
	}
	box := outbox.New(outbox.Config{Store: e.db, Prefs: e.db, Sender: sender, Rate: 50, Burst: 10, Log: log, Now: e.clock.Now})
	if o.kannel {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- box.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("outbox: %v", err)
			}
		})
	}
	e.auth = auth.New(auth.Config{Sessions: e.db, SignOuts: e.db, Prefs: e.db, Outbox: box, Bundle: e.bundle, Key: testKey, Region: "KE", Now: e.clock.Now, Log: log})
	cfg := Config{
		Engine: e.engine,
		Host:   &host.Store{Cases: e.db, Prefs: e.db, Log: e.db, Now: e.clock.Now},
		Store:  e.db, Auth: e.auth, Outbox: box, Bundle: e.bundle, Region: "KE",
		Log: log, Now: e.clock.Now,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	e.console = New(cfg)
	router := gin.New()
	e.console.Register(router)
	if o.tls {
		e.srv = httptest.NewTLSServer(router)
	} else {
		e.srv = httptest.NewServer(router)
	}
	t.Cleanup(e.srv.Close)
	e.addOperator(t, channels.Operator{ID: amina, Name: "Amina Otieno", Kiosk: "kisumu-post-office", Region: "Kisumu", Lang: "en"}, aminaPW)
	e.addOperator(t, channels.Operator{ID: baraka, Name: "Baraka Kip", Kiosk: "eldoret-huduma", Region: "Uasin Gishu", Lang: "en"}, barakaPW)
	return e
}

// addOperator stores o with the password pw, set now.
func (e *env) addOperator(t *testing.T, o channels.Operator, pw string) {
	t.Helper()
	hash, err := password.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	o.PasswordHash, o.PasswordSetAt, o.CreatedAt = hash, e.clock.Now(), e.clock.Now()
	if err := e.db.CreateOperator(t.Context(), o); err != nil {
		t.Fatal(err)
	}
}

// update changes the operator id in the store, as an administrator does.
func (e *env) update(t *testing.T, id string, change func(*channels.Operator)) {
	t.Helper()
	if _, err := e.db.UpdateOperator(t.Context(), id, func(o *channels.Operator) error { change(o); return nil }); err != nil {
		t.Fatal(err)
	}
}

// audit returns the audit entries of action, oldest first; every entry
// when action is empty.
func (e *env) audit(t *testing.T, action string) []channels.AuditEntry {
	t.Helper()
	es, err := e.db.AuditEntries(t.Context(), channels.AuditQuery{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// queued returns the SMS the outbox holds for the phone to, oldest first.
func (e *env) queued(t *testing.T, to string) []*channels.Outbound {
	t.Helper()
	ms, err := e.db.DueOutbound(t.Context(), channels.KindSMS, now.Add(1000*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*channels.Outbound
	for _, m := range ms {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// sms waits for the next SMS Kannel's operator received and checks it
// goes to the phone to.
func (e *env) sms(t *testing.T, to string) string {
	t.Helper()
	if e.kannel == nil {
		t.Fatal("the env runs no Kannel: use withKannel")
	}
	mt, ok := e.kannel.MT(t, 20*time.Second)
	if !ok {
		t.Fatalf("no SMS reached the operator for %s", to)
	}
	if strings.TrimPrefix(mt.To, "+") != strings.TrimPrefix(to, "+") {
		t.Fatalf("an SMS to %s, want %s: %q", mt.To, to, mt.Text)
	}
	return mt.Text
}

// client is an operator's browser: cookies, no JavaScript, no automatic
// redirects (tests follow them with follow), the form token of the last
// page it saw.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	csrf string
	ip   string // X-Forwarded-For, when set: the client address gin sees
	lang string // Accept-Language
}

func (e *env) client(t *testing.T) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{
		Transport:     e.srv.Client().Transport, // trusts the TLS server's certificate
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	return &client{t: t, e: e, http: hc}
}

// page is an answer of the console.
type page struct {
	status int
	header http.Header
	body   string
}

// text is the page's body without its tags and with its entities
// decoded, blanks collapsed: what an operator reads.
func (p page) text() string {
	s := regexp.MustCompile(`(?s)<style>.*?</style>|<[^>]*>`).ReplaceAllString(p.body, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// has reports whether the page shows s.
func (p page) has(s string) bool { return strings.Contains(p.text(), s) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (c *client) do(method, path string, form url.Values) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.ip != "" {
		req.Header.Set("X-Forwarded-For", c.ip)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	p := page{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		c.csrf = m[1]
	}
	return p
}

// get fetches path.
func (c *client) get(path string) page { c.t.Helper(); return c.do(http.MethodGet, path, nil) }

// post posts the form, pairs of names and values, with the form token of
// the last page seen.
func (c *client) post(path string, kv ...string) page {
	c.t.Helper()
	form := url.Values{"csrf": {c.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return c.do(http.MethodPost, path, form)
}

// postWithout posts the form without any form token.
func (c *client) postWithout(path string, kv ...string) page {
	c.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return c.do(http.MethodPost, path, form)
}

// follow fetches the redirect target of p, which must be a redirect.
func (c *client) follow(p page) page {
	c.t.Helper()
	if p.status != http.StatusSeeOther {
		c.t.Fatalf("want a redirect, got %d: %s", p.status, p.text())
	}
	return c.get(p.header.Get("Location"))
}

// signIn signs in as id with pw and returns the home page.
func (c *client) signIn(id, pw string) page {
	c.t.Helper()
	c.get("/kiosk/sign-in")
	p := c.post("/kiosk/sign-in", "id", id, "password", pw)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/kiosk/" {
		c.t.Fatalf("sign in %s: %d %s", id, p.status, p.text())
	}
	return c.follow(p)
}

// slotRE finds a citizen's slot in a path.
var slotRE = regexp.MustCompile(`/kiosk/citizens/([0-9a-f]{16})`)

// slot returns the slot in the redirect of p.
func slot(t *testing.T, p page) string {
	t.Helper()
	m := slotRE.FindStringSubmatch(p.header.Get("Location"))
	if m == nil {
		t.Fatalf("no citizen in the redirect of %d %q: %s", p.status, p.header.Get("Location"), p.text())
	}
	return m[1]
}

// askConsent enters the citizen's phone; it returns the citizen's slot
// and the consent code read from the SMS that reached Kannel's operator.
func (c *client) askConsent(phone string) (citizenSlot, code string) {
	c.t.Helper()
	c.get("/kiosk/")
	p := c.post("/kiosk/citizens", "mode", "phone", "phone", phone)
	s := slot(c.t, p)
	if !strings.HasSuffix(p.header.Get("Location"), "/consent") {
		c.t.Fatalf("after the phone: %s", p.header.Get("Location"))
	}
	c.follow(p)
	text := c.e.sms(c.t, phone)
	code = codeRE.FindString(text)
	if code == "" {
		c.t.Fatalf("no code in %q", text)
	}
	return s, code
}

// consent asks the citizen's consent and gives it with the code of their
// SMS; it returns the citizen's slot.
func (c *client) consent(phone string) string {
	c.t.Helper()
	s, code := c.askConsent(phone)
	p := c.post("/kiosk/citizens/"+s+"/consent", "code", code)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/kiosk/citizens/"+s {
		c.t.Fatalf("consent with the right code: %d %s", p.status, p.text())
	}
	c.follow(p)
	return s
}

// byDocument records the consent of a citizen without a phone by their
// document number, served in lang; it returns the citizen's slot.
func (c *client) byDocument(id, lang string) string {
	c.t.Helper()
	c.get("/kiosk/")
	p := c.post("/kiosk/citizens", "mode", "document", "national_id", id, "checked", "1", "lang", lang)
	s := slot(c.t, p)
	c.follow(p)
	return s
}

// at is the screen token of the last walk page seen.
var atRE = regexp.MustCompile(`name="at" value="([0-9a-f]+|end)"`)

// answer answers the walk's screen shown on p with text.
func (c *client) answer(slot string, p page, text string) page {
	c.t.Helper()
	m := atRE.FindStringSubmatch(p.body)
	if m == nil {
		c.t.Fatalf("no screen to answer: %d %s", p.status, p.text())
	}
	return c.post("/kiosk/citizens/"+slot+"/walk", "at", m[1], "text", text)
}

// start starts service for the citizen of slot.
func (c *client) start(slot, service string) page {
	c.t.Helper()
	c.get("/kiosk/citizens/" + slot)
	return c.post("/kiosk/citizens/"+slot+"/services", "service", service)
}

// referenceRE finds the reference on an end screen.
var referenceRE = regexp.MustCompile(`id="reference"[^>]*>([0-9]{10})<`)

// reportProblem walks report_problem for the citizen of slot and returns
// the end page.
func (c *client) reportProblem(slot string) page {
	c.t.Helper()
	p := c.start(slot, "report_problem")
	for _, a := range []string{"1", "Kondele market, by the water tower", "The public tap has been dry for a week.", "1"} {
		if p.status != http.StatusOK {
			c.t.Fatalf("before answering %q: %d %s", a, p.status, p.text())
		}
		p = c.answer(slot, p, a)
	}
	if referenceRE.FindStringSubmatch(p.body) == nil {
		c.t.Fatalf("no reference on the end page: %d %s", p.status, p.text())
	}
	return p
}

// reference returns the reference shown on p.
func reference(t *testing.T, p page) string {
	t.Helper()
	m := referenceRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no reference on the page: %s", p.text())
	}
	return m[1]
}

// mustURL parses s.
func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
