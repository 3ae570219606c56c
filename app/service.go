package app

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/locales"
)

// serviceList is the answer of GET /v1/services.
type serviceList struct {
	Services []serviceItem `json:"services"`
	Lang     string        `json:"lang"`
	Dir      string        `json:"dir"` // "ltr" or "rtl": the direction of Lang's script
}

type serviceItem struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// listServices is GET /v1/services?lang=: the catalog in root-menu order,
// titles localized.
func (a *API) listServices(c *gin.Context) error {
	lang := a.language(c, c.Query("lang"), "")
	svcs := a.cfg.Engine.Catalog().Services
	out := serviceList{Services: make([]serviceItem, len(svcs)), Lang: lang, Dir: locales.Direction(lang)}
	for i, s := range svcs {
		out.Services[i] = serviceItem{ID: s.ID, Title: a.cfg.Bundle.Text(lang, channels.Msg(s.Title))}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// submissionReply is the answer of a whole-form submission. Reference is
// empty for a service that creates no case (a lookup).
type submissionReply struct {
	Reference string `json:"reference,omitempty"`
	Screen    Screen `json:"screen"`
}

// submit is POST /v1/services/{id}/submissions {lang, answers}: the whole
// form of the signed-in phone at once, checked step by step as the screens check it, so a
// value refused on one channel is refused on all. 201 with the reference
// of the new case; 422 with a message per refused field; 200 with the
// final screen for a service that creates no case. A retry with the same
// Idempotency-Key (same service and phone) returns the first case.
func (a *API) submit(c *gin.Context) error {
	service := c.Param("id")
	if a.cfg.Engine.Catalog().Service(service) == nil {
		return channels.Errorf(channels.ENOTFOUND, "error.not_found", "service %q", service)
	}
	key := c.GetHeader("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "Idempotency-Key of %d bytes", len(key))
	}
	if key == "" {
		key = newID()
	}
	body, err := apijson.ReadBody(c, a.cfg.MaxBody)
	if err != nil {
		return err
	}
	req, err := decodeSubmission(body)
	if err != nil {
		return err
	}
	a.language(c, req.Lang, "")
	phone, err := a.phone(c, req.Phone)
	if err != nil {
		return err
	}
	lang := a.language(c, req.Lang, phone)
	res, bad, err := a.cfg.Engine.Fill(channels.ChannelApp, lang, service, req.Answers)
	if err != nil {
		return fmt.Errorf("fill %s: %w", service, err)
	}
	if len(bad) > 0 {
		return &formError{service: service, fields: bad}
	}
	res, failed, err := a.settle(c.Request.Context(), phone, formKey(service, phone, key), res)
	if err != nil {
		return err
	}
	if failed != nil {
		// A whole form has no retry screen: the client retries the
		// request, with the same Idempotency-Key.
		return channels.Errorf(channels.EINTERNAL, "error.internal", "form for %s: %v", service, failed)
	}
	if !res.Ended() {
		return channels.Errorf(channels.EINTERNAL, "error.internal", "form for %s stopped at step %q", service, res.State.Step)
	}
	sc := Render(a.cfg.Bundle, res.State.Lang, res.Screen)
	status := http.StatusOK
	if sc.Reference != "" {
		status = http.StatusCreated
	}
	c.JSON(status, submissionReply{Reference: sc.Reference, Screen: sc})
	return nil
}
