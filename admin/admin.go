// Package admin holds the operations of the people who run a deployment on
// its agencies: adding an agency with its first API key and webhook secret,
// adding and revoking keys, listing, setting a webhook. Secrets are
// returned once, when they are made, and never listed again. It also holds
// their operations on kiosk operators' accounts (adding one with a random
// password, disabling, enabling, resetting the password), each recorded in
// the audit log, and the auditor's reading and verifying of that log, which
// no operation can change. Last, the listing of the outbox's failed
// messages and parked case events, one of which can be queued again (never
// a one-time code).
//
// A running server holds the bbolt file's lock, so the same operations are
// also served as JSON over a Unix socket (Server, Listen) that a Client
// reaches: `channels agency ...` (and `channels operator`, `channels
// audit`, `channels outbox`) goes through the socket when a server answers on it and opens
// the file directly otherwise, and both ways run the same *Admin methods
// (see Operations).
package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/govchannels/channels"
)

// webhookSecretBytes is the size of a webhook's HMAC-SHA256 key: as long
// as the hash, so the key is never the weak part.
const webhookSecretBytes = 32

// maxName bounds an agency's display name, in characters.
const maxName = 200

// KeyMaker makes a key of an agency: the plaintext to show once and the
// record to store. agency.NewKey is the one a deployment uses; it is
// passed in so that this package does not depend on the HTTP edge.
type KeyMaker func(agencyID string, now time.Time) (plaintext string, key channels.AgencyKey, err error)

// Operations is what the people who run a deployment can do to agencies,
// kiosk operators' accounts and the audit log, served by *Admin on the
// store and by *Client through a running server's admin socket.
// Errors are *channels.Error for what the administrator got wrong (EINVALID,
// ENOTFOUND, ECONFLICT), their Detail saying what in plain English.
type Operations interface {
	// AddAgency creates the agency id (lower-case letters, digits and _,
	// 2 to 40 of them; ECONFLICT if it exists) with its first key and, when
	// webhookURL or apiURL is set, the secret that signs its webhooks and
	// calls.
	AddAgency(ctx context.Context, id, name, webhookURL, apiURL string) (*NewAgency, error)
	// AddKey makes another key of agency; ENOTFOUND if there is none.
	AddKey(ctx context.Context, agency string) (*NewKey, error)
	// RevokeKey revokes the key keyID at once; ENOTFOUND if there is none,
	// ECONFLICT if it is revoked already.
	RevokeKey(ctx context.Context, keyID string) (*Key, error)
	// ListAgencies lists every agency with its keys, revoked ones
	// included; never a secret or a hash.
	ListAgencies(ctx context.Context) ([]AgencyInfo, error)
	// SetWebhook sets (or, with url "", removes) the webhook of agency. A
	// new secret is made when the agency has none or rotateSecret is set.
	SetWebhook(ctx context.Context, agency, url string, rotateSecret bool) (*Webhook, error)
	// SetAPIURL sets (or, with url "", removes) the base URL of agency's
	// operations, which call steps POST to. A secret is made when the
	// agency has none.
	SetAPIURL(ctx context.Context, agency, url string) (*APIURL, error)

	OperatorOperations
	AuditOperations
	OutboxOperations
}

// Store is what the operations keep: agencies and their keys, operators,
// the audit log their changes are recorded in, and the outbox whose failed
// messages they send again.
type Store interface {
	channels.AgencyStore
	channels.OperatorStore
	channels.AuditLog
	channels.OutboxStore
}

// Key is what may be shown of an API key: never its secret or hash.
type Key struct {
	ID        string    `json:"id"`
	Agency    string    `json:"agency"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// AgencyInfo is what may be shown of an agency: whether it has a webhook
// secret, never the secret.
type AgencyInfo struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	WebhookURL string    `json:"webhook_url,omitempty"`
	APIURL     string    `json:"api_url,omitempty"`
	HasSecret  bool      `json:"webhook_secret_set,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Keys       []Key     `json:"keys"`
}

