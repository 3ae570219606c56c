package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// BatchStore is what a store offers for loading many cases at once: both
// stores have it, for migrations and the load harness's pre-fill.
type BatchStore interface {
	// CreateCases stores cs, none of which may be stored yet, as
	// CreateCase would one by one, all or none: ECONFLICT when a
	// reference or idempotency key is taken.
	CreateCases(ctx context.Context, cs []*channels.Case) error
	// CaseCount returns how many cases are stored.
	CaseCount(ctx context.Context) (int, error)
}

// testCreateCases checks that a batch is stored as single creations are
// (records, phone and agency indexes, the case log) and that a batch
// with a taken reference or key stores nothing.
func testCreateCases(t *testing.T, s channels.Store) {
	ctx := context.Background()
	bs, ok := s.(BatchStore)
	if !ok {
		t.Fatalf("%T does not implement CreateCases and CaseCount", s)
	}
	if _, err := s.CreateCase(ctx, agencyCase("1000000001", "civil_registry", "birth_certificate", base)); err != nil {
		t.Fatal(err)
	}
	batch := []*channels.Case{
		agencyCase("2000000002", "civil_registry", "birth_certificate", base.Add(time.Second)),
		newCase("3000000003", "+254712345678", "ussd/b1", base.Add(2*time.Second)),
		newCase("4000000004", "+254712345678", "", base.Add(3*time.Second)),
	}
	if err := bs.CreateCases(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, want := range batch {
		got, err := s.Case(ctx, want.Ref)
		if err != nil {
			t.Fatal(err)
		}
		sameCase(t, got, want)
	}
	if n, err := bs.CaseCount(ctx); err != nil || n != 4 {
		t.Errorf("CaseCount = %d, %v; want 4", n, err)
	}
	mine, err := s.CasesByPhone(ctx, "+254712345678", 10)
	if want := []string{"4000000004", "3000000003", "2000000002", "1000000001"}; err != nil || !slices.Equal(refs(mine), want) {
		t.Errorf("CasesByPhone after the batch = %v, %v", refs(mine), err)
	}
	listed, _, err := s.ListCases(ctx, channels.CaseQuery{Agency: "civil_registry", Limit: 10})
	if err != nil || len(listed) != 2 || listed[1].Ref != "2000000002" {
		t.Errorf("ListCases after the batch = %v, %v", refs(listed), err)
	}
	events, err := s.CaseEvents(ctx, 0, 10)
	if err != nil || len(events) != 4 {
		t.Fatalf("case log after the batch: %+v, %v; want 4 events", events, err)
	}
	for i, e := range events {
		if e.Seq != uint64(i+1) || !e.Created || (i > 0 && e.Ref != batch[i-1].Ref) {
			t.Errorf("event %d = %+v, want seq %d, created", i, e, i+1)
		}
	}
	if got, err := s.CreateCase(ctx, newCase("5000000005", "+254700000000", "ussd/b1", base)); err != nil || got.Ref != "3000000003" {
		t.Errorf("a single creation with a key the batch stored = %v, %v; want the batch's case", got, err)
	}

	tests := []struct {
		name  string
		batch []*channels.Case
	}{
		{"a taken reference", []*channels.Case{newCase("6000000006", "+254700000001", "", base), newCase("2000000002", "+254700000001", "", base)}},
		{"a taken idempotency key", []*channels.Case{newCase("7000000007", "+254700000001", "", base), newCase("8000000008", "+254700000001", "ussd/b1", base)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := bs.CreateCases(ctx, tt.batch); channels.ErrorCode(err) != channels.ECONFLICT {
				t.Errorf("err = %v, want conflict", err)
			}
			if n, err := bs.CaseCount(ctx); err != nil || n != 4 {
				t.Errorf("CaseCount = %d, %v; want 4: the refused batch stored some", n, err)
			}
			if events, err := s.CaseEvents(ctx, 4, 10); err != nil || len(events) != 0 {
				t.Errorf("the refused batch logged %+v, %v", events, err)
			}
		})
	}
}
