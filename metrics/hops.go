package metrics

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// The outcomes of a hop.
const (
	OutcomeOK      = "ok"
	OutcomeError   = "error"   // the hop failed inside (the citizen got a polite reply)
	OutcomeRefused = "refused" // the caller did not prove who it is
	OutcomeInvalid = "invalid" // a malformed or over-long request
)

var hopOutcomes = []string{OutcomeOK, OutcomeError, OutcomeRefused, OutcomeInvalid}

// route is the pre-resolved counters of one hop route.
type route struct {
	seconds prometheus.Observer
	byOut   map[string]prometheus.Counter
}

// HopRoute declares the route method path (as gin's FullPath writes it,
// "/ussd/at/:secret") as a hop of channel over dialect. Declare every
// route before serving: the middleware only reads the table.
func (m *Metrics) HopRoute(method, path, channel, dialect string) {
	r := &route{seconds: m.hopSeconds.WithLabelValues(channel), byOut: map[string]prometheus.Counter{}}
	for _, o := range hopOutcomes {
		r.byOut[o] = m.hops.WithLabelValues(channel, dialect, o)
	}
	m.routes[method+" "+path] = r
}

// Hops is the gin middleware that counts and times every request to a
// declared hop route; others pass untouched. A hop's outcome is read from
// its status and from the errors its handler attached (c.Error): a USSD
// failure is answered 200 with a polite END, and only the attached error
// tells it from a success.
func (m *Metrics) Hops() gin.HandlerFunc {
	return func(c *gin.Context) {
		r := m.routes[c.Request.Method+" "+c.FullPath()]
		if r == nil {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
		r.seconds.Observe(time.Since(start).Seconds())
		r.byOut[hopOutcome(c)].Inc()
	}
}

func hopOutcome(c *gin.Context) string {
	status := c.Writer.Status()
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return OutcomeRefused
	case status >= 500 || len(c.Errors) > 0:
		return OutcomeError
	case status >= 400:
		return OutcomeInvalid
	}
	return OutcomeOK
}
