package kiosk

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/ratelimit"
)

// createCase stores a case of phone (or, when phone is empty, of the
// document id made at a kiosk) and returns its reference.
func (e *env) createCase(t *testing.T, phone, id string) string {
	t.Helper()
	c := &channels.Case{
		Ref: channels.NewReference(), Service: "report_problem", Phone: phone, NationalID: id,
		Channel: channels.ChannelApp, Lang: "en", Status: channels.StatusInReview,
		History:   []channels.StatusChange{{Status: channels.StatusSubmitted, At: now, Actor: "citizen"}, {Status: channels.StatusInReview, At: now, Actor: "county_works"}},
		CreatedAt: now,
	}
	if _, err := e.db.CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c.Ref
}

// TestConsentByCode follows a consent by SMS code: the SMS (through the
// outbox and Kannel) names the kiosk and says to share the code only in
// agreement; until the code is typed the citizen's page and services are
// closed; a wrong code is refused; the right one opens the citizen's page
// with their cases only; each step is audited.
func TestConsentByCode(t *testing.T) {
	e := newEnv(t, withKannel)
	mine, theirs := e.createCase(t, phoneA, ""), e.createCase(t, phoneB, "")
	c := e.client(t)
	c.signIn(amina, aminaPW)

	p := c.post("/kiosk/citizens", "mode", "phone", "phone", "0712 345 678")
	s := slot(t, p)
	if p = c.follow(p); p.status != http.StatusOK || !p.has("A code was sent by SMS to +254***678.") {
		t.Fatalf("consent page: %d %s", p.status, p.text())
	}
	sms := e.sms(t, phoneA)
	code := codeRE.FindString(sms)
	if want := "Kiosk kisumu-post-office asks to serve you. Your code is " + code + ". Give it to the operator only if you agree."; sms != want {
		t.Errorf("SMS %q, want %q", sms, want)
	}

	// Before the code: nothing of the citizen's.
	if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusForbidden || p.has(mine) || !p.has("This citizen has not given consent in this session") {
		t.Errorf("the citizen's page before consent: %d %s", p.status, p.text())
	}
	if p := c.post("/kiosk/citizens/"+s+"/services", "service", "report_problem"); p.status != http.StatusForbidden {
		t.Errorf("a service before consent: %d %s", p.status, p.text())
	}
	if p := c.get("/kiosk/citizens/" + s + "/cases/" + mine); p.status != http.StatusForbidden || p.has(mine) {
		t.Errorf("a case before consent: %d %s", p.status, p.text())
	}

	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	if p := c.post("/kiosk/citizens/"+s+"/consent", "code", wrong); p.status != http.StatusBadRequest || !p.has("That code is not right. Enter the 6 digits from the SMS.") {
		t.Errorf("wrong code: %d %s", p.status, p.text())
	}
	p = c.post("/kiosk/citizens/"+s+"/consent", "code", code[:3]+" "+code[3:])
	if p.status != http.StatusSeeOther {
		t.Fatalf("right code: %d %s", p.status, p.text())
	}
	p = c.follow(p)
	if p.status != http.StatusOK || !p.has(mine) || p.has(theirs) || !p.has("Consent by SMS code, 30 min left.") || !p.has("Report a problem") {
		t.Errorf("the citizen's page: %d %s", p.status, p.text())
	}

	want := []struct{ action, detail string }{
		{channels.AuditSignIn, ""},
		{channels.AuditConsentAsked, ""},
		{channels.AuditConsentRefused, "error.code_wrong"},
		{channels.AuditConsentGiven, ""},
		{channels.AuditCaseLookup, "1 cases listed"},
	}
	got := e.audit(t, "")
	if len(got) != len(want) {
		t.Fatalf("audit: %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.action || g.Detail != w.detail || g.Actor != "operator:amina" || g.Kiosk != "kisumu-post-office" || (i > 0 && g.Citizen != phoneA) {
			t.Errorf("audit entry %d: %+v, want %s %q for %s", i, g, w.action, w.detail, phoneA)
		}
	}
	if strings.Contains(e.logs.String(), code) {
		t.Error("the log holds the consent code")
	}
}