// NewAgency is the outcome of AddAgency: the plaintext key and webhook
// secret are here once, and stored only as a hash (the key) or where no
// listing shows them (the secret).
type NewAgency struct {
	Agency AgencyInfo `json:"agency"`
	Key    NewKey     `json:"key"`
	// WebhookSecret is the HMAC-SHA256 key of the agency's webhooks and
	// calls as hex: the key is the 32 bytes the hex encodes. Empty without
	// a webhook or an API URL.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// NewKey is a key just made: Plaintext is all an integrator needs.
type NewKey struct {
	Key
	Plaintext string `json:"key"`
}

// Webhook is the outcome of SetWebhook; Secret is set (as hex) only when a
// new secret was made.
type Webhook struct {
	Agency string `json:"agency"`
	URL    string `json:"url,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// APIURL is the outcome of SetAPIURL; Secret is set (as hex) only when a
// new secret was made, the one calls are signed with.
type APIURL struct {
	Agency string `json:"agency"`
	URL    string `json:"url,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// Admin runs the operations on an agency store. Its methods are serialized,
// so two operators adding the same agency at once cannot both succeed (the
// bbolt lock keeps other processes out of the file).
type Admin struct {
	store  Store
	newKey KeyMaker
	now    func() time.Time
	mu     sync.Mutex
}

var (
	_ Operations = (*Admin)(nil)
	_ Operations = (*Client)(nil)
)

// New returns the operations on store, making keys with newKey. now is
// the clock of creations and revocations; time.Now when nil. It panics
// without a store or a key maker, a wiring mistake.
func New(store Store, newKey KeyMaker, now func() time.Time) *Admin {
	if store == nil || newKey == nil {
		panic("admin: New needs a store and a key maker")
	}
	if now == nil {
		now = time.Now
	}
	return &Admin{store: store, newKey: newKey, now: now}
}

// AddAgency creates the agency id named name, its first key and, when
// webhookURL or apiURL is set, the secret that signs its webhooks and
// calls. When the key cannot be stored after the agency was, the error
// says so: the agency exists and AddKey makes its key.
func (a *Admin) AddAgency(ctx context.Context, id, name, webhookURL, apiURL string) (*NewAgency, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name = strings.TrimSpace(name)
	if err := validID(id); err != nil {
		return nil, err
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	if webhookURL != "" {
		if err := validURL("webhook URL", webhookURL); err != nil {
			return nil, err
		}
	}
	if apiURL != "" {
		if err := validURL("API URL", apiURL); err != nil {
			return nil, err
		}
	}
	_, err := a.store.Agency(ctx, id)
	switch channels.ErrorCode(err) {
	case "":
		return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "agency %s exists already", id)
	case channels.ENOTFOUND:
	default:
		return nil, fmt.Errorf("read agency %s: %w", id, err)
	}
	now := a.now().UTC()
	ag := channels.Agency{ID: id, Name: name, WebhookURL: webhookURL, APIURL: apiURL, CreatedAt: now}
	out := &NewAgency{}
	if webhookURL != "" || apiURL != "" {
		ag.WebhookSecret = newSecret()
		out.WebhookSecret = hex.EncodeToString(ag.WebhookSecret)
	}
	plaintext, k, err := a.newKey(id, now)
	if err != nil {
		return nil, fmt.Errorf("make the key of agency %s: %w", id, err)
	}
	if err := a.store.PutAgency(ctx, ag); err != nil {
		return nil, fmt.Errorf("store agency %s: %w", id, err)
	}
	if err := a.store.PutAgencyKey(ctx, k); err != nil {
		return nil, fmt.Errorf("agency %s was added but its key could not be stored (add one with 'channels agency key %s'): %w", id, id, err)
	}
	out.Key = NewKey{Key: keyInfo(k), Plaintext: plaintext}
	out.Agency = agencyInfo(ag, []channels.AgencyKey{k})
	return out, nil
}

// AddKey makes another key of agency, for a second integration or to
// replace a key before revoking it.
func (a *Admin) AddKey(ctx context.Context, agency string) (*NewKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.agency(ctx, agency); err != nil {
		return nil, err
	}
	plaintext, k, err := a.newKey(agency, a.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("make a key of agency %s: %w", agency, err)
	}
	if err := a.store.PutAgencyKey(ctx, k); err != nil {
		return nil, fmt.Errorf("store a key of agency %s: %w", agency, err)
	}
	return &NewKey{Key: keyInfo(k), Plaintext: plaintext}, nil
}

// RevokeKey revokes the key keyID: the API refuses it from its next
// request on. A revoked key stays listed, with when it was revoked.
func (a *Admin) RevokeKey(ctx context.Context, keyID string) (*Key, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, err := a.store.AgencyKey(ctx, keyID)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "no key %q (list the keys with 'channels agency list')", keyID)
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", keyID, err)
	}
	if k.Revoked() {
		return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "key %s of agency %s was revoked already, at %s", k.ID, k.Agency, k.RevokedAt.Format(time.RFC3339))
	}
	k.RevokedAt = a.now().UTC()
	if err := a.store.PutAgencyKey(ctx, *k); err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", keyID, err)
	}
	info := keyInfo(*k)
	return &info, nil
}

