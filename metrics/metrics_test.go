package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/metrics"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/services"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func newMetrics(t testing.TB) *metrics.Metrics {
	t.Helper()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	return metrics.New(cat)
}

// count is the value of the one sample of name whose labels are labels,
// read from the registry's exposition.
func count(t *testing.T, m *metrics.Metrics, name string, labels string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			var got []string
			for _, l := range s.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(got, ",") != labels {
				continue
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue()
			case s.Gauge != nil:
				return s.Gauge.GetValue()
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount())
			}
		}
	}
	return -1 // absent
}

func TestAccess(t *testing.T) {
	token := strings.Repeat("t", 32)
	lan := netip.MustParsePrefix("10.0.0.0/8")
	tests := []struct {
		name   string
		access metrics.Access
		remote string
		header string
		want   int
	}{
		{"loopback only: loopback", metrics.Access{}, "127.0.0.1:5000", "", 200},
		{"loopback only: another address", metrics.Access{}, "10.1.2.3:5000", "", 403},
		{"token: right", metrics.Access{Token: token}, "10.1.2.3:5000", "Bearer " + token, 200},
		{"token: scheme in lower case", metrics.Access{Token: token}, "10.1.2.3:5000", "bearer " + token, 200},
		{"token: none", metrics.Access{Token: token}, "127.0.0.1:5000", "", 401},
		{"token: wrong", metrics.Access{Token: token}, "10.1.2.3:5000", "Bearer " + token[1:], 401},
		{"token: as basic", metrics.Access{Token: token}, "10.1.2.3:5000", "Basic " + token, 401},
		{"allow: inside", metrics.Access{Allow: []netip.Prefix{lan}}, "10.1.2.3:5000", "", 200},
		{"allow: outside", metrics.Access{Allow: []netip.Prefix{lan}}, "192.0.2.1:5000", "", 403},
		{"both: token from outside", metrics.Access{Token: token, Allow: []netip.Prefix{lan}}, "192.0.2.1:5000", "Bearer " + token, 403},
		{"both: inside without token", metrics.Access{Token: token, Allow: []netip.Prefix{lan}}, "10.1.2.3:5000", "", 401},
		{"both: inside with token", metrics.Access{Token: token, Allow: []netip.Prefix{lan}}, "10.1.2.3:5000", "Bearer " + token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics(t)
			r := gin.New()
			r.GET("/metrics", m.Handlers(tt.access)...)
			req := httptest.NewRequest("GET", "/metrics", nil)
			req.RemoteAddr = tt.remote
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if served := strings.Contains(w.Body.String(), "channels_store_errors_total"); served != (tt.want == 200) {
				t.Errorf("metrics served: %v with status %d", served, w.Code)
			}
		})
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		ok            bool
	}{
		{"32 bytes and a newline", strings.Repeat("a", 32) + "\n", true},
		{"31 bytes", strings.Repeat("a", 31), false},
		{"31 bytes padded with spaces", "  " + strings.Repeat("a", 31) + "  \n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(f, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			tok, err := metrics.ReadToken(f)
			if (err == nil) != tt.ok {
				t.Fatalf("ReadToken: %q, %v; want ok %v", tok, err, tt.ok)
			}
			if tt.ok && tok != strings.TrimSpace(tt.content) {
				t.Errorf("token %q", tok)
			}
		})
	}
	if _, err := metrics.ReadToken(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file is no error")
	}
}

func TestHops(t *testing.T) {
	m := newMetrics(t)
	r := gin.New()
	r.Use(m.Hops())
	m.HopRoute("POST", "/ussd/at", "ussd", "at")
	statuses := map[string]int{"ok": 200, "refused": 403, "invalid": 400, "broken": 500}
	r.POST("/ussd/at", func(c *gin.Context) {
		what := c.Query("what")
		if what == "failed" {
			_ = c.Error(errors.New("store down"))
			c.String(200, "END Sorry")
			return
		}
		c.String(statuses[what], "END")
	})
	r.GET("/other", func(c *gin.Context) { c.String(200, "ok") })
	for _, what := range []string{"ok", "ok", "refused", "invalid", "broken", "failed"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/ussd/at?what="+what, nil))
	}
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/other", nil))
	tests := []struct {
		outcome string
		want    float64
	}{{"ok", 2}, {"refused", 1}, {"invalid", 1}, {"error", 2}}
	for _, tt := range tests {
		t.Run(tt.outcome, func(t *testing.T) {
			if got := count(t, m, "channels_hops_total", "channel=ussd,dialect=at,outcome="+tt.outcome); got != tt.want {
				t.Errorf("hops %s = %v, want %v", tt.outcome, got, tt.want)
			}
		})
	}
	if got := count(t, m, "channels_hop_duration_seconds", "channel=ussd"); got != 6 {
		t.Errorf("hops timed = %v, want 6 (the route not declared is not a hop)", got)
	}
}

