package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/govchannels/channels/peertest"
)

// scrape is one exposition of /metrics, parsed.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics GETs /metrics with the bearer token and parses it; it
// fails the test unless the answer is 200.
func (p *process) scrapeMetrics(t *testing.T, token string) scrape {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return fams
}

// value is the value of the counter, gauge or histogram count name whose
// labels include labels (pairs), summed over the children that match.
func (s scrape) value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	sum := 0.0
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestServeMetrics drives a USSD session to its END and an SMS dialogue
// through the real binary and checks that every counter moved by exactly
// what they did, that the hops are in the latency histogram, and that
// /metrics refuses a scraper without the token or with a wrong one.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	token := strings.Repeat("k", 40)
	tokenFile := filepath.Join(dir, "metrics.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := peertest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	const twilioToken = "0123456789abcdef0123456789abcdef"
	p := startServe(t, filepath.Join(dir, "channels.db"),
		"-addr", "127.0.0.1:"+strconv.Itoa(port), "-public-url", base, "-metrics-token-file", tokenFile,
		"-twilio-account-sid", "AC"+strings.Repeat("0a", 16), "-twilio-auth-token", twilioToken,
		"-twilio-from", "+15005550006", "-sms-sender", "console")

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct{ name, header string }{
			{"no token", ""},
			{"wrong token", "Bearer " + strings.Repeat("x", 40)},
			{"token as basic", "Basic " + token},
			{"token with a suffix", "Bearer " + token + "x"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", p.base+"/metrics", nil)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "channels_") {
					t.Errorf("scrape: %d %q, want 401 and no metric", resp.StatusCode, body)
				}
			})
		}
	})

	before := p.scrapeMetrics(t, token)
	const citizen = "+254712345678"
	var reply string
	hops := []string{"", "3", "3*1", "3*1*Kisumu, near the bus park", "3*1*Kisumu, near the bus park*Broken water pipe", "3*1*Kisumu, near the bus park*Broken water pipe*1"}
	for _, hop := range hops {
		reply = p.ussd(t, "metrics-1", citizen, hop)
	}
	if !strings.HasPrefix(reply, "END ") || reference.FindString(reply) == "" {
		t.Fatalf("last USSD reply %q is no END with a reference", reply)
	}
	// A gateway retry of the last hop is a hop, and shows nothing anew.
	p.ussd(t, "metrics-1", citizen, hops[len(hops)-1])

	twilio := func(sid, from, body, sig string) int {
		form := url.Values{"MessageSid": {sid}, "From": {from}, "To": {"+15005550006"}, "Body": {body}}
		params := map[string]string{}
		for k := range form {
			params[k] = form.Get(k)
		}
		if sig == "" {
			sig = peertest.TwilioSignature(t, twilioToken, base+"/sms/twilio", params)
		}
		req, _ := http.NewRequest("POST", base+"/sms/twilio", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body2, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		reply = string(body2)
		return resp.StatusCode
	}
	const texter = "+254712345679"
	sms := []string{"PROBLEM", "1", "Kisumu, near the bus park", "Broken water pipe", "1"}
	for i, m := range sms {
		if st := twilio(fmt.Sprintf("SMmetrics%d", i), texter, m, ""); st != http.StatusOK {
			t.Fatalf("SMS %q: %d", m, st)
		}
	}
	if reference.FindString(reply) == "" {
		t.Fatalf("last SMS reply %q has no reference", reply)
	}
	if st := twilio("SMforged", texter, "MENU", "forged"); st != http.StatusForbidden {
		t.Fatalf("forged SMS: %d, want 403", st)
	}

	// The app: a sign-in (its code printed by the console sender), then
	// Report a problem from its first screen to its end, and a start
	// without a token.
	if st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"`+citizen+`"}`, nil); st != http.StatusAccepted {
		t.Fatalf("ask a code: %d", st)
	}
	printed := regexp.MustCompile(`(?m)^==== SMS to \+254712345678 \(console sender, development only: not sent\) ====\n(.*)\n==== end of SMS ====$`)
	var otp []string
	for deadline := time.Now().Add(15 * time.Second); otp == nil; time.Sleep(20 * time.Millisecond) {
		if otp = printed.FindStringSubmatch(p.stderr.String()); otp == nil && time.Now().After(deadline) {
			t.Fatalf("no code printed:\n%s", p.stderr)
		}
	}
	var tok struct{ Token string }
	if st := p.api(t, "POST", "/v1/auth/verify", "", `{"phone":"`+citizen+`","code":"`+code.FindString(otp[1])+`"}`, &tok); st != http.StatusOK {
		t.Fatalf("verify: %d", st)
	}
	var session struct {
		Session string
		Screen  struct{ Kind, Reference string }
	}
	if st := p.api(t, "POST", "/v1/sessions", tok.Token, `{"service":"report_problem"}`, &session); st != http.StatusCreated {
		t.Fatalf("start a session: %d", st)
	}
	for _, in := range []string{"1", "Kisumu, near the bus park", "Broken water pipe", "1"} {
		body, _ := json.Marshal(map[string]string{"text": in})
		if st := p.api(t, "POST", "/v1/sessions/"+session.Session+"/input", tok.Token, string(body), &session); st != http.StatusOK {
			t.Fatalf("input %q: %d", in, st)
		}
	}
	if session.Screen.Kind != "end" || session.Screen.Reference == "" {
		t.Fatalf("the app session ended on %+v, want an end with a reference", session.Screen)
	}
	if st := p.api(t, "POST", "/v1/sessions", "", `{"service":"report_problem"}`, nil); st != http.StatusUnauthorized {
		t.Fatalf("a session without a token: %d, want 401", st)
	}

	after := p.scrapeMetrics(t, token)

	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{"USSD hops, the retry among them", "channels_hops_total", []string{"channel", "ussd", "dialect", "at", "outcome", "ok"}, 7},
		{"no USSD hop failed", "channels_hops_total", []string{"channel", "ussd", "outcome", "error"}, 0},
		{"SMS hops", "channels_hops_total", []string{"channel", "sms", "dialect", "twilio", "outcome", "ok"}, 5},
		{"the forged SMS", "channels_hops_total", []string{"channel", "sms", "dialect", "twilio", "outcome", "refused"}, 1},
		{"USSD hops timed", "channels_hop_duration_seconds", []string{"channel", "ussd"}, 7},
		{"SMS hops timed", "channels_hop_duration_seconds", []string{"channel", "sms"}, 6},
		{"USSD screens shown", "channels_screens_shown_total", []string{"channel", "ussd"}, 6},
		{"USSD root menu", "channels_screens_shown_total", []string{"channel", "ussd", "service", "menu", "step", "home"}, 1},
		{"USSD end reached", "channels_screens_shown_total", []string{"channel", "ussd", "service", "report_problem", "step", "submit"}, 1},
		{"USSD answers", "channels_screens_answered_total", []string{"channel", "ussd"}, 5},
		{"USSD confirm answered", "channels_screens_answered_total", []string{"channel", "ussd", "service", "report_problem", "step", "confirm"}, 1},
		{"SMS screens shown", "channels_screens_shown_total", []string{"channel", "sms"}, 5},
		{"SMS answers (the keyword is none)", "channels_screens_answered_total", []string{"channel", "sms"}, 4},
		{"SMS end reached", "channels_screens_shown_total", []string{"channel", "sms", "service", "report_problem", "step", "submit"}, 1},
		{"USSD case", "channels_cases_created_total", []string{"service", "report_problem", "channel", "ussd"}, 1},
		{"SMS case", "channels_cases_created_total", []string{"service", "report_problem", "channel", "sms"}, 1},
		{"app hops: a start and four inputs", "channels_hops_total", []string{"channel", "app", "dialect", "json", "outcome", "ok"}, 5},
		{"the app start without a token", "channels_hops_total", []string{"channel", "app", "dialect", "json", "outcome", "refused"}, 1},
		{"app screens shown", "channels_screens_shown_total", []string{"channel", "app"}, 5},
		{"app answers", "channels_screens_answered_total", []string{"channel", "app"}, 4},
		{"app end reached", "channels_screens_shown_total", []string{"channel", "app", "service", "report_problem", "step", "submit"}, 1},
		{"app case", "channels_cases_created_total", []string{"service", "report_problem", "channel", "app"}, 1},
		{"no store error", "channels_store_errors_total", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := after.value(tt.metric, tt.labels...) - before.value(tt.metric, tt.labels...); got != tt.want {
				t.Errorf("%s%v moved by %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	t.Run("the code sent", func(t *testing.T) {
		// The sender is counted once its Send returns, just after it
		// printed; notices of the new cases may follow.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			s := p.scrapeMetrics(t, token)
			if s.value("channels_outbox_sends_total", "sender", "console", "outcome", "sent") >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("channels_outbox_sends_total{sender=console,outcome=sent} never moved")
			}
		}
	})
	t.Run("outbox backlog per kind", func(t *testing.T) {
		for _, kind := range []string{"sms", "push", "webhook", "call", "event"} {
			if _, ok := findMetric(after["channels_outbox_oldest_due_age_seconds"], "kind", kind); !ok {
				t.Errorf("no oldest due age for kind %s", kind)
			}
		}
		if after.value("channels_outbox_backlog_up") != 1 {
			t.Error("the backlog query did not answer")
		}
	})
	t.Run("go and process collectors", func(t *testing.T) {
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if after[name] == nil {
				t.Errorf("no %s", name)
			}
		}
	})
	t.Run("no phone in any label", func(t *testing.T) {
		for name, f := range after {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if strings.Contains(l.GetValue(), "2547") || strings.Contains(l.GetValue(), "metrics-1") {
						t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	})
}

func findMetric(f *dto.MetricFamily, name, value string) (*dto.Metric, bool) {
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name && l.GetValue() == value {
				return m, true
			}
		}
	}
	return nil, false
}

// health GETs /healthz and returns its status and body.
func (p *process) health(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get(p.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestServeHealth: /healthz says 200 while PostgreSQL answers, 503 while
// its database takes no connection, and 200 again once it does; the body
// says ok or unavailable and nothing more. /metrics without a token or
// allowed addresses serves loopback callers, as the banner says, and
// counts the dials a limit refused.
func TestServeHealth(t *testing.T) {
	pg := peertest.StartPostgres(t)
	dbURL := pg.Database(t)
	p := startServe(t, filepath.Join(t.TempDir(), "a.db"), "-database-url", dbURL, "-ussd-dials-per-phone", "1/1h")
	p.waitStdout(t, "metrics: GET /metrics, LOOPBACK CALLERS ONLY")
	p.ussd(t, "limited-1", "+254712345678", "")
	p.ussd(t, "limited-2", "+254712345678", "")
	got := p.scrapeMetrics(t, "")
	if n := got.value("channels_limited_total", "channel", "ussd", "dialect", "at", "limit", "dials_per_phone"); n != 1 {
		t.Errorf("dials refused by the per-phone limit: %v, want 1", n)
	}
	if n := got.value("channels_limited_total", "channel", "ussd", "limit", "hops_per_phone"); n != 0 {
		t.Errorf("hops refused by the per-phone limit: %v, want 0", n)
	}

	u, _ := url.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := pgx.Connect(t.Context(), pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	want := func(t *testing.T, status int, body string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, got := p.health(t)
			var b map[string]string
			if st == status && json.Unmarshal([]byte(got), &b) == nil && len(b) == 1 && b["status"] == body {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("healthz: %d %s, want %d {\"status\":%q}", st, got, status, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Run("store answers", func(t *testing.T) { want(t, http.StatusOK, "ok") })
	t.Run("store refuses connections", func(t *testing.T) {
		exec(`ALTER DATABASE "` + name + `" WITH ALLOW_CONNECTIONS false`)
		exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `'`)
		want(t, http.StatusServiceUnavailable, "unavailable")
		if reply := p.ussd(t, "down-1", "+254712345679", ""); !strings.HasPrefix(reply, "END ") {
			t.Errorf("a hop while the store is down: %q, want a polite END", reply)
		}
	})
	t.Run("store back", func(t *testing.T) {
		exec(`ALTER DATABASE "` + name + `" WITH ALLOW_CONNECTIONS true`)
		want(t, http.StatusOK, "ok")
	})
	t.Run("failures counted", func(t *testing.T) {
		s := p.scrapeMetrics(t, "")
		if n := s.value("channels_hops_total", "channel", "ussd", "outcome", "error") - got.value("channels_hops_total", "channel", "ussd", "outcome", "error"); n != 1 {
			t.Errorf("USSD hops failed: %v, want 1", n)
		}
		for _, op := range []string{"lock", "health"} {
			if s.value("channels_store_errors_total", "op", op) < 1 {
				t.Errorf("no store error counted for %s", op)
			}
		}
	})
}
