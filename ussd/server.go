// Package ussd serves the catalog to feature phones over USSD: gateway
// dialects, pages within the gateway's budget, navigation keys, gateway
// retries and the resume of dropped sessions.
package ussd

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/lenprefix"
	"github.com/govchannels/channels/locales"
)

// Config wires a Server.
type Config struct {
	Engine       *flows.Engine
	Host         flows.Host
	Sessions     channels.SessionStore
	Prefs        channels.PrefStore
	Bundle       *locales.Bundle
	Log          *slog.Logger
	Layout       Layout
	SessionTTL   time.Duration    // a session is kept this long after its last hop; 3 min when 0
	ResumeWindow time.Duration    // a dropped session can be resumed this long; 10 min when 0
	Region       string           // default country of national phone numbers
	Now          func() time.Time // time.Now when nil
}

// Server answers USSD hops synchronously, whatever the dialect.
type Server struct {
	cfg   Config
	locks [256]sync.Mutex
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	cfg.Layout = cfg.Layout.withDefaults()
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 3 * time.Minute
	}
	if cfg.ResumeWindow == 0 {
		cfg.ResumeWindow = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg}
}

// Request is one hop of a USSD session, as every dialect reduces it.
type Request struct {
	SessionID   string // the gateway's session
	Phone       string // E.164
	ServiceCode string
	// Text is every input of the session so far joined by "*", as Africa's
	// Talking sends it ("" on the dial).
	Text string
}

// Reply is what to show; End closes the session.
type Reply struct {
	Text string
	End  bool
}

// edge is what the USSD channel keeps in a session besides the engine state.
type edge struct {
	lastText  string   // the accumulated text of the last hop
	lastReply string   // the page last shown, returned again on a retry
	end       bool     // the flow has ended: the last page of pages is an END
	resume    bool     // showing the "continue or start again" menu
	confirm   bool     // the screen is a confirm step: its options are on its last page
	page      int      // the page of pages shown
	pages     []string // the current screen's pages

	pointer *channels.Session // not stored: the resume pointer to write with the session
}

// Edge encoding: version byte 1, a flags byte (1 end, 2 resume, 4 confirm), uvarint
// page, then uvarint-length-prefixed lastText, lastReply and each page
// after a uvarint count.
// final reports whether the page shown ends the session: the last page of
// an ended flow. Earlier pages of a long final screen continue, so that the
// citizen can read them all.
func (e *edge) final() bool { return e.end && e.page == len(e.pages)-1 }

func (e *edge) encode() []byte {
	b := []byte{1, 0}
	if e.end {
		b[1] |= 1
	}
	if e.resume {
		b[1] |= 2
	}
	if e.confirm {
		b[1] |= 4
	}
	b = lenprefix.AppendUvarint(b, uint64(e.page))
	b = lenprefix.AppendString(b, e.lastText)
	b = lenprefix.AppendString(b, e.lastReply)
	b = lenprefix.AppendUvarint(b, uint64(len(e.pages)))
	for _, p := range e.pages {
		b = lenprefix.AppendString(b, p)
	}
	return b
}

var errBadEdge = errors.New("ussd: unreadable session data")

func decodeEdge(b []byte) (edge, error) {
	var e edge
	if len(b) < 2 || b[0] != 1 {
		return e, errBadEdge
	}
	e.end, e.resume, e.confirm = b[1]&1 != 0, b[1]&2 != 0, b[1]&4 != 0
	r := lenprefix.NewReader(b[2:])
	e.page = int(r.Uvarint())
	e.lastText = r.String()
	e.lastReply = r.String()
	n := r.Uvarint()
	if n > uint64(r.Len()) {
		return edge{}, errBadEdge
	}
	for range n {
		e.pages = append(e.pages, r.String())
	}
	if r.Bad() || r.Len() != 0 || e.page >= max(1, len(e.pages)) {
		return edge{}, errBadEdge
	}
	return e, nil
}

// newestInput returns what the citizen typed on this hop: the text after
// the previous hop's text and its "*", so that a "*" typed inside an answer
// is kept; when the gateway's history does not match, the part after the
// last "*".
func newestInput(last, text string) string {
	if last == "" {
		return text
	}
	if strings.HasPrefix(text, last+"*") {
		return text[len(last)+1:]
	}
	if i := strings.LastIndexByte(text, '*'); i >= 0 {
		return text[i+1:]
	}
	return text
}

func sessionKey(id string) string   { return "ussd/" + id }
func resumeKey(phone string) string { return "ussd-resume/" + phone }

