package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/outbox"
)

// The outcomes of an outbox attempt.
const (
	SendSent    = "sent"
	SendRetry   = "retry"   // a transient failure: the outbox tries again
	SendRefused = "refused" // a permanent failure: the message fails (or falls back)
)

// sender counts the attempts of an outbox sender.
type sender struct {
	outbox.Sender
	byOut map[string]prometheus.Counter
	hooks *prometheus.CounterVec // per agency, for webhooks; nil for others
}

// Sender wraps s so that each attempt is counted by s.Name() and outcome
// (channels_outbox_sends_total); an agency webhook's failure is counted
// by agency too (channels_webhook_failures_total).
func (m *Metrics) Sender(s outbox.Sender) outbox.Sender {
	w := &sender{Sender: s, byOut: map[string]prometheus.Counter{}}
	for _, o := range []string{SendSent, SendRetry, SendRefused} {
		w.byOut[o] = m.sends.WithLabelValues(s.Name(), o)
	}
	if s.Name() == "webhook" {
		w.hooks = m.hookFails
	}
	return w
}

// Send sends through the wrapped sender and counts its outcome.
func (s *sender) Send(ctx context.Context, m *channels.Outbound) (string, error) {
	id, err := s.Sender.Send(ctx, m)
	out := SendSent
	if err != nil {
		out = SendRetry
		if _, ok := outbox.IsPermanent(err); ok {
			out = SendRefused
		}
		if s.hooks != nil {
			// One child per agency that ever failed: agencies are few and
			// registered by an administrator.
			s.hooks.WithLabelValues(m.To, out).Inc()
		}
	}
	s.byOut[out].Inc()
	return id, err
}

// caller counts the agency calls of call steps.
type caller struct {
	flows.AgencyCaller
	m *Metrics
}

// Caller wraps c so that each call is counted by agency, operation and
// outcome and timed by agency.
func (m *Metrics) Caller(c flows.AgencyCaller) flows.AgencyCaller { return &caller{c, m} }

// Ask asks through the wrapped caller and counts the answer's outcome.
// Agencies and operations are the catalog's call steps': bounded.
func (c *caller) Ask(ctx context.Context, req flows.AgencyRequest) flows.AgencyAnswer {
	start := time.Now()
	ans := c.AgencyCaller.Ask(ctx, req)
	c.m.callSeconds.WithLabelValues(req.Agency).Observe(time.Since(start).Seconds())
	c.m.calls.WithLabelValues(req.Agency, req.Operation, string(ans.Outcome)).Inc()
	return ans
}

// backlog is the collector that asks the store for the outbox's backlog
// at each scrape.
type backlog struct {
	store   channels.OutboxStore
	kinds   []string
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	errs    prometheus.Counter

	queued, due, sending, oldest, up *prometheus.Desc
}

// WatchOutbox registers the collector of the outbox's backlog: every kind
// of kinds is reported at each scrape (zero when nothing waits), read from
// store with timeout. A store that does not answer in time leaves the
// gauges out of that scrape, sets channels_outbox_backlog_up to 0, counts
// a store error (op "outbox") and logs it (log: discarded when nil);
// the scrape itself succeeds.
func (m *Metrics) WatchOutbox(store channels.OutboxStore, kinds []string, timeout time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kl := []string{"kind"}
	b := &backlog{
		store: store, kinds: kinds, timeout: timeout, now: time.Now, log: log,
		errs:    m.storeErrors.WithLabelValues("outbox"),
		queued:  prometheus.NewDesc(Namespace+"_outbox_queued", "Outbox messages queued, due or not (a reminder waits for its time), by kind.", kl, nil),
		due:     prometheus.NewDesc(Namespace+"_outbox_due", "Outbox messages queued and due now: waiting for a worker, by kind.", kl, nil),
		sending: prometheus.NewDesc(Namespace+"_outbox_sending", "Outbox messages with an attempt under way (or interrupted by a crash), by kind.", kl, nil),
		oldest:  prometheus.NewDesc(Namespace+"_outbox_oldest_due_age_seconds", "How long the earliest due outbox message has been due, by kind; 0 when none is due.", kl, nil),
		up:      prometheus.NewDesc(Namespace+"_outbox_backlog_up", "1 when the store answered this scrape's backlog query, else 0.", nil, nil),
	}
	for _, d := range []string{"queued", "due", "sending", "oldest_due_age_seconds"} {
		m.names = append(m.names, Namespace+"_outbox_"+d)
	}
	m.names = append(m.names, Namespace+"_outbox_backlog_up")
	m.reg.MustRegister(b)
}

// KindLabel is the kind label of an outbox kind: "sms" for SMS, whose
// kind is "".
func KindLabel(kind string) string {
	if kind == channels.KindSMS {
		return "sms"
	}
	return kind
}

func (b *backlog) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{b.queued, b.due, b.sending, b.oldest, b.up} {
		ch <- d
	}
}

func (b *backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	now := b.now()
	got, err := b.store.OutboxBacklog(ctx, now)
	if err != nil {
		b.errs.Inc()
		b.log.Error("metrics: read the outbox backlog", "err", err)
		ch <- prometheus.MustNewConstMetric(b.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(b.up, prometheus.GaugeValue, 1)
	byKind := make(map[string]channels.Backlog, len(got))
	for _, k := range got {
		byKind[k.Kind] = k
	}
	for _, kind := range b.kinds {
		k := byKind[kind]
		label := KindLabel(kind)
		age := 0.0
		if !k.OldestDue.IsZero() {
			age = max(now.Sub(k.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(b.queued, prometheus.GaugeValue, float64(k.Queued), label)
		ch <- prometheus.MustNewConstMetric(b.due, prometheus.GaugeValue, float64(k.Due), label)
		ch <- prometheus.MustNewConstMetric(b.sending, prometheus.GaugeValue, float64(k.Sending), label)
		ch <- prometheus.MustNewConstMetric(b.oldest, prometheus.GaugeValue, age, label)
	}
}
