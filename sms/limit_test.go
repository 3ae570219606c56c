package sms

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gateway"
	"github.com/govchannels/channels/ratelimit"
)

// replyRecorder is an outbox that keeps the replies queued, by recipient.
type replyRecorder struct {
	mu   sync.Mutex
	sent map[string]int
}

func (r *replyRecorder) Send(_ context.Context, ms ...*channels.Outbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range ms {
		r.sent[m.To]++
	}
	return nil
}

// TestFloodFromOnePhone floods the real Kannel edge, behind the gateway
// middleware as cmd/channels mounts it, from one phone: the replies it
// gets (in the response, or queued) stop at the cap, what is over is
// dropped with an empty 200 and recorded nowhere, other phones are still
// answered, and the phone is answered again once its bucket refills; a
// STOP over the limit still opts out.
func TestFloodFromOnePhone(t *testing.T) {
	const flood, perHour = 200, 20
	for _, mode := range []string{"inline", "outbox"} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t)
			cfg := f.srv.cfg
			cfg.PerPhone, cfg.PerSource = ratelimit.Per(perHour, time.Hour), ratelimit.Per(1000, time.Second)
			box := &replyRecorder{sent: map[string]int{}}
			if mode == "outbox" {
				cfg.Replies = box
			}
			srv, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			gin.SetMode(gin.TestMode)
			r := gin.New()
			g := r.Group("/sms/kannel", gateway.New(gateway.Config{Name: "kannel-sms", Secret: kannelSecret}))
			NewKannel(srv, KannelConfig{Secret: kannelSecret, Region: "KE"}).Register(g, "")
			app := httptest.NewServer(r)
			defer app.Close()

			replies := map[string]int{} // answers in the response bodies, by phone
			send := func(id, from string) {
				t.Helper()
				text := "MENU"
				if id == "stop" {
					text = "STOP"
				}
				resp, err := http.Get(app.URL + "/sms/kannel?" + mo(id, from, text).Encode())
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("message %s: %d %q, want 200 (Kannel retries otherwise)", id, resp.StatusCode, body)
				}
				if len(body) > 0 {
					replies[from]++
				}
			}
			for i := range flood {
				send(fmt.Sprint("flood-", i), phone)
			}
			others := []string{"+254712345601", "+254712345602"}
			for i, o := range others {
				send(fmt.Sprint("other-", i), o)
			}
			got := replies
			if mode == "outbox" {
				got = box.sent
			}
			if got[phone] != perHour {
				t.Errorf("%d replies to the flooding phone, want the cap of %d", got[phone], perHour)
			}
			for _, o := range others {
				if got[o] != 1 {
					t.Errorf("%d replies to %s during the flood, want 1", got[o], o)
				}
			}
			if d := srv.Dropped(); d != (Dropped{PerPhone: flood - perHour}) {
				t.Errorf("Dropped = %+v, want %d per phone", d, flood-perHour)
			}
			if _, err := f.db.Session(t.Context(), "sms-in/kannel/flood-"+fmt.Sprint(flood-1), f.clk.Now()); channels.ErrorCode(err) != channels.ENOTFOUND {
				t.Errorf("a dropped message was recorded: %v", err)
			}
			f.clk.Add(time.Hour / perHour)
			send("after", phone)
			if got[phone] != perHour+1 {
				t.Errorf("after a refill: %d replies, want %d", got[phone], perHour+1)
			}

			// A STOP over the limit gets no reply, but the opt-out holds.
			send("stop", phone)
			if got[phone] != perHour+1 || !f.prefs(t).OptedOut {
				t.Errorf("a STOP over the limit: %d replies, opted out %v; want no reply and the opt-out", got[phone], f.prefs(t).OptedOut)
			}
		})
	}
}

// TestLimitPerSource: one gateway address is limited as a whole, Twilio
// (which does not come through package gateway) only per phone.
func TestLimitPerSource(t *testing.T) {
	f := newFixture(t)
	cfg := f.srv.cfg
	cfg.PerSource = ratelimit.Per(3, time.Minute)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := gateway.NewContext(t.Context(), "198.51.100.7")
	for i := range 4 {
		r, err := srv.Handle(ctx, Inbound{Gateway: "kannel", ID: fmt.Sprint("s", i), From: fmt.Sprintf("+25471234560%d", i), To: "22141", Text: "MENU"})
		if err != nil || (r.Text == "") != (i == 3) {
			t.Errorf("message %d from the source: %q, %v", i, r.Text, err)
		}
	}
	if r, _ := srv.Handle(t.Context(), Inbound{Gateway: "twilio", ID: "tw", From: "+254712345609", To: "22141", Text: "MENU"}); r.Text == "" {
		t.Error("a message with no gateway source was dropped")
	}
	if d := srv.Dropped(); d != (Dropped{PerSource: 1}) {
		t.Errorf("Dropped = %+v, want 1 per source", d)
	}
}
