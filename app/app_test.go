package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/push"
	"github.com/govchannels/channels/store/bolt"
)

// today is the engine's fixed clock: date bounds are checked against it.
var today = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

// phone is the citizen of most tests; stranger is another one.
const (
	phone    = "+254712345678"
	stranger = "+254733000000"
)

// setup is what a test may change of the server it gets.
type setup struct {
	maxBody int64
	host    func(flows.Host) flows.Host // wraps the store's host, to make it fail
	auth    func(*auth.Config)          // changes the sign-in's configuration
}

// testServer is the API on a real HTTP server over a real bbolt file, with
// the shipped catalog and locales, and the OpenAPI document it serves.
type testServer struct {
	base   string
	db     *bolt.DB
	clock  *channelstest.Clock
	logs   *channelstest.LogBuffer
	outbox *recordingOutbox
	routes gin.RoutesInfo
	doc    *openapi3.T
	router routers.Router

	mu     sync.Mutex
	tokens map[string]string // phone → token of its sign-in
	owners map[string]string // session ID → the phone that started it
}

// recordingOutbox is the SMS outbox of the tests: it keeps what it is
// given, or fails with err.
type recordingOutbox struct {
	mu   sync.Mutex
	sent []channels.Outbound
	err  error
}

func (o *recordingOutbox) Send(_ context.Context, ms ...*channels.Outbound) error {
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

// messages returns the messages sent to phone, oldest first.
func (o *recordingOutbox) messages(phone string) []channels.Outbound {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []channels.Outbound
	for _, m := range o.sent {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

// codeRE finds the code in the text of a code's SMS.
var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// lastCode returns the code of the last SMS sent to phone; "" if none.
func (o *recordingOutbox) lastCode(phone string) string {
	ms := o.messages(phone)
	if len(ms) == 0 {
		return ""
	}
	return codeRE.FindString(ms[len(ms)-1].Text)
}

// testKey signs the tokens of the test servers.
var testKey = bytes.Repeat([]byte("k"), auth.MinKeySize)

func newServer(t *testing.T, opts ...func(*setup)) *testServer {
	t.Helper()
	su := setup{maxBody: 4096}
	for _, o := range opts {
		o(&su)
	}
	gin.SetMode(gin.TestMode)
	engine, bundle := channelstest.Shipped(t, func() time.Time { return today })
	db := channelstest.OpenStore(t)
	s := &testServer{
		db: db, clock: channelstest.NewClock(today), logs: &channelstest.LogBuffer{}, outbox: &recordingOutbox{},
		tokens: map[string]string{}, owners: map[string]string{},
	}
	var host flows.Host = &host.Store{Cases: db, Prefs: db, Now: func() time.Time { return today }}
	if su.host != nil {
		host = su.host(host)
	}
	// Everything is logged, so that a test can check what never is.
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ac := auth.Config{
		Sessions: db, SignOuts: db, Prefs: db, Outbox: s.outbox, Bundle: bundle, Key: testKey,
		Region: "KE", Now: s.clock.Now, Log: log,
	}
	if su.auth != nil {
		su.auth(&ac)
	}
	r := gin.New()
	New(Config{
		Engine:  engine,
		Host:    host,
		Store:   db,
		Bundle:  bundle,
		Auth:    auth.New(ac),
		Devices: push.NewDevices(push.DevicesConfig{Store: db, Bundle: bundle, Log: log, Now: s.clock.Now}),
		Log:     log,
		Region:  "KE",
		MaxBody: su.maxBody,
		Now:     s.clock.Now,
	}).Register(r)
	s.routes = r.Routes()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	s.base = srv.URL

	resp, err := http.Get(srv.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %d %v", resp.StatusCode, err)
	}
	if s.doc, err = openapi3.NewLoader().LoadFromData(raw); err != nil {
		t.Fatalf("load the served OpenAPI document: %v", err)
	}
	if err := s.doc.Validate(context.Background()); err != nil {
		t.Fatalf("the served OpenAPI document is invalid: %v", err)
	}
	s.doc.Servers = openapi3.Servers{{URL: srv.URL}}
	if s.router, err = gorillamux.NewRouter(s.doc); err != nil {
		t.Fatal(err)
	}
	return s
}

// req is one request of a test.
type req struct {
	method, path string
	as           string   // the phone signed in, if any: its token is sent
	body         any      // sent as JSON; a string is sent as it is
	header       []string // name, value pairs, sent after the token
	// bad marks a request that breaks the OpenAPI document on purpose: only
	// the response is checked against it.
	bad bool
}

// reply is a response, its JSON decoded.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// screen returns the screen of a session or submission reply.
func (r reply) screen() map[string]any {
	sc, _ := r.body["screen"].(map[string]any)
	return sc
}

// errorCode returns the error code of an error reply.
func (r reply) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// errorMessage returns the localized message of an error reply.
func (r reply) errorMessage() string {
	e, _ := r.body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// do sends r and checks the exchange against the served OpenAPI document:
// the request (unless r.bad), and always the response's status, headers
// and body, so that an undocumented status or field fails the test.
func (s *testServer) do(t testing.TB, r req) reply {
	t.Helper()
	if r.as != "" {
		s.signIn(t, r.as)
	}
	rep, err := s.try(r)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// try is do for goroutines, which must not stop the test: it returns what
// went wrong. The phone r is sent as must have signed in before.
func (s *testServer) try(r req) (reply, error) {
	var bearer []string
	if r.as != "" {
		s.mu.Lock()
		tok := s.tokens[r.as]
		s.mu.Unlock()
		if tok == "" {
			return reply{}, fmt.Errorf("%s %s as %s, who has not signed in", r.method, r.path, r.as)
		}
		bearer = []string{"Authorization", "Bearer " + tok}
	}
	var raw []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return reply{}, err
		}
	}
	newRequest := func() (*http.Request, error) {
		hr, err := http.NewRequest(r.method, s.base+r.path, bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if r.body != nil {
			hr.Header.Set("Content-Type", "application/json")
		}
		header := append(bearer, r.header...)
		for i := 0; i+1 < len(header); i += 2 {
			hr.Header.Set(header[i], header[i+1])
		}
		return hr, nil
	}
	hr, err := newRequest()
	if err != nil {
		return reply{}, err
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	if hr, err = newRequest(); err != nil {
		return reply{}, err
	}
	if err := s.checkOpenAPI(hr, r.bad, resp, out); err != nil {
		return reply{}, err
	}
	var m map[string]any
	if resp.StatusCode == http.StatusNoContent && len(out) == 0 {
		return reply{status: resp.StatusCode, header: resp.Header}, nil
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return reply{}, fmt.Errorf("%s %s: the body is not a JSON object: %s", r.method, r.path, out)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: m, raw: out}, nil
}

// checkOpenAPI reports how the exchange of hr and resp (its body read into
// body) differs from what the OpenAPI document describes.
func (s *testServer) checkOpenAPI(hr *http.Request, badRequest bool, resp *http.Response, body []byte) error {
	route, params, err := s.router.FindRoute(hr)
	if err != nil {
		return fmt.Errorf("%s %s is not in the OpenAPI document: %w", hr.Method, hr.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: hr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if !badRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("%s %s: the request does not match the OpenAPI document: %w", hr.Method, hr.URL, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		return fmt.Errorf("%s %s: the response %d does not match the OpenAPI document: %w\n%s", hr.Method, hr.URL, resp.StatusCode, err, body)
	}
	return nil
}

// signIn signs phone in through the real sign-in, reading the code from
// the SMS the outbox was given, once per server; it returns the token.
func (s *testServer) signIn(t testing.TB, phone string) string {
	t.Helper()
	s.mu.Lock()
	tok := s.tokens[phone]
	s.mu.Unlock()
	if tok != "" {
		return tok
	}
	if r := s.post(t, "", "/v1/auth/otp", map[string]string{"phone": phone}); r.status != http.StatusAccepted {
		t.Fatalf("ask a code for %s: %d %s", phone, r.status, r.raw)
	}
	code := s.outbox.lastCode(phone)
	r := s.post(t, "", "/v1/auth/verify", map[string]string{"phone": phone, "code": code})
	tok, _ = r.body["token"].(string)
	if r.status != http.StatusOK || tok == "" || r.body["phone"] != phone {
		t.Fatalf("sign in %s with code %q: %d %s", phone, code, r.status, r.raw)
	}
	s.mu.Lock()
	s.tokens[phone] = tok
	s.mu.Unlock()
	return tok
}

// get sends a GET, signed in as phone as unless it is "".
func (s *testServer) get(t testing.TB, as, path string, header ...string) reply {
	t.Helper()
	return s.do(t, req{method: http.MethodGet, path: path, as: as, header: header})
}

// post sends a POST of body as JSON, signed in as phone as unless it is "".
func (s *testServer) post(t testing.TB, as, path string, body any, header ...string) reply {
	t.Helper()
	return s.do(t, req{method: http.MethodPost, path: path, as: as, body: body, header: header})
}

// start starts a session of service for phone, signed in, and returns its
// ID and reply.
func (s *testServer) start(t testing.TB, service, phone string, header ...string) (string, reply) {
	t.Helper()
	r := s.post(t, phone, "/v1/sessions", map[string]string{"service": service}, header...)
	if r.status != http.StatusCreated {
		t.Fatalf("start %s: %d %s", service, r.status, r.raw)
	}
	id, _ := r.body["session"].(string)
	s.mu.Lock()
	s.owners[id] = phone
	s.mu.Unlock()
	return id, r
}

// owner returns the phone that started the session id in start.
func (s *testServer) owner(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[id]
}

// input posts body to the session id as the phone that started it. A
// session that goes on must then show, on GET, exactly the screen the
// input returned (its refusal too).
func (s *testServer) input(t testing.TB, id string, body map[string]string) reply {
	t.Helper()
	r := s.post(t, s.owner(id), "/v1/sessions/"+id+"/input", body)
	if r.status != http.StatusOK || r.screen()["ended"] == true {
		return r
	}
	got := s.get(t, s.owner(id), "/v1/sessions/"+id)
	if got.status != http.StatusOK || !reflect.DeepEqual(got.screen(), r.screen()) {
		t.Fatalf("GET session after input %v:\n got  %d %s\n want %s", body, got.status, got.raw, r.raw)
	}
	return r
}

// answer posts the answer text to the session id.
func (s *testServer) answer(t testing.TB, id, text string) reply {
	t.Helper()
	return s.input(t, id, map[string]string{"text": text})
}

// walk starts service for phone and answers each input in turn, failing on
// any refused one; it returns the last reply.
func (s *testServer) walk(t testing.TB, service, phone string, inputs ...string) reply {
	t.Helper()
	id, r := s.start(t, service, phone)
	for _, in := range inputs {
		r = s.answer(t, id, in)
		if r.status != http.StatusOK || r.screen()["error"] != nil {
			t.Fatalf("%s: answer %q: %d %s", service, in, r.status, r.raw)
		}
	}
	return r
}

// caseOf reads a case from the store, as an agency would.
func (s *testServer) caseOf(t testing.TB, ref string) *channels.Case {
	t.Helper()
	c, err := s.db.Case(context.Background(), ref)
	if err != nil {
		t.Fatalf("case %s: %v", ref, err)
	}
	return c
}

// TestOpenAPICoversRoutes checks that the document and the router describe
// the same endpoints, so that no route escapes the response checks.
func TestOpenAPICoversRoutes(t *testing.T) {
	s := newServer(t)
	documented := map[string]bool{}
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range s.routes {
		path := r.Path
		for _, p := range []string{"id", "ref", "token"} {
			path = strings.ReplaceAll(path, ":"+p, "{"+p+"}")
		}
		served[r.Method+" "+path] = true
	}
	if !reflect.DeepEqual(documented, served) {
		t.Errorf("documented endpoints %v\nserved endpoints %v", documented, served)
	}
}
