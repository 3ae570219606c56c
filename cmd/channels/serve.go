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
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/app"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/consolesms"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gateway"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/kannel"
	"github.com/govchannels/channels/kiosk"
	"github.com/govchannels/channels/langmemo"
	"github.com/govchannels/channels/later"
	"github.com/govchannels/channels/lint"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/metrics"
	"github.com/govchannels/channels/notify"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/push"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/store/postgres"
	"github.com/govchannels/channels/twilio"
	"github.com/govchannels/channels/ussd"
	"github.com/govchannels/channels/webhook"
)

// server is the wired service: store, catalog, engine and every channel on
// one router.
type server struct {
	cfg     config
	log     *slog.Logger
	db      channels.Store
	bundle  *locales.Bundle
	catalog *flows.Catalog
	engine  *flows.Engine
	router  *gin.Engine
	box     *outbox.Outbox   // every outbound message: SMS, push notices, agency webhooks, late calls
	late    *later.Sender    // finishes timed-out calls in the background and texts their answers
	notify  *notify.Notifier // follows the case log into the outbox
	admin   *http.Server     // admin commands over a Unix socket
	metrics *metrics.Metrics // what /metrics serves
	routes  []string         // what listens where, for the startup banner
	stop    context.CancelFunc
	wg      sync.WaitGroup

	// db is the store through a guard, whose calls are bounded by
	// storeTimeout on PostgreSQL; long is the same store through a guard
	// without a deadline, for work that may take long (the purge, the
	// admin commands). health hears from both whether the store answers.
	long   channels.Store
	health *health
	// raw is the store itself, under the guards and the metrics: what the
	// load harness pre-fills and counts through.
	raw   channels.Store
	langs *langmemo.Memo // the language each phone was last answered in, for every channel
}

