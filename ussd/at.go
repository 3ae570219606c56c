package ussd

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// maxATBody bounds an Africa's Talking request; real ones are a few hundred
// bytes.
const maxATBody = 8 << 10

// maxTextLen bounds the accumulated text: 160 characters a hop for far more
// hops than a 180-second session allows.
const maxTextLen = 4 << 10

// ParseAT reads an Africa's Talking request: form fields sessionId,
// serviceCode, phoneNumber, networkCode and text. The phone is normalized to
// E.164, national numbers read in region. The error is a *channels.Error
// naming what is wrong.
func ParseAT(form url.Values, region string) (Request, error) {
	req := Request{
		SessionID:   strings.TrimSpace(form.Get("sessionId")),
		ServiceCode: strings.TrimSpace(form.Get("serviceCode")),
		Text:        form.Get("text"),
	}
	switch {
	case req.SessionID == "" || len(req.SessionID) > 128:
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "sessionId missing or longer than 128")
	case req.ServiceCode == "" || len(req.ServiceCode) > 64:
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "serviceCode missing or longer than 64")
	case len(req.Text) > maxTextLen:
		return Request{}, channels.Errorf(channels.EINVALID, "error.bad_request", "text longer than %d", maxTextLen)
	}
	phone, ok := flows.NormalizePhone(form.Get("phoneNumber"), region)
	if !ok {
		return Request{}, channels.Errorf(channels.EINVALID, "error.phone", "phoneNumber not a valid number")
	}
	req.Phone = phone
	return req, nil
}

// RegisterAT mounts the Africa's Talking dialect at path: POST a form, get
// text/plain "CON …" to continue or "END …" to finish.
func (s *Server) RegisterAT(r gin.IRoutes, path string) {
	r.POST(path, s.handleAT)
}

func (s *Server) handleAT(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxATBody)
	if err := c.Request.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.refuse(c, http.StatusRequestEntityTooLarge, channels.Errorf(channels.ETOOLARGE, "error.too_large", "body over %d bytes", maxATBody))
			return
		}
		s.refuse(c, http.StatusBadRequest, channels.Errorf(channels.EINVALID, "error.bad_request", "form: %v", err))
		return
	}
	req, err := ParseAT(c.Request.PostForm, s.cfg.Region)
	if err != nil {
		s.refuse(c, http.StatusBadRequest, err)
		return
	}
	s.cfg.Log.Debug("ussd hop", "session", req.SessionID, "phone", maskPhone(req.Phone), "text", textDigest(req.Text))
	reply, err := s.Handle(c.Request.Context(), req)
	if err != nil {
		// Handle has logged it and the reply is a polite END.
		c.Status(http.StatusOK)
	}
	prefix := "CON "
	if reply.End {
		prefix = "END "
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(prefix+reply.Text))
}

// refuse answers a malformed gateway request: the gateway ends the session
// on a 4xx, and the body says why in the default language.
func (s *Server) refuse(c *gin.Context, status int, err error) {
	s.cfg.Log.Warn("ussd request refused", "status", status, "err", err, "client", c.ClientIP())
	msg := s.cfg.Bundle.Text(locales.Default, channels.Msg(channels.ErrorMessage(err)))
	c.Data(status, "text/plain; charset=utf-8", []byte("END "+msg))
}
