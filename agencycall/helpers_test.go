package agencycall_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/store/bolt"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

const agencyID = "revenue"

func ptr(n int64) *int64 { return &n }

// pinReturns are the returns of the spec's pin_status step, and a GSM-7
// office name.
func pinReturns() map[string]*flows.Return {
	return map[string]*flows.Return{
		"status": {Type: flows.ReturnText, Values: []string{"valid", "invalid", "suspended"}, MaxLength: 9, Required: true},
		"name":   {Type: flows.ReturnText, MaxLength: 40, Unicode: true},
		"office": {Type: flows.ReturnText, MaxLength: 20},
		"due":    {Type: flows.ReturnDate},
		"amount": {Type: flows.ReturnNumber, Min: ptr(0), Max: ptr(100000000)},
		"slots":  {Type: flows.ReturnList, Item: flows.ReturnDateTime, MaxItems: 5},
	}
}

// pinRequest is a look-up of the pin_status operation.
func pinRequest() flows.AgencyRequest {
	return flows.AgencyRequest{
		Key:       "ussd/ATUid_1/pin_status/2",
		Agency:    agencyID,
		Operation: "pin_status",
		Service:   "tax_pin",
		Step:      "pin_status",
		Phone:     "+254712345678",
		Lang:      "en",
		Channel:   channels.ChannelUSSD,
		Params:    []channels.Answer{{Field: "pin", Value: "A012345678Z"}},
		Returns:   pinReturns(),
		Deadline:  time.Second,
	}
}

// sentAt is the clock of the golden request.
var sentAt = time.Date(2026, 12, 2, 6, 40, 0, 0, time.UTC)

// received is one request the agency took, as it arrived.
type received struct {
	Path   string
	Header http.Header
	Body   []byte
}

// agency is an agency's operations endpoint: a real HTTP server that
// checks every request as a real agency would (Receive, then the body's
// exact bytes and the User-Agent), refuses a bad one, and answers a good
// one with answer, given the number of good requests before it.
type agency struct {
	*httptest.Server
	secret []byte
	now    func() time.Time
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	got      []received
	problems []string
}

// newAgency starts an agency answering with answer and stores it in a
// fresh store as agency "revenue", its API URL the server's.
func newAgency(t testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) (*agency, *bolt.DB) {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	ag := &agency{secret: secret, now: time.Now, answer: answer}
	ag.Server = httptest.NewServer(http.HandlerFunc(ag.serve))
	t.Cleanup(ag.Close)
	db := channelstest.OpenStore(t)
	a := channels.Agency{ID: agencyID, Name: "Revenue Authority", APIURL: ag.URL + "/v1", WebhookSecret: secret, CreatedAt: time.Now()}
	if err := db.PutAgency(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ag.mu.Lock()
		defer ag.mu.Unlock()
		for _, p := range ag.problems {
			t.Errorf("the agency refused a request: %s", p)
		}
	})
	return ag, db
}

func (ag *agency) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		ag.refuse(w, http.StatusBadRequest, "read the body: %v", err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	operation, ok := strings.CutPrefix(r.URL.Path, "/v1/operations/")
	if !ok {
		ag.refuse(w, http.StatusNotFound, "path %s", r.URL.Path)
		return
	}
	req, err := agencycall.Receive(w, r, ag.secret, operation, ag.now())
	if err != nil {
		why := err.(*agencycall.Refusal)
		ag.refuse(w, why.Status, "%s", why.Reason)
		return
	}
	again, err := req.Marshal()
	switch {
	case err != nil || !bytes.Equal(again, body):
		ag.refuse(w, http.StatusBadRequest, "the body is not in the contract's form:\n%s\n%s", body, again)
		return
	case r.Header.Get("Content-Type") != "application/json":
		ag.refuse(w, http.StatusUnsupportedMediaType, "Content-Type %q", r.Header.Get("Content-Type"))
		return
	case r.Header.Get("User-Agent") != agencycall.UserAgent:
		ag.refuse(w, http.StatusBadRequest, "User-Agent %q", r.Header.Get("User-Agent"))
		return
	}
	ag.mu.Lock()
	n := len(ag.got)
	ag.got = append(ag.got, received{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	ag.mu.Unlock()
	ag.answer(n, w, r)
}

func (ag *agency) refuse(w http.ResponseWriter, code int, format string, args ...any) {
	ag.mu.Lock()
	ag.problems = append(ag.problems, fmt.Sprintf(format, args...))
	ag.mu.Unlock()
	http.Error(w, http.StatusText(code), code)
}

// requests returns the good requests the agency took.
func (ag *agency) requests() []received {
	ag.mu.Lock()
	defer ag.mu.Unlock()
	return append([]received(nil), ag.got...)
}

// newClient returns a Client reading agencies from db.
func newClient(t testing.TB, db *bolt.DB, cfg agencycall.Config) *agencycall.Client {
	t.Helper()
	cfg.Agencies = db
	if cfg.Backoff == 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	c, err := agencycall.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// answerJSON answers 200 with body as JSON.
func answerJSON(body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

// status answers code with a short text.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, http.StatusText(code), code)
	}
}

// then answers the first n requests with first and the others with rest.
func then(n int, first, rest func(int, http.ResponseWriter, *http.Request)) func(int, http.ResponseWriter, *http.Request) {
	return func(i int, w http.ResponseWriter, r *http.Request) {
		if i < n {
			first(i, w, r)
			return
		}
		rest(i, w, r)
	}
}

// hang answers nothing until the client gives up.
func hang(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// slow answers found after d, whatever the client does meanwhile.
func slow(d time.Duration) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		answerJSON(foundBody)(n, w, r)
	}
}

// drop closes the connection without an answer: a transport error.
func drop(_ int, w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// foundBody is a found answer with every kind of return.
const foundBody = `{"outcome": "found", "result": {"status": "valid", "name": "Amani Otieno",
 "office": "Nairobi Central", "due": "2027-01-31", "amount": 12500,
 "slots": [{"id": "s-0912", "value": "2026-12-08T09:30:00+03:00"}, {"id": "s-0913", "value": "2026-12-08T10:00:00+03:00"}]}}`

// foundAnswer is what foundBody decodes to.
func foundAnswer() flows.AgencyAnswer {
	return flows.AgencyAnswer{
		Outcome: flows.OutcomeFound,
		Fields:  map[string]string{"status": "valid", "name": "Amani Otieno", "office": "Nairobi Central", "due": "2027-01-31", "amount": "12500"},
		Lists: map[string][]flows.ListItem{"slots": {
			{ID: "s-0912", Value: "2026-12-08T09:30:00+03:00"}, {ID: "s-0913", Value: "2026-12-08T10:00:00+03:00"},
		}},
	}
}

// oversized is a found answer over 64 KiB.
var oversized = `{"outcome": "found", "result": {"status": "valid"}, "padding": "` + strings.Repeat("x", agencycall.MaxAnswer) + `"}`