// newServer opens the store, loads and checks the catalog and mounts every
// channel. It refuses a catalog with any problem: a broken service must not
// reach citizens. The console SMS sender, when named, prints on console.
func newServer(cfg config, log *slog.Logger, console io.Writer) (_ *server, err error) {
	cat, bundle, err := catalog(cfg.Services)
	if err != nil {
		return nil, err
	}
	dialects := ussdDialects(cfg.USSDPage)
	served := dialects
	if !cfg.KannelUSSD {
		served = dialects[:1] // only the dialects mounted bind the catalog
	}
	if ps := lint.Check(cat, bundle, lint.Options{USSD: served}); len(ps) > 0 {
		return nil, fmt.Errorf("service catalog has problems (run 'channels validate'):\n%w", ps)
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: cfg.Region, Location: cfg.location})
	if err != nil {
		return nil, err
	}
	raw, isOutage, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	meter := metrics.New(cat)
	defer func() {
		if err != nil {
			raw.Close()
		}
	}()
	// An outage is logged once, by health, not by every request that
	// meets it.
	hl := &health{log: log, what: cfg.dataName()}
	log = slog.New(quiet{log.Handler()})
	db := &guard{Store: meter.Store(raw), health: hl, unavailable: isOutage}
	long := *db
	if cfg.DatabaseURL != "" {
		db.timeout = storeTimeout
	}
	s := &server{cfg: cfg, log: log, db: db, long: &long, raw: raw, health: hl, langs: langmemo.New(0), bundle: bundle, catalog: cat, engine: engine, metrics: meter}
	host := &host.Store{Cases: db, Prefs: db, Log: db}

	router := gin.New()
	if err := router.SetTrustedProxies(cfg.proxies()); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	router.Use(recoverer(log), requestLog(log, hl), meter.Hops())
	s.mountProbes(router)
	router.NoRoute(func(c *gin.Context) {
		// App clients get the API's JSON error, in their language.
		if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			msg := bundle.Text(bundle.Match(c.GetHeader("Accept-Language")), channels.Msg("error.not_found"))
			c.JSON(http.StatusNotFound, gin.H{"error": gin.H{"code": channels.ENOTFOUND, "message": msg}})
			return
		}
		c.String(http.StatusNotFound, "not found")
	})
	s.router = router

	ucfg := ussd.Config{
		Engine:       engine,
		Host:         host,
		Sessions:     db,
		Prefs:        db,
		Bundle:       bundle,
		Log:          log,
		Layout:       dialects[0].Layout,
		SessionTTL:   cfg.USSDSession,
		ResumeWindow: cfg.ResumeWindow,
		Region:       cfg.Region,
		Meter:        meter,
		Locks:        db,
		Langs:        s.langs,
	}
	ucfg.Limits = cfg.ussdLimits
	s.mountUSSD(ucfg)

	sender, err := newSender(cfg, console)
	if err != nil {
		return nil, err
	}
	if cfg.sender() == consolesms.Name {
		log.Warn(consoleWarning)
		s.routes = append(s.routes, consoleWarning)
	}
	hooks, err := webhook.New(webhook.Config{Agencies: db})
	if err != nil {
		return nil, err
	}
	routes := map[string]outbox.Route{
		// "Until acknowledged": about a day and a half of retries before
		// the message is failed and logged. 16 workers, at most 4 to one
		// agency: three agencies whose receivers hang still leave a
		// quarter of them to the others.
		channels.KindWebhook: {Sender: hooks, Rate: 20, Burst: 20, MaxAttempts: webhookAttempts, Workers: 16, PerRecipient: 4},
	}
	pushOn, err := s.pushRoute(routes)
	if err != nil {
		return nil, err
	}
	if err := s.wireCalls(host, routes, pushOn); err != nil {
		return nil, err
	}
	sender = s.meterSenders(sender, routes)
	s.box = outbox.New(outbox.Config{
		Store: db, Prefs: db, Sender: sender, Rate: cfg.rate(), Routes: routes, Log: log,
		Owner: instanceName(), Lease: cfg.OutboxLease, Locks: db,
	})
	var codes auth.Outbox = unavailable{}
	if sender != nil {
		codes = s.box
	}
	s.notify = notify.New(notify.Config{
		Store: db, Outbox: s.box, Bundle: bundle, Catalog: cat, Webhook: webhook.Message,
		Push: pushOn, DeepLink: cfg.PushLink, Log: log,
	})
	key, err := tokenKey(cfg, db)
	if err != nil {
		return nil, err
	}
	authn := auth.New(auth.Config{Sessions: db, SignOuts: db, Prefs: db, Outbox: codes, Bundle: bundle, Key: key, Region: cfg.Region, Log: log, Rates: db, Locks: db})
	api := app.New(app.Config{
		Engine: engine,
		Host:   host,
		Store:  db,
		Bundle: bundle,
		Auth:   authn,
		// Devices register even while push is off: their notices then go
		// by SMS, and by push once it is configured.
		Devices:    push.NewDevices(push.DevicesConfig{Store: db, Bundle: bundle, Log: log, Locks: db}),
		Log:        log,
		Meter:      meter,
		Region:     cfg.Region,
		SessionTTL: cfg.AppSession,
	})
	api.Register(router)
	s.routes = append(s.routes, "app API: /v1 (OpenAPI at /v1/openapi.json)")
	kiosk.New(kiosk.Config{
		Engine: engine, Host: host, Store: db, Auth: authn, Outbox: s.box, Bundle: bundle, Region: cfg.Region,
		// Requests over TLS get Secure cookies anyway; behind a proxy that
		// ends TLS, the public URL tells.
		Secure:   strings.HasPrefix(cfg.PublicURL, "https://"),
		Location: cfg.location, Log: log, Meter: meter,
	}).Register(router)
	s.routes = append(s.routes, "kiosk console: /kiosk/ (operators from 'channels operator add')")
	agency.New(agency.Config{Cases: db, Keys: db, Bundle: bundle, Log: log}).Register(router)
	s.routes = append(s.routes, "agency API: /v1/agency (keys from 'channels agency add')")

	if err := s.mountSMS(host); err != nil {
		return nil, err
	}
	if err := s.listenAdmin(); err != nil {
		return nil, err
	}
	s.meterHops()

	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	// Every instance sends from the outbox (its claims keep them apart);
	// one at a time follows the case log and purges.
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		lead(ctx, db, "purge", log, func(ctx context.Context) { s.purge(ctx, time.Minute) })
	}()
	go func() {
		defer s.wg.Done()
		if err := s.box.Run(ctx); err != nil {
			log.Error("outbox stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		lead(ctx, db, notify.CursorName, log, func(ctx context.Context) {
			if err := s.notify.Run(ctx); err != nil {
				log.Error("notifier stopped", "err", err)
			}
		})
	}()
	return s, nil
}