func TestScreens(t *testing.T) {
	m := newMetrics(t)
	m.Shown(channels.ChannelUSSD, "", "")
	m.Shown(channels.ChannelUSSD, "report_problem", "category")
	m.Answered(channels.ChannelUSSD, "report_problem", "category")
	m.Shown(channels.ChannelSMS, "no_such_service", "category")
	m.Answered(channels.ChannelUSSD, "report_problem", "no_such_step")
	tests := []struct {
		name, metric, labels string
		want                 float64
	}{
		{"root menu", "channels_screens_shown_total", "channel=ussd,service=menu,step=home", 1},
		{"step shown", "channels_screens_shown_total", "channel=ussd,service=report_problem,step=category", 1},
		{"step answered", "channels_screens_answered_total", "channel=ussd,service=report_problem,step=category", 1},
		{"another channel untouched", "channels_screens_shown_total", "channel=sms,service=report_problem,step=category", 0},
		{"an unknown service makes no label", "channels_screens_shown_total", "channel=sms,service=no_such_service,step=category", -1},
		{"an unknown step makes no label", "channels_screens_answered_total", "channel=ussd,service=report_problem,step=no_such_step", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(t, m, tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s{%s} = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

// fakeSender answers each Send with the next error of errs.
type fakeSender struct {
	name string
	errs []error
}

func (s *fakeSender) Name() string { return s.name }

func (s *fakeSender) Send(context.Context, *channels.Outbound) (string, error) {
	err := s.errs[0]
	s.errs = s.errs[1:]
	return "id", err
}

func TestSender(t *testing.T) {
	m := newMetrics(t)
	hook := m.Sender(&fakeSender{name: "webhook", errs: []error{nil, errors.New("503"), outbox.Permanent("gone", errors.New("410"))}})
	sms := m.Sender(&fakeSender{name: "twilio", errs: []error{nil, nil, errors.New("timeout")}})
	for range 3 {
		hook.Send(t.Context(), &channels.Outbound{Kind: channels.KindWebhook, To: "civil_registry"})
		sms.Send(t.Context(), &channels.Outbound{To: "+254712345678"})
	}
	if hook.Name() != "webhook" {
		t.Errorf("the wrapped sender is named %q", hook.Name())
	}
	tests := []struct {
		metric, labels string
		want           float64
	}{
		{"channels_outbox_sends_total", "outcome=sent,sender=webhook", 1},
		{"channels_outbox_sends_total", "outcome=retry,sender=webhook", 1},
		{"channels_outbox_sends_total", "outcome=refused,sender=webhook", 1},
		{"channels_outbox_sends_total", "outcome=sent,sender=twilio", 2},
		{"channels_outbox_sends_total", "outcome=retry,sender=twilio", 1},
		{"channels_webhook_failures_total", "agency=civil_registry,outcome=retry", 1},
		{"channels_webhook_failures_total", "agency=civil_registry,outcome=refused", 1},
	}
	for _, tt := range tests {
		t.Run(tt.labels, func(t *testing.T) {
			if got := count(t, m, tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s{%s} = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "channels_webhook_failures_total" && len(f.GetMetric()) != 2 {
			t.Errorf("%d webhook failure series, want 2 (one an outcome of the agency)", len(f.GetMetric()))
		}
	}
}

type fakeCaller struct{ outcome flows.CallOutcome }

func (c fakeCaller) Ask(context.Context, flows.AgencyRequest) flows.AgencyAnswer {
	return flows.AgencyAnswer{Outcome: c.outcome}
}

func TestCaller(t *testing.T) {
	m := newMetrics(t)
	req := flows.AgencyRequest{Agency: "revenue", Operation: "pin_lookup", Phone: "+254712345678"}
	for _, o := range []flows.CallOutcome{flows.OutcomeFound, flows.OutcomeFound, flows.OutcomeTimeout} {
		if got := m.Caller(fakeCaller{o}).Ask(t.Context(), req); got.Outcome != o {
			t.Fatalf("answer %q, want %q", got.Outcome, o)
		}
	}
	if got := count(t, m, "channels_agency_calls_total", "agency=revenue,operation=pin_lookup,outcome=found"); got != 2 {
		t.Errorf("found calls = %v, want 2", got)
	}
	if got := count(t, m, "channels_agency_calls_total", "agency=revenue,operation=pin_lookup,outcome=timeout"); got != 1 {
		t.Errorf("timed out calls = %v, want 1", got)
	}
	if got := count(t, m, "channels_agency_call_duration_seconds", "agency=revenue"); got != 3 {
		t.Errorf("calls timed = %v, want 3", got)
	}
}

// TestStore runs the decorator over a real bbolt store: a case counted
// once however often its submission is retried, domain answers not
// counted as errors, a closed store's failures counted by class, and the
// outbox backlog read at scrape time.
func TestStore(t *testing.T) {
	m := newMetrics(t)
	raw := channelstest.OpenStore(t)
	db := m.Store(raw)
	ctx := t.Context()
	for i := range 2 {
		c := &channels.Case{Ref: channels.NewReference(), Service: "report_problem", Channel: channels.ChannelUSSD,
			Phone: "+254712345678", IdempotencyKey: "ussd/s1", Status: channels.StatusSubmitted, CreatedAt: time.Now()}
		got, err := db.CreateCase(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Ref == c.Ref) != (i == 0) {
			t.Fatalf("attempt %d: case %s, drawn %s", i, got.Ref, c.Ref)
		}
	}
	if got := count(t, m, "channels_cases_created_total", "channel=ussd,service=report_problem"); got != 1 {
		t.Errorf("cases created = %v, want 1 (the retry found its case)", got)
	}
	if _, err := db.Session(ctx, "missing", time.Now()); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Fatalf("missing session: %v", err)
	}
	if got := count(t, m, "channels_store_errors_total", "op=session"); got != 0 {
		t.Errorf("a missing session counted as %v store errors", got)
	}
	if err := db.Enqueue(ctx, &channels.Outbound{Key: "k1", To: "+254712345678", Status: channels.OutboundQueued, NextAttempt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	m.WatchOutbox(db, []string{channels.KindSMS, channels.KindWebhook}, time.Second, nil)
	if got := count(t, m, "channels_outbox_due", "kind=sms"); got != 1 {
		t.Errorf("sms due = %v, want 1", got)
	}
	if got := count(t, m, "channels_outbox_due", "kind=webhook"); got != 0 {
		t.Errorf("webhook due = %v, want 0, reported though none waits", got)
	}
	if got := count(t, m, "channels_outbox_oldest_due_age_seconds", "kind=sms"); got < 60 || got > 120 {
		t.Errorf("oldest sms due for %vs, want about 60", got)
	}

	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db.Session(ctx, "s", time.Now())
	db.PutSession(ctx, &channels.Session{ID: "s", ExpiresAt: time.Now().Add(time.Minute)})
	if err := m.Probe(ctx, db, time.Second); err == nil {
		t.Error("the probe of a closed store succeeded")
	}
	for _, tt := range []struct {
		op   string
		want float64
	}{{"session", 2}, {"health", 1}, {"case", 0}} {
		if got := count(t, m, "channels_store_errors_total", "op="+tt.op); got != tt.want {
			t.Errorf("store errors %s = %v, want %v", tt.op, got, tt.want)
		}
	}
	if got := count(t, m, "channels_outbox_backlog_up", ""); got != 0 {
		t.Errorf("backlog up = %v on a closed store, want 0", got)
	}
}

// BenchmarkHop is what the metrics add to a hop: the middleware's look-up,
// timing and count, and a screen shown and answered.
func BenchmarkHop(b *testing.B) {
	m := newMetrics(b)
	r := gin.New()
	r.Use(m.Hops())
	m.HopRoute("POST", "/ussd/at", "ussd", "at")
	r.POST("/ussd/at", func(c *gin.Context) {
		m.Answered(channels.ChannelUSSD, "report_problem", "category")
		m.Shown(channels.ChannelUSSD, "report_problem", "location")
		c.Status(200)
	})
	bare := gin.New()
	bare.POST("/ussd/at", func(c *gin.Context) { c.Status(200) })
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"metered", r}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("POST", "/ussd/at", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}
