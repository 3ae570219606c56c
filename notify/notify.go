// Package notify tells whoever needs to know of each change of a case. It
// follows the store's case log from a durable cursor and turns every event
// into outbound messages: a signed webhook to the case's agency for each
// new case and status change, and a notice to the citizen, in their
// language, for each status change an agency or operator makes (by push
// to their app when it registered a device, the SMS kept as fallback; by
// SMS otherwise). It sends nothing itself: the messages go into the
// durable outbox under keys derived from the event, so an event handled
// again after a crash queues nothing twice.
package notify

import (
	"context"
	"fmt"
	"log/slog"
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
	Log   *slog.Logger     // discarded when nil
	Now   func() time.Time // time.Now when nil
}

// Notifier follows the case log. Run it in one process per store.
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
// handle (the store failing) stops the pass and is tried again at the
// next, so events are handled in order and none is skipped.
func (n *Notifier) Run(ctx context.Context) error {
	poll := time.NewTimer(n.cfg.Poll)
	defer poll.Stop()
	for {
		handled, err := n.Pass(ctx)
		if err != nil {
			n.log.Error("notify: pass", "err", err)
		}
		if ctx.Err() != nil {
			return nil
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
// moves the cursor past those handled. It returns how many it handled.
func (n *Notifier) Pass(ctx context.Context) (int, error) {
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
		if failed = n.handle(ctx, e); failed != nil {
			failed = fmt.Errorf("notify: event %d of case %s: %w", e.Seq, e.Ref, failed)
			break
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