func (s *Server) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// Handle answers one hop. Hops of one session are serialized; a hop that
// repeats the last one (a gateway retry) gets the same reply and changes
// nothing.
func (s *Server) Handle(ctx context.Context, req Request) (Reply, error) {
	defer s.lock(req.SessionID)()
	now := s.cfg.Now()
	sess, err := s.cfg.Sessions.Session(ctx, sessionKey(req.SessionID), now)
	var ed edge
	switch {
	case err == nil:
		// A session is kept for the resume window, but it continues only
		// within its own time to live.
		if now.Sub(sess.UpdatedAt) >= s.cfg.SessionTTL {
			sess = nil
			break
		}
		if ed, err = decodeEdge(sess.Edge); err != nil || sess.Phone != req.Phone {
			s.cfg.Log.Warn("ussd session data does not fit the request; starting again", "session", req.SessionID, "err", err)
			sess = nil
		}
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		sess = nil
	default:
		return s.fail(req, fmt.Errorf("read session %s: %w", req.SessionID, err))
	}

	if sess != nil && req.Text == ed.lastText {
		return Reply{Text: ed.lastReply, End: ed.final()}, nil
	}
	if sess != nil && ed.final() {
		// The gateway should not send more after END; answer the same.
		return Reply{Text: ed.lastReply, End: true}, nil
	}

	var st flows.State
	var res flows.Result
	if sess == nil {
		sess = &channels.Session{ID: sessionKey(req.SessionID), Phone: req.Phone, Channel: channels.ChannelUSSD}
		ed = edge{}
		rs, resume := s.resumable(ctx, req.Phone, now)
		// From now on this is the phone's latest session, the one a later
		// dial offers to resume; the pointer is written with the session.
		ed.pointer = &channels.Session{
			ID: resumeKey(req.Phone), Phone: req.Phone, Channel: channels.ChannelUSSD,
			Edge: []byte(sess.ID), UpdatedAt: now, ExpiresAt: now.Add(s.keep() + s.cfg.SessionTTL),
		}
		if resume {
			return s.save(ctx, sess, edge{lastText: req.Text, resume: true, pointer: ed.pointer}, rs, s.resumeMenu(rs.Lang, nil), false, now)
		}
		res, err = s.start(ctx, req.Phone)
	} else {
		if st, err = flows.DecodeState(sess.State); err != nil {
			s.cfg.Log.Warn("unreadable ussd state; starting again", "session", req.SessionID)
			res, err = s.start(ctx, req.Phone)
		} else {
			input := newestInput(ed.lastText, req.Text)
			if ed.resume {
				return s.answerResume(ctx, req, sess, ed, st, input, now)
			}
			keys := s.cfg.Layout.Keys
			switch {
			case input == keys.More && ed.page+1 < len(ed.pages),
				// Nothing is confirmed before the citizen has seen the
				// whole summary and the options under it, and a final
				// screen is read to its last page.
				(ed.confirm || ed.end) && ed.page+1 < len(ed.pages) && input != keys.Back && input != keys.Home:
				ed.page++
				ed.lastText = req.Text
				return s.savePage(ctx, sess, ed, now)
			case input == keys.Back && ed.page > 0:
				ed.page--
				ed.lastText = req.Text
				return s.savePage(ctx, sess, ed, now)
			case input == keys.Back:
				res, err = s.cfg.Engine.Step(st, flows.Input{Action: flows.Back})
			case input == keys.Home:
				res, err = s.cfg.Engine.Step(st, flows.Input{Action: flows.Home})
			default:
				res, err = s.cfg.Engine.Step(st, flows.Input{Text: input})
			}
			if channels.ErrorCode(err) == channels.EINVALID {
				// The state no longer fits the catalog (a service changed
				// since): start cleanly rather than fail the citizen.
				s.cfg.Log.Warn("ussd state does not fit the catalog; starting again", "session", req.SessionID, "err", err)
				res, err = s.start(ctx, req.Phone)
			}
		}
	}
	if err != nil {
		return s.fail(req, err)
	}
	res, err = s.cfg.Engine.Settle(ctx, s.cfg.Host, req.Phone, sess.ID, res)
	var ce *flows.CallError
	if errors.As(err, &ce) {
		s.cfg.Log.Error("ussd call failed; citizen shown a retry", "session", req.SessionID, "err", err)
	} else if err != nil {
		return s.fail(req, err)
	}
	ed.lastText = req.Text
	return s.save(ctx, sess, ed, res.State, res.Screen, res.Ended(), now)
}

// start begins at the root menu in the phone's remembered language.
func (s *Server) start(ctx context.Context, phone string) (flows.Result, error) {
	prefs, err := s.cfg.Prefs.Prefs(ctx, phone)
	if err != nil {
		return flows.Result{}, fmt.Errorf("preferences: %w", err)
	}
	return s.cfg.Engine.Start(channels.ChannelUSSD, prefs.Lang, "")
}

