package app

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

// TestCase reads a case as the phone that submitted it, and checks that
// any other reference is the very same 404 as an unknown one.
func TestCase(t *testing.T) {
	s := newServer(t)
	r := s.post(t, phone, "/v1/services/report_problem/submissions", map[string]any{"answers": map[string]string{"category": "water", "location": "Eldoret", "description": "No water since Monday"}})
	ref, _ := r.body["reference"].(string)
	if ref == "" {
		t.Fatalf("%d %s", r.status, r.raw)
	}

	tests := []struct {
		name  string
		query string
		want  map[string]any
	}{
		{"signed in", "", map[string]any{
			"reference": ref, "service": "report_problem", "title": "Report a problem", "lang": "en",
			"status": "submitted", "status_label": "Submitted", "created_at": "2026-11-26T15:04:05Z",
			"history": []any{map[string]any{"status": "submitted", "label": "Submitted", "at": "2026-11-26T15:04:05Z"}},
		}},
		{"the signed-in phone named, E.164", "?phone=" + url.QueryEscape(phone), map[string]any{
			"reference": ref, "service": "report_problem", "title": "Report a problem", "lang": "en",
			"status": "submitted", "status_label": "Submitted", "created_at": "2026-11-26T15:04:05Z",
			"history": []any{map[string]any{"status": "submitted", "label": "Submitted", "at": "2026-11-26T15:04:05Z"}},
		}},
		{"the signed-in phone named, national, in Swahili", "?phone=0712345678&lang=sw", map[string]any{
			"reference": ref, "service": "report_problem", "title": "Ripoti tatizo", "lang": "sw",
			"status": "submitted", "status_label": "Limepokelewa", "created_at": "2026-11-26T15:04:05Z",
			"history": []any{map[string]any{"status": "submitted", "label": "Limepokelewa", "at": "2026-11-26T15:04:05Z"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.get(t, phone, "/v1/cases/"+ref+tt.query)
			if r.status != http.StatusOK || !reflect.DeepEqual(r.body, tt.want) {
				t.Errorf("%d %s\nwant %v", r.status, r.raw, tt.want)
			}
		})
	}

	unknown := s.get(t, phone, "/v1/cases/4821773057")
	if unknown.status != http.StatusNotFound || unknown.errorCode() != "not_found" || unknown.errorMessage() != "Not found." {
		t.Fatalf("unknown reference: %d %s", unknown.status, unknown.raw)
	}
	hidden := []struct {
		name string
		as   string
		path string
	}{
		{"another phone signed in", stranger, "/v1/cases/" + ref},
		{"a mistyped reference", phone, "/v1/cases/" + ref[:9] + string('0'+(ref[9]-'0'+1)%10)},
		{"a malformed reference", phone, "/v1/cases/12"},
	}
	for _, tt := range hidden {
		t.Run(tt.name, func(t *testing.T) {
			if r := s.get(t, tt.as, tt.path); r.status != unknown.status || string(r.raw) != string(unknown.raw) {
				t.Errorf("%d %s, want exactly the answer of an unknown reference %s", r.status, r.raw, unknown.raw)
			}
		})
	}
}
