// Package agencycall makes the calls of call steps: it POSTs a signed
// JSON request to an agency's operation (agency/operations.yaml is the
// contract, docs/agency-calls.md explains it to agencies) and turns
// whatever happens into one of the four outcomes of flows.CallOutcome.
// It never fails otherwise: a refused, slow, oversized or malformed
// answer is the failed or timeout outcome with a Reason for the log.
//
// A look-up (Changes false) is retried inside its deadline on a network
// error, a 5xx or a 429; a call that changes something at the agency is
// sent once, and only an idempotent retry by the background sender (same
// Idempotency-Key) ever repeats it.
package agencycall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/webhook"
)

// UserAgent is sent with every call, so that agencies can tell our
// requests apart in their logs and firewalls.
const UserAgent = "govchannels-call/1 (+https://github.com/govchannels/channels)"

// HeaderIdempotencyKey carries the call's key (flows.AgencyRequest.Key),
// the same on every attempt: an agency that has done what a key asked
// answers its first answer again instead of doing it twice.
const HeaderIdempotencyKey = "Idempotency-Key"

const (
	// DefaultDeadline bounds a call whose request has none, as the
	// loader's default: well inside the 10 to 15 s of a USSD hop.
	DefaultDeadline = 4 * time.Second
	// defaultBackoff is the wait before the first retry of a look-up;
	// each retry waits twice as long as the one before.
	defaultBackoff = 100 * time.Millisecond
	// maxRetryAfter is the longest Retry-After of a 429 that is honoured
	// inline; a longer one ends the call (it is transient for Do).
	maxRetryAfter = 2 * time.Second
	// laterTimeout bounds Config.Later: queueing is a local write.
	laterTimeout = 2 * time.Second
	// maxIdlePerAgency is how many idle connections are kept to each
	// agency host.
	maxIdlePerAgency = 32
)

// Config configures a Client.
type Config struct {
	// Agencies gives each agency's API URL and secret, read at every call
	// so that a changed URL or rotated secret applies at once. Required.
	Agencies channels.AgencyStore
	// Transport makes the requests; a clone of http.DefaultTransport when
	// nil (tests pass an httptest TLS server's).
	Transport http.RoundTripper
	// Now is the clock of the signed timestamps and of sent_at; time.Now
	// when nil.
	Now func() time.Time
	// Backoff is the wait before the first inline retry of a look-up,
	// doubled at each retry; 100 ms when zero.
	Backoff time.Duration
	// Later, when set, is called by Ask when a call whose request has
	// Later set runs out of time, before Ask returns the timeout outcome:
	// the citizen is about to be told the answer comes by SMS, so the
	// background call (the outbox message of Kind channels.KindCall) must
	// be durably queued by the time Later returns, never after. Its
	// context keeps the values of Ask's but not its deadline or
	// cancellation, which may have passed with the call's, and allows 2 s.
	// An error turns the outcome into failed (the citizen is told to try
	// later instead).
	Later func(ctx context.Context, req flows.AgencyRequest) error
}

// Client calls agencies' operations; it implements flows.AgencyCaller and
// is safe for concurrent use. Its Reasons never hold the request's params
// or the answer's values, which are citizens' data, nor the API URL's
// path or query, which may carry a token.
type Client struct {
	cfg    Config
	client *http.Client
}

var _ flows.AgencyCaller = (*Client)(nil)

