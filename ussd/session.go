package ussd

import (
	"errors"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/lenprefix"
)

// A USSD session is kept as a channels.Session with the ID "ussd/" + the
// gateway's session ID: State holds the engine's state (flows.State,
// encoded), Edge what this channel keeps for itself (see edge). It
// expires SessionTTL after its last hop. When the flow ends, its engine
// state is dropped and only a digest of the last text is kept: the record
// stays, until it expires, so that a gateway retry of the final hop gets
// the same END (with the same reference) instead of a new root menu.
//
// While the citizen is inside a service, a second record, the resume
// record "ussd-resume/" + phone, holds the latest engine state of that
// phone for ResumeWindow, so that a new dial after a drop can offer to
// continue; its Edge is the submission key of the application (the ID of
// the session that began it), so that an application is submitted once
// however many sessions it took. It is cleared when the flow ends or the citizen leaves the
// service: overwritten in the same write as the session with no state and
// an expiry of now, which no reader sees and the purge removes.
func sessionKey(id string) string   { return "ussd/" + id }
func resumeKey(phone string) string { return "ussd-resume/" + phone }

// edge is the channel's part of a session.
//
// It is encoded (Session.Edge) as: a version byte (2); a flags byte (1 the
// flow has ended, 2 the resume menu is shown, 4 the screen is a confirm
// step, 8 this session holds the phone's resume record); the index of the
// page shown as a uvarint; the accumulated text of the last hop answered
// (once the flow has ended, only the first 16 bytes of its SHA-256);
// the submission key of a resumed application ("" for the session's own);
// the number of pages as a uvarint, then each page. Strings are
// uvarint-length-prefixed (package lenprefix). The last reply is not
// stored twice: it is the page shown, pages[page].
type edge struct {
	end     bool     // the flow has ended: its last page is sent as END
	resume  bool     // the "continue or start again" menu is shown
	confirm bool     // a confirm step: its options are on its last page
	holds   bool     // this session wrote the phone's resume record
	page    int      // the page of pages shown
	last    string   // the accumulated text of the last hop answered; its digest once ended
	key     string   // submission key of a resumed application; "" for this session's
	pages   []string // the current screen, laid out
}

const edgeVersion = 2

const (
	flagEnd = 1 << iota
	flagResume
	flagConfirm
	flagHolds
)

// errBadEdge is returned for session data this version cannot read; the
// session then starts again.
var errBadEdge = errors.New("ussd: unreadable session data")

func (e *edge) appendEncode(b []byte) []byte {
	var flags byte
	if e.end {
		flags |= flagEnd
	}
	if e.resume {
		flags |= flagResume
	}
	if e.confirm {
		flags |= flagConfirm
	}
	if e.holds {
		flags |= flagHolds
	}
	b = append(b, edgeVersion, flags)
	b = lenprefix.AppendUvarint(b, uint64(e.page))
	b = lenprefix.AppendString(b, e.last)
	b = lenprefix.AppendString(b, e.key)
	b = lenprefix.AppendUvarint(b, uint64(len(e.pages)))
	for _, p := range e.pages {
		b = lenprefix.AppendString(b, p)
	}
	return b
}

func decodeEdge(b []byte) (edge, error) {
	if len(b) < 2 || b[0] != edgeVersion || b[1]&^(flagEnd|flagResume|flagConfirm|flagHolds) != 0 {
		return edge{}, errBadEdge
	}
	e := edge{end: b[1]&flagEnd != 0, resume: b[1]&flagResume != 0, confirm: b[1]&flagConfirm != 0, holds: b[1]&flagHolds != 0}
	r := lenprefix.NewReader(b[2:])
	page := r.Uvarint()
	e.last = r.String()
	e.key = r.String()
	n := r.Uvarint()
	if n == 0 || n > uint64(r.Len()) || page >= n { // each page takes at least a byte
		return edge{}, errBadEdge
	}
	e.page = int(page)
	e.pages = make([]string, n)
	for i := range e.pages {
		e.pages[i] = r.String()
	}
	if r.Bad() || r.Len() != 0 {
		return edge{}, errBadEdge
	}
	return e, nil
}

// reply is the page shown; the session ends on the last page of an ended
// flow only, so that a long final screen is read to its end.
func (e *edge) reply() Reply {
	return Reply{Text: e.pages[e.page], End: e.final()}
}

func (e *edge) final() bool { return e.end && e.page == len(e.pages)-1 }

// hopInput reads the accumulated text of a hop against the text of the
// last hop answered. The new input is what follows the last text and its
// "*", so that a "*" typed inside an answer ("Plot 5*B") is kept; when the
// gateway's history does not start with the last text, it is the part
// after the last "*". fresh is false for a hop already answered: the same
// text again (a gateway retry) or the text of an earlier hop arriving late.
func hopInput(last, text string) (input string, fresh bool) {
	switch {
	case text == last:
		return "", false
	case last == "":
		return text, true
	case text == "" || strings.HasPrefix(last, text+"*"):
		return "", false
	}
	if in, ok := strings.CutPrefix(text, last+"*"); ok {
		return in, true
	}
	if i := strings.LastIndexByte(text, '*'); i >= 0 {
		return text[i+1:], true
	}
	return text, true
}

// resumeRecord is the phone's resume record holding st, and in Edge the
// submission key of its application, until expires.
func resumeRecord(phone string, st flows.State, key string, now, expires time.Time) *channels.Session {
	return &channels.Session{
		ID: resumeKey(phone), Phone: phone, Channel: channels.ChannelUSSD,
		State: st.Encode(), Edge: []byte(key), UpdatedAt: now, ExpiresAt: expires,
	}
}

// clearedResume overwrites the phone's resume record with nothing, expired.
func clearedResume(phone string, now time.Time) *channels.Session {
	return &channels.Session{ID: resumeKey(phone), Phone: phone, Channel: channels.ChannelUSSD, UpdatedAt: now, ExpiresAt: now}
}
