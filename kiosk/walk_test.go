package kiosk

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// TestAssistedCase runs report_problem for a citizen with a phone who
// reads Swahili: the screens are the engine's, in Swahili; the case is
// made on the kiosk channel with the operator's assistance and the
// consent by code; the reference is shown in large type, its receipt
// page is in Swahili, and the citizen gets the reference by SMS in
// Swahili through the outbox and Kannel; the service started, the case
// submitted and the receipt looked up are audited.
func TestAssistedCase(t *testing.T) {
	e := newEnv(t, withKannel)
	if err := e.db.PutPrefs(t.Context(), phoneA, channels.Prefs{Lang: "sw"}); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	c.signIn(amina, aminaPW)
	s := c.consent(phoneA)

	p := c.start(s, "report_problem")
	if p.status != http.StatusOK || !p.has("Tatizo linahusu nini?") || !strings.Contains(p.body, `<section lang="sw" dir="ltr">`) || !p.has("Stop this service") {
		t.Fatalf("first screen: %d %s", p.status, p.body)
	}
	end := p
	for _, a := range []string{"1", "Kondele market, by the water tower", "The public tap has been dry for a week.", "1"} {
		end = c.answer(s, end, a)
	}
	ref := reference(t, end)
	if !end.has("Ripoti imepokelewa. Nambari yako ya kumbukumbu ni "+ref+". Asante.") || !end.has("The citizen also gets the reference by SMS.") ||
		!strings.Contains(end.body, `href="/kiosk/citizens/`+s+`/cases/`+ref+`"`) || !strings.Contains(end.body, `class="ref"`) {
		t.Errorf("end page: %s", end.body)
	}

	cs, err := e.db.Case(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Channel != channels.ChannelKiosk || cs.Phone != phoneA || cs.NationalID != "" || cs.Lang != "sw" || cs.Service != "report_problem" ||
		cs.Assisted == nil || *cs.Assisted != (channels.Assistance{Operator: amina, Kiosk: "kisumu-post-office", Consent: channels.ConsentCode}) {
		t.Errorf("case %+v (assisted %+v)", cs, cs.Assisted)
	}
	if got := answers(cs); got != "category=water location=Kondele market, by the water tower description=The public tap has been dry for a week." {
		t.Errorf("answers %s", got)
	}

	sms := e.sms(t, phoneA)
	if want := "Ripoti tatizo: ombi limepokelewa katika kioski kisumu-post-office. Nambari yako ya kumbukumbu ni " + ref + "."; sms != want {
		t.Errorf("receipt SMS %q, want %q", sms, want)
	}
	m, err := e.db.Outbound(t.Context(), "receipt/"+ref)
	if err != nil || m.To != phoneA || m.Purpose != channels.PurposeNotice {
		t.Errorf("receipt in the outbox: %+v, %v", m, err)
	}

	r := c.get("/kiosk/citizens/" + s + "/cases/" + ref)
	if r.status != http.StatusOK || !strings.Contains(r.body, `<article class="receipt" lang="sw" dir="ltr">`) || !r.has("Risiti") ||
		!r.has("Kwa msaada wa mhudumu amina katika kioski kisumu-post-office.") || !r.has("Ripoti tatizo") {
		t.Errorf("receipt page: %d %s", r.status, r.body)
	}
	if p := c.get("/kiosk/citizens/" + s); !p.has(ref) {
		t.Errorf("the citizen's page lacks the new case: %s", p.text())
	}

	started, submitted := e.audit(t, channels.AuditServiceStarted), e.audit(t, channels.AuditCaseSubmitted)
	if len(started) != 1 || started[0].Detail != "report_problem" || started[0].Citizen != phoneA {
		t.Errorf("services started: %+v", started)
	}
	if len(submitted) != 1 || submitted[0].Ref != ref || submitted[0].Citizen != phoneA || submitted[0].Actor != "operator:amina" || submitted[0].Kiosk != "kisumu-post-office" {
		t.Errorf("cases submitted: %+v", submitted)
	}
	lookups := e.audit(t, channels.AuditCaseLookup)
	if len(lookups) < 2 || lookups[len(lookups)-2].Ref != ref {
		t.Errorf("look-ups: %+v", lookups)
	}
}

// answers lists the answers of a case as field=value.
func answers(c *channels.Case) string {
	var out []string
	for _, a := range c.Answers {
		out = append(out, a.Field+"="+a.Value)
	}
	return strings.Join(out, " ")
}

// TestWalk checks the walk through a service for a citizen without a
// phone, in French: the engine's refusals in the citizen's language, back
// and stop, a form of an older screen or posted twice changing nothing,
// and the case made by document with no SMS.
func TestWalk(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(amina, aminaPW)
	s := c.byDocument(nationalID, "fr")

	p := c.start(s, "report_problem")
	first := p
	steps := []struct {
		name   string
		text   string
		action string
		says   string
	}{
		{"a choice that is not there", "9", "", "Choisissez un des numéros affichés."},
		{"water", "1", "", "Où?"},
		{"too short", "a", "", "Au moins 2 caractères."},
		{"back", "", "back", "Le problème concerne:"},
		{"water again", "1", "", "Où?"},
	}
	for _, st := range steps {
		m := atRE.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("%s: no screen: %s", st.name, p.text())
		}
		p = c.post("/kiosk/citizens/"+s+"/walk", "at", m[1], "text", st.text, "action", st.action)
		if p.status != http.StatusOK || !p.has(st.says) {
			t.Fatalf("%s: %d %s", st.name, p.status, p.text())
		}
	}
	// The first screen's form, posted again, changes nothing.
	stale := c.answer(s, first, "2")
	if !stale.has("Où?") || !strings.Contains(stale.body, atRE.FindString(p.body)) {
		t.Fatalf("an old form: %s", stale.text())
	}
	p = c.answer(s, p, "Marché de Kondele")
	p = c.answer(s, p, "Le robinet public est sec depuis une semaine.")
	if !p.has("Vérifiez votre signalement:") || !p.has("Objet: Eau") || !p.has("Lieu: Marché de Kondele") || !p.has("Confirmer") {
		t.Errorf("confirm screen: %s", p.text())
	}
	confirm := p
	end := c.answer(s, confirm, "1")
	ref := reference(t, end)
	if !end.has("Signalement enregistré. Votre référence est "+ref+". Merci.") || end.has("SMS") {
		t.Errorf("end page: %s", end.text())
	}
	// The confirmation posted twice makes one case.
	if again := c.answer(s, confirm, "1"); reference(t, again) != ref {
		t.Errorf("the confirmation again: %s", again.text())
	}
	cases, err := e.db.CasesByNationalID(t.Context(), nationalID, 10)
	if err != nil || len(cases) != 1 {
		t.Fatalf("cases by document: %v, %v", cases, err)
	}
	cs := cases[0]
	if cs.Ref != ref || cs.Phone != "" || cs.NationalID != nationalID || cs.Lang != "fr" || cs.Channel != channels.ChannelKiosk ||
		cs.Assisted == nil || *cs.Assisted != (channels.Assistance{Operator: amina, Kiosk: "kisumu-post-office", Consent: channels.ConsentIDDocument}) {
		t.Errorf("case %+v (assisted %+v)", cs, cs.Assisted)
	}
	if _, err := e.db.Outbound(t.Context(), "receipt/"+ref); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("a receipt SMS for a citizen without a phone: %v", err)
	}
	if got := e.audit(t, channels.AuditCaseSubmitted); len(got) != 1 || got[0].Citizen != "id:"+nationalID || got[0].Ref != ref {
		t.Errorf("cases submitted: %+v", got)
	}

	// Their cases, by document, on their page and through check_status.
	if p := c.get("/kiosk/citizens/" + s); !p.has(ref) {
		t.Errorf("the citizen's page: %s", p.text())
	}
	p = c.start(s, "check_status")
	p = c.answer(s, p, "2")
	if !p.has("Vos dernières demandes:") || !p.has(ref) {
		t.Errorf("my applications: %s", p.text())
	}

	// Another citizen without a phone sees none of it.
	o := c.byDocument("87654323", "en")
	if p := c.get("/kiosk/citizens/" + o); p.has(ref) || !p.has("No applications yet.") {
		t.Errorf("another document's page: %s", p.text())
	}
	if p := c.get("/kiosk/citizens/" + o + "/cases/" + ref); p.status != http.StatusNotFound || p.has(ref) {
		t.Errorf("another document's receipt: %d %s", p.status, p.text())
	}
	p = c.start(o, "check_status")
	p = c.answer(o, p, "1")
	p = c.answer(o, p, ref)
	if p.has("Report a problem:") || !p.has("No application has this reference number.") {
		t.Errorf("another document's look-up by reference: %s", p.text())
	}
}

