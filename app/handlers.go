package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

type serviceItem struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// listServices is GET /v1/services: the catalog with localized titles.
func (a *API) listServices(c *gin.Context) {
	lang := a.lang(c, "", "")
	items := make([]serviceItem, 0, len(a.cfg.Engine.Catalog().Services))
	for _, s := range a.cfg.Engine.Catalog().Services {
		items = append(items, serviceItem{ID: s.ID, Title: a.cfg.Bundle.Text(lang, channels.Msg(s.Title))})
	}
	c.JSON(http.StatusOK, gin.H{"lang": lang, "services": items})
}

type sessionReply struct {
	Session string `json:"session"`
	Screen  Screen `json:"screen"`
}

// startSession is POST /v1/sessions {service, phone, lang}: a session at
// the service's first step, or at the root menu when service is empty.
func (a *API) startSession(c *gin.Context) {
	var req struct {
		Service string `json:"service"`
		Phone   string `json:"phone"`
		Lang    string `json:"lang"`
	}
	lang := a.lang(c, "", "")
	if err := a.decode(c, &req); err != nil {
		a.fail(c, lang, err)
		return
	}
	phone, err := a.phone(req.Phone)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	lang = a.lang(c, req.Lang, phone)
	res, err := a.cfg.Engine.Start(channels.ChannelApp, lang, req.Service)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	id := newSessionID()
	if res, err = a.settle(c.Request.Context(), phone, sessionKey(id), res); err != nil {
		a.fail(c, lang, err)
		return
	}
	sc, err := a.save(c, id, phone, res)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	c.JSON(http.StatusCreated, sessionReply{Session: id, Screen: sc})
}

// save keeps the session with its rendered screen, or deletes it once the
// flow has ended, and returns the screen.
func (a *API) save(c *gin.Context, id, phone string, res flows.Result) (Screen, error) {
	sc := Render(a.cfg.Bundle, res.State.Lang, res.Screen)
	ctx := c.Request.Context()
	if res.Ended() {
		return sc, a.cfg.Store.DeleteSession(ctx, sessionKey(id))
	}
	edge, err := json.Marshal(sc)
	if err != nil {
		return Screen{}, err
	}
	now := a.cfg.Now()
	return sc, a.cfg.Store.PutSession(ctx, &channels.Session{
		ID: sessionKey(id), Phone: phone, Channel: channels.ChannelApp,
		State: res.State.Encode(), Edge: edge, UpdatedAt: now, ExpiresAt: now.Add(a.cfg.SessionTTL),
	})
}

// load returns a live session; ENOTFOUND with error.session_unknown when it
// is missing, expired or ended.
func (a *API) load(c *gin.Context) (*channels.Session, error) {
	id := c.Param("id")
	if len(id) != 32 {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.session_unknown", "malformed session id")
	}
	s, err := a.cfg.Store.Session(c.Request.Context(), sessionKey(id), a.cfg.Now())
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.session_unknown", "session %s", id)
	}
	return s, err
}

// getSession is GET /v1/sessions/{id}: the screen the session waits on.
func (a *API) getSession(c *gin.Context) {
	lang := a.lang(c, "", "")
	s, err := a.load(c)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	var sc Screen
	if err := json.Unmarshal(s.Edge, &sc); err != nil {
		a.fail(c, lang, err)
		return
	}
	c.JSON(http.StatusOK, sessionReply{Session: c.Param("id"), Screen: sc})
}

// inputRequest is the body of POST /v1/sessions/{id}/input.
type inputRequest struct {
	Text   string `json:"text"`
	Action string `json:"action"` // "", "answer", "back" or "home"
}

// postInput is POST /v1/sessions/{id}/input: answer the screen, or go back
// or home. A refused answer returns the same screen with its error.
func (a *API) postInput(c *gin.Context) {
	lang := a.lang(c, "", "")
	var req inputRequest
	if err := a.decode(c, &req); err != nil {
		a.fail(c, lang, err)
		return
	}
	in := flows.Input{Text: req.Text}
	switch req.Action {
	case "", "answer":
	case "back":
		in.Action = flows.Back
	case "home":
		in.Action = flows.Home
	default:
		a.fail(c, lang, channels.Errorf(channels.EINVALID, "error.bad_request", "action %q", req.Action))
		return
	}
	s, err := a.load(c)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	st, err := flows.DecodeState(s.State)
	if err != nil {
		a.fail(c, lang, channels.Errorf(channels.ENOTFOUND, "error.session_unknown", "state: %v", err))
		return
	}
	res, err := a.cfg.Engine.Step(st, in)
	if err == nil {
		res, err = a.settle(c.Request.Context(), s.Phone, s.ID, res)
	}
	if err != nil {
		a.fail(c, st.Lang, err)
		return
	}
	sc, err := a.save(c, c.Param("id"), s.Phone, res)
	if err != nil {
		a.fail(c, st.Lang, err)
		return
	}
	c.JSON(http.StatusOK, sessionReply{Session: c.Param("id"), Screen: sc})
}