// TestConsentLanguage checks that the consent SMS is in the citizen's
// language when their phone has one, else in the operator's.
func TestConsentLanguage(t *testing.T) {
	e := newEnv(t, withKannel)
	if err := e.db.PutPrefs(t.Context(), phoneB, channels.Prefs{Lang: "sw"}); err != nil {
		t.Fatal(err)
	}
	e.update(t, amina, func(o *channels.Operator) { o.Lang = "fr" })
	c := e.client(t)
	c.signIn(amina, aminaPW)
	tests := []struct {
		name, phone, want string
	}{
		{"the phone's language", phoneB, "Kioski kisumu-post-office kinaomba kukuhudumia. Nambari yako ni ******. Mpe mhudumu tu ikiwa unakubali."},
		{"else the operator's", phoneA, "Le kiosque kisumu-post-office demande à vous servir. Votre code est ******. Donnez-le à l'opérateur seulement si vous acceptez."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.get("/kiosk/")
			c.follow(c.post("/kiosk/citizens", "mode", "phone", "phone", tt.phone))
			sms := e.sms(t, tt.phone)
			if got := codeRE.ReplaceAllString(sms, "******"); got != tt.want {
				t.Errorf("SMS %q, want %q", got, tt.want)
			}
		})
	}
}

// TestConsentRefused checks the attempts that must fail: a code past its
// validity, too many wrong codes, the code of another citizen or of
// another operator's session, a consent that ended, a citizen whose
// phone opted out of SMS, a phone that is not valid; and that the consent
// of one citizen opens nothing of another's.
func TestConsentRefused(t *testing.T) {
	t.Run("expired code, then a new one", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withKannel)
		c := e.client(t)
		c.signIn(amina, aminaPW)
		s, code := c.askConsent(phoneA)
		e.clock.Add(ConsentCodeTTL)
		if p := c.post("/kiosk/citizens/"+s+"/consent", "code", code); p.status != http.StatusNotFound || !p.has("This code is no longer valid. Ask for a new code.") {
			t.Errorf("expired code: %d %s", p.status, p.text())
		}
		if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusForbidden {
			t.Errorf("the citizen's page: %d", p.status)
		}
		if p := c.post("/kiosk/citizens/" + s + "/resend"); p.status != http.StatusSeeOther {
			t.Fatalf("a new code: %d %s", p.status, p.text())
		}
		fresh := codeRE.FindString(e.sms(t, phoneA))
		if p := c.post("/kiosk/citizens/"+s+"/consent", "code", fresh); p.status != http.StatusSeeOther {
			t.Errorf("the new code: %d %s", p.status, p.text())
		}
		if got := e.audit(t, channels.AuditConsentRefused); len(got) != 1 || got[0].Detail != "error.code_expired" {
			t.Errorf("refusals audited: %+v", got)
		}
	})

	t.Run("too many wrong codes", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withKannel)
		c := e.client(t)
		c.signIn(amina, aminaPW)
		s, code := c.askConsent(phoneA)
		wrong := "000000"
		if code == wrong {
			wrong = "000001"
		}
		for i := 1; i < 5; i++ {
			if p := c.post("/kiosk/citizens/"+s+"/consent", "code", wrong); p.status != http.StatusBadRequest {
				t.Fatalf("wrong code %d: %d %s", i, p.status, p.text())
			}
		}
		if p := c.post("/kiosk/citizens/"+s+"/consent", "code", wrong); p.status != http.StatusNotFound || !p.has("Too many wrong codes. Ask for a new code.") {
			t.Errorf("fifth wrong code: %d %s", p.status, p.text())
		}
		if p := c.post("/kiosk/citizens/"+s+"/consent", "code", code); p.status != http.StatusNotFound {
			t.Errorf("the right code after it was burnt: %d %s", p.status, p.text())
		}
		if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusForbidden {
			t.Errorf("the citizen's page: %d", p.status)
		}
		if n := len(e.audit(t, channels.AuditConsentRefused)); n != 6 {
			t.Errorf("%d refusals audited, want 6", n)
		}
	})

	t.Run("too many guesses over several codes", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.client(t)
		c.signIn(amina, aminaPW)
		c.get("/kiosk/")
		s := slot(t, c.post("/kiosk/citizens", "mode", "phone", "phone", phoneA))
		lastCode := func() string {
			q := e.queued(t, phoneA)
			return codeRE.FindString(q[len(q)-1].Text)
		}
		guessed := 0
		for round := 1; guessed < auth.DefaultPerPhoneGuesses.Burst; round++ {
			if round > 1 {
				if p := c.post("/kiosk/citizens/" + s + "/resend"); p.status != http.StatusSeeOther {
					t.Fatalf("code %d: %d %s", round, p.status, p.text())
				}
			}
			wrong := "000000"
			if lastCode() == wrong {
				wrong = "000001"
			}
			for i := 1; i < 5 && guessed < auth.DefaultPerPhoneGuesses.Burst; i++ {
				if p := c.post("/kiosk/citizens/"+s+"/consent", "code", wrong); p.status != http.StatusBadRequest {
					t.Fatalf("wrong guess %d: %d %s", guessed+1, p.status, p.text())
				}
				guessed++
			}
		}
		p := c.post("/kiosk/citizens/"+s+"/consent", "code", lastCode())
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !p.has("Too many attempts.") || !p.has("Code from the SMS") {
			t.Errorf("the right code over the limit: %d %v %s", p.status, p.header, p.text())
		}
		if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusForbidden {
			t.Errorf("the citizen's page: %d", p.status)
		}
		got := e.audit(t, channels.AuditConsentRefused)
		if len(got) != guessed+1 || got[len(got)-1].Detail != "error.rate_limited" {
			t.Errorf("refusals audited: %+v", got)
		}
	})

	t.Run("consent of one citizen opens nothing of another's", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withKannel)
		theirs := e.createCase(t, phoneB, "")
		c := e.client(t)
		c.signIn(amina, aminaPW)
		a := c.consent(phoneA)
		b, codeB := c.askConsent(phoneB)
		// A's page shows nothing of B's; B's pages show nothing at all.
		if p := c.get("/kiosk/citizens/" + a); p.status != http.StatusOK || p.has(theirs) {
			t.Errorf("A's page: %d %s", p.status, p.text())
		}
		for _, path := range []string{"/kiosk/citizens/" + b, "/kiosk/citizens/" + b + "/cases/" + theirs, "/kiosk/citizens/" + a + "/cases/" + theirs} {
			if p := c.get(path); p.has(theirs) || (p.status != http.StatusForbidden && p.status != http.StatusNotFound) {
				t.Errorf("GET %s: %d %s", path, p.status, p.text())
			}
		}
		if p := c.post("/kiosk/citizens/"+b+"/services", "service", "report_problem"); p.status != http.StatusForbidden {
			t.Errorf("a service for B: %d %s", p.status, p.text())
		}
		// A code is bound to its citizen: B's code does not consent for a
		// citizen C waiting too.
		cSlot, _ := c.askConsent("+254700000001")
		if p := c.post("/kiosk/citizens/"+cSlot+"/consent", "code", codeB); p.status != http.StatusBadRequest {
			t.Errorf("B's code for C: %d %s", p.status, p.text())
		}
	})

	t.Run("another operator's session", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withKannel)
		mine := e.createCase(t, phoneA, "")
		am, ba := e.client(t), e.client(t)
		am.signIn(amina, aminaPW)
		ba.signIn(baraka, barakaPW)
		aSlot, aCode := am.askConsent(phoneA)
		bSlot, bCode := ba.askConsent(phoneA)
		// Baraka cannot use the code Amina's session asked for, nor reach
		// Amina's citizen.
		if aCode != bCode {
			if p := ba.post("/kiosk/citizens/"+bSlot+"/consent", "code", aCode); p.status != http.StatusBadRequest {
				t.Errorf("Amina's code in Baraka's session: %d %s", p.status, p.text())
			}
		}
		if p := am.post("/kiosk/citizens/"+aSlot+"/consent", "code", aCode); p.status != http.StatusSeeOther {
			t.Fatalf("Amina's code in her session: %d %s", p.status, p.text())
		}
		if p := ba.get("/kiosk/citizens/" + aSlot); p.status != http.StatusForbidden || p.has(mine) {
			t.Errorf("Amina's citizen in Baraka's session: %d %s", p.status, p.text())
		}
		if p := ba.get("/kiosk/citizens/" + bSlot); p.status != http.StatusForbidden || p.has(mine) {
			t.Errorf("Baraka's own slot without consent: %d %s", p.status, p.text())
		}
		// The citizen agrees again, with Baraka's code.
		if p := ba.post("/kiosk/citizens/"+bSlot+"/consent", "code", bCode); p.status != http.StatusSeeOther {
			t.Errorf("Baraka's own code: %d %s", p.status, p.text())
		}
		if p := ba.get("/kiosk/citizens/" + bSlot); p.status != http.StatusOK || !p.has(mine) {
			t.Errorf("Baraka with the citizen's consent: %d %s", p.status, p.text())
		}
	})

	t.Run("consent ends after ConsentTTL, and with the session", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withKannel)
		c := e.client(t)
		c.signIn(amina, aminaPW)
		s := c.consent(phoneA)
		e.clock.Add(DefaultConsentTTL - time.Second)
		if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusOK || !p.has("1 min left") {
			t.Errorf("a second before the end: %d %s", p.status, p.text())
		}
		e.clock.Add(time.Second)
		if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusForbidden {
			t.Errorf("at the end: %d %s", p.status, p.text())
		}
		s = c.byDocument(nationalID, "en")
		c.post("/kiosk/sign-out")
		c.signIn(amina, aminaPW)
		if p := c.get("/kiosk/citizens/" + s); p.status != http.StatusForbidden {
			t.Errorf("after signing out and in again: %d %s", p.status, p.text())
		}
	})

	t.Run("too many codes for one phone", func(t *testing.T) {
		e := newEnv(t)
		c := e.client(t)
		c.signIn(amina, aminaPW)
		c.get("/kiosk/")
		s := slot(t, c.post("/kiosk/citizens", "mode", "phone", "phone", phoneA))
		for i := 2; i <= auth.DefaultPerPhone.Burst; i++ {
			if p := c.post("/kiosk/citizens/" + s + "/resend"); p.status != http.StatusSeeOther {
				t.Fatalf("code %d: %d %s", i, p.status, p.text())
			}
		}
		p := c.post("/kiosk/citizens/" + s + "/resend")
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !p.has("Too many attempts.") || !p.has("Code from the SMS") {
			t.Errorf("one code too many: %d %v %s", p.status, p.header, p.text())
		}
		if q := e.queued(t, phoneA); len(q) != auth.DefaultPerPhone.Burst {
			t.Errorf("%d codes queued, want %d", len(q), auth.DefaultPerPhone.Burst)
		}
		if n := len(e.audit(t, channels.AuditConsentAsked)); n != auth.DefaultPerPhone.Burst {
			t.Errorf("%d consents asked audited, want %d", n, auth.DefaultPerPhone.Burst)
		}
	})

	t.Run("phones that get no code", func(t *testing.T) {
		e := newEnv(t)
		if err := e.db.PutPrefs(t.Context(), phoneB, channels.Prefs{OptedOut: true}); err != nil {
			t.Fatal(err)
		}
		c := e.client(t)
		c.signIn(amina, aminaPW)
		tests := []struct {
			name, phone string
			status      int
			says        string
		}{
			{"opted out of SMS", phoneB, http.StatusForbidden, "SMS to this number are turned off."},
			{"not a phone number", "12345", http.StatusBadRequest, "That phone number is not valid."},
			{"empty", "", http.StatusBadRequest, "That phone number is not valid."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := c.post("/kiosk/citizens", "mode", "phone", "phone", tt.phone)
				if p.status != tt.status || !p.has(tt.says) || !strings.Contains(html.UnescapeString(p.body), `value="`+tt.phone+`"`) {
					t.Errorf("%d %s", p.status, p.text())
				}
			})
		}
		if q := e.queued(t, phoneB); len(q) != 0 {
			t.Errorf("SMS queued: %+v", q)
		}
		if n := len(e.audit(t, channels.AuditConsentAsked)); n != 0 {
			t.Errorf("%d consents asked", n)
		}
		if p := c.get("/kiosk/"); p.has("+254***111") {
			t.Errorf("the refused citizen is listed: %s", p.text())
		}
	})
}

