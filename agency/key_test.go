package agency_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/store/bolt"
)

var keyShape = regexp.MustCompile(`^chk_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$`)

// TestNewKey checks the shape of a key and that its record holds the
// SHA-256 of the secret and nothing from which the key could be rebuilt.
func TestNewKey(t *testing.T) {
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.FixedZone("EAT", 3*3600))
	plain, k, err := agency.NewKey(civil, at)
	if err != nil {
		t.Fatal(err)
	}
	m := keyShape.FindStringSubmatch(plain)
	if m == nil {
		t.Fatalf("key %q is not chk_<16 base32>_<43 base64url>", plain)
	}
	secret, err := base64.RawURLEncoding.DecodeString(m[2])
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret of %d bytes: %v", len(secret), err)
	}
	sum := sha256.Sum256(secret)
	if k.ID != m[1] || k.Agency != civil || !bytes.Equal(k.Hash, sum[:]) || !k.CreatedAt.Equal(at) || k.CreatedAt.Location() != time.UTC || k.Revoked() {
		t.Errorf("record %+v does not match key %s", k, plain)
	}
	rec, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec), m[2]) || bytes.Contains(rec, secret) {
		t.Errorf("the record holds the secret: %s", rec)
	}
	plain2, k2, err := agency.NewKey(civil, at)
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID == k.ID || plain2[len(plain2)-43:] == plain[len(plain)-43:] {
		t.Errorf("two keys share a part: %s %s", plain, plain2)
	}
	if !agency.ValidKeyID(k.ID) || agency.ValidKeyID(strings.ToUpper(k.ID)) || agency.ValidKeyID(k.ID[1:]) {
		t.Errorf("ValidKeyID does not tell key IDs apart")
	}
}

// TestAuthenticate tries keys that must not open the API, and one that
// must.
func TestAuthenticate(t *testing.T) {
	db := channelstest.OpenStore(t)
	ctx := context.Background()
	put := func(plain string, k channels.AgencyKey) string {
		if err := db.PutAgencyKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return plain
	}
	valid, vk, err := agency.NewKey(civil, start)
	if err != nil {
		t.Fatal(err)
	}
	put(valid, vk)
	revoked, rk, err := agency.NewKey(civil, start)
	if err != nil {
		t.Fatal(err)
	}
	rk.RevokedAt = start.Add(time.Hour)
	put(revoked, rk)
	secret := valid[len(valid)-43:]
	// The last character carries 4 bits of the secret and 2 zero bits; A
	// and Q keep those zero, so the key stays well formed.
	lastChanged := valid[:len(valid)-1] + "A"
	if valid[len(valid)-1] == 'A' {
		lastChanged = valid[:len(valid)-1] + "Q"
	}
	other, _, err := agency.NewKey(civil, start)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		key    string
		detail string // of the refusal; "" when the key is good
	}{
		{"valid", valid, ""},
		{"empty", "", "malformed"},
		{"prefix only", "chk_", "malformed"},
		{"other prefix", "chx" + valid[3:], "malformed"},
		{"ID in capitals", "chk_" + strings.ToUpper(vk.ID) + valid[20:], "malformed"},
		{"separator missing", "chk_" + vk.ID + "-" + secret, "malformed"},
		{"secret cut short", valid[:len(valid)-1], "malformed"},
		{"secret with padding", valid[:len(valid)-1] + "=", "malformed"},
		{"secret not base64url", valid[:len(valid)-1] + "+", "malformed"},
		{"unknown ID", "chk_aaaaaaaaaaaaaaaa_" + secret, "unknown agency key aaaaaaaaaaaaaaaa"},
		{"right ID, another key's secret", valid[:len(valid)-43] + other[len(other)-43:], "wrong secret for agency key " + vk.ID},
		{"right ID, secret changed in its last character", lastChanged, "wrong secret for agency key " + vk.ID},
		{"secret with non-zero trailing bits", valid[:len(valid)-1] + "B", "malformed"},
		{"revoked", revoked, "agency key " + rk.ID + " was revoked at 2026-03-02T10:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := agency.Authenticate(ctx, db, tt.key)
			if tt.detail == "" {
				if err != nil || k.ID != vk.ID || k.Agency != civil {
					t.Errorf("got %+v, %v", k, err)
				}
				return
			}
			var e *channels.Error
			if k != nil || err == nil || !errors.As(err, &e) || e.Code != channels.EUNAUTHORIZED || e.Message != "error.agency_key" || !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("got %+v, %v; want unauthorized with %q", k, err, tt.detail)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error holds the secret: %v", err)
			}
		})
	}

}

// TestAuthenticateStoreDown keeps a store failure apart from a bad key: it
// is an internal error (500, logged), not a 401 that would make an
// integrator throw a good key away.
func TestAuthenticateStoreDown(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "channels.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	valid, k, err := agency.NewKey(civil, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAgencyKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = agency.Authenticate(context.Background(), db, valid)
	if err == nil || channels.ErrorCode(err) != channels.EINTERNAL {
		t.Errorf("closed store: %v, want an internal error", err)
	}
}
