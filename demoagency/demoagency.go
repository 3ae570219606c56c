// Package demoagency is a demonstration of the agencies' side of the call
// contract (docs/agency-calls.md): a small HTTP server that implements the
// operations the shipped services call, answering from a made-up data set,
// so that the catalog works end to end on a laptop and in tests. It is
// never needed in production, and nothing in it is a real register.
//
// It checks every request as a real agency would: POST only, to
// /operations/{operation} of a known operation, then agencycall.Receive
// (Content-Type application/json; a body of at most 64 KiB signed with the
// agency's secret, timestamp within 5 minutes; strict decoding, an unknown
// field anywhere refused; the Idempotency-Key and Channels-Webhook-Id
// headers equal to the body's id); the operation's params, all present and
// no other. A repeated key is answered the first answer again; the
// same key with a different request (anything but sent_at differs) is 422.
// A refusal is a 4xx with {"error": "why"}.
//
// The operations and the agencies they belong to:
//
//	pin_status {pin}                revenue            {status, name, certificate}
//	benefit_eligibility {national_id}  social_protection  {status, programme, next_step}
//	national_id {}                  national_registry  {id_number, name} of citizen.phone
//	free_slots {office}             civil_registry     {slots: up to 5 datetimes}
//	hold_slot {office, slot}        civil_registry     {hold, until} (changes; 10 minutes)
//	book_slot {hold, reference}     civil_registry     {booking, start, office ID} (changes)
//	booking {reference}             civil_registry     {booking, start, office, status}
//	cancel_booking {reference}      civil_registry     {booking, status} (changes)
//
// The seeded data (seed.json) has tax PINs A012345678Z (valid, certificate
// ready), A023456789B (valid, pending), A034567890C (suspended) and
// P051234567Q (invalid); national IDs 27431198 (eligible), 31520467 (not
// eligible) and 29018833 (under review); the phones +254712345678 and
// +254722000111 have national IDs; offices nairobi, mombasa and kisumu
// have slots on their next ten working days. Any other PIN, ID or phone is
// not_found. Magic values make the other outcomes happen, as a PIN, a
// national ID or the caller's phone:
//
//	slow       A000000006S  60000006  +254700000006   found, after 6 s
//	fail       A000000500F  50000500  +254700000500   HTTP 500
//	oversized  A000000100K  10000100  +254700000100   100 KiB answer
//	malformed  A000000400M  40000400  +254700000400   truncated JSON
//	hang       A000000999H  99999999  +254700000999   no answer until the caller gives up
//
// Everything it remembers (idempotency keys, holds, bookings) is in
// memory and gone when it stops.
package demoagency

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels/agencycall"
)

// Contract limits and the demonstration's timings.
const (
	// HoldFor is how long a hold keeps a slot for the citizen who asked.
	HoldFor = 10 * time.Minute
	// DefaultSlow is how long a slow magic value takes to answer.
	DefaultSlow = 6 * time.Second
	// OversizedBytes is the size of an oversized answer.
	OversizedBytes = 100 << 10
	// MaxSlots is how many free slots free_slots answers at most.
	MaxSlots = 5
)

// Config is what a Server answers from and how it checks requests.
type Config struct {
	// Secrets are the agencies' secrets (the keys, not their hex), by
	// agency ID; the one under "" is the secret of every agency without
	// its own.
	Secrets map[string][]byte
	// Seed is the data set; nil is DefaultSeed.
	Seed *Seed
	// Now is the clock of signatures, holds and calendars; nil is
	// time.Now. Tests move it to expire holds.
	Now func() time.Time
	// Slow is how long a slow magic value takes; zero is DefaultSlow.
	Slow time.Duration
	// Log receives one line per request; nil discards.
	Log *slog.Logger
}

// Server is the demonstration agency. Its Handler serves the operations.
type Server struct {
	cfg  Config
	seed *Seed
	log  *slog.Logger

	mu       sync.Mutex
	answers  map[string]remembered // by idempotency key
	holds    map[string]*hold      // by hold ID
	bookings map[string]*booking   // by case reference
	counter  int
}

// remembered is the first answer given to an idempotency key, and what it
// was an answer to.
type remembered struct {
	fingerprint [sha256.Size]byte
	body        []byte
}

