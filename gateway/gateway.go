// Package gateway makes the gateways that call us (USSD aggregators,
// Kannel) prove who they are before a dialect reads the phone number
// they send: whoever could reach a route unchecked could act as any
// citizen. Each gateway declares how it proves itself in a Config, and
// New turns that into a gin middleware mounted in front of its routes.
//
// A gateway proves itself with a shared secret, with the address it
// calls from, or with both (both set: both are required). A gateway with
// neither is accepted from loopback only, and only from a caller that
// did not come through a proxy: a reverse proxy on the same host makes
// every caller look local.
package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
)

// Config is how one gateway proves itself.
type Config struct {
	Name string // names the gateway in logs, e.g. "africastalking"
	// Secret, when set, must come with every request, as the route's
	// path parameter "secret", the query parameter "secret", or the
	// password of HTTP Basic authentication (any user name).
	Secret string
	// Allow, when set, lists the prefixes the client address must be in:
	// the address as the router's trusted proxies resolve it (gin's
	// ClientIP).
	Allow []netip.Prefix
	// Phone reads the phone number a request claims, for the log of a
	// refusal (masked); nil logs none.
	Phone func(*http.Request) string
	// Refuse answers a refused request in the gateway's dialect (status
	// 403); a bare 403 when nil.
	Refuse func(c *gin.Context)
	Log    *slog.Logger // discarded when nil
}

// LoopbackOnly reports whether the gateway has no credential, and so is
// accepted from loopback callers only.
func (cfg Config) LoopbackOnly() bool { return cfg.Secret == "" && len(cfg.Allow) == 0 }

// New returns the middleware that lets through the requests of the
// gateway cfg describes. It answers any other with 403, logs it at warn
// with the claimed phone masked and the client address, and stops the
// chain, so that no handler (and no session) sees it. A request let
// through carries its client address in its context (Source).
func New(cfg Config) gin.HandlerFunc {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var want [sha256.Size]byte
	if cfg.Secret != "" {
		want = sha256.Sum256([]byte(cfg.Secret))
	}
	return func(c *gin.Context) {
		client, _ := netip.ParseAddr(c.ClientIP())
		client = client.Unmap()
		reason := ""
		switch {
		case cfg.LoopbackOnly():
			if !loopback(c, client) {
				reason = "not loopback, and the gateway has no secret or allowed addresses configured"
			}
		case cfg.Secret != "" && !secretMatches(c, want):
			reason = "secret missing or wrong"
		case len(cfg.Allow) > 0 && !allowed(cfg.Allow, client):
			reason = "client address not allowed"
		}
		if reason == "" {
			c.Request = c.Request.WithContext(NewContext(c.Request.Context(), client.String()))
			c.Next()
			return
		}
		phone := ""
		if cfg.Phone != nil {
			phone = cfg.Phone(c.Request)
		}
		log.Warn("gateway request refused", "gateway", cfg.Name, "reason", reason,
			"phone", channels.MaskPhone(phone), "client", c.ClientIP(), "path", c.Request.URL.Path)
		if cfg.Refuse != nil {
			cfg.Refuse(c)
		}
		c.AbortWithStatus(http.StatusForbidden)
	}
}

// secretMatches reports whether the request carries the secret whose
// SHA-256 is want. Digests are compared with subtle.ConstantTimeCompare,
// which takes the same time whatever the content and the length of what
// was sent.
func secretMatches(c *gin.Context, want [sha256.Size]byte) bool {
	var sent []string
	if s := c.Param("secret"); s != "" {
		sent = append(sent, s)
	}
	if s := c.Query("secret"); s != "" {
		sent = append(sent, s)
	}
	if _, s, ok := c.Request.BasicAuth(); ok && s != "" {
		sent = append(sent, s)
	}
	ok := false
	for _, s := range sent {
		got := sha256.Sum256([]byte(s))
		ok = subtle.ConstantTimeCompare(got[:], want[:]) == 1 || ok
	}
	return ok
}

func allowed(allow []netip.Prefix, client netip.Addr) bool {
	for _, p := range allow {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// loopback reports whether the request comes from this host and not
// through a proxy: the connection and the client address are loopback,
// and no forwarding header names an origin that is not.
func loopback(c *gin.Context, client netip.Addr) bool {
	peer, err := netip.ParseAddr(c.RemoteIP())
	if err != nil || !peer.Unmap().IsLoopback() || !client.IsLoopback() {
		return false
	}
	h := c.Request.Header
	for _, name := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
		values := h.Values(name)
		if len(values) == 0 {
			continue
		}
		origins := forwardedFor(name, values)
		if len(origins) == 0 {
			return false // forwarded, from nobody it says
		}
		for _, o := range origins {
			addr, ok := parseHost(o)
			if !ok || !addr.IsLoopback() {
				return false
			}
		}
	}
	return true
}

// forwardedFor lists the origins a forwarding header names: every
// address of X-Forwarded-For and X-Real-IP, every for= of Forwarded
// (RFC 7239).
func forwardedFor(name string, values []string) []string {
	var origins []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if name != "Forwarded" {
				if part != "" {
					origins = append(origins, part)
				}
				continue
			}
			for pair := range strings.SplitSeq(part, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					origins = append(origins, strings.Trim(val, `"`))
				}
			}
		}
	}
	return origins
}

// parseHost reads an address as forwarding headers write it: bare, with
// a port, or in brackets.
func parseHost(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

type sourceKey struct{}

// Source is the client address of the gateway that delivered the request
// whose context is ctx, as the middleware let it through; "" when the
// request did not come through it. Dialects limit per source with it.
func Source(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// NewContext returns ctx carrying source as Source reads it: what New
// does for a request it lets through.
func NewContext(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

// ParseAllow reads a comma-separated list of IP addresses and CIDRs.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			ps = append(ps, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", part)
		}
		a = a.Unmap()
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return ps, nil
}
