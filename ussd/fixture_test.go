package ussd

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/store/bolt"
)

var update = flag.Bool("update", false, "rewrite golden pages and transcripts")

// today is the fixed clock of the USSD tests.
var today = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

const phone = "+254712345678"

// fixture is a USSD server on a real bbolt file under t.TempDir(), the
// shipped catalog and locales, and a clock the test moves.
type fixture struct {
	srv    *Server
	db     *bolt.DB
	store  *faultyStore // the server's session store: db, failing on demand
	host   *faultyHost  // the server's host: a host.Store on db, failing on demand
	engine *flows.Engine
	bundle *locales.Bundle
	logs   *channelstest.LogBuffer // what the server logged, as text
	clk    *channelstest.Clock
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clk: channelstest.NewClock(today), logs: &channelstest.LogBuffer{}}
	f.engine, f.bundle = channelstest.Shipped(t, f.clock)
	f.db = channelstest.OpenStore(t)
	bundle := f.bundle
	f.store = &faultyStore{SessionStore: f.db}
	f.host = &faultyHost{Host: &host.Store{Cases: f.db, Prefs: f.db, Now: f.clock}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, bench := t.(*testing.B); bench {
		log = nil // measure the hop, not a debug log nobody reads
	}
	f.srv = New(Config{
		Engine: f.engine, Host: f.host, Sessions: f.store, Prefs: f.db, Bundle: bundle,
		Log: log, Region: "KE", Now: f.clock,
	})
	return f
}

func (f *fixture) clock() time.Time { return f.clk.Now() }

func (f *fixture) advance(d time.Duration) { f.clk.Add(d) }

// hop sends one request from phone and fails the test on error.
func (f *fixture) hop(t *testing.T, session, text string) Reply {
	t.Helper()
	r, err := f.srv.Handle(context.Background(), Request{SessionID: session, Phone: phone, ServiceCode: "*384#", Text: text})
	if err != nil {
		t.Fatalf("hop %q of %s: %v", text, session, err)
	}
	return r
}

// hops returns the text of each hop of a session, as Africa's Talking
// accumulates the inputs: "" for the dial, then every input so far joined
// by "*".
func hops(inputs ...string) []string {
	texts := []string{""}
	for i, in := range inputs {
		if i == 0 {
			texts = append(texts, in)
		} else {
			texts = append(texts, texts[i]+"*"+in)
		}
	}
	return texts
}

// run dials session and sends each input in turn, as a gateway
// accumulates them; it returns the last reply.
func (f *fixture) run(t *testing.T, session string, inputs ...string) Reply {
	t.Helper()
	var r Reply
	for _, text := range hops(inputs...) {
		r = f.hop(t, session, text)
	}
	return r
}

// text is message id in English.
func (f *fixture) text(id string) string { return f.bundle.Text("en", channels.Msg(id)) }

// cases returns the cases of phone.
func (f *fixture) cases(t *testing.T) []*channels.Case {
	t.Helper()
	cs, err := f.db.CasesByPhone(context.Background(), phone, 100)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// reportInputs complete "report a problem" from the root menu.
var reportInputs = []string{"3", "1", "Kisumu, near the bus park", "Broken water pipe", "1"}

var errInjected = errors.New("injected failure")

// faultyStore is a session store that fails its writes while failing is set.
type faultyStore struct {
	channels.SessionStore
	mu      sync.Mutex
	failing bool
}

func (s *faultyStore) fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = on
}

func (s *faultyStore) PutSession(ctx context.Context, ss ...*channels.Session) error {
	s.mu.Lock()
	failing := s.failing
	s.mu.Unlock()
	if failing {
		return errInjected
	}
	return s.SessionStore.PutSession(ctx, ss...)
}

// faultyHost is a host whose submissions fail while failing is set.
type faultyHost struct {
	flows.Host
	mu      sync.Mutex
	failing bool
}

func (h *faultyHost) fail(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failing = on
}

func (h *faultyHost) Submit(ctx context.Context, sub flows.Submission) (string, error) {
	h.mu.Lock()
	failing := h.failing
	h.mu.Unlock()
	if failing {
		return "", errInjected
	}
	return h.Host.Submit(ctx, sub)
}
