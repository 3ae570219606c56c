// Package notify tells whoever needs to know of each change of a case. It
// follows the store's case log from a durable cursor and turns every event
// into outbound messages: a signed webhook to the case's agency for each
// new case and status change, and a notice to the citizen, in their
// language, for each status change an agency or operator makes (by push
// to their app when it registered a device, the SMS kept as fallback; by
// SMS otherwise). It sends nothing itself: the messages go into the
// durable outbox under keys derived from the event, so an event handled
// again after a crash queues nothing twice.
//
// An event it cannot handle (the store failing, a case it cannot read)
// holds up no other: it is kept in the outbox as a message of kind
// channels.KindEvent, tried again with backoff, and after MaxAttempts
// failed (parked) where `channels outbox failed` lists it and `channels
// outbox retry` gives it fresh attempts.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// CursorName is the name under which the notifier's position in the case
// log is stored.
const CursorName = "notify"

// Store is what the notifier reads and where it keeps its cursor.
type Store interface {
	channels.CaseLog
	channels.CaseStore
	channels.PrefStore
	channels.DeviceStore
	channels.AgencyStore
	channels.OutboxStore // where the events it could not handle wait
}

// Outbox queues outbound messages durably (outbox.Outbox does).
type Outbox interface {
	Send(ctx context.Context, ms ...*channels.Outbound) error
}

// Config configures a Notifier. Store, Outbox, Bundle and Catalog are
// required.
type Config struct {
	Store   Store
	Outbox  Outbox
	Bundle  *locales.Bundle
	Catalog *flows.Catalog // the services' titles
	// Webhook makes the agency webhook of an event (webhook.Message); no
	// webhooks are queued when nil.
	Webhook func(channels.CaseEvent, *channels.Case) (*channels.Outbound, error)
	// Push says whether push notices can be sent; without, every notice
	// goes by SMS.
	Push bool
	// DeepLink is the app link sent with a push notice, "{ref}" replaced
	// by the case's reference; "channels://cases/{ref}" when empty.
	DeepLink string
	// NoticeTTL is how long a notice may wait for a gateway before it is
	// dropped as stale; 7 days when zero.
	NoticeTTL time.Duration
	// Poll is how often Run looks for new events when nothing wakes it;
	// 500ms when zero. Batch is how many events one pass reads; 100 when
	// zero.
	Poll  time.Duration
	Batch int
	// MaxAttempts is how many times an event is tried before it is
	// parked; 6 when zero. Backoff is the wait after its first failure,
	// doubled after each next one up to MaxBackoff; 2s and 10min when
	// zero (with the defaults, an event is parked about a minute after
	// it first failed).
	MaxAttempts         int
	Backoff, MaxBackoff time.Duration
	Log                 *slog.Logger     // discarded when nil
	Now                 func() time.Time // time.Now when nil
}

// Notifier follows the case log. Run it in one process per store at a
// time: instances sharing a store elect the one that runs it through the
// store's channels.Leadership (cmd/channels does). Two at once would
// queue nothing twice (the keys come from the events) but would race on
// the cursor and the events set aside.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	wakeup chan struct{}
}

// maxNote is how many characters of an agency's note a notice carries:
// two SMS segments' worth with the rest of the text.
const maxNote = 200

// New returns a Notifier for cfg. It panics when a required field is
// missing, a wiring mistake.
func New(cfg Config) *Notifier {
	if cfg.Store == nil || cfg.Outbox == nil || cfg.Bundle == nil || cfg.Catalog == nil {
		panic("notify: Config needs Store, Outbox, Bundle and Catalog")
	}
	if cfg.DeepLink == "" {
		cfg.DeepLink = "channels://cases/{ref}"
	}
	if cfg.NoticeTTL <= 0 {
		cfg.NoticeTTL = 7 * 24 * time.Hour
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, log: log, wakeup: make(chan struct{}, 1)}
}

// Wake makes Run look for events now rather than at its next poll.
func (n *Notifier) Wake() {
	select {
	case n.wakeup <- struct{}{}:
	default:
	}
}

// Run handles events until ctx ends, then returns nil. An event it cannot
// handle is set aside to be tried again (see Pass), so that the events
// after it go on.
func (n *Notifier) Run(ctx context.Context) error {
	poll := time.NewTimer(n.cfg.Poll)
	defer poll.Stop()
	for {
		handled, err := n.Pass(ctx)
		if ctx.Err() != nil {
			return nil // stopped, or its leadership lost: not a failure of the pass
		}
		if err != nil {
			n.log.Error("notify: pass", "err", err)
		}
		if err == nil && handled == n.cfg.Batch {
			continue
		}
		poll.Reset(n.cfg.Poll)
		select {
		case <-ctx.Done():
			return nil
		case <-n.wakeup:
		case <-poll.C:
		}
	}
}

