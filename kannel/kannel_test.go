package kannel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/kannel"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/peertest"
)

// dlrSink records the delivery reports Kannel posts.
type dlrSink struct {
	mu      sync.Mutex
	reports []url.Values
}

func (d *dlrSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.reports = append(d.reports, r.URL.Query())
	d.mu.Unlock()
}

// waitKey returns the first report for key, waiting up to 5 s.
func (d *dlrSink) waitKey(t *testing.T, key string) url.Values {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		for _, r := range d.reports {
			if r.Get("key") == key {
				d.mu.Unlock()
				return r
			}
		}
		d.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t.Fatalf("no delivery report for key %q; got %v", key, d.reports)
	return nil
}

// TestSendKannel sends through a real Kannel to its fakesmsc: the text
// must arrive as written and the delivery report must find our key.
func TestSendKannel(t *testing.T) {
	k := peertest.StartKannel(t, peertest.KannelOptions{})
	sink := &dlrSink{}
	dlr := httptest.NewServer(sink)
	defer dlr.Close()
	s, err := kannel.New(kannel.Config{
		SendSMSURL: k.SendSMSURL, Username: k.Username, Password: k.Password,
		From: "8080", DLRURL: dlr.URL + "/sms/kannel/dlr?gw=kannel",
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, key, to, text string
	}{
		{"gsm", "case/42 notice#1", "+256700000001", "Your case 42 is ready. Reply STOP to stop."},
		{"gsm extension and latin", "otp-100%-ä", "+256700000002", "Fee: 10€ [paid] é"},
		{"arabic ucs2", "reply:ar", "+201000000000", "مرحبا"},
		{"emoji outside UCS-2 BMP", "reply:emoji", "+201000000001", "ok 👍"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.Send(context.Background(), &channels.Outbound{Key: tt.key, To: tt.to, Text: tt.text})
			if err != nil || id != tt.key {
				t.Fatalf("Send = %q, %v; want %q, nil", id, err, tt.key)
			}
			mt, ok := k.MT(t, 5*time.Second)
			if !ok {
				t.Fatal("the message never reached the SMSC")
			}
			if mt.To != tt.to || mt.From != "8080" || mt.Text != tt.text {
				t.Errorf("SMSC got %+v, want from 8080 to %s text %q", mt, tt.to, tt.text)
			}
			r := sink.waitKey(t, tt.key)
			code, _ := strconv.Atoi(r.Get("status"))
			status, known := kannel.DLRStatus(code)
			// The fake SMSC reports both "accepted by the SMSC" (8) and
			// "delivered" (1), in no fixed order.
			if !known || (status != channels.OutboundSent && status != channels.OutboundDelivered) ||
				r.Get("smsc_id") != k.SMSCID || r.Get("gw") != "kannel" {
				t.Errorf("delivery report %v: status %q (known %v), want sent or delivered from smsc %s", r, status, known, k.SMSCID)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		bad, err := kannel.New(kannel.Config{SendSMSURL: k.SendSMSURL, Username: k.Username, Password: "wrong", From: "8080"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.Send(context.Background(), &channels.Outbound{Key: "k", To: "+256700000001", Text: "hi"})
		if reason, ok := outbox.IsPermanent(err); !ok || reason != "rejected_403" {
			t.Errorf("Send with a wrong password = %v, want permanent rejected_403", err)
		}
	})
}

// TestSendUnavailable checks that a gateway that cannot take the message
// now is retried, not given up: a full queue (Kannel's 503), a closed
// port, a canceled context.
func TestSendUnavailable(t *testing.T) {
	full := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What smsbox answers when bearerbox's queue is full.
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("4: Message queue full"))
	}))
	defer full.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		url  string
		ctx  context.Context
	}{
		{"queue full 503", full.URL + "/cgi-bin/sendsms", context.Background()},
		{"connection refused", closed.URL + "/cgi-bin/sendsms", context.Background()},
		{"context canceled", full.URL + "/cgi-bin/sendsms", canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := kannel.New(kannel.Config{SendSMSURL: tt.url, Username: "u", Password: "secret-pw", From: "8080"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Send(tt.ctx, &channels.Outbound{Key: "k", To: "+256700000001", Text: "hi"})
			if err == nil {
				t.Fatal("Send succeeded, want a retryable error")
			}
			if reason, ok := outbox.IsPermanent(err); ok {
				t.Errorf("Send error %v is permanent (%s), want retryable", err, reason)
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

// TestDLRStatus pins the meaning of Kannel's report types.
func TestDLRStatus(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		want   channels.OutboundStatus
		wantOK bool
	}{
		{"delivered", 1, channels.OutboundDelivered, true},
		{"failed", 2, channels.OutboundFailed, true},
		{"buffered", 4, channels.OutboundSent, true},
		{"smsc submit", 8, channels.OutboundSent, true},
		{"smsc reject", 16, channels.OutboundFailed, true},
		{"intermediate", 32, channels.OutboundSent, true},
		{"unknown", 3, "", false},
		{"zero", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := kannel.DLRStatus(tt.code)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("DLRStatus(%d) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
