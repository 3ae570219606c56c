package channels

import (
	"context"
	"time"
)

// Agency is a back office that handles some of the catalog's services (a
// service names its agency in its definition).
type Agency struct {
	ID   string `json:"id"` // lower-case letters, digits and _: "civil_registry"
	Name string `json:"name"`
	// WebhookURL, when set, receives a signed POST for each new case and
	// each status change of the agency's cases.
	WebhookURL string `json:"webhook_url,omitempty"`
	// APIURL, when set, is the base URL of the agency's operations: the
	// call steps of its services POST to APIURL + "/operations/" + name.
	APIURL string `json:"api_url,omitempty"`
	// WebhookSecret keys the HMAC-SHA256 signature of every webhook and
	// of every call to APIURL: one secret per agency.
	WebhookSecret []byte    `json:"webhook_secret,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// AgencyKey is an API key of an agency. Only a hash of the secret part is
// kept: the key is shown once, when it is made.
type AgencyKey struct {
	ID        string    `json:"id"` // the public part of the key, which names it in logs and lists
	Agency    string    `json:"agency"`
	Hash      []byte    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether k no longer opens the API.
func (k AgencyKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// AgencyStore keeps agencies and their keys durably.
type AgencyStore interface {
	// PutAgency creates or replaces the agency a.ID.
	PutAgency(ctx context.Context, a Agency) error
	// Agency returns the agency id; ENOTFOUND if none.
	Agency(ctx context.Context, id string) (*Agency, error)
	// Agencies returns every agency, by ID.
	Agencies(ctx context.Context) ([]Agency, error)
	// PutAgencyKey creates or replaces the key k.ID (revoking is a put
	// with RevokedAt set).
	PutAgencyKey(ctx context.Context, k AgencyKey) error
	// AgencyKey returns the key id; ENOTFOUND if none.
	AgencyKey(ctx context.Context, id string) (*AgencyKey, error)
	// AgencyKeys returns the keys of agency, revoked ones included.
	AgencyKeys(ctx context.Context, agency string) ([]AgencyKey, error)
}
