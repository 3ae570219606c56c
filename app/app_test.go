package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/store/bolt"
)

var today = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

// client drives the API on a real HTTP server over a real bbolt file and
// checks every request and response against the served OpenAPI document.
type client struct {
	t      *testing.T
	base   string
	db     *bolt.DB
	router routers.Router
}

func newClient(t *testing.T) *client {
	t.Helper()
	gin.SetMode(gin.TestMode)
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return today }
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: "KE", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "channels.db"), bolt.Options{BatchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := gin.New()
	New(Config{Engine: engine, Host: &flows.StoreHost{Cases: db, Prefs: db, Now: clock}, Store: db, Bundle: bundle, Region: "KE", Now: clock, MaxBody: 4096}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	c := &client{t: t, base: srv.URL, db: db}
	resp, err := http.Get(srv.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served OpenAPI document is invalid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	if c.router, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return c
}

// do sends a request and returns the status and decoded JSON body, failing
// the test when the response does not match the OpenAPI document.
func (c *client) do(method, path string, body any, header ...string) (int, map[string]any) {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)

	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s is not in the OpenAPI document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(out)),
	})
	if err != nil {
		c.t.Fatalf("%s %s: response %d does not match the OpenAPI document: %v\n%s", method, path, resp.StatusCode, err, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		c.t.Fatalf("%s %s: body is not JSON: %s", method, path, out)
	}
	return resp.StatusCode, m
}

func screen(m map[string]any) map[string]any { s, _ := m["screen"].(map[string]any); return s }

// walk starts service for phone and answers each input, returning the last
// reply; every step must succeed without an error on the screen.
func (c *client) walk(service, phone string, inputs ...string) map[string]any {
	c.t.Helper()
	code, m := c.do("POST", "/v1/sessions", map[string]string{"service": service, "phone": phone})
	if code != http.StatusCreated {
		c.t.Fatalf("start %s: %d %v", service, code, m)
	}
	id := m["session"].(string)
	for _, in := range inputs {
		code, m = c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"text": in})
		if code != http.StatusOK || screen(m)["error"] != nil {
			c.t.Fatalf("input %q: %d %v", in, code, m)
		}
	}
	return m
}

const phone = "+254712345678"

func TestCompleteServicesStepByStep(t *testing.T) {
	c := newClient(t)
	tests := []struct {
		name    string
		service string
		inputs  []string
		kinds   string
	}{
		{"birth certificate, mother, collect", "birth_certificate", []string{"Amina Otieno", "12/03/2024", "1", "Kisumu", "1", "Grace Otieno", "0712345678", "1", "1"}, ""},
		{"birth certificate, guardian, post", "birth_certificate", []string{"Baraka Mwangi", "2025-01-01", "2", "Nakuru", "3", "12345674", "Mary Njeri", "+254722000111", "2", "P.O. Box 42, Nakuru", "1"}, ""},
		{"report a problem", "report_problem", []string{"water", "Kisumu bus park", "Broken pipe at stall 4", "1"}, ""},
	}
	var refs []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := screen(c.walk(tt.service, phone, tt.inputs...))
			ref, _ := sc["reference"].(string)
			if sc["kind"] != "end" || sc["ended"] != true || ref == "" || !strings.Contains(sc["text"].(string), ref) {
				t.Fatalf("last screen = %v", sc)
			}
			refs = append(refs, ref)
		})
	}
	t.Run("check status by reference", func(t *testing.T) {
		sc := screen(c.walk("check_status", phone, "1", refs[2]))
		lines, _ := sc["lines"].([]any)
		if sc["text"] != "Your application:" || len(lines) != 1 || !strings.Contains(lines[0].(string), refs[2]+" Report a problem: Submitted") {
			t.Errorf("screen = %v", sc)
		}
	})
	t.Run("my applications", func(t *testing.T) {
		sc := screen(c.walk("check_status", phone, "2"))
		lines, _ := sc["lines"].([]any)
		all := fmt.Sprint(lines)
		if len(lines) != 3 || !strings.Contains(all, refs[0]) || !strings.Contains(all, refs[1]) || !strings.Contains(all, refs[2]) {
			t.Errorf("screen = %v, want the 3 cases", sc)
		}
	})
	t.Run("my applications of another phone", func(t *testing.T) {
		sc := screen(c.walk("check_status", "+254733000000", "2"))
		if sc["text"] != "No applications for this phone number." {
			t.Errorf("screen = %v", sc)
		}
	})
	t.Run("case by reference", func(t *testing.T) {
		code, m := c.do("GET", "/v1/cases/"+refs[0]+"?phone=0712345678", nil)
		if code != http.StatusOK || m["service"] != "birth_certificate" || m["status"] != "submitted" || m["title"] != "Birth certificate" {
			t.Errorf("%d %v", code, m)
		}
	})
}

