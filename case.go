package channels

import (
	"context"
	"time"
)

// Status is where a case stands in its life.
type Status string

// The statuses of a case. A case is created as submitted.
const (
	StatusSubmitted Status = "submitted"
	StatusInReview  Status = "in_review"
	StatusMoreInfo  Status = "more_info"
	StatusApproved  Status = "approved"
	StatusRejected  Status = "rejected"
	StatusReady     Status = "ready"
	StatusClosed    Status = "closed"
)

// Answer is one value a citizen gave, under the field name of its step.
type Answer struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// StatusChange is one entry of a case's append-only history.
type StatusChange struct {
	Status Status    `json:"status"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"` // "citizen", "system", an agency key or an operator
	Note   string    `json:"note,omitempty"`
}

// Case is a submitted transaction: what the citizen asked for, under a
// reference they can quote on any channel.
type Case struct {
	Ref     string         `json:"reference"`
	Service string         `json:"service"`
	Phone   string         `json:"phone"`
	Channel Channel        `json:"channel"`
	Lang    string         `json:"lang"`
	Answers []Answer       `json:"answers"`
	Status  Status         `json:"status"`
	History []StatusChange `json:"history"`
	// IdempotencyKey makes a retried submission return the first case
	// instead of creating a second one.
	IdempotencyKey string    `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
}

// CaseStore keeps cases durably.
type CaseStore interface {
	// CreateCase stores c and returns once it is durable. When a case with
	// the same IdempotencyKey exists, it returns that case and stores
	// nothing. ECONFLICT when c.Ref is taken by another case.
	CreateCase(ctx context.Context, c *Case) (*Case, error)
	// Case returns the case with the reference ref; ENOTFOUND if none.
	Case(ctx context.Context, ref string) (*Case, error)
	// CasesByPhone returns up to limit cases of a phone, newest first.
	CasesByPhone(ctx context.Context, phone string, limit int) ([]*Case, error)
}
