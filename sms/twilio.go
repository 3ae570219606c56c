package sms

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// Bounds of an inbound gateway request. Real ones are about a kilobyte; an
// SMS concatenated from many parts is still under 10 KB.
const (
	maxBody = 64 << 10
	maxText = 10 << 10
	maxID   = 128
)

// Twilio is the Twilio edge: the inbound-message webhook and the status
// callback of the messages the outbox sends.
type Twilio struct {
	srv *Server
	cfg TwilioConfig
	rv  twilioclient.RequestValidator
}

// TwilioConfig is what the Twilio edge needs besides the dialogue server.
type TwilioConfig struct {
	// AuthToken signs every request Twilio makes: a request whose
	// X-Twilio-Signature does not match is refused with 403.
	AuthToken string
	// PublicURL is the scheme and host Twilio is configured to call
	// ("https://sms.gov.example"); the signature covers it, so it must be
	// the public one, not what a proxy forwards to.
	PublicURL string
	Region    string // default country of national numbers
}

// NewTwilio returns the Twilio edge of srv.
func NewTwilio(srv *Server, cfg TwilioConfig) *Twilio {
	return &Twilio{srv: srv, cfg: cfg, rv: twilioclient.NewRequestValidator(cfg.AuthToken)}
}

// Register mounts the inbound webhook at path and the status callback at
// path + "/status" (cmd/channels uses "/sms/twilio").
func (t *Twilio) Register(r gin.IRoutes, path string) {
	r.POST(path, t.inbound)
	r.POST(path+"/status", t.status)
}

// signed reads and checks a request's body against its signature. It
// answers the request itself and returns false when it is refused.
func (t *Twilio) signed(c *gin.Context) (url.Values, bool) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			t.srv.refuse(c, http.StatusRequestEntityTooLarge, channels.Errorf(channels.ETOOLARGE, "error.too_large", "twilio body over %d bytes", maxBody))
		} else {
			t.srv.refuse(c, http.StatusBadRequest, channels.Errorf(channels.EINVALID, "error.bad_request", "twilio body unreadable: %v", err))
		}
		return nil, false
	}
	full := strings.TrimSuffix(t.cfg.PublicURL, "/") + c.Request.URL.RequestURI()
	sig := c.GetHeader("X-Twilio-Signature")
	if sig == "" || !t.rv.ValidateBody(full, body, sig) {
		t.srv.refuse(c, http.StatusForbidden, channels.Errorf(channels.EFORBIDDEN, "sms.unsigned", "twilio signature missing or wrong for %s", c.Request.URL.Path))
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.srv.refuse(c, http.StatusBadRequest, channels.Errorf(channels.EINVALID, "error.bad_request", "twilio form not decodable"))
		return nil, false
	}
	return form, true
}

// ParseTwilio reads an inbound-message webhook's form: MessageSid, From,
// To and Body, as Twilio posts them.
func ParseTwilio(form url.Values, region string) (Inbound, error) {
	in := Inbound{Gateway: "twilio", ID: form.Get("MessageSid"), To: form.Get("To"), Text: form.Get("Body")}
	if in.ID == "" {
		in.ID = form.Get("SmsSid") // the name older accounts still send
	}
	if err := checkInbound(&in, form.Get("From"), region); err != nil {
		return Inbound{}, err
	}
	return in, nil
}

// checkInbound bounds an inbound message's fields and normalizes its
// sender to E.164.
func checkInbound(in *Inbound, from, region string) error {
	switch {
	case in.ID == "" || len(in.ID) > maxID:
		return channels.Errorf(channels.EINVALID, "error.bad_request", "message id missing or longer than %d bytes", maxID)
	case len(in.Text) > maxText:
		return channels.Errorf(channels.EINVALID, "error.too_large", "text longer than %d bytes", maxText)
	case !utf8.ValidString(in.Text):
		return channels.Errorf(channels.EINVALID, "error.bad_request", "text not UTF-8")
	case strings.TrimSpace(from) == "":
		return channels.Errorf(channels.EINVALID, "error.bad_request", "sender missing")
	}
	phone, ok := normalizeSender(from, region)
	if !ok {
		return channels.Errorf(channels.EINVALID, "error.phone", "sender not a valid phone number")
	}
	in.From = phone
	return nil
}

// normalizeSender reads a sender as E.164. Gateways send international
// numbers with or without their "+": a long digit string is tried as
// international first, then as a national number of region.
func normalizeSender(from, region string) (string, bool) {
	from = strings.TrimSpace(from)
	if !strings.HasPrefix(from, "+") && len(from) > 10 && isNumber(from) {
		if p, ok := flows.NormalizePhone("+"+from, region); ok {
			return p, true
		}
	}
	return flows.NormalizePhone(from, region)
}