// lateAttempts is how many background attempts a timed-out call gets
// before the citizen is sent the failed exit's screen: with the outbox's
// backoff (2 s doubling, at most 10 min) a little over 8 minutes of
// retries, within the hour a late call is kept (later.Config.CallTTL).
const lateAttempts = 8

// wireCalls gives host the agency calls of call steps and the reminders,
// and routes the late calls of the outbox: a call whose step has later set
// and that runs out of time is queued (later.Sender.Enqueue) before the
// citizen is told the answer comes by SMS, and finished by 8 workers, at
// most 2 to one agency, so that an agency that hangs holds up no other.
func (s *server) wireCalls(h *host.Store, routes map[string]outbox.Route, pushOn bool) error {
	var devices channels.DeviceStore
	if pushOn {
		devices = s.db
	}
	client, err := agencycall.New(agencycall.Config{
		Agencies: s.db,
		Later:    func(ctx context.Context, req flows.AgencyRequest) error { return s.late.Enqueue(ctx, req) },
	})
	if err != nil {
		return err
	}
	s.late = later.New(later.Config{
		Store: s.db, Caller: client, Later: s.engine.LaterResult, Bundle: s.bundle, Catalog: s.catalog,
		Layout: sms.Layout{MaxSegments: 4}, Devices: devices, Log: s.log, Locks: s.db,
	})
	routes[channels.KindCall] = outbox.Route{Sender: s.late, Rate: 20, Burst: 20, MaxAttempts: lateAttempts, Workers: 8, PerRecipient: 2}
	h.Agencies = s.metrics.Caller(client)
	h.Reminders = s.late.Reminders()
	return nil
}

// mountUSSD mounts the USSD dialects, each behind the proof its gateway
// gives (package gateway): Africa's Talking always, from loopback only
// while it has no secret or allowed addresses (and the log says so), and
// Kannel when kannel-ussd turns it on.
func (s *server) mountUSSD(ucfg ussd.Config) {
	cfg := s.cfg
	at := ussd.New(ucfg)
	s.meterUSSDLimits("at", at)
	atGate := gateway.Config{Name: "africastalking", Secret: cfg.ATSecret, Allow: cfg.atAllow, Phone: ussd.ATPhone, Refuse: at.RefuseAT, Log: s.log}
	g := s.router.Group("/ussd/at", gateway.New(atGate))
	at.RegisterAT(g, "")
	switch {
	case atGate.LoopbackOnly():
		s.log.Warn("USSD over Africa's Talking accepts LOOPBACK callers only: no at-secret or at-allow is configured")
		s.routes = append(s.routes, "USSD: Africa's Talking POST /ussd/at, LOOPBACK CALLERS ONLY (set -at-secret or -at-allow)")
	case cfg.ATSecret != "":
		at.RegisterAT(g, "/:secret")
		s.routes = append(s.routes, "USSD: Africa's Talking POST /ussd/at/SECRET (or ?secret=, or Basic)")
	default:
		s.routes = append(s.routes, "USSD: Africa's Talking POST /ussd/at, from at-allow addresses")
	}
	if !cfg.KannelUSSD {
		s.routes = append(s.routes, "USSD over Kannel: off (set -kannel-ussd and -kannel-secret)")
		return
	}
	// Kannel carries a page in one SMS: 160 GSM-7 characters or 70
	// UCS-2 units; the lint checks the same layout.
	ucfg.Layout = ussdDialects(cfg.USSDPage)[1].Layout
	kn := ussd.New(ucfg)
	s.meterUSSDLimits("kannel", kn)
	g = s.router.Group("/ussd/kannel", gateway.New(gateway.Config{
		Name: "kannel-ussd", Secret: cfg.KannelSecret, Allow: cfg.kannelAllow, Phone: queryFrom, Refuse: kn.RefuseKannel, Log: s.log,
	}))
	kn.RegisterKannel(g, "", cfg.KannelSecret)
	s.routes = append(s.routes, "USSD: Kannel (SMPP) GET /ussd/kannel")
}

