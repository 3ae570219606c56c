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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels/demoagency"
)

// runDemoAgency is `channels demo-agency`: a demonstration of the agencies'
// side of the call contract, answering the shipped services' operations
// from a made-up data set, so that the catalog can be tried end to end on
// a laptop. It is never needed in production.
func runDemoAgency(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo-agency", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("CHANNELS_DEMO_AGENCY_ADDR", "127.0.0.1:8090"), "address to listen on ($CHANNELS_DEMO_AGENCY_ADDR)")
	secretFile := fs.String("secret-file", os.Getenv("CHANNELS_DEMO_AGENCY_SECRET_FILE"),
		"file of the agencies' secrets: one hex secret for every agency, or lines AGENCY HEX ($CHANNELS_DEMO_AGENCY_SECRET_FILE)")
	secret := fs.String("secret", os.Getenv("CHANNELS_DEMO_AGENCY_SECRET"),
		"the hex secret of every agency, when there is no -secret-file; visible to other users of the machine ($CHANNELS_DEMO_AGENCY_SECRET)")
	seedFile := fs.String("seed", os.Getenv("CHANNELS_DEMO_AGENCY_SEED"), "a data set in the JSON form of demoagency/seed.json instead of the shipped one ($CHANNELS_DEMO_AGENCY_SEED)")
	slow := fs.Duration("slow", demoagency.DefaultSlow, "how long the slow magic values take to answer")
	logLevel := fs.String("log-level", envOr("CHANNELS_LOG_LEVEL", "info"), "debug, info, warn or error ($CHANNELS_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels demo-agency [-addr HOST:PORT] -secret-file FILE | -secret HEX [-seed FILE]")
		fmt.Fprintln(stderr, "A DEMONSTRATION agency: answers the shipped operations from made-up data. Never for production.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level, err := parseLevel(*logLevel)
	if fs.NArg() != 0 || err != nil {
		fs.Usage()
		return 2
	}
	secrets, err := demoSecrets(*secretFile, *secret)
	if err != nil {
		fmt.Fprintf(stderr, "channels demo-agency: %v\n", err)
		return 2
	}
	seed, err := demoagency.DefaultSeed()
	if *seedFile != "" {
		var data []byte
		if data, err = os.ReadFile(*seedFile); err == nil {
			seed, err = demoagency.ParseSeed(data)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "channels demo-agency: %v\n", err)
		return 1
	}
	gin.SetMode(gin.ReleaseMode)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := demoagency.New(demoagency.Config{Secrets: secrets, Seed: seed, Slow: *slow, Log: log})
	if err != nil {
		fmt.Fprintf(stderr, "channels demo-agency: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "channels demo-agency: %v\n", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	// Requests end with the server: a hanging answer must not hold up
	// the shutdown.
	base, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	fmt.Fprintln(stdout, "channels demo-agency: DEMONSTRATION ONLY: made-up data, not an agency's system; never use it in production")
	for _, line := range seed.Describe() {
		fmt.Fprintf(stdout, "channels demo-agency: seeded %s\n", line)
	}
	fmt.Fprintf(stdout, "channels demo-agency: listening on http://%s (POST /operations/{operation})\n", listenURL(ln.Addr()))

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "channels demo-agency: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	cancelRequests()
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := hs.Shutdown(shutdown); err != nil {
		fmt.Fprintf(stderr, "channels demo-agency: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// demoSecrets reads the agencies' secrets from the file, or else takes
// the one hex secret of every agency.
func demoSecrets(file, secret string) (map[string][]byte, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("-secret-file: %w", err)
		}
		s, err := demoagency.ParseSecrets(string(b))
		if err != nil {
			return nil, fmt.Errorf("-secret-file %s: %w", file, err)
		}
		return s, nil
	case secret != "":
		s, err := demoagency.ParseSecrets(secret)
		if err != nil {
			return nil, fmt.Errorf("-secret: %w", err)
		}
		return s, nil
	}
	return nil, errors.New("no secret: give -secret-file FILE (or -secret HEX), the secret `channels agency` printed for the agencies")
}
