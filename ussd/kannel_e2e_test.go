package ussd

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels/peertest"
)

// TestKannelEndToEnd reports a problem from a phone through a real Kannel
// (bearerbox and smsbox) connected over SMPP to an operator simulator: the
// operator delivers the dial (ussd_service_op 1) and each answer (18) as
// deliver_sm; Kannel calls the dialect with %D; our pages reach the
// operator as submit_sm carrying ussd_service_op 2, then 17 with the
// reference, and the session's its_session_info each time. The case is in
// the store. Skipped when Kannel or the simulator is not installed, unless
// CHANNELS_PEERS=require.
func TestKannelEndToEnd(t *testing.T) {
	f := newFixture(t)
	router := kannelRouter(f, "e2e-secret")
	var mu sync.Mutex
	var queries []url.Values // what Kannel sent us
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Query())
		mu.Unlock()
		router.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	k := peertest.StartKannel(t, peertest.KannelOptions{
		GetURL: srv.URL + "/ussd/kannel?from=%p&to=%P&text=%a&meta=%D&id=%I&secret=e2e-secret",
		SMPP:   true,
	})

	const from, code = "254712345678", "*384#"
	session := [2]byte{0x5c, 0x00}
	// page sends one MO and returns the page the operator got for it.
	page := func(text string, op byte) peertest.MT {
		t.Helper()
		k.SendUSSD(t, from, code, text, op, session)
		mt, ok := k.MT(t, 10*time.Second)
		if !ok {
			t.Fatalf("no answer reached the operator after %q (op %d); Kannel logs in %s", text, op, k.Dir)
		}
		if mt.To != from || string(mt.SessionInfo) != string(session[:]) {
			t.Fatalf("answer to %q: %+v, want it to %s with its_session_info %x", text, mt, from, session)
		}
		return mt
	}

	mt := page(code, opPSSRIndication)
	if mt.USSDServiceOp != opUSSRRequest || !strings.HasPrefix(mt.Text, f.text("home.title")+"\n") {
		t.Fatalf("dial: %+v, want the root menu with op 2", mt)
	}
	for i, in := range reportInputs {
		mt = page(in, opUSSRConfirm)
		want := opUSSRRequest
		if i == len(reportInputs)-1 {
			want = opPSSRResponse
		}
		if mt.USSDServiceOp != want {
			t.Fatalf("after %q: op %d (%q), want %d", in, mt.USSDServiceOp, mt.Text, want)
		}
	}
	if !strings.HasPrefix(mt.Text, "Report received.") || !refPattern.MatchString(mt.Text) {
		t.Fatalf("final page %q", mt.Text)
	}
	cs := f.cases(t)
	if len(cs) != 1 || !strings.Contains(mt.Text, cs[0].Ref) || cs[0].Service != "report_problem" {
		t.Fatalf("%d cases, want the one report whose reference is in %q", len(cs), mt.Text)
	}
	if a := cs[0].Answers; a[1].Value != reportInputs[2] || a[2].Value != reportInputs[3] {
		t.Errorf("answers = %+v", a)
	}
	// Nothing more goes to the phone once the session is released.
	if extra, ok := k.MT(t, 500*time.Millisecond); ok {
		t.Errorf("after the final page the operator got %+v", extra)
	}
	mu.Lock()
	for _, q := range queries {
		if !strings.HasPrefix(q.Get("meta"), "?smpp?") || q.Get("id") == "" {
			t.Errorf("Kannel sent meta %q, id %q; want the smpp group and a message ID", q.Get("meta"), q.Get("id"))
		}
	}
	mu.Unlock()

	t.Run("the same answer twice is two inputs", func(t *testing.T) {
		// Kannel gives each deliver_sm its own message ID.
		session = [2]byte{0x5d, 0x00}
		page(code, opPSSRIndication)
		first, again := page("3", opUSSRConfirm), page("3", opUSSRConfirm)
		if !strings.HasPrefix(first.Text, f.text("report.category")) || !strings.HasPrefix(again.Text, f.text("report.location")) {
			t.Fatalf("the same answer twice: %q then %q, want the categories then the location", first.Text, again.Text)
		}
	})

	t.Run("operator aborts", func(t *testing.T) {
		session = [2]byte{0x5e, 0x00}
		page(code, opPSSRIndication)
		k.SendUSSD(t, from, code, "", 0x21, session)
		if mt, ok := k.MT(t, time.Second); ok {
			t.Errorf("after an abort the operator got %+v, want nothing", mt)
		}
	})
}
