package demoagency

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/services"
)

// TestServesTheShippedCatalog: every call step of the shipped catalog is
// an operation the demonstration serves, of the same agency, with the
// same params and the same changes flag, so that the catalog works end to
// end against it; and every operation it serves is called.
func TestServesTheShippedCatalog(t *testing.T) {
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	called := map[string]bool{}
	for _, svc := range cat.Services {
		for _, st := range svc.Steps {
			if st.Kind != flows.StepCall {
				continue
			}
			op, ok := operations[st.Operation]
			if !ok {
				t.Errorf("%s/%s calls %s, which the demonstration does not serve", svc.ID, st.ID, st.Operation)
				continue
			}
			called[st.Operation] = true
			agency := st.Agency
			if agency == "" {
				agency = svc.Agency
			}
			params := slices.Sorted(slices.Values(st.Send))
			want := slices.Sorted(slices.Values(op.params))
			if agency != op.agency || !slices.Equal(params, want) || st.Changes != op.changes {
				t.Errorf("%s/%s calls %s of %s with %v (changes %v); the demonstration serves it for %s with %v (changes %v)",
					svc.ID, st.ID, st.Operation, agency, st.Send, st.Changes, op.agency, op.params, op.changes)
			}
		}
	}
	for name := range operations {
		if !called[name] {
			t.Errorf("the demonstration serves %s, which no shipped service calls", name)
		}
	}
}

// TestAnswersFitTheShippedCatalog: every seeded record, answered by the
// demonstration, decodes strictly against the returns of every step of
// the shipped catalog that calls its operation (declared fields, values,
// lengths, types): a seeded answer is never a failed call.
func TestAnswersFitTheShippedCatalog(t *testing.T) {
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	returns := map[string][]map[string]*flows.Return{} // by operation
	for _, svc := range cat.Services {
		for _, st := range svc.Steps {
			if st.Kind == flows.StepCall {
				returns[st.Operation] = append(returns[st.Operation], st.Returns)
			}
		}
	}
	s, err := New(Config{Secrets: map[string][]byte{"": []byte("k")}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ask := func(op string, phone string, params map[string]string) Answer {
		t.Helper()
		req := &Request{Params: params}
		req.Citizen.Phone = phone
		a := operations[op].do(s, req, now)
		body, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range returns[op] {
			got, err := agencycall.Decode(body, r)
			if err != nil || string(got.Outcome) != a.Outcome {
				t.Errorf("%s %v: %s decodes as %s, %v", op, params, body, got.Outcome, err)
			}
		}
		return a
	}
	for pin := range s.seed.PINs {
		ask("pin_status", "", map[string]string{"pin": pin})
	}
	for id := range s.seed.Benefits {
		ask("benefit_eligibility", "", map[string]string{"national_id": id})
	}
	for phone := range s.seed.NationalIDs {
		ask("national_id", phone, nil)
	}
	for office := range s.seed.Offices {
		free := ask("free_slots", "", map[string]string{"office": office})
		slot := free.Result["slots"].([]Item)[0].ID
		hold := ask("hold_slot", "", map[string]string{"office": office, "slot": slot})
		ref := "ref-" + office
		ask("book_slot", "", map[string]string{"hold": hold.Result["hold"].(string), "reference": ref})
		ask("booking", "", map[string]string{"reference": ref})
		ask("cancel_booking", "", map[string]string{"reference": ref})
		ask("booking", "", map[string]string{"reference": ref})
	}
}
