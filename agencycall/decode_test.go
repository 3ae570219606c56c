package agencycall_test

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
)

// TestDecode reads answers directly, each rule of the contract once.
func TestDecode(t *testing.T) {
	found := func(fields map[string]string) flows.AgencyAnswer {
		return flows.AgencyAnswer{Outcome: flows.OutcomeFound, Fields: fields}
	}
	tests := []struct {
		name string
		body string
		want flows.AgencyAnswer
		err  string // in the error when the answer is refused
	}{
		{name: "found, every type", body: foundBody, want: foundAnswer()},
		{name: "not found", body: `{"outcome":"not_found"}`, want: flows.AgencyAnswer{Outcome: flows.OutcomeNotFound}},
		{name: "not found, null result", body: `{"outcome":"not_found","result":null}`, want: flows.AgencyAnswer{Outcome: flows.OutcomeNotFound}},
		{name: "null is absent", body: `{"outcome":"found","result":{"status":"invalid","name":null,"slots":null}}`,
			want: found(map[string]string{"status": "invalid"})},
		{name: "empty list", body: `{"outcome":"found","result":{"status":"valid","slots":[]}}`,
			want: flows.AgencyAnswer{Outcome: flows.OutcomeFound, Fields: map[string]string{"status": "valid"}, Lists: map[string][]flows.ListItem{"slots": {}}}},
		{name: "name at its length in Arabic", body: `{"outcome":"found","result":{"status":"valid","name":"` + strings.Repeat("ع", 40) + `"}}`,
			want: found(map[string]string{"status": "valid", "name": strings.Repeat("ع", 40)})},
		{name: "GSM-7 extension characters", body: `{"outcome":"found","result":{"status":"valid","office":"Desk [2] €"}}`,
			want: found(map[string]string{"status": "valid", "office": "Desk [2] €"})},
		{name: "number bounds", body: `{"outcome":"found","result":{"status":"valid","amount":100000000}}`,
			want: found(map[string]string{"status": "valid", "amount": "100000000"})},
		{name: "datetime in UTC", body: `{"outcome":"found","result":{"status":"valid","slots":[{"value":"2026-12-08T06:30:00Z","id":"x"}]}}`,
			want: flows.AgencyAnswer{Outcome: flows.OutcomeFound, Fields: map[string]string{"status": "valid"}, Lists: map[string][]flows.ListItem{"slots": {{ID: "x", Value: "2026-12-08T06:30:00Z"}}}}},

		{name: "empty body", body: ``, err: "invalid JSON"},
		{name: "not an object", body: `["found"]`, err: "not a JSON object"},
		{name: "trailing data", body: `{"outcome":"not_found"} {}`, err: "data after the object"},
		{name: "truncated", body: `{"outcome":"found","result":{"status":"valid"}`, err: "invalid JSON"},
		{name: "not UTF-8", body: "{\"outcome\":\"found\",\"result\":{\"status\":\"valid\",\"name\":\"\xff\"}}", err: "not UTF-8"},
		{name: "over 64 KiB", body: oversized, err: "over the 65536 allowed"},
		{name: "no outcome", body: `{"result":{"status":"valid"}}`, err: `no "outcome"`},
		{name: "unknown outcome", body: `{"outcome":"ok"}`, err: `"outcome" is "ok"`},
		{name: "outcome in other case", body: `{"Outcome":"found"}`, err: `unknown field "Outcome"`},
		{name: "outcome not a string", body: `{"outcome":true}`, err: `"outcome" is not a string`},
		{name: "outcome twice", body: `{"outcome":"not_found","outcome":"found"}`, err: `"outcome" appears twice`},
		{name: "not found with a result", body: `{"outcome":"not_found","result":{"status":"valid"}}`, err: "not_found answer has a"},
		{name: "result not an object", body: `{"outcome":"found","result":"valid"}`, err: "result: not a JSON object"},
		{name: "field twice", body: `{"outcome":"found","result":{"status":"valid","status":"invalid"}}`, err: `"status" appears twice`},
		{name: "required missing", body: `{"outcome":"found"}`, err: "required result.status is missing"},
		{name: "required null", body: `{"outcome":"found","result":{"status":null}}`, err: "required result.status is missing"},
		{name: "text too long", body: `{"outcome":"found","result":{"status":"valid","name":"` + strings.Repeat("a", 41) + `"}}`, err: "41 characters, at most 40"},
		{name: "control character", body: `{"outcome":"found","result":{"status":"valid","office":"Nairobi\nCentral"}}`, err: "control character"},
		{name: "text a number", body: `{"outcome":"found","result":{"status":"valid","office":12}}`, err: "result.office: not a string"},
		{name: "number a float", body: `{"outcome":"found","result":{"status":"valid","amount":12.5}}`, err: "not an integer"},
		{name: "number an exponent", body: `{"outcome":"found","result":{"status":"valid","amount":1e3}}`, err: "not an integer"},
		{name: "number over int64", body: `{"outcome":"found","result":{"status":"valid","amount":99999999999999999999}}`, err: "out of range"},
		{name: "number under min", body: `{"outcome":"found","result":{"status":"valid","amount":-1}}`, err: "outside the declared min and max"},
		{name: "number over max", body: `{"outcome":"found","result":{"status":"valid","amount":100000001}}`, err: "outside the declared min and max"},
		{name: "date not a day", body: `{"outcome":"found","result":{"status":"valid","due":"2027-02-30"}}`, err: "not a date"},
		{name: "date with a time", body: `{"outcome":"found","result":{"status":"valid","due":"2027-01-31T00:00:00Z"}}`, err: "not a date"},
		{name: "datetime without offset", body: `{"outcome":"found","result":{"status":"valid","slots":[{"id":"a","value":"2026-12-08T09:30:00"}]}}`, err: "slots: item 0: value: not an RFC 3339 datetime"},
		{name: "list not a list", body: `{"outcome":"found","result":{"status":"valid","slots":{"id":"a"}}}`, err: "result.slots: not a list"},
		{name: "item without id", body: `{"outcome":"found","result":{"status":"valid","slots":[{"value":"2026-12-08T09:30:00Z"}]}}`, err: `needs "id" and "value"`},
		{name: "item id empty", body: `{"outcome":"found","result":{"status":"valid","slots":[{"id":"","value":"2026-12-08T09:30:00Z"}]}}`, err: "id is not 1 to 64"},
		{name: "item id with a space", body: `{"outcome":"found","result":{"status":"valid","slots":[{"id":"a b","value":"2026-12-08T09:30:00Z"}]}}`, err: "id is not 1 to 64"},
		{name: "item unknown field", body: `{"outcome":"found","result":{"status":"valid","slots":[{"id":"a","value":"2026-12-08T09:30:00Z","free":true}]}}`, err: `unknown field "free"`},
		{name: "items with one id", body: `{"outcome":"found","result":{"status":"valid","slots":[{"id":"a","value":"2026-12-08T09:30:00Z"},{"id":"a","value":"2026-12-08T10:30:00Z"}]}}`, err: "item 1: its id is another item's"},
		{name: "long name cut in the error", body: `{"outcome":"found","result":{"` + strings.Repeat("x", 100) + `":1}}`, err: `"` + strings.Repeat("x", 40) + `…" is not a declared return`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agencycall.Decode([]byte(tt.body), pinReturns())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v; want one saying %q", err, tt.err)
				}
				if !reflect.DeepEqual(got, flows.AgencyAnswer{}) {
					t.Errorf("a refused answer gave %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestDecodeKeepsValuesOutOfErrors: the values answered may be a
// citizen's data, and errors are logged.
func TestDecodeKeepsValuesOutOfErrors(t *testing.T) {
	for _, body := range []string{
		`{"outcome":"found","result":{"status":"Amani Otieno"}}`,
		`{"outcome":"found","result":{"status":"valid","name":"Amani Otieno ` + strings.Repeat("a", 40) + `"}}`,
		`{"outcome":"found","result":{"status":"valid","office":"Amani Otieno–"}}`,
		`{"outcome":"found","result":{"status":"valid","due":"Amani Otieno"}}`,
	} {
		_, err := agencycall.Decode([]byte(body), pinReturns())
		if err == nil || strings.Contains(err.Error(), "Amani") {
			t.Errorf("Decode(%s) = %v; want an error without the value", body, err)
		}
	}
}

// FuzzDecode feeds the decoder arbitrary answers: it must never panic,
// and what it accepts must keep every declared bound.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(foundBody))
	f.Add([]byte(`{"outcome":"not_found"}`))
	returns := pinReturns()
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := agencycall.Decode(body, returns)
		if err != nil {
			if ans.Outcome != "" {
				t.Fatalf("refused (%v) with an outcome %s", err, ans.Outcome)
			}
			return
		}
		switch ans.Outcome {
		case flows.OutcomeNotFound:
			if ans.Fields != nil || ans.Lists != nil {
				t.Fatalf("not_found with results %+v", ans)
			}
			return
		case flows.OutcomeFound:
		default:
			t.Fatalf("outcome %q", ans.Outcome)
		}
		for name, ret := range returns {
			_, inFields := ans.Fields[name]
			_, inLists := ans.Lists[name]
			if ret.Required && !inFields && !inLists {
				t.Fatalf("required %s missing from %+v", name, ans)
			}
		}
		for name, v := range ans.Fields {
			ret := returns[name]
			if ret == nil || ret.Type == flows.ReturnList {
				t.Fatalf("field %s is not a declared value return", name)
			}
			checkValue(t, name, ret.Type, ret, v)
		}
		for name, items := range ans.Lists {
			ret := returns[name]
			if ret == nil || ret.Type != flows.ReturnList || len(items) > ret.MaxItems {
				t.Fatalf("list %s: %d items against %+v", name, len(items), ret)
			}
			for _, it := range items {
				if it.ID == "" || len(it.ID) > agencycall.MaxID {
					t.Fatalf("list %s: id %q", name, it.ID)
				}
				checkValue(t, name, ret.Item, ret, it.Value)
			}
		}
	})
}

// checkValue fails t when v breaks ret's bounds for type typ.
func checkValue(t *testing.T, name string, typ flows.ReturnType, ret *flows.Return, v string) {
	t.Helper()
	switch typ {
	case flows.ReturnText:
		if len(ret.Values) > 0 && !slices.Contains(ret.Values, v) {
			t.Fatalf("%s = %q, not one of %v", name, v, ret.Values)
		}
		if utf8.RuneCountInString(v) > ret.MaxLength {
			t.Fatalf("%s = %q, over %d characters", name, v, ret.MaxLength)
		}
		if _, ok := gsm7.Septets(v); !ok && !ret.Unicode {
			t.Fatalf("%s = %q, not GSM-7", name, v)
		}
	case flows.ReturnNumber:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || (ret.Min != nil && n < *ret.Min) || (ret.Max != nil && n > *ret.Max) {
			t.Fatalf("%s = %q, outside its range", name, v)
		}
	case flows.ReturnDate:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			t.Fatalf("%s = %q: %v", name, v, err)
		}
	case flows.ReturnDateTime:
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			t.Fatalf("%s = %q: %v", name, v, err)
		}
	default:
		t.Fatalf("%s has type %s", name, typ)
	}
}