func TestScreensDescribeInputs(t *testing.T) {
	c := newClient(t)
	_, m := c.do("POST", "/v1/sessions", map[string]string{"service": "birth_certificate", "phone": phone})
	in := screen(m)["input"].(map[string]any)
	if in["field"] != "child_name" || in["type"] != "text" || in["max_length"] != float64(60) || in["pattern"] == nil {
		t.Errorf("input = %v", in)
	}
	id := m["session"].(string)
	_, m = c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"text": "Amina"})
	in = screen(m)["input"].(map[string]any)
	if in["type"] != "date" || in["max"] != "2026-11-26" || in["min"] != "1906-11-26" {
		t.Errorf("date input = %v", in)
	}
	_, m = c.do("GET", "/v1/sessions/"+id, nil)
	if screen(m)["step"] != "child_dob" {
		t.Errorf("GET session = %v", m)
	}
	_, m = c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"action": "back"})
	if screen(m)["step"] != "child_name" {
		t.Errorf("back = %v", m)
	}
	_, m = c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"action": "home"})
	if sc := screen(m); sc["kind"] != "menu" || len(sc["options"].([]any)) != 4 || sc["can_go_back"] != false {
		t.Errorf("home = %v", sc)
	}
}

// TestSameValidationBothWays sends the same bad values step by step and as
// a whole form and expects the same message for each.
func TestSameValidationBothWays(t *testing.T) {
	c := newClient(t)
	good := map[string]string{"child_name": "Amina Otieno", "child_dob": "12/03/2024", "sex": "female", "place": "Kisumu",
		"relation": "guardian", "guardian_id": "12345674", "mother_name": "Grace Otieno", "phone": "0712345678", "delivery": "office"}
	order := []string{"child_name", "child_dob", "sex", "place", "relation", "guardian_id", "mother_name", "phone", "delivery"}
	tests := []struct {
		name, field, value, want string
	}{
		{"name too short", "child_name", "A", "At least 2 characters."},
		{"name with digits", "child_name", "Amina 2", "That format is not valid."},
		{"birth in the future", "child_dob", "01/01/2027", "The date cannot be after 26/11/2026."},
		{"not a date", "child_dob", "yesterday", "Enter a date as DD/MM/YYYY."},
		{"bad ID check digit", "guardian_id", "12345678", "That ID number is not valid."},
		{"invalid phone", "phone", "12345", "That phone number is not valid."},
		{"invalid option", "delivery", "7", "Choose one of the numbers shown."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := map[string]string{}
			for k, v := range good {
				form[k] = v
			}
			form[tt.field] = tt.value
			code, m := c.do("POST", "/v1/services/birth_certificate/submissions", map[string]any{"phone": phone, "answers": form})
			fields, _ := m["fields"].(map[string]any)
			if code != http.StatusUnprocessableEntity || fields[tt.field] != tt.want || len(fields) != 1 {
				t.Errorf("whole form: %d %v", code, m)
			}

			_, m = c.do("POST", "/v1/sessions", map[string]string{"service": "birth_certificate", "phone": phone})
			id := m["session"].(string)
			for _, f := range order {
				v := good[f]
				if f == tt.field {
					v = tt.value
				}
				_, m = c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"text": v})
				if f == tt.field {
					break
				}
			}
			if got := screen(m)["error"]; got != tt.want {
				t.Errorf("step by step: error %v, want %q", got, tt.want)
			}
		})
	}
	t.Run("missing answer", func(t *testing.T) {
		form := map[string]string{}
		for k, v := range good {
			form[k] = v
		}
		delete(form, "place")
		code, m := c.do("POST", "/v1/services/birth_certificate/submissions", map[string]any{"phone": phone, "answers": form})
		if fields, _ := m["fields"].(map[string]any); code != http.StatusUnprocessableEntity || fields["place"] != "Please enter a value." {
			t.Errorf("%d %v", code, m)
		}
	})
}

func TestWholeFormIdempotent(t *testing.T) {
	c := newClient(t)
	form := map[string]any{"phone": phone, "answers": map[string]string{"category": "roads", "location": "Eldoret", "description": "Pothole on the main road"}}
	code, first := c.do("POST", "/v1/services/report_problem/submissions", form, "Idempotency-Key", "k-1")
	if code != http.StatusCreated {
		t.Fatalf("%d %v", code, first)
	}
	code, again := c.do("POST", "/v1/services/report_problem/submissions", form, "Idempotency-Key", "k-1")
	if code != http.StatusCreated || again["reference"] != first["reference"] {
		t.Errorf("retry gave %v, first %v", again["reference"], first["reference"])
	}
	_, other := c.do("POST", "/v1/services/report_problem/submissions", form, "Idempotency-Key", "k-2")
	if other["reference"] == first["reference"] {
		t.Error("a new key returned the old case")
	}
	cases, err := c.db.CasesByPhone(context.Background(), phone, 10)
	if err != nil || len(cases) != 2 {
		t.Errorf("cases = %d (%v), want 2", len(cases), err)
	}
}

