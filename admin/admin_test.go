package admin_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/store/bolt"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// setup is the operations on a real store, either direct or through a
// live admin socket, and the store and log behind them.
type setup struct {
	ops   admin.Operations
	db    *bolt.DB
	clock *channelstest.Clock
	logs  *channelstest.LogBuffer
}

// direct runs the operations on the store itself.
func direct(t *testing.T) setup {
	db := channelstest.OpenStore(t)
	clock := channelstest.NewClock(start)
	return setup{ops: admin.New(db, agency.NewKey, clock.Now), db: db, clock: clock, logs: &channelstest.LogBuffer{}}
}

// socket runs the operations through an admin socket served by a real
// server over the store, as `channels serve` does.
func socket(t *testing.T) setup {
	s := direct(t)
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.NewServer(s.ops.(*admin.Admin), slog.New(slog.NewTextHandler(s.logs, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.ops = admin.NewClient(path)
	return s
}

var ways = []struct {
	name string
	open func(t *testing.T) setup
}{
	{"direct", direct},
	{"socket", socket},
}

// wantError checks that err is a *channels.Error of code whose detail says
// what.
func wantError(t *testing.T, err error, code, what string) {
	t.Helper()
	var e *channels.Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Detail, what) {
		t.Errorf("error %v, want %s saying %q", err, code, what)
	}
}

// opens reports whether plaintext opens the agency API as a key of agencyID.
func opens(t *testing.T, db *bolt.DB, plaintext, agencyID string) bool {
	t.Helper()
	k, err := agency.Authenticate(context.Background(), db, plaintext)
	if channels.ErrorCode(err) == channels.EUNAUTHORIZED {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return k.Agency == agencyID
}

func TestAddAgency(t *testing.T) {
	tests := []struct {
		name, id, agencyName, webhook string
		code, why                     string // of the refusal; "" when it is accepted
	}{
		{"no webhook", "civil_registry", "Civil Registry", "", "", ""},
		{"https webhook", "county_works", "County Works", "https://works.county.example/hooks/channels?v=1", "", ""},
		{"http to localhost", "dev_agency", "Dev", "http://localhost:8081/hook", "", ""},
		{"http to 127.0.0.1", "dev_agency2", "Dev", "http://127.0.0.1:8081/hook", "", ""},
		{"40 characters", strings.Repeat("a", 40), "Long", "", "", ""},
		{"2 characters", "ab", "Short", "", "", ""},
		{"digits and _", "ward_7", "  Ward 7  ", "", "", ""},
		{"http elsewhere", "lands", "Lands", "http://lands.example/hook", channels.EINVALID, "must be https"},
		{"not a URL", "lands", "Lands", "lands.example/hook", channels.EINVALID, "not an absolute URL"},
		{"credentials in the URL", "lands", "Lands", "https://u:p@lands.example/hook", channels.EINVALID, "credentials"},
		{"other scheme", "lands", "Lands", "ftp://lands.example/hook", channels.EINVALID, "must be https"},
		{"capitals", "Lands", "Lands", "", channels.EINVALID, `agency id "Lands" must be 2 to 40`},
		{"dash", "civil-registry", "Civil", "", channels.EINVALID, "must be 2 to 40"},
		{"one character", "a", "A", "", channels.EINVALID, "must be 2 to 40"},
		{"41 characters", strings.Repeat("a", 41), "Long", "", channels.EINVALID, "must be 2 to 40"},
		{"empty id", "", "Nothing", "", channels.EINVALID, "must be 2 to 40"},
		{"no name", "lands", " ", "", channels.EINVALID, "agency name"},
		{"name on two lines", "lands", "Lands\nand Survey", "", channels.EINVALID, "agency name"},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					out, err := s.ops.AddAgency(ctx, tt.id, tt.agencyName, tt.webhook, "")
					if tt.code != "" {
						wantError(t, err, tt.code, tt.why)
						if _, err := s.db.Agency(ctx, tt.id); channels.ErrorCode(err) != channels.ENOTFOUND {
							t.Errorf("a refused agency was stored: %v", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					stored, err := s.db.Agency(ctx, tt.id)
					if err != nil {
						t.Fatal(err)
					}
					if stored.Name != strings.TrimSpace(tt.agencyName) || stored.WebhookURL != tt.webhook || !stored.CreatedAt.Equal(start) {
						t.Errorf("stored %+v", stored)
					}
					if !opens(t, s.db, out.Key.Plaintext, tt.id) || out.Key.Agency != tt.id || !strings.Contains(out.Key.Plaintext, out.Key.ID) {
						t.Errorf("the new key %+v does not open the API for %s", out.Key, tt.id)
					}
					secret, _ := hex.DecodeString(out.WebhookSecret)
					switch {
					case tt.webhook == "" && (out.WebhookSecret != "" || stored.WebhookSecret != nil):
						t.Errorf("a secret without a webhook: %q", out.WebhookSecret)
					case tt.webhook != "" && (len(secret) != 32 || !bytes.Equal(secret, stored.WebhookSecret)):
						t.Errorf("webhook secret %q, stored %x", out.WebhookSecret, stored.WebhookSecret)
					}
					if len(out.Agency.Keys) != 1 || out.Agency.Keys[0].ID != out.Key.ID || out.Agency.HasSecret != (tt.webhook != "") {
						t.Errorf("agency %+v", out.Agency)
					}
				})
			}
			t.Run("twice", func(t *testing.T) {
				_, err := s.ops.AddAgency(ctx, "civil_registry", "Another", "", "")
				wantError(t, err, channels.ECONFLICT, "agency civil_registry exists already")
				if a, _ := s.db.Agency(ctx, "civil_registry"); a == nil || a.Name != "Civil Registry" {
					t.Errorf("the agency was replaced: %+v", a)
				}
			})
		})
	}
}

// TestKeys makes and revokes keys: a revoked key no longer opens the API
// while the agency's other keys do, and a key is revoked once.
func TestKeys(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			first, err := s.ops.AddAgency(ctx, "civil_registry", "Civil Registry", "", "")
			if err != nil {
				t.Fatal(err)
			}
			s.clock.Add(time.Hour)
			second, err := s.ops.AddKey(ctx, "civil_registry")
			if err != nil {
				t.Fatal(err)
			}
			if second.ID == first.Key.ID || !opens(t, s.db, second.Plaintext, "civil_registry") || !second.CreatedAt.Equal(start.Add(time.Hour)) {
				t.Fatalf("second key %+v", second)
			}
			_, err = s.ops.AddKey(ctx, "lands")
			wantError(t, err, channels.ENOTFOUND, `no agency "lands"`)

			s.clock.Add(time.Hour)
			revoked, err := s.ops.RevokeKey(ctx, first.Key.ID)
			if err != nil {
				t.Fatal(err)
			}
			if revoked.ID != first.Key.ID || !revoked.RevokedAt.Equal(start.Add(2*time.Hour)) {
				t.Errorf("revoked %+v", revoked)
			}
			if opens(t, s.db, first.Key.Plaintext, "civil_registry") {
				t.Error("the revoked key still opens the API")
			}
			if !opens(t, s.db, second.Plaintext, "civil_registry") {
				t.Error("revoking one key closed the other")
			}
			_, err = s.ops.RevokeKey(ctx, first.Key.ID)
			wantError(t, err, channels.ECONFLICT, "was revoked already, at 2026-03-02T11:00:00Z")
			_, err = s.ops.RevokeKey(ctx, "aaaaaaaaaaaaaaaa")
			wantError(t, err, channels.ENOTFOUND, `no key "aaaaaaaaaaaaaaaa"`)
		})
	}
}