type hold struct {
	ID    string
	Slot  slot
	Until time.Time
	Used  bool // booked: a hold books once
}

type booking struct {
	ID        string
	Reference string
	Slot      slot
	Cancelled bool
}

// New returns a Server over cfg. It needs at least one secret.
func New(cfg Config) (*Server, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("demoagency: no secret: give the agencies' shared secret")
	}
	for id, s := range cfg.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("demoagency: agency %q has an empty secret", id)
		}
	}
	if cfg.Seed == nil {
		seed, err := DefaultSeed()
		if err != nil {
			return nil, err
		}
		cfg.Seed = seed
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Slow <= 0 {
		cfg.Slow = DefaultSlow
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg: cfg, seed: cfg.Seed, log: log,
		answers:  map[string]remembered{},
		holds:    map[string]*hold{},
		bookings: map[string]*booking{},
	}, nil
}

// ParseSecrets reads a secret file: each line either a hex secret, the
// secret of every agency, or an agency ID and its hex secret separated by
// a space or "=", as `channels agency` prints them. A secret has at least
// 16 bytes. Blank lines and lines starting with # are skipped.
func ParseSecrets(text string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		agency, value := "", line
		if i := strings.IndexAny(line, " \t="); i >= 0 {
			agency, value = line[:i], strings.TrimSpace(strings.TrimLeft(line[i:], " \t="))
		}
		key, err := hex.DecodeString(value)
		if err != nil || len(key) < 16 {
			return nil, fmt.Errorf("line %d: not a hex secret of at least 16 bytes (want HEX or AGENCY HEX)", n+1)
		}
		if _, dup := out[agency]; dup {
			return nil, fmt.Errorf("line %d: a second secret for %q", n+1, agency)
		}
		out[agency] = key
	}
	if len(out) == 0 {
		return nil, errors.New("no secret in it")
	}
	return out, nil
}

// Handler is the HTTP handler of the operations, under
// /operations/{operation}.
func (s *Server) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.POST("/operations/:operation", s.serve)
	r.NoMethod(func(c *gin.Context) { refuse(c, http.StatusMethodNotAllowed, "POST only") })
	r.NoRoute(func(c *gin.Context) {
		refuse(c, http.StatusNotFound, "no such path: operations are POST /operations/{operation}")
	})
	return r
}

// Request is the body of a call as the demonstration reads it: the
// contract's request (agencycall.Request, read strictly by
// agencycall.ParseRequest) with its params by name.
type Request struct {
	agencycall.Request
	Params map[string]string
}

// Answer is the body of a 200: an outcome, and for found the fields.
type Answer struct {
	Outcome string         `json:"outcome"`
	Result  map[string]any `json:"result,omitempty"`
}

// Item is an item of an answered list.
type Item struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

func found(result map[string]any) Answer { return Answer{Outcome: "found", Result: result} }

var notFound = Answer{Outcome: "not_found"}

func refuse(c *gin.Context, status int, why string) {
	c.AbortWithStatusJSON(status, gin.H{"error": why})
}

func (s *Server) serve(c *gin.Context) {
	name := c.Param("operation")
	op, ok := operations[name]
	if !ok {
		s.refuse(c, name, http.StatusNotFound, "no operation "+name)
		return
	}
	secret := s.cfg.Secrets[op.agency]
	if secret == nil {
		secret = s.cfg.Secrets[""]
	}
	if secret == nil {
		s.refuse(c, name, http.StatusUnauthorized, "no secret for agency "+op.agency)
		return
	}
	r, err := agencycall.Receive(c.Writer, c.Request, secret, name, s.cfg.Now())
	if err != nil {
		why := err.(*agencycall.Refusal) // Receive's every error is one
		s.refuse(c, name, why.Status, why.Reason)
		return
	}
	req := &Request{Request: r, Params: make(map[string]string, len(r.Params))}
	for _, p := range r.Params {
		req.Params[p.Field] = p.Value
	}
	if why := op.check(name, req); why != "" {
		s.refuse(c, name, http.StatusBadRequest, why)
		return
	}

	s.log.Info("demo-agency took a call", "operation", name, "key", req.ID)
	switch s.magic(req) {
	case Fail:
		s.refuse(c, name, http.StatusInternalServerError, "the demonstration's magic value for a failure")
		return
	case Oversized:
		s.logAnswer(name, req.ID, "oversized")
		c.Data(http.StatusOK, "application/json", oversized())
		return
	case Malformed:
		s.logAnswer(name, req.ID, "malformed")
		c.Data(http.StatusOK, "application/json", []byte(`{"outcome": "found", "result": {"status": "val`))
		return
	case Hang:
		s.logAnswer(name, req.ID, "hanging")
		<-c.Request.Context().Done()
		return
	case Slow:
		select {
		case <-time.After(s.cfg.Slow):
		case <-c.Request.Context().Done():
			s.logAnswer(name, req.ID, "slow, given up by the caller")
			return
		}
	}

	answer, status, err := s.answer(op, req)
	if err != nil {
		s.refuse(c, name, status, err.Error())
		return
	}
	s.logAnswer(name, req.ID, outcomeOf(answer))
	c.Data(http.StatusOK, "application/json", answer)
}

