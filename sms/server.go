package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gateway"
	"github.com/govchannels/channels/keylock"
	"github.com/govchannels/channels/langmemo"
	"github.com/govchannels/channels/lenprefix"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/ratelimit"
)

// Config wires a Server.
type Config struct {
	Engine   *flows.Engine
	Host     flows.Host // carries out submissions, lookups and language choices
	Sessions channels.SessionStore
	Prefs    channels.PrefStore // language and opt-out of each phone
	Bundle   *locales.Bundle
	Log      *slog.Logger   // discarded when nil
	Meter    channels.Meter // counts screens shown and answered; none when nil
	// Layout bounds a reply; 4 segments when 0. `channels validate`
	// holds the catalog's screens to 2, but a confirm summary of long
	// answers may need more, and shortening what the citizen confirms is
	// the last resort.
	Layout Layout
	// IdleWindow is how long a dialogue waits for the next reply; 12 h
	// when 0. SMS is slow and cheap phones are shared: a citizen may
	// answer in the evening a question asked in the morning. A reply after
	// the window is told the dialogue ended, and nothing else happens.
	IdleWindow time.Duration
	// Dedupe is how long the ID of an inbound message is remembered to
	// drop a gateway's second delivery of it; 48 h when 0.
	Dedupe time.Duration
	Now    func() time.Time // time.Now when nil
	// Replies, when set, carries replies instead of the gateway's
	// response to the inbound request: then they are rate-limited,
	// retried and reported like every other message.
	Replies Outbox
	// Reports records delivery reports; the gateways' report routes
	// answer 404 when it is nil.
	Reports Reporter
	// PerPhone and PerSource bound the inbound messages of one phone and
	// of one gateway address (gateway.Source); a zero Limit is none. A
	// message over either is dropped: no reply is sent, nothing is
	// recorded but a STOP's opt-out, and the gateway gets its usual empty
	// success.
	// Each process keeps its own.
	PerPhone, PerSource ratelimit.Limit
	// Locks serialize the messages of one phone across the processes
	// that share Sessions (the store's KeyLocker), so that a gateway may
	// deliver a dialogue's messages, or a retry, to any of them; within
	// this Server only when nil.
	Locks channels.KeyLocker
	// Langs remembers the language each phone was last answered in, so
	// that a message that cannot be read from the store is still answered
	// in it; shared with the other channels, its own when nil.
	Langs *langmemo.Memo
}

// Dropped counts the inbound messages each limit refused.
type Dropped struct{ PerPhone, PerSource uint64 }

// maxPhones bounds the phones the per-phone limit remembers within its
// refill period. When full it lets new phones through: they are real
// phones, and the per-source limit bounds them as a whole.
const maxPhones = 250_000

// Outbox queues outbound SMS durably (package outbox).
type Outbox interface {
	Send(ctx context.Context, ms ...*channels.Outbound) error
}

// Reporter records a gateway's delivery report of the outbound message
// with key (package outbox).
type Reporter interface {
	Report(ctx context.Context, key string, status channels.OutboundStatus, reason string) error
}

// Server runs SMS dialogues: one inbound message in, one reply out.
type Server struct {
	cfg      Config
	keywords keywords
	// locks serialize the messages of one phone (a retried delivery may
	// arrive while the first is still being answered): Config.Locks, or
	// locks of this Server.
	locks channels.KeyLocker

	perPhone, perSource *ratelimit.Limiter
}

