package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
)

// ReasonNoWebhook is the permanent failure of a webhook whose agency does
// not exist or has no usable URL or secret: there is nowhere to send it.
const ReasonNoWebhook = "no_webhook"

// UserAgent is sent with every webhook, so that agencies can tell our
// requests apart in their logs and firewalls.
const UserAgent = "govchannels-webhook/1 (+https://github.com/govchannels/channels)"

const (
	// defaultTimeout bounds one attempt. A receiver acknowledges a signed
	// POST in well under a second; one that takes longer is treated as
	// down, and holds an outbox worker for no longer than this.
	defaultTimeout = 5 * time.Second
	// maxResponse is how much of an answer is read (and discarded, so the
	// connection can be reused); an acknowledgement needs only its status.
	maxResponse = 64 << 10
)

// Config configures a Sender.
type Config struct {
	// Agencies gives each agency's webhook URL and secret, read at every
	// attempt so that a changed URL or rotated secret applies to retries.
	// Required.
	Agencies channels.AgencyStore
	// Timeout bounds one attempt, from connecting to the end of the
	// answer; 5 s when zero. An attempt that runs out is retried.
	Timeout time.Duration
	// Transport makes the requests; a clone of http.DefaultTransport when
	// nil (tests pass an httptest TLS server's).
	Transport http.RoundTripper
	// Now is the clock of the signed timestamps; time.Now when nil.
	Now func() time.Time
}

// Sender POSTs webhooks for the outbox (messages of Kind
// channels.KindWebhook, To an agency ID, Text the JSON body). It is safe
// for concurrent use. It never logs, and its errors never hold the body,
// which carries citizens' data, nor the webhook URL, which may carry a
// token.
type Sender struct {
	cfg    Config
	client *http.Client
}

var _ outbox.Sender = (*Sender)(nil)

// New returns a Sender for cfg; it fails when cfg.Agencies is nil.
func New(cfg Config) (*Sender, error) {
	if cfg.Agencies == nil {
		return nil, errors.New("webhook: Config.Agencies is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg, client: &http.Client{
		Transport: cfg.Transport,
		// A redirect is not an acknowledgement: the answer is taken as it
		// is, and retried like any other non-2xx.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Name is "webhook".
func (s *Sender) Name() string { return "webhook" }

// Send POSTs m.Text to the webhook of the agency m.To, signed with its
// secret at the time of the attempt, and returns "http <status>" when the
// agency acknowledges it with any 2xx. An agency that does not exist or
// has no webhook URL or secret is outbox.Permanent with reason
// ReasonNoWebhook. Every other failure (an answer other than 2xx,
// redirects included, a timeout, a network error, a store error) is a
// plain error, retried until the agency acknowledges.
func (s *Sender) Send(ctx context.Context, m *channels.Outbound) (string, error) {
	a, err := s.cfg.Agencies.Agency(ctx, m.To)
	switch {
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		return "", outbox.Permanent(ReasonNoWebhook, fmt.Errorf("webhook: %s: agency %s: %w", m.Key, m.To, err))
	case err != nil:
		return "", fmt.Errorf("webhook: %s: read agency %s: %w", m.Key, m.To, err)
	case a.WebhookURL == "":
		return "", outbox.Permanent(ReasonNoWebhook, fmt.Errorf("webhook: %s: agency %s has no webhook URL", m.Key, m.To))
	case len(a.WebhookSecret) == 0:
		return "", outbox.Permanent(ReasonNoWebhook, fmt.Errorf("webhook: %s: agency %s has no webhook secret", m.Key, m.To))
	}
	u, err := url.Parse(a.WebhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", outbox.Permanent(ReasonNoWebhook, fmt.Errorf("webhook: %s: the webhook URL of agency %s is not an absolute http(s) URL", m.Key, m.To))
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	body := []byte(m.Text)
	ts := strconv.FormatInt(s.cfg.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("webhook: %s: request to agency %s: %w", m.Key, m.To, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, m.Key)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(a.WebhookSecret, ts, body))

	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may hold a token: keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("webhook: %s: post to agency %s (%s): %w", m.Key, m.To, u.Host, err)
	}
	// What the receiver says is neither needed nor logged (it may echo the
	// body); reading a bounded part lets the connection be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return "http " + strconv.Itoa(code), nil
	case code >= 300 && code < 400:
		return "", fmt.Errorf("webhook: %s: agency %s (%s) answered %s: redirects are not followed", m.Key, m.To, u.Host, resp.Status)
	default:
		return "", fmt.Errorf("webhook: %s: agency %s (%s) answered %s", m.Key, m.To, u.Host, resp.Status)
	}
}
