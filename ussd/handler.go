// Package ussd serves the catalog to feature phones over USSD: gateway
// dialects (Africa's Talking), pages within the gateway's budget,
// navigation keys, gateway retries and the resume of dropped sessions.
//
// The core is Server.Handle, which answers one hop whatever the dialect;
// a dialect parses its gateway's request into a Request and writes the
// Reply in its gateway's format.
package ussd

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gateway"
	"github.com/govchannels/channels/keylock"
	"github.com/govchannels/channels/langmemo"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/ratelimit"
)

// Config wires a Server.
type Config struct {
	Engine   *flows.Engine
	Host     flows.Host // carries out submissions, lookups and language choices
	Sessions channels.SessionStore
	Prefs    channels.PrefStore // the language a phone chose, for the first screen
	Bundle   *locales.Bundle
	Log      *slog.Logger // discarded when nil
	Layout   Layout
	// SessionTTL is how long a session lives after its last hop; 3 min
	// when 0 (Africa's Talking ends a session after 180 s).
	SessionTTL time.Duration
	// ResumeWindow is how long a session dropped inside a service can be
	// resumed by dialling again; 10 min when 0.
	ResumeWindow time.Duration
	// Region is the default country of national phone numbers, e.g. "KE".
	Region string
	Now    func() time.Time // time.Now when nil
	// Limits bound the dials and hops of one phone and of one gateway
	// address (gateway.Source); what is over them ends politely and
	// touches no session. Each process keeps its own.
	Limits Limits
	Meter  channels.Meter // counts screens shown and answered; none when nil
	// Locks serialize the hops of one session across the processes that
	// share Sessions (the store's KeyLocker), so that a gateway may send
	// consecutive hops, or a retry, to any of them; within this process
	// only when nil.
	Locks channels.KeyLocker
	// Langs remembers the language each phone was last answered in, so
	// that a hop that cannot read the store still ends in it; shared with
	// the other channels and dialects, its own when nil.
	Langs *langmemo.Memo
}

// Limits are the rate limits of inbound USSD; a zero Limit is none. A
// dial (a session we do not know) counts as a hop and as a dial.
type Limits struct {
	DialsPerPhone, HopsPerPhone   ratelimit.Limit
	DialsPerSource, HopsPerSource ratelimit.Limit
}

// Dropped counts the hops each limit refused since the Server started.
type Dropped struct {
	DialsPerPhone, HopsPerPhone   uint64
	DialsPerSource, HopsPerSource uint64
}

// limiters are the Limits at work. Every key is a real phone or a gateway
// that authenticated, which the per-source limits bound as a whole: when
// full, they let new keys through rather than refuse citizens.
type limiters struct {
	dialsPhone, hopsPhone, dialsSource, hopsSource *ratelimit.Limiter
}

// maxPhones bounds the phones a per-phone limit remembers, within its
// refill period: 46 MB each when full (measured).
const maxPhones = 250_000

func newLimiters(l Limits) limiters {
	phones := func(l ratelimit.Limit) *ratelimit.Limiter {
		return ratelimit.New(ratelimit.Config{Limit: l, Max: maxPhones, OpenWhenFull: true})
	}
	sources := func(l ratelimit.Limit) *ratelimit.Limiter {
		return ratelimit.New(ratelimit.Config{Limit: l, OpenWhenFull: true})
	}
	return limiters{phones(l.DialsPerPhone), phones(l.HopsPerPhone), sources(l.DialsPerSource), sources(l.HopsPerSource)}
}

// Server answers USSD hops synchronously.
type Server struct {
	cfg Config
	// locks serialize the hops of one session (a gateway may send the
	// dial twice at once): Config.Locks, or localLocks.
	locks  channels.KeyLocker
	limits limiters
}

// localLocks are the key locks of the Servers of a process whose Config
// has none.
var localLocks keylock.Keys

// New returns a Server for cfg.
func New(cfg Config) *Server {
	cfg.Layout = cfg.Layout.withDefaults()
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 3 * time.Minute
	}
	if cfg.ResumeWindow <= 0 {
		cfg.ResumeWindow = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Langs == nil {
		cfg.Langs = langmemo.New(0)
	}
	if cfg.Meter == nil {
		cfg.Meter = channels.NopMeter{}
	}
	var locks channels.KeyLocker = &localLocks
	if cfg.Locks != nil {
		locks = cfg.Locks
	}
	return &Server{cfg: cfg, limits: newLimiters(cfg.Limits), locks: locks}
}