// New returns a Server for cfg. It fails when the catalog's keywords
// clash, as `channels validate` reports.
func New(cfg Config) (*Server, error) {
	if cfg.Layout.MaxSegments <= 0 {
		cfg.Layout.MaxSegments = 4
	}
	if cfg.IdleWindow <= 0 {
		cfg.IdleWindow = 12 * time.Hour
	}
	if cfg.Dedupe <= 0 {
		cfg.Dedupe = 48 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Meter == nil {
		cfg.Meter = channels.NopMeter{}
	}
	if cfg.Langs == nil {
		cfg.Langs = langmemo.New(0)
	}
	kw, problems := newKeywords(cfg.Engine.Catalog(), cfg.Bundle)
	if len(problems) > 0 {
		return nil, fmt.Errorf("sms keywords: %s", strings.Join(problems, "; "))
	}
	var locks channels.KeyLocker = &keylock.Keys{}
	if cfg.Locks != nil {
		locks = cfg.Locks
	}
	return &Server{
		cfg: cfg, keywords: kw, locks: locks,
		perPhone:  ratelimit.New(ratelimit.Config{Limit: cfg.PerPhone, Max: maxPhones, OpenWhenFull: true}),
		perSource: ratelimit.New(ratelimit.Config{Limit: cfg.PerSource, OpenWhenFull: true}),
	}, nil
}

// stopOverLimit records the opt-out of a STOP that the limits dropped,
// without a reply: the limits spare replies, never a citizen's opt-out.
func (s *Server) stopOverLimit(ctx context.Context, in Inbound) {
	kw, _, ok := s.keywords.match(asciiDigits(in.Text))
	if !ok || kw.cmd != cmdStop {
		return
	}
	if _, err := s.cfg.Prefs.UpdatePrefs(ctx, in.From, func(p *channels.Prefs) { p.OptedOut = true }); err != nil {
		s.cfg.Log.Error("record the opt-out of a dropped sms", "gateway", in.Gateway, "id", in.ID, "phone", channels.MaskPhone(in.From), "err", err)
		return
	}
	s.cfg.Log.Info("sms opt-out over the limits, recorded without a reply", "gateway", in.Gateway, "id", in.ID, "phone", channels.MaskPhone(in.From))
}

// Dropped counts the inbound messages refused by each limit so far.
func (s *Server) Dropped() Dropped {
	return Dropped{PerPhone: s.perPhone.Refused(), PerSource: s.perSource.Refused()}
}

// admit takes the message from the limits of its phone, then of its
// gateway address, and logs a refusal.
func (s *Server) admit(ctx context.Context, in Inbound, now time.Time) bool {
	if _, ok := s.perPhone.Allow(in.From, now); !ok {
		s.cfg.Log.Warn("sms over the phone's limit; dropped, no reply", "gateway", in.Gateway, "id", in.ID, "phone", channels.MaskPhone(in.From))
		return false
	}
	if src := gateway.Source(ctx); src != "" {
		if _, ok := s.perSource.Allow(ratelimit.ClientKey(src), now); !ok {
			s.cfg.Log.Warn("sms over the gateway's limit; dropped, no reply", "gateway", in.Gateway, "id", in.ID, "phone", channels.MaskPhone(in.From), "source", src)
			return false
		}
	}
	return true
}

// Inbound is one SMS a citizen sent, as every gateway reduces it.
type Inbound struct {
	Gateway string // "twilio", "kannel": scopes ID
	ID      string // the gateway's message ID; a second delivery of one is answered once
	From    string // E.164
	To      string // the service's number or short code
	Text    string
}

// Reply is the SMS to send back; an empty Text sends nothing (a phone that
// opted out). Purpose is the outbox purpose of the reply.
type Reply struct {
	Text    string
	Purpose string
	// Duplicate is set when the inbound message was seen before: Text is
	// the reply it got then.
	Duplicate bool
}

// Handle answers one inbound SMS. Messages of one phone are serialized,
// and a message delivered twice is answered once: the second delivery gets
// the same reply and changes nothing. A message over the limits gets an
// empty reply (nothing is sent). On failure it returns, with the error, a
// polite reply in the citizen's language.
func (s *Server) Handle(ctx context.Context, in Inbound) (Reply, error) {
	if in.From == "" {
		return Reply{}, channels.Errorf(channels.EINVALID, "error.bad_request", "sender missing")
	}
	now := s.cfg.Now()
	if !s.admit(ctx, in, now) {
		s.stopOverLimit(ctx, in)
		return Reply{}, nil
	}
	d := &dialogue{Server: s, ctx: ctx, in: in, now: now, lang: locales.Default}
	unlock, err := s.locks.LockKey(ctx, "sms/"+in.From)
	if err != nil {
		return d.fail(fmt.Errorf("lock the dialogue: %w", err))
	}
	defer unlock()
	d.in.Text = asciiDigits(in.Text) // "٢" from an Arabic keyboard chooses option 2
	if in.ID != "" {
		rec, err := s.cfg.Sessions.Session(ctx, d.seenKey(), d.now)
		switch {
		case err == nil:
			r, derr := decodeSeen(rec.Edge)
			if derr == nil {
				r.Duplicate = true
				return r, nil
			}
			s.cfg.Log.Warn("unreadable record of a seen sms; answering again", d.attrs("err", derr)...)
		case channels.ErrorCode(err) != channels.ENOTFOUND:
			return d.fail(fmt.Errorf("read seen sms: %w", err))
		}
	}
	r, err := d.answer()
	if err != nil {
		return d.fail(err)
	}
	if r.Text != "" {
		s.cfg.Langs.Put(in.From, d.lang)
	}
	return r, nil
}

// dialogue is one inbound message being answered.
type dialogue struct {
	*Server
	ctx  context.Context
	in   Inbound
	now  time.Time
	lang string // the citizen's language once known
	// known is set once the preferences are read: until then a failure
	// is answered in the language Langs remembers.
	known bool

	prefs channels.Prefs
	sess  *channels.Session
	// conv identifies the conversation, so that each application made in
	// the dialogue has its own submission key.
	conv string
}

// answer decides what the message asks: a keyword first (STOP works in
// the middle of any service), else an answer to the screen shown.
func (d *dialogue) answer() (Reply, error) {
	var err error
	if d.prefs, err = d.cfg.Prefs.Prefs(d.ctx, d.in.From); err != nil {
		return Reply{}, fmt.Errorf("read preferences: %w", err)
	}
	d.known = true
	if d.prefs.Lang != "" && d.cfg.Bundle.Supports(d.prefs.Lang) {
		d.lang = d.prefs.Lang
	}
	if err := d.load(); err != nil {
		return Reply{}, err
	}
	kw, arg, isKeyword := d.keywords.match(d.in.Text)
	if isKeyword && kw.cmd == cmdLang && arg != "" {
		if _, ok := d.langNamed(arg); !ok {
			isKeyword = false // "Lugha ya alama…" typed as an answer is an answer
		}
	}
	switch {
	case d.prefs.Lang != "":
	case isKeyword && kw.lang != "":
		d.lang = kw.lang // a first NAISSANCE is answered in French
	case d.sess != nil:
		if st, err := flows.DecodeState(d.sess.State); err == nil && d.cfg.Bundle.Supports(st.Lang) {
			d.lang = st.Lang // a STOP in a French dialogue is confirmed in French
		}
	}
	switch {
	case isKeyword && kw.cmd == cmdStop:
		return d.stop()
	case isKeyword && kw.cmd == cmdStart:
		return d.start()
	case d.prefs.OptedOut:
		d.cfg.Log.Info("sms from an opted-out phone left unanswered", d.attrs()...)
		return d.keep(Reply{}, nil)
	case isKeyword && kw.cmd == cmdHelp:
		return d.keep(d.text(d.help()), nil)
	case isKeyword && kw.cmd == cmdMenu:
		return d.begin("")
	case isKeyword && kw.cmd == cmdService:
		return d.begin(kw.service)
	case isKeyword && kw.cmd == cmdLang:
		return d.chooseLang(arg)
	}
	if d.sess == nil {
		return d.begin("") // a first message, whatever it says, gets the menu
	}
	st, err := flows.DecodeState(d.sess.State)
	if err != nil {
		d.cfg.Log.Warn("unreadable sms state; starting again", d.attrs("err", err)...)
		return d.begin("")
	}
	d.lang = st.Lang
	if d.now.Sub(d.sess.UpdatedAt) > d.cfg.IdleWindow {
		// The citizen may not remember the question: say so rather than
		// take the message as its answer.
		return d.end(d.text(channels.Msg("sms.idle", "Menu", d.word("sms.keyword.menu"))))
	}
	in := flows.Input{Action: flows.Answer, Text: strings.TrimSpace(d.in.Text)}
	if in.Text == BackKey || (isKeyword && kw.cmd == cmdBack) {
		in = flows.Input{Action: flows.Back}
	} else if sc, err := d.cfg.Engine.Screen(st); err == nil {
		in.Text = d.optionKey(sc, in.Text)
	}
	res, err := d.cfg.Engine.Step(st, in)
	if channels.ErrorCode(err) == channels.EINVALID {
		d.cfg.Log.Warn("sms state does not fit the catalog; starting again", d.attrs("err", err)...)
		return d.begin("")
	}
	if err != nil {
		return Reply{}, fmt.Errorf("step: %w", err)
	}
	d.cfg.Meter.Answered(channels.ChannelSMS, st.Service, st.Step)
	return d.settle(res)
}

// optionKey returns the key of the option whose text, in the citizen's
// language, the reply spells (case and accents aside), else the reply.
func (d *dialogue) optionKey(sc channels.Screen, text string) string {
	f := fold(text)
	if f == "" || isNumber(f) {
		return text
	}
	for _, o := range sc.Options {
		if fold(d.cfg.Bundle.Text(d.lang, o.Text)) == f {
			return o.Key
		}
	}
	return text
}

// begin starts a dialogue at the root menu, or at service.
func (d *dialogue) begin(service string) (Reply, error) {
	res, err := d.cfg.Engine.Start(channels.ChannelSMS, d.lang, service)
	if err != nil {
		return Reply{}, fmt.Errorf("start %q: %w", service, err)
	}
	d.sess = &channels.Session{ID: sessionKey(d.in.From), Phone: d.in.From, Channel: channels.ChannelSMS}
	d.conv = newConversation()
	return d.settle(res)
}

// settle carries out what the step asks of the host and shows the result.
func (d *dialogue) settle(res flows.Result) (Reply, error) {
	res, err := d.cfg.Engine.Settle(d.ctx, d.cfg.Host, d.in.From, d.sess.ID+"/"+d.conv, res)
	var ce *flows.CallError
	switch {
	case errors.As(err, &ce):
		// The citizen is shown a retry screen; the operator needs the cause.
		d.cfg.Log.Error("sms call failed", d.attrs("service", ce.Service, "call", ce.Call, "err", ce.Err)...)
	case err != nil:
		return Reply{}, fmt.Errorf("settle: %w", err)
	}
	d.lang = res.State.Lang
	d.cfg.Meter.Shown(channels.ChannelSMS, res.State.Service, res.State.Step)
	reply := Reply{Text: Render(d.cfg.Bundle, d.lang, res.Screen, d.cfg.Layout), Purpose: channels.PurposeReply}
	if res.Ended() {
		return d.end(reply)
	}
	d.sess.State = res.State.Encode()
	return d.keep(reply, d.sess)
}

// end closes the dialogue, if any, and replies.
func (d *dialogue) end(r Reply) (Reply, error) {
	if d.sess == nil {
		return d.keep(r, nil)
	}
	d.sess.State = nil
	d.sess.ExpiresAt = d.now // gone for every read from now on
	return d.keep(r, d.sess)
}

// keep writes the dialogue and the record that this message was answered
// with r, in one write, and returns r.
func (d *dialogue) keep(r Reply, sess *channels.Session) (Reply, error) {
	var recs []*channels.Session
	if sess != nil {
		sess.UpdatedAt = d.now
		sess.Edge = lenprefix.AppendString(nil, d.conv)
		if sess.ExpiresAt.IsZero() || sess.ExpiresAt.After(d.now) {
			// Kept past the idle window so that a late reply can be told
			// the dialogue ended.
			sess.ExpiresAt = d.now.Add(2 * d.cfg.IdleWindow)
		}
		recs = append(recs, sess)
	}
	if d.in.ID != "" {
		recs = append(recs, &channels.Session{
			ID: d.seenKey(), Phone: d.in.From, Channel: channels.ChannelSMS,
			Edge: encodeSeen(r), UpdatedAt: d.now, ExpiresAt: d.now.Add(d.cfg.Dedupe),
		})
	}
	if len(recs) > 0 {
		if err := d.cfg.Sessions.PutSession(d.ctx, recs...); err != nil {
			return Reply{}, fmt.Errorf("keep sms dialogue: %w", err)
		}
	}
	return r, nil
}

// load reads the phone's dialogue; nil when there is none.
func (d *dialogue) load() error {
	sess, err := d.cfg.Sessions.Session(d.ctx, sessionKey(d.in.From), d.now)
	switch {
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		return nil
	case err != nil:
		return fmt.Errorf("read sms dialogue: %w", err)
	case len(sess.State) == 0:
		return nil // ended
	}
	r := lenprefix.NewReader(sess.Edge)
	d.conv = r.String()
	if r.Bad() || d.conv == "" {
		d.conv = newConversation()
	}
	d.sess = sess
	return nil
}

// stop records the opt-out and confirms it: the last SMS the phone gets.
func (d *dialogue) stop() (Reply, error) {
	if _, err := d.cfg.Prefs.UpdatePrefs(d.ctx, d.in.From, func(p *channels.Prefs) { p.OptedOut = true }); err != nil {
		return Reply{}, fmt.Errorf("record opt-out: %w", err)
	}
	d.cfg.Log.Info("sms opt-out", d.attrs()...)
	r := d.text(channels.Msg("sms.stopped", "Start", d.word("sms.keyword.start")))
	r.Purpose = channels.PurposeOptOut
	return d.end(r)
}

// start clears an opt-out.
func (d *dialogue) start() (Reply, error) {
	if d.prefs.OptedOut {
		if _, err := d.cfg.Prefs.UpdatePrefs(d.ctx, d.in.From, func(p *channels.Prefs) { p.OptedOut = false }); err != nil {
			return Reply{}, fmt.Errorf("record opt-in: %w", err)
		}
		d.cfg.Log.Info("sms opt-in", d.attrs()...)
	}
	return d.keep(d.text(channels.Msg("sms.started", "Menu", d.word("sms.keyword.menu"), "Help", d.word("sms.keyword.help"))), nil)
}

// help explains the keywords in the citizen's language.
func (d *dialogue) help() channels.Message {
	var services []string
	for _, svc := range d.cfg.Engine.Catalog().Services {
		if svc.Keyword == "" || !d.cfg.Bundle.Has(d.lang, svc.Keyword) {
			continue
		}
		services = append(services, d.cfg.Bundle.Text(d.lang, channels.Msg("sms.service_keyword",
			"Keyword", d.word(svc.Keyword), "Service", channels.Msg(svc.Title))))
	}
	return channels.Msg("sms.help",
		"Back", d.word("sms.keyword.back"), "Menu", d.word("sms.keyword.menu"),
		"Stop", d.word("sms.keyword.stop"), "Services", strings.Join(services, ", "))
}

// word is the first keyword of a comma-separated keyword message.
func (d *dialogue) word(id string) string {
	w, _, _ := strings.Cut(d.cfg.Bundle.Text(d.lang, channels.Msg(id)), ",")
	return strings.TrimSpace(w)
}

func (d *dialogue) text(m channels.Message) Reply {
	return Reply{Text: d.cfg.Bundle.Text(d.lang, m), Purpose: channels.PurposeReply}
}

// fail logs err and returns a polite reply in the citizen's language:
// the one read from the store, else the one the phone was last answered
// in.
func (d *dialogue) fail(err error) (Reply, error) {
	d.cfg.Log.Error("sms dialogue failed", d.attrs("err", err)...)
	lang := d.lang
	if l := d.cfg.Langs.Get(d.in.From); !d.known && d.cfg.Bundle.Supports(l) {
		lang = l
	}
	id := channels.ErrorMessage(err)
	if !d.cfg.Bundle.Has(lang, id) {
		id = "error.internal"
	}
	return Reply{Text: d.cfg.Bundle.Text(lang, channels.Msg(id)), Purpose: channels.PurposeReply}, err
}

func (d *dialogue) attrs(kv ...any) []any {
	return append([]any{"gateway", d.in.Gateway, "id", d.in.ID, "phone", channels.MaskPhone(d.in.From)}, kv...)
}

func (d *dialogue) seenKey() string { return "sms-in/" + d.in.Gateway + "/" + d.in.ID }

func sessionKey(phone string) string { return "sms/" + phone }

// newConversation names a new dialogue: 8 random bytes, hex.
func newConversation() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func encodeSeen(r Reply) []byte {
	return lenprefix.AppendString(lenprefix.AppendString(nil, r.Text), r.Purpose)
}

func decodeSeen(b []byte) (Reply, error) {
	rd := lenprefix.NewReader(b)
	r := Reply{Text: rd.String(), Purpose: rd.String()}
	if rd.Bad() || rd.Len() != 0 {
		return Reply{}, errors.New("malformed seen-sms record")
	}
	return r, nil
}
