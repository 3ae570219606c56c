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
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/store/bolt"
)

// today is the engine's fixed clock: date bounds are checked against it.
var today = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

// phone is the citizen of most tests; other phones are strangers.
const phone = "+254712345678"

// setup is what a test may change of the server it gets.
type setup struct {
	maxBody int64
	host    func(flows.Host) flows.Host // wraps the store's host, to make it fail
}

// testServer is the API on a real HTTP server over a real bbolt file, with
// the shipped catalog and locales, and the OpenAPI document it serves.
type testServer struct {
	base   string
	db     *bolt.DB
	clock  *channelstest.Clock
	logs   *channelstest.LogBuffer
	routes gin.RoutesInfo
	doc    *openapi3.T
	router routers.Router
}

func newServer(t *testing.T, opts ...func(*setup)) *testServer {
	t.Helper()
	su := setup{maxBody: 4096}
	for _, o := range opts {
		o(&su)
	}
	gin.SetMode(gin.TestMode)
	engine, bundle := channelstest.Shipped(t, func() time.Time { return today })
	db := channelstest.OpenStore(t)
	s := &testServer{db: db, clock: channelstest.NewClock(today), logs: &channelstest.LogBuffer{}}
	var host flows.Host = &flows.StoreHost{Cases: db, Prefs: db, Now: func() time.Time { return today }}
	if su.host != nil {
		host = su.host(host)
	}
	r := gin.New()
	New(Config{
		Engine:  engine,
		Host:    host,
		Store:   db,
		Bundle:  bundle,
		Log:     slog.New(slog.NewTextHandler(s.logs, nil)),
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
	body         any      // sent as JSON; a string is sent as it is
	header       []string // name, value pairs
	// bad marks a request that breaks the OpenAPI document on purpose: only
	// the response is checked against it.
	bad bool
}

// reply is a response, its JSON decoded.
type reply struct {
	status int
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
	rep, err := s.try(r)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// try is do for goroutines, which must not stop the test: it returns what
// went wrong.
func (s *testServer) try(r req) (reply, error) {
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
		for i := 0; i+1 < len(r.header); i += 2 {
			hr.Header.Set(r.header[i], r.header[i+1])
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
	if err := json.Unmarshal(out, &m); err != nil {
		return reply{}, fmt.Errorf("%s %s: the body is not a JSON object: %s", r.method, r.path, out)
	}
	return reply{status: resp.StatusCode, body: m, raw: out}, nil
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

// get sends a GET.
func (s *testServer) get(t testing.TB, path string, header ...string) reply {
	t.Helper()
	return s.do(t, req{method: http.MethodGet, path: path, header: header})
}

// post sends a POST of body as JSON.
func (s *testServer) post(t testing.TB, path string, body any, header ...string) reply {
	t.Helper()
	return s.do(t, req{method: http.MethodPost, path: path, body: body, header: header})
}

// start starts a session of service for phone and returns its ID and reply.
func (s *testServer) start(t testing.TB, service, phone string, header ...string) (string, reply) {
	t.Helper()
	r := s.post(t, "/v1/sessions", map[string]string{"service": service, "phone": phone}, header...)
	if r.status != http.StatusCreated {
		t.Fatalf("start %s: %d %s", service, r.status, r.raw)
	}
	id, _ := r.body["session"].(string)
	return id, r
}

// input posts body to the session id. A session that goes on must then
// show, on GET, exactly the screen the input returned (its refusal too).
func (s *testServer) input(t testing.TB, id string, body map[string]string) reply {
	t.Helper()
	r := s.post(t, "/v1/sessions/"+id+"/input", body)
	if r.status != http.StatusOK || r.screen()["ended"] == true {
		return r
	}
	got := s.get(t, "/v1/sessions/"+id)
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
		for _, p := range []string{"id", "ref"} {
			path = strings.ReplaceAll(path, ":"+p, "{"+p+"}")
		}
		served[r.Method+" "+path] = true
	}
	if !reflect.DeepEqual(documented, served) {
		t.Errorf("documented endpoints %v\nserved endpoints %v", documented, served)
	}
}
