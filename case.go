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
	Ref     string `json:"reference"`
	Service string `json:"service"`
	Agency  string `json:"agency,omitempty"` // the agency that handles the service, fixed at submission
	Phone   string `json:"phone"`            // E.164; empty for a citizen served at a kiosk without a phone
	// NationalID is the identity document number of a citizen served at
	// a kiosk without a phone: their cases are found by it.
	NationalID string `json:"national_id,omitempty"`
	// Assisted is set when a kiosk operator made the case for the citizen.
	Assisted *Assistance    `json:"assisted,omitempty"`
	Channel  Channel        `json:"channel"`
	Lang     string         `json:"lang"`
	Answers  []Answer       `json:"answers"`
	Status   Status         `json:"status"`
	History  []StatusChange `json:"history"`
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
	// CasesByNationalID returns up to limit cases made at kiosks for the
	// citizen with the identity document id, newest first.
	CasesByNationalID(ctx context.Context, id string, limit int) ([]*Case, error)
}

// transitions lists where a case may go from each status. A closed case
// goes nowhere; more information needed returns to review once the citizen
// answers.
var transitions = map[Status][]Status{
	StatusSubmitted: {StatusInReview, StatusMoreInfo, StatusRejected, StatusClosed},
	StatusInReview:  {StatusMoreInfo, StatusApproved, StatusRejected},
	StatusMoreInfo:  {StatusInReview, StatusRejected, StatusClosed},
	StatusApproved:  {StatusReady, StatusClosed},
	StatusReady:     {StatusClosed},
	StatusRejected:  {StatusClosed},
}

// Valid reports whether s is one of the statuses of a case.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok || s == StatusClosed
}

// CanBecome reports whether a case in s may move to status to.
func (s Status) CanBecome(to Status) bool {
	for _, t := range transitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// Next lists the statuses a case in s may move to.
func (s Status) Next() []Status { return append([]Status(nil), transitions[s]...) }

// Transition moves c to status to, appending the change to its history.
// EINVALID for a status that does not exist, ECONFLICT for a move the
// lifecycle does not allow (approving a rejected case, say).
func (c *Case) Transition(to Status, at time.Time, actor, note string) error {
	switch {
	case !to.Valid():
		return Errorf(EINVALID, "error.status_unknown", "status %q", to)
	case !c.Status.CanBecome(to):
		return Errorf(ECONFLICT, "error.transition", "case %s cannot go from %s to %s", c.Ref, c.Status, to)
	}
	c.Status = to
	c.History = append(c.History, StatusChange{Status: to, At: at, Actor: actor, Note: note})
	return nil
}

// CaseEvent is one entry of the store's log of case changes, written in
// the same transaction as the change: the creation of a case or a status
// change. Seq orders the log; whoever acts on changes (agency webhooks,
// citizens' notices) follows it from a cursor, so no change is missed
// across a restart.
type CaseEvent struct {
	Seq     uint64       `json:"seq"`
	Ref     string       `json:"reference"`
	Created bool         `json:"created,omitempty"` // the case was submitted; Change is its first entry
	Change  StatusChange `json:"change"`
}

// CaseQuery selects cases for an agency's list.
type CaseQuery struct {
	Agency   string   // required: only this agency's cases
	Services []string // any of these services; all when empty
	Status   Status   // only this status; all when empty
	After    string   // the cursor a previous page returned; from the oldest when empty
	Limit    int      // at most this many; at least 1
}

// CaseLog is the durable log of case changes and the cursors of those who
// follow it.
type CaseLog interface {
	// UpdateCase applies change to the case ref and stores it, atomically
	// and durably, logging an event for each history entry change added.
	// An error from change aborts and is returned as is; ENOTFOUND when
	// there is no such case.
	UpdateCase(ctx context.Context, ref string, change func(*Case) error) (*Case, error)
	// ListCases returns the cases of q, oldest first, and the cursor of
	// the next page ("" after the last). A cursor stays valid whatever is
	// created after it.
	ListCases(ctx context.Context, q CaseQuery) ([]*Case, string, error)
	// CaseEvents returns up to limit events after seq, in order.
	CaseEvents(ctx context.Context, after uint64, limit int) ([]CaseEvent, error)
	// Cursor returns the position a follower named name recorded; 0 if none.
	Cursor(ctx context.Context, name string) (uint64, error)
	// PutCursor records the position of the follower name.
	PutCursor(ctx context.Context, name string, seq uint64) error
}
