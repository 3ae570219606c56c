package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
)

// maxCaseBatch bounds how many submissions one transaction of CreateCase
// stores.
const maxCaseBatch = 256

// caseBatchTimeout bounds one transaction of gathered submissions, which
// no single caller's context governs.
const caseBatchTimeout = 30 * time.Second

// caseBatcher gathers the CreateCase calls that arrive while a
// transaction of them is being committed, so that the next transaction
// stores them all. Every case creation appends to the case log, whose head
// row each transaction holds locked until its commit is flushed: one case
// a transaction would make submissions wait for each other's fsync in
// turn, a few hundred a second on any disk. Gathered, they share one
// fsync, as bbolt's Batch shares one in store/bolt. It waits for nothing:
// a lone submission is committed at once.
type caseBatcher struct {
	mu      sync.Mutex
	queue   []*caseRequest
	running bool // a goroutine is committing; it takes the queue next
}

// caseRequest is one CreateCase call waiting for its transaction.
type caseRequest struct {
	ctx  context.Context
	s    *channels.Case // the case as stored
	j    caseJSON
	key  []byte // the idempotency key, nil when none
	out  *channels.Case
	err  error
	done chan struct{}
}

// CreateCase stores c, and its first history entry in the case log, in a
// transaction that returns once committed, shared with the submissions
// made at the same moment (see caseBatcher). With an idempotency key seen
// before it returns that key's case instead. Two submissions with the
// same key at once are settled by the key's unique index: the second
// waits for the first to commit (or, in the same transaction, follows
// it), then finds its case. A caller whose ctx ends while its case waits
// gets ctx's error, and the case may still be stored; a retry with the
// same key finds it.
func (d *DB) CreateCase(ctx context.Context, c *channels.Case) (*channels.Case, error) {
	if c.Ref == "" {
		return nil, channels.Errorf(channels.EINVALID, "error.internal", "case without a reference")
	}
	r := &caseRequest{ctx: ctx, s: stored(c), done: make(chan struct{})}
	var err error
	if r.j, err = encodeCase(r.s); err != nil {
		return nil, fmt.Errorf("postgres: create case %s: %w", c.Ref, err)
	}
	if r.s.IdempotencyKey != "" {
		r.key = []byte(r.s.IdempotencyKey)
	}
	b := &d.cases
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if !b.running {
		b.running = true
		go d.commitCases()
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.out, wrap(r.err, "create case %s", c.Ref)
	case <-ctx.Done():
		return nil, wrap(ctx.Err(), "create case %s", c.Ref)
	}
}

// commitCases commits the queue's submissions, up to maxCaseBatch a
// transaction, until the queue is empty.
func (d *DB) commitCases() {
	b := &d.cases
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxCaseBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		reqs := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		live := reqs[:0:0]
		for _, r := range reqs {
			if r.err = r.ctx.Err(); r.err != nil {
				close(r.done)
				continue
			}
			live = append(live, r)
		}
		if len(live) > 0 {
			d.createCases(live)
		}
	}
}

// createCases stores reqs in one transaction and closes their done. When
// that transaction fails, each is tried alone, so that one submission's
// failure is its own.
func (d *DB) createCases(reqs []*caseRequest) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqs[0].ctx), caseBatchTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return insertCases(ctx, tx, reqs) })
	if err != nil && len(reqs) > 1 {
		for _, r := range reqs {
			d.createCases([]*caseRequest{r})
		}
		return
	}
	for _, r := range reqs {
		if err != nil {
			r.out, r.err = nil, err
		}
		close(r.done)
	}
}

// insertCases inserts reqs in tx, in one round trip, and logs the first
// history entry of each case created, setting each request's out or err.
func insertCases(ctx context.Context, tx pgx.Tx, reqs []*caseRequest) error {
	batch := &pgx.Batch{}
	for _, r := range reqs {
		s := r.s
		// DO NOTHING covers both unique constraints, the reference and
		// the idempotency key; which one clashed is found below.
		batch.Queue(`INSERT INTO cases (`+caseColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT DO NOTHING`,
			s.Ref, s.Service, s.Agency, s.Phone, s.NationalID, r.j.assisted, string(s.Channel), s.Lang,
			r.j.answers, string(s.Status), r.j.history, r.key, s.CreatedAt)
	}
	br := tx.SendBatch(ctx, batch)
	inserted := make([]bool, len(reqs))
	for i := range reqs {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return err
		}
		inserted[i] = tag.RowsAffected() == 1
	}
	if err := br.Close(); err != nil {
		return err
	}
	var refs, changes []string
	for i, r := range reqs {
		r.out, r.err = nil, nil
		if inserted[i] {
			r.out = r.s
			if len(r.s.History) > 0 {
				v, err := json.Marshal(r.s.History[0])
				if err != nil {
					return err
				}
				refs, changes = append(refs, r.s.Ref), append(changes, string(v))
			}
			continue
		}
		if r.key != nil {
			first, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE idempotency_key = $1`, r.key))
			if err == nil {
				r.out = first
				continue
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		r.err = channels.Errorf(channels.ECONFLICT, "error.conflict", "case reference %s is taken", r.s.Ref)
	}
	return logCreated(ctx, tx, refs, changes)
}

// logCreated appends to the case log, in tx, the creation event of each
// case of refs, whose first history entries are changes (JSON), taking
// their numbers from heads at once.
func logCreated(ctx context.Context, tx pgx.Tx, refs, changes []string) error {
	if len(refs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `WITH head AS (
			UPDATE heads SET seq = seq + cardinality($1::text[]) WHERE log = 'case_events' RETURNING seq
		)
		INSERT INTO case_events (seq, ref, created, change)
		SELECT head.seq - cardinality($1::text[]) + e.i, e.ref, true, e.change
		FROM head, unnest($1::text[], $2::json[]) WITH ORDINALITY AS e(ref, change, i)`, refs, changes)
	return err
}