// TestListAgencies lists agencies and keys, revoked ones included, and
// never a secret, a hash or a plaintext key.
func TestListAgencies(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			if list, err := s.ops.ListAgencies(ctx); err != nil || len(list) != 0 {
				t.Fatalf("empty store: %v %v", list, err)
			}
			works, err := s.ops.AddAgency(ctx, "county_works", "County Works", "https://works.example/hook", "")
			if err != nil {
				t.Fatal(err)
			}
			s.clock.Add(time.Minute)
			civil, err := s.ops.AddAgency(ctx, "civil_registry", "Civil Registry", "", "")
			if err != nil {
				t.Fatal(err)
			}
			s.clock.Add(time.Minute)
			extra, err := s.ops.AddKey(ctx, "county_works")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ops.RevokeKey(ctx, works.Key.ID); err != nil {
				t.Fatal(err)
			}
			list, err := s.ops.ListAgencies(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range list {
				line := a.ID + " " + a.Name + " " + a.WebhookURL
				for _, k := range a.Keys {
					line += " " + k.ID
					if !k.RevokedAt.IsZero() {
						line += "(revoked)"
					}
				}
				got = append(got, line)
			}
			want := []string{
				"civil_registry Civil Registry  " + civil.Key.ID,
				"county_works County Works https://works.example/hook " + works.Key.ID + "(revoked) " + extra.ID,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			data, err := json.Marshal(list)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte("hash")) {
				t.Errorf("the list shows a hash: %s", data)
			}
			for _, secret := range []string{works.Key.Plaintext, civil.Key.Plaintext, extra.Plaintext, works.WebhookSecret} {
				tail := secret[len(secret)/2:]
				if bytes.Contains(data, []byte(tail)) || strings.Contains(s.logs.String(), tail) {
					t.Errorf("the list or the log shows a secret:\n%s\n%s", data, s.logs.String())
				}
			}
		})
	}
}

