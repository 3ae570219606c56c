// Package later owns what reaches a citizen after their session: the
// answer of an agency call that ran out of time inside a hop and was
// finished in the background, and the reminders call steps schedule.
//
// A late call is an outbox message of kind channels.KindCall, stored
// before the citizen is told "the answer will come by SMS" (Enqueue), and
// made again by the outbox through Sender with the same Idempotency-Key and
// a longer timeout. Its answer is rendered as the end screen the outcome
// leads to, in the citizen's language, and queued as an SMS (a push notice
// with the SMS as fallback on the app) under the key "answer/" + the
// call's key, so that a call answers once however often it is made. The
// failed exit's screen is worked out when the call is queued and kept as
// the message's Fallback: when the agency refuses for good or the attempts
// run out, the outbox queues it, and nothing a crash interrupts loses the
// answer.
package later

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/sms"
)

// The key prefixes of the messages of this package: the background call,
// its answer to the citizen, and a reminder.
const (
	KeyCall   = "call/"
	KeyAnswer = "answer/"
	KeyRemind = "remind/"
)

// The titles of the push notices this package sends (locales/later.*.yaml).
// The SMS of the same message has no title; a push notice needs one that
// says what came, in the citizen's language.
const (
	// MsgAnswerTitle titles a late answer; its argument Service is the
	// service's title in the citizen's language.
	MsgAnswerTitle = "later.answer.title"
	// MsgReminderTitle titles a reminder.
	MsgReminderTitle = "later.reminder.title"
)

// The reasons a late call fails for good (its Fallback, the failed exit's
// screen, then goes to the citizen).
const (
	ReasonRefused  = "agency_failed" // the agency refused or answered something malformed
	ReasonBadCall  = "bad_call"      // the stored call cannot be read
	ReasonNoScreen = "no_screen"     // the answer leads to no screen the citizen can be sent
)

// Caller makes a call within timeout and says whether a failure is
// transient (worth another attempt later). *agencycall.Client is one.
type Caller interface {
	Do(ctx context.Context, req flows.AgencyRequest, timeout time.Duration) (flows.AgencyAnswer, bool)
}

// LaterFunc returns what the answer to a call leads to from the state
// that waited on it: its end screen and, when the step asks for one, a
// reminder. (*flows.Engine).LaterResult is the one a deployment uses.
type LaterFunc func(state []byte, a flows.AgencyAnswer) (flows.Result, error)

// Config configures a Sender. Store, Caller, Later and Bundle are
// required.
type Config struct {
	// Store is where the late calls and their answers are queued: the
	// outbox's store, whose dispatcher sends them.
	Store  channels.OutboxStore
	Caller Caller
	Later  LaterFunc
	Bundle *locales.Bundle
	// Catalog gives the services' titles, the title of a push notice;
	// the service ID when nil.
	Catalog *flows.Catalog
	// Layout bounds the SMS of an answer, as the SMS channel's replies.
	Layout sms.Layout
	// Devices, when set, are the app devices of a phone: a citizen who
	// asked on the app and has one gets a push notice, the SMS as its
	// fallback. Nil when push is off: everyone gets the SMS.
	Devices channels.DeviceStore
	// Timeout bounds one background attempt; 30 s when zero (within the
	// outbox's minute per attempt).
	Timeout time.Duration
	// CallTTL is how long a late call is tried before the citizen is sent
	// the failed exit's screen; 1 hour when zero. AnswerTTL is how long an
	// answer waits for a gateway before it is dropped; 24 hours when zero.
	CallTTL, AnswerTTL time.Duration
	// RemindTTL is how long after its time a reminder is still worth
	// sending (the outbox was down, the gateway failed); 12 hours when
	// zero.
	RemindTTL time.Duration
	// Locks, when set, are the outbox's (outbox.Config.Locks): a reminder
	// is replaced or cancelled under the lock an attempt at it holds, so
	// that a change in the very second it is sent waits for the attempt's
	// record, on whichever instance it runs.
	Locks channels.KeyLocker
	Log   *slog.Logger     // discarded when nil
	Now   func() time.Time // time.Now when nil
}

// Sender sends the late calls (outbox messages of kind channels.KindCall)
// and queues their answers; it is an outbox.Sender. Enqueue queues a call.
type Sender struct {
	cfg       Config
	log       *slog.Logger
	reminders *Reminders
}