// answer returns the first answer to req's key, or makes it: a repeated
// key with a different request is 422.
func (s *Server) answer(op operation, req *Request) ([]byte, int, error) {
	fp := fingerprint(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.answers[req.ID]; ok {
		if r.fingerprint != fp {
			return nil, http.StatusUnprocessableEntity, fmt.Errorf("idempotency key %q was used for a different request", req.ID)
		}
		return r.body, 0, nil
	}
	body, err := json.Marshal(op.do(s, req, s.cfg.Now()))
	if err != nil {
		return nil, http.StatusInternalServerError, fmt.Errorf("encode the answer: %w", err)
	}
	s.answers[req.ID] = remembered{fingerprint: fp, body: body}
	return body, 0, nil
}

// fingerprint is what makes two requests of one key the same request:
// everything but sent_at, which a retry sends anew.
func fingerprint(req *Request) [sha256.Size]byte {
	same := req.Request
	same.SentAt = time.Time{}
	b, _ := same.Marshal()
	return sha256.Sum256(b)
}

// magic is the behaviour of the first magic value among req's params and
// caller's phone, "" when there is none.
func (s *Server) magic(req *Request) Behaviour {
	for _, k := range sortedKeys(req.Params) {
		if b := s.seed.Magic[req.Params[k]]; b != "" {
			return b
		}
	}
	return s.seed.Magic[req.Citizen.Phone]
}

func (s *Server) refuse(c *gin.Context, op string, status int, why string) {
	s.log.Warn("demo-agency refused a call", "operation", op, "status", status, "why", why)
	refuse(c, status, why)
}

func (s *Server) logAnswer(op, key, what string) {
	s.log.Info("demo-agency answered", "operation", op, "key", key, "answer", what)
}

func outcomeOf(body []byte) string {
	var a struct {
		Outcome string `json:"outcome"`
	}
	if json.Unmarshal(body, &a) != nil {
		return "?"
	}
	return a.Outcome
}

// oversized is a well-formed found answer of OversizedBytes.
func oversized() []byte {
	head, tail := `{"outcome": "found", "result": {"status": "valid", "name": "`, `"}}`
	return []byte(head + strings.Repeat("x", OversizedBytes-len(head)-len(tail)) + tail)
}

// operation is one operation of the contract the demonstration serves.
type operation struct {
	agency  string
	params  []string
	changes bool
	do      func(s *Server, req *Request, now time.Time) Answer
}

// check refuses a request that does not fit the operation: a wrong
// changes flag, params missing or unknown.
func (op operation) check(name string, req *Request) string {
	if req.Changes != op.changes {
		return fmt.Sprintf("%s has changes %v; the request says %v", name, op.changes, req.Changes)
	}
	for _, p := range op.params {
		if strings.TrimSpace(req.Params[p]) == "" {
			return fmt.Sprintf("param %q missing (%s takes %v)", p, name, op.params)
		}
	}
	for _, p := range sortedKeys(req.Params) {
		if !slices.Contains(op.params, p) {
			return fmt.Sprintf("unknown param %q (%s takes %v)", p, name, op.params)
		}
	}
	return ""
}
