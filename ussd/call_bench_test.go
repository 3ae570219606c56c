package ussd

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/demoagency"
	"github.com/govchannels/channels/host"
)

// BenchmarkHopCall measures what a call step adds to a USSD hop, both in
// the same run, on a real bbolt file, with the real call client and the
// demonstration agency over loopback HTTP (signing, verifying, strict
// decoding on both sides). In the tax PIN service, "no call" is the hop
// that chooses "PIN status" and shows the PIN prompt; "call" is the next
// hop, whose PIN is sent to the agency's pin_status and whose answer is
// the found screen.
// Every session is its own phone, so that no dial meets a resume offer.
func BenchmarkHopCall(b *testing.B) {
	f := newFixture(b)
	gin.SetMode(gin.ReleaseMode)
	secret := []byte("benchmark secret of the revenue agency")
	agency, err := demoagency.New(demoagency.Config{Secrets: map[string][]byte{"": secret}})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(agency.Handler())
	b.Cleanup(hs.Close)
	ctx := context.Background()
	if err := f.db.PutAgency(ctx, channels.Agency{ID: "revenue", Name: "Revenue", APIURL: hs.URL, WebhookSecret: secret, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	client, err := agencycall.New(agencycall.Config{Agencies: f.db})
	if err != nil {
		b.Fatal(err)
	}
	srv := New(Config{
		Engine: f.engine, Sessions: f.db, Prefs: f.db, Bundle: f.bundle, Region: "KE", Now: f.clock,
		Host: &host.Store{Cases: f.db, Prefs: f.db, Now: f.clock, Agencies: client},
	})
	svc := f.engine.Catalog().Service("tax_pin")
	if svc == nil {
		b.Fatal("the shipped catalog has no tax_pin service")
	}
	title := f.bundle.Text("en", channels.Msg(svc.Title))

	n := 0
	hop := func(session, phone, text string) string {
		r, err := srv.Handle(ctx, Request{SessionID: session, Phone: phone, ServiceCode: "*384#", Text: text})
		if err != nil {
			b.Fatal(err)
		}
		return r.Text
	}
	// start dials a fresh phone, chooses the tax PIN service and returns
	// the session, the phone and the text so far.
	start := func() (string, string, string) {
		n++
		session, phone := fmt.Sprintf("bench-call-%d", n), fmt.Sprintf("+2547%08d", n)
		menu := hop(session, phone, "")
		m := regexp.MustCompile(`(?m)^(\d+)\. ` + regexp.QuoteMeta(title) + `$`).FindStringSubmatch(menu)
		if m == nil {
			b.Fatalf("no %q in the root menu:\n%s", title, menu)
		}
		hop(session, phone, m[1])
		return session, phone, m[1]
	}

	b.Run("no call", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			session, phone, key := start()
			b.StartTimer()
			hop(session, phone, key+"*1")
		}
	})
	b.Run("call", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			session, phone, key := start()
			hop(session, phone, key+"*1")
			b.StartTimer()
			if got := hop(session, phone, key+"*1*A012345678Z"); !strings.Contains(got, "Amani Otieno") {
				b.Fatalf("the call hop answered %q; want the found screen", got)
			}
		}
	})
}
