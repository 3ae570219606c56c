package app

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// TestServicesStepByStep completes every shipped service through the
// session endpoints and checks the case each one stored.
func TestServicesStepByStep(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name    string
		service string
		inputs  []string
		answers []channels.Answer // what the case must hold
	}{
		{
			name:    "birth certificate, mother, collect at registry",
			service: "birth_certificate",
			inputs:  []string{"Amina Otieno", "12/03/2024", "1", "Kisumu", "1", "Grace Otieno", "0712345678", "1", "1"},
			answers: []channels.Answer{
				{Field: "child_name", Value: "Amina Otieno"}, {Field: "child_dob", Value: "2024-03-12"},
				{Field: "sex", Value: "female"}, {Field: "place", Value: "Kisumu"}, {Field: "relation", Value: "mother"},
				{Field: "mother_name", Value: "Grace Otieno"}, {Field: "phone", Value: "+254712345678"},
				{Field: "delivery", Value: "office"},
			},
		},
		{
			name:    "birth certificate, guardian, by post",
			service: "birth_certificate",
			inputs:  []string{"Baraka Mwangi", "2025-01-01", "2", "Nakuru", "3", "1234 5674", "Mary Njeri", "+254722000111", "2", "P.O. Box 42, Nakuru", "1"},
			answers: []channels.Answer{
				{Field: "child_name", Value: "Baraka Mwangi"}, {Field: "child_dob", Value: "2025-01-01"},
				{Field: "sex", Value: "male"}, {Field: "place", Value: "Nakuru"}, {Field: "relation", Value: "guardian"},
				{Field: "guardian_id", Value: "12345674"}, {Field: "mother_name", Value: "Mary Njeri"},
				{Field: "phone", Value: "+254722000111"}, {Field: "delivery", Value: "post"},
				{Field: "address", Value: "P.O. Box 42, Nakuru"},
			},
		},
		{
			name:    "report a problem",
			service: "report_problem",
			inputs:  []string{"water", "Kisumu bus park", "Broken pipe at stall 4", "1"},
			answers: []channels.Answer{
				{Field: "category", Value: "water"}, {Field: "location", Value: "Kisumu bus park"},
				{Field: "description", Value: "Broken pipe at stall 4"},
			},
		},
	}
	var refs []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := s.walk(t, tt.service, phone, tt.inputs...).screen()
			ref, _ := sc["reference"].(string)
			if sc["kind"] != "end" || sc["ended"] != true || sc["can_go_back"] != false || ref == "" || !strings.Contains(sc["text"].(string), ref) {
				t.Fatalf("last screen = %v", sc)
			}
			c := s.caseOf(t, ref)
			if c.Service != tt.service || c.Phone != phone || c.Channel != channels.ChannelApp || c.Lang != "en" || !reflect.DeepEqual(c.Answers, tt.answers) {
				t.Errorf("case = %+v\nwant answers %+v", c, tt.answers)
			}
			refs = append(refs, ref)
		})
	}
	if len(refs) != len(tests) {
		t.Fatal("a service failed; the lookups need its case")
	}

	lookups := []struct {
		name      string
		phone     string
		inputs    []string
		text      string
		lines     []string // substrings of the lines, in order
		wantLines int
	}{
		{"check by reference", phone, []string{"1", refs[2]}, "Your application:", []string{refs[2] + " Report a problem: Submitted"}, 1},
		{"check by reference with spaces", phone, []string{"reference", refs[0][:5] + " " + refs[0][5:]}, "Your application:", []string{refs[0] + " Birth certificate: Submitted"}, 1},
		{"check another phone's reference", "+254733000000", []string{"1", refs[2]}, "No application has this reference number.", nil, 0},
		{"my applications", phone, []string{"2"}, "Your latest applications:", []string{refs[0], refs[1], refs[2]}, 3},
		{"my applications of a stranger", "+254733000000", []string{"mine"}, "No applications for this phone number.", nil, 0},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			sc := s.walk(t, "check_status", tt.phone, tt.inputs...).screen()
			lines, _ := sc["lines"].([]any)
			if sc["kind"] != "end" || sc["text"] != tt.text || len(lines) != tt.wantLines {
				t.Fatalf("screen = %v", sc)
			}
			all := ""
			for _, l := range lines {
				all += l.(string) + "\n"
			}
			for _, want := range tt.lines {
				if !strings.Contains(all, want) {
					t.Errorf("lines %q lack %q", all, want)
				}
			}
		})
	}
}