// New returns a Client for cfg; it fails when cfg.Agencies is nil.
func New(cfg Config) (*Client, error) {
	if cfg.Agencies == nil {
		return nil, errors.New("agencycall: Config.Agencies is required")
	}
	if cfg.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Many hops call the same few agencies at once: keep enough
		// connections open to spare each call a TLS handshake.
		t.MaxIdleConnsPerHost = maxIdlePerAgency
		cfg.Transport = t
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = defaultBackoff
	}
	return &Client{cfg: cfg, client: &http.Client{
		Transport: cfg.Transport,
		// A redirect is not an answer: it is taken as it is, a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Ask makes the call within req.Deadline (DefaultDeadline when zero). On
// a timeout of a request with Later set it calls Config.Later first.
func (c *Client) Ask(ctx context.Context, req flows.AgencyRequest) (ans flows.AgencyAnswer) {
	defer func() {
		// A bug in Later must not take the citizen's hop down with it.
		if p := recover(); p != nil {
			ans = failed(req, 0, "internal error: %v", p)
		}
	}()
	deadline := req.Deadline
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	ans, _ = c.Do(ctx, req, deadline)
	if ans.Outcome != flows.OutcomeTimeout || req.Later == nil || c.cfg.Later == nil {
		return ans
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), laterTimeout)
	defer cancel()
	if err := c.cfg.Later(lctx, req); err != nil {
		return flows.AgencyAnswer{Outcome: flows.OutcomeFailed,
			Reason: fmt.Sprintf("%s; and the background call could not be queued: %v", ans.Reason, err)}
	}
	return ans
}

// Do makes the call within timeout, which bounds every attempt and wait
// together, and says whether a failure is transient: a timeout, a network
// error, a 5xx or 429 answer or a store error may go another way later
// (the background sender retries it with the same key); a refusal, a
// malformed answer or an agency without an API URL will not. Found and
// not_found are never transient. Do never calls Config.Later.
func (c *Client) Do(ctx context.Context, req flows.AgencyRequest, timeout time.Duration) (ans flows.AgencyAnswer, transient bool) {
	defer func() {
		// A bug here must not take the citizen's hop down with it.
		if p := recover(); p != nil {
			ans, transient = failed(req, 0, "internal error: %v", p), false
		}
	}()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		// The caller's deadline comes first: say so in a timeout's Reason.
		timeout = time.Until(dl).Round(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	a, err := c.cfg.Agencies.Agency(ctx, req.Agency)
	switch {
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		return failed(req, 0, "no agency %s", req.Agency), false
	case err != nil:
		return failed(req, 0, "read the agency: %v", err), true
	case a.APIURL == "":
		return failed(req, 0, "agency %s has no API URL", req.Agency), false
	case len(a.WebhookSecret) == 0:
		return failed(req, 0, "agency %s has no secret to sign calls with", req.Agency), false
	}
	base, err := url.Parse(a.APIURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return failed(req, 0, "the API URL of agency %s is not an absolute http(s) URL", req.Agency), false
	}
	if !operationName(req.Operation) {
		return failed(req, 0, "the operation name is not [a-z][a-z0-9_]{0,40}"), false
	}
	target := base.JoinPath("operations", req.Operation)
	body, err := NewRequest(req, c.cfg.Now()).Marshal()
	if err != nil {
		return failed(req, 0, "%v", err), false
	}

	wait := c.cfg.Backoff
	for attempt := 1; ; attempt++ {
		res := c.attempt(ctx, req, target, a.WebhookSecret, body)
		if res.answer != nil {
			return *res.answer, false
		}
		if ctx.Err() != nil {
			return ended(ctx, req, attempt, timeout, res.reason)
		}
		if !res.retry || req.Changes {
			return failed(req, attempt, "%s", res.reason), res.retry
		}
		pause := max(wait, res.retryAfter)
		if res.retryAfter > maxRetryAfter || !fits(ctx, pause) {
			return failed(req, attempt, "%s, no time left to retry", res.reason), true
		}
		select {
		case <-ctx.Done():
			return ended(ctx, req, attempt, timeout, res.reason)
		case <-time.After(pause):
		}
		wait *= 2
	}
}

// attemptResult is how one attempt ended: with an answer (found or
// not_found), or with the reason it failed and whether the call may be
// made again.
type attemptResult struct {
	answer     *flows.AgencyAnswer
	reason     string
	retry      bool
	retryAfter time.Duration
}

// attempt POSTs body once and reads the answer.
func (c *Client) attempt(ctx context.Context, req flows.AgencyRequest, target *url.URL, secret, body []byte) attemptResult {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return attemptResult{reason: "make the request: " + err.Error()}
	}
	ts := strconv.FormatInt(c.cfg.Now().Unix(), 10)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", UserAgent)
	hr.Header.Set(HeaderIdempotencyKey, req.Key)
	hr.Header.Set(webhook.HeaderID, req.Key)
	hr.Header.Set(webhook.HeaderTimestamp, ts)
	hr.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, body))

	resp, err := c.client.Do(hr)
	if err != nil {
		// *url.Error repeats the URL, which may hold a token: keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return attemptResult{reason: fmt.Sprintf("post to %s: %v", target.Host, err), retry: true}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return attemptResult{reason: "answered " + resp.Status, retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case code >= 500:
		return attemptResult{reason: "answered " + resp.Status, retry: true}
	case code >= 300 && code < 400:
		return attemptResult{reason: "answered " + resp.Status + ": redirects are not followed"}
	case code != http.StatusOK:
		return attemptResult{reason: "answered " + resp.Status}
	case err != nil:
		return attemptResult{reason: "read the answer: " + err.Error(), retry: true}
	case len(raw) > MaxAnswer:
		return attemptResult{reason: fmt.Sprintf("answer over %d bytes", MaxAnswer)}
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return attemptResult{reason: fmt.Sprintf("answer of Content-Type %s, not application/json", quote(resp.Header.Get("Content-Type")))}
	}
	ans, err := Decode(raw, req.Returns)
	if err != nil {
		return attemptResult{reason: err.Error()}
	}
	return attemptResult{answer: &ans}
}

// ended is the outcome of a call whose context ended: a timeout when its
// deadline passed (the caller's or the call's own), a failure when the
// caller cancelled it. Both are transient.
func ended(ctx context.Context, req flows.AgencyRequest, attempts int, timeout time.Duration, reason string) (flows.AgencyAnswer, bool) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		a := failed(req, attempts, "no answer within the deadline of %v (%s)", timeout, reason)
		a.Outcome = flows.OutcomeTimeout
		return a, true
	}
	return failed(req, attempts, "cancelled (%s)", reason), true
}

// failed is the failed outcome of req with a Reason naming the agency,
// the operation, the key and, when more than one, the attempts made.
func failed(req flows.AgencyRequest, attempts int, format string, args ...any) flows.AgencyAnswer {
	var b strings.Builder
	fmt.Fprintf(&b, "call %s/%s %s: ", req.Agency, req.Operation, req.Key)
	fmt.Fprintf(&b, format, args...)
	if attempts > 1 {
		fmt.Fprintf(&b, " (%d attempts)", attempts)
	}
	return flows.AgencyAnswer{Outcome: flows.OutcomeFailed, Reason: b.String()}
}

// fits reports whether ctx leaves time for a pause and a short attempt
// after it.
func fits(ctx context.Context, pause time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > pause+pause/2+50*time.Millisecond
}

// retryAfter reads a Retry-After header in seconds; 0 when absent or
// not in seconds.
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// operationName reports whether s is an operation name the loader
// accepts, so that it can be a path segment as it is.
func operationName(s string) bool {
	if len(s) == 0 || len(s) > 41 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