// ListAgencies lists the agencies by ID, each with its keys oldest first.
func (a *Admin) ListAgencies(ctx context.Context) ([]AgencyInfo, error) {
	ags, err := a.store.Agencies(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agencies: %w", err)
	}
	out := make([]AgencyInfo, 0, len(ags))
	for _, ag := range ags {
		keys, err := a.store.AgencyKeys(ctx, ag.ID)
		if err != nil {
			return nil, fmt.Errorf("list the keys of agency %s: %w", ag.ID, err)
		}
		out = append(out, agencyInfo(ag, keys))
	}
	slices.SortFunc(out, func(x, y AgencyInfo) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// SetWebhook sets the webhook URL of agency, making a secret when it has
// none or when rotateSecret is set; url "" removes the webhook, and its
// secret unless the agency's calls still need it.
func (a *Admin) SetWebhook(ctx context.Context, agency, url string, rotateSecret bool) (*Webhook, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag, err := a.agency(ctx, agency)
	if err != nil {
		return nil, err
	}
	out := &Webhook{Agency: agency, URL: url}
	switch {
	case url == "" && rotateSecret:
		return nil, channels.Errorf(channels.EINVALID, "error.bad_request", "a secret is rotated with a webhook URL; none was given")
	case url == "":
		ag.WebhookURL = ""
		if ag.APIURL == "" {
			ag.WebhookSecret = nil
		}
	default:
		if err := validURL("webhook URL", url); err != nil {
			return nil, err
		}
		ag.WebhookURL = url
		if rotateSecret || len(ag.WebhookSecret) == 0 {
			ag.WebhookSecret = newSecret()
			out.Secret = hex.EncodeToString(ag.WebhookSecret)
		}
	}
	if err := a.store.PutAgency(ctx, *ag); err != nil {
		return nil, fmt.Errorf("store the webhook of agency %s: %w", agency, err)
	}
	return out, nil
}

// SetAPIURL sets the base URL of agency's operations, making a secret
// when it has none (the one its webhooks would be signed with: one secret
// per agency); url "" removes it, and the secret unless the agency's
// webhook still needs it.
func (a *Admin) SetAPIURL(ctx context.Context, agency, url string) (*APIURL, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag, err := a.agency(ctx, agency)
	if err != nil {
		return nil, err
	}
	out := &APIURL{Agency: agency, URL: url}
	if url == "" {
		ag.APIURL = ""
		if ag.WebhookURL == "" {
			ag.WebhookSecret = nil
		}
	} else {
		if err := validURL("API URL", url); err != nil {
			return nil, err
		}
		ag.APIURL = url
		if len(ag.WebhookSecret) == 0 {
			ag.WebhookSecret = newSecret()
			out.Secret = hex.EncodeToString(ag.WebhookSecret)
		}
	}
	if err := a.store.PutAgency(ctx, *ag); err != nil {
		return nil, fmt.Errorf("store the API URL of agency %s: %w", agency, err)
	}
	return out, nil
}

// agency reads the agency id; ENOTFOUND, said plainly, when there is none.
func (a *Admin) agency(ctx context.Context, id string) (*channels.Agency, error) {
	ag, err := a.store.Agency(ctx, id)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "no agency %q (add it with 'channels agency add')", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read agency %s: %w", id, err)
	}
	return ag, nil
}

func keyInfo(k channels.AgencyKey) Key {
	return Key{ID: k.ID, Agency: k.Agency, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

func agencyInfo(ag channels.Agency, keys []channels.AgencyKey) AgencyInfo {
	info := AgencyInfo{ID: ag.ID, Name: ag.Name, WebhookURL: ag.WebhookURL, APIURL: ag.APIURL, HasSecret: len(ag.WebhookSecret) > 0, CreatedAt: ag.CreatedAt, Keys: []Key{}}
	for _, k := range keys {
		info.Keys = append(info.Keys, keyInfo(k))
	}
	slices.SortFunc(info.Keys, func(x, y Key) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return info
}

// newSecret returns a fresh webhook secret.
func newSecret() []byte {
	b := make([]byte, webhookSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return b
}

// validID checks an agency ID: 2 to 40 lower-case letters, digits and _,
// the form services name their agency in.
func validID(id string) error {
	ok := len(id) >= 2 && len(id) <= 40
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] >= 'a' && id[i] <= 'z' || id[i] >= '0' && id[i] <= '9' || id[i] == '_'
	}
	if !ok {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "agency id %q must be 2 to 40 lower-case letters, digits or _", id)
	}
	return nil
}

// validName checks an agency's display name: some text, on one line.
func validName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > maxName || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "agency name must be 1 to %d characters on one line", maxName)
	}
	return nil
}

// validURL checks a webhook or API URL (what names which): https, or
// http to this machine only (a receiver under development), with a host
// and no credentials (lists show the URL) or fragment.
func validURL(what, raw string) error {
	u, err := url.Parse(raw)
	bad := func(why string) error {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "%s %q %s", what, raw, why)
	}
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return bad("is not an absolute URL such as https://agency.example/hooks/channels")
	case u.User != nil:
		return bad("must not hold credentials: requests are signed with the agency's secret")
	case u.Fragment != "":
		return bad("must not have a fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	}
	return bad("must be https (http only to localhost or 127.0.0.1)")
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
