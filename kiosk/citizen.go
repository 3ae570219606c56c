package kiosk

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// citizen is a citizen served in an operator's session: known by their
// phone, or by the identity document of a citizen without one, with their
// consent. Until they read out the code sent to their phone, Consent is
// empty and ExpiresAt ends the wait (ConsentTTL after the code was sent,
// so that a code that expired sooner is told apart from an unknown
// citizen); once they consented, ExpiresAt ends their consent.
type citizen struct {
	// Slot names the citizen in the console's paths, within the session:
	// random, so that a path says nothing of who the citizen is.
	Slot       string    `json:"slot"`
	Phone      string    `json:"phone,omitempty"`       // E.164
	NationalID string    `json:"national_id,omitempty"` // a citizen without a phone
	Lang       string    `json:"lang"`                  // the language they are served in
	Consent    string    `json:"consent,omitempty"`     // channels.ConsentCode or ConsentIDDocument, once given
	ExpiresAt  time.Time `json:"expires_at"`
	// Walk is the service being run for the citizen, if any.
	Walk *walk `json:"walk,omitempty"`
}

// who is the citizen as the audit log names them: their E.164 phone, or
// "id:<document number>".
func (c *citizen) who() string {
	if c.Phone != "" {
		return c.Phone
	}
	return "id:" + c.NationalID
}

// consented reports whether the citizen's consent holds at now.
func (c *citizen) consented(now time.Time) bool { return c.Consent != "" && now.Before(c.ExpiresAt) }

// newSlot returns 64 random bits as 16 hex digits.
func newSlot() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	return hex.EncodeToString(b[:])
}

// citizen returns the citizen of slot in s; nil when there is none (or
// their consent has ended).
func (s *session) citizen(slot string) *citizen {
	for _, c := range s.Citizens {
		if c.Slot == slot {
			return c
		}
	}
	return nil
}

// find returns the citizen of s with phone, or with the document id when
// phone is empty; nil when none.
func (s *session) find(phone, id string) *citizen {
	for _, c := range s.Citizens {
		if (phone != "" && c.Phone == phone) || (phone == "" && c.Phone == "" && c.NationalID == id) {
			return c
		}
	}
	return nil
}

// add adds c to s, dropping the oldest citizen when s has maxCitizens.
func (s *session) add(c *citizen) {
	if len(s.Citizens) >= maxCitizens {
		s.Citizens = s.Citizens[1:]
	}
	s.Citizens = append(s.Citizens, c)
}

// remove drops c from s.
func (s *session) remove(c *citizen) {
	out := s.Citizens[:0]
	for _, x := range s.Citizens {
		if x != c {
			out = append(out, x)
		}
	}
	s.Citizens = out
}

// citizenView is a citizen as a page shows them.
type citizenView struct {
	Link    string // the citizen's page
	Who     string // the phone (masked) or the document number
	Status  channels.Message
	Pending bool // waiting for the consent code
	Walking bool // a service is under way
}

func (k *Console) citizenView(c *citizen, now time.Time) citizenView {
	v := citizenView{Link: path("citizens", c.Slot), Who: channels.MaskPhone(c.Phone)}
	switch {
	case c.Phone == "":
		v.Who = c.NationalID
		v.Status = channels.Msg("kiosk.consent.by_document", "Minutes", minutesLeft(c.ExpiresAt, now))
	case c.Consent == "":
		v.Status, v.Pending = channels.Msg("kiosk.consent.waiting"), true
	default:
		v.Status = channels.Msg("kiosk.consent.by_code", "Minutes", minutesLeft(c.ExpiresAt, now))
	}
	v.Walking = c.Walk != nil && c.Walk.End == nil
	return v
}

// minutesLeft is how many minutes, rounded up, remain until t.
func minutesLeft(t, now time.Time) int { return max(0, int(math.Ceil(t.Sub(now).Minutes()))) }

// home is GET /kiosk/: the citizens of the session and the forms that
// add one, by phone or by identity document.
func (k *Console) home(c *gin.Context) {
	k.homePage(c, http.StatusOK, channels.Message{}, nil)
}

