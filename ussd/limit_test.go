package ussd

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gateway"
	"github.com/govchannels/channels/ratelimit"
)

// gatedAT serves the fixture's Server, rebuilt with limits, over a real
// HTTP listener behind the gateway middleware, as cmd/channels mounts it.
func gatedAT(t *testing.T, f *fixture, limits Limits, gate gateway.Config) string {
	t.Helper()
	cfg := f.srv.cfg
	cfg.Limits = limits
	f.srv = New(cfg)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	gate.Refuse = f.srv.RefuseAT
	gate.Phone = ATPhone
	g := r.Group("/ussd/at", gateway.New(gate))
	f.srv.RegisterAT(g, "")
	f.srv.RegisterAT(g, "/:secret")
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/ussd/at"
}

// noSession fails the test when the store holds a session of id.
func (f *fixture) noSession(t *testing.T, id string) {
	t.Helper()
	if s, err := f.db.Session(t.Context(), sessionKey(id), f.clock()); channels.ErrorCode(err) != channels.ENOTFOUND {
		t.Errorf("session %s: %+v, %v; want none", id, s, err)
	}
}

// TestGatewayRefusalTouchesNoSession: a hop that does not prove it comes
// from the gateway gets 403 and an END in the default language, and no
// session is made; the same hop with the secret is served.
func TestGatewayRefusalTouchesNoSession(t *testing.T) {
	const secret = "atSecretForTests42"
	f := newFixture(t)
	target := gatedAT(t, f, Limits{}, gateway.Config{Name: "africastalking", Secret: secret})
	code, body := post(t, target, atForm("refused", phone, ""))
	if code != http.StatusForbidden || body != "END "+f.text("error.forbidden") {
		t.Errorf("without the secret: %d %q; want 403 and the END text", code, body)
	}
	f.noSession(t, "refused")
	if code, body := post(t, target+"/"+secret, atForm("served", phone, "")); code != http.StatusOK || !strings.HasPrefix(body, "CON ") {
		t.Errorf("with the secret: %d %q", code, body)
	}
	if _, err := f.db.Session(t.Context(), sessionKey("served"), f.clock()); err != nil {
		t.Errorf("the served dial left no session: %v", err)
	}
}

// TestLimits floods through the real handler: what is over a limit ends
// politely in the phone's language, is counted, and touches no session,
// while other phones are still served; the bucket refills.
func TestLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		// flood sends the hops of the test; it returns the sessions of
		// the hops that must be dropped.
		flood   func(t *testing.T, f *fixture, target string) (dropped []string)
		want    Dropped
		refills time.Duration
	}{
		{"dials per phone", Limits{DialsPerPhone: ratelimit.Per(10, 15*time.Minute), HopsPerPhone: ratelimit.Per(1000, time.Hour)},
			func(t *testing.T, f *fixture, target string) []string {
				var dropped []string
				for i := range 15 {
					sid := fmt.Sprint("flood-", i)
					if _, body := post(t, target, atForm(sid, phone, "")); i >= 10 {
						dropped = append(dropped, sid)
						if want := "END " + f.bundle.Text("fr", channels.Msg("error.busy")); body != want {
							t.Errorf("dial %d: %q, want %q", i, body, want)
						}
					} else if !strings.HasPrefix(body, "CON ") {
						t.Errorf("dial %d: %q, want the menu", i, body)
					}
				}
				return dropped
			}, Dropped{DialsPerPhone: 5}, 90 * time.Second},
		{"hops per phone", Limits{HopsPerPhone: ratelimit.Per(5, 5*time.Minute)},
			func(t *testing.T, f *fixture, target string) []string {
				for i, text := range hops("9", "9", "9", "9", "9") { // five answers refused by the menu, then one over
					_, body := post(t, target, atForm("hops", phone, text))
					if over := i == 5; over != strings.HasPrefix(body, "END ") {
						t.Errorf("hop %d: %q", i, body)
					}
				}
				return nil
			}, Dropped{HopsPerPhone: 1}, time.Minute},
		{"dials per source", Limits{DialsPerSource: ratelimit.Per(3, time.Minute)},
			func(t *testing.T, f *fixture, target string) []string {
				for i := range 3 {
					if _, body := post(t, target, atForm(fmt.Sprint("p", i), fmt.Sprintf("+25471234560%d", i), "")); !strings.HasPrefix(body, "CON ") {
						t.Errorf("phone %d: %q", i, body)
					}
				}
				if _, body := post(t, target, atForm("p3", "+254712345603", "")); !strings.HasPrefix(body, "END ") {
					t.Errorf("a fourth dial from the source: %q", body)
				}
				return []string{"p3"}
			}, Dropped{DialsPerSource: 1}, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.db.UpdatePrefs(t.Context(), phone, func(p *channels.Prefs) { p.Lang = "fr" }); err != nil {
				t.Fatal(err)
			}
			target := gatedAT(t, f, tt.limits, gateway.Config{Name: "africastalking"})
			dropped := tt.flood(t, f, target)
			for _, sid := range dropped {
				f.noSession(t, sid)
			}
			if got := f.srv.Dropped(); got != tt.want {
				t.Errorf("Dropped = %+v, want %+v", got, tt.want)
			}
			if tt.want.DialsPerSource == 0 {
				if _, body := post(t, target, atForm("other", "+254712345699", "")); !strings.HasPrefix(body, "CON ") {
					t.Errorf("another phone during the flood: %q", body)
				}
			}
			f.advance(tt.refills)
			again := phone // the flooding phone, its bucket refilled
			if tt.want.DialsPerSource > 0 {
				again = "+254712345604"
			}
			if _, body := post(t, target, atForm("later", again, "")); !strings.HasPrefix(body, "CON ") {
				t.Errorf("after the refill: %q", body)
			}
		})
	}
}
