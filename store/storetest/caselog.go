package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// agencyCase is a case of the given agency and service, created at.
func agencyCase(ref, agency, service string, at time.Time) *channels.Case {
	c := newCase(ref, "+254712345678", "", at)
	c.Agency, c.Service = agency, service
	return c
}

func refs(cs []*channels.Case) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Ref
	}
	return out
}

// testCaseLog checks that creations and status changes are logged in
// order, that the history is append-only and that followers' cursors are
// kept.
func testCaseLog(t *testing.T, s channels.Store) {
	ctx := context.Background()
	if _, err := s.CreateCase(ctx, agencyCase("1000000001", "civil_registry", "birth_certificate", base)); err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Hour)
	got, err := s.UpdateCase(ctx, "1000000001", func(c *channels.Case) error {
		return c.Transition(channels.StatusInReview, at, "agency:civil_registry/key:k1", "picked up")
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != channels.StatusInReview || len(got.History) != 2 {
		t.Fatalf("UpdateCase returned %s with %d history entries", got.Status, len(got.History))
	}
	read, err := s.Case(ctx, "1000000001")
	if err != nil {
		t.Fatal(err)
	}
	if read.Status != channels.StatusInReview || read.History[1].Actor != "agency:civil_registry/key:k1" || read.History[1].Note != "picked up" || !read.History[1].At.Equal(at) {
		t.Errorf("stored case %+v does not hold the change", read)
	}

	t.Run("refused changes store nothing", func(t *testing.T) {
		tests := []struct {
			name   string
			change func(*channels.Case) error
			code   string // the domain code expected, "" for a plain error
		}{
			{"illegal transition", func(c *channels.Case) error {
				return c.Transition(channels.StatusReady, at, "x", "")
			}, channels.ECONFLICT},
			{"error from the change", func(*channels.Case) error {
				return channels.Errorf(channels.EINVALID, "error.bad_request", "no")
			}, channels.EINVALID},
			{"history rewritten", func(c *channels.Case) error {
				c.History = c.History[:1]
				return nil
			}, ""},
			{"history entry edited", func(c *channels.Case) error {
				c.History[0].Note = "forged"
				return nil
			}, ""},
			{"phone changed", func(c *channels.Case) error {
				c.Phone = "+254700000000"
				return nil
			}, ""},
			{"agency changed", func(c *channels.Case) error {
				c.Agency = "county_works"
				return nil
			}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.UpdateCase(ctx, "1000000001", tt.change)
				if err == nil {
					t.Fatal("UpdateCase accepted it")
				}
				if tt.code != "" && channels.ErrorCode(err) != tt.code {
					t.Errorf("error %v has code %s, want %s", err, channels.ErrorCode(err), tt.code)
				}
				after, err := s.Case(ctx, "1000000001")
				if err != nil {
					t.Fatal(err)
				}
				if after.Status != channels.StatusInReview || len(after.History) != 2 || after.History[0].Note != "via *384#" || after.Phone != "+254712345678" {
					t.Errorf("a refused change was stored: %+v", after)
				}
			})
		}
	})

	t.Run("unknown case", func(t *testing.T) {
		_, err := s.UpdateCase(ctx, "9999999999", func(*channels.Case) error { return nil })
		if channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("UpdateCase of an unknown case = %v, want ENOTFOUND", err)
		}
	})

	t.Run("events in order", func(t *testing.T) {
		if _, err := s.CreateCase(ctx, agencyCase("1000000002", "county_works", "report_problem", base.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateCase(ctx, "1000000001", func(c *channels.Case) error {
			if err := c.Transition(channels.StatusApproved, at.Add(time.Minute), "a", ""); err != nil {
				return err
			}
			return c.Transition(channels.StatusReady, at.Add(2*time.Minute), "a", "collect at Huduma centre")
		}); err != nil {
			t.Fatal(err)
		}
		events, err := s.CaseEvents(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, e := range events {
			if i > 0 && e.Seq <= events[i-1].Seq {
				t.Errorf("event %d has seq %d after %d", i, e.Seq, events[i-1].Seq)
			}
			got = append(got, fmt.Sprintf("%s %s %v", e.Ref, e.Change.Status, e.Created))
		}
		want := []string{
			"1000000001 submitted true", "1000000001 in_review false", "1000000002 submitted true",
			"1000000001 approved false", "1000000001 ready false",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("events %q, want %q", got, want)
		}
		rest, err := s.CaseEvents(ctx, events[1].Seq, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != 2 || rest[0].Seq != events[2].Seq || rest[1].Seq != events[3].Seq {
			t.Errorf("CaseEvents after %d limit 2 = %+v, want events 3 and 4", events[1].Seq, rest)
		}
		if none, err := s.CaseEvents(ctx, events[4].Seq, 10); err != nil || len(none) != 0 {
			t.Errorf("CaseEvents after the last = %v, %v; want none", none, err)
		}
	})

	t.Run("cursors", func(t *testing.T) {
		if seq, err := s.Cursor(ctx, "notices"); err != nil || seq != 0 {
			t.Errorf("Cursor of a new follower = %d, %v; want 0", seq, err)
		}
		if err := s.PutCursor(ctx, "notices", 3); err != nil {
			t.Fatal(err)
		}
		if err := s.PutCursor(ctx, "webhooks", 5); err != nil {
			t.Fatal(err)
		}
		if seq, err := s.Cursor(ctx, "notices"); err != nil || seq != 3 {
			t.Errorf("Cursor = %d, %v; want 3", seq, err)
		}
	})
}

// testListCases checks an agency's list: only its cases, oldest first,
// filtered, and pages that neither repeat nor skip a case however many are
// created between them.
func testListCases(t *testing.T, s channels.Store) {
	ctx := context.Background()
	create := func(ref, agency, service string, at time.Time) {
		t.Helper()
		if _, err := s.CreateCase(ctx, agencyCase(ref, agency, service, at)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		create(fmt.Sprintf("200000000%d", i), "civil_registry", "birth_certificate", base.Add(time.Duration(i)*time.Minute))
	}
	create("3000000000", "county_works", "report_problem", base.Add(30*time.Second))
	create("3000000001", "civil_registry", "death_certificate", base.Add(90*time.Second))
	// Two cases created in the same instant are still both listed.
	create("2000000009", "civil_registry", "birth_certificate", base.Add(4*time.Minute))

	var seen []string
	after := ""
	for page := 0; ; page++ {
		cs, next, err := s.ListCases(ctx, channels.CaseQuery{Agency: "civil_registry", After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, refs(cs)...)
		if page == 0 {
			// Created after the first page was read: later pages show it
			// at its place, which is after everything already listed.
			create("2000000010", "civil_registry", "birth_certificate", base.Add(time.Hour))
		}
		if next == "" {
			break
		}
		if page > 10 {
			t.Fatal("pagination does not end")
		}
		after = next
	}
	want := []string{"2000000000", "2000000001", "3000000001", "2000000002", "2000000003", "2000000004", "2000000009", "2000000010"}
	if !slices.Equal(seen, want) {
		t.Errorf("pages listed %q, want %q", seen, want)
	}

	tests := []struct {
		name string
		q    channels.CaseQuery
		want []string
	}{
		{"another agency's list", channels.CaseQuery{Agency: "county_works", Limit: 10}, []string{"3000000000"}},
		{"by service", channels.CaseQuery{Agency: "civil_registry", Services: []string{"death_certificate"}, Limit: 10}, []string{"3000000001"}},
		{"by status", channels.CaseQuery{Agency: "civil_registry", Status: channels.StatusInReview, Limit: 10}, []string{"2000000003"}},
		{"an agency without cases", channels.CaseQuery{Agency: "tax", Limit: 10}, []string{}},
	}
	if _, err := s.UpdateCase(ctx, "2000000003", func(c *channels.Case) error {
		return c.Transition(channels.StatusInReview, base.Add(2*time.Hour), "a", "")
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, next, err := s.ListCases(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := refs(cs); !slices.Equal(got, tt.want) || next != "" {
				t.Errorf("ListCases = %q, next %q; want %q and no next page", got, next, tt.want)
			}
		})
	}

	t.Run("bad queries", func(t *testing.T) {
		for _, q := range []channels.CaseQuery{
			{Limit: 10},
			{Agency: "civil_registry"},
			{Agency: "civil_registry", Limit: 10, After: "not a cursor!"},
		} {
			if _, _, err := s.ListCases(ctx, q); channels.ErrorCode(err) != channels.EINVALID {
				t.Errorf("ListCases(%+v) = %v, want EINVALID", q, err)
			}
		}
	})
}

// testDevices checks that a phone has several devices and that a token
// belongs to one phone at a time.
func testDevices(t *testing.T, s channels.Store) {
	ctx := context.Background()
	const a, b = "+254712345678", "+254722000111"
	put := func(phone, token string, at time.Time) {
		t.Helper()
		if err := s.PutDevice(ctx, channels.Device{Phone: phone, Token: token, Platform: "android", Lang: "sw", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	tokens := func(phone string) []string {
		t.Helper()
		ds, err := s.Devices(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, d := range ds {
			out = append(out, d.Token)
		}
		return out
	}
	put(a, "tok-z", base)
	put(a, "tok-a", base.Add(time.Minute))
	if got := tokens(a); !slices.Equal(got, []string{"tok-z", "tok-a"}) {
		t.Errorf("devices of a = %q, want both, oldest first", got)
	}
	put(b, "tok-z", base.Add(2*time.Minute))
	if got := tokens(a); !slices.Equal(got, []string{"tok-a"}) {
		t.Errorf("after tok-z moved to b, a has %q", got)
	}
	if got := tokens(b); !slices.Equal(got, []string{"tok-z"}) {
		t.Errorf("b has %q, want tok-z", got)
	}
	if err := s.DeleteDevice(ctx, a, "tok-z"); err != nil {
		t.Fatal(err)
	}
	if got := tokens(b); !slices.Equal(got, []string{"tok-z"}) {
		t.Errorf("a deleted b's token: b has %q", got)
	}
	if err := s.DeleteDevice(ctx, b, "tok-z"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDevice(ctx, b, "tok-z"); err != nil {
		t.Errorf("deleting a missing device: %v", err)
	}
	if got := tokens(b); len(got) != 0 {
		t.Errorf("b still has %q", got)
	}
}

// testAgencies checks agencies and their keys.
func testAgencies(t *testing.T, s channels.Store) {
	ctx := context.Background()
	for _, a := range []channels.Agency{
		{ID: "county_works", Name: "County Works", CreatedAt: base},
		{ID: "civil_registry", Name: "Civil Registry", WebhookURL: "https://cr.example/hook", APIURL: "https://cr.example/api/v1", WebhookSecret: []byte{1, 2, 3}, CreatedAt: base},
	} {
		if err := s.PutAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.Agency(ctx, "civil_registry")
	if err != nil {
		t.Fatal(err)
	}
	if a.WebhookURL != "https://cr.example/hook" || a.APIURL != "https://cr.example/api/v1" || string(a.WebhookSecret) != "\x01\x02\x03" || !a.CreatedAt.Equal(base) {
		t.Errorf("Agency = %+v", a)
	}
	a.APIURL = ""
	if err := s.PutAgency(ctx, *a); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Agency(ctx, "civil_registry"); err != nil || a.APIURL != "" || a.WebhookURL != "https://cr.example/hook" {
		t.Errorf("API URL removed: Agency = %+v, %v; want no API URL, the webhook kept", a, err)
	}
	all, err := s.Agencies(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "civil_registry" || all[1].ID != "county_works" {
		t.Errorf("Agencies = %+v, %v; want both, by ID", all, err)
	}
	if _, err := s.Agency(ctx, "tax"); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("unknown agency: %v, want ENOTFOUND", err)
	}

	for _, k := range []channels.AgencyKey{
		{ID: "k2", Agency: "civil_registry", Hash: []byte("h2"), CreatedAt: base},
		{ID: "k1", Agency: "civil_registry", Hash: []byte("h1"), CreatedAt: base},
		{ID: "k3", Agency: "county_works", Hash: []byte("h3"), CreatedAt: base},
	} {
		if err := s.PutAgencyKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	k, err := s.AgencyKey(ctx, "k1")
	if err != nil || string(k.Hash) != "h1" || k.Revoked() {
		t.Fatalf("AgencyKey = %+v, %v", k, err)
	}
	k.RevokedAt = base.Add(time.Hour)
	if err := s.PutAgencyKey(ctx, *k); err != nil {
		t.Fatal(err)
	}
	if k, err := s.AgencyKey(ctx, "k1"); err != nil || !k.Revoked() {
		t.Errorf("revoked key reads back as %+v, %v", k, err)
	}
	keys, err := s.AgencyKeys(ctx, "civil_registry")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	if !slices.Equal(ids, []string{"k1", "k2"}) {
		t.Errorf("AgencyKeys = %q, want k1 k2 (another agency's key left out)", ids)
	}
	if _, err := s.AgencyKey(ctx, "nope"); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("unknown key: %v, want ENOTFOUND", err)
	}
}