// Pass handles the events after the cursor, up to Batch of them, and
// moves the cursor past those handled. An event that fails is set aside
// in the outbox as a message of kind KindEvent, due again after Backoff,
// and counts as handled; only when even that cannot be stored does the
// pass stop there, to try it again at the next. Pass then tries the
// events set aside that are due. It returns how many events after the
// cursor it handled.
func (n *Notifier) Pass(ctx context.Context) (int, error) {
	handled, err := n.follow(ctx)
	if rerr := n.retry(ctx); rerr != nil && err == nil {
		err = rerr
	}
	return handled, err
}

// follow handles the events after the cursor.
func (n *Notifier) follow(ctx context.Context) (int, error) {
	after, err := n.cfg.Store.Cursor(ctx, CursorName)
	if err != nil {
		return 0, fmt.Errorf("notify: read cursor: %w", err)
	}
	events, err := n.cfg.Store.CaseEvents(ctx, after, n.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("notify: read events after %d: %w", after, err)
	}
	handled := 0
	var failed error
	for _, e := range events {
		if err := n.handle(ctx, e); err != nil {
			if failed = n.setAside(ctx, e, err); failed != nil {
				break
			}
		}
		handled++
	}
	if handled > 0 {
		if err := n.cfg.Store.PutCursor(ctx, CursorName, events[handled-1].Seq); err != nil {
			// The events are handled again; their keys keep that harmless.
			return handled, fmt.Errorf("notify: move cursor to %d: %w", events[handled-1].Seq, err)
		}
	}
	return handled, failed
}

// eventKey is the outbox key of event seq set aside.
func eventKey(seq uint64) string { return "event/" + strconv.FormatUint(seq, 10) }

// setAside keeps event e, which failed with err, in the outbox to be tried
// again (or parks it at once when only one attempt is allowed). It returns
// an error only when that cannot be stored.
func (n *Notifier) setAside(ctx context.Context, e channels.CaseEvent, err error) error {
	now := n.cfg.Now()
	m := &channels.Outbound{
		Key: eventKey(e.Seq), Kind: channels.KindEvent, To: e.Ref,
		Data:    map[string]string{"seq": strconv.FormatUint(e.Seq, 10)},
		Purpose: channels.PurposeEvent, Status: channels.OutboundQueued, CreatedAt: now,
	}
	n.failed(m, err, now)
	if serr := n.cfg.Store.Enqueue(ctx, m); serr != nil {
		return fmt.Errorf("notify: event %d of case %s failed (%v) and cannot be set aside: %w", e.Seq, e.Ref, err, serr)
	}
	return nil
}

// failed records on m, the event it stands for having failed with err at
// now, one more attempt: queued again after the backoff, or failed (parked)
// once its attempts are spent. It logs either.
func (n *Notifier) failed(m *channels.Outbound, err error, now time.Time) {
	m.Attempts++
	m.Reason, m.UpdatedAt = reason(err), now
	attrs := []any{"ref", m.To, "event", m.Data["seq"], "attempts", m.Attempts, "err", m.Reason}
	if m.Attempts >= n.cfg.MaxAttempts {
		m.Status = channels.OutboundFailed
		n.log.Error("notify: event parked after its last attempt; see channels outbox failed -kind event", attrs...)
		return
	}
	m.Status, m.NextAttempt = channels.OutboundQueued, now.Add(n.backoff(m.Attempts))
	n.log.Warn("notify: event failed, will retry", append(attrs, "next_attempt", m.NextAttempt)...)
}

// backoff is the wait after attempt number attempts (1 for the first).
func (n *Notifier) backoff(attempts int) time.Duration {
	d := n.cfg.Backoff
	for i := 1; i < attempts && d < n.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, n.cfg.MaxBackoff)
}

// phoneNumber finds the phone numbers an error's text may carry.
var phoneNumber = regexp.MustCompile(`\+[0-9]{6,15}`)

// maxReason bounds the reason kept on a parked event.
const maxReason = 300

// reason is what an operator is shown of why an event failed: the error,
// phones masked, bounded.
func reason(err error) string {
	r := phoneNumber.ReplaceAllStringFunc(err.Error(), channels.MaskPhone)
	if len(r) > maxReason {
		r = strings.ToValidUTF8(r[:maxReason], "") + "…"
	}
	return r
}

// retry tries again the events set aside that are due, each once.
func (n *Notifier) retry(ctx context.Context) error {
	now := n.cfg.Now()
	due, err := n.cfg.Store.DueOutbound(ctx, channels.KindEvent, now, n.cfg.Batch)
	if err != nil {
		return fmt.Errorf("notify: read events set aside: %w", err)
	}
	for _, m := range due {
		err := n.again(ctx, m)
		now := n.cfg.Now()
		if err == nil {
			m.Status, m.Reason, m.UpdatedAt = channels.OutboundSent, "", now
			n.log.Info("notify: event handled on a retry", "ref", m.To, "event", m.Data["seq"], "attempts", m.Attempts+1)
		} else {
			n.failed(m, err, now)
		}
		if err := n.cfg.Store.UpdateOutbound(ctx, m); err != nil {
			return fmt.Errorf("notify: record the retry of event %s: %w", m.Data["seq"], err)
		}
	}
	return nil
}