// resumable returns the state of the phone's latest session when the
// citizen left it mid-service, without ending it, within the resume window.
func (s *Server) resumable(ctx context.Context, phone string, now time.Time) (flows.State, bool) {
	ptr, err := s.cfg.Sessions.Session(ctx, resumeKey(phone), now)
	if err != nil {
		if channels.ErrorCode(err) != channels.ENOTFOUND {
			s.cfg.Log.Error("read ussd resume pointer", "err", err)
		}
		return flows.State{}, false
	}
	last, err := s.cfg.Sessions.Session(ctx, string(ptr.Edge), now)
	if err != nil || now.Sub(last.UpdatedAt) > s.cfg.ResumeWindow {
		return flows.State{}, false
	}
	ed, err := decodeEdge(last.Edge)
	if err != nil || ed.end {
		return flows.State{}, false
	}
	st, err := flows.DecodeState(last.State)
	if err != nil || !s.cfg.Engine.Waiting(st) {
		return flows.State{}, false
	}
	// Continue in the language the citizen chose last, which may have
	// changed since the session dropped.
	if prefs, err := s.cfg.Prefs.Prefs(ctx, phone); err == nil && prefs.Lang != "" {
		st.Lang = prefs.Lang
	}
	return st, true
}

// keep is how long a session record is kept after its last hop: long
// enough to continue it, and to resume it after a drop.
func (s *Server) keep() time.Duration { return max(s.cfg.SessionTTL, s.cfg.ResumeWindow) }

func (s *Server) resumeMenu(lang string, why *channels.Message) channels.Screen {
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

// answerResume handles the answer to "continue or start again".
func (s *Server) answerResume(ctx context.Context, req Request, sess *channels.Session, ed edge, st flows.State, input string, now time.Time) (Reply, error) {
	ed.lastText = req.Text
	switch strings.TrimSpace(input) {
	case "1":
		sc, err := s.cfg.Engine.Screen(st)
		if err != nil {
			break
		}
		ed.resume = false
		return s.save(ctx, sess, ed, st, sc, false, now)
	case "2":
		res, err := s.start(ctx, req.Phone)
		if err != nil {
			return s.fail(req, err)
		}
		ed.resume = false
		return s.save(ctx, sess, ed, res.State, res.Screen, false, now)
	}
	why := channels.Msg("error.choice")
	return s.save(ctx, sess, ed, st, s.resumeMenu(st.Lang, &why), false, now)
}

// save renders sc, keeps the session and returns the first page.
func (s *Server) save(ctx context.Context, sess *channels.Session, ed edge, st flows.State, sc channels.Screen, end bool, now time.Time) (Reply, error) {
	ed.pages = Pages(s.cfg.Bundle, st.Lang, sc, s.cfg.Layout)
	ed.page = 0
	ed.confirm = sc.Kind == channels.KindConfirm
	ed.end = end
	ed.lastReply = ed.pages[0]
	sess.State = st.Encode()
	if err := s.put(ctx, sess, ed, now); err != nil {
		return s.fail(Request{SessionID: sess.ID, Phone: sess.Phone}, err)
	}
	return Reply{Text: ed.lastReply, End: ed.final()}, nil
}

// savePage shows another page of the current screen.
func (s *Server) savePage(ctx context.Context, sess *channels.Session, ed edge, now time.Time) (Reply, error) {
	ed.lastReply = ed.pages[ed.page]
	if err := s.put(ctx, sess, ed, now); err != nil {
		return s.fail(Request{SessionID: sess.ID, Phone: sess.Phone}, err)
	}
	return Reply{Text: ed.lastReply, End: ed.final()}, nil
}

func (s *Server) put(ctx context.Context, sess *channels.Session, ed edge, now time.Time) error {
	sess.Edge = ed.encode()
	sess.UpdatedAt = now
	sess.ExpiresAt = now.Add(s.keep())
	write := []*channels.Session{sess}
	if ed.pointer != nil {
		write = append(write, ed.pointer)
	}
	if err := s.cfg.Sessions.PutSession(ctx, write...); err != nil {
		return fmt.Errorf("save session %s: %w", sess.ID, err)
	}
	return nil
}

// fail logs err and ends the session with a polite localized message.
func (s *Server) fail(req Request, err error) (Reply, error) {
	s.cfg.Log.Error("ussd hop failed", "session", req.SessionID, "phone", maskPhone(req.Phone), "err", err)
	return Reply{Text: s.cfg.Bundle.Text(locales.Default, channels.Msg("error.internal")), End: true}, err
}

// maskPhone keeps enough of a phone number to correlate logs, not to call.
func maskPhone(p string) string {
	if len(p) <= 4 {
		return "***"
	}
	return "***" + p[len(p)-3:]
}

// textDigest names a text in logs without revealing it.
func textDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%d:%x", len(s), sum[:4])
}
