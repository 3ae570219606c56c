package app

import (
	"maps"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// birthForm is a whole birth-certificate form a guardian posts, to be
// collected at the registry; birthOrder is the order of its screens.
var (
	birthForm = map[string]string{
		"child_name": "Amina Otieno", "child_dob": "12/03/2024", "sex": "female", "place": "Kisumu",
		"relation": "guardian", "guardian_id": "12345674", "mother_name": "Grace Otieno",
		"phone": "0712345678", "delivery": "office",
	}
	birthOrder = []string{"child_name", "child_dob", "sex", "place", "relation", "guardian_id", "mother_name", "phone", "delivery"}
)

func TestServicesList(t *testing.T) {
	s := newServer(t)
	r := s.get(t, "", "/v1/services")
	want := []any{
		map[string]any{"id": "birth_certificate", "title": "Birth certificate"},
		map[string]any{"id": "check_status", "title": "Check an application"},
		map[string]any{"id": "report_problem", "title": "Report a problem"},
		map[string]any{"id": "tax_pin", "title": "Tax PIN"},
		map[string]any{"id": "benefit_eligibility", "title": "Benefit eligibility"},
		map[string]any{"id": "national_id", "title": "My ID number"},
		map[string]any{"id": "registry_appointment", "title": "Registry appointment"},
	}
	if r.status != http.StatusOK || r.body["lang"] != "en" || !reflect.DeepEqual(r.body["services"], want) {
		t.Errorf("%d %s", r.status, r.raw)
	}
}

// TestWholeForm submits every service as one form and checks that the case
// holds exactly what the same answers give step by step.
func TestWholeForm(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name    string
		service string
		answers map[string]string
		steps   []string // the same answers on the screens
	}{
		{
			name:    "birth certificate, guardian, by post",
			service: "birth_certificate",
			answers: map[string]string{
				"child_name": "Baraka Mwangi", "child_dob": "2025-01-01", "sex": "2", "place": "Nakuru",
				"relation": "guardian", "guardian_id": "1234-5674", "mother_name": "Mary Njeri",
				"phone": "+254722000111", "delivery": "post", "address": "P.O. Box 42, Nakuru",
			},
			steps: []string{"Baraka Mwangi", "2025-01-01", "2", "Nakuru", "guardian", "1234-5674", "Mary Njeri", "+254722000111", "post", "P.O. Box 42, Nakuru", "1"},
		},
		{
			name:    "birth certificate, mother; answers of branches not taken are ignored",
			service: "birth_certificate",
			answers: map[string]string{
				"child_name": "Amina Otieno", "child_dob": "12/03/2024", "sex": "female", "place": "Kisumu",
				"relation": "mother", "guardian_id": "not read", "mother_name": "Grace Otieno",
				"phone": "0712345678", "delivery": "office", "address": "not read either",
			},
			steps: []string{"Amina Otieno", "12/03/2024", "1", "Kisumu", "1", "Grace Otieno", "0712345678", "1", "1"},
		},
		{
			name:    "report a problem",
			service: "report_problem",
			answers: map[string]string{"category": "roads", "location": "Eldoret", "description": "Pothole on the main road"},
			steps:   []string{"3", "Eldoret", "Pothole on the main road", "1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, phone, "/v1/services/"+tt.service+"/submissions", map[string]any{"answers": tt.answers})
			ref, _ := r.body["reference"].(string)
			sc := r.screen()
			if r.status != http.StatusCreated || ref == "" || sc["reference"] != ref || sc["kind"] != "end" || sc["ended"] != true || !strings.Contains(sc["text"].(string), ref) {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			stepped := s.walk(t, tt.service, phone, tt.steps...).screen()["reference"].(string)
			form, steps := s.caseOf(t, ref), s.caseOf(t, stepped)
			if !reflect.DeepEqual(form.Answers, steps.Answers) || form.Service != tt.service || form.Phone != phone {
				t.Errorf("whole form stored %+v\nstep by step stored %+v", form, steps)
			}
		})
	}
	t.Run("a lookup service answers its final screen", func(t *testing.T) {
		// Six cases are stored; a lookup lists the latest five.
		r := s.post(t, phone, "/v1/services/check_status/submissions", map[string]any{"answers": map[string]string{"how": "mine"}})
		lines, _ := r.screen()["lines"].([]any)
		if r.status != http.StatusOK || r.body["reference"] != nil || len(lines) != 5 {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
}

// TestSameValidationBothWays sends each bad value as a whole form and step
// by step, and expects the same message both ways.
func TestSameValidationBothWays(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name, field, value, want string
	}{
		{"name too short", "child_name", "A", "At least 2 characters."},
		{"name too long", "child_name", strings.Repeat("a", 61), "At most 60 characters."},
		{"name with digits", "child_name", "Amina 2", "That format is not valid."},
		{"name of blanks", "child_name", "   ", "Please enter a value."},
		{"date of birth in the future", "child_dob", "01/01/2027", "The date cannot be after 26/11/2026."},
		{"date of birth too old", "child_dob", "01/01/1900", "The date cannot be before 26/11/1906."},
		{"not a date", "child_dob", "yesterday", "Enter a date as DD/MM/YYYY."},
		{"invalid option", "sex", "3", "Choose one of the numbers shown."},
		{"invalid option by value", "relation", "uncle", "Choose one of the numbers shown."},
		{"national ID with a bad check digit", "guardian_id", "12345678", "That ID number is not valid."},
		{"national ID too short", "guardian_id", "1234567", "That ID number is not valid."},
		{"invalid phone", "phone", "12345", "That phone number is not valid."},
		{"phone too short", "phone", "+2547", "That phone number is not valid."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := maps.Clone(birthForm)
			form[tt.field] = tt.value
			r := s.post(t, phone, "/v1/services/birth_certificate/submissions", map[string]any{"answers": form})
			want := map[string]any{tt.field: tt.want}
			if r.status != http.StatusUnprocessableEntity || r.errorCode() != "invalid" || r.errorMessage() != "Some answers need correcting." || !reflect.DeepEqual(r.body["fields"], want) {
				t.Errorf("whole form: %d %s", r.status, r.raw)
			}

			id, _ := s.start(t, "birth_certificate", phone)
			for _, f := range birthOrder {
				if f == tt.field {
					r = s.answer(t, id, tt.value)
					break
				}
				if r = s.answer(t, id, birthForm[f]); r.screen()["error"] != nil {
					t.Fatalf("good answer %s refused: %s", f, r.raw)
				}
			}
			if sc := r.screen(); r.status != http.StatusOK || sc["error"] != tt.want {
				t.Errorf("step by step: %d %s, want error %q", r.status, r.raw, tt.want)
			}
		})
	}
	t.Run("every refused field at once", func(t *testing.T) {
		form := maps.Clone(birthForm)
		form["child_name"], form["child_dob"], form["guardian_id"] = "A", "31/02/2024", "12345678"
		delete(form, "place")
		r := s.post(t, phone, "/v1/services/birth_certificate/submissions", map[string]any{"answers": form, "lang": "fr"})
		want := map[string]any{
			"child_name":  "Au moins 2 caractères.",
			"child_dob":   "Entrez la date au format JJ/MM/AAAA.",
			"place":       "Veuillez entrer une valeur.",
			"guardian_id": "Ce numéro d'identité n'est pas valide.",
		}
		if r.status != http.StatusUnprocessableEntity || r.errorMessage() != "Certaines réponses sont à corriger." || !reflect.DeepEqual(r.body["fields"], want) {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	if cases, err := s.db.CasesByPhone(t.Context(), phone, 10); err != nil || len(cases) != 0 {
		t.Errorf("refused forms stored %d cases (%v)", len(cases), err)
	}
}

// TestIdempotencyKey checks that a retried whole form, even many retries
// at once, creates one case and answers its reference every time.
func TestIdempotencyKey(t *testing.T) {
	s := newServer(t)
	form := map[string]any{"answers": map[string]string{"category": "roads", "location": "Eldoret", "description": "Pothole on the main road"}}
	submit := func(t *testing.T, as string, body map[string]any, key string) string {
		var header []string
		if key != "" {
			header = []string{"Idempotency-Key", key}
		}
		r := s.post(t, as, "/v1/services/report_problem/submissions", body, header...)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		return r.body["reference"].(string)
	}
	count := func(t *testing.T, phone string) int {
		cases, err := s.db.CasesByPhone(t.Context(), phone, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(cases)
	}

	first := submit(t, phone, form, "retry-1")
	if again := submit(t, phone, form, "retry-1"); again != first || count(t, phone) != 1 {
		t.Fatalf("retry gave %s (first %s), %d cases", again, first, count(t, phone))
	}

	replies := make([]reply, 8)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() {
			var err error
			replies[i], err = s.try(req{method: http.MethodPost, path: "/v1/services/report_problem/submissions", as: phone, body: form, header: []string{"Idempotency-Key", "retry-2"}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, r := range replies {
		if r.status != http.StatusCreated || r.body["reference"] != replies[0].body["reference"] || r.body["reference"] == first {
			t.Fatalf("concurrent retries: %d %s (first %s)", r.status, r.raw, first)
		}
	}
	if n := count(t, phone); n != 2 {
		t.Errorf("%d cases after two keys, want 2", n)
	}

	if ref := submit(t, "+254733000000", form, "retry-1"); ref == first || count(t, "+254733000000") != 1 {
		t.Errorf("another phone's key retry-1 gave the first phone's case %s", ref)
	}
	if a, b := submit(t, phone, form, ""), submit(t, phone, form, ""); a == b {
		t.Errorf("two submissions without a key gave the same case %s", a)
	}
	if n := count(t, phone); n != 4 {
		t.Errorf("%d cases, want 4", n)
	}
	r := s.do(t, req{method: http.MethodPost, path: "/v1/services/report_problem/submissions", as: phone, body: form, header: []string{"Idempotency-Key", strings.Repeat("k", 129)}, bad: true})
	if r.status != http.StatusBadRequest || r.errorCode() != "invalid" {
		t.Errorf("a key of 129 bytes: %d %s", r.status, r.raw)
	}
}