// Dropped counts the hops refused by each limit so far.
func (s *Server) Dropped() Dropped {
	return Dropped{
		DialsPerPhone: s.limits.dialsPhone.Refused(), HopsPerPhone: s.limits.hopsPhone.Refused(),
		DialsPerSource: s.limits.dialsSource.Refused(), HopsPerSource: s.limits.hopsSource.Refused(),
	}
}

// Request is one hop of a USSD session, as every dialect reduces it.
type Request struct {
	SessionID   string // the gateway's session
	Phone       string // E.164, normalized by the dialect
	ServiceCode string // what was dialled, e.g. "*384#"
	// Text is every input of the session so far joined by "*", as Africa's
	// Talking sends it: "" on the dial.
	Text string
}

// Reply is the page to show; End closes the session.
type Reply struct {
	Text string
	End  bool
}

// Handle answers one hop. Hops of one session are serialized; a hop that
// repeats one already answered (a gateway retry) gets the reply last shown
// and changes nothing, so a submission is never made twice. On failure it
// returns, with the error, a polite END in the citizen's language: the
// dialect sends it and the caller logs nothing more.
func (s *Server) Handle(ctx context.Context, req Request) (Reply, error) {
	h := &hop{Server: s, ctx: ctx, req: req, now: s.cfg.Now(), lang: locales.Default}
	if req.SessionID == "" || req.Phone == "" {
		return h.fail(channels.Errorf(channels.EINVALID, "error.bad_request", "session id or phone missing"))
	}
	if !h.admit("hop", s.limits.hopsPhone, s.limits.hopsSource) {
		return h.limited()
	}
	unlock, err := s.locks.LockKey(ctx, "ussd/"+req.SessionID)
	if err != nil {
		return h.fail(fmt.Errorf("lock session %s: %w", req.SessionID, err))
	}
	defer unlock()
	if s.cfg.Log.Enabled(ctx, slog.LevelDebug) {
		s.cfg.Log.Debug("ussd hop", h.attrs()...)
	}
	ok, err := h.load()
	switch {
	case err != nil:
		return h.fail(err)
	case !ok:
		if !h.admit("dial", s.limits.dialsPhone, s.limits.dialsSource) {
			return h.limited()
		}
		return h.dial()
	}
	if h.ed.final() {
		return h.ed.reply(), nil // the gateway should send nothing after END
	}
	var input string
	fresh := true
	if h.ed.end {
		// An ended session keeps only a digest of its last text: what
		// the citizen typed is not kept past the end of the flow.
		fresh = sealText(req.Text) != h.ed.last
		input = req.Text[strings.LastIndexByte(req.Text, '*')+1:]
	} else {
		input, fresh = hopInput(h.ed.last, req.Text)
	}
	if !fresh {
		return h.ed.reply(), nil
	}
	h.ed.last = req.Text
	return h.answer(input)
}

// hop is one request being answered.
type hop struct {
	*Server
	ctx  context.Context
	req  Request
	now  time.Time
	lang string // the citizen's language once known, for a failure's text
	// known is set once lang is the citizen's, read from the store: until
	// then a failure is answered in the language Langs remembers.
	known bool

	sess *channels.Session
	ed   edge
}

// admit takes the hop from the limits of its phone, then of its gateway
// address (none when the request did not come through package gateway),
// and logs a refusal.
func (h *hop) admit(what string, perPhone, perSource *ratelimit.Limiter) bool {
	if _, ok := perPhone.Allow(h.req.Phone, h.now); !ok {
		h.cfg.Log.Warn("ussd "+what+" over the phone's limit; dropped", h.attrs()...)
		return false
	}
	if src := gateway.Source(h.ctx); src != "" {
		if _, ok := perSource.Allow(ratelimit.ClientKey(src), h.now); !ok {
			h.cfg.Log.Warn("ussd "+what+" over the gateway's limit; dropped", h.attrs("source", src)...)
			return false
		}
	}
	return true
}

