package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/notify"
	"github.com/govchannels/channels/ratelimit"
)

// defaultLoadPath is report_problem with one answer per step after the
// root menu: category, location, description, confirm.
const defaultLoadPath = "report_problem:1*Kisumu, near the bus park*Broken water pipe next to stall 4*1"

var endWithReference = regexp.MustCompile(`^END .*\b[1-9][0-9]{9}\b`)

// loadPath is the walk of one session: the service chosen at the root
// menu, then the citizen's inputs, one a hop.
type loadPath struct {
	service string
	inputs  []string
}

// parseLoadPath reads "service:input*input*...": the inputs as a USSD
// gateway joins them, so that no input can hold a '*'.
func parseLoadPath(s string) (loadPath, error) {
	svc, rest, _ := strings.Cut(s, ":")
	if svc == "" {
		return loadPath{}, fmt.Errorf("path %q: want service:input*input*... (a service id of the catalog, then its inputs)", s)
	}
	p := loadPath{service: svc}
	if rest != "" {
		p.inputs = strings.Split(rest, "*")
	}
	return p, nil
}

// phoneSource hands out a new phone number each call, for the whole run:
// every session of every phase, and every pre-filled case, is a citizen
// seen for the first time, as real traffic mostly is.
type phoneSource struct{ n atomic.Int64 }

func (p *phoneSource) next() string { return fmt.Sprintf("+2547%08d", p.n.Add(1)%100_000_000) }

// phoneCount counts, at the server's door, the USSD dials and the distinct
// phones that made them: the harness's claim of a fresh phone per session
// is checked by what the server saw.
type phoneCount struct {
	mu     sync.Mutex
	dials  int
	phones map[string]struct{}
}