// queryFrom is the phone a Kannel call claims, for the log of a refusal.
func queryFrom(r *http.Request) string { return r.URL.Query().Get("from") }

// ussdDialects are the USSD gateway dialects serve mounts, in the order
// it mounts them, with the page layout each renders to: what the startup
// lint and channels validate check every page against. page is the
// -ussd-page budget.
func ussdDialects(page int) []lint.NamedLayout {
	return []lint.NamedLayout{
		{Name: "Africa's Talking", Layout: ussd.Layout{MaxChars: page, UCS2MaxChars: ucs2Page}},
		// Kannel carries a page in one SMS of its sms-length, 140 octets
		// by default: 160 GSM-7 characters or 70 UCS-2, and cuts what is
		// longer.
		{Name: "Kannel", Layout: ussd.KannelLayout(page)},
	}
}

// mountSMS mounts the SMS edges of the configured gateways, or says in the
// log and the banner that SMS is off.
func (s *server) mountSMS(host flows.Host) error {
	cfg := s.cfg
	if !cfg.twilio() && !cfg.kannel() {
		if cfg.sender() == consolesms.Name {
			s.routes = append(s.routes, "SMS: no gateway, so no inbound SMS; outbound SMS printed on stderr (-sms-sender console)")
			return nil
		}
		s.log.Warn("SMS is off: no Twilio credentials or Kannel sendsms URL are configured; app sign-in codes cannot be sent")
		s.routes = append(s.routes, "SMS: off (configure Twilio or Kannel)")
		return nil
	}
	scfg := sms.Config{
		Engine: s.engine, Host: host, Sessions: s.db, Prefs: s.db, Bundle: s.bundle, Log: s.log, Locks: s.db,
		IdleWindow: cfg.SMSIdle, Reports: s.box, PerPhone: cfg.smsPerPhone, PerSource: cfg.smsPerSource,
		Meter: s.metrics,
		Langs: s.langs,
	}
	if cfg.SMSReplies == "outbox" {
		scfg.Replies = s.box
	}
	srv, err := sms.New(scfg)
	if err != nil {
		return err
	}
	s.meterSMSLimits(srv)
	if cfg.twilio() {
		sms.NewTwilio(srv, sms.TwilioConfig{AuthToken: cfg.TwilioAuthToken, PublicURL: cfg.PublicURL, Region: cfg.Region}).Register(s.router, "/sms/twilio")
		s.routes = append(s.routes, "SMS: Twilio webhook POST /sms/twilio, status callback /sms/twilio/status")
	}
	if cfg.kannel() {
		g := s.router.Group("/sms/kannel", gateway.New(gateway.Config{
			Name: "kannel-sms", Secret: cfg.KannelSecret, Allow: cfg.kannelAllow, Phone: queryFrom, Log: s.log,
		}))
		sms.NewKannel(srv, sms.KannelConfig{Secret: cfg.KannelSecret, Region: cfg.Region}).Register(g, "")
		s.routes = append(s.routes, "SMS: Kannel get-url /sms/kannel, dlr-url /sms/kannel/dlr")
	}
	s.log.Info("SMS is on", "sender", cfg.sender(), "replies", cfg.SMSReplies)
	return nil
}

