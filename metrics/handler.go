package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/govchannels/channels/gateway"
)

// MinTokenSize is the fewest bytes a scrape token may have.
const MinTokenSize = 32

// ReadToken reads the bearer token a scraper must send from file, without
// the white space around it (Prometheus's credentials_file trims it too):
// at least MinTokenSize bytes.
func ReadToken(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("metrics token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < MinTokenSize {
		return "", fmt.Errorf("metrics token file %s holds %d bytes, fewer than %d: make one with head -c 32 /dev/urandom | base64 > %s", file, len(tok), MinTokenSize, file)
	}
	return tok, nil
}

// Access is how a scraper proves itself: a bearer token, source
// addresses, or both (both set: both are required). With neither, only
// loopback callers that came through no proxy are served, as package
// gateway serves a gateway with no credential.
type Access struct {
	Token string
	Allow []netip.Prefix // client addresses, as the router's trusted proxies resolve them
	Log   *slog.Logger   // discarded when nil
}

// LoopbackOnly reports whether a has no credential, and so serves loopback
// callers only.
func (a Access) LoopbackOnly() bool { return a.Token == "" && len(a.Allow) == 0 }

// Handlers are the gin handlers of /metrics: the checks of a, then the
// exposition of the registry. A missing or wrong token is 401, an address
// not allowed 403.
func (m *Metrics) Handlers(a Access) []gin.HandlerFunc {
	log := a.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var hs []gin.HandlerFunc
	if a.Token == "" || len(a.Allow) > 0 {
		// No secret: the gateway check is of addresses only, loopback
		// when none are allowed.
		hs = append(hs, gateway.New(gateway.Config{Name: "prometheus", Allow: a.Allow, Log: log}))
	}
	if a.Token != "" {
		want := sha256.Sum256([]byte(a.Token))
		hs = append(hs, func(c *gin.Context) {
			if !bearerMatches(c.GetHeader("Authorization"), want) {
				log.Warn("metrics scrape refused", "reason", "bearer token missing or wrong", "client", c.ClientIP())
				c.Header("WWW-Authenticate", `Bearer realm="metrics"`)
				c.AbortWithStatus(http.StatusUnauthorized)
				return
			}
			c.Next()
		})
	}
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}})
	return append(hs, gin.WrapH(h))
}

// bearerMatches reports whether header is "Bearer T" for the token whose
// SHA-256 is want, comparing digests in constant time whatever was sent.
func bearerMatches(header string, want [sha256.Size]byte) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// slogPrinter logs promhttp's errors (a collector that failed) at error.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Error("metrics: " + fmt.Sprint(v...)) }
