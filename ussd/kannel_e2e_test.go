package ussd

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
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
	f := newKannelFixture(t)
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

// TestKannelPages finds out, through a real Kannel over SMPP, what reaches
// the operator for a page at KannelLayout's budgets and just over them,
// with the sms-service cutting a reply to one SMS (max-messages = 1, as
// the dialect asks) or joining several (concatenation): a page of 160
// GSM-7 characters or 70 UCS-2 units arrives whole, as one submit_sm
// without a user data header; one character more arrives cut, or split in
// two. Then an Arabic citizen pages through the root menu, which the
// protocol's 80 UCS-2 units would send as one page of 80: every page the
// dialect sends reaches the operator whole, as one message.
func TestKannelPages(t *testing.T) {
	layout := KannelLayout(0)
	repeat := func(s string, n int) string { return string([]rune(strings.Repeat(s, n))[:n]) }
	const arabic = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي "
	sizes := []struct {
		name  string
		body  string
		whole bool
	}{
		{"GSM-7 page of 160", repeat("Kisumu market ", layout.MaxChars), true},
		{"GSM-7 page of 160 septets with an escape", repeat("Kisumu market ", layout.MaxChars-2) + "{", true},
		{"GSM-7 page of 161", repeat("Kisumu market ", layout.MaxChars+1), false},
		{"GSM-7 page of 161 septets with an escape", repeat("Kisumu market ", layout.MaxChars-1) + "€", false},
		{"UCS-2 page of 70", repeat(arabic, layout.UCS2MaxChars), true},
		{"UCS-2 page of 71", repeat(arabic, layout.UCS2MaxChars+1), false},
		{"UCS-2 page of 80", repeat(arabic, 80), false},
	}
	for _, config := range []struct {
		name        string
		maxMessages int
	}{
		{"max-messages 1", 1},
		{"concatenation", 10},
	} {
		t.Run(config.name, func(t *testing.T) {
			f := newKannelFixture(t)
			if err := f.db.PutPrefs(context.Background(), phone, channels.Prefs{Lang: "ar"}); err != nil {
				t.Fatal(err)
			}
			router := kannelRouter(f, "")
			var mu sync.Mutex
			var raw string    // when set, the body of the next answer instead of the dialect's
			var sent []string // the bodies we answered
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				body := raw
				mu.Unlock()
				if body == "" {
					rec := httptest.NewRecorder()
					router.ServeHTTP(rec, r)
					for k, v := range rec.Header() {
						w.Header()[k] = v
					}
					w.WriteHeader(rec.Code)
					w.Write(rec.Body.Bytes())
					body = rec.Body.String()
				} else {
					coding := "0"
					if measure(body).ucs2 {
						coding = "2"
					}
					w.Header().Set("X-Kannel-Meta-Data", kannelMeta(opUSSRRequest, [2]byte{0x70, 0}))
					w.Header().Set("X-Kannel-Coding", coding)
					w.Header().Set("Content-Type", "text/plain; charset=utf-8")
					io.WriteString(w, body)
				}
				mu.Lock()
				sent = append(sent, body)
				mu.Unlock()
			}))
			t.Cleanup(srv.Close)
			k := peertest.StartKannel(t, peertest.KannelOptions{
				GetURL:      srv.URL + "/ussd/kannel?from=%p&to=%P&text=%a&meta=%D&id=%I",
				SMPP:        true,
				MaxMessages: config.maxMessages,
			})
			const from = "254712345678"
			// received sends one MO and returns every message the operator
			// got for it: one, unless Kannel split the page.
			received := func(text string, op byte, session [2]byte) []peertest.MT {
				t.Helper()
				k.SendUSSD(t, from, "*384#", text, op, session)
				mt, ok := k.MT(t, 10*time.Second)
				if !ok {
					t.Fatalf("no answer reached the operator after %q; Kannel logs in %s", text, k.Dir)
				}
				mts := []peertest.MT{mt}
				for {
					// The parts of a split page leave Kannel together.
					mt, ok := k.MT(t, time.Second)
					if !ok {
						return mts
					}
					mts = append(mts, mt)
				}
			}
			whole := func(mts []peertest.MT, page string) bool {
				return len(mts) == 1 && mts[0].Text == page && mts[0].UDH == nil
			}

			for i, size := range sizes {
				t.Run(size.name, func(t *testing.T) {
					mu.Lock()
					raw = size.body
					mu.Unlock()
					mts := received("*384#", opPSSRIndication, [2]byte{byte(0x70 + i), 0})
					if got := whole(mts, size.body); got != size.whole {
						t.Errorf("a page of %s reached the operator whole: %v, want %v; it got %d message(s): %+v", sizeLabel(size.body), got, size.whole, len(mts), mts)
					}
					wantCoding := 0
					if measure(size.body).ucs2 {
						wantCoding = 8
					}
					for _, mt := range mts {
						if mt.DataCoding != wantCoding || mt.USSDServiceOp != opUSSRRequest {
							t.Errorf("data_coding %d, ussd_service_op %d; want %d and %d", mt.DataCoding, mt.USSDServiceOp, wantCoding, opUSSRRequest)
						}
					}
				})
			}

			t.Run("Arabic root menu", func(t *testing.T) {
				mu.Lock()
				raw, sent = "", nil
				mu.Unlock()
				home, err := f.engine.Start(channels.ChannelUSSD, "ar", "")
				if err != nil {
					t.Fatal(err)
				}
				if p := Pages(f.bundle, "ar", home.Screen, Layout{MaxChars: layout.MaxChars}); measure(p[0]).units <= layout.UCS2MaxChars {
					t.Errorf("the Arabic root menu at 80 UCS-2 units is %s: it no longer shows what Kannel does to a longer page", sizeLabel(p[0]))
				}
				session := [2]byte{0x7f, 0}
				pages := [][]peertest.MT{received("*384#", opPSSRIndication, session)}
				for len(pages) < 5 && strings.Contains(pages[len(pages)-1][0].Text, "98. ") {
					pages = append(pages, received("98", opUSSRConfirm, session))
				}
				mu.Lock()
				defer mu.Unlock()
				if len(pages) < 2 || len(sent) != len(pages) {
					t.Fatalf("%d pages reached the operator for %d sent, want the root menu on 2 or more", len(pages), len(sent))
				}
				for i, mts := range pages {
					if !whole(mts, sent[i]) || mts[0].DataCoding != 8 || !layout.Fits(mts[0].Text) {
						t.Errorf("page %d (%s) did not reach the operator whole as one UCS-2 message: %+v", i+1, sizeLabel(sent[i]), mts)
					}
				}
			})
		})
	}
}