// consoleWarning is said in the log and the banner of a server whose SMS
// are printed instead of sent.
const consoleWarning = "WARNING: -sms-sender console prints every SMS, sign-in codes and whole phone numbers included, on stderr instead of sending it: for development only, never run it in production"

// newSender returns the gateway that sends outbound SMS (the console
// sender prints on console); nil when none is configured.
func newSender(cfg config, console io.Writer) (outbox.Sender, error) {
	base := strings.TrimSuffix(cfg.PublicURL, "/")
	switch cfg.sender() {
	case consolesms.Name:
		return consolesms.New(console), nil
	case "twilio":
		return twilio.New(twilio.Config{
			AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken,
			From: cfg.TwilioFrom, MessagingServiceSID: cfg.TwilioMessagingService,
			StatusCallback: base + "/sms/twilio/status", BaseURL: cfg.TwilioAPI,
		})
	case "kannel":
		dlr := ""
		if base != "" {
			dlr = base + "/sms/kannel/dlr"
			if cfg.KannelSecret != "" {
				dlr += "?secret=" + url.QueryEscape(cfg.KannelSecret)
			}
		}
		return kannel.New(kannel.Config{
			SendSMSURL: cfg.KannelSendSMS, Username: cfg.KannelUser, Password: cfg.KannelPassword,
			From: cfg.KannelFrom, DLRURL: dlr,
		})
	}
	return nil, nil
}

// openStore opens the store of cfg: PostgreSQL when a database URL is set,
// which other instances may share, else the bbolt file, which its lock
// holds for this process alone. unavailable tells the store's errors that
// say it cannot do the work now from the others.
func openStore(cfg config) (_ channels.Store, unavailable func(error) bool, _ error) {
	if cfg.DatabaseURL == "" {
		db, err := bolt.Open(cfg.Data, bolt.Options{})
		if err != nil {
			return nil, nil, err
		}
		return db, bolt.Unavailable, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	return db, postgres.Unavailable, nil
}

// dataName says where the data is kept, for the banner: the bbolt file, or
// the PostgreSQL database without its password.
func (c *config) dataName() string {
	if c.DatabaseURL == "" {
		return c.Data
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && u.Host != "" {
		return "PostgreSQL " + u.Redacted()
	}
	return "PostgreSQL"
}

// pushRoute adds the FCM route to routes when push is configured, and
// says in the log and the banner whether it is.
func (s *server) pushRoute(routes map[string]outbox.Route) (bool, error) {
	cfg := s.cfg
	if cfg.FirebaseProject == "" {
		s.log.Warn("push is off: no Firebase project is configured; case notices go by SMS")
		s.routes = append(s.routes, "push: off (configure -firebase-project); devices: POST/DELETE /v1/devices")
		return false, nil
	}
	client, err := push.NewClient(context.Background(), push.Config{ProjectID: cfg.FirebaseProject, CredentialsFile: cfg.FirebaseCredentials, Endpoint: cfg.FCMEndpoint})
	if err != nil {
		return false, fmt.Errorf("push: %w", err)
	}
	// A notice no device took goes by SMS soon: a few tries only.
	routes[channels.KindPush] = outbox.Route{Sender: push.NewSender(client, s.db, s.log), Rate: 100, Burst: 100, MaxAttempts: 4}
	s.log.Info("push is on", "project", cfg.FirebaseProject)
	s.routes = append(s.routes, "push: FCM project "+cfg.FirebaseProject+"; devices: POST/DELETE /v1/devices")
	return true, nil
}

// listenAdmin serves the admin commands on the admin socket, so that keys
// can be made while the server holds the data file.
func (s *server) listenAdmin() error {
	path := s.cfg.AdminSocket
	if path == "" {
		path = admin.SocketPath(s.cfg.Data)
	}
	ln, err := admin.Listen(path)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	s.admin = &http.Server{Handler: admin.NewServer(admin.New(s.long, agency.NewKey, time.Now), s.log), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin socket stopped", "err", err)
		}
	}()
	s.routes = append(s.routes, "admin: unix socket "+path)
	return nil
}

// webhookAttempts is how many deliveries an agency webhook gets. Once the
// outbox's backoff reaches its 10-minute cap, a retry waits 5 minutes on
// average (full jitter): 430 attempts last about a day and a half.
const webhookAttempts = 430

// consoleRate is the pace of the console sender, in messages a second: a
// reader's, not a gateway's.
const consoleRate = 10

// rate is the configured sending rate of the gateway that sends.
func (c *config) rate() float64 {
	switch c.sender() {
	case "kannel":
		return c.KannelRate
	case consolesms.Name:
		return consoleRate
	}
	return c.TwilioRate
}

// unavailable is the outbox of a server with no SMS gateway: it refuses
// every message, so that a sign-in code is never accepted and then left
// unsent.
type unavailable struct{}

func (unavailable) Send(context.Context, ...*channels.Outbound) error {
	return channels.Errorf(channels.EUNAVAILABLE, "sms.unavailable", "no SMS gateway is configured")
}

// tokenKey is the key that signs app tokens: the -token-key-file's, so
// that a copy of the database alone cannot sign a token for any phone, or
// else the secret kept in the database.
func tokenKey(cfg config, db channels.SecretStore) ([]byte, error) {
	if cfg.tokenKey != nil {
		return cfg.tokenKey, nil
	}
	return db.Secret(context.Background(), "auth-token", auth.MinKeySize)
}

// purge runs purgeOnce every interval until ctx ends.
func (s *server) purge(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.purgeOnce(ctx, now)
		}
	}
}

