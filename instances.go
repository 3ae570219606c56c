package channels

import (
	"context"
	"time"
)

// KeyLocker serializes the work on one key (a USSD session, the phone of
// an SMS dialogue, an app or kiosk session, an outbox message) across every
// process that serves from one store: a gateway that sends consecutive hops
// of a session, or a retry, to different instances gets the answers one
// instance would give. store/bolt, which one process holds, locks in that
// process; store/postgres locks in the database, so that the lock holds
// across instances and ends with the process that held it.
type KeyLocker interface {
	// LockKey waits until the caller alone holds key and returns the
	// unlock, which must be called once. It gives up with an error when
	// ctx ends first or the store cannot say (EUNAVAILABLE).
	LockKey(ctx context.Context, key string) (unlock func(), err error)
}

// Lead is the leadership of one name, held until Release or until it is
// lost (Lost is closed: the store went away, or the lock with it).
type Lead interface {
	Lost() <-chan struct{}
	Release()
}

// Leadership elects, among the processes serving from one store, the one
// that does a piece of work only one of them may do at a time: follow the
// case log (the notifier), purge what has expired.
type Leadership interface {
	// TryLead takes the leadership of name if nobody holds it, and returns
	// it; nil, without error, when another process holds it. A process
	// that dies loses its leaderships with it.
	TryLead(ctx context.Context, name string) (Lead, error)
}

// RateStore keeps token buckets that every process serving from the store
// shares, for the limits that protect citizens (sign-in guesses at a
// phone's codes, codes sent to a phone, kiosk consents): a limit kept in
// each process would give an attacker as many tries as there are
// instances.
type RateStore interface {
	// TakeToken takes one token at now from the bucket key, which holds
	// burst tokens and gains one every every, and reports whether it was
	// there; when not, wait is how long until one will be. Refused, it
	// takes nothing. One atomic step, whatever the instances asking.
	TakeToken(ctx context.Context, key string, every time.Duration, burst int, now time.Time) (wait time.Duration, ok bool, err error)
}

// OutboxClaims hands due outbound messages to one process at a time: a
// message another live process has claimed is not handed out again, so
// that several instances on one store never send a message twice, and a
// dead process's claims pass to the others when their lease expires.
type OutboxClaims interface {
	// ClaimOutbound claims for owner, until until, up to limit messages of
	// kind that nobody holds a live claim on (one whose until is after
	// now; owner's own included), in one atomic step, and returns them:
	// those left in OutboundSending first (an attempt whose process
	// died), then the queued ones due by now, earliest first, leaving out
	// those to a recipient in skip.
	ClaimOutbound(ctx context.Context, kind, owner string, now, until time.Time, limit int, skip ...string) ([]*Outbound, error)
	// ReleaseOutbound ends owner's claims on keys, so that a retry can be
	// claimed by any process before the lease would have expired. Keys
	// owner does not hold are left as they are.
	ReleaseOutbound(ctx context.Context, owner string, keys ...string) error
}