// TestKannelRetriedRequest: Kannel sends a get-url request again, with the
// same message ID, when the first answer did not reach it; the dialect
// answers it as it answered the first, and the session does not move.
// Here the answers to the first request for each message ID are lost
// after the dialect gave them.
func TestKannelRetriedRequest(t *testing.T) {
	f := newKannelFixture(t)
	router := kannelRouter(f, "")
	var mu sync.Mutex
	seen := map[string]int{} // requests per message ID
	var answers []string     // the pages the dialect gave, lost ones included
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, r)
		mu.Lock()
		id := r.URL.Query().Get("id")
		seen[id]++
		first := seen[id] == 1
		answers = append(answers, rec.Body.String())
		mu.Unlock()
		if first {
			http.Error(w, "lost", http.StatusServiceUnavailable)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	k := peertest.StartKannel(t, peertest.KannelOptions{
		GetURL:      srv.URL + "/ussd/kannel?from=%p&to=%P&text=%a&meta=%D&id=%I",
		SMPP:        true,
		MaxMessages: 1,
		HTTPRetries: 2,
	})
	session := [2]byte{0x7e, 0}
	for _, step := range []struct {
		text string
		op   byte
		want string
	}{
		{"*384#", opPSSRIndication, f.text("home.title") + "\n"},
		{"3", opUSSRConfirm, f.text("report.category")},
		{"1", opUSSRConfirm, f.text("report.location")},
	} {
		k.SendUSSD(t, "254712345678", "*384#", step.text, step.op, session)
		mt, ok := k.MT(t, 15*time.Second)
		if !ok {
			t.Fatalf("no answer reached the operator after %q; Kannel logs in %s", step.text, k.Dir)
		}
		if !strings.HasPrefix(mt.Text, step.want) {
			t.Fatalf("after %q the operator got %q, want %q…", step.text, mt.Text, step.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(answers) != 6 {
		t.Fatalf("%d requests, want each of 3 sent twice: %v", len(answers), seen)
	}
	for i := 0; i < len(answers); i += 2 {
		if answers[i] != answers[i+1] {
			t.Errorf("request %d got %q, its retry %q", i/2, answers[i], answers[i+1])
		}
	}
}
