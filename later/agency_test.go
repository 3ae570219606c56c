package later_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/webhook"
)

// revenue is a real HTTP agency server for the tests: it checks every
// request as an agency implementing the contract would (method, path,
// content type, signature, strict body, Idempotency-Key equal to the
// body's id, a repeated key with another request refused) and answers by
// the PIN sent:
//
//	found   found, name "Amani Otieno"
//	none    not_found
//	refuse  422, a definitive failure
//	flaky   503 to the first two requests of a key, then found
//	down    503 always
//	slow    no answer to the first request of a key until its caller
//	        gives up, then found
type revenue struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu    sync.Mutex
	calls map[string]int    // requests per key
	first map[string][]byte // the first request of each key, without sent_at
}

func newRevenue(t *testing.T) *revenue {
	a := &revenue{t: t, secret: []byte("0123456789abcdef0123456789abcdef"), calls: map[string]int{}, first: map[string][]byte{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

// agency is the agency record pointing at the server.
func (a *revenue) agency() channels.Agency {
	return channels.Agency{ID: "revenue", Name: "Revenue", APIURL: a.srv.URL, WebhookSecret: a.secret, CreatedAt: time.Now()}
}

func (a *revenue) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	refuse := func(code int, format string, args ...any) {
		a.t.Errorf("agency: "+format, args...)
		http.Error(w, "refused", code)
	}
	switch {
	case err != nil:
		refuse(http.StatusBadRequest, "read the body: %v", err)
		return
	case r.Method != http.MethodPost || r.URL.Path != "/operations/pin_status":
		refuse(http.StatusNotFound, "%s %s", r.Method, r.URL.Path)
		return
	case r.Header.Get("Content-Type") != "application/json":
		refuse(http.StatusUnsupportedMediaType, "Content-Type %q", r.Header.Get("Content-Type"))
		return
	}
	if err := webhook.Verify(a.secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		refuse(http.StatusUnauthorized, "signature: %v", err)
		return
	}
	req, err := agencycall.ParseRequest(body)
	if err != nil {
		refuse(http.StatusBadRequest, "%v", err)
		return
	}
	if k := r.Header.Get(agencycall.HeaderIdempotencyKey); k != req.ID || r.Header.Get(webhook.HeaderID) != req.ID {
		refuse(http.StatusBadRequest, "Idempotency-Key %q for request %q", k, req.ID)
		return
	}
	if req.Operation != "pin_status" || len(req.Params) != 1 || req.Params[0].Field != "pin" || req.Citizen.Phone == "" {
		refuse(http.StatusBadRequest, "request %+v", req)
		return
	}
	same := req
	same.SentAt = time.Time{}
	canon, _ := json.Marshal(same)

	a.mu.Lock()
	a.calls[req.ID]++
	n := a.calls[req.ID]
	if prev, ok := a.first[req.ID]; ok && !bytes.Equal(prev, canon) {
		a.mu.Unlock()
		refuse(http.StatusUnprocessableEntity, "key %s repeated with another request:\n%s\n%s", req.ID, prev, canon)
		return
	}
	a.first[req.ID] = canon
	a.mu.Unlock()

	answer := func(s string) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, s)
	}
	switch pin := req.Params[0].Value; {
	case pin == "slow" && n == 1:
		<-r.Context().Done()
		return
	case pin == "found", pin == "flaky" && n > 2, pin == "slow":
		answer(`{"outcome": "found", "result": {"name": "Amani Otieno"}}`)
	case pin == "none":
		answer(`{"outcome": "not_found"}`)
	case pin == "refuse":
		http.Error(w, "no such operation for this PIN", http.StatusUnprocessableEntity)
	default:
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}
}

// requests returns how many requests of key the agency took.
func (a *revenue) requests(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[key]
}

// returns are the fields the pin_status call of the tests declares.
var returns = map[string]*flows.Return{"name": {Type: flows.ReturnText, MaxLength: 40}}