// TestSessionScreens follows one session through its screens: the input
// schema, a refusal, back, the root menu and the language menu.
func TestSessionScreens(t *testing.T) {
	s := newServer(t)
	id, r := s.start(t, "birth_certificate", phone)
	sc := r.screen()
	in, _ := sc["input"].(map[string]any)
	if sc["kind"] != "input" || sc["service"] != "birth_certificate" || sc["step"] != "child_name" || sc["dir"] != "ltr" || sc["can_go_back"] != true ||
		in["field"] != "child_name" || in["type"] != "text" || in["min_length"] != 2.0 || in["max_length"] != 60.0 || in["pattern"] == nil {
		t.Fatalf("first screen = %v", sc)
	}
	if got := s.get(t, phone, "/v1/sessions/"+id); !reflect.DeepEqual(got.screen(), sc) || got.body["session"] != id {
		t.Errorf("GET = %s, want %s", got.raw, r.raw)
	}

	steps := []struct {
		name  string
		input map[string]string
		check func(sc map[string]any) bool
	}{
		{"refused name keeps the screen", map[string]string{"text": "A"}, func(sc map[string]any) bool {
			return sc["step"] == "child_name" && sc["error"] == "At least 2 characters."
		}},
		{"accepted name", map[string]string{"text": "Amina Otieno", "action": "answer"}, func(sc map[string]any) bool {
			in, _ := sc["input"].(map[string]any)
			return sc["step"] == "child_dob" && sc["error"] == nil && in["type"] == "date" && in["min"] == "1906-11-26" && in["max"] == "2026-11-26"
		}},
		{"accepted date", map[string]string{"text": "12/03/2024"}, func(sc map[string]any) bool {
			opts, _ := sc["options"].([]any)
			return sc["kind"] == "menu" && sc["step"] == "sex" && len(opts) == 2 && reflect.DeepEqual(opts[0], map[string]any{"key": "1", "label": "Female"})
		}},
		{"back", map[string]string{"action": "back"}, func(sc map[string]any) bool {
			return sc["step"] == "child_dob"
		}},
		{"home", map[string]string{"action": "home"}, func(sc map[string]any) bool {
			opts, _ := sc["options"].([]any)
			return sc["kind"] == "menu" && sc["text"] == "Government services" && len(opts) == 8 && sc["service"] == nil && sc["can_go_back"] == false
		}},
		{"refused choice on the root menu", map[string]string{"text": "9"}, func(sc map[string]any) bool {
			return sc["text"] == "Government services" && sc["error"] == "Choose one of the numbers shown."
		}},
		{"language menu names each language in itself", map[string]string{"text": "8"}, func(sc map[string]any) bool {
			opts, _ := sc["options"].([]any)
			return len(opts) == 4 && opts[1].(map[string]any)["label"] == "Francais" && opts[2].(map[string]any)["label"] == "Kiswahili" && opts[3].(map[string]any)["label"] == "العربية"
		}},
		{"Swahili chosen", map[string]string{"text": "3"}, func(sc map[string]any) bool {
			return sc["text"] == "Huduma za serikali" && sc["lang"] == "sw"
		}},
		{"a service on the root menu", map[string]string{"text": "3"}, func(sc map[string]any) bool {
			return sc["service"] == "report_problem" && sc["text"] == "Tatizo linahusu nini?"
		}},
	}
	for _, st := range steps {
		r := s.input(t, id, st.input)
		if r.status != http.StatusOK || r.body["session"] != id || !st.check(r.screen()) {
			t.Fatalf("%s: %d %s", st.name, r.status, r.raw)
		}
	}
	if p, err := s.db.Prefs(t.Context(), phone); err != nil || p.Lang != "sw" {
		t.Errorf("the language chosen is not remembered: %+v %v", p, err)
	}
}

