package app

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/govchannels/channels"
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
			"reference": ref, "service": "report_problem", "title": "Report a problem", "lang": "en", "dir": "ltr",
			"status": "submitted", "status_label": "Submitted", "created_at": "2026-11-26T15:04:05Z",
			"history": []any{map[string]any{"status": "submitted", "label": "Submitted", "at": "2026-11-26T15:04:05Z"}},
		}},
		{"the signed-in phone named, E.164", "?phone=" + url.QueryEscape(phone), map[string]any{
			"reference": ref, "service": "report_problem", "title": "Report a problem", "lang": "en", "dir": "ltr",
			"status": "submitted", "status_label": "Submitted", "created_at": "2026-11-26T15:04:05Z",
			"history": []any{map[string]any{"status": "submitted", "label": "Submitted", "at": "2026-11-26T15:04:05Z"}},
		}},
		{"the signed-in phone named, national, in Swahili", "?phone=0712345678&lang=sw", map[string]any{
			"reference": ref, "service": "report_problem", "title": "Ripoti tatizo", "lang": "sw", "dir": "ltr",
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

// TestListCases lists the signed-in phone's cases, newest first, and
// checks that an agency's notes reach the citizen only where they are
// meant for them, and that another phone's cases are never listed.
func TestListCases(t *testing.T) {
	s := newServer(t)
	submit := func(as, location string) string {
		t.Helper()
		r := s.post(t, as, "/v1/services/report_problem/submissions", map[string]any{"answers": map[string]string{"category": "water", "location": location, "description": "No water since Monday"}})
		ref, _ := r.body["reference"].(string)
		if ref == "" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		return ref
	}
	first := submit(phone, "Eldoret")
	second := submit(phone, "Kisumu")
	submit(stranger, "Nakuru")
	for _, ch := range []struct {
		to   channels.Status
		note string
	}{
		{channels.StatusInReview, "internal: assigned to desk 4"},
		{channels.StatusMoreInfo, "Which estate?"},
	} {
		if _, err := s.db.UpdateCase(t.Context(), first, func(c *channels.Case) error {
			return c.Transition(ch.to, today, "agency:county_works/key:k1", ch.note)
		}); err != nil {
			t.Fatal(err)
		}
	}

	r := s.get(t, phone, "/v1/cases?lang=en")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	cases, _ := r.body["cases"].([]any)
	var refs []string
	for _, c := range cases {
		refs = append(refs, c.(map[string]any)["reference"].(string))
	}
	if !reflect.DeepEqual(refs, []string{second, first}) && !reflect.DeepEqual(refs, []string{first, second}) {
		t.Fatalf("listed %q, want exactly this phone's two cases", refs)
	}
	for _, c := range cases {
		c := c.(map[string]any)
		if c["reference"] != first {
			continue
		}
		if c["status"] != "more_info" || c["status_label"] != "More information needed" {
			t.Errorf("first case %v", c)
		}
		h := c["history"].([]any)
		if len(h) != 3 || h[1].(map[string]any)["note"] != nil || h[2].(map[string]any)["note"] != "Which estate?" {
			t.Errorf("history %v: want the question shown and the agency's internal note hidden", h)
		}
	}
	if r := s.get(t, stranger, "/v1/cases"); r.status != http.StatusOK || len(r.body["cases"].([]any)) != 1 {
		t.Errorf("the stranger's list: %d %s, want only their own case", r.status, r.raw)
	}
}

// TestDevices registers and removes a device through the app API, each
// exchange checked against the document, and checks that a citizen cannot
// remove another's device.
func TestDevices(t *testing.T) {
	s := newServer(t)
	if r := s.post(t, phone, "/v1/devices", map[string]string{"token": "tok-a", "platform": "android", "lang": "sw"}); r.status != http.StatusCreated || r.body["token"] != "tok-a" {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if r := s.post(t, phone, "/v1/devices", map[string]string{"token": "tok-a", "platform": "android"}); r.status != http.StatusOK {
		t.Errorf("register again: %d %s, want 200", r.status, r.raw)
	}
	if r := s.do(t, req{method: http.MethodDelete, path: "/v1/devices/tok-a", as: stranger}); r.status != http.StatusNotFound {
		t.Errorf("a stranger removing the device: %d %s, want 404", r.status, r.raw)
	}
	if ds, err := s.db.Devices(t.Context(), phone); err != nil || len(ds) != 1 {
		t.Fatalf("devices after a stranger's delete: %v %v", ds, err)
	}
	if r := s.do(t, req{method: http.MethodDelete, path: "/v1/devices/tok-a", as: phone}); r.status != http.StatusNoContent {
		t.Errorf("remove: %d %s, want 204", r.status, r.raw)
	}
	if r := s.do(t, req{method: http.MethodPost, path: "/v1/devices", body: map[string]string{"token": "tok-b", "platform": "android"}}); r.status != http.StatusUnauthorized {
		t.Errorf("register without a token: %d, want 401", r.status)
	}
}