// homePage shows the home page with status, a notice and the values of a
// refused form.
func (k *Console) homePage(c *gin.Context, status int, notice channels.Message, form map[string]string) {
	s, now := current(c), k.cfg.Now()
	v := &view{Lang: s.lang, Operator: s.op, CSRF: s.CSRF, Notice: notice, Form: form, Langs: k.langs()}
	for _, cz := range s.Citizens {
		v.Citizens = append(v.Citizens, k.citizenView(cz, now))
	}
	if v.Form == nil {
		v.Form = map[string]string{"lang": s.lang}
	}
	k.page(c, status, "home", v)
}

// addCitizen is POST /kiosk/citizens: mode "phone" sends a consent code to
// the phone and shows where to type it; mode "document" records the
// consent of a citizen without a phone by the identity document the
// operator checked, in the language chosen for them.
func (k *Console) addCitizen(c *gin.Context) {
	if c.PostForm("mode") == "document" {
		k.addByDocument(c)
		return
	}
	s := current(c)
	raw, lang := c.PostForm("phone"), c.PostForm("lang")
	if !k.cfg.Bundle.Supports(lang) {
		lang = s.lang
	}
	phone, ok := flows.NormalizePhone(raw, k.cfg.Region)
	if !ok {
		k.homePage(c, http.StatusBadRequest, channels.Msg("error.phone"), map[string]string{"phone": raw, "lang": lang})
		return
	}
	now := k.cfg.Now()
	cz := s.find(phone, "")
	if cz != nil && cz.consented(now) {
		c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot))
		return
	}
	if cz == nil {
		cz = &citizen{Slot: newSlot(), Phone: phone}
		s.add(cz)
	}
	if !k.sendCode(c, s, cz, lang, false) {
		return
	}
	c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot, "consent"))
}

// sendCode sends the consent code of cz, records that it was asked and
// saves the session; on a refusal (an opted-out phone, too many codes) it
// shows it, on the consent page when the citizen waits for a code already
// (resend) or else on the home page, and reports false. The citizen is
// served in their phone's language, else in lang (the one the operator
// chose for them).
func (k *Console) sendCode(c *gin.Context, s *session, cz *citizen, lang string, resend bool) bool {
	ctx, now := c.Request.Context(), k.cfg.Now()
	prefs, err := k.cfg.Store.Prefs(ctx, cz.Phone)
	if err != nil {
		k.fail(c, s.lang, fmt.Errorf("read the preferences of %s: %w", channels.MaskPhone(cz.Phone), err))
		return false
	}
	cz.Lang = lang
	if k.cfg.Bundle.Supports(prefs.Lang) {
		cz.Lang = prefs.Lang
	}
	kiosk := s.op.Kiosk
	// The operator is the client of the per-client limit: however many
	// phones they enter, they cannot send codes faster than it allows.
	ttl, err := k.cfg.Auth.SendCode(ctx, auth.CodeRequest{
		Phone:   cz.Phone,
		Purpose: consentPurpose(s.id),
		Channel: channels.ChannelKiosk,
		Client:  actor(s.Operator),
		Lang:    cz.Lang,
		TTL:     ConsentCodeTTL,
		Text: func(lang, code string) string {
			return k.cfg.Bundle.Text(lang, channels.Msg("kiosk.consent_sms", "Kiosk", kiosk, "Code", code))
		},
	})
	var ce *channels.Error
	if errors.As(err, &ce) && ce.Code != channels.EINTERNAL {
		if wait, ok := auth.RetryAfter(err); ok {
			c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		}
		if resend {
			k.consentForm(c, statuses[ce.Code], cz, channels.Msg(ce.Message))
			return false
		}
		if cz.Consent == "" && cz.ExpiresAt.IsZero() {
			s.remove(cz) // never asked: not listed, and not saved
		}
		k.homePage(c, statuses[ce.Code], channels.Msg(ce.Message), map[string]string{"phone": cz.Phone, "lang": lang})
		return false
	}
	if err != nil {
		k.fail(c, s.lang, fmt.Errorf("send the consent code of %s: %w", channels.MaskPhone(cz.Phone), err))
		return false
	}
	cz.Consent, cz.ExpiresAt, cz.Walk = "", now.Add(max(ttl, k.cfg.ConsentTTL)), nil
	err = k.audit(ctx, channels.AuditEntry{Actor: actor(s.Operator), Kiosk: kiosk, Action: channels.AuditConsentAsked, Citizen: cz.who()})
	if err == nil {
		err = k.save(ctx, s)
	}
	if err != nil {
		k.fail(c, s.lang, err)
		return false
	}
	return true
}

