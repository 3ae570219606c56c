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
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/app"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/ussd"
)

// server is the wired service: store, catalog, engine and every channel on
// one router.
type server struct {
	cfg     config
	log     *slog.Logger
	db      *bolt.DB
	bundle  *locales.Bundle
	catalog *flows.Catalog
	engine  *flows.Engine
	router  *gin.Engine
	stop    context.CancelFunc
	done    chan struct{}
}

// newServer opens the store, loads and checks the catalog and mounts every
// channel. It refuses a catalog with any problem: a broken service must not
// reach citizens.
func newServer(cfg config, log *slog.Logger) (*server, error) {
	cat, bundle, err := catalog(cfg.Services)
	if err != nil {
		return nil, err
	}
	if ps := lint(cat, bundle, cfg.USSDPage); len(ps) > 0 {
		return nil, fmt.Errorf("service catalog has problems (run 'channels validate'):\n%w", ps)
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: cfg.Region, Location: cfg.location})
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(cfg.Data, bolt.Options{})
	if err != nil {
		return nil, err
	}
	host := &flows.StoreHost{Cases: db, Prefs: db}

	router := gin.New()
	router.Use(recoverer(log), requestLog(log))
	router.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	router.NoRoute(func(c *gin.Context) {
		// App clients get the API's JSON error, in their language.
		if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			msg := bundle.Text(bundle.Match(c.GetHeader("Accept-Language")), channels.Msg("error.not_found"))
			c.JSON(http.StatusNotFound, gin.H{"error": gin.H{"code": channels.ENOTFOUND, "message": msg}})
			return
		}
		c.String(http.StatusNotFound, "not found")
	})

	u := ussd.New(ussd.Config{
		Engine:       engine,
		Host:         host,
		Sessions:     db,
		Prefs:        db,
		Bundle:       bundle,
		Log:          log,
		Layout:       ussd.Layout{MaxChars: cfg.USSDPage},
		SessionTTL:   cfg.USSDSession,
		ResumeWindow: cfg.ResumeWindow,
		Region:       cfg.Region,
	})
	u.RegisterAT(router, "/ussd/at")
	api := app.New(app.Config{
		Engine:     engine,
		Host:       host,
		Store:      db,
		Bundle:     bundle,
		Log:        log,
		Region:     cfg.Region,
		SessionTTL: cfg.AppSession,
	})
	api.Register(router)

	ctx, stop := context.WithCancel(context.Background())
	s := &server{cfg: cfg, log: log, db: db, bundle: bundle, catalog: cat, engine: engine, router: router, stop: stop, done: make(chan struct{})}
	go s.purge(ctx, time.Minute)
	return s, nil
}

// purge removes expired sessions every interval until ctx ends.
func (s *server) purge(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := s.db.PurgeSessions(ctx, now)
			if err != nil {
				s.log.Error("purge expired sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("purged expired sessions", "count", n)
			}
		}
	}
}

// serviceIndex is the root-menu key of a service, 0 when absent.
func (s *server) serviceIndex(id string) int {
	for i, svc := range s.catalog.Services {
		if svc.ID == id {
			return i + 1
		}
	}
	return 0
}

// Close stops background work and closes the store.
func (s *server) Close() error {
	s.stop()
	<-s.done
	return s.db.Close()
}

// runServe is `channels serve`.
func runServe(args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	if err := cfg.parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "channels serve: %v\n", err)
		return 2
	}
	log := cfg.logger(stderr)
	tuneGC()
	if cfg.LogLevel != "debug" {
		gin.SetMode(gin.ReleaseMode)
	}
	srv, err := newServer(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "channels serve: %v\n", err)
		return 1
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "channels serve: %v\n", err)
		return 1
	}
	hs := &http.Server{
		Handler:           srv.router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	catalogName := "shipped catalog"
	if cfg.Services != "" {
		catalogName = cfg.Services
	}
	fmt.Fprintf(stdout, "channels: listening on http://%s (%d services from %s, languages %v, data %s)\n",
		listenURL(ln.Addr()), len(srv.catalog.Services), catalogName, srv.bundle.Langs(), cfg.Data)
	fmt.Fprintf(stdout, "channels: USSD (Africa's Talking) POST /ussd/at; app API /v1 (OpenAPI at /v1/openapi.json)\n")

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "channels serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := hs.Shutdown(shutdown); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// listenURL names addr so it can be pasted into a browser or curl.
func listenURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
		return addr.String()
	}
	return tcp.String()
}

// recoverer turns a panic in a handler into a 500 and a log line, never a
// crashed server.
func recoverer(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("handler panic", "path", c.FullPath(), "panic", r)
				c.AbortWithStatus(http.StatusInternalServerError)
			}
		}()
		c.Next()
	}
}

// requestLog logs every request at debug level and failed ones at warn or
// error; it logs paths and statuses, never bodies (they carry citizens'
// answers).
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelDebug
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		}
		if log.Enabled(c.Request.Context(), level) {
			log.Log(c.Request.Context(), level, "request", "method", c.Request.Method, "path", c.FullPath(), "status", status, "duration", time.Since(start), "client", c.ClientIP())
		}
	}
}
