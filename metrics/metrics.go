// Package metrics owns what an operator's Prometheus scrapes at /metrics:
// one registry of our own (with the Go and process collectors), the
// collectors of every channel_* metric, and the small wrappers that count
// at the edges without the edges knowing Prometheus: a gin middleware for
// hops, a channels.Meter for screens, decorators of the store, the outbox
// senders and the agency caller, and a collector that asks the store for
// the outbox's backlog at scrape time.
//
// Labels are bounded: channels, dialects, the catalog's services and
// steps, sender names, agencies and operations, outcome words. Never a
// phone, a reference or a session ID.
package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// Namespace prefixes every metric of ours.
const Namespace = "channels"

// hopBuckets are the latency buckets of a hop, in seconds: a hop on bbolt
// takes a few milliseconds, one with an agency call up to its deadline
// (4 s by default, 8 s at most), and a USSD gateway gives up after about
// 5 to 10 s.
var hopBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 4, 8}

// Metrics holds the registry and every collector. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	hops       *prometheus.CounterVec   // channel, dialect, outcome
	hopSeconds *prometheus.HistogramVec // channel
	routes     map[string]*route        // "METHOD /full/path" of each hop route

	shown, answered *prometheus.CounterVec // channel, service, step
	screens         map[screenKey]screenCounters

	cases       *prometheus.CounterVec // service, channel
	sends       *prometheus.CounterVec // sender, outcome
	hookFails   *prometheus.CounterVec // agency
	calls       *prometheus.CounterVec // agency, operation, outcome
	callSeconds *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec // op

	names []string // of every family declared
}

// New returns the metrics of a server serving cat, with the Go and
// process collectors registered.
func New(cat *flows.Catalog) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg, routes: map[string]*route{}, screens: map[screenKey]screenCounters{}}
	m.hops = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "hops_total",
		Help: "Inbound hops (a USSD page, an SMS, an app or kiosk step) by channel, gateway dialect and outcome: ok, error (answered politely, failed inside), refused (authentication), invalid (a malformed request)."},
		[]string{"channel", "dialect", "outcome"})
	m.hopSeconds = m.histogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "hop_duration_seconds",
		Help: "Time to answer one hop, from the request reaching the router to the reply written, by channel.", Buckets: hopBuckets},
		[]string{"channel"})
	m.shown = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "screens_shown_total",
		Help: "Screens of a step shown, by channel, service and step (service \"menu\": the root and language menus). For an end step: the sessions that reached it."},
		[]string{"channel", "service", "step"})
	m.answered = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "screens_answered_total",
		Help: "Inputs taken on a step's screen (an answer, refused or not, back or home), by channel, service and step. shown - answered is where sessions were left."},
		[]string{"channel", "service", "step"})
	m.cases = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "cases_created_total",
		Help: "Cases stored (a retry that found its case again is not counted), by service and channel."},
		[]string{"service", "channel"})
	m.sends = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "outbox_sends_total",
		Help: "Attempts of the outbox's senders, by sender and outcome: sent, retry (a transient failure, tried again), refused (a permanent failure)."},
		[]string{"sender", "outcome"})
	m.hookFails = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_failures_total",
		Help: "Failed deliveries of agency webhooks, by agency and outcome (retry or refused)."},
		[]string{"agency", "outcome"})
	m.calls = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "agency_calls_total",
		Help: "Agency calls of call steps, by agency, operation and outcome: found, not_found, failed, timeout."},
		[]string{"agency", "operation", "outcome"})
	m.callSeconds = m.histogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "agency_call_duration_seconds",
		Help: "Time an agency call took, by agency.", Buckets: hopBuckets},
		[]string{"agency"})
	m.storeErrors = m.counterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "store_errors_total",
		Help: "Store operations that failed for a reason other than the domain's (not found, conflict, invalid), by class: session, lock, limits, case, prefs, outbox, purge, health."},
		[]string{"op"})
	reg.MustRegister(m.hops, m.hopSeconds, m.shown, m.answered, m.cases, m.sends, m.hookFails, m.calls, m.callSeconds, m.storeErrors)
	m.screenChildren(cat)
	for _, op := range storeOps {
		m.storeErrors.WithLabelValues(op)
	}
	return m
}

