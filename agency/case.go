package agency

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
)

// Bounds of the requests.
const (
	DefaultLimit = 50   // cases a page holds when the request does not say
	MaxLimit     = 200  // cases a page may hold
	MaxNote      = 1000 // characters of a note or a question
	maxServices  = 20   // services one list may filter on
	maxServiceID = 64
)

// page is the answer of GET /v1/agency/cases.
type page struct {
	Cases []*channels.Case `json:"cases"`
	// NextCursor, when set, is the cursor of the next page; absent on the
	// last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// statusRequest is the body of POST /v1/agency/cases/{ref}/status.
type statusRequest struct {
	Status channels.Status `json:"status"`
	Note   string          `json:"note"`
}

// infoRequest is the body of POST /v1/agency/cases/{ref}/info-requests.
type infoRequest struct {
	Question string `json:"question"`
}

// listCases is GET /v1/agency/cases: the key's agency's cases, oldest
// first, optionally only those of some services (service=a,b or repeated)
// and of one status, limit a page (DefaultLimit, at most MaxLimit), from
// the cursor a previous page gave. A cursor stays valid whatever is created
// after it; the filters are not in it, so a client repeats them on every
// page.
func (a *API) listCases(c *gin.Context) error {
	k := key(c)
	q := channels.CaseQuery{Agency: k.Agency, After: c.Query("cursor"), Limit: DefaultLimit}
	for _, v := range c.QueryArray("service") {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if !validServiceID(s) {
				return channels.Errorf(channels.EINVALID, "error.bad_request", "service %q is not a service ID", s)
			}
			q.Services = append(q.Services, s)
		}
	}
	if len(q.Services) > maxServices {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "%d services to filter on, at most %d", len(q.Services), maxServices)
	}
	if s := c.Query("status"); s != "" {
		if q.Status = channels.Status(s); !q.Status.Valid() {
			return channels.Errorf(channels.EINVALID, "error.status_unknown", "status %q", s)
		}
	}
	if l, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			return channels.Errorf(channels.EINVALID, "error.page_limit", "limit %q is not 1 to %d", l, MaxLimit)
		}
		q.Limit = n
	}
	cases, next, err := a.cfg.Cases.ListCases(c.Request.Context(), q)
	if err != nil {
		return fmt.Errorf("list cases of agency %s: %w", k.Agency, err)
	}
	c.JSON(http.StatusOK, page{Cases: cases, NextCursor: next})
	return nil
}

// getCase is GET /v1/agency/cases/{ref}: the case, when it is the key's
// agency's; 404 otherwise, the very answer of an unknown reference.
func (a *API) getCase(c *gin.Context) error {
	k := key(c)
	ref, ok := channels.ParseReference(c.Param("ref"))
	if !ok {
		return notFound(c.Param("ref"), "malformed")
	}
	cs, err := a.cfg.Cases.Case(c.Request.Context(), ref)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return notFound(ref, "unknown")
	}
	if err != nil {
		return fmt.Errorf("read case %s for agency %s: %w", ref, k.Agency, err)
	}
	if cs.Agency != k.Agency {
		return notFound(ref, "of agency "+cs.Agency)
	}
	c.JSON(http.StatusOK, cs)
	return nil
}

// changeStatus is POST /v1/agency/cases/{ref}/status {"status", "note"}:
// moves the case along its lifecycle and answers the updated case. A note
// is required to reject or to ask for more information (the citizen is
// told why) and holds at most MaxNote characters. A move the lifecycle
// does not allow is 409 error.transition; an unknown status is 400
// error.status_unknown.
func (a *API) changeStatus(c *gin.Context) error {
	var req statusRequest
	if err := apijson.DecodeBody(c, a.cfg.MaxBody, &req); err != nil {
		return err
	}
	if !req.Status.Valid() {
		return channels.Errorf(channels.EINVALID, "error.status_unknown", "status %q", req.Status)
	}
	note := strings.TrimSpace(req.Note)
	if note == "" && (req.Status == channels.StatusRejected || req.Status == channels.StatusMoreInfo) {
		return channels.Errorf(channels.EINVALID, "error.note_required", "status %s without a note", req.Status)
	}
	if n := utf8.RuneCountInString(note); n > MaxNote {
		return channels.Errorf(channels.EINVALID, "error.note_too_long", "note of %d characters", n)
	}
	return a.transition(c, req.Status, note)
}

