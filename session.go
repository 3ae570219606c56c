package channels

import (
	"context"
	"time"
)

// Session is a conversation in progress on one channel. Its ID is scoped by
// the channel ("ussd/<gateway session id>"); State is the flow engine's
// serialized state and Edge whatever the channel keeps for itself (the last
// reply, for gateway retries; the page shown).
type Session struct {
	ID        string    `json:"id"`
	Phone     string    `json:"phone"`
	Channel   Channel   `json:"channel"`
	State     []byte    `json:"-"`
	Edge      []byte    `json:"-"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SessionStore keeps sessions until they expire.
type SessionStore interface {
	// Session returns the session id; ENOTFOUND when there is none or it
	// expired at or before now.
	Session(ctx context.Context, id string, now time.Time) (*Session, error)
	// PutSession creates or replaces each of ss, all in one write.
	PutSession(ctx context.Context, ss ...*Session) error
	// DeleteSession removes the session id; removing a missing one is no error.
	DeleteSession(ctx context.Context, id string) error
	// PurgeSessions removes every session that expired at or before now and
	// returns how many it removed.
	PurgeSessions(ctx context.Context, now time.Time) (int, error)
}

// Prefs are what a citizen chose once and every channel remembers.
type Prefs struct {
	Lang string `json:"lang,omitempty"`
	// OptedOut is set by an SMS "STOP" and cleared by "START": no SMS but
	// the confirmation of the STOP is sent to the phone while it is set.
	OptedOut bool `json:"opted_out,omitempty"`
}

// PrefStore keeps per-phone preferences.
type PrefStore interface {
	// Prefs returns the preferences of phone; zero Prefs when none are set.
	Prefs(ctx context.Context, phone string) (Prefs, error)
	// PutPrefs replaces the preferences of phone.
	PutPrefs(ctx context.Context, phone string, p Prefs) error
	// UpdatePrefs applies change to the preferences of phone and stores
	// the result, atomically: a language chosen on USSD while an SMS STOP
	// is recorded loses neither.
	UpdatePrefs(ctx context.Context, phone string, change func(*Prefs)) (Prefs, error)
}

// Store is everything the service keeps. store/bolt and store/postgres
// implement it; store/storetest checks that they behave alike.
type Store interface {
	SessionStore
	CaseStore
	PrefStore
	CaseLog
	OutboxStore
	SecretStore
	DeviceStore
	AgencyStore
	OperatorStore
	AuditLog
	RetentionStore
	SignOutStore
	KeyLocker
	Leadership
	RateStore
	PaymentStore
	Close() error
}
