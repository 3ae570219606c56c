package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/flows"
)

// sessionReply is the answer of every session endpoint.
type sessionReply struct {
	Session string `json:"session"`
	Screen  Screen `json:"screen"`
}

// startSession is POST /v1/sessions {service, lang}: a new session of the
// signed-in phone at the service's first step (the root menu when service
// is empty), 201.
func (a *API) startSession(c *gin.Context) error {
	body, err := apijson.ReadBody(c, a.cfg.MaxBody)
	if err != nil {
		return err
	}
	var req startRequest
	if err := apijson.Decode(body, &req); err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	a.language(c, req.Lang, "")
	phone, err := a.phone(c, req.Phone)
	if err != nil {
		return err
	}
	lang := a.language(c, req.Lang, phone)
	res, err := a.cfg.Engine.Start(channels.ChannelApp, lang, req.Service)
	if err != nil {
		return fmt.Errorf("start service %q: %w", req.Service, err)
	}
	id := newID()
	if res, err = a.settleSession(c.Request.Context(), phone, sessionKey(id), res); err != nil {
		return err
	}
	sc, err := a.save(c.Request.Context(), id, phone, res)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, sessionReply{Session: id, Screen: sc})
	return nil
}

// getSession is GET /v1/sessions/{id}: the screen the session waits on,
// as the last answer showed it (with the refusal of the last input, if
// any), for an app that was closed or lost the answer.
func (a *API) getSession(c *gin.Context) error {
	id := c.Param("id")
	s, st, err := a.load(c, id)
	if err != nil {
		return err
	}
	setLang(c, st.Lang)
	sc, err := a.cfg.Engine.Screen(st)
	if err != nil {
		return a.forget(c.Request.Context(), id, err)
	}
	out := Render(a.cfg.Bundle, st.Lang, sc)
	out.Error = refusal(s.Edge)
	c.JSON(http.StatusOK, sessionReply{Session: id, Screen: out})
	return nil
}

// postInput is POST /v1/sessions/{id}/input: answer the screen, or go back
// or home. A refused answer is 200 with the same screen and its error; an
// answer that ends the service deletes the session.
func (a *API) postInput(c *gin.Context) error {
	body, err := apijson.ReadBody(c, a.cfg.MaxBody)
	if err != nil {
		return err
	}
	in, err := decodeInput(body)
	if err != nil {
		return err
	}
	id := c.Param("id")
	ctx := c.Request.Context()
	unlock, err := a.cfg.Store.LockKey(ctx, "app/"+id)
	if err != nil {
		return fmt.Errorf("lock session: %w", err)
	}
	defer unlock()
	s, st, err := a.load(c, id)
	if err != nil {
		return err
	}
	setLang(c, st.Lang)
	res, err := a.cfg.Engine.Step(st, in)
	if err != nil {
		return a.forget(ctx, id, err)
	}
	a.cfg.Meter.Answered(channels.ChannelApp, st.Service, st.Step)
	if res, err = a.settleSession(ctx, s.Phone, s.ID, res); err != nil {
		return err
	}
	sc, err := a.save(ctx, id, s.Phone, res)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, sessionReply{Session: id, Screen: sc})
	return nil
}

// settle carries out what res asks of the host for the citizen on phone,
// in the session (or submission) key. When a host call failed, the engine
// still gives a result to show (a retry screen), returned with the failure;
// any other error is returned alone.
func (a *API) settle(ctx context.Context, phone, key string, res flows.Result) (flows.Result, *flows.CallError, error) {
	res, err := a.cfg.Engine.Settle(ctx, a.cfg.Host, phone, key, res)
	var ce *flows.CallError
	if errors.As(err, &ce) {
		return res, ce, nil
	}
	if err != nil {
		return flows.Result{}, nil, fmt.Errorf("settle %s: %w", key, err)
	}
	return res, nil, nil
}

// settleSession is settle for a session, whose citizen is shown the retry
// screen of a failed call; the failure is logged for the operator.
func (a *API) settleSession(ctx context.Context, phone, key string, res flows.Result) (flows.Result, error) {
	res, failed, err := a.settle(ctx, phone, key, res)
	if failed != nil {
		a.log.ErrorContext(ctx, "app: host call failed; citizen shown a retry", "session", key, "service", failed.Service, "err", failed)
	}
	return res, err
}

