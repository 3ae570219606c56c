// Package twilio sends outbound SMS through Twilio's Programmable Messaging
// API (api.twilio.com 2010-04-01) with the official twilio-go client, as an
// outbox.Sender.
//
// Each message carries a StatusCallback URL with our own key in it, so a
// delivery report finds the message even when its Twilio SID was never
// recorded (a crash between Twilio's answer and our write).
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
)

// Config configures a Sender.
type Config struct {
	AccountSID string // "AC" and 32 hex digits
	AuthToken  string
	// From is the sending number (E.164). MessagingServiceSID, when set,
	// is used instead: Twilio then picks the number from the service's pool.
	From                string
	MessagingServiceSID string
	// StatusCallback is the URL Twilio posts delivery reports to; the
	// sender adds "key=<message key>" to its query. Empty: no reports.
	StatusCallback string
	// BaseURL replaces "https://api.twilio.com" (scheme and host only), for
	// tests against a mock of the API.
	BaseURL string
	// Timeout bounds one API call; 0 means 10 s.
	Timeout time.Duration
}

// Twilio error codes the sender tells apart
// (https://www.twilio.com/docs/api/errors).
const (
	codeInvalidTo        = 21211 // invalid 'To' phone number
	codeNotMobile        = 21614 // 'To' is not a valid mobile number
	codeUnsubscribed     = 21610 // the recipient replied STOP
	defaultTimeout       = 10 * time.Second
	reasonInvalidNumber  = "invalid_number"
	reasonOptedOut       = "opted_out"
	reasonRejectedFormat = "rejected_%d"
)

// twilio-go refuses credentials that are not alphanumeric; say so at
// startup rather than on every message.
var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	alphanumeric      = regexp.MustCompile(`^[0-9a-zA-Z]+$`)
)

// Sender sends SMS through Twilio. It is safe for concurrent use.
type Sender struct {
	cfg      Config
	base     *url.URL // nil: api.twilio.com
	callback *url.URL // nil: no delivery reports
	// transport is shared by every Send so connections are reused.
	transport http.RoundTripper
}

var _ outbox.Sender = (*Sender)(nil)

// New returns a Sender for cfg, or an error naming what is misconfigured.
func New(cfg Config) (*Sender, error) {
	if !accountSIDPattern.MatchString(cfg.AccountSID) {
		return nil, fmt.Errorf("twilio: account SID %q is not AC followed by 32 hex digits", cfg.AccountSID)
	}
	if !alphanumeric.MatchString(cfg.AuthToken) {
		return nil, errors.New("twilio: auth token must be non-empty and alphanumeric")
	}
	if (cfg.From == "") == (cfg.MessagingServiceSID == "") {
		return nil, errors.New("twilio: set exactly one of From and MessagingServiceSID")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	s := &Sender{cfg: cfg, transport: http.DefaultTransport.(*http.Transport).Clone()}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("twilio: base URL %q is not an absolute URL", cfg.BaseURL)
		}
		s.base = u
	}
	if cfg.StatusCallback != "" {
		u, err := url.Parse(cfg.StatusCallback)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("twilio: status callback %q is not an absolute URL", cfg.StatusCallback)
		}
		s.callback = u
	}
	return s, nil
}

// Name is "twilio".
func (s *Sender) Name() string { return "twilio" }

// Send submits m to Twilio and returns the message SID. Refusals no retry
// can change are outbox.Permanent: "invalid_number" (codes 21211, 21614),
// "opted_out" (21610) and "rejected_<status>" for any other 4xx but 429.
// Rate limiting (429), Twilio's 5xx, network errors and timeouts are plain
// errors, to be retried.
func (s *Sender) Send(ctx context.Context, m *channels.Outbound) (string, error) {
	rt := &callTransport{ctx: ctx, base: s.base, next: s.transport}
	c := &client.Client{
		Credentials: client.NewCredentials(s.cfg.AccountSID, s.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport: rt,
			Timeout:   s.cfg.Timeout,
			// As twilio-go's own client: an API answer is never a redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(s.cfg.AccountSID)

	params := &api.CreateMessageParams{}
	if m.To != "" {
		params.SetTo(m.To)
	}
	params.SetBody(m.Text)
	if s.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(s.cfg.MessagingServiceSID)
	} else {
		params.SetFrom(s.cfg.From)
	}
	if s.callback != nil {
		params.SetStatusCallback(s.statusCallback(m.Key))
	}

	msg, err := api.NewApiServiceWithClient(c).CreateMessage(params)
	status := int(rt.status.Load())
	if err != nil && status >= 200 && status < 300 {
		// Twilio took the message but its answer did not decode. Sending
		// again would reach the phone twice; the status callback still
		// finds the message by key.
		return "", nil
	}
	if err != nil {
		return "", classify(fmt.Errorf("twilio: send %s: %w", m.Key, err), status)
	}
	if msg.Sid == nil {
		return "", nil
	}
	return *msg.Sid, nil
}

// statusCallback is the configured callback URL with key added to its
// query.
func (s *Sender) statusCallback(key string) string {
	u := *s.callback
	q := u.Query()
	q.Set("key", key)
	u.RawQuery = q.Encode()
	return u.String()
}

// classify marks err permanent when Twilio refused for good. status is the
// HTTP status of the last answer, 0 if none came; it classifies answers
// twilio-go could not decode (an HTML error page from a proxy).
func classify(err error, status int) error {
	code := 0
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		status, code = rest.Status, rest.Code
	}
	switch {
	case status == 0, status == http.StatusTooManyRequests, status >= 500:
		return err // no answer, rate limited, or Twilio's trouble: retry
	case code == codeInvalidTo || code == codeNotMobile:
		return outbox.Permanent(reasonInvalidNumber, err)
	case code == codeUnsubscribed:
		return outbox.Permanent(reasonOptedOut, err)
	case status >= 400:
		return outbox.Permanent(fmt.Sprintf(reasonRejectedFormat, status), err)
	default:
		return err // an informational or redirect status: not a refusal
	}
}

// callTransport carries one Send's context into twilio-go (which builds
// its requests on context.Background), points requests at the configured
// base URL, and records the last HTTP status.
type callTransport struct {
	ctx    context.Context
	base   *url.URL
	next   http.RoundTripper
	status atomic.Int32
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(t.ctx)
	if t.base != nil {
		req.URL.Scheme, req.URL.Host = t.base.Scheme, t.base.Host
		req.Host = ""
	}
	resp, err := t.next.RoundTrip(req)
	if resp != nil {
		t.status.Store(int32(resp.StatusCode))
	}
	return resp, err
}