// again handles once more the event that the message m stands for.
func (n *Notifier) again(ctx context.Context, m *channels.Outbound) error {
	seq, err := strconv.ParseUint(m.Data["seq"], 10, 64)
	if err != nil || seq == 0 {
		return fmt.Errorf("set aside without an event number: %q", m.Data["seq"])
	}
	events, err := n.cfg.Store.CaseEvents(ctx, seq-1, 1)
	if err != nil {
		return fmt.Errorf("read event %d: %w", seq, err)
	}
	if len(events) == 0 || events[0].Seq != seq {
		return fmt.Errorf("event %d is not in the case log", seq)
	}
	return n.handle(ctx, events[0])
}

// handle queues what event e calls for.
func (n *Notifier) handle(ctx context.Context, e channels.CaseEvent) error {
	c, err := n.cfg.Store.Case(ctx, e.Ref)
	if err != nil {
		return err
	}
	var ms []*channels.Outbound
	hook, err := n.webhook(ctx, e, c)
	if err != nil {
		return err
	}
	if hook != nil {
		ms = append(ms, hook)
	}
	// A citizen served at a kiosk without a phone has nowhere to be
	// told: they ask at a kiosk. Their case still reaches its agency.
	if !e.Created && e.Change.Actor != flows.ActorCitizen && c.Phone != "" {
		notice, err := n.notice(ctx, e, c)
		if err != nil {
			return err
		}
		ms = append(ms, notice)
	}
	if len(ms) == 0 {
		return nil
	}
	return n.cfg.Outbox.Send(ctx, ms...)
}

// webhook returns the webhook of e for the case's agency, nil when the
// agency has none (or is not registered, or webhooks are off).
func (n *Notifier) webhook(ctx context.Context, e channels.CaseEvent, c *channels.Case) (*channels.Outbound, error) {
	if n.cfg.Webhook == nil || c.Agency == "" {
		return nil, nil
	}
	a, err := n.cfg.Store.Agency(ctx, c.Agency)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if a.WebhookURL == "" {
		return nil, nil
	}
	m, err := n.cfg.Webhook(e, c)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return m, nil
}

// notice returns the citizen's notice of the status change e: a push
// notice with the SMS as its fallback when push is on and the phone has a
// device, else the SMS.
func (n *Notifier) notice(ctx context.Context, e channels.CaseEvent, c *channels.Case) (*channels.Outbound, error) {
	lang, err := n.lang(ctx, c)
	if err != nil {
		return nil, err
	}
	title := channels.Msg(c.Service)
	if svc := n.cfg.Catalog.Service(c.Service); svc != nil {
		title = channels.Msg(svc.Title)
	}
	status := channels.Msg("status." + string(e.Change.Status))
	msg := channels.Msg("notice.status", "Service", title, "Reference", c.Ref, "Status", status)
	if note := flows.CitizenNote(e.Change.Status, e.Change.Note, maxNote); note != "" {
		id := "notice.status.note"
		if e.Change.Status == channels.StatusMoreInfo {
			id = "notice.more_info"
		}
		msg = channels.Msg(id, "Service", title, "Reference", c.Ref, "Status", status, "Note", note)
	}
	text := n.cfg.Bundle.Text(lang, msg)
	key := "notice/" + strconv.FormatUint(e.Seq, 10)
	expires := n.cfg.Now().Add(n.cfg.NoticeTTL)
	sms := &channels.Outbound{Key: key, To: c.Phone, Text: text, Purpose: channels.PurposeNotice, ExpiresAt: expires}
	if !n.cfg.Push {
		return sms, nil
	}
	devices, err := n.cfg.Store.Devices(ctx, c.Phone)
	if err != nil {
		return nil, err
	}
	if len(devices) == 0 {
		return sms, nil
	}
	sms.Key = key + "/sms"
	return &channels.Outbound{
		Key:   key,
		Kind:  channels.KindPush,
		To:    c.Phone,
		Title: n.cfg.Bundle.Text(lang, title),
		Text:  text,
		Data: map[string]string{
			"reference": c.Ref,
			"status":    string(e.Change.Status),
			"link":      strings.ReplaceAll(n.cfg.DeepLink, "{ref}", c.Ref),
		},
		Purpose:   channels.PurposeNotice,
		ExpiresAt: expires,
		Fallback:  sms,
	}, nil
}

// lang is the language of the citizen's notices: the one they chose last
// on any channel, else the one they applied in.
func (n *Notifier) lang(ctx context.Context, c *channels.Case) (string, error) {
	p, err := n.cfg.Store.Prefs(ctx, c.Phone)
	if err != nil {
		return "", err
	}
	if p.Lang != "" && n.cfg.Bundle.Supports(p.Lang) {
		return p.Lang, nil
	}
	if n.cfg.Bundle.Supports(c.Lang) {
		return c.Lang, nil
	}
	return locales.Default, nil
}
