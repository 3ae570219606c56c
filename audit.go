package channels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// AuditEntry is one line of the audit log: who did what, when, for which
// citizen. The log is append-only: no code changes or removes an entry,
// and each entry's Hash chains it to the one before, so an entry altered
// or removed in the data file itself is detected by VerifyAudit.
type AuditEntry struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"` // "operator:<id>", "admin"
	Kiosk   string    `json:"kiosk,omitempty"`
	Action  string    `json:"action"`            // one of the Audit* actions
	Citizen string    `json:"citizen,omitempty"` // an E.164 phone, or "id:<document number>"
	Ref     string    `json:"reference,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// Hash is the hex SHA-256 of the previous entry's Hash and this
	// entry's other fields.
	Hash string `json:"hash"`
}

// The actions the audit log records.
const (
	AuditSignIn          = "sign_in"
	AuditSignInFailed    = "sign_in_failed"
	AuditSignOut         = "sign_out"
	AuditConsentAsked    = "consent_requested"
	AuditConsentGiven    = "consent_given"
	AuditConsentRefused  = "consent_failed"
	AuditConsentDocument = "consent_id_document"
	AuditServiceStarted  = "service_started"
	AuditCaseSubmitted   = "case_submitted"
	AuditCaseLookup      = "case_lookup"
	AuditOperatorChanged = "operator_changed" // an administrator added, disabled, enabled or reset an operator
)

// ChainHash returns the Hash e must carry after an entry whose Hash is
// prev: SHA-256 over prev and e's fields in a fixed order.
func (e AuditEntry) ChainHash(prev string) string {
	e.Hash = ""
	body, _ := json.Marshal(e) // a struct of strings, numbers and a time: cannot fail
	sum := sha256.Sum256(append([]byte(prev+"\n"), body...))
	return hex.EncodeToString(sum[:])
}

// AuditQuery selects audit entries; zero fields select everything.
type AuditQuery struct {
	Actor   string
	Citizen string
	Action  string
	Since   time.Time // at or after
	Until   time.Time // before
	After   uint64    // entries after this Seq
	Limit   int       // at most this many; 100 when zero
}

// AuditLog is the append-only audit log. It offers no way to change or
// remove an entry.
type AuditLog interface {
	// Audit appends e, durably, setting its Seq and Hash (and At when
	// zero), and returns it as stored.
	Audit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// AuditEntries returns the entries q selects, oldest first.
	AuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// VerifyAudit walks the whole log and checks its chain: it returns
	// how many entries it checked and an error naming the first entry
	// that was altered, removed or inserted.
	VerifyAudit(ctx context.Context) (int, error)
}
