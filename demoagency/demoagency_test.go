package demoagency_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/demoagency"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/webhook"
)

// start is a Wednesday morning in Nairobi (09:40 local): the calendars
// begin on Thursday 3 December.
var start = time.Date(2026, 12, 2, 6, 40, 0, 0, time.UTC)

// clock is the server's and the client's clock, moved by the tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	secret      = mustHex("8d5f0c3e1a9b7d2f4e6a8c0b1d3f5e7a9c1b3d5f7e9a0c2b4d6f8e0a1c3b5d7f")
	otherSecret = mustHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// agency is a running demonstration agency on a real port, and a client
// that calls it as the contract says.
type agency struct {
	url   string
	clock *clock
}

func newAgency(t *testing.T, secrets map[string][]byte) *agency {
	t.Helper()
	gin.SetMode(gin.TestMode)
	c := &clock{now: start}
	srv, err := demoagency.New(demoagency.Config{Secrets: secrets, Now: c.Now, Slow: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &agency{url: hs.URL, clock: c}
}

// call is one request, built as the contract's client builds it unless a
// field says otherwise.
type call struct {
	op      string
	params  map[string]string
	phone   string
	key     string // the id; default "ussd/ATUid_1/<op>/2"
	changes bool

	// tampering
	method      string
	contentType string
	body        string            // sent instead of the built body
	header      map[string]string // set after signing
	signWith    []byte
	signedAt    time.Time
}

// request is the body in the contract's field order.
type request struct {
	ID        string            `json:"id"`
	Operation string            `json:"operation"`
	Service   string            `json:"service"`
	Changes   bool              `json:"changes"`
	Citizen   citizen           `json:"citizen"`
	Params    map[string]string `json:"params"`
	SentAt    string            `json:"sent_at"`
}

type citizen struct {
	Phone   string `json:"phone"`
	Channel string `json:"channel"`
	Lang    string `json:"lang"`
}

func (a *agency) do(t *testing.T, ctx context.Context, c call) (int, []byte, error) {
	t.Helper()
	if c.key == "" {
		c.key = "ussd/ATUid_1/" + c.op + "/2"
	}
	if c.params == nil {
		c.params = map[string]string{}
	}
	body := []byte(c.body)
	if c.body == "" {
		var err error
		body, err = json.Marshal(request{ID: c.key, Operation: c.op, Service: "demo", Changes: c.changes,
			Citizen: citizen{Phone: c.phone, Channel: "ussd", Lang: "en"}, Params: c.params,
			SentAt: a.clock.Now().Format(time.RFC3339)})
		if err != nil {
			t.Fatal(err)
		}
	}
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+"/operations/"+c.op, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ct := c.contentType
	if ct == "" {
		ct = "application/json"
	}
	at := c.signedAt
	if at.IsZero() {
		at = a.clock.Now()
	}
	key := c.signWith
	if key == nil {
		key = secret
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "govchannels-call/1 (+https://github.com/govchannels/channels)")
	req.Header.Set("Idempotency-Key", c.key)
	req.Header.Set(webhook.HeaderID, c.key)
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(key, ts, body))
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(res.Body); err != nil {
		return res.StatusCode, nil, err
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("answer Content-Type %q; want application/json", ct)
	}
	return res.StatusCode, out.Bytes(), nil
}

// must makes the call and returns its status and body.
func (a *agency) must(t *testing.T, c call) (int, string) {
	t.Helper()
	status, body, err := a.do(t, context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return status, string(body)
}

// canonical re-encodes JSON so that answers compare whatever their
// spacing and key order.
func canonical(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOperations(t *testing.T) {
	a := newAgency(t, map[string][]byte{"": secret})
	tests := []struct {
		name string
		call call
		want string
	}{
		{"pin valid, certificate ready", call{op: "pin_status", params: map[string]string{"pin": "A012345678Z"}},
			`{"outcome":"found","result":{"certificate":"ready","name":"Amani Otieno","status":"valid"}}`},
		{"pin in lower case", call{op: "pin_status", params: map[string]string{"pin": "a023456789b"}},
			`{"outcome":"found","result":{"certificate":"pending","name":"Wanjiru Kamau","status":"valid"}}`},
		{"pin suspended", call{op: "pin_status", params: map[string]string{"pin": "A034567890C"}},
			`{"outcome":"found","result":{"certificate":"none","name":"Juma Mwangi","status":"suspended"}}`},
		{"pin invalid", call{op: "pin_status", params: map[string]string{"pin": "P051234567Q"}},
			`{"outcome":"found","result":{"certificate":"none","name":"Baraka Ltd","status":"invalid"}}`},
		{"pin unknown", call{op: "pin_status", params: map[string]string{"pin": "A999999999X"}},
			`{"outcome":"not_found"}`},
		{"benefit eligible", call{op: "benefit_eligibility", params: map[string]string{"national_id": "27431198"}},
			`{"outcome":"found","result":{"next_step":"collect","programme":"Inua Jamii","status":"eligible"}}`},
		{"benefit not eligible", call{op: "benefit_eligibility", params: map[string]string{"national_id": "31520467"}},
			`{"outcome":"found","result":{"next_step":"appeal","programme":"Inua Jamii","status":"not_eligible"}}`},
		{"benefit under review", call{op: "benefit_eligibility", params: map[string]string{"national_id": "29018833"}},
			`{"outcome":"found","result":{"next_step":"wait","programme":"Inua Jamii","status":"under_review"}}`},
		{"benefit unknown ID", call{op: "benefit_eligibility", params: map[string]string{"national_id": "12345678"}},
			`{"outcome":"not_found"}`},
		{"national ID of the registered phone", call{op: "national_id", phone: "+254712345678"},
			`{"outcome":"found","result":{"id_number":"27431198","name":"Amani Otieno"}}`},
		{"national ID of another phone", call{op: "national_id", phone: "+254733999888"},
			`{"outcome":"not_found"}`},
		{"national ID without a phone (kiosk)", call{op: "national_id"},
			`{"outcome":"not_found"}`},
		{"free slots, the 09:30 taken", call{op: "free_slots", params: map[string]string{"office": "nairobi"}},
			`{"outcome":"found","result":{"slots":[` +
				`{"id":"nairobi-202612030900","value":"2026-12-03T09:00:00+03:00"},` +
				`{"id":"nairobi-202612031000","value":"2026-12-03T10:00:00+03:00"},` +
				`{"id":"nairobi-202612031130","value":"2026-12-03T11:30:00+03:00"},` +
				`{"id":"nairobi-202612031400","value":"2026-12-03T14:00:00+03:00"},` +
				`{"id":"nairobi-202612031530","value":"2026-12-03T15:30:00+03:00"}]}}`},
		{"free slots of an unknown office", call{op: "free_slots", params: map[string]string{"office": "eldoret"}},
			`{"outcome":"not_found"}`},
		{"booking of a reference never booked", call{op: "booking", params: map[string]string{"reference": "1234567897"}},
			`{"outcome":"not_found"}`},
		{"cancel a reference never booked", call{op: "cancel_booking", changes: true, params: map[string]string{"reference": "1234567897"}},
			`{"outcome":"not_found"}`},
		{"hold a taken slot", call{op: "hold_slot", changes: true, params: map[string]string{"office": "nairobi", "slot": "nairobi-202612030930"}},
			`{"outcome":"not_found"}`},
		{"hold a slot of another office", call{op: "hold_slot", changes: true, params: map[string]string{"office": "mombasa", "slot": "nairobi-202612030900"}},
			`{"outcome":"not_found"}`},
		{"book with an unknown hold", call{op: "book_slot", changes: true, params: map[string]string{"hold": "H-9999", "reference": "1234567897"}},
			`{"outcome":"not_found"}`},
		{"slow answers in the end", call{op: "pin_status", params: map[string]string{"pin": "A000000006S"}},
			`{"outcome":"found","result":{"certificate":"ready","name":"Slow Answer","status":"valid"}}`},
		{"slow phone", call{op: "national_id", phone: "+254700000006"},
			`{"outcome":"found","result":{"id_number":"29018833","name":"Slow Answer"}}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.key = "test/" + strconv.Itoa(i)
			status, body := a.must(t, tt.call)
			if status != http.StatusOK {
				t.Fatalf("status %d (%s); want 200", status, body)
			}
			if got := canonical(t, body); got != tt.want {
				t.Errorf("answer\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestMagicValues: the values that make the other outcomes happen do, for
// a PIN, a national ID and a caller's phone.
func TestMagicValues(t *testing.T) {
	a := newAgency(t, map[string][]byte{"": secret})
	pin := func(v string) call { return call{op: "pin_status", params: map[string]string{"pin": v}} }
	id := func(v string) call {
		return call{op: "benefit_eligibility", params: map[string]string{"national_id": v}}
	}
	phone := func(v string) call { return call{op: "national_id", phone: v} }
	tests := []struct {
		name string
		call call
		want string // fail, oversized, malformed, hang
	}{
		{"pin fail", pin("A000000500F"), "fail"},
		{"id fail", id("50000500"), "fail"},
		{"phone fail", phone("+254700000500"), "fail"},
		{"pin oversized", pin("A000000100K"), "oversized"},
		{"id oversized", id("10000100"), "oversized"},
		{"phone oversized", phone("+254700000100"), "oversized"},
		{"pin malformed", pin("A000000400M"), "malformed"},
		{"id malformed", id("40000400"), "malformed"},
		{"phone malformed", phone("+254700000400"), "malformed"},
		{"pin hang", pin("A000000999H"), "hang"},
		{"id hang", id("99999999"), "hang"},
		{"phone hang", phone("+254700000999"), "hang"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.key = "magic/" + strconv.Itoa(i)
			ctx := context.Background()
			if tt.want == "hang" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
			}
			status, body, err := a.do(t, ctx, tt.call)
			switch tt.want {
			case "hang":
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("got status %d, err %v; want no answer before the caller gives up", status, err)
				}
				return
			case "fail":
				if err != nil || status != http.StatusInternalServerError {
					t.Errorf("got status %d, err %v; want 500", status, err)
				}
				return
			}
			if err != nil || status != http.StatusOK {
				t.Fatalf("got status %d, err %v; want 200", status, err)
			}
			var v any
			jsonErr := json.Unmarshal(body, &v)
			switch tt.want {
			case "oversized":
				if len(body) != demoagency.OversizedBytes || jsonErr != nil {
					t.Errorf("got %d bytes (JSON error %v); want %d bytes of valid JSON", len(body), jsonErr, demoagency.OversizedBytes)
				}
			case "malformed":
				if jsonErr == nil {
					t.Errorf("body %q is valid JSON; want malformed", body)
				}
			}
		})
	}
}

// TestRefusals: every request a real agency would refuse is refused, with
// the status that says why, and nothing is answered.
func TestRefusals(t *testing.T) {
	a := newAgency(t, map[string][]byte{"": secret, "revenue": otherSecret})
	pin := map[string]string{"pin": "A012345678Z"}
	id := map[string]string{"national_id": "27431198"}
	valid := `{"id":"k","operation":"benefit_eligibility","service":"demo","changes":false,` +
		`"citizen":{"phone":"","channel":"ussd","lang":"en"},"params":{"national_id":"27431198"},"sent_at":"2026-12-02T06:40:00Z"}`
	tests := []struct {
		name   string
		call   call
		status int
	}{
		{"bad signature", call{op: "benefit_eligibility", params: id, signWith: otherSecret}, http.StatusUnauthorized},
		{"another agency's secret", call{op: "pin_status", params: pin}, http.StatusUnauthorized},
		{"no signature", call{op: "benefit_eligibility", params: id, header: map[string]string{webhook.HeaderSignature: ""}}, http.StatusUnauthorized},
		{"stale timestamp", call{op: "benefit_eligibility", params: id, signedAt: start.Add(-6 * time.Minute)}, http.StatusUnauthorized},
		{"timestamp from the future", call{op: "benefit_eligibility", params: id, signedAt: start.Add(6 * time.Minute)}, http.StatusUnauthorized},
		{"body changed after signing", call{op: "benefit_eligibility", params: id, header: map[string]string{webhook.HeaderSignature: webhook.Sign(secret, strconv.FormatInt(start.Unix(), 10), []byte(valid))}}, http.StatusUnauthorized},
		{"wrong idempotency key", call{op: "benefit_eligibility", params: id, header: map[string]string{"Idempotency-Key": "other"}}, http.StatusBadRequest},
		{"no idempotency key", call{op: "benefit_eligibility", params: id, header: map[string]string{"Idempotency-Key": ""}}, http.StatusBadRequest},
		{"wrong webhook id", call{op: "benefit_eligibility", params: id, header: map[string]string{webhook.HeaderID: "other"}}, http.StatusBadRequest},
		{"unknown field", call{op: "benefit_eligibility", key: "k", body: strings.Replace(valid, `"changes"`, `"urgent":true,"changes"`, 1)}, http.StatusBadRequest},
		{"unknown citizen field", call{op: "benefit_eligibility", key: "k", body: strings.Replace(valid, `"lang":"en"`, `"lang":"en","name":"x"`, 1)}, http.StatusBadRequest},
		{"field name in another case", call{op: "benefit_eligibility", key: "k", body: strings.Replace(valid, `"service"`, `"Service"`, 1)}, http.StatusBadRequest},
		{"duplicate param", call{op: "benefit_eligibility", key: "k", body: strings.Replace(valid, `{"national_id":"27431198"}`, `{"national_id":"27431198","national_id":"31520467"}`, 1)}, http.StatusBadRequest},
		{"param of the wrong type", call{op: "benefit_eligibility", key: "k", body: strings.Replace(valid, `"27431198"`, `27431198`, 1)}, http.StatusBadRequest},
		{"data after the object", call{op: "benefit_eligibility", key: "k", body: valid + "{}"}, http.StatusBadRequest},
		{"not JSON", call{op: "benefit_eligibility", key: "k", body: "national_id=27431198"}, http.StatusBadRequest},
		{"no sent_at", call{op: "benefit_eligibility", key: "k", body: strings.Replace(valid, `,"sent_at":"2026-12-02T06:40:00Z"`, ``, 1)}, http.StatusBadRequest},
		{"no id", call{op: "benefit_eligibility", key: "", body: strings.Replace(valid, `"id":"k"`, `"id":""`, 1), header: map[string]string{"Idempotency-Key": "", webhook.HeaderID: ""}}, http.StatusBadRequest},
		{"missing param", call{op: "benefit_eligibility"}, http.StatusBadRequest},
		{"empty param", call{op: "benefit_eligibility", params: map[string]string{"national_id": " "}}, http.StatusBadRequest},
		{"unknown param", call{op: "benefit_eligibility", params: map[string]string{"national_id": "27431198", "pin": "x"}}, http.StatusBadRequest},
		{"operation of the body is another", call{op: "free_slots", key: "k", body: valid}, http.StatusBadRequest},
		{"a change sent as a look-up", call{op: "hold_slot", params: map[string]string{"office": "nairobi", "slot": "nairobi-202612030900"}}, http.StatusBadRequest},
		{"a look-up sent as a change", call{op: "benefit_eligibility", params: id, changes: true}, http.StatusBadRequest},
		{"GET", call{op: "benefit_eligibility", params: id, method: http.MethodGet}, http.StatusMethodNotAllowed},
		{"PUT", call{op: "benefit_eligibility", params: id, method: http.MethodPut}, http.StatusMethodNotAllowed},
		{"form content type", call{op: "benefit_eligibility", params: id, contentType: "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"unknown operation", call{op: "pay_tax", params: pin}, http.StatusNotFound},
		{"body over 64 KiB", call{op: "benefit_eligibility", key: "k", body: strings.Replace(valid, `"service":"demo"`, `"service":"`+strings.Repeat("d", 64<<10)+`"`, 1)}, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := a.must(t, tt.call)
			if status != tt.status {
				t.Fatalf("status %d (%s); want %d", status, body, tt.status)
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Errorf("body %q; want {\"error\": why}", body)
			}
		})
	}

	// A charset parameter is still application/json, and revenue's own
	// secret opens its operation: the refusals above are for what they say.
	status, body := a.must(t, call{op: "pin_status", params: pin, signWith: otherSecret, contentType: "application/json; charset=utf-8"})
	if status != http.StatusOK {
		t.Errorf("a good request: status %d (%s); want 200", status, body)
	}
}

// TestIdempotency: a repeated key is answered the first answer, even when
// the world has changed since; the same key with another request is 422.
func TestIdempotency(t *testing.T) {
	a := newAgency(t, map[string][]byte{"": secret})
	hold := call{op: "hold_slot", changes: true, key: "ussd/ATUid_7/hold/5",
		params: map[string]string{"office": "kisumu", "slot": "kisumu-202612030900"}}
	status, first := a.must(t, hold)
	if status != http.StatusOK || !strings.Contains(first, `"found"`) {
		t.Fatalf("hold: %d %s", status, first)
	}
	a.clock.Add(time.Minute) // a retry sends a new sent_at and timestamp
	if status, again := a.must(t, hold); status != http.StatusOK || again != first {
		t.Errorf("retry of the hold: %d %s; want the first answer %s", status, again, first)
	}
	other := hold
	other.key = "ussd/ATUid_8/hold/5"
	if status, body := a.must(t, other); status != http.StatusOK || canonical(t, body) != `{"outcome":"not_found"}` {
		t.Errorf("another citizen holding the held slot: %d %s; want not_found", status, body)
	}

	changed := hold
	changed.params = map[string]string{"office": "kisumu", "slot": "kisumu-202612031100"}
	if status, body := a.must(t, changed); status != http.StatusUnprocessableEntity {
		t.Errorf("same key, another slot: %d %s; want 422", status, body)
	}
	byAnother := hold
	byAnother.phone = "+254700111222"
	if status, body := a.must(t, byAnother); status != http.StatusUnprocessableEntity {
		t.Errorf("same key, another citizen: %d %s; want 422", status, body)
	}
}

// TestAppointment walks a booking's life: hold, book, look up, move,
// cancel, with holds expiring after 10 minutes.
func TestAppointment(t *testing.T) {
	a := newAgency(t, map[string][]byte{"": secret})
	const ref = "1234567897"
	answer := func(t *testing.T, c call) map[string]any {
		t.Helper()
		status, body := a.must(t, c)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d (%s)", c.op, status, body)
		}
		var v struct {
			Outcome string         `json:"outcome"`
			Result  map[string]any `json:"result"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		if v.Outcome != "found" {
			return nil
		}
		return v.Result
	}
	n := 0
	key := func() string { n++; return "app/" + strconv.Itoa(n) }
	holdSlot := func(slot string) call {
		return call{op: "hold_slot", changes: true, key: key(), params: map[string]string{"office": "mombasa", "slot": slot}}
	}
	book := func(hold string) call {
		return call{op: "book_slot", changes: true, key: key(), params: map[string]string{"hold": hold, "reference": ref}}
	}
	lookup := func() call { return call{op: "booking", key: key(), params: map[string]string{"reference": ref}} }
	free := func() string {
		r := answer(t, call{op: "free_slots", key: key(), params: map[string]string{"office": "mombasa"}})
		b, _ := json.Marshal(r["slots"])
		return string(b)
	}
	before := free()

	// A hold expires on its own after 10 minutes: booking it then is
	// not_found, and the slot is free again.
	h := answer(t, holdSlot("mombasa-202612031000"))
	if h["hold"] == nil || h["until"] != "2026-12-02T09:50:00+03:00" {
		t.Fatalf("hold: %v; want a hold until 09:50 local", h)
	}
	if strings.Contains(free(), "mombasa-202612031000") {
		t.Errorf("a held slot is still offered as free")
	}
	a.clock.Add(demoagency.HoldFor)
	if got := answer(t, book(h["hold"].(string))); got != nil {
		t.Errorf("booking an expired hold: %v; want not_found", got)
	}
	if got := free(); got != before {
		t.Errorf("after the hold expired the free slots are %s; want %s", got, before)
	}

	// Hold and book in time.
	h = answer(t, holdSlot("mombasa-202612031000"))
	a.clock.Add(HoldAlmost)
	b := answer(t, book(h["hold"].(string)))
	want := map[string]any{"booking": b["booking"], "start": "2026-12-03T10:00:00+03:00", "office": "mombasa"}
	if b["booking"] == nil || !equal(b, want) {
		t.Fatalf("book: %v; want %v", b, want)
	}
	if got := answer(t, book(h["hold"].(string))); got != nil {
		t.Errorf("a hold booked twice (another key): %v; want not_found", got)
	}
	want["status"] = "booked"
	if got := answer(t, lookup()); !equal(got, want) {
		t.Errorf("booking: %v; want %v", got, want)
	}
	if strings.Contains(free(), "mombasa-202612031000") {
		t.Errorf("a booked slot is offered as free")
	}

	// Move: book another held slot on the same reference; the first slot
	// is free again.
	h = answer(t, holdSlot("mombasa-202612031300"))
	moved := answer(t, book(h["hold"].(string)))
	if moved["booking"] != b["booking"] || moved["start"] != "2026-12-03T13:00:00+03:00" {
		t.Errorf("move: %v; want booking %v at 13:00", moved, b["booking"])
	}
	if !strings.Contains(free(), "mombasa-202612031000") {
		t.Errorf("the slot moved from is not free again")
	}

	// Cancel.
	c := answer(t, call{op: "cancel_booking", changes: true, key: key(), params: map[string]string{"reference": ref}})
	if !equal(c, map[string]any{"booking": b["booking"], "status": "cancelled"}) {
		t.Errorf("cancel: %v", c)
	}
	want = map[string]any{"booking": b["booking"], "start": "2026-12-03T13:00:00+03:00", "office": "mombasa", "status": "cancelled"}
	if got := answer(t, lookup()); !equal(got, want) {
		t.Errorf("booking after cancel: %v; want %v", got, want)
	}
	if got := free(); got != before {
		t.Errorf("after the cancel the free slots are %s; want %s", got, before)
	}
}

// HoldAlmost is a little less than a hold lasts.
const HoldAlmost = demoagency.HoldFor - time.Second

func equal(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestParseSecrets(t *testing.T) {
	tests := []struct {
		name, text string
		want       map[string]string // agency -> hex
		ok         bool
	}{
		{"one for every agency", "8d5f0c3e8d5f0c3e8d5f0c3e8d5f0c3e\n", map[string]string{"": "8d5f0c3e8d5f0c3e8d5f0c3e8d5f0c3e"}, true},
		{"per agency", "# demo\nrevenue 8d5f8d5f8d5f8d5f8d5f8d5f8d5f8d5f\ncivil_registry=00ff00ff00ff00ff00ff00ff00ff00ff\n\n", map[string]string{"revenue": "8d5f8d5f8d5f8d5f8d5f8d5f8d5f8d5f", "civil_registry": "00ff00ff00ff00ff00ff00ff00ff00ff"}, true},
		{"for every agency and one", "8d5f0c3e8d5f0c3e8d5f0c3e8d5f0c3e\nrevenue 8d5f8d5f8d5f8d5f8d5f8d5f8d5f8d5f", map[string]string{"": "8d5f0c3e8d5f0c3e8d5f0c3e8d5f0c3e", "revenue": "8d5f8d5f8d5f8d5f8d5f8d5f8d5f8d5f"}, true},
		{"not hex", "revenue zz", nil, false},
		{"too short", "revenue 8d5f0c3e", nil, false},
		{"two secrets on a line", "revenue 8d5f8d5f8d5f8d5f8d5f8d5f8d5f8d5f 00ff00ff00ff00ff00ff00ff00ff00ff", nil, false},
		{"empty", "\n# nothing\n", nil, false},
		{"twice", "revenue 8d5f8d5f8d5f8d5f8d5f8d5f8d5f8d5f\nrevenue 00ff00ff00ff00ff00ff00ff00ff00ff", nil, false},
		{"twice for every agency", "8d5f8d5f8d5f8d5f8d5f8d5f8d5f8d5f\n00ff00ff00ff00ff00ff00ff00ff00ff", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := demoagency.ParseSecrets(tt.text)
			if (err == nil) != tt.ok {
				t.Fatalf("err %v; want ok %v", err, tt.ok)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d secrets; want %d", len(got), len(tt.want))
			}
			for agency, h := range tt.want {
				if hex.EncodeToString(got[agency]) != h {
					t.Errorf("secret of %q = %x; want %s", agency, got[agency], h)
				}
			}
		})
	}
}

// TestWithTheCallClient: the client the server's call steps use
// (agencycall) gets from the demonstration the outcome each seeded and
// magic value is for.
func TestWithTheCallClient(t *testing.T) {
	gin.SetMode(gin.TestMode)
	c := &clock{now: time.Now()}
	srv, err := demoagency.New(demoagency.Config{Secrets: map[string][]byte{"": secret}, Now: c.Now, Slow: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	db := channelstest.OpenStore(t)
	ctx := context.Background()
	for _, id := range []string{"revenue", "civil_registry"} {
		if err := db.PutAgency(ctx, channels.Agency{ID: id, Name: id, APIURL: hs.URL, WebhookSecret: secret, CreatedAt: c.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	client, err := agencycall.New(agencycall.Config{Agencies: db, Now: c.Now, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pinReturns := map[string]*flows.Return{
		"status":      {Type: flows.ReturnText, Values: []string{"valid", "invalid", "suspended"}, MaxLength: 9, Required: true},
		"name":        {Type: flows.ReturnText, MaxLength: 40, Unicode: true},
		"certificate": {Type: flows.ReturnText, Values: []string{"ready", "pending", "none"}, MaxLength: 7},
	}
	pin := func(v string) flows.AgencyRequest {
		return flows.AgencyRequest{Agency: "revenue", Operation: "pin_status", Service: "tax_pin", Step: "pin_status",
			Phone: "+254712345678", Lang: "en", Channel: channels.ChannelUSSD,
			Params: []channels.Answer{{Field: "pin", Value: v}}, Returns: pinReturns, Deadline: 500 * time.Millisecond}
	}
	hold := flows.AgencyRequest{Agency: "civil_registry", Operation: "hold_slot", Service: "registry_appointment", Step: "hold",
		Phone: "+254712345678", Lang: "sw", Channel: channels.ChannelSMS, Changes: true,
		Params:   []channels.Answer{{Field: "office", Value: "kisumu"}, {Field: "slot", Value: "kisumu-nosuchslot"}},
		Returns:  map[string]*flows.Return{"hold": {Type: flows.ReturnText, MaxLength: 20}, "until": {Type: flows.ReturnDateTime}},
		Deadline: time.Second}
	tests := []struct {
		name   string
		req    flows.AgencyRequest
		want   flows.CallOutcome
		fields map[string]string
	}{
		{"valid PIN", pin("A012345678Z"), flows.OutcomeFound, map[string]string{"status": "valid", "name": "Amani Otieno", "certificate": "ready"}},
		{"suspended PIN", pin("A034567890C"), flows.OutcomeFound, map[string]string{"status": "suspended", "name": "Juma Mwangi", "certificate": "none"}},
		{"unknown PIN", pin("A999999999X"), flows.OutcomeNotFound, nil},
		{"slow", pin("A000000006S"), flows.OutcomeTimeout, nil},
		{"fail", pin("A000000500F"), flows.OutcomeFailed, nil},
		{"oversized", pin("A000000100K"), flows.OutcomeFailed, nil},
		{"malformed", pin("A000000400M"), flows.OutcomeFailed, nil},
		{"hang", pin("A000000999H"), flows.OutcomeTimeout, nil},
		{"hold of a slot not in the calendar", hold, flows.OutcomeNotFound, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Key = "client/" + strconv.Itoa(i)
			got := client.Ask(ctx, tt.req)
			if got.Outcome != tt.want {
				t.Fatalf("outcome %s (%s); want %s", got.Outcome, got.Reason, tt.want)
			}
			if len(got.Fields) != len(tt.fields) {
				t.Errorf("fields %v; want %v", got.Fields, tt.fields)
			}
			for k, v := range tt.fields {
				if got.Fields[k] != v {
					t.Errorf("field %s = %q; want %q", k, got.Fields[k], v)
				}
			}
		})
	}
}
