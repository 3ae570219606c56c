package kiosk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// walk is a service run for a citizen, kept in the operator's session:
// the engine's state while it waits for an answer, and its last screen
// once it has ended (so that reloading the page shows it again).
type walk struct {
	// Key is the idempotency key of the walk's submission: a repeated
	// request makes no second case.
	Key     string            `json:"key"`
	State   []byte            `json:"state,omitempty"`
	Refusal *channels.Message `json:"refusal,omitempty"` // why the last answer was refused
	End     *channels.Screen  `json:"end,omitempty"`
	// Receipt is set when the reference was sent to the citizen by SMS.
	Receipt bool `json:"receipt,omitempty"`
}

// at names the screen the walk waits on. Its form sends it back, so that
// a form posted twice (a double tap, a reload) or from an older screen
// (the browser's back button) is not taken as an answer to this one.
func (w *walk) at() string {
	if w.End != nil {
		return "end"
	}
	sum := sha256.Sum256(w.State)
	return hex.EncodeToString(sum[:8])
}

// screenView is a screen of a service as the walk page shows it: its texts
// in the citizen's language (Lang), the operator's controls around it.
type screenView struct {
	Lang, Dir string
	Kind      channels.ScreenKind
	Text      string
	Lines     []string
	Options   []optionView
	Input     *inputView
	Error     string
	Reference string
	CanGoBack bool
	Ended     bool
	Receipt   bool   // the reference went to the citizen by SMS
	At        string // see walk.at
}

// optionView is a choice of a menu or confirm screen, a button that posts
// Key.
type optionView struct {
	Key, Label string
}

// inputView is the field of an input screen, with the HTML type and the
// bounds of the engine's input spec. The browser does not enforce them
// (the form is novalidate): the engine checks every answer and says why
// it refuses one, in the citizen's language, as on every channel.
type inputView struct {
	Type      string // the HTML input type
	InputMode string
	Min, Max  string
	MinLength int
	MaxLength int
}

// htmlInput is the HTML form of the engine's input spec in.
func htmlInput(in *channels.Input) *inputView {
	v := &inputView{Type: "text", MinLength: in.MinLength, MaxLength: in.MaxLength}
	switch in.Type {
	case channels.InputNumber:
		v.Type, v.InputMode, v.Min, v.Max = "number", "decimal", in.Min, in.Max
	case channels.InputDate:
		v.Type, v.Min, v.Max = "date", in.Min, in.Max // ISO dates, which the engine reads too
	case channels.InputPhone:
		v.Type, v.InputMode = "tel", "tel"
	case channels.InputNationalID, channels.InputReference:
		v.InputMode = "numeric"
	}
	if in.Secret {
		v.Type = "password"
	}
	return v
}

// render localizes the screen sc of w in lang.
func (k *Console) render(w *walk, lang string, sc channels.Screen) *screenView {
	b := k.cfg.Bundle
	v := &screenView{
		Lang:      lang,
		Dir:       locales.Direction(lang),
		Kind:      sc.Kind,
		Text:      b.Text(lang, sc.Text),
		Reference: sc.Reference,
		CanGoBack: sc.CanGoBack && sc.Kind != channels.KindEnd,
		Ended:     sc.Kind == channels.KindEnd,
		Receipt:   w.Receipt,
		At:        w.at(),
	}
	for _, l := range sc.Lines {
		v.Lines = append(v.Lines, b.Text(lang, l))
	}
	for _, o := range sc.Options {
		v.Options = append(v.Options, optionView{Key: o.Key, Label: b.Text(lang, o.Text)})
	}
	if sc.Kind == channels.KindInfo {
		v.Options = []optionView{{Key: "1", Label: b.Text(lang, channels.Msg("resume.continue"))}}
	}
	if sc.Input != nil {
		v.Input = htmlInput(sc.Input)
	}
	if sc.Error != nil {
		v.Error = b.Text(lang, *sc.Error)
	}
	return v
}

// host is the Host of the walks of the citizen cz in session s.
func (k *Console) host(s *session, cz *citizen) *assistedHost {
	return &assistedHost{
		host:       k.cfg.Host,
		cases:      k.cfg.Store,
		assisted:   channels.Assistance{Operator: s.Operator, Kiosk: s.op.Kiosk, Consent: cz.Consent},
		nationalID: cz.NationalID,
		maxCases:   5,
	}
}