// addByDocument records the consent of a citizen without a phone: the
// document number, checked as every channel checks one, and the
// operator's word that they checked the document.
func (k *Console) addByDocument(c *gin.Context) {
	ctx, s, now := c.Request.Context(), current(c), k.cfg.Now()
	raw, lang := c.PostForm("national_id"), c.PostForm("lang")
	if !k.cfg.Bundle.Supports(lang) {
		lang = s.lang
	}
	form := map[string]string{"national_id": raw, "lang": lang}
	id, refusal, err := k.identity.check(raw)
	if err != nil {
		k.fail(c, s.lang, err)
		return
	}
	if refusal != nil {
		k.homePage(c, http.StatusBadRequest, *refusal, form)
		return
	}
	if c.PostForm("checked") == "" {
		k.homePage(c, http.StatusBadRequest, channels.Msg("kiosk.citizen.unchecked"), form)
		return
	}
	// The operator's word is the whole consent: bound how many documents
	// they can go through, so that nobody holding a session can read the
	// cases of every citizen served without a phone.
	if wait, ok, err := k.documents.Take(ctx, actor(s.Operator), now); err != nil {
		k.fail(c, s.lang, err)
		return
	} else if !ok {
		k.log.WarnContext(ctx, "kiosk: consents by document of an operator over their limit", "operator", s.Operator)
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		k.homePage(c, http.StatusTooManyRequests, channels.Msg("error.rate_limited"), form)
		return
	}
	cz := s.find("", id)
	if cz == nil {
		cz = &citizen{Slot: newSlot(), NationalID: id}
		s.add(cz)
	}
	cz.Lang, cz.Consent, cz.ExpiresAt = lang, channels.ConsentIDDocument, now.Add(k.cfg.ConsentTTL)
	err = k.audit(ctx, channels.AuditEntry{Actor: actor(s.Operator), Kiosk: s.op.Kiosk, Action: channels.AuditConsentDocument, Citizen: cz.who()})
	if err == nil {
		err = k.save(ctx, s)
	}
	if err != nil {
		k.fail(c, s.lang, err)
		return
	}
	c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot))
}

// pending returns the citizen of the request's slot who waits for their
// consent code, or answers for them: their page when they consented
// already, 404 when the slot is unknown.
func (k *Console) pending(c *gin.Context) *citizen {
	s := current(c)
	cz := s.citizen(c.Param("slot"))
	switch {
	case cz == nil || cz.Phone == "":
		k.fail(c, s.lang, channels.Errorf(channels.ENOTFOUND, "kiosk.citizen.unknown", "no citizen %q in the session", c.Param("slot")))
		return nil
	case cz.consented(k.cfg.Now()):
		c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot))
		return nil
	}
	return cz
}

// consentPage is GET /kiosk/citizens/{slot}/consent: where the operator
// types the code the citizen reads out.
func (k *Console) consentPage(c *gin.Context) {
	if cz := k.pending(c); cz != nil {
		k.consentForm(c, http.StatusOK, cz, channels.Message{})
	}
}

func (k *Console) consentForm(c *gin.Context, status int, cz *citizen, notice channels.Message) {
	s := current(c)
	v := k.citizenView(cz, k.cfg.Now())
	k.page(c, status, "consent", &view{Lang: s.lang, Operator: s.op, CSRF: s.CSRF, Notice: notice, Citizen: &v})
}