// TestSetWebhook sets, keeps, rotates and removes a webhook and its secret.
func TestSetWebhook(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			if _, err := s.ops.AddAgency(ctx, "lands", "Lands", "", ""); err != nil {
				t.Fatal(err)
			}
			var secrets []string
			steps := []struct {
				name, url  string
				rotate     bool
				code, why  string
				newSecret  bool // a secret is returned (and stored)
				wantStored string
			}{
				{"first URL makes a secret", "https://lands.example/a", false, "", "", true, "https://lands.example/a"},
				{"new URL keeps the secret", "https://lands.example/b", false, "", "", false, "https://lands.example/b"},
				{"rotation makes another", "https://lands.example/b", true, "", "", true, "https://lands.example/b"},
				{"plain http refused", "http://lands.example/b", false, channels.EINVALID, "must be https", false, "https://lands.example/b"},
				{"rotate without URL refused", "", true, channels.EINVALID, "a secret is rotated with a webhook URL", false, "https://lands.example/b"},
				{"removed", "", false, "", "", false, ""},
				{"set again makes a fresh secret", "https://lands.example/c", false, "", "", true, "https://lands.example/c"},
			}
			for _, st := range steps {
				before, err := s.db.Agency(ctx, "lands")
				if err != nil {
					t.Fatal(err)
				}
				out, err := s.ops.SetWebhook(ctx, "lands", st.url, st.rotate)
				after, aerr := s.db.Agency(ctx, "lands")
				if aerr != nil {
					t.Fatal(aerr)
				}
				if after.WebhookURL != st.wantStored {
					t.Errorf("%s: stored URL %q, want %q", st.name, after.WebhookURL, st.wantStored)
				}
				if st.code != "" {
					wantError(t, err, st.code, st.why)
					if !bytes.Equal(after.WebhookSecret, before.WebhookSecret) {
						t.Errorf("%s: a refused change changed the secret", st.name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				switch {
				case st.newSecret:
					if out.Secret != hex.EncodeToString(after.WebhookSecret) || len(after.WebhookSecret) != 32 {
						t.Errorf("%s: returned %q, stored %x", st.name, out.Secret, after.WebhookSecret)
					}
					for _, old := range secrets {
						if old == out.Secret {
							t.Errorf("%s: a secret came back", st.name)
						}
					}
					secrets = append(secrets, out.Secret)
				case st.url == "":
					if out.Secret != "" || after.WebhookSecret != nil {
						t.Errorf("%s: a secret is left: %q %x", st.name, out.Secret, after.WebhookSecret)
					}
				default:
					if out.Secret != "" || !bytes.Equal(after.WebhookSecret, before.WebhookSecret) {
						t.Errorf("%s: the secret changed or was shown again", st.name)
					}
				}
			}
			_, err := s.ops.SetWebhook(ctx, "roads", "https://roads.example/", false)
			wantError(t, err, channels.ENOTFOUND, `no agency "roads"`)
		})
	}
}

// TestLogsKeepWebhookTokens checks that the admin socket's log names a
// webhook by its host only: its path or query may hold the receiver's
// token, which the webhook sender keeps out of its errors too.
func TestLogsKeepWebhookTokens(t *testing.T) {
	const token = "tok_9f8e7d6c5b4a"
	tests := []struct {
		name string
		do   func(ctx context.Context, ops admin.Operations) error
	}{
		{"agency added", func(ctx context.Context, ops admin.Operations) error {
			_, err := ops.AddAgency(ctx, "lands", "Lands", "https://lands.example/hooks/"+token+"?sig="+token, "")
			return err
		}},
		{"webhook set", func(ctx context.Context, ops admin.Operations) error {
			if _, err := ops.AddAgency(ctx, "lands", "Lands", "", ""); err != nil {
				return err
			}
			_, err := ops.SetWebhook(ctx, "lands", "https://lands.example/hooks?token="+token, true)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := socket(t)
			if err := tt.do(context.Background(), s.ops); err != nil {
				t.Fatal(err)
			}
			logs := s.logs.String()
			if strings.Contains(logs, token) || !strings.Contains(logs, "lands.example") {
				t.Errorf("the log shows the webhook's token or not its host:\n%s", logs)
			}
		})
	}
}