// TestConsentByDocument checks the consent of a citizen without a phone:
// the document number is checked as every channel checks one (and
// normalized), the operator must say they checked the document, and the
// consent is audited under "id:<number>".
func TestConsentByDocument(t *testing.T) {
	tests := []struct {
		name    string
		number  string
		checked string
		status  int
		says    string
	}{
		{"valid", nationalID, "1", http.StatusSeeOther, ""},
		{"typed with spaces and dashes", "1234 56-74", "1", http.StatusSeeOther, ""},
		{"wrong check digit", "12345675", "1", http.StatusBadRequest, "That ID number is not valid."},
		{"seven digits", "1234567", "1", http.StatusBadRequest, "That ID number is not valid."},
		{"letters", "ABCDEFGH", "1", http.StatusBadRequest, "That ID number is not valid."},
		{"nothing typed", "", "1", http.StatusBadRequest, "Please enter a value."},
		{"document not checked", nationalID, "", http.StatusBadRequest, "Check the citizen's identity document, then tick the box."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client(t)
			c.signIn(amina, aminaPW)
			p := c.post("/kiosk/citizens", "mode", "document", "national_id", tt.number, "checked", tt.checked, "lang", "sw")
			if p.status != tt.status || (tt.says != "" && !p.has(tt.says)) {
				t.Fatalf("%d %s", p.status, p.text())
			}
			got := e.audit(t, channels.AuditConsentDocument)
			if tt.status != http.StatusSeeOther {
				if len(got) != 0 {
					t.Errorf("refused consent audited: %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Citizen != "id:"+nationalID || got[0].Actor != "operator:amina" || got[0].Kiosk != "kisumu-post-office" {
				t.Errorf("audit %+v", got)
			}
			p = c.follow(p)
			if p.status != http.StatusOK || !p.has(nationalID) || !p.has("Consent by identity document, 30 min left.") {
				t.Errorf("the citizen's page: %d %s", p.status, p.text())
			}
		})
	}
}

// TestConsentByDocumentLimit checks that consents by identity document,
// which rest on the operator's word alone, are rate-limited per operator:
// an operator (or whoever holds their session) cannot walk through the
// document numbers to read the cases of every citizen served without a
// phone. The refused one is 429 with Retry-After, records nothing and
// opens nothing; another operator is not held back; the limit refills.
func TestConsentByDocumentLimit(t *testing.T) {
	ids := []string{"12345674", "23456783", "34567891", "45678901"}
	e := newEnv(t, withConfig(func(c *Config) { c.DocumentLimit = ratelimit.Limit{Every: time.Minute, Burst: 2} }))
	theirs := e.createCase(t, "", ids[2])
	c := e.client(t)
	c.signIn(amina, aminaPW)
	tests := []struct {
		name   string
		client *client
		id     string
		wait   time.Duration // before the attempt
		status int
	}{
		{"first", c, ids[0], 0, http.StatusSeeOther},
		{"second", c, ids[1], 0, http.StatusSeeOther},
		{"third at once", c, ids[2], 0, http.StatusTooManyRequests},
		{"another operator", nil, ids[3], 0, http.StatusSeeOther},
		{"a minute later", c, ids[2], time.Minute, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := tt.client
			if cl == nil {
				cl = e.client(t)
				cl.signIn(baraka, barakaPW)
			}
			e.clock.Add(tt.wait)
			before := len(e.audit(t, channels.AuditConsentDocument))
			cl.get("/kiosk/")
			p := cl.post("/kiosk/citizens", "mode", "document", "national_id", tt.id, "checked", "1", "lang", "en")
			if p.status != tt.status {
				t.Fatalf("%d %s", p.status, p.text())
			}
			audited := len(e.audit(t, channels.AuditConsentDocument)) - before
			if tt.status == http.StatusSeeOther {
				if audited != 1 {
					t.Errorf("%d consents audited, want 1", audited)
				}
				return
			}
			if p.header.Get("Retry-After") == "" || !p.has("Too many attempts.") || audited != 0 {
				t.Errorf("refused: %v, %d audited: %s", p.header, audited, p.text())
			}
			if h := cl.get("/kiosk/"); h.has(tt.id) || h.has(theirs) {
				t.Errorf("the refused citizen is listed: %s", h.text())
			}
		})
	}
}

