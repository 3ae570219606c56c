package sms

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/kannel"
)

// Kannel is the Kannel edge: smsbox's get-url for inbound messages, whose
// response body is the reply, and the dlr-url of the messages the outbox
// sends through sendsms.
type Kannel struct {
	srv *Server
	cfg KannelConfig
}

// KannelConfig is what the Kannel edge needs besides the dialogue server.
type KannelConfig struct {
	// Secret, when set, must be the "secret" query parameter of every
	// request: put it in the sms-service get-url and in the dlr-url. Use
	// letters and digits only: Kannel expands %-escapes in those URLs.
	Secret string
	Region string // default country of national numbers
}

// NewKannel returns the Kannel edge of srv.
func NewKannel(srv *Server, cfg KannelConfig) *Kannel {
	return &Kannel{srv: srv, cfg: cfg}
}

// Register mounts the inbound get-url at path and the delivery reports at
// path + "/dlr" (cmd/channels uses "/sms/kannel"). The sms-service should
// be configured as
//
//	get-url = "http://HOST/sms/kannel?from=%p&to=%P&text=%a&id=%I&coding=%c&charset=%C&secret=SECRET"
//	accept-x-kannel-headers = true
//	omit-empty = true
func (k *Kannel) Register(r gin.IRoutes, path string) {
	r.GET(path, k.inbound)
	r.POST(path, k.inbound)
	r.GET(path+"/dlr", k.dlr)
}

// authorized checks the shared secret in constant time and reads the
// query; it answers the request itself and returns false on refusal.
func (k *Kannel) authorized(c *gin.Context) (url.Values, bool) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	if err := c.Request.ParseForm(); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			k.srv.refuse(c, http.StatusRequestEntityTooLarge, channels.Errorf(channels.ETOOLARGE, "error.too_large", "kannel body over %d bytes", maxBody))
		} else {
			k.srv.refuse(c, http.StatusBadRequest, channels.Errorf(channels.EINVALID, "error.bad_request", "kannel query not decodable"))
		}
		return nil, false
	}
	form := c.Request.Form
	if k.cfg.Secret != "" && subtle.ConstantTimeCompare([]byte(form.Get("secret")), []byte(k.cfg.Secret)) != 1 {
		k.srv.refuse(c, http.StatusForbidden, channels.Errorf(channels.EFORBIDDEN, "sms.unsigned", "kannel secret missing or wrong"))
		return nil, false
	}
	return form, true
}

// ParseKannel reads an inbound message from smsbox's get-url parameters:
// from (%p), to (%P), text (%a), id (%I) and, for a message that arrived
// as UCS-2 without mo-recode, coding (%c) and charset (%C).
func ParseKannel(form url.Values, region string) (Inbound, error) {
	in := Inbound{Gateway: "kannel", ID: form.Get("id"), To: form.Get("to"), Text: form.Get("text")}
	if form.Get("coding") == "2" && isUTF16(form.Get("charset")) {
		in.Text = decodeUTF16BE(in.Text)
	}
	if err := checkInbound(&in, form.Get("from"), region); err != nil {
		return Inbound{}, err
	}
	return in, nil
}

func isUTF16(charset string) bool {
	switch strings.ToUpper(charset) {
	case "UTF-16BE", "UTF-16", "UCS-2", "UCS-2BE", "":
		return true
	}
	return false
}

// decodeUTF16BE reads the bytes of s as big-endian UTF-16; an odd last
// byte is dropped.
func decodeUTF16BE(s string) string {
	units := make([]uint16, len(s)/2)
	for i := range units {
		units[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
	}
	return string(utf16.Decode(units))
}

func (k *Kannel) inbound(c *gin.Context) {
	form, ok := k.authorized(c)
	if !ok {
		return
	}
	in, err := ParseKannel(form, k.cfg.Region)
	if err != nil {
		k.srv.refuse(c, http.StatusBadRequest, err)
		return
	}
	r, err := k.srv.Handle(c.Request.Context(), in)
	if err != nil {
		_ = c.Error(err) // for the hop metrics: answered politely, yet failed
	}
	if !k.srv.queue(c, in, &r, err) {
		return
	}
	if r.Text != "" {
		if _, gsm := gsm7.Septets(r.Text); !gsm {
			c.Header("X-Kannel-Coding", "2") // UCS-2, read from the UTF-8 body
		}
	}
	// An empty body sends nothing when the sms-service has omit-empty.
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(r.Text))
}

func (k *Kannel) dlr(c *gin.Context) {
	if k.srv.cfg.Reports == nil {
		c.Status(http.StatusNotFound)
		return
	}
	form, ok := k.authorized(c)
	if !ok {
		return
	}
	key := form.Get("key")
	code, err := strconv.Atoi(form.Get("status"))
	st, known := kannel.DLRStatus(code)
	if key == "" || err != nil || !known {
		c.Status(http.StatusNoContent)
		return
	}
	reason := ""
	if st == channels.OutboundFailed {
		reason = "kannel_dlr_" + form.Get("status")
	}
	k.srv.report(c, key, st, reason)
}
