package sms

import (
	"context"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/kannel"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/peertest"
)

const kannelSecret = "s3cretKannelKey42"

// TestServiceOverKannel completes a whole service by SMS through a real
// Kannel (bearerbox and smsbox, linked by SMPP to an operator simulator):
// inbound messages reach the get-url, and replies go back either as its
// response body or through the outbox and sendsms, whose delivery reports
// come back to the dlr-url.
func TestServiceOverKannel(t *testing.T) {
	for _, replies := range []string{"inline", "outbox"} {
		t.Run(replies, func(t *testing.T) {
			f := newFixture(t)
			f.srv.cfg.Now = time.Now // Kannel and the outbox run on real time
			gin.SetMode(gin.TestMode)
			r := gin.New()
			NewKannel(f.srv, KannelConfig{Secret: kannelSecret, Region: "KE"}).Register(r, "/sms/kannel")
			app := httptest.NewServer(r)
			defer app.Close()

			secret := url.QueryEscape(kannelSecret)
			// The operator link is SMPP, as in production: Kannel's
			// fakesmsc protocol is one line a message and cannot carry
			// a menu's line breaks.
			k := peertest.StartKannel(t, peertest.KannelOptions{
				SMPP:   true,
				GetURL: app.URL + "/sms/kannel?from=%p&to=%P&text=%a&id=%I&coding=%c&charset=%C&secret=" + secret,
			})
			var box *outbox.Outbox
			var queued *keyRecorder
			if replies == "outbox" {
				sender, err := kannel.New(kannel.Config{
					SendSMSURL: k.SendSMSURL, Username: k.Username, Password: k.Password, From: "22141",
					DLRURL: app.URL + "/sms/kannel/dlr?secret=" + secret,
				})
				if err != nil {
					t.Fatal(err)
				}
				box = outbox.New(outbox.Config{Store: f.db, Prefs: f.db, Sender: sender, Rate: 50})
				queued = &keyRecorder{Outbox: box}
				f.srv.cfg.Replies, f.srv.cfg.Reports = queued, box
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); box.Run(ctx) }()
				defer func() { cancel(); <-done }()
			}

			msgs := []string{"PROBLEM", "1", "Kisumu, near the bus park", "Broken water pipe", "1"}
			var last string
			for _, m := range msgs {
				k.SendMO(t, phone, "22141", m)
				mt, ok := k.MT(t, 10*time.Second)
				if !ok {
					t.Fatalf("no reply to %q reached the phone", m)
				}
				if strings.TrimPrefix(mt.To, "+") != phone[1:] { // SMPP numbers carry no "+"
					t.Errorf("reply to %q went to %s", m, mt.To)
				}
				last = mt.Text
			}
			cs := f.cases(t)
			if len(cs) != 1 || !strings.Contains(last, cs[0].Ref) || cs[0].Channel != channels.ChannelSMS {
				t.Fatalf("last reply %q, cases %+v: want one SMS case whose reference was sent", last, cs)
			}
			if replies == "inline" {
				return
			}
			// Every reply went through sendsms; the operator reports each
			// delivered, and the reports reach the outbox by our key.
			keys := queued.list()
			if len(keys) != len(msgs) {
				t.Fatalf("%d replies queued, want %d", len(keys), len(msgs))
			}
			deadline := time.Now().Add(15 * time.Second)
			for _, key := range keys {
				for {
					m, err := f.db.Outbound(context.Background(), key)
					if err != nil {
						t.Fatal(err)
					}
					if m.Status == channels.OutboundDelivered && m.Sender == "kannel" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("reply %s is %s (%s), want delivered", key, m.Status, m.Reason)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
}

// keyRecorder is an outbox that remembers the keys queued through it.
type keyRecorder struct {
	Outbox
	mu   sync.Mutex
	keys []string
}

func (r *keyRecorder) Send(ctx context.Context, ms ...*channels.Outbound) error {
	r.mu.Lock()
	for _, m := range ms {
		if !slices.Contains(r.keys, m.Key) {
			r.keys = append(r.keys, m.Key)
		}
	}
	r.mu.Unlock()
	return r.Outbox.Send(ctx, ms...)
}

func (r *keyRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}
