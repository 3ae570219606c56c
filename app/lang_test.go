package app

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/ussd"
)

// TestLanguages checks the order in which a request's language is chosen:
// lang if offered, else the phone's remembered choice, else
// Accept-Language, else English.
func TestLanguages(t *testing.T) {
	s := newServer(t)
	const remembered = "+254744000000" // chose Swahili earlier
	if err := s.db.PutPrefs(t.Context(), remembered, channels.Prefs{Lang: "sw"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		phone  string // signed in
		lang   string // asked for
		header []string
		text   string
		want   string // the language of the screen
	}{
		{"default", phone, "", nil, "What is the problem with?", "en"},
		{"Accept-Language fr", phone, "", []string{"Accept-Language", "fr-CM,fr;q=0.9,en;q=0.5"}, "Le problème concerne:", "fr"},
		{"Accept-Language not offered", phone, "", []string{"Accept-Language", "de-DE"}, "What is the problem with?", "en"},
		{"lang sw", phone, "sw", nil, "Tatizo linahusu nini?", "sw"},
		{"lang wins over Accept-Language", phone, "sw", []string{"Accept-Language", "fr"}, "Tatizo linahusu nini?", "sw"},
		{"lang not offered falls back to Accept-Language", phone, "zu", []string{"Accept-Language", "fr"}, "Le problème concerne:", "fr"},
		{"remembered language wins over Accept-Language", remembered, "", []string{"Accept-Language", "fr"}, "Tatizo linahusu nini?", "sw"},
		{"lang wins over the remembered language", remembered, "fr", nil, "Le problème concerne:", "fr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]string{"service": "report_problem", "lang": tt.lang}
			r := s.post(t, tt.phone, "/v1/sessions", body, tt.header...)
			sc := r.screen()
			if r.status != http.StatusCreated || sc["text"] != tt.text || sc["lang"] != tt.want {
				t.Errorf("%d %s, want %q in %s", r.status, r.raw, tt.text, tt.want)
			}
		})
	}

	lists := []struct {
		name   string
		path   string
		header []string
		lang   string
		title  string
	}{
		{"services in Swahili", "/v1/services?lang=sw", nil, "sw", "Cheti cha kuzaliwa"},
		{"services in French", "/v1/services", []string{"Accept-Language", "fr"}, "fr", "Acte de naissance"},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			r := s.get(t, "", tt.path, tt.header...)
			list, _ := r.body["services"].([]any)
			if r.status != http.StatusOK || r.body["lang"] != tt.lang || len(list) != 7 || list[0].(map[string]any)["title"] != tt.title {
				t.Errorf("%d %s", r.status, r.raw)
			}
		})
	}

	t.Run("a whole form in Swahili", func(t *testing.T) {
		r := s.post(t, phone, "/v1/services/report_problem/submissions", map[string]any{"lang": "sw", "answers": map[string]string{"category": "water", "location": "K", "description": "Hakuna maji"}})
		want := map[string]any{"location": "Angalau herufi 2."}
		if r.status != http.StatusUnprocessableEntity || r.errorMessage() != "Baadhi ya majibu yanahitaji kurekebishwa." || !reflect.DeepEqual(r.body["fields"], want) {
			t.Errorf("%d %s", r.status, r.raw)
		}
		r = s.post(t, phone, "/v1/services/report_problem/submissions", map[string]any{"lang": "sw", "answers": map[string]string{"category": "water", "location": "Kisumu", "description": "Hakuna maji"}})
		if text, _ := r.screen()["text"].(string); r.status != http.StatusCreated || text != "Ripoti imepokelewa. Nambari yako ya kumbukumbu ni "+r.body["reference"].(string)+". Asante." {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	t.Run("a session keeps its language", func(t *testing.T) {
		id, _ := s.start(t, "report_problem", phone, "Accept-Language", "fr")
		r := s.do(t, req{method: http.MethodPost, path: "/v1/sessions/" + id + "/input", as: phone, body: map[string]string{"text": "9"}, header: []string{"Accept-Language", "sw"}})
		if sc := r.screen(); sc["lang"] != "fr" || sc["error"] != "Choisissez un des numéros affichés." {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
}

// TestContentLanguage checks that every answer of the app's endpoints names
// its language in Content-Language, the very language of its body: screens,
// lists, cases, the profile and errors alike.
func TestContentLanguage(t *testing.T) {
	s := newServer(t)
	id, _ := s.start(t, "report_problem", phone, "Accept-Language", "ar")
	sent := s.post(t, phone, "/v1/services/report_problem/submissions", map[string]any{"lang": "sw", "answers": map[string]string{"category": "water", "location": "Kisumu", "description": "Hakuna maji"}})
	ref, _ := sent.body["reference"].(string)
	tests := []struct {
		name string
		r    req
		want string
	}{
		{"services", req{method: http.MethodGet, path: "/v1/services", header: []string{"Accept-Language", "fr"}}, "fr"},
		{"services in arabic", req{method: http.MethodGet, path: "/v1/services?lang=ar"}, "ar"},
		{"new session", req{method: http.MethodPost, path: "/v1/sessions", as: phone, body: map[string]string{"lang": "ar"}}, "ar"},
		{"session read in its own language", req{method: http.MethodGet, path: "/v1/sessions/" + id, as: phone, header: []string{"Accept-Language", "en"}}, "ar"},
		{"refused input", req{method: http.MethodPost, path: "/v1/sessions/" + id + "/input", as: phone, body: map[string]string{"text": "9"}}, "ar"},
		{"case", req{method: http.MethodGet, path: "/v1/cases/" + ref + "?lang=fr", as: phone}, "fr"},
		{"profile", req{method: http.MethodGet, path: "/v1/profile", as: phone, header: []string{"Accept-Language", "sw"}}, "sw"},
		{"error of a handler", req{method: http.MethodGet, path: "/v1/sessions/" + strings.Repeat("0", 32), as: phone, header: []string{"Accept-Language", "ar"}}, "ar"},
		{"error before any handler", req{method: http.MethodGet, path: "/v1/cases/4821773057", header: []string{"Accept-Language", "fr"}}, "fr"},
		{"refused body", req{method: http.MethodPost, path: "/v1/sessions", as: phone, body: `{"nope": 1}`, header: []string{"Accept-Language", "sw"}, bad: true}, "sw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.r)
			lang, _ := r.body["lang"].(string)
			if sc := r.screen(); sc != nil {
				lang, _ = sc["lang"].(string)
			}
			got := r.header.Get("Content-Language")
			if got != tt.want || (lang != "" && lang != got) {
				t.Errorf("Content-Language %q, body in %q, want %s: %d %s", got, lang, tt.want, r.status, r.raw)
			}
		})
	}
}

// TestArabic walks a service in Arabic: texts in Arabic, marked right to
// left, keys and references in ASCII digits, refusals in Arabic, and a case
// read back in Arabic.
func TestArabic(t *testing.T) {
	s := newServer(t)
	id, r := s.start(t, "report_problem", phone, "Accept-Language", "ar-EG,ar;q=0.9,en;q=0.5")
	sc := r.screen()
	opts, _ := sc["options"].([]any)
	if sc["lang"] != "ar" || sc["dir"] != "rtl" || sc["text"] != "ما نوع المشكلة؟" || len(opts) != 6 ||
		!reflect.DeepEqual(opts[0], map[string]any{"key": "1", "label": "المياه"}) {
		t.Fatalf("first screen: %d %s", r.status, r.raw)
	}
	if r = s.answer(t, id, "1"); r.screen()["text"] != "أين؟ المدينة أو القرية وعلامة مميزة:" {
		t.Errorf("after choosing water: %s", r.raw)
	}
	r = s.answer(t, id, "K")
	if sc := r.screen(); sc["error"] != "عدد الأحرف لا يقل عن 2." || sc["dir"] != "rtl" {
		t.Errorf("refusal: %s", r.raw)
	}
	for _, in := range []string{"الخرطوم، قرب المحطة", "انقطاع المياه منذ يومين", "1"} {
		r = s.answer(t, id, in)
	}
	sc = r.screen()
	ref, _ := sc["reference"].(string)
	if sc["ended"] != true || sc["dir"] != "rtl" || sc["text"] != "استلمنا بلاغك ورقمه المرجعي "+ref+". شكرًا لك." {
		t.Fatalf("final screen: %s", r.raw)
	}
	if c := s.caseOf(t, ref); c.Lang != "ar" || c.Answers[1].Value != "الخرطوم، قرب المحطة" {
		t.Errorf("case = %+v", c)
	}
	cs := s.get(t, phone, "/v1/cases/"+ref+"?lang=ar")
	if cs.body["dir"] != "rtl" || cs.body["title"] != "بلاغ مشكلة" || cs.body["status_label"] != "تم التقديم" {
		t.Errorf("case in Arabic: %d %s", cs.status, cs.raw)
	}
	list := s.get(t, "", "/v1/services", "Accept-Language", "ar")
	if list.body["dir"] != "rtl" || list.body["lang"] != "ar" {
		t.Errorf("services in Arabic: %d %s", list.status, list.raw)
	}
	if en := s.get(t, "", "/v1/services"); en.body["dir"] != "ltr" {
		t.Errorf("services in English: %s", en.raw)
	}
}

// put sends a PUT of body as JSON, signed in as phone as.
func (s *testServer) put(t testing.TB, as, path string, body any, header ...string) reply {
	t.Helper()
	return s.do(t, req{method: http.MethodPut, path: path, as: as, body: body, header: header})
}

// TestProfile chooses the language on the profile: stored per phone, used
// by every later request without "lang", and never losing the phone's
// other preferences.
func TestProfile(t *testing.T) {
	s := newServer(t)
	r := s.get(t, phone, "/v1/profile")
	want := []any{
		map[string]any{"code": "en", "name": "English", "dir": "ltr"},
		map[string]any{"code": "fr", "name": "Francais", "dir": "ltr"},
		map[string]any{"code": "sw", "name": "Kiswahili", "dir": "ltr"},
		map[string]any{"code": "ar", "name": "العربية", "dir": "rtl"},
	}
	if _, chosen := r.body["lang"]; r.status != http.StatusOK || chosen || !reflect.DeepEqual(r.body["langs"], want) {
		t.Fatalf("profile before any choice: %d %s", r.status, r.raw)
	}
	// A STOP sent by SMS is kept whatever the profile changes.
	if _, err := s.db.UpdatePrefs(t.Context(), phone, func(p *channels.Prefs) { p.OptedOut = true }); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		body   any
		status int
		lang   string // stored, and the language of the answer
		msg    string // the error's message
		bad    bool   // the body breaks the OpenAPI document on purpose
	}{
		{"arabic", map[string]string{"lang": "ar"}, http.StatusOK, "ar", "", false},
		{"a regional tag is its language", map[string]string{"lang": "fr-CM"}, http.StatusOK, "fr", "", false},
		{"a language not offered, told in the language chosen before", map[string]string{"lang": "de"}, http.StatusBadRequest, "fr", "Cette langue n'est pas proposée.", false},
		{"garbage", map[string]string{"lang": "not a tag"}, http.StatusBadRequest, "fr", "Cette langue n'est pas proposée.", false},
		{"no lang", map[string]string{}, http.StatusBadRequest, "fr", "La demande n'est pas valide.", true},
		{"swahili", map[string]string{"lang": "sw"}, http.StatusOK, "sw", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: http.MethodPut, path: "/v1/profile", as: phone, body: tt.body, bad: tt.bad})
			if r.status != tt.status || r.header.Get("Content-Language") != tt.lang || r.errorMessage() != tt.msg {
				t.Errorf("%d %s (Content-Language %s)", r.status, r.raw, r.header.Get("Content-Language"))
			}
			if tt.status == http.StatusOK && (r.body["lang"] != tt.lang || r.body["dir"] != locales.Direction(tt.lang)) {
				t.Errorf("%s", r.raw)
			}
			if p, err := s.db.Prefs(t.Context(), phone); err != nil || p.Lang != tt.lang || !p.OptedOut {
				t.Errorf("prefs = %+v, %v; want %s and still opted out", p, err, tt.lang)
			}
		})
	}

	// The choice holds for later requests that name no language, over
	// Accept-Language, and for this phone only.
	if _, r := s.start(t, "", phone, "Accept-Language", "en"); r.screen()["text"] != "Huduma za serikali" {
		t.Errorf("session after choosing Swahili: %s", r.raw)
	}
	if _, r := s.start(t, "", stranger, "Accept-Language", "en"); r.screen()["text"] != "Government services" {
		t.Errorf("another phone's session: %s", r.raw)
	}
	// "" forgets the choice: Accept-Language decides again.
	r = s.put(t, phone, "/v1/profile", map[string]string{"lang": ""}, "Accept-Language", "ar")
	if _, chosen := r.body["lang"]; r.status != http.StatusOK || chosen || r.header.Get("Content-Language") != "ar" {
		t.Errorf("forget: %d %s", r.status, r.raw)
	}
	if p, _ := s.db.Prefs(t.Context(), phone); p.Lang != "" || !p.OptedOut {
		t.Errorf("prefs after forgetting = %+v", p)
	}
	if r := s.do(t, req{method: http.MethodPut, path: "/v1/profile", body: map[string]string{"lang": "ar"}}); r.status != http.StatusUnauthorized {
		t.Errorf("profile without sign-in: %d %s", r.status, r.raw)
	}
}