// limited ends a hop over a limit politely, in the phone's language,
// and touches no session.
func (h *hop) limited() (Reply, error) {
	if _, err := h.prefLang(); err != nil {
		h.cfg.Log.Error("read preferences", h.attrs("err", err)...)
	}
	return Reply{Text: h.cfg.Bundle.Text(h.replyLang(), channels.Msg("error.busy")), End: true}, nil
}

// load reads the request's session; false when there is none to continue
// (none, expired, another phone's, or unreadable: it starts again).
func (h *hop) load() (bool, error) {
	sess, err := h.cfg.Sessions.Session(h.ctx, sessionKey(h.req.SessionID), h.now)
	switch {
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read session %s: %w", h.req.SessionID, err)
	case sess.Phone != h.req.Phone:
		h.cfg.Log.Warn("ussd session of another phone; starting again", h.attrs()...)
		return false, nil
	}
	ed, err := decodeEdge(sess.Edge)
	if err != nil {
		h.cfg.Log.Warn("unreadable ussd session data; starting again", h.attrs("err", err)...)
		return false, nil
	}
	h.sess, h.ed = sess, ed
	return true, nil
}

// dial starts a session: at the resume menu when the phone left a service
// unfinished within the resume window, else at the root menu in the
// phone's language. Any text the hop carries is stale history of a session
// we do not know, never an input.
func (h *hop) dial() (Reply, error) {
	h.sess = &channels.Session{ID: sessionKey(h.req.SessionID), Phone: h.req.Phone, Channel: channels.ChannelUSSD}
	h.ed = edge{last: h.req.Text}
	lang, err := h.prefLang()
	if err != nil {
		return h.fail(err)
	}
	if st, key, ok := h.resumable(lang); ok {
		h.ed.resume, h.ed.key = true, key
		return h.show(st, resumeMenu(nil), false)
	}
	return h.home(lang)
}

// prefLang is the language the phone chose, "" when none.
func (h *hop) prefLang() (string, error) {
	p, err := h.cfg.Prefs.Prefs(h.ctx, h.req.Phone)
	if err != nil {
		return "", fmt.Errorf("read preferences: %w", err)
	}
	h.known = true
	if p.Lang != "" && h.cfg.Bundle.Supports(p.Lang) {
		h.lang = p.Lang
		return p.Lang, nil
	}
	return "", nil
}

// home shows the root menu in lang (the default when "").
func (h *hop) home(lang string) (Reply, error) {
	res, err := h.cfg.Engine.Start(channels.ChannelUSSD, lang, "")
	if err != nil {
		return h.fail(fmt.Errorf("start: %w", err))
	}
	return h.show(res.State, res.Screen, false)
}

// resumable returns the state of the phone's resume record, in the
// language chosen last, and the submission key of its application, when
// there is one still waiting for input.
func (h *hop) resumable(lang string) (flows.State, string, bool) {
	rec, err := h.cfg.Sessions.Session(h.ctx, resumeKey(h.req.Phone), h.now)
	if err != nil {
		if channels.ErrorCode(err) != channels.ENOTFOUND {
			h.cfg.Log.Error("read ussd resume record", h.attrs("err", err)...)
		}
		return flows.State{}, "", false
	}
	st, err := flows.DecodeState(rec.State)
	if err != nil || !h.cfg.Engine.Waiting(st) {
		return flows.State{}, "", false
	}
	if lang != "" {
		st.Lang = lang
	}
	return st, string(rec.Edge), true
}

// submitKey is the idempotency key of the application in progress: the
// session's own ID, or, for an application resumed from another session,
// that session's key. A submission the first session made before its
// reply was lost is then found again instead of made twice.
func (h *hop) submitKey() string {
	if h.ed.key != "" {
		return h.ed.key
	}
	return h.sess.ID
}

func resumeMenu(why *channels.Message) channels.Screen {
	return channels.Screen{
		Kind: channels.KindMenu,
		Text: channels.Msg("resume.prompt"),
		Options: []channels.Option{
			{Key: "1", Text: channels.Msg("resume.continue")},
			{Key: "2", Text: channels.Msg("resume.restart")},
		},
		Error: why,
	}
}