// startService is POST /kiosk/citizens/{slot}/services {service}: the
// service's first screen for the consenting citizen, in their language
// (audited). Any walk under way for them is dropped.
func (k *Console) startService(c *gin.Context) {
	cz := k.consented(c)
	if cz == nil {
		return
	}
	ctx, s := c.Request.Context(), current(c)
	id := c.PostForm("service")
	svc := k.cfg.Engine.Catalog().Service(id)
	if svc == nil {
		k.fail(c, s.lang, channels.Errorf(channels.ENOTFOUND, "error.not_found", "service %q", id))
		return
	}
	res, err := k.cfg.Engine.Start(channels.ChannelKiosk, cz.Lang, svc.ID)
	if err != nil {
		k.fail(c, s.lang, fmt.Errorf("start %s: %w", svc.ID, err))
		return
	}
	err = k.audit(ctx, channels.AuditEntry{Actor: actor(s.Operator), Kiosk: s.op.Kiosk, Action: channels.AuditServiceStarted, Citizen: cz.who(), Detail: svc.ID})
	if err != nil {
		k.fail(c, s.lang, err)
		return
	}
	cz.Walk = &walk{Key: string(channels.ChannelKiosk) + "/" + newToken()}
	k.advance(c, s, cz, res)
}

// walkPage is GET /kiosk/citizens/{slot}/walk: the screen the citizen's
// service waits on (or its last one); the citizen's page when none runs.
func (k *Console) walkPage(c *gin.Context) {
	cz := k.consented(c)
	if cz == nil {
		return
	}
	s := current(c)
	if cz.Walk == nil {
		c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot))
		return
	}
	sc, err := k.screen(cz.Walk)
	if err != nil {
		k.drop(c, s, cz, err)
		return
	}
	k.walkForm(c, s, cz, sc)
}

// screen rebuilds the screen w shows.
func (k *Console) screen(w *walk) (channels.Screen, error) {
	if w.End != nil {
		return *w.End, nil
	}
	st, err := flows.DecodeState(w.State)
	if err != nil {
		return channels.Screen{}, err
	}
	sc, err := k.cfg.Engine.Screen(st)
	if err != nil {
		return channels.Screen{}, err
	}
	sc.Error = w.Refusal
	return sc, nil
}

// walkForm shows the screen sc of the walk of cz.
func (k *Console) walkForm(c *gin.Context, s *session, cz *citizen, sc channels.Screen) {
	cv := k.citizenView(cz, k.cfg.Now())
	k.page(c, http.StatusOK, "walk", &view{Lang: s.lang, Operator: s.op, CSRF: s.CSRF, Citizen: &cv, Screen: k.render(cz.Walk, cz.Lang, sc)})
}

// step is POST /kiosk/citizens/{slot}/walk {at, text | action}: the answer
// to the screen (text), or action "back" (the previous screen) or "home"
// (leave the service, back to the citizen's page). A form of another
// screen than the one the walk waits on (see walk.at) changes nothing and
// shows the current screen again. A refused answer shows the same screen
// with the engine's reason.
func (k *Console) step(c *gin.Context) {
	cz := k.consented(c)
	if cz == nil {
		return
	}
	s := current(c)
	w := cz.Walk
	if w == nil {
		c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot))
		return
	}
	action := c.PostForm("action")
	if action == "home" {
		k.leave(c, s, cz)
		return
	}
	if w.End != nil || c.PostForm("at") != w.at() {
		sc, err := k.screen(w)
		if err != nil {
			k.drop(c, s, cz, err)
			return
		}
		k.walkForm(c, s, cz, sc)
		return
	}
	st, err := flows.DecodeState(w.State)
	if err != nil {
		k.drop(c, s, cz, err)
		return
	}
	in := flows.Input{Text: c.PostForm("text")}
	if action == "back" {
		in = flows.Input{Action: flows.Back}
	}
	res, err := k.cfg.Engine.Step(st, in)
	if err != nil {
		k.drop(c, s, cz, err)
		return
	}
	k.cfg.Meter.Answered(channels.ChannelKiosk, st.Service, st.Step)
	if res.Call == nil && res.State.Service == "" {
		// Back past the first screen: out of the service.
		k.leave(c, s, cz)
		return
	}
	k.advance(c, s, cz, res)
}

// leave ends the walk of cz and shows their page.
func (k *Console) leave(c *gin.Context, s *session, cz *citizen) {
	cz.Walk = nil
	if err := k.save(c.Request.Context(), s); err != nil {
		k.fail(c, s.lang, err)
		return
	}
	c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot))
}