// requestInfo is POST /v1/agency/cases/{ref}/info-requests {"question"}:
// the case goes to more_info with the question as its note, for the
// citizen to answer; the updated case is the answer.
func (a *API) requestInfo(c *gin.Context) error {
	var req infoRequest
	if err := apijson.DecodeBody(c, a.cfg.MaxBody, &req); err != nil {
		return err
	}
	q := strings.TrimSpace(req.Question)
	if q == "" {
		return channels.Errorf(channels.EINVALID, "error.question_required", "no question")
	}
	if n := utf8.RuneCountInString(q); n > MaxNote {
		return channels.Errorf(channels.EINVALID, "error.note_too_long", "question of %d characters", n)
	}
	return a.transition(c, channels.StatusMoreInfo, q)
}

// transition moves the case of the request to status to in one store
// transaction, recording the key as the actor, and answers the case. The
// agency check is inside the transaction, so another agency's case is
// never written.
func (a *API) transition(c *gin.Context, to channels.Status, note string) error {
	k := key(c)
	ref, ok := channels.ParseReference(c.Param("ref"))
	if !ok {
		return notFound(c.Param("ref"), "malformed")
	}
	at := a.cfg.Now().UTC()
	var from channels.Status
	repeated := false
	cs, err := a.cfg.Cases.UpdateCase(c.Request.Context(), ref, func(cs *channels.Case) error {
		if cs.Agency != k.Agency {
			return notFound(ref, "of agency "+cs.Agency)
		}
		from = cs.Status
		// A retry of the request that made the last change (its answer was
		// lost) gets the case again, not a conflict.
		if last := cs.History[len(cs.History)-1]; last.Status == to && last.Actor == actor(k) && last.Note == note {
			repeated = true
			return errRepeated
		}
		if err := cs.Transition(to, at, actor(k), note); err != nil {
			if channels.ErrorCode(err) == channels.ECONFLICT {
				return channels.Errorf(channels.ECONFLICT, "error.transition", "case %s cannot go from %s to %s; it may go to %v", ref, cs.Status, to, cs.Status.Next())
			}
			return err
		}
		return nil
	})
	if repeated {
		cs, err = a.cfg.Cases.Case(c.Request.Context(), ref)
		if err != nil {
			return fmt.Errorf("read case %s: %w", ref, err)
		}
		c.JSON(http.StatusOK, cs)
		return nil
	}
	switch channels.ErrorCode(err) {
	case "":
	case channels.ENOTFOUND, channels.ECONFLICT, channels.EINVALID:
		return err // the store's not found has the very message of notFound
	default:
		return fmt.Errorf("change case %s to %s for agency %s: %w", ref, to, k.Agency, err)
	}
	a.log.InfoContext(c.Request.Context(), "agency: case status changed", "reference", ref, "from", from, "to", to, "agency", k.Agency, "key", k.ID)
	c.JSON(http.StatusOK, cs)
	return nil
}

// errRepeated aborts an update that a retry has already made.
var errRepeated = errors.New("already done")

// notFound is the one answer to a reference a key may not see, whatever
// the reason (why, for logs only): malformed, unknown or another agency's.
func notFound(ref, why string) error {
	return channels.Errorf(channels.ENOTFOUND, "error.not_found", "case %q: %s", ref, why)
}

// validServiceID reports whether s has the shape of a service ID of the
// catalog: a lower-case letter, then lower-case letters, digits and _.
func validServiceID(s string) bool {
	if len(s) > maxServiceID || s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && (s[i] < '0' || s[i] > '9') && s[i] != '_' {
			return false
		}
	}
	return true
}
