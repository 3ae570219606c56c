package apijson

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/locales"
)

func TestDecode(t *testing.T) {
	type req struct {
		Phone string `json:"phone"`
	}
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"object", `{"phone":"+254712345678"}`, true},
		{"leading space", " \n{\"phone\":\"x\"}", true},
		{"empty", ``, false},
		{"array", `[{"phone":"x"}]`, false},
		{"unknown field", `{"phone":"x","pin":"1234"}`, false},
		{"trailing data", `{"phone":"x"}{}`, false},
		{"wrong type", `{"phone":5}`, false},
		{"truncated", `{"phone":`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v req
			err := Decode([]byte(tt.body), &v)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if err != nil && (channels.ErrorCode(err) != channels.EINVALID || channels.ErrorMessage(err) != "error.bad_request") {
				t.Errorf("refusal %v is not a localized bad request", err)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	b, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
		retry  string // Retry-After
	}{
		{"invalid", channels.Errorf(channels.EINVALID, "error.phone", "detail"), 400, "invalid", "That phone number is not valid.", ""},
		{"unauthorized", channels.Errorf(channels.EUNAUTHORIZED, "error.not_found", "x"), 401, "unauthorized", "Not found.", ""},
		{"rate limited", channels.Errorf(channels.ERATELIMITED, "error.internal", "x"), 429, "rate_limited", "Sorry, something went wrong. Please try again later.", ""},
		{"unavailable", channels.Errorf(channels.EUNAVAILABLE, "sms.unavailable", "no gateway"), 503, "unavailable", "SMS cannot be sent", ""},
		{"store outage", channels.Errorf(channels.EUNAVAILABLE, "error.unavailable", "store down"), 503, "unavailable", "Sorry, the service is unavailable just now.", "30"},
		{"internal hides its detail", errors.New("bolt: disk full at /var/lib/x"), 500, "internal", "Sorry, something went wrong.", ""},
		{"unknown code is internal", channels.Errorf("teapot", "error.phone", "x"), 500, "internal", "Sorry, something went wrong.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &channelstest.LogBuffer{}
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodGet, "/v1/x", nil)
			WriteError(c, b, "en", slog.New(slog.NewTextHandler(logs, nil)), tt.err)
			var body ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || body.Error.Code != tt.code || !strings.HasPrefix(body.Error.Message, tt.msg) {
				t.Errorf("%d %+v, want %d %s %q", w.Code, body, tt.status, tt.code, tt.msg)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retry {
				t.Errorf("Retry-After %q, want %q", got, tt.retry)
			}
			if strings.Contains(w.Body.String(), "disk full") {
				t.Error("internal detail reached the client")
			}
			if tt.code == "internal" && !strings.Contains(logs.String(), "request failed") {
				t.Error("internal error not logged")
			}
		})
	}
}

func TestDocument(t *testing.T) {
	doc := Document("good.yaml", []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"))
	got, err := doc()
	if err != nil || string(got) != `{"info":{"title":"t","version":"1"},"openapi":"3.0.3"}` {
		t.Errorf("Document = %s, %v", got, err)
	}
	if again, _ := doc(); &again[0] != &got[0] {
		t.Error("the document was converted twice")
	}
	if _, err := Document("bad.yaml", []byte("a: [\n"))(); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("broken YAML: %v, want an error naming the file", err)
	}
}

// TestDecodeBody checks the bounded decoder every JSON endpoint reads its
// body with: a body over the bound is too large however it is sent, and
// an absent or malformed one is a bad request.
func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		nil  bool // a request without a body
		code string
	}{
		{"an object", `{"phone":"+254712345678"}`, false, ""},
		{"at the bound", `{"phone":"` + strings.Repeat("1", 32-12) + `"}`, false, ""},
		{"over the bound", `{"phone":"` + strings.Repeat("1", 32-11) + `"}`, false, channels.ETOOLARGE},
		{"far over the bound", `{"phone":"` + strings.Repeat("1", 1<<20) + `"}`, false, channels.ETOOLARGE},
		{"no body", "", true, channels.EINVALID},
		{"empty", "", false, channels.EINVALID},
		{"unknown field", `{"phon":"1"}`, false, channels.EINVALID},
		{"trailing data", `{"phone":"1"} {}`, false, channels.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.nil {
				c.Request.Body = nil
			}
			var v struct{ Phone string }
			err := DecodeBody(c, 32, &v)
			if got := channels.ErrorCode(err); err != nil && got != tt.code || err == nil && tt.code != "" {
				t.Fatalf("DecodeBody = %v (code %q), want code %q", err, got, tt.code)
			}
			if tt.code == "" && !strings.Contains(tt.body, v.Phone) {
				t.Errorf("decoded %+v from %s", v, tt.body)
			}
		})
	}
}

// TestServeDocument checks the handler of an openapi.json: the converted
// document as JSON, or the conversion's error.
func TestServeDocument(t *testing.T) {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", "/openapi.json", nil)
	if err := ServeDocument(Document("good.yaml", []byte("openapi: 3.0.3\n")))(c); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != `{"openapi":"3.0.3"}` {
		t.Errorf("%d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	c, _ = gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/openapi.json", nil)
	if err := ServeDocument(Document("bad.yaml", []byte("a: [\n")))(c); err == nil {
		t.Error("a broken document was served")
	}
}