// purgeBatch is how many outbox messages one transaction of the purge
// removes, so that no purge holds the store for long.
const purgeBatch = 500

// purged counts what one pass of the purge removed.
type purged struct {
	sessions, outbound, signOuts int
}

// purgeOnce removes what need no longer be kept at now: expired sessions
// (pending codes, resume records and SMS de-duplication records among
// them), final outbox messages older than the retention period, in
// batches, and sign-outs whose tokens have all expired. It logs the counts
// at info when any is nonzero, and each failure at error.
func (s *server) purgeOnce(ctx context.Context, now time.Time) purged {
	var p purged
	var err error
	if p.sessions, err = s.long.PurgeSessions(ctx, now); err != nil {
		s.log.Error("purge expired sessions", "err", err)
	}
	for cut := now.Add(-s.cfg.Retention); ctx.Err() == nil; {
		n, err := s.long.PurgeOutbound(ctx, cut, purgeBatch)
		p.outbound += n
		if err != nil {
			s.log.Error("purge outbox messages", "err", err)
		}
		if err != nil || n < purgeBatch {
			break
		}
	}
	if p.signOuts, err = s.long.PurgeSignOuts(ctx, now); err != nil {
		s.log.Error("purge sign-outs", "err", err)
	}
	if p != (purged{}) {
		s.log.Info("purged", "sessions", p.sessions, "outbox_messages", p.outbound, "sign_outs", p.signOuts, "retention", s.cfg.Retention)
	}
	return p
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
	if s.admin != nil {
		s.admin.Close() // also removes the socket file
	}
	s.stop()
	s.wg.Wait()
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
	srv, err := newServer(cfg, log, stderr)
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
		listenURL(ln.Addr()), len(srv.catalog.Services), catalogName, srv.bundle.Langs(), cfg.dataName())
	for _, r := range srv.routes {
		fmt.Fprintf(stdout, "channels: %s\n", r)
	}

	select {
	case err := <-errc:
		log.Error("stopped serving", "err", err)
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
// error, but a 503 during a store outage at debug (health logs the
// outage); it logs paths and statuses, never bodies (they carry citizens'
// answers).
func requestLog(log *slog.Logger, h *health) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelDebug
		switch {
		case status == http.StatusServiceUnavailable && h.down.Load():
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