func TestErrors(t *testing.T) {
	c := newClient(t)
	_, m := c.do("POST", "/v1/services/report_problem/submissions", map[string]any{"phone": phone, "answers": map[string]string{"category": "water", "location": "Eldoret", "description": "No water since Monday"}})
	ref := m["reference"].(string)
	big := `{"phone":"` + phone + `","service":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, message      string
	}{
		{"malformed JSON", "POST", "/v1/sessions", `{"phone":`, 400, "invalid", "The request is not valid."},
		{"unknown field", "POST", "/v1/sessions", `{"phone":"` + phone + `","servise":"x"}`, 400, "invalid", "The request is not valid."},
		{"oversized body", "POST", "/v1/sessions", big, 413, "too_large", "The request is too large."},
		{"invalid phone", "POST", "/v1/sessions", map[string]string{"phone": "123"}, 400, "invalid", "That phone number is not valid."},
		{"unknown service", "POST", "/v1/sessions", map[string]string{"phone": phone, "service": "passport"}, 404, "not_found", "Not found."},
		{"unknown session", "GET", "/v1/sessions/0123456789abcdef0123456789abcdef", nil, 404, "not_found", "Your session has ended. Please start again."},
		{"malformed session", "POST", "/v1/sessions/xyz/input", map[string]string{"text": "1"}, 404, "not_found", "Your session has ended. Please start again."},
		{"bad action", "POST", "/v1/sessions/0123456789abcdef0123456789abcdef/input", map[string]string{"action": "jump"}, 400, "invalid", "The request is not valid."},
		{"form for unknown service", "POST", "/v1/services/passport/submissions", map[string]any{"phone": phone, "answers": map[string]string{}}, 404, "not_found", "Not found."},
		{"case of another phone", "GET", "/v1/cases/" + ref + "?phone=%2B254733000000", nil, 404, "not_found", "Not found."},
		{"unknown case", "GET", "/v1/cases/4821773057?phone=" + phone[1:], nil, 404, "not_found", "Not found."},
		{"malformed reference", "GET", "/v1/cases/12?phone=" + phone[1:], nil, 404, "not_found", "Not found."},
		{"case without phone", "GET", "/v1/cases/" + ref, nil, 400, "invalid", "That phone number is not valid."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := c.do(tt.method, tt.path, tt.body)
			e, _ := m["error"].(map[string]any)
			if code != tt.status || e["code"] != tt.code || e["message"] != tt.message {
				t.Errorf("%d %v, want %d %s %q", code, m, tt.status, tt.code, tt.message)
			}
		})
	}
	t.Run("ended session is gone", func(t *testing.T) {
		_, m := c.do("POST", "/v1/sessions", map[string]string{"service": "check_status", "phone": phone})
		id := m["session"].(string)
		c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"text": "2"})
		if code, _ := c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"text": "2"}); code != 404 {
			t.Errorf("input after end: %d, want 404", code)
		}
	})
}

func TestLanguages(t *testing.T) {
	c := newClient(t)
	tests := []struct {
		name   string
		body   map[string]string
		header []string
		want   string
	}{
		{"default", map[string]string{"service": "report_problem", "phone": phone}, nil, "What is the problem with?"},
		{"Accept-Language", map[string]string{"service": "report_problem", "phone": phone}, []string{"Accept-Language", "fr-CM,fr;q=0.9"}, "Le problème concerne:"},
		{"explicit lang wins", map[string]string{"service": "report_problem", "phone": phone, "lang": "sw"}, []string{"Accept-Language", "fr"}, "Tatizo linahusu nini?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, m := c.do("POST", "/v1/sessions", tt.body, tt.header...)
			if got := screen(m)["text"]; got != tt.want {
				t.Errorf("text = %v, want %q", got, tt.want)
			}
		})
	}
	t.Run("services list", func(t *testing.T) {
		_, m := c.do("GET", "/v1/services?lang=sw", nil)
		list := m["services"].([]any)
		if m["lang"] != "sw" || len(list) != 3 || list[0].(map[string]any)["title"] != "Cheti cha kuzaliwa" {
			t.Errorf("%v", m)
		}
	})
	t.Run("language chosen on the menu is remembered", func(t *testing.T) {
		_, m := c.do("POST", "/v1/sessions", map[string]string{"phone": "+254744000000"})
		id := m["session"].(string)
		c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"text": "4"})
		c.do("POST", "/v1/sessions/"+id+"/input", map[string]string{"text": "2"})
		_, m = c.do("POST", "/v1/sessions", map[string]string{"service": "report_problem", "phone": "+254744000000"})
		if got := screen(m)["text"]; got != "Le problème concerne:" {
			t.Errorf("text = %v", got)
		}
	})
}

// FuzzDecodeRequests checks the strict JSON decoding of the request bodies
// never panics and refuses trailing data.
func FuzzDecodeRequests(f *testing.F) {
	f.Add([]byte(`{"text":"1"}`))
	f.Add([]byte(`{"action":"back"}`))
	f.Add([]byte(`{"phone":"+254712345678","answers":{"category":"water"}}`))
	f.Add([]byte(`{"text":"1"} {"text":"2"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in inputRequest
		if err := decodeJSON(body, &in); err == nil {
			if _, err := json.Marshal(in); err != nil {
				t.Fatal(err)
			}
		}
		var sub submissionRequest
		_ = decodeJSON(body, &sub)
	})
}
