package agencycall_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
)

// TestRequestGolden pins the bytes of the request body of the wire
// contract: fields in order, params in the step's order.
func TestRequestGolden(t *testing.T) {
	req := pinRequest()
	req.Params = append(req.Params, channels.Answer{Field: "year", Value: "2026"}, channels.Answer{Field: "pin", Value: "A012345678Z"})
	body, err := agencycall.NewRequest(req, sentAt.Add(400*time.Millisecond)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	channelstest.Golden(t, filepath.Join("testdata", "request.json"), string(body)+"\n", *update)
}

// TestRequestRoundTrip reads a body back as the demo agency and the
// background sender do, params in order.
func TestRequestRoundTrip(t *testing.T) {
	want := agencycall.NewRequest(pinRequest(), sentAt)
	want.Params = append(want.Params, channels.Answer{Field: "office", Value: "<Nairobi & co>"})
	body, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"<Nairobi & co>"`) {
		t.Errorf("the body escapes HTML characters: %s", body)
	}
	got, err := agencycall.ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back as %+v; want %+v", got, want)
	}
	for name, bad := range map[string]string{
		"duplicate param":     `{"id":"k","params":{"pin":"a","pin":"b"}}`,
		"param not a string":  `{"id":"k","params":{"pin":12}}`,
		"params not a object": `{"id":"k","params":["pin"]}`,
		"unknown field":       `{"id":"k","extra":1}`,
		"field in other case": `{"ID":"k"}`,
		"duplicate field":     `{"id":"k","id":"l"}`,
		"unknown citizen":     `{"id":"k","citizen":{"name":"Amani"}}`,
	} {
		if _, err := agencycall.ParseRequest([]byte(bad)); err == nil {
			t.Errorf("%s: %s read without an error", name, bad)
		}
	}
}

// TestDo makes one look-up against an agency answering each way the
// contract allows or forbids.
func TestDo(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(int, http.ResponseWriter, *http.Request)
		changes   bool
		want      flows.CallOutcome
		reason    string // in the Reason of a failed or timeout outcome
		transient bool
		requests  int
	}{
		{name: "found", answer: answerJSON(foundBody), want: flows.OutcomeFound, requests: 1},
		{name: "not found", answer: answerJSON(`{"outcome":"not_found"}`), want: flows.OutcomeNotFound, requests: 1},
		{name: "500 until the deadline", answer: status(http.StatusInternalServerError), want: flows.OutcomeFailed,
			reason: "answered 500 Internal Server Error, no time left to retry", transient: true, requests: -1},
		{name: "500 then found", answer: then(2, status(http.StatusInternalServerError), answerJSON(foundBody)), want: flows.OutcomeFound, requests: 3},
		{name: "429 then found", answer: then(1, status(http.StatusTooManyRequests), answerJSON(foundBody)), want: flows.OutcomeFound, requests: 2},
		{name: "429 asking to wait too long", answer: func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "30")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}, want: flows.OutcomeFailed, reason: "answered 429 Too Many Requests, no time left to retry", transient: true, requests: 1},
		{name: "dropped then found", answer: then(1, drop, answerJSON(foundBody)), want: flows.OutcomeFound, requests: 2},
		{name: "slow past the deadline", answer: slow(1500 * time.Millisecond), want: flows.OutcomeTimeout,
			reason: "no answer within the deadline", transient: true, requests: 1},
		{name: "hang", answer: hang, want: flows.OutcomeTimeout, reason: "no answer within the deadline", transient: true, requests: 1},
		{name: "oversized", answer: answerJSON(oversized), want: flows.OutcomeFailed, reason: "answer over 65536 bytes", requests: 1},
		{name: "malformed", answer: answerJSON(`{"outcome": "found", "result": {"status": "valid"`), want: flows.OutcomeFailed,
			reason: "invalid JSON", requests: 1},
		{name: "undeclared field", answer: answerJSON(`{"outcome":"found","result":{"status":"valid","pin":"A012345678Z"}}`),
			want: flows.OutcomeFailed, reason: `result."pin" is not a declared return`, requests: 1},
		{name: "unknown top-level field", answer: answerJSON(`{"outcome":"found","result":{"status":"valid"},"debug":1}`),
			want: flows.OutcomeFailed, reason: `unknown field "debug"`, requests: 1},
		{name: "wrong type", answer: answerJSON(`{"outcome":"found","result":{"status":"valid","amount":"12500"}}`),
			want: flows.OutcomeFailed, reason: "result.amount: not an integer", requests: 1},
		{name: "non-GSM text", answer: answerJSON(`{"outcome":"found","result":{"status":"valid","office":"Nairobi – Kenyatta"}}`),
			want: flows.OutcomeFailed, reason: "result.office: text outside GSM-7", requests: 1},
		{name: "unicode where declared", answer: answerJSON(`{"outcome":"found","result":{"status":"valid","name":"أماني"}}`),
			want: flows.OutcomeFound, requests: 1},
		{name: "too many items", answer: answerJSON(`{"outcome":"found","result":{"status":"valid","slots":[` +
			strings.Repeat(`{"id":"a","value":"2026-12-08T09:30:00+03:00"},`, 5) + `{"id":"b","value":"2026-12-08T09:30:00+03:00"}]}}`),
			want: flows.OutcomeFailed, reason: "result.slots: 6 items, at most 5", requests: 1},
		{name: "missing required", answer: answerJSON(`{"outcome":"found","result":{"name":"Amani"}}`),
			want: flows.OutcomeFailed, reason: "the required result.status is missing", requests: 1},
		{name: "value outside values", answer: answerJSON(`{"outcome":"found","result":{"status":"VALID"}}`),
			want: flows.OutcomeFailed, reason: "result.status: not one of the 3 declared values", requests: 1},
		{name: "not JSON content", answer: func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`{"outcome":"not_found"}`))
		}, want: flows.OutcomeFailed, reason: `Content-Type "text/html"`, requests: 1},
		{name: "404 is not retried", answer: status(http.StatusNotFound), want: flows.OutcomeFailed, reason: "answered 404 Not Found", requests: 1},
		{name: "redirect", answer: func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, want: flows.OutcomeFailed, reason: "redirects are not followed", requests: 1},
		{name: "change answered", answer: answerJSON(`{"outcome":"found","result":{"status":"valid"}}`), changes: true,
			want: flows.OutcomeFound, requests: 1},
		{name: "change sent once on 500", answer: status(http.StatusInternalServerError), changes: true,
			want: flows.OutcomeFailed, reason: "answered 500 Internal Server Error", transient: true, requests: 1},
		{name: "change sent once on 429", answer: status(http.StatusTooManyRequests), changes: true,
			want: flows.OutcomeFailed, reason: "answered 429 Too Many Requests", transient: true, requests: 1},
		{name: "change sent once when dropped", answer: drop, changes: true,
			want: flows.OutcomeFailed, reason: "post to 127.0.0.1", transient: true, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ag, db := newAgency(t, tt.answer)
			c := newClient(t, db, agencycall.Config{})
			req := pinRequest()
			req.Changes = tt.changes
			got, transient := c.Do(context.Background(), req, 800*time.Millisecond)
			if got.Outcome != tt.want {
				t.Fatalf("outcome %s (%s); want %s", got.Outcome, got.Reason, tt.want)
			}
			if transient != tt.transient {
				t.Errorf("transient = %v (%s); want %v", transient, got.Reason, tt.transient)
			}
			if tt.name == "found" && !reflect.DeepEqual(got, foundAnswer()) {
				t.Errorf("answer %+v; want %+v", got, foundAnswer())
			}
			switch {
			case tt.reason == "" && got.Reason != "":
				t.Errorf("Reason %q on a %s outcome", got.Reason, got.Outcome)
			case !strings.Contains(got.Reason, tt.reason):
				t.Errorf("Reason %q; want it to say %q", got.Reason, tt.reason)
			case tt.reason != "" && !strings.HasPrefix(got.Reason, "call revenue/pin_status ussd/ATUid_1/pin_status/2: "):
				t.Errorf("Reason %q does not name the call", got.Reason)
			case strings.Contains(got.Reason, "A012345678Z") || strings.Contains(got.Reason, ag.URL+"/v1/"):
				t.Errorf("Reason %q repeats the params or the API URL", got.Reason)
			}
			n := len(ag.requests())
			if tt.requests >= 0 && n != tt.requests {
				t.Errorf("%d requests; want %d", n, tt.requests)
			}
			if tt.requests < 0 && n < 2 {
				t.Errorf("%d requests; a failing look-up is retried", n)
			}
			for i, r := range ag.requests() {
				if i > 0 && string(r.Body) != string(ag.requests()[0].Body) {
					t.Errorf("attempt %d sent another body:\n%s\n%s", i+1, r.Body, ag.requests()[0].Body)
				}
			}
		})
	}
}

// TestDoSendsTheGoldenBody checks the body on the wire against the
// golden file, signed with the time of the client's clock.
func TestDoSendsTheGoldenBody(t *testing.T) {
	ag, db := newAgency(t, answerJSON(`{"outcome":"not_found"}`))
	clock := channelstest.NewClock(sentAt.Add(400 * time.Millisecond))
	ag.now = clock.Now
	c := newClient(t, db, agencycall.Config{Now: clock.Now})
	req := pinRequest()
	req.Params = append(req.Params, channels.Answer{Field: "year", Value: "2026"})
	if got := c.Ask(context.Background(), req); got.Outcome != flows.OutcomeNotFound {
		t.Fatalf("outcome %s (%s); want not_found", got.Outcome, got.Reason)
	}
	got := ag.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests; want 1", len(got))
	}
	channelstest.Golden(t, filepath.Join("testdata", "request.json"), string(got[0].Body)+"\n", false)
	if ts := got[0].Header.Get("Channels-Webhook-Timestamp"); ts != "1796193600" {
		t.Errorf("timestamp %s; want the clock's 1796193600", ts)
	}
}

// TestAskReadsAgencyEachCall: a changed API URL or rotated secret
// applies from the next call on.
func TestAskReadsAgencyEachCall(t *testing.T) {
	first, db := newAgency(t, answerJSON(`{"outcome":"not_found"}`))
	second, _ := newAgency(t, answerJSON(`{"outcome":"not_found"}`))
	c := newClient(t, db, agencycall.Config{})
	if got := c.Ask(context.Background(), pinRequest()); got.Outcome != flows.OutcomeNotFound {
		t.Fatalf("first call: %s (%s)", got.Outcome, got.Reason)
	}
	a := channels.Agency{ID: agencyID, Name: "Revenue Authority", APIURL: second.URL + "/v1", WebhookSecret: second.secret}
	if err := db.PutAgency(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := c.Ask(context.Background(), pinRequest()); got.Outcome != flows.OutcomeNotFound {
		t.Fatalf("second call: %s (%s)", got.Outcome, got.Reason)
	}
	if n1, n2 := len(first.requests()), len(second.requests()); n1 != 1 || n2 != 1 {
		t.Errorf("%d and %d requests; want one each", n1, n2)
	}
}

// TestAskNotConfigured: an agency the call cannot reach is the failed
// outcome, definitive, without a request.
func TestAskNotConfigured(t *testing.T) {
	ag, db := newAgency(t, answerJSON(foundBody))
	put := func(a channels.Agency) {
		if err := db.PutAgency(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	put(channels.Agency{ID: "no_url", Name: "No URL", WebhookSecret: []byte("s")})
	put(channels.Agency{ID: "no_secret", Name: "No secret", APIURL: ag.URL})
	put(channels.Agency{ID: "bad_url", Name: "Bad URL", APIURL: "ftp://example.org", WebhookSecret: []byte("s")})
	tests := []struct{ name, agency, operation, reason string }{
		{"unknown agency", "nobody", "pin_status", "no agency nobody"},
		{"no API URL", "no_url", "pin_status", "agency no_url has no API URL"},
		{"no secret", "no_secret", "pin_status", "agency no_secret has no secret"},
		{"not http", "bad_url", "pin_status", "not an absolute http(s) URL"},
		{"operation not a name", agencyID, "../cases", "operation name"},
	}
	c := newClient(t, db, agencycall.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := pinRequest()
			req.Agency, req.Operation = tt.agency, tt.operation
			got, transient := c.Do(context.Background(), req, time.Second)
			if got.Outcome != flows.OutcomeFailed || transient || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("%s (%q), transient %v; want failed saying %q, not transient", got.Outcome, got.Reason, transient, tt.reason)
			}
		})
	}
	if n := len(ag.requests()); n != 0 {
		t.Errorf("%d requests; want none", n)
	}
}

// TestAskLater: a call with Later set that runs out of time has its
// background call queued before Ask returns the timeout; a queue that
// fails makes it the failed outcome. Other calls never queue.
func TestAskLater(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(int, http.ResponseWriter, *http.Request)
		later    bool
		queueErr error
		panics   bool
		hop      time.Duration // the caller's own deadline, shorter than the call's
		want     flows.CallOutcome
		queued   int
	}{
		{name: "the hop's deadline passes first", answer: hang, later: true, hop: 300 * time.Millisecond, want: flows.OutcomeTimeout, queued: 1},
		{name: "queue panics", answer: hang, later: true, panics: true, want: flows.OutcomeFailed, queued: 1},
		{name: "timeout queued", answer: hang, later: true, want: flows.OutcomeTimeout, queued: 1},
		{name: "queue fails", answer: hang, later: true, queueErr: errors.New("disk full"), want: flows.OutcomeFailed, queued: 1},
		{name: "timeout without later", answer: hang, want: flows.OutcomeTimeout},
		{name: "answered in time", answer: answerJSON(foundBody), later: true, want: flows.OutcomeFound},
		{name: "failed in time", answer: status(http.StatusBadRequest), later: true, want: flows.OutcomeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, db := newAgency(t, tt.answer)
			var queued atomic.Int32
			var ctxErr error
			c := newClient(t, db, agencycall.Config{Later: func(ctx context.Context, req flows.AgencyRequest) error {
				queued.Add(1)
				ctxErr = ctx.Err()
				if req.Key != pinRequest().Key || string(req.Later) != "state" {
					t.Errorf("queued %+v; want the request asked", req)
				}
				if tt.panics {
					panic("the outbox is nil")
				}
				return tt.queueErr
			}})
			req := pinRequest()
			req.Deadline = 500 * time.Millisecond
			if tt.later {
				req.Later = []byte("state")
			}
			ctx := context.Background()
			if tt.hop > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.hop)
				defer cancel()
			}
			got := c.Ask(ctx, req)
			if got.Outcome != tt.want {
				t.Errorf("outcome %s (%s); want %s", got.Outcome, got.Reason, tt.want)
			}
			if tt.panics && !strings.Contains(got.Reason, "internal error: the outbox is nil") {
				t.Errorf("Reason %q does not say what went wrong", got.Reason)
			}
			if n := int(queued.Load()); n != tt.queued {
				t.Errorf("queued %d times; want %d", n, tt.queued)
			}
			if ctxErr != nil {
				t.Errorf("Later was given an ended context: %v", ctxErr)
			}
			if tt.queueErr != nil && !strings.Contains(got.Reason, "could not be queued: disk full") {
				t.Errorf("Reason %q does not say the queue failed", got.Reason)
			}
		})
	}
}

// TestNewNeedsAgencies: a Client without its store is a wiring mistake.
func TestNewNeedsAgencies(t *testing.T) {
	if _, err := agencycall.New(agencycall.Config{}); err == nil {
		t.Error("New without Agencies succeeded")
	}
}

// BenchmarkAsk measures one found look-up against a local agency: the
// cost a call step adds to a hop, network aside.
func BenchmarkAsk(b *testing.B) {
	_, db := newAgency(b, answerJSON(foundBody))
	c := newClient(b, db, agencycall.Config{})
	req := pinRequest()
	ctx := context.Background()
	for b.Loop() {
		if got := c.Ask(ctx, req); got.Outcome != flows.OutcomeFound {
			b.Fatalf("outcome %s (%s)", got.Outcome, got.Reason)
		}
	}
}
