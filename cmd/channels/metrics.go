package main

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/metrics"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/ussd"
)

// healthTimeout bounds the store read of one health check: a probe that
// waits longer than a load balancer's would tell nothing.
const healthTimeout = 2 * time.Second

// scrapeTimeout bounds the store read of the outbox backlog in a scrape,
// well within Prometheus's default scrape timeout of 10 s.
const scrapeTimeout = 3 * time.Second

// outboxKinds are the kinds whose backlog every scrape reports.
var outboxKinds = []string{channels.KindSMS, channels.KindPush, channels.KindWebhook, channels.KindCall, channels.KindEvent}

// mountProbes mounts /healthz, for load balancers and orchestrators, and
// /metrics, for Prometheus behind the access the configuration gives.
//
// /healthz is unauthenticated: it answers whether the store answered a
// cheap read within healthTimeout, 200 {"status":"ok"} or 503
// {"status":"unavailable"}, and nothing else (no version, no error text:
// the error goes to the log).
func (s *server) mountProbes(r *gin.Engine) {
	r.GET("/healthz", func(c *gin.Context) {
		if err := s.metrics.Probe(c.Request.Context(), s.db, healthTimeout); err != nil {
			s.log.Error("health check: the store did not answer", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	s.metrics.WatchOutbox(s.db, outboxKinds, scrapeTimeout, s.log)
	access := metrics.Access{Token: s.cfg.metricsToken, Allow: s.cfg.metricsAllow, Log: s.log}
	r.GET("/metrics", s.metrics.Handlers(access)...)
	switch {
	case access.LoopbackOnly():
		s.log.Warn("metrics at /metrics accept LOOPBACK callers only: no metrics-token-file or metrics-allow is configured")
		s.routes = append(s.routes, "metrics: GET /metrics, LOOPBACK CALLERS ONLY (set -metrics-token-file or -metrics-allow); health: GET /healthz")
	case access.Token != "" && len(access.Allow) > 0:
		s.routes = append(s.routes, "metrics: GET /metrics, bearer token from metrics-allow addresses; health: GET /healthz")
	case access.Token != "":
		s.routes = append(s.routes, "metrics: GET /metrics, bearer token; health: GET /healthz")
	default:
		s.routes = append(s.routes, "metrics: GET /metrics, from metrics-allow addresses; health: GET /healthz")
	}
}

// meterSenders wraps the SMS sender (nil stays nil: no SMS gateway) and
// every route's sender so that their attempts are counted.
func (s *server) meterSenders(sms outbox.Sender, routes map[string]outbox.Route) outbox.Sender {
	for kind, r := range routes {
		r.Sender = s.metrics.Sender(r.Sender)
		routes[kind] = r
	}
	if sms == nil {
		return nil
	}
	return s.metrics.Sender(sms)
}

// hopRoute is a route whose requests are hops of a channel's sessions.
type hopRoute struct{ method, path, channel, dialect string }

// hopRoutes are the routes counted and timed as hops: each gateway's
// inbound call (not its delivery reports), the app's session and
// whole-form steps, the kiosk's walk.
var hopRoutes = []hopRoute{
	{"POST", "/ussd/at", "ussd", "at"},
	{"POST", "/ussd/at/:secret", "ussd", "at"},
	{"GET", "/ussd/kannel", "ussd", "kannel"},
	{"POST", "/sms/twilio", "sms", "twilio"},
	{"GET", "/sms/kannel", "sms", "kannel"},
	{"POST", "/sms/kannel", "sms", "kannel"},
	{"POST", "/v1/sessions", "app", "json"},
	{"POST", "/v1/sessions/:id/input", "app", "json"},
	{"POST", "/v1/services/:id/submissions", "app", "json"},
	{"POST", "/kiosk/citizens/:slot/services", "kiosk", "html"},
	{"POST", "/kiosk/citizens/:slot/walk", "kiosk", "html"},
}

// meterHops declares the hop routes that are mounted, with their counters
// at zero, so that a rate of a channel that had no hop yet is 0 and not
// absent.
func (s *server) meterHops() {
	mounted := map[string]bool{}
	for _, r := range s.router.Routes() {
		mounted[r.Method+" "+r.Path] = true
	}
	for _, h := range hopRoutes {
		if mounted[h.method+" "+h.path] {
			s.metrics.HopRoute(h.method, h.path, h.channel, h.dialect)
		}
	}
}

// meterUSSDLimits reports the hops the limits of one USSD dialect refused.
func (s *server) meterUSSDLimits(dialect string, u *ussd.Server) {
	for _, l := range []struct {
		name string
		n    func(ussd.Dropped) uint64
	}{
		{"dials_per_phone", func(d ussd.Dropped) uint64 { return d.DialsPerPhone }},
		{"hops_per_phone", func(d ussd.Dropped) uint64 { return d.HopsPerPhone }},
		{"dials_per_source", func(d ussd.Dropped) uint64 { return d.DialsPerSource }},
		{"hops_per_source", func(d ussd.Dropped) uint64 { return d.HopsPerSource }},
	} {
		s.metrics.Limited("ussd", dialect, l.name, func() uint64 { return l.n(u.Dropped()) })
	}
}

// meterSMSLimits reports the inbound SMS the limits refused: one server
// for both gateways, so their limits are shared.
func (s *server) meterSMSLimits(srv *sms.Server) {
	s.metrics.Limited("sms", "shared", "per_phone", func() uint64 { return srv.Dropped().PerPhone })
	s.metrics.Limited("sms", "shared", "per_source", func() uint64 { return srv.Dropped().PerSource })
}