func (t *Twilio) inbound(c *gin.Context) {
	form, ok := t.signed(c)
	if !ok {
		return
	}
	in, err := ParseTwilio(form, t.cfg.Region)
	if err != nil {
		t.srv.refuse(c, http.StatusBadRequest, err)
		return
	}
	// On failure the reply is a polite text and Handle has logged why.
	r, err := t.srv.Handle(c.Request.Context(), in)
	if err != nil {
		_ = c.Error(err) // for the hop metrics: answered politely, yet failed
	}
	if !t.srv.queue(c, in, &r, err) {
		return
	}
	c.Data(http.StatusOK, "text/xml; charset=utf-8", twiml(r.Text))
}

// twiml is a webhook response sending text back, or nothing when empty.
func twiml(text string) []byte {
	var b strings.Builder
	b.WriteString(xml.Header)
	if text == "" {
		b.WriteString("<Response/>")
		return []byte(b.String())
	}
	b.WriteString("<Response><Message>")
	xml.EscapeText(&b, []byte(text))
	b.WriteString("</Message></Response>")
	return []byte(b.String())
}

// twilioStatus maps a status callback's MessageStatus to the outbox;
// false for the intermediate ones the outbox does not track.
func twilioStatus(s string) (channels.OutboundStatus, bool) {
	switch s {
	case "sent":
		return channels.OutboundSent, true
	case "delivered", "read":
		return channels.OutboundDelivered, true
	case "undelivered", "failed", "canceled":
		return channels.OutboundFailed, true
	}
	return "", false
}

func (t *Twilio) status(c *gin.Context) {
	if t.srv.cfg.Reports == nil {
		c.Status(http.StatusNotFound)
		return
	}
	form, ok := t.signed(c)
	if !ok {
		return
	}
	key := c.Query("key")
	st, tracked := twilioStatus(form.Get("MessageStatus"))
	if key == "" || !tracked {
		c.Status(http.StatusNoContent) // nothing to record; Twilio must not retry
		return
	}
	reason := ""
	if st == channels.OutboundFailed {
		reason = "twilio_" + form.Get("MessageStatus")
		if code := form.Get("ErrorCode"); code != "" {
			reason += "_" + code
		}
	}
	t.srv.report(c, key, st, reason)
}

// outbound is the outbox message carrying r, the reply to in: keyed by
// the inbound message, so a retried webhook queues it once.
func (s *Server) outbound(in Inbound, r Reply) *channels.Outbound {
	now := s.cfg.Now()
	return &channels.Outbound{
		Key: "reply/" + in.Gateway + "/" + in.ID, To: in.From, Text: r.Text, Purpose: r.Purpose,
		NextAttempt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now,
	}
}

// queue hands the reply r to the outbox when replies go through it, and
// then clears r.Text: the gateway's response carries nothing. The message
// is keyed by the inbound one, so a redelivery queues it again harmlessly;
// that is how a reply whose queueing failed (503, the gateway retries) is
// not lost. It answers the request itself and returns false on failure.
//
// The polite refusal of a message that failed because the store cannot
// do the work now (handled, Handle's error, is EUNAVAILABLE) is not
// queued but answered in the response: the outbox lives in that store,
// and neither gateway sends a failed webhook again by default (Twilio
// drops it, Kannel texts its own "could not fetch" line in English), so a
// 503 would leave the citizen with no answer in their language.
func (s *Server) queue(c *gin.Context, in Inbound, r *Reply, handled error) bool {
	if s.cfg.Replies == nil || r.Text == "" || channels.ErrorCode(handled) == channels.EUNAVAILABLE {
		return true
	}
	if err := s.cfg.Replies.Send(c.Request.Context(), s.outbound(in, *r)); err != nil {
		s.cfg.Log.Error("queue sms reply", "gateway", in.Gateway, "id", in.ID, "err", err)
		c.Status(http.StatusServiceUnavailable)
		return false
	}
	r.Text = ""
	return true
}

// report records a delivery report and answers the gateway.
func (s *Server) report(c *gin.Context, key string, st channels.OutboundStatus, reason string) {
	err := s.cfg.Reports.Report(c.Request.Context(), key, st, reason)
	switch channels.ErrorCode(err) {
	case "":
		c.Status(http.StatusNoContent)
	case channels.ENOTFOUND:
		// Not ours, or long gone: retrying would not change that.
		s.cfg.Log.Warn("delivery report for an unknown message", "key", key)
		c.Status(http.StatusNoContent)
	default:
		s.cfg.Log.Error("record delivery report", "key", key, "err", err)
		c.Status(http.StatusServiceUnavailable) // the gateway retries
	}
}

// refuse answers a malformed or unsigned gateway request with a short
// text in the default language (the request named nobody we could trust)
// and logs why.
func (s *Server) refuse(c *gin.Context, status int, err error) {
	s.cfg.Log.Warn("sms request refused", "status", status, "path", c.Request.URL.Path, "err", err, "client", c.ClientIP())
	msg := s.cfg.Bundle.Text(locales.Default, channels.Msg(channels.ErrorMessage(err)))
	c.Data(status, "text/plain; charset=utf-8", []byte(msg))
}