// TestWalkNavigation checks stop and back out of a service: both lead to
// the citizen's page and leave no walk; a cancelled confirmation makes no
// case.
func TestWalkNavigation(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(amina, aminaPW)
	s := c.byDocument(nationalID, "en")

	p := c.start(s, "report_problem")
	m := atRE.FindStringSubmatch(p.body)
	if p := c.post("/kiosk/citizens/"+s+"/walk", "at", m[1], "action", "back"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/kiosk/citizens/"+s {
		t.Errorf("back from the first screen: %d %v", p.status, p.header)
	}
	if p := c.get("/kiosk/citizens/" + s + "/walk"); p.status != http.StatusSeeOther {
		t.Errorf("the walk after leaving: %d", p.status)
	}

	p = c.start(s, "report_problem")
	p = c.answer(s, p, "1")
	if p := c.post("/kiosk/citizens/"+s+"/walk", "action", "home"); p.status != http.StatusSeeOther {
		t.Errorf("stop: %d %s", p.status, p.text())
	}
	if p := c.get("/kiosk/citizens/" + s); strings.Contains(p.body, "/walk\"") {
		t.Errorf("a walk is offered after stop: %s", p.text())
	}

	p = c.start(s, "report_problem")
	for _, a := range []string{"2", "Main road", "Potholes everywhere", "2"} {
		p = c.answer(s, p, a)
	}
	if !p.has("Cancelled. Nothing was submitted.") {
		t.Errorf("cancelled: %s", p.text())
	}
	if cases, _ := e.db.CasesByNationalID(t.Context(), nationalID, 10); len(cases) != 0 {
		t.Errorf("cases after a cancellation: %+v", cases)
	}
	if n := len(e.audit(t, channels.AuditCaseSubmitted)); n != 0 {
		t.Errorf("%d cases audited", n)
	}

	if p := c.post("/kiosk/citizens/"+s+"/services", "service", "no_such_service"); p.status != http.StatusNotFound || !p.has("Not found.") {
		t.Errorf("an unknown service: %d %s", p.status, p.text())
	}
}

