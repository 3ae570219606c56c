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

	"github.com/govchannels/channels/ratelimit"
)

// loadAnswers are the inputs of one report_problem session after the root
// menu choice: category, location, description, confirm.
var loadAnswers = []string{"1", "Kisumu, near the bus park", "Broken water pipe next to stall 4", "1"}

var endWithReference = regexp.MustCompile(`^END .*\b[1-9][0-9]{9}\b`)

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

// runLoad is `channels load`: it starts the real server stack on a temporary
// bbolt file, drives concurrent USSD sessions through HTTP from dial to END,
// then drives the same number of hops at a no-op handler on the same stack,
// and prints both with their ratios.
func runLoad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	concurrency := fs.Int("sessions", 200, "concurrent USSD sessions")
	total := fs.Int("dials", 3000, "sessions a phase completes per round (each is one dial to END)")
	rounds := fs.Int("rounds", 3, "rounds of baseline then USSD, interleaved so that both see the same machine")
	warm := fs.Int("warmup", 400, "sessions run before measuring")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured USSD phase to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *concurrency < 1 || *total < *concurrency || *warm < 0 || *rounds < 1 {
		fmt.Fprintln(stderr, "channels load: need sessions >= 1, dials >= sessions and rounds >= 1")
		return 2
	}
	dir, err := os.MkdirTemp("", "channels-load-")
	if err != nil {
		fmt.Fprintf(stderr, "channels load: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	tuneGC() // as serve does, for both phases
	cfg := defaultConfig()
	cfg.Data = dir + "/load.db"
	cfg.LogLevel = "error"
	// One load generator is one source far busier than a gateway is
	// allowed to be: it measures the engine, not the limits.
	cfg.ussdLimits.DialsPerSource, cfg.ussdLimits.HopsPerSource = ratelimit.Limit{}, ratelimit.Limit{}
	gin.SetMode(gin.ReleaseMode)
	srv, err := newServer(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})), stderr)
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
	hs := &http.Server{Handler: srv.router, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()

	menuKey := strconv.Itoa(srv.serviceIndex("report_problem"))
	inputs := append([]string{menuKey}, loadAnswers...)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency, IdleConnTimeout: time.Minute},
	}
	fmt.Fprintf(stdout, "channels load: %d concurrent sessions, %d rounds of %d dials (%d hops each) per phase, server and load generator in one process on %d CPUs\n",
		*concurrency, *rounds, *total, len(inputs)+1, runtime.NumCPU())
	drive(client, base+"/ussd/at", "warm", *concurrency, *warm, inputs, true)
	drive(client, base+"/load/noop", "warm", *concurrency, *warm, inputs, false)
	var stopProfile func()
	if *cpuProfile != "" {
		if stopProfile, err = startCPUProfile(*cpuProfile); err != nil {
			fmt.Fprintf(stderr, "channels load: %v\n", err)
			return 1
		}
	}
	noop, ussd := &phase{name: "baseline"}, &phase{name: "ussd"}
	for range *rounds {
		noop.add(drive(client, base+"/load/noop", "baseline", *concurrency, *total, inputs, false))
		ussd.add(drive(client, base+"/ussd/at", "ussd", *concurrency, *total, inputs, true))
	}
	if stopProfile != nil {
		stopProfile()
	}
	slices.Sort(noop.latencies)
	slices.Sort(ussd.latencies)

	fmt.Fprintf(stdout, "\n%-9s %8s %10s %10s %10s %9s\n", "phase", "hops", "hops/s", "p50", "p99", "failures")
	for _, p := range []*phase{noop, ussd} {
		fmt.Fprintf(stdout, "%-9s %8d %10.0f %10s %10s %9d\n", p.name, p.hops, p.rate(), p.percentile(0.5).Round(time.Microsecond), p.percentile(0.99).Round(time.Microsecond), p.failures)
	}
	fmt.Fprintf(stdout, "\nussd/baseline: hops/s %.2f, p50 %.2f, p99 %.2f\n",
		ussd.rate()/noop.rate(),
		float64(ussd.percentile(0.5))/float64(noop.percentile(0.5)),
		float64(ussd.percentile(0.99))/float64(noop.percentile(0.99)))
	if ussd.failures > 0 || noop.failures > 0 {
		fmt.Fprintln(stderr, "channels load: some sessions failed")
		return 1
	}
	return 0
}

// drive runs total sessions with concurrency workers. Each session dials,
// then sends inputs one hop at a time as an Africa's Talking gateway does;
// when check is set the last reply must be an END with a reference.
func drive(client *http.Client, target, name string, concurrency, total int, inputs []string, check bool) *phase {
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
				phone := fmt.Sprintf("+2547%08d", (int(n)*7919+w)%100000000)
				sid := fmt.Sprintf("%s-%d-%d", name, w, n)
				text := ""
				var reply string
				var err error
				for hop := 0; hop <= len(inputs); hop++ {
					if hop > 0 {
						if hop > 1 {
							text += "*"
						}
						text += inputs[hop-1]
					}
					t0 := time.Now()
					reply, err = post(client, target, sid, phone, text)
					lat = append(lat, time.Since(t0))
					if err != nil {
						break
					}
				}
				if err != nil || (check && !endWithReference.MatchString(reply)) {
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

// startCPUProfile profiles the whole process (server and load generator)
// until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