// checkConsent is POST /kiosk/citizens/{slot}/consent {code}: the right
// code gives the citizen's consent for ConsentTTL, in this session only;
// a wrong, expired or burnt code is refused and audited.
func (k *Console) checkConsent(c *gin.Context) {
	cz := k.pending(c)
	if cz == nil {
		return
	}
	ctx, s, now := c.Request.Context(), current(c), k.cfg.Now()
	entry := channels.AuditEntry{Actor: actor(s.Operator), Kiosk: s.op.Kiosk, Action: channels.AuditConsentGiven, Citizen: cz.who()}
	err := k.cfg.Auth.CheckCode(ctx, cz.Phone, consentPurpose(s.id), c.PostForm("code"))
	var ce *channels.Error
	if errors.As(err, &ce) && ce.Code != channels.EINTERNAL {
		entry.Action, entry.Detail = channels.AuditConsentRefused, ce.Message
		if err := k.audit(ctx, entry); err != nil {
			k.fail(c, s.lang, err)
			return
		}
		if wait, ok := auth.RetryAfter(err); ok {
			c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		}
		k.consentForm(c, statuses[ce.Code], cz, channels.Msg(ce.Message))
		return
	}
	if err != nil {
		k.fail(c, s.lang, fmt.Errorf("check the consent code of %s: %w", channels.MaskPhone(cz.Phone), err))
		return
	}
	cz.Consent, cz.ExpiresAt = channels.ConsentCode, now.Add(k.cfg.ConsentTTL)
	err = k.audit(ctx, entry)
	if err == nil {
		err = k.save(ctx, s)
	}
	if err != nil {
		k.fail(c, s.lang, err)
		return
	}
	c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot))
}

// resendCode is POST /kiosk/citizens/{slot}/resend: a new consent code,
// replacing the one sent before.
func (k *Console) resendCode(c *gin.Context) {
	cz := k.pending(c)
	if cz == nil {
		return
	}
	if k.sendCode(c, current(c), cz, cz.Lang, true) {
		c.Redirect(http.StatusSeeOther, path("citizens", cz.Slot, "consent"))
	}
}

// consented returns the citizen of the request's slot when they consented
// in this session, or answers for them: 403 (with the way to ask for
// consent) when they have not, or no longer, and nothing of theirs is
// shown.
func (k *Console) consented(c *gin.Context) *citizen {
	s := current(c)
	cz := s.citizen(c.Param("slot"))
	if cz != nil && cz.consented(k.cfg.Now()) {
		return cz
	}
	v := &view{Lang: s.lang, Operator: s.op, CSRF: s.CSRF, Notice: channels.Msg("kiosk.consent.none")}
	if cz != nil {
		cv := k.citizenView(cz, k.cfg.Now())
		v.Citizen = &cv
	}
	k.page(c, http.StatusForbidden, "error", v)
	return nil
}

// serviceView is a service the operator can start.
type serviceView struct {
	ID, Title string
}

// caseView is a case as a page shows it, its texts in Lang.
type caseView struct {
	Link     string
	Ref      string
	Lang     string
	Dir      string
	Service  string
	Status   string
	Note     string // what the agency told the citizen, if anything
	Date     string
	Assisted string // who made it at which kiosk; "" when the citizen made it themselves
}

// caseView shows c in lang, linked from the citizen of slot.
func (k *Console) caseView(c *channels.Case, lang, slot string) caseView {
	b := k.cfg.Bundle
	v := caseView{
		Link:   path("citizens", slot, "cases", c.Ref),
		Ref:    c.Ref,
		Lang:   lang,
		Dir:    locales.Direction(lang),
		Status: b.Text(lang, channels.Msg("status."+string(c.Status))),
		Date:   c.CreatedAt.In(k.cfg.Location).Format("02/01/2006"),
	}
	v.Service = c.Service
	if svc := k.cfg.Engine.Catalog().Service(c.Service); svc != nil {
		v.Service = b.Text(lang, channels.Msg(svc.Title))
	}
	if n := len(c.History); n > 0 {
		v.Note = flows.CitizenNote(c.Status, c.History[n-1].Note, 200)
	}
	if a := c.Assisted; a != nil {
		v.Assisted = b.Text(lang, channels.Msg("kiosk.case.assisted", "Operator", a.Operator, "Kiosk", a.Kiosk))
	}
	return v
}

// maxListed is how many of a citizen's cases their page lists.
const maxListed = 20