// TestAPIURL sets, changes and removes the API URL of an agency, on the
// store and through the socket: one secret signs its webhooks and calls,
// made when the first of them is set and dropped only with the last.
func TestAPIURL(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			added, err := s.ops.AddAgency(ctx, "revenue", "Revenue", "", "https://api.revenue.example/v1")
			if err != nil {
				t.Fatal(err)
			}
			stored, err := s.db.Agency(ctx, "revenue")
			if err != nil {
				t.Fatal(err)
			}
			if stored.APIURL != "https://api.revenue.example/v1" || added.Agency.APIURL != stored.APIURL || added.WebhookSecret != hex.EncodeToString(stored.WebhookSecret) || len(stored.WebhookSecret) != 32 {
				t.Fatalf("added %+v, stored %+v: want the API URL and a fresh secret shown once", added, stored)
			}
			if _, err := s.ops.AddAgency(ctx, "lands", "Lands", "", "http://lands.example/api"); err == nil {
				t.Error("an http API URL off this machine was accepted")
			}
			if _, err := s.ops.AddAgency(ctx, "social", "Social", "", ""); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name, agency, url string
				code, why         string
				newSecret         bool // a secret is returned (and stored)
				wantURL           string
				wantSecret        bool
			}{
				{"change keeps the secret", "revenue", "https://api2.revenue.example", "", "", false, "https://api2.revenue.example", true},
				{"plain http refused", "revenue", "http://api.revenue.example", channels.EINVALID, "API URL", false, "https://api2.revenue.example", true},
				{"credentials refused", "revenue", "https://u:p@api.revenue.example", channels.EINVALID, "credentials", false, "https://api2.revenue.example", true},
				{"removed with its secret", "revenue", "", "", "", false, "", false},
				{"set again makes a fresh secret", "revenue", "http://127.0.0.1:8090", "", "", true, "http://127.0.0.1:8090", true},
				{"first URL of an agency without a secret", "social", "https://sp.example/ops", "", "", true, "https://sp.example/ops", true},
				{"unknown agency", "roads", "https://roads.example", channels.ENOTFOUND, `no agency "roads"`, false, "", false},
			}
			for _, st := range steps {
				before, _ := s.db.Agency(ctx, st.agency)
				out, err := s.ops.SetAPIURL(ctx, st.agency, st.url)
				if st.code != "" {
					wantError(t, err, st.code, st.why)
					if before != nil {
						if after, _ := s.db.Agency(ctx, st.agency); after.APIURL != before.APIURL || !bytes.Equal(after.WebhookSecret, before.WebhookSecret) {
							t.Errorf("%s: a refused change changed %+v", st.name, after)
						}
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				after, err := s.db.Agency(ctx, st.agency)
				if err != nil {
					t.Fatal(err)
				}
				if after.APIURL != st.wantURL || (len(after.WebhookSecret) == 32) != st.wantSecret {
					t.Errorf("%s: stored %q with secret %x, want %q (secret %v)", st.name, after.APIURL, after.WebhookSecret, st.wantURL, st.wantSecret)
				}
				switch {
				case st.newSecret && out.Secret != hex.EncodeToString(after.WebhookSecret):
					t.Errorf("%s: returned secret %q, stored %x", st.name, out.Secret, after.WebhookSecret)
				case !st.newSecret && out.Secret != "":
					t.Errorf("%s: a secret was shown again", st.name)
				case !st.newSecret && st.wantSecret && !bytes.Equal(after.WebhookSecret, before.WebhookSecret):
					t.Errorf("%s: the secret changed", st.name)
				}
			}

			// The webhook and the API URL share the secret: removing one
			// keeps it for the other.
			hook, err := s.ops.SetWebhook(ctx, "social", "https://sp.example/hooks", false)
			if err != nil || hook.Secret != "" {
				t.Fatalf("webhook of an agency with an API URL: %+v, %v; want the secret it has", hook, err)
			}
			if _, err := s.ops.SetWebhook(ctx, "social", "", false); err != nil {
				t.Fatal(err)
			}
			if after, _ := s.db.Agency(ctx, "social"); len(after.WebhookSecret) != 32 || after.APIURL == "" {
				t.Errorf("removing the webhook dropped what the calls need: %+v", after)
			}
			list, err := s.ops.ListAgencies(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range list {
				if a.ID == "social" && (a.APIURL != "https://sp.example/ops" || !a.HasSecret) {
					t.Errorf("list shows %+v, want the API URL and that a secret is set", a)
				}
			}
		})
	}
}
