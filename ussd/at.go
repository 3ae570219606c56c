package ussd

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// Bounds of an Africa's Talking request and its fields.
const (
	// maxATBody bounds the body; real ones are a few hundred bytes. A
	// larger body is refused with 413.
	maxATBody      = 8 << 10
	maxSessionID   = 128
	maxServiceCode = 64
	// maxText bounds the accumulated text: 160 characters a hop for far
	// more hops than a 180-second session allows.
	maxText = 4 << 10
)

// ParseAT reads the form of an Africa's Talking hop: sessionId,
// serviceCode, phoneNumber, networkCode (ignored) and text. The phone is
// normalized to E.164, a national number read in region. The error is a
// *channels.Error (EINVALID) whose message ID says what is wrong: a
// missing or oversized field, text that is not UTF-8, a phone that is not
// a valid number.
func ParseAT(form url.Values, region string) (Request, error) {
	req := Request{
		SessionID:   strings.TrimSpace(form.Get("sessionId")),
		ServiceCode: strings.TrimSpace(form.Get("serviceCode")),
		Text:        form.Get("text"),
	}
	switch {
	case req.SessionID == "" || len(req.SessionID) > maxSessionID:
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "sessionId missing or longer than %d bytes", maxSessionID)
	case req.ServiceCode == "" || len(req.ServiceCode) > maxServiceCode:
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "serviceCode missing or longer than %d bytes", maxServiceCode)
	case len(req.Text) > maxText:
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "text longer than %d bytes", maxText)
	case !utf8.ValidString(req.Text):
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "text not UTF-8")
	}
	raw := form.Get("phoneNumber")
	if strings.TrimSpace(raw) == "" {
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "phoneNumber missing")
	}
	phone, ok := flows.NormalizePhone(raw, region)
	if !ok {
		return Request{}, channels.Errorf(channels.EINVALID, "error.phone", "phoneNumber not a valid number")
	}
	req.Phone = phone
	return req, nil
}

// RegisterAT mounts the Africa's Talking dialect at path (cmd/channels
// uses "/ussd/at"): a POSTed form per hop, answered 200 text/plain
// "CON <page>" to continue or "END <page>" to finish. A malformed request
// gets 400 (413 when over 8 KiB) with an END text, which ends the
// session at the gateway.
func (s *Server) RegisterAT(r gin.IRoutes, path string) {
	r.POST(path, s.handleAT)
}

func (s *Server) handleAT(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxATBody)
	if err := c.Request.ParseForm(); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			s.refuse(c, http.StatusRequestEntityTooLarge, channels.Errorf(channels.ETOOLARGE, "error.too_large", "body over %d bytes", maxATBody))
			return
		}
		s.refuse(c, http.StatusBadRequest, channels.Errorf(channels.EINVALID, "error.bad_request", "form not decodable"))
		return
	}
	req, err := ParseAT(c.Request.PostForm, s.cfg.Region)
	if err != nil {
		s.refuse(c, http.StatusBadRequest, err)
		return
	}
	// On failure the reply is a polite END and Handle has logged why.
	reply, err := s.Handle(c.Request.Context(), req)
	if err != nil {
		_ = c.Error(err) // for the hop metrics: answered politely, yet failed
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(atReply(reply)))
}

// atReply is a reply in the dialect: the page after "CON " or "END ".
func atReply(r Reply) string {
	if r.End {
		return "END " + r.Text
	}
	return "CON " + r.Text
}

// refuse answers a malformed gateway request: the gateway ends the session
// on a 4xx, and the body says why in the default language (the request
// named no citizen we could trust).
func (s *Server) refuse(c *gin.Context, status int, err error) {
	s.cfg.Log.Warn("ussd request refused", "status", status, "err", err, "client", c.ClientIP())
	msg := s.cfg.Bundle.Text(locales.Default, channels.Msg(channels.ErrorMessage(err)))
	c.Data(status, "text/plain; charset=utf-8", []byte("END "+msg))
}