// TestLanguageAcrossChannels checks that a language chosen on one channel
// is the one every other channel then uses for the phone: the SMS keyword,
// the USSD language menu and the app's profile, over one store.
func TestLanguageAcrossChannels(t *testing.T) {
	s := newServer(t)
	engine, bundle := channelstest.Shipped(t, func() time.Time { return today })
	host := &host.Store{Cases: s.db, Prefs: s.db, Now: s.clock.Now}
	smsSrv, err := sms.New(sms.Config{Engine: engine, Host: host, Sessions: s.db, Prefs: s.db, Bundle: bundle, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ussdSrv := ussd.New(ussd.Config{Engine: engine, Host: host, Sessions: s.db, Prefs: s.db, Bundle: bundle, Region: "KE", Now: s.clock.Now})
	texts := 0
	text := func(msg string) string {
		t.Helper()
		texts++
		r, err := smsSrv.Handle(t.Context(), sms.Inbound{Gateway: "test", ID: fmt.Sprint("m", texts), From: phone, Text: msg})
		if err != nil {
			t.Fatalf("SMS %q: %v", msg, err)
		}
		return r.Text
	}
	dials := 0
	dial := func(inputs ...string) string {
		t.Helper()
		dials++
		session := fmt.Sprint("ussd-", dials)
		var r ussd.Reply
		for i := range len(inputs) + 1 {
			if r, err = ussdSrv.Handle(t.Context(), ussd.Request{SessionID: session, Phone: phone, ServiceCode: "*384#", Text: strings.Join(inputs[:i], "*")}); err != nil {
				t.Fatalf("USSD %v: %v", inputs[:i], err)
			}
		}
		return r.Text
	}
	rootIn := func(lang string) string { return bundle.Text(lang, channels.Msg("home.title")) }

	// SMS LANG ar: confirmed in Arabic, then USSD and the app are Arabic.
	if got := text("LANG ar"); !strings.HasPrefix(got, "اللغة المختارة: العربية.") {
		t.Errorf("LANG ar answered %q", got)
	}
	if got := dial(); !strings.HasPrefix(got, rootIn("ar")) {
		t.Errorf("USSD dial after SMS LANG ar: %q", got)
	}
	if _, r := s.start(t, "", phone); r.screen()["lang"] != "ar" || r.screen()["dir"] != "rtl" {
		t.Errorf("app after SMS LANG ar: %s", r.raw)
	}

	// The app's profile to French: SMS and USSD answer in French.
	s.put(t, phone, "/v1/profile", map[string]string{"lang": "fr"})
	if got := text("MENU"); !strings.HasPrefix(got, rootIn("fr")) {
		t.Errorf("SMS after the app chose French: %q", got)
	}
	if got := dial(); !strings.HasPrefix(got, rootIn("fr")) {
		t.Errorf("USSD after the app chose French: %q", got)
	}

	// The USSD language menu, 8 then 3 for Swahili: the app's profile and
	// SMS follow.
	if got := dial("8", "3"); !strings.HasPrefix(got, rootIn("sw")) {
		t.Errorf("USSD language menu: %q", got)
	}
	if r := s.get(t, phone, "/v1/profile"); r.body["lang"] != "sw" {
		t.Errorf("profile after the USSD choice: %s", r.raw)
	}
	if got := text("HELP"); !strings.HasPrefix(got, "Jibu kwa nambari ya chaguo lako.") {
		t.Errorf("SMS HELP after the USSD choice: %q", got)
	}

	// The SMS language menu, LUGHA then 4: Arabic again everywhere.
	if got := text("LUGHA"); !strings.HasPrefix(got, bundle.Text("sw", channels.Msg("lang.prompt"))) {
		t.Errorf("LUGHA answered %q", got)
	}
	if got := text("٤"); !strings.HasPrefix(got, rootIn("ar")) {
		t.Errorf("4 in Arabic digits on the SMS language menu: %q", got)
	}
	if got := dial(); !strings.HasPrefix(got, rootIn("ar")) {
		t.Errorf("USSD after the SMS language menu: %q", got)
	}
	if r := s.get(t, phone, "/v1/profile"); r.body["lang"] != "ar" || r.header.Get("Content-Language") != "ar" {
		t.Errorf("profile after the SMS language menu: %s", r.raw)
	}
}