var _ outbox.Sender = (*Sender)(nil)

// New returns a Sender for cfg. It panics when a required field is
// missing, a wiring mistake.
func New(cfg Config) *Sender {
	if cfg.Store == nil || cfg.Caller == nil || cfg.Later == nil || cfg.Bundle == nil {
		panic("later: Config needs Store, Caller, Later and Bundle")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.CallTTL <= 0 {
		cfg.CallTTL = time.Hour
	}
	if cfg.AnswerTTL <= 0 {
		cfg.AnswerTTL = 24 * time.Hour
	}
	if cfg.RemindTTL <= 0 {
		cfg.RemindTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sender{cfg: cfg, log: log}
	s.reminders = &Reminders{sender: s}
	return s
}

// Reminders returns the reminders kept in the same store, rendered and
// addressed as the late answers are: the host's flows.Reminders. Late
// answers that ask for a reminder schedule it there too.
func (s *Sender) Reminders() *Reminders { return s.reminders }

// call is the Text of a KindCall message: the request as the hop made
// it, with the state waiting on it in Request.Later.
type call struct {
	Request flows.AgencyRequest `json:"request"`
}

// Enqueue stores the background call of req durably, with the failed
// exit's screen as its Fallback, before the citizen is told that the
// answer will come: agencycall.Config.Later. It refuses a request with no
// state waiting on it or no phone to send the answer to (a kiosk citizen
// without one); the caller then shows the failed exit instead. A second
// Enqueue of the same call (a gateway's retry of the hop) stores nothing.
func (s *Sender) Enqueue(ctx context.Context, req flows.AgencyRequest) error {
	switch {
	case req.Later == nil:
		return fmt.Errorf("later: call %s has no state waiting on it", req.Key)
	case req.Phone == "":
		return fmt.Errorf("later: call %s has no phone to send its answer to", req.Key)
	case req.Key == "" || req.Agency == "":
		return fmt.Errorf("later: call %q to agency %q without a key or an agency", req.Key, req.Agency)
	}
	res, err := s.cfg.Later(req.Later, flows.AgencyAnswer{Outcome: flows.OutcomeFailed, Reason: "the background call gave up"})
	if err != nil {
		return fmt.Errorf("later: the failed screen of call %s: %w", req.Key, err)
	}
	now := s.cfg.Now()
	fallback, err := s.message(ctx, req, KeyAnswer+req.Key, res.Screen, now)
	if err != nil {
		return err
	}
	text, err := json.Marshal(call{Request: req})
	if err != nil {
		return fmt.Errorf("later: encode call %s: %w", req.Key, err)
	}
	m := &channels.Outbound{
		Key:       KeyCall + req.Key,
		Kind:      channels.KindCall,
		To:        req.Agency,
		Text:      string(text),
		Purpose:   channels.PurposeReply,
		Fallback:  fallback,
		ExpiresAt: now.Add(s.cfg.CallTTL),
	}
	if err := s.cfg.Store.Enqueue(ctx, queued(now, m)...); err != nil {
		return fmt.Errorf("later: queue call %s: %w", req.Key, err)
	}
	s.log.InfoContext(ctx, "later: call queued", "key", m.Key, "agency", req.Agency, "operation", req.Operation)
	return nil
}

// Name implements outbox.Sender.
func (s *Sender) Name() string { return "later" }

// Send implements outbox.Sender for a KindCall message: it makes the call
// again and queues the screen its answer leads to. A transient failure is
// an error the outbox retries with backoff; a definitive one is permanent,
// and the outbox then queues the message's Fallback, the failed exit's
// screen. The answer's key makes a repeat after a crash harmless.
func (s *Sender) Send(ctx context.Context, m *channels.Outbound) (string, error) {
	var c call
	if err := json.Unmarshal([]byte(m.Text), &c); err != nil {
		return "", outbox.Permanent(ReasonBadCall, fmt.Errorf("later: read call %s: %w", m.Key, err))
	}
	req := c.Request
	ans, transient := s.cfg.Caller.Do(ctx, req, s.cfg.Timeout)
	switch {
	case ans.Outcome == flows.OutcomeFound || ans.Outcome == flows.OutcomeNotFound:
	case transient:
		return "", fmt.Errorf("later: call %s: %s", req.Key, ans.Reason)
	default:
		return "", outbox.Permanent(ReasonRefused, fmt.Errorf("later: call %s: %s", req.Key, ans.Reason))
	}
	res, err := s.cfg.Later(req.Later, ans)
	if err != nil {
		return "", outbox.Permanent(ReasonNoScreen, fmt.Errorf("later: the screen of call %s: %w", req.Key, err))
	}
	if res.Reminder != nil {
		// As in a hop: a reminder that cannot be kept is logged, and the
		// citizen still gets the answer of what the agency did.
		rm := *res.Reminder
		rm.Phone = req.Phone
		if err := s.reminders.Remind(ctx, rm); err != nil {
			s.log.ErrorContext(ctx, "later: keep the reminder of a late call", "key", req.Key, "reminder", rm.Key, "err", err)
		}
	}
	now := s.cfg.Now()
	answer, err := s.message(ctx, req, KeyAnswer+req.Key, res.Screen, now)
	if err != nil {
		return "", err
	}
	if err := s.cfg.Store.Enqueue(ctx, queued(now, answer)...); err != nil {
		return "", fmt.Errorf("later: queue the answer of call %s: %w", req.Key, err)
	}
	s.log.InfoContext(ctx, "later: answer queued", "key", answer.Key, "outcome", string(ans.Outcome))
	return answer.Key, nil
}

// message returns the screen sc as the message to the citizen of req
// under key, made at now: a push notice with the SMS as fallback when
// they asked on the app and it has a device, else the SMS.
func (s *Sender) message(ctx context.Context, req flows.AgencyRequest, key string, sc channels.Screen, now time.Time) (*channels.Outbound, error) {
	lang := s.lang(req.Lang)
	text := sms.Render(s.cfg.Bundle, lang, sc, s.cfg.Layout)
	service := req.Service
	if s.cfg.Catalog != nil {
		if svc := s.cfg.Catalog.Service(req.Service); svc != nil {
			service = s.cfg.Bundle.Text(lang, channels.Msg(svc.Title))
		}
	}
	title := s.cfg.Bundle.Text(lang, channels.Msg(MsgAnswerTitle, "Service", service))
	return s.notice(ctx, req.Phone, req.Channel, key, text, title, req.Service, now.Add(s.cfg.AnswerTTL))
}

// notice is the SMS text to phone under key, as a push notice titled
// title with the SMS as fallback when channel is the app and the phone
// has a device.
func (s *Sender) notice(ctx context.Context, phone string, channel channels.Channel, key, text, title, service string, expires time.Time) (*channels.Outbound, error) {
	sm := &channels.Outbound{Key: key, To: phone, Text: text, Purpose: channels.PurposeReply, ExpiresAt: expires}
	if s.cfg.Devices == nil || channel != channels.ChannelApp {
		return sm, nil
	}
	devices, err := s.cfg.Devices.Devices(ctx, phone)
	if err != nil {
		return nil, fmt.Errorf("later: the devices of %s: %w", key, err)
	}
	if len(devices) == 0 {
		return sm, nil
	}
	sm.Key = key + "/sms"
	var data map[string]string
	if service != "" {
		data = map[string]string{"service": service}
	}
	return &channels.Outbound{
		Key:       key,
		Kind:      channels.KindPush,
		To:        phone,
		Title:     title,
		Text:      text,
		Data:      data,
		Purpose:   channels.PurposeReply,
		ExpiresAt: expires,
		Fallback:  sm,
	}, nil
}

// lang is lang when the bundle has it, else the default language.
func (s *Sender) lang(lang string) string {
	if s.cfg.Bundle.Supports(lang) {
		return lang
	}
	return locales.Default
}

// queued returns ms ready to store as new: queued, due at once unless
// they say when, made at now (what outbox.Outbox.Send fills in).
func queued(now time.Time, ms ...*channels.Outbound) []*channels.Outbound {
	for _, m := range ms {
		m.Status = channels.OutboundQueued
		if m.NextAttempt.IsZero() {
			m.NextAttempt = now
		}
		m.CreatedAt, m.UpdatedAt = now, now
	}
	return ms
}

// errNoPhone refuses a reminder with nowhere to go.
var errNoPhone = errors.New("no phone to send it to")