// TestConsentLanguageChosen checks that the operator can say which
// language a citizen with a phone reads, as for a citizen without one: a
// phone that never chose a language gets the consent SMS (and then the
// service) in it, so that the citizen understands what they agree to; a
// phone's own language still wins.
func TestConsentLanguageChosen(t *testing.T) {
	tests := []struct {
		name      string
		phoneLang string // the phone's own language, if any
		chosen    string
		want      string
		prompt    string // the first screen of report_problem
	}{
		{"chosen for a phone without a language", "", "sw", "Kioski kisumu-post-office kinaomba kukuhudumia.", `lang="sw"`},
		{"none chosen: the operator's", "", "", "Kiosk kisumu-post-office asks to serve you.", `lang="en"`},
		{"not a language of the bundle: the operator's", "", "xx", "Kiosk kisumu-post-office asks to serve you.", `lang="en"`},
		{"the phone's own wins", "fr", "sw", "Le kiosque kisumu-post-office demande à vous servir.", `lang="fr"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.phoneLang != "" {
				if err := e.db.PutPrefs(t.Context(), phoneA, channels.Prefs{Lang: tt.phoneLang}); err != nil {
					t.Fatal(err)
				}
			}
			c := e.client(t)
			c.signIn(amina, aminaPW)
			p := c.post("/kiosk/citizens", "mode", "phone", "phone", phoneA, "lang", tt.chosen)
			if p.status != http.StatusSeeOther {
				t.Fatalf("%d %s", p.status, p.text())
			}
			q := e.queued(t, phoneA)
			if len(q) != 1 || !strings.HasPrefix(q[0].Text, tt.want) {
				t.Fatalf("SMS %+v, want %q…", q, tt.want)
			}
			s := slot(t, p)
			code := codeRE.FindString(q[0].Text)
			if p := c.post("/kiosk/citizens/"+s+"/consent", "code", code); p.status != http.StatusSeeOther {
				t.Fatalf("consent: %d %s", p.status, p.text())
			}
			if p := c.start(s, "report_problem"); p.status != http.StatusOK || !strings.Contains(p.body, "<section "+tt.prompt) {
				t.Errorf("the service's first screen, want %s: %d %s", tt.prompt, p.status, p.body)
			}
		})
	}
}

// TestCaseLookupRefused checks that a case page asked for a reference that
// is not the consenting citizen's (an operator editing the URL) shows
// nothing of the case and is audited all the same, with the reference
// tried, so that an auditor sees the attempt.
func TestCaseLookupRefused(t *testing.T) {
	e := newEnv(t, withKannel)
	mine, theirs, byDoc := e.createCase(t, phoneA, ""), e.createCase(t, phoneB, ""), e.createCase(t, "", nationalID)
	unknown := channels.NewReference() // well formed, never stored
	c := e.client(t)
	c.signIn(amina, aminaPW)
	s := c.consent(phoneA)
	tests := []struct {
		name   string
		ref    string
		status int
		audit  channels.AuditEntry // Actor, Kiosk and Citizen are checked as well
	}{
		{"the citizen's own", mine, http.StatusOK, channels.AuditEntry{Ref: mine}},
		{"another phone's", theirs, http.StatusNotFound, channels.AuditEntry{Ref: theirs, Detail: "refused: not the citizen's case"}},
		{"a citizen's without a phone", byDoc, http.StatusNotFound, channels.AuditEntry{Ref: byDoc, Detail: "refused: not the citizen's case"}},
		{"no such case", unknown, http.StatusNotFound, channels.AuditEntry{Ref: unknown, Detail: "refused: no such case"}},
		{"not a reference", "abc", http.StatusNotFound, channels.AuditEntry{Detail: "refused: not a reference"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.audit(t, channels.AuditCaseLookup))
			p := c.get("/kiosk/citizens/" + s + "/cases/" + tt.ref)
			if p.status != tt.status || (tt.status != http.StatusOK && (p.has(theirs) || p.has(byDoc))) {
				t.Errorf("%d %s", p.status, p.text())
			}
			got := e.audit(t, channels.AuditCaseLookup)[before:]
			if len(got) != 1 || got[0].Ref != tt.audit.Ref || got[0].Detail != tt.audit.Detail || got[0].Citizen != phoneA || got[0].Actor != "operator:amina" || got[0].Kiosk != "kisumu-post-office" {
				t.Errorf("audited %+v, want one look-up %+v", got, tt.audit)
			}
		})
	}
}