// TestReceiptPage checks the receipt of a case for a citizen reading
// Arabic: right to left inside the operator's left-to-right page.
func TestReceiptPage(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(amina, aminaPW)
	s := c.byDocument(nationalID, "ar")
	ref := reference(t, c.reportProblem(s))
	p := c.get("/kiosk/citizens/" + s + "/cases/" + ref)
	if p.status != http.StatusOK || !strings.Contains(p.body, `<html lang="en" dir="ltr">`) || !strings.Contains(p.body, `<article class="receipt" lang="ar" dir="rtl">`) ||
		!p.has("إيصال") || !p.has("بلاغ مشكلة") || !p.has(ref) || !p.has("Print this page from the browser menu") {
		t.Errorf("receipt: %d %s", p.status, p.body)
	}
	if p := c.get("/kiosk/citizens/" + s + "/cases/12345"); p.status != http.StatusNotFound {
		t.Errorf("a malformed reference: %d", p.status)
	}
}

// TestCaseDate checks that a case's date is the day it was made where the
// kiosk is (Config.Location), not the server's day.
func TestCaseDate(t *testing.T) {
	nairobi := time.FixedZone("EAT", 3*60*60)
	e := newEnv(t, withConfig(func(c *Config) { c.Location = nairobi }))
	e.clock.Add(13 * time.Hour) // 22:30 UTC, 01:30 the next day in Nairobi
	c := e.client(t)
	c.signIn(amina, aminaPW)
	s := c.byDocument(nationalID, "en")
	ref := reference(t, c.reportProblem(s))
	if p := c.get("/kiosk/citizens/" + s + "/cases/" + ref); !p.has("Date 27/11/2026") {
		t.Errorf("receipt: %s", p.text())
	}
	if p := c.get("/kiosk/citizens/" + s); !p.has(ref + " Report a problem Submitted 27/11/2026") {
		t.Errorf("the citizen's cases: %s", p.text())
	}
}
