package channels

import (
	"context"
	"time"
)

// Operator is the account of a kiosk operator, who runs services for
// citizens who come to the kiosk, with their consent.
type Operator struct {
	ID     string `json:"id"` // the sign-in name: lower-case letters, digits, '.', '_' and '-'
	Name   string `json:"name"`
	Kiosk  string `json:"kiosk"`  // where the operator serves, e.g. "kisumu-post-office"
	Region string `json:"region"` // the county or district of the kiosk
	Lang   string `json:"lang,omitempty"`
	// PasswordHash is the password's argon2id hash in PHC form; the
	// password itself is never stored.
	PasswordHash string `json:"password_hash"`
	// PasswordSetAt voids every console session signed in before it, so a
	// reset signs the operator out everywhere.
	PasswordSetAt time.Time `json:"password_set_at"`
	// Disabled stops the operator's sessions at their next request.
	Disabled bool `json:"disabled,omitempty"`
	// FailedSignIns counts wrong passwords since the last sign-in; enough
	// of them lock the account until LockedUntil.
	FailedSignIns int       `json:"failed_sign_ins,omitempty"`
	LockedUntil   time.Time `json:"locked_until,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
}

// OperatorStore keeps operators' accounts durably.
type OperatorStore interface {
	// CreateOperator stores a new operator; ECONFLICT when o.ID is taken.
	CreateOperator(ctx context.Context, o Operator) error
	// Operator returns the operator id; ENOTFOUND if none.
	Operator(ctx context.Context, id string) (*Operator, error)
	// Operators returns every operator, by ID.
	Operators(ctx context.Context) ([]Operator, error)
	// UpdateOperator applies change to the operator id and stores it,
	// atomically. An error from change aborts and is returned as is;
	// ENOTFOUND when there is no such operator. change may not alter ID.
	UpdateOperator(ctx context.Context, id string, change func(*Operator) error) (*Operator, error)
}

// Assistance records that a case was made for a citizen by a kiosk
// operator, and how the citizen consented.
type Assistance struct {
	Operator string `json:"operator"`
	Kiosk    string `json:"kiosk"`
	// Consent is ConsentCode (the citizen read out a code sent to their
	// phone) or ConsentIDDocument (no phone: the operator checked an
	// identity document and recorded its number).
	Consent string `json:"consent"`
}

// The ways a citizen consents to be served at a kiosk.
const (
	ConsentCode       = "sms_code"
	ConsentIDDocument = "id_document"
)