// answer handles the newest input of a live session.
func (h *hop) answer(input string) (Reply, error) {
	keys := h.cfg.Layout.Keys
	ed := &h.ed
	more := ed.page+1 < len(ed.pages)
	switch {
	case ed.end:
		// A final screen longer than a page, read page by page to its
		// END. Home is not offered: the flow is over, and a second
		// application in this session would share the first one's
		// submission key.
		if input == keys.Back && ed.page > 0 {
			return h.turn(-1)
		}
		return h.turn(+1)
	case input == keys.More:
		if more {
			return h.turn(+1)
		}
		return h.turn(0) // reserved: never an answer, even on the last page
	case input == keys.Back && ed.page > 0:
		return h.turn(-1)
	case ed.confirm && more && input != keys.Back && input != keys.Home:
		// Nothing is confirmed before the citizen has seen the whole
		// summary and the options under it.
		return h.turn(+1)
	}

	st, err := flows.DecodeState(h.sess.State)
	if err != nil {
		h.cfg.Log.Warn("unreadable ussd state; starting again", h.attrs("err", err)...)
		lang, err := h.prefLang()
		if err != nil {
			return h.fail(err)
		}
		return h.home(lang)
	}
	h.lang, h.known = st.Lang, true
	if ed.resume {
		return h.answerResume(st, input)
	}
	var res flows.Result
	switch input {
	case keys.Back:
		res, err = h.cfg.Engine.Step(st, flows.Input{Action: flows.Back})
	case keys.Home:
		res, err = h.cfg.Engine.Step(st, flows.Input{Action: flows.Home})
	default:
		res, err = h.cfg.Engine.Step(st, flows.Input{Action: flows.Answer, Text: input})
	}
	if channels.ErrorCode(err) == channels.EINVALID {
		// The state no longer fits the catalog (a service changed since):
		// start cleanly rather than fail the citizen.
		h.cfg.Log.Warn("ussd state does not fit the catalog; starting again", h.attrs("err", err)...)
		return h.home(st.Lang)
	}
	if err != nil {
		return h.fail(fmt.Errorf("step: %w", err))
	}
	h.cfg.Meter.Answered(channels.ChannelUSSD, st.Service, st.Step)
	res, err = h.cfg.Engine.Settle(h.ctx, h.cfg.Host, h.req.Phone, h.submitKey(), res)
	var ce *flows.CallError
	switch {
	case errors.As(err, &ce):
		// The citizen is shown a retry screen; the operator needs the cause.
		h.cfg.Log.Error("ussd host call failed", h.attrs("err", err)...)
	case err != nil:
		return h.fail(fmt.Errorf("settle: %w", err))
	}
	return h.show(res.State, res.Screen, res.Ended())
}

// answerResume handles the answer to "continue or start again".
func (h *hop) answerResume(st flows.State, input string) (Reply, error) {
	keys := h.cfg.Layout.Keys
	switch strings.TrimSpace(input) {
	case "1":
		sc, err := h.cfg.Engine.Screen(st)
		if err != nil {
			h.cfg.Log.Warn("ussd resume state does not fit the catalog; starting again", h.attrs("err", err)...)
			h.ed.resume, h.ed.holds, h.ed.key = false, true, ""
			return h.home(st.Lang)
		}
		h.ed.resume = false
		return h.show(st, sc, false)
	case "2", keys.Home:
		// The citizen declined: the record is theirs to clear.
		h.ed.resume, h.ed.holds, h.ed.key = false, true, ""
		return h.home(st.Lang)
	}
	return h.show(st, resumeMenu(&channels.Message{ID: "error.choice"}), false)
}

