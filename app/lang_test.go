package app

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/govchannels/channels"
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
			if r.status != http.StatusOK || r.body["lang"] != tt.lang || len(list) != 3 || list[0].(map[string]any)["title"] != tt.title {
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
