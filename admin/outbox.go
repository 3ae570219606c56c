package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/later"
)

// MaxOutboxLimit bounds how many failed messages one listing returns; more
// are read page by page after the last key.
const MaxOutboxLimit = 1000

// OutboxKinds are the names an operator gives the kinds of outbox message,
// in the order they are listed: "event" is a case event the notifier
// parked, "call" an agency call finished in the background (package
// later).
var OutboxKinds = []string{"sms", "push", "webhook", "event", "call"}

// OutboxOperations is what the people who run a deployment can do with
// the messages the outbox gave up on and the case events the notifier
// parked: list them and send one again.
type OutboxOperations interface {
	// FailedMessages returns up to limit (100 when zero; EINVALID over
	// MaxOutboxLimit) failed messages of kind (one of OutboxKinds), by
	// key, those after the key after.
	FailedMessages(ctx context.Context, kind, after string, limit int) ([]FailedMessage, error)
	// RetryMessage queues the failed message key again as a fresh
	// message, with all its attempts: a parked event is handled again.
	// A one-time code is never sent twice, nor a message past its
	// expiry: EINVALID. ENOTFOUND when there is no such message,
	// ECONFLICT when it is not failed.
	RetryMessage(ctx context.Context, key string) (*FailedMessage, error)
}

// FailedMessage is what may be shown of an outbox message: never its text,
// which may hold a code or a citizen's answers, and a phone only masked.
type FailedMessage struct {
	Key  string `json:"key"`
	Kind string `json:"kind"` // one of OutboxKinds
	// To is the phone, masked, of an SMS or push notice; the agency of a
	// webhook; the case reference of a parked event.
	To        string                  `json:"to"`
	Purpose   string                  `json:"purpose"`
	Status    channels.OutboundStatus `json:"status"`
	Attempts  int                     `json:"attempts"`
	Reason    string                  `json:"reason,omitempty"`
	Sender    string                  `json:"sender,omitempty"`
	CreatedAt time.Time               `json:"created_at"`
	UpdatedAt time.Time               `json:"updated_at"`
	// Refusal says why RetryMessage would refuse it; empty when it may be
	// sent again.
	Refusal string `json:"refusal,omitempty"`
}

// outboxKind returns the store's kind for an operator's name of it.
func outboxKind(name string) (string, error) {
	switch name {
	case "sms":
		return channels.KindSMS, nil
	case "push":
		return channels.KindPush, nil
	case "webhook":
		return channels.KindWebhook, nil
	case "event":
		return channels.KindEvent, nil
	case "call":
		return channels.KindCall, nil
	}
	return "", channels.Errorf(channels.EINVALID, "error.bad_request", "kind %q: one of sms, push, webhook, event, call", name)
}

// kindName is the operator's name of the store's kind.
func kindName(kind string) string {
	if kind == channels.KindSMS {
		return "sms"
	}
	return kind
}

// FailedMessages returns the failed messages of kind after the key after.
func (a *Admin) FailedMessages(ctx context.Context, kind, after string, limit int) ([]FailedMessage, error) {
	k, err := outboxKind(kind)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 0 || limit > MaxOutboxLimit {
		return nil, channels.Errorf(channels.EINVALID, "error.bad_request", "limit %d: list 1 to %d messages at a time (page on after the last key)", limit, MaxOutboxLimit)
	}
	ms, err := a.store.FailedOutbound(ctx, k, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list failed %s messages: %w", kind, err)
	}
	now := a.now()
	out := make([]FailedMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, failedMessage(m, now))
	}
	return out, nil
}

// RetryMessage queues the failed message key again, unless it must not be
// sent twice or is no longer worth sending.
func (a *Admin) RetryMessage(ctx context.Context, key string) (*FailedMessage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, err := a.store.Outbound(ctx, key)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "no outbox message %q (list the failed ones with 'channels outbox failed')", key)
	}
	if err != nil {
		return nil, fmt.Errorf("read outbox message %s: %w", key, err)
	}
	now := a.now()
	if why := refusal(m, now); why != "" {
		return nil, channels.Errorf(channels.EINVALID, "error.bad_request", "message %s is not sent again: %s", key, why)
	}
	if m.Status != channels.OutboundFailed {
		return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "message %s is %s, not failed: there is nothing to retry", key, m.Status)
	}
	m, err = a.store.RequeueOutbound(ctx, key, now)
	if channels.ErrorCode(err) == channels.ECONFLICT {
		return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "message %s changed meanwhile and is no longer failed", key)
	}
	if err != nil {
		return nil, fmt.Errorf("queue outbox message %s again: %w", key, err)
	}
	out := failedMessage(m, now)
	return &out, nil
}

// refusal says why m must not be sent again at now, "" when it may be.
func refusal(m *channels.Outbound, now time.Time) string {
	switch {
	case m.AtMostOnce || m.Purpose == channels.PurposeOTP:
		return "it is a one-time code, which never reaches a phone twice; the citizen asks for a new code"
	case !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt):
		return "it expired at " + m.ExpiresAt.UTC().Format(time.RFC3339) + " and is no longer worth sending"
	case m.Kind == channels.KindCall:
		return "the citizen was sent the failed screen of the call when it failed, and a call answers once: ask them to try again"
	case m.Reason == later.ReasonCancelled:
		return "it is a reminder of something cancelled"
	}
	return ""
}

func failedMessage(m *channels.Outbound, now time.Time) FailedMessage {
	to := m.To
	if m.Kind == channels.KindSMS || m.Kind == channels.KindPush {
		to = channels.MaskPhone(to)
	}
	return FailedMessage{
		Key: m.Key, Kind: kindName(m.Kind), To: to, Purpose: m.Purpose, Status: m.Status, Attempts: m.Attempts,
		Reason: m.Reason, Sender: m.Sender, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, Refusal: refusal(m, now),
	}
}

// retryRequest is the body of POST /v1/outbox/retry: keys hold slashes,
// so the key is not in the path.
type retryRequest struct {
	Key string `json:"key"`
}

func (s *Server) failedMessages(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, nil, channels.Errorf(channels.EINVALID, "error.bad_request", "limit %q is not a number", v)
		}
		limit = n
	}
	out, err := s.ops.FailedMessages(r.Context(), q.Get("kind"), q.Get("after"), limit)
	return http.StatusOK, out, err
}

func (s *Server) retryMessage(r *http.Request) (int, any, error) {
	var req retryRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	out, err := s.ops.RetryMessage(r.Context(), req.Key)
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: outbox message queued again", "key", out.Key, "kind", out.Kind)
	return http.StatusOK, out, nil
}

// FailedMessages implements Operations.
func (c *Client) FailedMessages(ctx context.Context, kind, after string, limit int) ([]FailedMessage, error) {
	q := make(url.Values)
	q.Set("kind", kind)
	if after != "" {
		q.Set("after", after)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []FailedMessage
	if err := c.do(ctx, http.MethodGet, "/v1/outbox/failed?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// RetryMessage implements Operations.
func (c *Client) RetryMessage(ctx context.Context, key string) (*FailedMessage, error) {
	var out FailedMessage
	if err := c.do(ctx, http.MethodPost, "/v1/outbox/retry", retryRequest{Key: key}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