// citizenPage is GET /kiosk/citizens/{slot}: the services the operator can
// start for the consenting citizen, and the citizen's cases with their
// status (a look-up, audited).
func (k *Console) citizenPage(c *gin.Context) {
	cz := k.consented(c)
	if cz == nil {
		return
	}
	ctx, s := c.Request.Context(), current(c)
	var cases []*channels.Case
	var err error
	if cz.Phone != "" {
		cases, err = k.cfg.Store.CasesByPhone(ctx, cz.Phone, maxListed)
	} else {
		cases, err = k.cfg.Store.CasesByNationalID(ctx, cz.NationalID, maxListed)
	}
	if err != nil {
		k.fail(c, s.lang, fmt.Errorf("cases of %s: %w", channels.MaskPhone(cz.who()), err))
		return
	}
	err = k.audit(ctx, channels.AuditEntry{Actor: actor(s.Operator), Kiosk: s.op.Kiosk, Action: channels.AuditCaseLookup, Citizen: cz.who(),
		Detail: fmt.Sprintf("%d cases listed", len(cases))})
	if err != nil {
		k.fail(c, s.lang, err)
		return
	}
	cv := k.citizenView(cz, k.cfg.Now())
	v := &view{Lang: s.lang, Operator: s.op, CSRF: s.CSRF, Citizen: &cv}
	for _, svc := range k.cfg.Engine.Catalog().Services {
		v.Services = append(v.Services, serviceView{ID: svc.ID, Title: k.cfg.Bundle.Text(s.lang, channels.Msg(svc.Title))})
	}
	for _, cs := range cases {
		v.Cases = append(v.Cases, k.caseView(cs, s.lang, cz.Slot))
	}
	k.page(c, http.StatusOK, "citizen", v)
}

// dismissCitizen is POST /kiosk/citizens/{slot}/done: the operator has
// finished with the citizen, whose consent ends now.
func (k *Console) dismissCitizen(c *gin.Context) {
	s := current(c)
	if cz := s.citizen(c.Param("slot")); cz != nil {
		s.remove(cz)
		if err := k.save(c.Request.Context(), s); err != nil {
			k.fail(c, s.lang, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, "/kiosk/")
}

// casePage is GET /kiosk/citizens/{slot}/cases/{ref}: one case of the
// consenting citizen, as a receipt in their language to print or read
// out (a look-up, audited). A case that is not theirs is not found.
func (k *Console) casePage(c *gin.Context) {
	cz := k.consented(c)
	if cz == nil {
		return
	}
	ctx, s := c.Request.Context(), current(c)
	entry := channels.AuditEntry{Actor: actor(s.Operator), Kiosk: s.op.Kiosk, Action: channels.AuditCaseLookup, Citizen: cz.who()}
	// refuse audits a look-up that shows nothing (an operator editing
	// the reference in the URL is what an auditor must see), then
	// answers it as not found, whatever the reason.
	refuse := func(why string) {
		entry.Detail = "refused: " + why
		if err := k.audit(ctx, entry); err != nil {
			k.fail(c, s.lang, err)
			return
		}
		k.fail(c, s.lang, channels.Errorf(channels.ENOTFOUND, "error.not_found", "case %q of %s: %s", c.Param("ref"), channels.MaskPhone(cz.who()), why))
	}
	ref, ok := channels.ParseReference(c.Param("ref"))
	if !ok {
		refuse("not a reference")
		return
	}
	entry.Ref = ref
	cs, err := k.cfg.Store.Case(ctx, ref)
	switch {
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		refuse("no such case")
		return
	case err != nil:
		k.fail(c, s.lang, fmt.Errorf("case %s: %w", ref, err))
		return
	case !belongs(cs, cz):
		refuse("not the citizen's case")
		return
	}
	if err := k.audit(ctx, entry); err != nil {
		k.fail(c, s.lang, err)
		return
	}
	cv, csv := k.citizenView(cz, k.cfg.Now()), k.caseView(cs, cz.Lang, cz.Slot)
	k.page(c, http.StatusOK, "case", &view{Lang: s.lang, Operator: s.op, CSRF: s.CSRF, Citizen: &cv, Case: &csv})
}

// belongs reports whether the case c is the citizen cz's: made for their
// phone, or, for a citizen without a phone, at a kiosk for their document.
func belongs(c *channels.Case, cz *citizen) bool {
	if cz.Phone != "" {
		return c.Phone == cz.Phone
	}
	return c.Phone == "" && c.NationalID == cz.NationalID
}
