package ussd

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
)

// What the dialects give package gateway, which authenticates the gateway
// in front of their routes (cmd/channels mounts it).

// ATPhone is the phone number an Africa's Talking request claims, unchecked,
// for the log of a refusal; the body is read within the dialect's bound.
func ATPhone(r *http.Request) string {
	r.Body = http.MaxBytesReader(nil, r.Body, maxATBody)
	if r.ParseForm() != nil {
		return ""
	}
	return r.PostForm.Get("phoneNumber")
}

// RefuseAT answers a hop from a caller that is not the gateway: 403 and an
// END page in the default language (the request named no citizen we could
// trust).
func (s *Server) RefuseAT(c *gin.Context) {
	c.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte("END "+s.forbidden()))
}

// RefuseKannel answers an MO from a caller that is not Kannel: 403 and a
// text in the default language, as the dialect's other refusals.
func (s *Server) RefuseKannel(c *gin.Context) {
	c.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte(s.forbidden()))
}

func (s *Server) forbidden() string {
	return s.cfg.Bundle.Text(locales.Default, channels.Msg("error.forbidden"))
}