func (pc *phoneCount) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// gin reads the form parsed here; parsing it once costs nothing extra.
		if r.URL.Path == "/ussd/at" && r.ParseForm() == nil && r.PostForm.Get("text") == "" {
			pc.mu.Lock()
			pc.dials++
			pc.phones[r.PostForm.Get("phoneNumber")] = struct{}{}
			pc.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// phase is what one load phase measured.
type phase struct {
	name      string
	hops      int
	failures  int
	elapsed   time.Duration
	latencies []time.Duration
}

func (p *phase) rate() float64 { return float64(p.hops) / p.elapsed.Seconds() }

// add merges the measures of another run of the same phase.
func (p *phase) add(q *phase) {
	p.hops += q.hops
	p.failures += q.failures
	p.elapsed += q.elapsed
	p.latencies = append(p.latencies, q.latencies...)
}

// percentile reads the q-quantile of latencies, which the caller sorted.
func (p *phase) percentile(q float64) time.Duration {
	if len(p.latencies) == 0 {
		return 0
	}
	return p.latencies[min(len(p.latencies)-1, int(q*float64(len(p.latencies))))]
}

// loadStore is what the harness needs of a store beyond channels.Store:
// both stores have it.
type loadStore interface {
	channels.Store
	CreateCases(ctx context.Context, cs []*channels.Case) error
	CaseCount(ctx context.Context) (int, error)
}

// storeSize is what the store takes on disk: all of it, and the part that
// holds cases (the case records, their indexes and the case log).
type storeSize struct {
	total, cases         int64
	totalName, casesName string // what each measures, for the report
}

// loadRun is one run of the harness.
type loadRun struct {
	cfg            config
	stdout, stderr io.Writer
	phones         phoneSource
	path           loadPath
	inputs         []string // the path's hops after the dial, the menu key first
	submits        bool     // the path creates a case: its END must carry a reference
	size           func(context.Context) (storeSize, error)
}

// runLoad is `channels load`: it starts the real server stack on a
// temporary bbolt file (or a PostgreSQL database it creates and drops),
// optionally pre-fills it with cases and drives a burst of sessions, then
// drives concurrent USSD sessions through HTTP from dial to END, and the
// same number of hops at a no-op handler on the same stack, in
// interleaved rounds, and prints both with their ratios and what the
// store grew by. With -instances 2 the rounds also drive the same sessions
// with their hops alternating between two servers on the database.
func runLoad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	concurrency := fs.Int("sessions", 200, "concurrent USSD sessions")
	total := fs.Int("dials", 3000, "sessions a phase completes per round (each is one dial to END)")
	rounds := fs.Int("rounds", 3, "rounds of baseline then USSD, interleaved so that both see the same machine")
	warm := fs.Int("warmup", 400, "sessions run before measuring")
	pathFlag := fs.String("path", defaultLoadPath, "the walk of each session: a service id of the catalog, ':', then its inputs joined by '*'")
	prefill := fs.Int("prefill", 0, "cases stored before the server starts, in batches through the store's write path")
	burst := fs.Int("burst", 0, "USSD sessions driven just before the measured rounds, in the same process, so that their aftermath is measured")
	databaseURL := fs.String("database-url", "", "PostgreSQL server to measure on: the harness creates a fresh database there and drops it after")
	instances := fs.Int("instances", 1, "servers on the one database: with 2 (needs -database-url), each round also drives sessions whose hops alternate between two servers, against the same sessions on one")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured rounds to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile (allocations) after the measured rounds to this file")
	mutexProfile := fs.String("mutexprofile", "", "write a mutex contention profile of the measured rounds to this file")
	blockProfile := fs.String("blockprofile", "", "write a blocking profile of the measured rounds to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *concurrency < 1 || *total < *concurrency || *warm < 0 || *rounds < 1 || *prefill < 0 || *burst < 0 {
		fmt.Fprintln(stderr, "channels load: need sessions >= 1, dials >= sessions, rounds >= 1, and no negative warmup, prefill or burst")
		return 2
	}
	if *instances < 1 || *instances > 2 || (*instances == 2 && *databaseURL == "") {
		fmt.Fprintln(stderr, "channels load: -instances is 1, or 2 with -database-url (a bbolt file serves one server)")
		return 2
	}
	path, err := parseLoadPath(*pathFlag)
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "channels-load-")
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	tuneGC() // as serve does, for both phases
	lr := &loadRun{cfg: defaultConfig(), stdout: stdout, stderr: stderr, path: path}
	lr.cfg.Data = dir + "/load.db"
	lr.cfg.LogLevel = "error"
	// One load generator is one source far busier than a gateway is
	// allowed to be: it measures the engine, not the limits.
	lr.cfg.ussdLimits.DialsPerSource, lr.cfg.ussdLimits.HopsPerSource = ratelimit.Limit{}, ratelimit.Limit{}
	ctx := context.Background()
	if *databaseURL != "" {
		db, drop, err := freshDatabase(ctx, *databaseURL)
		if err != nil {
			fmt.Fprintf(stderr, "channels load: %v\n", err)
			return 1
		}
		defer func() {
			if err := drop(); err != nil {
				fmt.Fprintf(stderr, "channels load: %v\n", err)
			}
		}()
		lr.cfg.DatabaseURL = db
		lr.size = postgresSize(db)
	} else {
		lr.size = boltSize(lr.cfg.Data)
	}
	gin.SetMode(gin.ReleaseMode)

	if err := lr.probe(ctx, *prefill); err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	srv, err := newServer(lr.cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	defer srv.Close()
	// The baseline goes through the same router, middleware and form
	// parsing as the USSD route, and does nothing else.
	srv.router.POST("/load/noop", func(c *gin.Context) {
		if c.PostForm("sessionId") == "" {
			c.String(http.StatusBadRequest, "missing sessionId")
			return
		}
		c.String(http.StatusOK, "END ok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	seen := &phoneCount{phones: map[string]struct{}{}}
	hs := &http.Server{Handler: seen.wrap(srv.router), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	one := []string{base + "/ussd/at"}
	var two []string
	if *instances == 2 {
		second, err := lr.second(dir, seen)
		if err != nil {
			fmt.Fprintf(stderr, "channels load: %v\n", err)
			return 1
		}
		defer second.close()
		two = []string{one[0], second.url + "/ussd/at"}
	}
	noopURL := []string{base + "/load/noop"}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency, IdleConnTimeout: time.Minute},
	}
	db := srv.raw.(loadStore)
	fmt.Fprintf(stdout, "channels load: %s, %d concurrent sessions, %d rounds of %d dials (%d hops each) per phase, server and load generator in one process on %d CPUs\n",
		lr.cfg.dataName(), *concurrency, *rounds, *total, len(lr.inputs)+1, runtime.NumCPU())

	casesBefore, err := db.CaseCount(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	sizeBefore, err := lr.size(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	warmUSSD := lr.drive(client, one, "warm", *concurrency, *warm, true)
	warmNoop := lr.drive(client, noopURL, "warm", *concurrency, *warm, false)
	if two != nil {
		warmUSSD.failures += lr.drive(client, two, "warm", *concurrency, *warm, true).failures
	}
	if *burst > 0 {
		b := lr.drive(client, one, "burst", *concurrency, *burst, true)
		fmt.Fprintf(stdout, "burst: %d sessions, %d hops in %s (%.0f hops/s), %d failures; the measured rounds start now\n",
			*burst, b.hops, b.elapsed.Round(time.Millisecond), b.rate(), b.failures)
		warmUSSD.failures += b.failures
	}
	stop, err := startProfiles(*cpuProfile, *mutexProfile, *blockProfile)
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	purgeDone := make(chan string, 1)
	if *burst > 0 {
		// The minute's purge would find the burst's expired records (a
		// finished session's cleared resume record expires at once) at a
		// moment of its own; it runs now, so that the rounds measure it.
		go func() {
			t0 := time.Now()
			p := srv.purgeOnce(ctx, t0)
			purgeDone <- fmt.Sprintf("purge: %d expired session records removed in %s, concurrently with the rounds", p.sessions, time.Since(t0).Round(time.Millisecond))
		}()
	} else {
		close(purgeDone)
	}
	noop, ussd, alternate := &phase{name: "baseline"}, &phase{name: "ussd"}, &phase{name: "ussd-two"}
	phases := []*phase{noop, ussd}
	if two != nil {
		phases = append(phases, alternate)
	}
	for range *rounds {
		noop.add(lr.drive(client, noopURL, "baseline", *concurrency, *total, false))
		ussd.add(lr.drive(client, one, "ussd", *concurrency, *total, true))
		if two != nil {
			alternate.add(lr.drive(client, two, "ussd-two", *concurrency, *total, true))
		}
	}
	if msg, ok := <-purgeDone; ok {
		fmt.Fprintln(stdout, msg)
	}
	if err := stop(); err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	if *memProfile != "" {
		if err := writeProfile("allocs", *memProfile); err != nil {
			fmt.Fprintf(stderr, "channels load: %v\n", err)
			return 1
		}
	}
	for _, p := range phases {
		slices.Sort(p.latencies)
	}

	fmt.Fprintf(stdout, "\n%-9s %8s %10s %10s %10s %9s\n", "phase", "hops", "hops/s", "p50", "p99", "failures")
	for _, p := range phases {
		fmt.Fprintf(stdout, "%-9s %8d %10.0f %10s %10s %9d\n", p.name, p.hops, p.rate(), p.percentile(0.5).Round(time.Microsecond), p.percentile(0.99).Round(time.Microsecond), p.failures)
	}
	fmt.Fprintln(stdout)
	ratio(stdout, ussd, noop)
	if two != nil {
		ratio(stdout, alternate, noop)
		ratio(stdout, alternate, ussd)
	}

	casesAfter, err := db.CaseCount(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	sizeAfter, err := lr.size(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	made := casesAfter - casesBefore
	fmt.Fprintf(stdout, "store: %d cases before the warm-up, %d after the rounds (%d made); %s\n",
		casesBefore, casesAfter, made, growth(sizeBefore, sizeAfter, made))
	seen.mu.Lock()
	fmt.Fprintf(stdout, "phones: the server saw %d USSD dials from %d distinct phones\n", seen.dials, len(seen.phones))
	seen.mu.Unlock()
	if ussd.failures > 0 || noop.failures > 0 || alternate.failures > 0 || warmUSSD.failures > 0 || warmNoop.failures > 0 {
		fmt.Fprintln(stderr, "channels load: some sessions failed")
		return 1
	}
	return 0
}

// ratio prints p's hops/s, p50 and p99 as ratios to base's.
func ratio(w io.Writer, p, base *phase) {
	fmt.Fprintf(w, "%s/%s: hops/s %.2f, p50 %.2f, p99 %.2f\n", p.name, base.name,
		p.rate()/base.rate(),
		float64(p.percentile(0.5))/float64(base.percentile(0.5)),
		float64(p.percentile(0.99))/float64(base.percentile(0.99)))
}

// instance is a second server of the run, on the same database.
type instance struct {
	url   string
	close func()
}

// second starts another server on the run's database, as a second
// deployment's instance would (its own admin socket, outbox owner and
// locks), listening on a loopback port of its own.
func (lr *loadRun) second(dir string, seen *phoneCount) (*instance, error) {
	cfg := lr.cfg
	cfg.AdminSocket = dir + "/second.admin.sock"
	srv, err := newServer(cfg, slog.New(slog.NewTextHandler(lr.stderr, &slog.HandlerOptions{Level: slog.LevelError})), lr.stderr)
	if err != nil {
		return nil, fmt.Errorf("second instance: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	hs := &http.Server{Handler: seen.wrap(srv.router), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return &instance{url: "http://" + ln.Addr().String(), close: func() {
		hs.Shutdown(context.Background())
		srv.Close()
	}}, nil
}

// growth says how much the store grew, in all and per case made.
func growth(before, after storeSize, cases int) string {
	per := func(b int64) string {
		if cases <= 0 {
			return "-"
		}
		return strconv.FormatInt(b/int64(cases), 10)
	}
	return fmt.Sprintf("%s %s -> %s (+%s, %s B a case); %s %s -> %s (+%s, %s B a case)",
		after.totalName, mib(before.total), mib(after.total), mib(after.total-before.total), per(after.total-before.total),
		after.casesName, mib(before.cases), mib(after.cases), mib(after.cases-before.cases), per(after.cases-before.cases))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// probe starts the server once, walks the path with one session to learn
// whether it submits a case (the rule the measured sessions are checked
// by: a path that left a case in the store must end each session with an
// END carrying a reference; any other must end with an END), and, when
// prefill is set, pre-fills the store with prefill copies of a case the
// path (or, when it submits none, the default path) made. The server is
// closed after, so that the measured one starts as a real deployment's
// does, on its data.
func (lr *loadRun) probe(ctx context.Context, prefill int) error {
	srv, err := newServer(lr.cfg, slog.New(slog.DiscardHandler), lr.stderr)
	if err != nil {
		return err
	}
	defer srv.Close()
	lr.inputs, err = srv.pathInputs(lr.path)
	if err != nil {
		return err
	}
	db := srv.raw.(loadStore)
	template, err := lr.walk(ctx, srv, lr.inputs)
	if err != nil {
		return err
	}
	lr.submits = template != nil
	if prefill == 0 {
		return nil
	}
	if template == nil {
		def, _ := parseLoadPath(defaultLoadPath)
		inputs, err := srv.pathInputs(def)
		if err != nil {
			return err
		}
		if template, err = lr.walk(ctx, srv, inputs); err != nil {
			return err
		}
		if template == nil {
			return errors.New("the default path made no case to pre-fill with")
		}
	}
	// The notifier must not be sending these cases' notices while they
	// are stored: a real deployment's were sent long ago.
	srv.stop()
	srv.wg.Wait()
	return lr.prefill(ctx, db, template, prefill)
}

// pathInputs is the hops of p after the dial: the root-menu key of its
// service, then its inputs.
func (s *server) pathInputs(p loadPath) ([]string, error) {
	key := s.serviceIndex(p.service)
	if key == 0 {
		return nil, fmt.Errorf("path: no service %q in the catalog", p.service)
	}
	return append([]string{strconv.Itoa(key)}, p.inputs...), nil
}

// walk runs one session of inputs on srv's USSD handler and returns the
// case it made, nil when none.
func (lr *loadRun) walk(ctx context.Context, srv *server, inputs []string) (*channels.Case, error) {
	phone := lr.phones.next()
	text, reply := "", ""
	for hop := 0; hop <= len(inputs); hop++ {
		if hop > 0 {
			text = strings.Join(inputs[:hop], "*")
		}
		form := url.Values{"sessionId": {"probe-" + phone}, "serviceCode": {"*384*1#"}, "phoneNumber": {phone}, "networkCode": {"63902"}, "text": {text}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/ussd/at", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "127.0.0.1:1" // a loopback gateway, as the measured sessions' is
		w := &replyRecorder{header: http.Header{}}
		srv.router.ServeHTTP(w, req)
		if w.code != 0 && w.code != http.StatusOK {
			return nil, fmt.Errorf("path: hop %d answered %d: %s", hop, w.code, w.body.String())
		}
		reply = w.body.String()
		if strings.HasPrefix(reply, "END") && hop < len(inputs) {
			return nil, fmt.Errorf("path: the session ended at hop %d of %d: %q", hop, len(inputs), reply)
		}
	}
	if !strings.HasPrefix(reply, "END") {
		return nil, fmt.Errorf("path: the last input does not end the session: %q", reply)
	}
	cs, err := srv.db.CasesByPhone(ctx, phone, 1)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	if !endWithReference.MatchString(reply) || !strings.Contains(reply, cs[0].Ref) {
		return nil, fmt.Errorf("path: the session made case %s but its END does not say so: %q", cs[0].Ref, reply)
	}
	return cs[0], nil
}

// replyRecorder is the http.ResponseWriter of walk's in-process hops.
type replyRecorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *replyRecorder) Header() http.Header         { return r.header }
func (r *replyRecorder) WriteHeader(code int)        { r.code = code }
func (r *replyRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// prefillBatch is how many cases one transaction of the pre-fill stores.
const prefillBatch = 5000

// prefill stores n copies of template, each with a fresh reference,
// phone, idempotency key and creation time (one a second, ending now),
// through db.CreateCases, then moves the notifier's cursor past their
// events, as a deployment that has notified them long since has it.
func (lr *loadRun) prefill(ctx context.Context, db loadStore, template *channels.Case, n int) error {
	head, err := lastEvent(ctx, db)
	if err != nil {
		return err
	}
	before, err := lr.size(ctx)
	if err != nil {
		return err
	}
	count, err := db.CaseCount(ctx)
	if err != nil {
		return err
	}
	refs := make(map[string]struct{}, n)
	start, t0 := time.Now().Add(-time.Duration(n)*time.Second), time.Now()
	batch := make([]*channels.Case, 0, prefillBatch)
	for i := range n {
		c := *template
		for {
			c.Ref = channels.NewReference()
			if _, taken := refs[c.Ref]; !taken && c.Ref != template.Ref {
				break
			}
		}
		refs[c.Ref] = struct{}{}
		c.Phone = lr.phones.next()
		c.IdempotencyKey = "ussd/prefill-" + strconv.Itoa(i)
		c.CreatedAt = start.Add(time.Duration(i) * time.Second)
		c.History = []channels.StatusChange{template.History[0]}
		c.History[0].At = c.CreatedAt
		batch = append(batch, &c)
		if len(batch) == prefillBatch || i == n-1 {
			if err := db.CreateCases(ctx, batch); err != nil {
				return fmt.Errorf("prefill: %w", err)
			}
			batch = batch[:0]
		}
	}
	elapsed := time.Since(t0)
	last, err := lastEvent(ctx, db)
	if err != nil {
		return err
	}
	if last != head+uint64(n) {
		return fmt.Errorf("prefill: the case log went from %d to %d, want %d more", head, last, n)
	}
	if err := db.PutCursor(ctx, notify.CursorName, last); err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	after, err := lr.size(ctx)
	if err != nil {
		return err
	}
	stored, err := db.CaseCount(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(lr.stdout, "prefill: %d cases in %s (%.0f cases/s); the store holds %d cases; %s\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), stored, growth(before, after, stored-count))
	return nil
}

// lastEvent returns the sequence number of the case log's last event.
func lastEvent(ctx context.Context, db loadStore) (uint64, error) {
	var last uint64
	for {
		es, err := db.CaseEvents(ctx, last, 1000)
		if err != nil {
			return 0, fmt.Errorf("read the case log: %w", err)
		}
		if len(es) == 0 {
			return last, nil
		}
		last = es[len(es)-1].Seq
	}
}

// drive runs total sessions of the path with concurrency workers, each
// from a new phone. Each session dials, then sends the inputs one hop at
// a time as an Africa's Talking gateway does, to each of targets in turn;
// when check is set the last reply must be an END, with a reference when
// the path submits a case.
func (lr *loadRun) drive(client *http.Client, targets []string, name string, concurrency, total int, check bool) *phase {
	var next atomic.Int64
	var mu sync.Mutex
	p := &phase{name: name}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			failures := 0
			for {
				n := next.Add(1)
				if n > int64(total) {
					break
				}
				phone := lr.phones.next()
				sid := fmt.Sprintf("%s-%d-%d-%s", name, w, n, phone)
				text := ""
				var reply string
				var err error
				for hop := 0; hop <= len(lr.inputs); hop++ {
					if hop > 0 {
						if hop > 1 {
							text += "*"
						}
						text += lr.inputs[hop-1]
					}
					t0 := time.Now()
					// With two targets, consecutive hops of a session go
					// to different servers, as a gateway behind a load
					// balancer may send them.
					reply, err = post(client, targets[(int(n)+hop)%len(targets)], sid, phone, text)
					lat = append(lat, time.Since(t0))
					if err != nil {
						break
					}
				}
				if err != nil || (check && !lr.ended(reply)) {
					failures++
				}
			}
			mu.Lock()
			p.latencies = append(p.latencies, lat...)
			p.failures += failures
			mu.Unlock()
		}()
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	p.hops = len(p.latencies)
	return p
}

// ended reports whether reply ends a session of the path as it must.
func (lr *loadRun) ended(reply string) bool {
	if lr.submits {
		return endWithReference.MatchString(reply)
	}
	return strings.HasPrefix(reply, "END")
}

func post(client *http.Client, target, sid, phone, text string) (string, error) {
	form := url.Values{"sessionId": {sid}, "serviceCode": {"*384*1#"}, "phoneNumber": {phone}, "networkCode": {"63902"}, "text": {text}}
	resp, err := client.Post(target, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(resp.Status)
	}
	return string(body), nil
}

// startProfiles profiles the whole process (server and load generator)
// until the returned function is called: CPU, and mutex contention and
// blocking when their files are named.
func startProfiles(cpu, mutex, block string) (func() error, error) {
	var f *os.File
	if cpu != "" {
		var err error
		if f, err = os.Create(cpu); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
	}
	if mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	if block != "" {
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	}
	return func() error {
		var errs []error
		if f != nil {
			pprof.StopCPUProfile()
			errs = append(errs, f.Close())
		}
		if mutex != "" {
			errs = append(errs, writeProfile("mutex", mutex))
			runtime.SetMutexProfileFraction(0)
		}
		if block != "" {
			errs = append(errs, writeProfile("block", block))
			runtime.SetBlockProfileRate(0)
		}
		return errors.Join(errs...)
	}, nil
}

// writeProfile writes the named runtime profile to path.
func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write %s profile: %w", name, err)
	}
	return f.Close()
}

// boltSize measures the data file (which holds the cases) and the sessions
// file beside it.
func boltSize(path string) func(context.Context) (storeSize, error) {
	return func(context.Context) (storeSize, error) {
		s := storeSize{totalName: "data and sessions files", casesName: "data file (cases, their indexes and log, outbox)"}
		for i, p := range []string{path, path + "-sessions"} {
			fi, err := os.Stat(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return s, err
			}
			s.total += fi.Size()
			if i == 0 {
				s.cases = fi.Size()
			}
		}
		return s, nil
	}
}

// postgresSize measures the database (pg_database_size) and the tables of
// cases and the case log with their indexes and TOAST
// (pg_total_relation_size).
func postgresSize(dbURL string) func(context.Context) (storeSize, error) {
	return func(ctx context.Context) (storeSize, error) {
		s := storeSize{totalName: "database", casesName: "cases and case_events tables"}
		conn, err := connect(ctx, dbURL)
		if err != nil {
			return s, fmt.Errorf("measure the database: %w", err)
		}
		defer conn.Close(ctx)
		err = conn.QueryRow(ctx, `SELECT pg_database_size(current_database()),
			pg_total_relation_size('cases') + pg_total_relation_size('case_events')`).Scan(&s.total, &s.cases)
		if err != nil {
			return s, fmt.Errorf("measure the database: %w", err)
		}
		return s, nil
	}
}

// freshDatabase creates a database of its own on the server at serverURL
// and returns its URL, and a function that drops it.
func freshDatabase(ctx context.Context, serverURL string) (string, func() error, error) {
	name := fmt.Sprintf("channels_load_%d_%d", os.Getpid(), time.Now().UnixNano())
	conn, err := connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", redactURL(serverURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	dbURL := name
	if strings.Contains(serverURL, "://") {
		u, err := url.Parse(serverURL)
		if err != nil {
			return "", nil, err
		}
		u.Path = "/" + name
		dbURL = u.String()
	} else {
		dbURL = serverURL + " dbname=" + name // the last dbname counts
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := connect(ctx, serverURL)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return dbURL, drop, nil
}

// redactURL hides a password in a PostgreSQL URL.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Redacted()
	}
	return "the database server"
}

// connect opens one connection to the database at url, which may carry
// the pool's settings (pool_max_conns and the like) that pgx.Connect
// refuses.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}
