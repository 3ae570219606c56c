package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
)

const secret = "s3cretForTheGateway1"

// records keeps the log records a test's middleware writes.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func attr(rec slog.Record, key string) string {
	v := ""
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

func TestMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	allow := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:5::/48")}
	type request struct {
		path    string // under /hook
		remote  string
		headers map[string]string
		basic   string // password of HTTP Basic, when set
	}
	tests := []struct {
		name   string
		cfg    Config
		req    request
		ok     bool
		source string // the Source the handler sees, when ok
	}{
		{"secret in the path", Config{Secret: secret}, request{path: "/" + secret, remote: "203.0.113.9"}, true, "203.0.113.9"},
		{"secret in the query", Config{Secret: secret}, request{path: "?from=%2B254712345678&secret=" + secret, remote: "203.0.113.9"}, true, "203.0.113.9"},
		{"secret by Basic", Config{Secret: secret}, request{remote: "203.0.113.9", basic: secret}, true, "203.0.113.9"},
		{"wrong secret in the query", Config{Secret: secret}, request{path: "?secret=" + secret[:len(secret)-1] + "2", remote: "203.0.113.9"}, false, ""},
		{"wrong secret in the path", Config{Secret: secret}, request{path: "/guess", remote: "203.0.113.9"}, false, ""},
		{"wrong secret by Basic", Config{Secret: secret}, request{remote: "203.0.113.9", basic: "guess"}, false, ""},
		{"no secret", Config{Secret: secret}, request{remote: "203.0.113.9"}, false, ""},
		{"secret required from loopback too", Config{Secret: secret}, request{remote: "127.0.0.1"}, false, ""},
		{"allow-listed CIDR", Config{Allow: allow}, request{remote: "198.51.100.7"}, true, "198.51.100.7"},
		{"allow-listed IPv6", Config{Allow: allow}, request{remote: "[2001:db8:5:1::9]"}, true, "2001:db8:5:1::9"},
		{"not listed", Config{Allow: allow}, request{remote: "203.0.113.9"}, false, ""},
		{"listed through a trusted proxy", Config{Allow: allow}, request{remote: "10.0.0.1", headers: map[string]string{"X-Forwarded-For": "198.51.100.7"}}, true, "198.51.100.7"},
		{"listed origin claimed through an untrusted proxy", Config{Allow: allow}, request{remote: "203.0.113.9", headers: map[string]string{"X-Forwarded-For": "198.51.100.7"}}, false, ""},
		{"both set: both given", Config{Secret: secret, Allow: allow}, request{path: "/" + secret, remote: "198.51.100.7"}, true, "198.51.100.7"},
		{"both set: secret only", Config{Secret: secret, Allow: allow}, request{path: "/" + secret, remote: "203.0.113.9"}, false, ""},
		{"both set: address only", Config{Secret: secret, Allow: allow}, request{remote: "198.51.100.7"}, false, ""},
		{"no credential: loopback", Config{}, request{remote: "127.0.0.1"}, true, "127.0.0.1"},
		{"no credential: IPv6 loopback", Config{}, request{remote: "[::1]"}, true, "::1"},
		{"no credential: remote", Config{}, request{remote: "203.0.113.9"}, false, ""},
		{"no credential: loopback with X-Forwarded-For of a remote origin", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"X-Forwarded-For": "203.0.113.9"}}, false, ""},
		{"no credential: loopback with X-Forwarded-For of a loopback origin", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"X-Forwarded-For": "127.0.0.1"}}, true, "127.0.0.1"},
		{"no credential: loopback with a remote origin behind a loopback one", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}}, false, ""},
		{"no credential: loopback with X-Real-IP of a remote origin", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"X-Real-IP": "203.0.113.9"}}, false, ""},
		{"no credential: loopback with Forwarded of a remote origin", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"Forwarded": "for=203.0.113.9;proto=https"}}, false, ""},
		{"no credential: loopback with Forwarded of a loopback origin", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"Forwarded": `for="[::1]:4711"`}}, true, "127.0.0.1"},
		{"no credential: loopback with Forwarded naming nobody", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"Forwarded": "proto=https"}}, false, ""},
		{"no credential: loopback with an obfuscated Forwarded", Config{}, request{remote: "127.0.0.1", headers: map[string]string{"Forwarded": "for=_hidden"}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &records{}
			refused := 0
			cfg := tt.cfg
			cfg.Name = "test"
			cfg.Log = slog.New(logs)
			cfg.Phone = func(r *http.Request) string { return r.URL.Query().Get("from") }
			cfg.Refuse = func(c *gin.Context) {
				refused++
				c.String(http.StatusForbidden, "END refused")
			}
			r := gin.New()
			if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
				t.Fatal(err)
			}
			served, source := 0, ""
			h := func(c *gin.Context) {
				served++
				source = Source(c.Request.Context())
				c.String(http.StatusOK, "CON ok")
			}
			r.GET("/hook", New(cfg), h)
			r.GET("/hook/:secret", New(cfg), h)

			req := httptest.NewRequest(http.MethodGet, "/hook"+tt.req.path, nil)
			req.RemoteAddr = tt.req.remote + ":40000"
			for k, v := range tt.req.headers {
				req.Header.Set(k, v)
			}
			if tt.req.basic != "" {
				req.SetBasicAuth("kannel", tt.req.basic)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)

			if tt.ok {
				if w.Code != http.StatusOK || served != 1 || source != tt.source || refused != 0 {
					t.Errorf("got %d %q, served %d with source %q, refused %d; want 200, served once with source %q", w.Code, w.Body, served, source, refused, tt.source)
				}
				return
			}
			if w.Code != http.StatusForbidden || w.Body.String() != "END refused" || served != 0 || refused != 1 {
				t.Errorf("got %d %q, served %d, refused %d; want 403 with the dialect's text, not served", w.Code, w.Body, served, refused)
			}
			if len(logs.recs) != 1 || logs.recs[0].Level != slog.LevelWarn {
				t.Fatalf("refusal logged as %v, want one warning", logs.recs)
			}
			rec := logs.recs[0]
			if got := attr(rec, "client"); got == "" {
				t.Error("refusal logged without the client address")
			}
			if got, want := attr(rec, "phone"), map[bool]string{true: "+254***678", false: "***"}[req.URL.Query().Get("from") != ""]; got != want {
				t.Errorf("refusal logged the phone as %q, want %q", got, want)
			}
		})
	}
}

// TestMiddlewareBareRefusal: without a dialect's Refuse, a refusal is a
// bare 403.
func TestMiddlewareBareRefusal(t *testing.T) {
	r := gin.New()
	r.GET("/hook", New(Config{Secret: secret}), func(c *gin.Context) { t.Error("served") })
	req := httptest.NewRequest(http.MethodGet, "/hook", nil)
	req.RemoteAddr = "203.0.113.9:40000"
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden {
		t.Errorf("got %d, want 403", w.Code)
	}
}

func TestParseAllow(t *testing.T) {
	tests := []struct {
		name, in string
		want     []netip.Prefix
		err      bool
	}{
		{"empty", "", nil, false},
		{"addresses and CIDRs", "198.51.100.7, 10.1.2.3/8,2001:db8::/32", []netip.Prefix{
			netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"),
		}, false},
		{"a host name", "10.0.0.0/8,kannel.local", nil, true},
		{"a bad mask", "10.0.0.0/33", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAllow(tt.in)
			if (err != nil) != tt.err || len(got) != len(tt.want) {
				t.Fatalf("ParseAllow(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("ParseAllow(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}
