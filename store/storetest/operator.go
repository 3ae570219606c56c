package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// testOperators checks operators' accounts.
func testOperators(t *testing.T, s channels.Store) {
	ctx := context.Background()
	amina := channels.Operator{ID: "amina", Name: "Amina Otieno", Kiosk: "kisumu-post", Region: "Kisumu", Lang: "sw", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", PasswordSetAt: base, CreatedAt: base}
	for _, o := range []channels.Operator{amina, {ID: "baraka", Name: "Baraka", Kiosk: "eldoret-centre", Region: "Uasin Gishu", CreatedAt: base}} {
		if err := s.CreateOperator(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateOperator(ctx, channels.Operator{ID: "amina", Name: "Another Amina"}); channels.ErrorCode(err) != channels.ECONFLICT {
		t.Errorf("a second operator amina: %v, want ECONFLICT", err)
	}
	got, err := s.Operator(ctx, "amina")
	if err != nil || got.Name != "Amina Otieno" || got.PasswordHash != amina.PasswordHash || !got.PasswordSetAt.Equal(base) {
		t.Fatalf("Operator = %+v, %v", got, err)
	}
	if _, err := s.Operator(ctx, "nobody"); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("unknown operator: %v, want ENOTFOUND", err)
	}
	all, err := s.Operators(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "amina" || all[1].ID != "baraka" {
		t.Errorf("Operators = %+v, %v", all, err)
	}
	up, err := s.UpdateOperator(ctx, "amina", func(o *channels.Operator) error {
		o.Disabled, o.FailedSignIns = true, 3
		return nil
	})
	if err != nil || !up.Disabled || up.FailedSignIns != 3 {
		t.Fatalf("UpdateOperator = %+v, %v", up, err)
	}
	if got, _ := s.Operator(ctx, "amina"); !got.Disabled {
		t.Error("the update was not stored")
	}
	refused := channels.Errorf(channels.EINVALID, "error.bad_request", "no")
	if _, err := s.UpdateOperator(ctx, "amina", func(o *channels.Operator) error { o.Disabled = false; return refused }); channels.ErrorCode(err) != channels.EINVALID {
		t.Errorf("refused update: %v", err)
	}
	if _, err := s.UpdateOperator(ctx, "amina", func(o *channels.Operator) error { o.ID = "mallory"; return nil }); err == nil {
		t.Error("an update renamed the operator")
	}
	if got, _ := s.Operator(ctx, "amina"); !got.Disabled {
		t.Error("a refused update was stored")
	}
	if _, err := s.UpdateOperator(ctx, "nobody", func(*channels.Operator) error { return nil }); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("update of an unknown operator: %v", err)
	}
}

// testAudit checks that the audit log appends, chains and selects.
func testAudit(t *testing.T, s channels.Store) {
	ctx := context.Background()
	entries := []channels.AuditEntry{
		{At: base, Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditSignIn},
		{At: base.Add(time.Minute), Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditConsentGiven, Citizen: "+254712345678"},
		{At: base.Add(2 * time.Minute), Actor: "operator:baraka", Kiosk: "eldoret-centre", Action: channels.AuditSignIn},
		{At: base.Add(3 * time.Minute), Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditCaseSubmitted, Citizen: "+254712345678", Ref: "4821773057"},
	}
	prev := ""
	for i, e := range entries {
		e.Seq, e.Hash = 99, "forged" // the store sets both
		got, err := s.Audit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != uint64(i+1) || got.Hash != got.ChainHash(prev) {
			t.Fatalf("entry %d stored as seq %d hash %s", i, got.Seq, got.Hash)
		}
		prev = got.Hash
	}
	if n, err := s.VerifyAudit(ctx); n != 4 || err != nil {
		t.Errorf("VerifyAudit = %d, %v; want 4 entries, intact", n, err)
	}
	seqs := func(es []channels.AuditEntry) []uint64 {
		out := []uint64{}
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out
	}
	tests := []struct {
		name string
		q    channels.AuditQuery
		want []uint64
	}{
		{"everything", channels.AuditQuery{}, []uint64{1, 2, 3, 4}},
		{"by actor", channels.AuditQuery{Actor: "operator:amina"}, []uint64{1, 2, 4}},
		{"by citizen", channels.AuditQuery{Citizen: "+254712345678"}, []uint64{2, 4}},
		{"by action", channels.AuditQuery{Action: channels.AuditSignIn}, []uint64{1, 3}},
		{"by time", channels.AuditQuery{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, []uint64{2, 3}},
		{"after and limit", channels.AuditQuery{After: 1, Limit: 2}, []uint64{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AuditEntries(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs(got), tt.want) {
				t.Errorf("entries %v, want %v", seqs(got), tt.want)
			}
		})
	}
	if _, err := s.Audit(ctx, channels.AuditEntry{Actor: "admin", Action: channels.AuditOperatorChanged}); err == nil {
		t.Error("an entry without a time was appended")
	}
}

// testNationalIDCases checks that a case made for a citizen without a
// phone is found by their document number, and by no phone.
func testNationalIDCases(t *testing.T, s channels.Store) {
	ctx := context.Background()
	for i, ref := range []string{"5000000001", "5000000002"} {
		c := newCase(ref, "", "", base.Add(time.Duration(i)*time.Minute))
		c.NationalID = "12345678"
		c.Assisted = &channels.Assistance{Operator: "amina", Kiosk: "kisumu-post", Consent: channels.ConsentIDDocument}
		if _, err := s.CreateCase(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CasesByNationalID(ctx, "12345678", 10)
	if err != nil || len(got) != 2 || got[0].Ref != "5000000002" || got[1].Assisted == nil || got[1].Assisted.Consent != channels.ConsentIDDocument {
		t.Fatalf("CasesByNationalID = %+v, %v; want both, newest first, with their assistance", got, err)
	}
	if none, err := s.CasesByPhone(ctx, "", 10); err != nil || len(none) != 0 {
		t.Errorf("CasesByPhone(\"\") = %d cases, %v; a phoneless case must not be listed under an empty phone", len(none), err)
	}
	if none, err := s.CasesByNationalID(ctx, "1234567", 10); err != nil || len(none) != 0 {
		t.Errorf("a prefix of the number found %d cases", len(none))
	}
}
