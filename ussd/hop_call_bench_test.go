package ussd

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/locales"
)

// hopAgency is the revenue agency of testdata/hop: a real HTTP server
// that checks every call as a real agency would (path, then
// agencycall.Receive, then params that are the PIN) and answers found
// with answer. A refused request is answered its 4xx, which the hop shows
// as its failed exit, and recorded for the benchmark to fail on.
type hopAgency struct {
	*httptest.Server
	secret []byte
	answer []byte

	mu      sync.Mutex
	refused []string
}

func newHopAgency(t testing.TB, answer []byte) *hopAgency {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	ag := &hopAgency{secret: secret, answer: answer}
	ag.Server = httptest.NewServer(http.HandlerFunc(ag.serve))
	t.Cleanup(ag.Close)
	return ag
}

func (ag *hopAgency) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/operations/pin_check" {
		ag.refuse(w, &agencycall.Refusal{Status: http.StatusNotFound, Reason: r.Method + " " + r.URL.Path})
		return
	}
	req, err := agencycall.Receive(w, r, ag.secret, "pin_check", time.Now())
	if err != nil {
		ag.refuse(w, err)
		return
	}
	if req.Service != "call" || len(req.Params) != 1 || req.Params[0] != (channels.Answer{Field: "pin", Value: "A012345678Z"}) {
		ag.refuse(w, &agencycall.Refusal{Status: http.StatusBadRequest, Reason: fmt.Sprintf("service %q with params %v", req.Service, req.Params)})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(ag.answer)
}

// refuse records why a call was refused and answers it with the
// refusal's status.
func (ag *hopAgency) refuse(w http.ResponseWriter, err error) {
	why := err.(*agencycall.Refusal)
	ag.mu.Lock()
	ag.refused = append(ag.refused, why.Error())
	ag.mu.Unlock()
	http.Error(w, "refused", why.Status)
}

// hopAnswer is a found answer naming the PIN's holder, padded with list
// items of testdata/hop's declared lists until it has at least size
// bytes (none when size is 0).
func hopAnswer(t testing.TB, size int) []byte {
	t.Helper()
	result := map[string]any{"name": "Amani Otieno"}
	encode := func() []byte {
		b, err := json.Marshal(map[string]any{"outcome": "found", "result": result})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	value := strings.Repeat("Huduma Centre, Kisumu. ", 7)[:150]
	for list := 1; list <= 11 && len(encode()) < size; list++ {
		var items []map[string]string
		for i := 1; i <= 9 && len(encode()) < size; i++ {
			items = append(items, map[string]string{"id": fmt.Sprintf("item-%02d-%d", list, i), "value": value})
			result["l"+strconv.Itoa(list)] = items
		}
	}
	b := encode()
	if len(b) < size {
		t.Fatalf("the declared lists hold %d bytes of answer, fewer than %d", len(b), size)
	}
	return b
}

// hopRig is the USSD server of testdata/hop behind the Africa's Talking
// handler over real HTTP, on a real bbolt file, its host calling agencies
// with the real agencycall.Client.
type hopRig struct {
	target string
	client *http.Client
	bundle *locales.Bundle
}

func newHopRig(t testing.TB, agencyURL string, secret []byte) *hopRig {
	t.Helper()
	cat, err := flows.Load(os.DirFS("testdata/hop"))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := os.OpenRoot("testdata/hop/locales")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loc.Close() })
	bundle, err := locales.New(loc.FS())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: "KE"})
	if err != nil {
		t.Fatal(err)
	}
	db := channelstest.OpenStore(t)
	if err := db.PutAgency(context.Background(), channels.Agency{ID: "revenue", Name: "Revenue Authority", APIURL: agencyURL + "/v1", WebhookSecret: secret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	caller, err := agencycall.New(agencycall.Config{Agencies: db})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Engine: engine, Host: &host.Store{Cases: db, Prefs: db, Log: db, Agencies: caller},
		Sessions: db, Prefs: db, Bundle: bundle, Region: "KE"})
	gin.SetMode(gin.TestMode)
	r := gin.New()
	srv.RegisterAT(r, "/ussd/at")
	hs := httptest.NewServer(r)
	t.Cleanup(hs.Close)
	return &hopRig{target: hs.URL + "/ussd/at", client: hs.Client(), bundle: bundle}
}

// post sends one hop as Africa's Talking does and returns its reply.
func (r *hopRig) post(ctx context.Context, session, text string) (string, error) {
	body := url.Values{"sessionId": {session}, "serviceCode": {"*384#"}, "phoneNumber": {phone}, "networkCode": {"63902"}, "text": {text}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.target, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", formType)
	resp, err := r.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("hop %q of %s: %w", text, session, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("hop %q of %s: %w", text, session, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("hop %q of %s: status %d: %s", text, session, resp.StatusCode, reply)
	}
	return string(reply), nil
}

// BenchmarkHopCallStep compares, in one run, the USSD hop that enters a call
// step with its twin that enters an end step: each op is a session of
// testdata/hop over the Africa's Talking handler (dial, choose the
// service, send the PIN), the last hop ending on the found screen after a
// signed call to a local agency ("call") or without one ("plain").
// ns/op is per session; ns/pin-hop is the last hop alone, the one the
// call is made in. call_1KiB and call_16KiB answer at least that many
// bytes, within the declared returns.
func BenchmarkHopCallStep(b *testing.B) {
	cases := []struct {
		name    string
		service string // the key of the root menu
		answer  int    // bytes of the agency's answer, at least; -1 for no call
		want    string // the message ID of the last screen
	}{
		{name: "plain", service: "1", answer: -1, want: "hop.plain.show"},
		{name: "call", service: "2", answer: 0, want: "hop.call.show"},
		{name: "call_1KiB", service: "2", answer: 1 << 10, want: "hop.call.show"},
		{name: "call_16KiB", service: "2", answer: 16 << 10, want: "hop.call.show"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			answer := hopAnswer(b, max(tc.answer, 0))
			ag := newHopAgency(b, answer)
			rig := newHopRig(b, ag.URL, ag.secret)
			want := "END " + rig.bundle.Text("en", channels.Msg(tc.want, "Result", map[string]string{"name": "Amani Otieno"}))
			ctx := context.Background()
			var last time.Duration
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				sid := "ATUid_" + tc.name + "_" + strconv.Itoa(n)
				n++
				for _, text := range []string{"", tc.service} {
					if _, err := rig.post(ctx, sid, text); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				reply, err := rig.post(ctx, sid, tc.service+"*A012345678Z")
				last += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if reply != want {
					b.Fatalf("the PIN hop answered %q, want %q", reply, want)
				}
			}
			b.ReportMetric(float64(last.Nanoseconds())/float64(n), "ns/pin-hop")
			if tc.answer >= 0 {
				b.ReportMetric(float64(len(answer)), "answer-B")
			}
			ag.mu.Lock()
			defer ag.mu.Unlock()
			for _, p := range ag.refused {
				b.Errorf("the agency refused a call: %s", p)
			}
		})
	}
}