// submissionRequest is the body of POST /v1/services/{id}/submissions.
type submissionRequest struct {
	Phone   string            `json:"phone"`
	Lang    string            `json:"lang"`
	Answers map[string]string `json:"answers"`
}

// submit is POST /v1/services/{id}/submissions: the whole form at once,
// checked step by step as every channel checks it. An Idempotency-Key
// header makes a retried POST return the first case.
func (a *API) submit(c *gin.Context) {
	lang := a.lang(c, "", "")
	var req submissionRequest
	if err := a.decode(c, &req); err != nil {
		a.fail(c, lang, err)
		return
	}
	phone, err := a.phone(req.Phone)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	lang = a.lang(c, req.Lang, phone)
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 128 {
		a.fail(c, lang, channels.Errorf(channels.EINVALID, "error.bad_request", "Idempotency-Key over 128 bytes"))
		return
	}
	if key == "" {
		key = newSessionID()
	}
	res, bad, err := a.cfg.Engine.Fill(channels.ChannelApp, lang, c.Param("id"), req.Answers)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	if len(bad) > 0 {
		var body errorBody
		body.Error.Code = channels.EINVALID
		body.Error.Message = a.cfg.Bundle.Text(lang, channels.Msg("error.form"))
		body.Fields = map[string]string{}
		for _, fe := range bad {
			body.Fields[fe.Field] = a.cfg.Bundle.Text(lang, fe.Message)
		}
		c.JSON(http.StatusUnprocessableEntity, body)
		return
	}
	res, err = a.settle(c.Request.Context(), phone, "app-form/"+phone+"/"+key, res)
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	sc := Render(a.cfg.Bundle, lang, res.Screen)
	switch {
	case res.Screen.Reference != "":
		c.JSON(http.StatusCreated, gin.H{"reference": res.Screen.Reference, "screen": sc})
	case res.Screen.Error != nil:
		a.fail(c, lang, channels.Errorf(channels.EINTERNAL, "error.internal", "submission of %s not stored", c.Param("id")))
	default:
		c.JSON(http.StatusOK, gin.H{"screen": sc})
	}
}

type historyItem struct {
	Status channels.Status `json:"status"`
	Label  string          `json:"label"`
	At     time.Time       `json:"at"`
	Note   string          `json:"note,omitempty"`
}

// getCase is GET /v1/cases/{ref}?phone=: the status of a case, only to the
// phone that submitted it; any other phone gets the same 404 as an unknown
// reference, so references cannot be probed. Answers are not returned until
// the app signs citizens in.
func (a *API) getCase(c *gin.Context) {
	lang := a.lang(c, "", "")
	notFound := channels.Errorf(channels.ENOTFOUND, "error.not_found", "case")
	ref, ok := channels.ParseReference(c.Param("ref"))
	if !ok {
		a.fail(c, lang, notFound)
		return
	}
	phone, err := a.phone(c.Query("phone"))
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	lang = a.lang(c, "", phone)
	cs, err := a.cfg.Store.Case(c.Request.Context(), ref)
	if channels.ErrorCode(err) == channels.ENOTFOUND || (err == nil && cs.Phone != phone) {
		a.fail(c, lang, notFound)
		return
	}
	if err != nil {
		a.fail(c, lang, err)
		return
	}
	title := cs.Service
	if svc := a.cfg.Engine.Catalog().Service(cs.Service); svc != nil {
		title = a.cfg.Bundle.Text(lang, channels.Msg(svc.Title))
	}
	history := make([]historyItem, 0, len(cs.History))
	for _, h := range cs.History {
		history = append(history, historyItem{Status: h.Status, Label: a.statusLabel(lang, h.Status), At: h.At.UTC(), Note: h.Note})
	}
	c.JSON(http.StatusOK, gin.H{
		"reference":    cs.Ref,
		"service":      cs.Service,
		"title":        title,
		"status":       cs.Status,
		"status_label": a.statusLabel(lang, cs.Status),
		"created_at":   cs.CreatedAt.UTC(),
		"history":      history,
	})
}

func (a *API) statusLabel(lang string, s channels.Status) string {
	return a.cfg.Bundle.Text(lang, channels.Msg("status."+strings.ToLower(string(s))))
}
