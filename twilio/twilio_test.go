package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/peertest"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
	testMG    = "MG0123456789abcdef0123456789abcdef"
)

func outbound(key, to, text string) *channels.Outbound {
	return &channels.Outbound{Key: key, To: to, Text: text, Purpose: channels.PurposeNotice}
}

// TestSendPrism sends through Prism serving Twilio's published spec: what
// Prism accepts, Twilio's API accepts in shape.
func TestSendPrism(t *testing.T) {
	base := peertest.Prism(t)
	newSender := func(t *testing.T, cfg Config) *Sender {
		t.Helper()
		cfg.AccountSID, cfg.AuthToken, cfg.BaseURL = testSID, testToken, base
		cfg.StatusCallback = "https://sms.gov.example/sms/twilio/status"
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name      string
		cfg       Config
		m         *channels.Outbound
		noAuth    bool   // send without credentials
		wantID    string // the spec's example SID
		wantPerm  string // permanent reason; "" for success
		wantInErr string
	}{
		{name: "from number", cfg: Config{From: "+15005550006"}, m: outbound("k1", "+256700000001", "Your case 42 is ready"),
			wantID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{name: "messaging service, unicode", cfg: Config{MessagingServiceSID: testMG}, m: outbound("k2", "+201000000000", "مرحبا"),
			wantID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{name: "missing To", cfg: Config{From: "+15005550006"}, m: outbound("k3", "", "hello"),
			wantPerm: "rejected_422"},
		{name: "no credentials", cfg: Config{From: "+15005550006"}, m: outbound("k4", "+256700000001", "hello"), noAuth: true,
			wantPerm: "rejected_401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(t, tt.cfg)
			if tt.noAuth {
				// Prism checks that credentials are there, not that they
				// are right; a request without them is Twilio's 401.
				s.cfg.AuthToken = ""
			}
			id, err := s.Send(context.Background(), tt.m)
			if tt.wantPerm == "" {
				if err != nil || id != tt.wantID {
					t.Fatalf("Send = %q, %v; want %q", id, err, tt.wantID)
				}
				return
			}
			reason, ok := outbox.IsPermanent(err)
			if !ok || reason != tt.wantPerm {
				t.Fatalf("Send error = %v (permanent %v, reason %q), want permanent %q", err, ok, reason, tt.wantPerm)
			}
		})
	}
}

// fakeTwilio answers like api.twilio.com's Messages endpoint: it checks
// what Twilio checks (Basic auth, a To, a Body, From or a messaging
// service) and answers each To number with the answer registered for it.
type fakeTwilio struct {
	mu      sync.Mutex
	answers map[string]func(w http.ResponseWriter) // by To
	forms   []url.Values
}

// twilioError writes Twilio's JSON error body.
func twilioError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"code": code, "message": message, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
	})
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+testSID+"/Messages.json" {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != testSID || pass != testToken {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, err.Error())
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	answer := f.answers[r.PostForm.Get("To")]
	f.mu.Unlock()
	switch {
	case r.PostForm.Get("To") == "":
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	case r.PostForm.Get("Body") == "":
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
	case r.PostForm.Get("From") == "" && r.PostForm.Get("MessagingServiceSid") == "":
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
	case r.PostForm.Get("StatusCallback") == "":
		twilioError(w, http.StatusBadRequest, 20001, "this fake expects a StatusCallback on every message")
	case answer != nil:
		answer(w)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{
			"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued",
			"to": r.PostForm.Get("To"), "body": r.PostForm.Get("Body"),
		})
	}
}