// TestEndedSessionIsDeleted checks that a session is gone once its service
// ended, by a lookup, a submission or a cancel.
func TestEndedSessionIsDeleted(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name    string
		service string
		inputs  []string
	}{
		{"lookup", "check_status", []string{"2"}},
		{"submission", "report_problem", []string{"1", "Kisumu", "No water since Monday", "1"}},
		{"cancelled", "report_problem", []string{"1", "Kisumu", "No water since Monday", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, _ := s.start(t, tt.service, phone)
			var r reply
			for _, in := range tt.inputs {
				r = s.answer(t, id, in)
			}
			if r.status != http.StatusOK || r.screen()["ended"] != true {
				t.Fatalf("last reply %d %s", r.status, r.raw)
			}
			for _, later := range []reply{s.get(t, phone, "/v1/sessions/"+id), s.post(t, phone, "/v1/sessions/"+id+"/input", map[string]string{"text": "1"})} {
				if later.status != http.StatusNotFound || later.errorCode() != "not_found" || later.errorMessage() != "Your session has ended. Please start again." {
					t.Errorf("after the end: %d %s", later.status, later.raw)
				}
			}
		})
	}
	if cases, err := s.db.CasesByPhone(t.Context(), phone, 10); err != nil || len(cases) != 1 {
		t.Errorf("cases = %d (%v), want only the one submitted", len(cases), err)
	}
}

// TestSessionExpires checks that a session lives SessionTTL after its last
// input, not after its start.
func TestSessionExpires(t *testing.T) {
	s := newServer(t)
	id, _ := s.start(t, "report_problem", phone)
	s.clock.Add(20 * time.Minute)
	if r := s.answer(t, id, "1"); r.status != http.StatusOK {
		t.Fatalf("input after 20 min: %d %s", r.status, r.raw)
	}
	s.clock.Add(29 * time.Minute)
	if r := s.get(t, phone, "/v1/sessions/"+id); r.status != http.StatusOK {
		t.Fatalf("29 min after the last input: %d %s", r.status, r.raw)
	}
	s.clock.Add(time.Minute)
	if r := s.get(t, phone, "/v1/sessions/"+id); r.status != http.StatusNotFound || r.errorMessage() != "Your session has ended. Please start again." {
		t.Errorf("30 min after the last input: %d %s", r.status, r.raw)
	}
}

// TestConcurrentConfirm sends the final confirm of one session many times
// at once, as a double tap on a slow network does: one request submits,
// the others find the session ended, and one case exists.
func TestConcurrentConfirm(t *testing.T) {
	s := newServer(t)
	id, _ := s.start(t, "report_problem", phone)
	for _, in := range []string{"2", "Eldoret", "No power since Friday"} {
		s.answer(t, id, in)
	}
	const n = 8
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			replies[i], err = s.try(req{method: http.MethodPost, path: "/v1/sessions/" + id + "/input", as: phone, body: map[string]string{"text": "1"}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ended, gone := 0, 0
	for _, r := range replies {
		switch {
		case r.status == http.StatusOK && r.screen()["reference"] != nil:
			ended++
		case r.status == http.StatusNotFound:
			gone++
		default:
			t.Errorf("reply %d %s", r.status, r.raw)
		}
	}
	cases, err := s.db.CasesByPhone(t.Context(), phone, 10)
	if ended != 1 || gone != n-1 || err != nil || len(cases) != 1 {
		t.Errorf("%d submitted, %d found the session gone, %d cases (%v); want 1, %d, 1", ended, gone, len(cases), err, n-1)
	}
}

// TestStaleSession checks that a session the engine can no longer place
// (its service changed since it was saved) or read is forgotten and
// answered as unknown, so that the app starts again.
func TestStaleSession(t *testing.T) {
	s := newServer(t)
	gone := flows.State{Service: "report_problem", Step: "removed_step", Lang: "en", Channel: channels.ChannelApp}
	tests := []struct {
		name  string
		state []byte
	}{
		{"step no longer in the catalog", gone.Encode()},
		{"unreadable state", []byte{0xff, 1, 2}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("%032x", i+1)
			for _, r := range []req{
				{method: http.MethodGet, path: "/v1/sessions/" + id, as: phone},
				{method: http.MethodPost, path: "/v1/sessions/" + id + "/input", as: phone, body: map[string]string{"text": "1"}},
			} {
				err := s.db.PutSession(t.Context(), &channels.Session{
					ID: sessionKey(id), Phone: phone, Channel: channels.ChannelApp, State: tt.state,
					UpdatedAt: today, ExpiresAt: today.Add(time.Hour),
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := s.do(t, r); got.status != http.StatusNotFound || got.errorMessage() != "Your session has ended. Please start again." {
					t.Errorf("%s: %d %s", r.method, got.status, got.raw)
				}
				if _, err := s.db.Session(t.Context(), sessionKey(id), today); channels.ErrorCode(err) != channels.ENOTFOUND {
					t.Errorf("%s: the stale session is still stored (%v)", r.method, err)
				}
			}
		})
	}
}
