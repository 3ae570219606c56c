package kiosk

import (
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
)

// TestAssistedHost checks the host of a walk against the store: the cases
// it makes carry the assistance (and, without a phone, the document), and
// a citizen without a phone reads and answers only the cases of their
// own document.
func TestAssistedHost(t *testing.T) {
	db := channelstest.OpenStore(t)
	clock := channelstest.NewClock(now)
	store := &host.Store{Cases: db, Prefs: db, Log: db, Now: clock.Now}
	help := channels.Assistance{Operator: amina, Kiosk: "kisumu-post-office", Consent: channels.ConsentIDDocument}
	byDoc := &assistedHost{host: store, cases: db, assisted: help, nationalID: nationalID, maxCases: 5}
	byPhone := &assistedHost{host: store, cases: db, assisted: channels.Assistance{Operator: amina, Kiosk: "kisumu-post-office", Consent: channels.ConsentCode}, maxCases: 5}
	other := &assistedHost{host: store, cases: db, assisted: help, nationalID: "87654323", maxCases: 5}
	ctx := t.Context()

	submit := func(h *assistedHost, phone, key string) *channels.Case {
		t.Helper()
		ref, err := h.Submit(ctx, flows.Submission{Key: key, Service: "report_problem", Phone: phone, Lang: "en", Channel: channels.ChannelKiosk,
			Answers: []channels.Answer{{Field: "category", Value: "water"}}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := db.Case(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	docCase := submit(byDoc, "", "kiosk/1")
	phoneCase := submit(byPhone, phoneA, "kiosk/2")
	submit(other, "", "kiosk/3")

	t.Run("what the cases carry", func(t *testing.T) {
		tests := []struct {
			name      string
			c         *channels.Case
			phone, id string
			assisted  channels.Assistance
		}{
			{"without a phone", docCase, "", nationalID, help},
			{"with a phone", phoneCase, phoneA, "", byPhone.assisted},
		}
		for _, tt := range tests {
			if tt.c.Phone != tt.phone || tt.c.NationalID != tt.id || tt.c.Assisted == nil || *tt.c.Assisted != tt.assisted {
				t.Errorf("%s: case %+v (assisted %+v)", tt.name, tt.c, tt.c.Assisted)
			}
		}
	})

	t.Run("reading cases", func(t *testing.T) {
		tests := []struct {
			name string
			h    *assistedHost
			ref  string
			ok   bool
		}{
			{"own document", byDoc, docCase.Ref, true},
			{"another document's", other, docCase.Ref, false},
			{"a phone's case, by document", byDoc, phoneCase.Ref, false},
			{"a phone's case, by phone", byPhone, phoneCase.Ref, true},
			{"a document's case, by phone", byPhone, docCase.Ref, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				phone := ""
				if tt.h.nationalID == "" {
					phone = phoneA
				}
				c, err := tt.h.Case(ctx, phone, tt.ref)
				if (err == nil) != tt.ok || (!tt.ok && channels.ErrorCode(err) != channels.ENOTFOUND) || (tt.ok && c.Ref != tt.ref) {
					t.Errorf("Case = %v, %v; want found %v", c, err, tt.ok)
				}
			})
		}
		mine, err := byDoc.CasesByPhone(ctx, "")
		if err != nil || len(mine) != 1 || mine[0].Ref != docCase.Ref {
			t.Errorf("the document's cases: %v, %v", mine, err)
		}
	})

	t.Run("answering an agency", func(t *testing.T) {
		if _, err := db.UpdateCase(ctx, docCase.Ref, func(c *channels.Case) error {
			return c.Transition(channels.StatusMoreInfo, now, "county_works", "Which tap?")
		}); err != nil {
			t.Fatal(err)
		}
		answer := flows.Submission{Key: "kiosk/4", Service: "check_status", Action: flows.ActionAnswerInfo, Ref: docCase.Ref, Lang: "en",
			Channel: channels.ChannelKiosk, Answers: []channels.Answer{{Field: "answer", Value: "The one by the market"}}}
		if _, err := other.Submit(ctx, answer); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("another document answers: %v", err)
		}
		if c, _ := db.Case(ctx, docCase.Ref); c.Status != channels.StatusMoreInfo {
			t.Errorf("after another document's answer: %s", c.Status)
		}
		if ref, err := byDoc.Submit(ctx, answer); err != nil || ref != docCase.Ref {
			t.Errorf("own document answers: %s, %v", ref, err)
		}
		if c, _ := db.Case(ctx, docCase.Ref); c.Status != channels.StatusInReview {
			t.Errorf("after the answer: %s", c.Status)
		}
	})

	t.Run("languages", func(t *testing.T) {
		if err := byDoc.SetLang(ctx, "", "fr"); err != nil {
			t.Errorf("a citizen without a phone: %v", err)
		}
		if p, _ := db.Prefs(ctx, ""); p.Lang != "" {
			t.Errorf("preferences stored for no phone: %+v", p)
		}
		if err := byPhone.SetLang(ctx, phoneA, "sw"); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.Prefs(ctx, phoneA); p.Lang != "sw" {
			t.Errorf("the phone's preferences: %+v", p)
		}
	})
}

// TestIdentity checks the document numbers the console accepts: those a
// national_id input of the engine accepts, normalized, with its refusal.
func TestIdentity(t *testing.T) {
	_, bundle := channelstest.Shipped(t, nil)
	id := newIdentity(bundle.Langs(), "KE", nil)
	tests := []struct {
		name, in, want, refusal string
	}{
		{"valid", "12345674", "12345674", ""},
		{"spaces and dashes", " 1234-5674 ", "12345674", ""},
		{"all zeros", "00000000", "00000000", ""},
		{"check digit wrong", "12345675", "", "error.national_id"},
		{"nine digits", "123456740", "", "error.national_id"},
		{"letters", "1234567A", "", "error.national_id"},
		{"Arabic-Indic digits", "١٢٣٤٥٦٧٤", "", "error.national_id"},
		{"empty", "", "", "error.required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, refusal, err := id.check(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			r := ""
			if refusal != nil {
				r = refusal.ID
			}
			if got != tt.want || r != tt.refusal {
				t.Errorf("check(%q) = %q, %q; want %q, %q", tt.in, got, r, tt.want, tt.refusal)
			}
		})
	}
}