// TestSendClassification checks which of Twilio's answers are retried and
// which are refusals for good.
func TestSendClassification(t *testing.T) {
	errorAnswer := func(status, code int, msg string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) { twilioError(w, status, code, msg) }
	}
	html := func(status int) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			w.Write([]byte("<html><body>proxy error</body></html>"))
		}
	}
	fake := &fakeTwilio{answers: map[string]func(http.ResponseWriter){
		"+15005550001": errorAnswer(400, 21211, "The 'To' number +15005550001 is not a valid phone number."),
		"+15005550009": errorAnswer(400, 21614, "'To' number is not a valid mobile number"),
		"+15005550004": errorAnswer(400, 21610, "Attempt to send to unsubscribed recipient"),
		"+15005550003": errorAnswer(400, 21408, "Permission to send an SMS has not been enabled for the region"),
		"+15005550429": errorAnswer(429, 20429, "Too Many Requests"),
		"+15005550500": errorAnswer(500, 20500, "Internal Server Error"),
		"+15005550502": html(502),
		"+15005550403": html(403),
		"+15005550777": func(w http.ResponseWriter) { time.Sleep(500 * time.Millisecond) },
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	newSender := func(token string) *Sender {
		s, err := New(Config{
			AccountSID: testSID, AuthToken: token, From: "+15005550006", BaseURL: srv.URL,
			StatusCallback: "https://sms.gov.example/sms/twilio/status?region=KE",
			Timeout:        200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name     string
		token    string
		ctx      context.Context
		to       string
		wantID   string
		wantPerm string // "" with wantErr: retryable
		wantErr  bool
		wantIs   error
	}{
		{name: "accepted", to: "+256700000001", wantID: "SM0123456789abcdef0123456789abcdef"},
		{name: "invalid number 21211", to: "+15005550001", wantErr: true, wantPerm: "invalid_number"},
		{name: "not a mobile 21614", to: "+15005550009", wantErr: true, wantPerm: "invalid_number"},
		{name: "unsubscribed 21610", to: "+15005550004", wantErr: true, wantPerm: "opted_out"},
		{name: "other 400", to: "+15005550003", wantErr: true, wantPerm: "rejected_400"},
		{name: "wrong auth token", token: "ffffffffffffffffffffffffffffffff", to: "+256700000001", wantErr: true, wantPerm: "rejected_401"},
		{name: "html 403 from a proxy", to: "+15005550403", wantErr: true, wantPerm: "rejected_403"},
		{name: "rate limited 429", to: "+15005550429", wantErr: true},
		{name: "twilio 500", to: "+15005550500", wantErr: true},
		{name: "html 502 from a proxy", to: "+15005550502", wantErr: true},
		{name: "timeout", to: "+15005550777", wantErr: true},
		{name: "context canceled", ctx: canceled, to: "+256700000001", wantErr: true, wantIs: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := testToken
			if tt.token != "" {
				token = tt.token
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			id, err := newSender(token).Send(ctx, outbound("case/42 notice#1", tt.to, "Your case 42 is ready"))
			if !tt.wantErr {
				if err != nil || id != tt.wantID {
					t.Fatalf("Send = %q, %v; want %q", id, err, tt.wantID)
				}
				return
			}
			if err == nil {
				t.Fatalf("Send = %q, nil; want an error", id)
			}
			reason, perm := outbox.IsPermanent(err)
			if tt.wantPerm == "" && perm {
				t.Errorf("Send error %v is permanent (%s), want retryable", err, reason)
			}
			if tt.wantPerm != "" && reason != tt.wantPerm {
				t.Errorf("Send error %v: permanent %v reason %q, want %q", err, perm, reason, tt.wantPerm)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Send error %v is not %v", err, tt.wantIs)
			}
		})
	}

	t.Run("status callback carries the key", func(t *testing.T) {
		fake.mu.Lock()
		form := fake.forms[0]
		fake.mu.Unlock()
		cb, err := url.Parse(form.Get("StatusCallback"))
		if err != nil {
			t.Fatal(err)
		}
		if cb.Host != "sms.gov.example" || cb.Query().Get("key") != "case/42 notice#1" || cb.Query().Get("region") != "KE" {
			t.Errorf("StatusCallback = %s, want the configured URL with key=case/42 notice#1", cb)
		}
		if form.Get("From") != "+15005550006" || form.Get("Body") != "Your case 42 is ready" {
			t.Errorf("form = %v", form)
		}
	})

	t.Run("network error", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		s, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: "+15005550006", BaseURL: dead.URL})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(context.Background(), outbound("k", "+256700000001", "hi"))
		if _, perm := outbox.IsPermanent(err); err == nil || perm {
			t.Errorf("Send to a closed port = %v, want a retryable error", err)
		}
	})
}

// TestNew checks the configuration errors New reports at startup.
func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"from number", Config{AccountSID: testSID, AuthToken: testToken, From: "+15005550006"}, true},
		{"messaging service", Config{AccountSID: testSID, AuthToken: testToken, MessagingServiceSID: testMG}, true},
		{"bad account sid", Config{AccountSID: "AC123", AuthToken: testToken, From: "+1"}, false},
		{"token with symbols", Config{AccountSID: testSID, AuthToken: "abc-def", From: "+1"}, false},
		{"no token", Config{AccountSID: testSID, From: "+1"}, false},
		{"neither from nor service", Config{AccountSID: testSID, AuthToken: testToken}, false},
		{"both from and service", Config{AccountSID: testSID, AuthToken: testToken, From: "+1", MessagingServiceSID: testMG}, false},
		{"relative base URL", Config{AccountSID: testSID, AuthToken: testToken, From: "+1", BaseURL: "localhost:8080"}, false},
		{"relative callback", Config{AccountSID: testSID, AuthToken: testToken, From: "+1", StatusCallback: "/status"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("New error = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