// save keeps the session at res, or deletes it once the service has ended,
// and returns the screen to show. The stored state rebuilds the screen; the
// Edge keeps only what it cannot (the refusal of the last input).
func (a *API) save(ctx context.Context, id, phone string, res flows.Result) (Screen, error) {
	sc := Render(a.cfg.Bundle, res.State.Lang, res.Screen)
	a.cfg.Meter.Shown(channels.ChannelApp, res.State.Service, res.State.Step)
	if res.Ended() {
		if err := a.cfg.Store.DeleteSession(ctx, sessionKey(id)); err != nil {
			return Screen{}, fmt.Errorf("delete ended session %s: %w", id, err)
		}
		return sc, nil
	}
	now := a.cfg.Now()
	err := a.cfg.Store.PutSession(ctx, &channels.Session{
		ID:        sessionKey(id),
		Phone:     phone,
		Channel:   channels.ChannelApp,
		State:     res.State.Encode(),
		Edge:      encodeEdge(sc.Error),
		UpdatedAt: now,
		ExpiresAt: now.Add(a.cfg.SessionTTL),
	})
	if err != nil {
		return Screen{}, fmt.Errorf("save session %s: %w", id, err)
	}
	return sc, nil
}

// errSessionUnknown is the answer for a session that is missing, expired,
// ended or no longer fits the catalog.
func errSessionUnknown(format string, args ...any) error {
	return channels.Errorf(channels.ENOTFOUND, "error.session_unknown", format, args...)
}

// load returns the live session id of the signed-in phone and its state.
// A session of another phone is unknown, as a missing one: knowing its ID
// is not enough to see or answer it.
func (a *API) load(c *gin.Context, id string) (*channels.Session, flows.State, error) {
	ctx := c.Request.Context()
	phone, err := a.phone(c, "")
	if err != nil {
		return nil, flows.State{}, err
	}
	if !validID(id) {
		return nil, flows.State{}, errSessionUnknown("malformed session id of %d bytes", len(id))
	}
	s, err := a.cfg.Store.Session(ctx, sessionKey(id), a.cfg.Now())
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil, flows.State{}, errSessionUnknown("session %s: %v", id, err)
	}
	if err != nil {
		return nil, flows.State{}, fmt.Errorf("load session %s: %w", id, err)
	}
	if s.Phone != phone {
		return nil, flows.State{}, errSessionUnknown("session %s belongs to another phone", id)
	}
	st, err := flows.DecodeState(s.State)
	if err != nil {
		return nil, flows.State{}, a.forget(ctx, id, err)
	}
	return s, st, nil
}

// forget handles an engine error on a stored session. A state the engine
// can no longer read or place (the catalog changed since it was saved) is
// deleted and answered as an unknown session, so that the app starts
// again; any other error is returned as it is.
func (a *API) forget(ctx context.Context, id string, cause error) error {
	if !errors.Is(cause, flows.ErrBadState) && channels.ErrorMessage(cause) != "error.session_unknown" {
		return fmt.Errorf("session %s: %w", id, cause)
	}
	if err := a.cfg.Store.DeleteSession(ctx, sessionKey(id)); err != nil {
		return fmt.Errorf("delete stale session %s: %w", id, err)
	}
	a.log.WarnContext(ctx, "app: stale session deleted", "session", id, "err", cause)
	return errSessionUnknown("session %s: %v", id, cause)
}

// edgeVersion is the first byte of a session's Edge. The rest is the
// localized refusal of the last input, usually empty: one byte a session.
const edgeVersion = 1

func encodeEdge(refusal string) []byte { return append([]byte{edgeVersion}, refusal...) }

// refusal returns the refusal kept in edge; none for an edge it cannot
// read (one written by another version, which only loses the message).
func refusal(edge []byte) string {
	if len(edge) == 0 || edge[0] != edgeVersion {
		return ""
	}
	return string(edge[1:])
}