// drop forgets a walk the engine can no longer run (the catalog changed
// under it) and tells the operator to start again; any other error is
// internal.
func (k *Console) drop(c *gin.Context, s *session, cz *citizen, cause error) {
	if !errors.Is(cause, flows.ErrBadState) && channels.ErrorMessage(cause) != "error.session_unknown" {
		k.fail(c, s.lang, fmt.Errorf("walk of %s: %w", channels.MaskPhone(cz.who()), cause))
		return
	}
	k.log.WarnContext(c.Request.Context(), "kiosk: stale walk dropped", "operator", s.Operator, "err", cause)
	cz.Walk = nil
	if err := k.save(c.Request.Context(), s); err != nil {
		k.fail(c, s.lang, err)
		return
	}
	k.fail(c, s.lang, channels.Errorf(channels.ENOTFOUND, "error.session_unknown", "walk dropped: %v", cause))
}

// advance carries out what res asks of the host for the citizen (creating
// the case, reading cases) through the assisted host, audits what was
// done, sends the SMS receipt of a new case, keeps the walk and shows its
// screen.
func (k *Console) advance(c *gin.Context, s *session, cz *citizen, res flows.Result) {
	ctx, w := c.Request.Context(), cz.Walk
	call := res.Call
	res, err := k.cfg.Engine.Settle(ctx, k.host(s, cz), cz.Phone, w.Key, res)
	var failed *flows.CallError
	if errors.As(err, &failed) {
		// The citizen is shown the engine's retry screen; the cause is
		// the operator's to read in the log.
		k.log.ErrorContext(ctx, "kiosk: host call failed; operator shown a retry", "operator", s.Operator, "service", failed.Service, "err", failed)
	} else if err != nil {
		k.fail(c, s.lang, fmt.Errorf("walk of %s: %w", channels.MaskPhone(cz.who()), err))
		return
	}
	if res.Ended() {
		sc := res.Screen
		w.State, w.Refusal, w.End = nil, nil, &sc
		if err := k.record(ctx, s, cz, call, sc); err != nil {
			k.fail(c, s.lang, err)
			return
		}
	} else {
		w.State, w.Refusal = res.State.Encode(), res.Screen.Error
	}
	if err := k.save(ctx, s); err != nil {
		k.fail(c, s.lang, err)
		return
	}
	k.cfg.Meter.Shown(channels.ChannelKiosk, res.State.Service, res.State.Step)
	k.walkForm(c, s, cz, res.Screen)
}

// record audits the call that ended a walk of cz on the screen sc: a case
// submitted (and its SMS receipt sent), an answer to an agency, or a
// look-up. Nothing is recorded for a walk that ended without a call (a
// cancelled confirmation).
func (k *Console) record(ctx context.Context, s *session, cz *citizen, call *flows.Call, sc channels.Screen) error {
	if call == nil {
		return nil
	}
	e := channels.AuditEntry{Actor: actor(s.Operator), Kiosk: s.op.Kiosk, Citizen: cz.who(), Ref: sc.Reference}
	switch call.Kind {
	case flows.CallSubmit:
		if sc.Reference == "" {
			return nil
		}
		e.Action, e.Detail = channels.AuditCaseSubmitted, call.Service
		if cz.Phone != "" {
			if err := k.receipt(ctx, s, cz, call.Service, sc.Reference); err != nil {
				// The case is stored and its reference on the screen:
				// the operator reads it out; the SMS is lost.
				k.log.ErrorContext(ctx, "kiosk: SMS receipt not queued", "operator", s.Operator, "reference", sc.Reference, "err", err)
			} else {
				cz.Walk.Receipt = true
			}
		}
	case flows.CallAnswer:
		if sc.Reference == "" {
			return nil
		}
		e.Action, e.Detail = channels.AuditCaseSubmitted, call.Service+": answer to a request for information"
	case flows.CallCase, flows.CallMyCases:
		e.Action, e.Ref = channels.AuditCaseLookup, call.Ref
		e.Detail = call.Service + ": " + strconv.Itoa(len(sc.Lines)) + " cases shown"
	default:
		return nil
	}
	return k.audit(ctx, e)
}

// receipt queues the SMS that gives the citizen the reference of the case
// made for them, in their language, once (its outbox key is the
// reference's).
func (k *Console) receipt(ctx context.Context, s *session, cz *citizen, service, ref string) error {
	svc := k.cfg.Engine.Catalog().Service(service)
	if svc == nil {
		return fmt.Errorf("queue the receipt of %s: service %q is not in the catalog", ref, service)
	}
	title := channels.Msg(svc.Title)
	err := k.cfg.Outbox.Send(ctx, &channels.Outbound{
		Key:     "receipt/" + ref,
		To:      cz.Phone,
		Text:    k.cfg.Bundle.Text(cz.Lang, channels.Msg("kiosk.receipt", "Service", title, "Reference", ref, "Kiosk", s.op.Kiosk)),
		Purpose: channels.PurposeNotice,
	})
	if err != nil {
		return fmt.Errorf("queue the receipt of %s: %w", ref, err)
	}
	return nil
}