func (m *Metrics) counterVec(o prometheus.CounterOpts, labels []string) *prometheus.CounterVec {
	m.names = append(m.names, prometheus.BuildFQName(o.Namespace, o.Subsystem, o.Name))
	return prometheus.NewCounterVec(o, labels)
}

func (m *Metrics) histogramVec(o prometheus.HistogramOpts, labels []string) *prometheus.HistogramVec {
	m.names = append(m.names, prometheus.BuildFQName(o.Namespace, o.Subsystem, o.Name))
	return prometheus.NewHistogramVec(o, labels)
}

// Registry is the registry /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Names lists every metric family /metrics may serve: ours, declared
// whether or not they have a sample yet, and those the registry gathers
// now (the Go and process collectors'). The deploy example's alert rules
// are checked against it.
func (m *Metrics) Names() ([]string, error) {
	fams, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	names := slices.Clone(m.names)
	for _, f := range fams {
		if !slices.Contains(names, f.GetName()) {
			names = append(names, f.GetName())
		}
	}
	slices.Sort(names)
	return names, nil
}

// screenKey names the counters of one step's screen on one channel.
type screenKey struct {
	ch            channels.Channel
	service, step string
}

type screenCounters struct{ shown, answered prometheus.Counter }

// menuService is the service label of the engine's own menus, outside
// every service.
const menuService = "menu"

// meterChannels are the channels that count screens.
var meterChannels = []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS, channels.ChannelApp, channels.ChannelKiosk}

// screenChildren resolves the counters of every step of cat on every
// channel once, so that counting a screen is one map look-up and no
// allocation.
func (m *Metrics) screenChildren(cat *flows.Catalog) {
	add := func(ch channels.Channel, service, step, label string) {
		svc := service
		if svc == "" {
			svc = menuService
		}
		m.screens[screenKey{ch, service, step}] = screenCounters{
			m.shown.WithLabelValues(string(ch), svc, label),
			m.answered.WithLabelValues(string(ch), svc, label),
		}
	}
	for _, ch := range meterChannels {
		add(ch, "", "", "home")
		add(ch, "", "~lang", "lang")
		if cat == nil {
			continue
		}
		for _, svc := range cat.Services {
			for _, st := range svc.Steps {
				add(ch, svc.ID, st.ID, st.ID)
			}
		}
	}
}

// Shown counts a screen of service's step shown on ch. A step the catalog
// does not have counts nothing: labels stay bounded.
func (m *Metrics) Shown(ch channels.Channel, service, step string) {
	if c, ok := m.screens[screenKey{ch, service, step}]; ok {
		c.shown.Inc()
	}
}

// Answered counts an input taken on a screen of service's step on ch.
func (m *Metrics) Answered(ch channels.Channel, service, step string) {
	if c, ok := m.screens[screenKey{ch, service, step}]; ok {
		c.answered.Inc()
	}
}

var _ channels.Meter = (*Metrics)(nil)

// Limited reports, at each scrape, the inbound requests a rate limit of
// channel has refused since the start: fn reads the limiter's count (a
// limit's own counter, so that the hot path counts nothing twice).
// dialect names the gateway whose limiter it is, or "shared" when the
// dialects of the channel share one.
func (m *Metrics) Limited(channel, dialect, limit string, fn func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Name: "limited_total",
		Help:        "Inbound requests a rate limit refused (answered politely, no session touched), by channel, dialect and limit.",
		ConstLabels: prometheus.Labels{"channel": channel, "dialect": dialect, "limit": limit},
	}, func() float64 { return float64(fn()) }))
	if !slices.Contains(m.names, Namespace+"_limited_total") {
		m.names = append(m.names, Namespace+"_limited_total")
	}
}