// show lays sc out, keeps the session (and the phone's resume record)
// and returns the first page.
func (h *hop) show(st flows.State, sc channels.Screen, ended bool) (Reply, error) {
	ed := &h.ed
	ed.pages = Pages(h.cfg.Bundle, st.Lang, sc, h.cfg.Layout)
	ed.page = 0
	ed.confirm = sc.Kind == channels.KindConfirm
	ed.end = ended
	if !ed.resume {
		h.cfg.Meter.Shown(channels.ChannelUSSD, st.Service, st.Step)
	}
	writes := make([]*channels.Session, 1, 2)
	writes[0] = h.sess
	switch {
	case ended:
		// What the citizen typed is not kept past the end: the session
		// stays only so that a retry of this hop gets this reply.
		h.sess.State = nil
		writes = append(writes, clearedResume(h.req.Phone, h.now))
		ed.holds, ed.key = false, ""
	case !ed.resume && h.cfg.Engine.Waiting(st):
		h.sess.State = st.Encode()
		writes = append(writes, resumeRecord(h.req.Phone, st, h.submitKey(), h.now, h.now.Add(h.cfg.ResumeWindow)))
		ed.holds = true
	default:
		// Outside any service (or on the resume menu): nothing to resume.
		h.sess.State = st.Encode()
		if ed.holds {
			writes = append(writes, clearedResume(h.req.Phone, h.now))
			ed.holds, ed.key = false, ""
		}
	}
	if err := h.put(writes...); err != nil {
		return h.fail(err)
	}
	h.cfg.Langs.Put(h.req.Phone, st.Lang)
	return ed.reply(), nil
}

// turn shows the page delta pages away (0: the same page again).
func (h *hop) turn(delta int) (Reply, error) {
	h.ed.page += delta
	if err := h.put(h.sess); err != nil {
		return h.fail(err)
	}
	return h.ed.reply(), nil
}

// put writes the session with its edge, and any other record, in one
// write.
func (h *hop) put(writes ...*channels.Session) error {
	if h.ed.end {
		h.ed.last = sealText(h.req.Text)
	}
	h.sess.Edge = h.ed.appendEncode(make([]byte, 0, 64+len(h.ed.last)+pagesLen(h.ed.pages)))
	h.sess.UpdatedAt = h.now
	h.sess.ExpiresAt = h.now.Add(h.cfg.SessionTTL)
	if err := h.cfg.Sessions.PutSession(h.ctx, writes...); err != nil {
		return fmt.Errorf("save session %s: %w", h.sess.ID, err)
	}
	return nil
}

func pagesLen(pages []string) int {
	n := 0
	for _, p := range pages {
		n += len(p) + 2
	}
	return n
}

// fail logs err and ends the session with a polite localized message.
func (h *hop) fail(err error) (Reply, error) {
	h.cfg.Log.Error("ussd hop failed", h.attrs("err", err)...)
	return Reply{Text: failText(h.cfg.Bundle, h.replyLang(), err), End: true}, err
}

// replyLang is the language to answer in: the citizen's once read from
// the store, else the one the phone was last answered in, else the
// default.
func (h *hop) replyLang() string {
	if h.known {
		return h.lang
	}
	if l := h.cfg.Langs.Get(h.req.Phone); l != "" && h.cfg.Bundle.Supports(l) {
		return l
	}
	return h.lang
}

// failText is the polite text of a failure in lang: its message (such as
// error.unavailable when the store does not answer), or error.internal
// when it has none in the locales; never the error's own text.
func failText(b *locales.Bundle, lang string, err error) string {
	id := channels.ErrorMessage(err)
	if !b.Has(lang, id) {
		id = "error.internal"
	}
	return b.Text(lang, channels.Msg(id))
}

// attrs are the log attributes of a hop, then kv. What the citizen typed
// may be personal data: only its length and a digest are logged, and the
// phone is masked.
func (h *hop) attrs(kv ...any) []any {
	return append([]any{"session", h.req.SessionID, "phone", channels.MaskPhone(h.req.Phone), "text", textDigest(h.req.Text)}, kv...)
}

// sealText is what an ended session keeps of the last text: enough to
// recognize a retry, nothing of what was typed.
func sealText(s string) string {
	sum := sha256.Sum256([]byte(s))
	return string(sum[:16])
}

// logKey keys the digests of texts in logs. It is drawn afresh by each
// process, so that a digest cannot be reversed by hashing guesses (a
// national ID has only 10^8 values) yet still shows, within one process,
// that two hops carried the same text.
var logKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

// textDigest names a text in logs without revealing it: its length and
// the start of its HMAC-SHA256 under logKey.
func textDigest(s string) string {
	m := hmac.New(sha256.New, logKey)
	m.Write([]byte(s))
	return strconv.Itoa(len(s)) + ":" + hex.EncodeToString(m.Sum(nil)[:6])
}
