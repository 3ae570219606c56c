package main

import (
	"context"
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

	"github.com/govchannels/channels/demopay"
)

// demoPayCredentials are the fake providers' credentials: made up, printed
// at start, never a real account's. The shortcode and passkey are
// Daraja's published sandbox ones.
var demoPayCredentials = demopay.Config{
	Daraja: demopay.Daraja{
		ConsumerKey: "demo-consumer-key", ConsumerSecret: "demo-consumer-secret",
		ShortCode: "174379", Passkey: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
		Initiator: "demoapi", SecurityCredential: "demo-security-credential",
	},
	MoMo: demopay.MoMo{
		TargetEnvironment: "sandbox",
		Collection:        demopay.Product{SubscriptionKey: "demo-collection-key", APIUser: "2b7c5a1e-8d3f-4c6a-9e2b-1f0d7c3a5b8e", APIKey: "demo-collection-api-key"},
		Disbursement:      demopay.Product{SubscriptionKey: "demo-disbursement-key", APIUser: "7e1d3c5b-9a2f-4b8e-8c6d-0a4f2e8b6c1d", APIKey: "demo-disbursement-api-key"},
	},
}

// runDemoPay is `channels demo-pay`: a demonstration of M-Pesa's Daraja
// and MTN MoMo on one port, settling payments by magic phone numbers and
// calling back, so that fees can be tried end to end on a laptop. It is
// never needed in production and moves no money.
func runDemoPay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo-pay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("CHANNELS_DEMO_PAY_ADDR", "127.0.0.1:8091"), "address to listen on ($CHANNELS_DEMO_PAY_ADDR)")
	settle := fs.Duration("settle-after", demopay.DefaultSettleAfter, "how long a payment waits for its payer before it settles as its phone says; negative: only POST /demo/payments/{ref}/settle settles")
	late := fs.Duration("late", demopay.DefaultLate, "how late a late callback comes")
	c2b := fs.String("c2b-url", os.Getenv("CHANNELS_DEMO_PAY_C2B_URL"), "our C2B confirmation URL, for paybill payments ($CHANNELS_DEMO_PAY_C2B_URL)")
	logLevel := fs.String("log-level", envOr("CHANNELS_LOG_LEVEL", "info"), "debug, info, warn or error ($CHANNELS_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels demo-pay [-addr HOST:PORT] [-settle-after D] [-c2b-url URL]")
		fmt.Fprintln(stderr, "A DEMONSTRATION of M-Pesa Daraja and MTN MoMo: fake money, magic phones. Never for production.")
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
	gin.SetMode(gin.ReleaseMode)
	cfg := demoPayCredentials
	cfg.SettleAfter, cfg.Late, cfg.C2BConfirmationURL = *settle, *late, *c2b
	cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := demopay.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "channels demo-pay: %v\n", err)
		return 1
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "channels demo-pay: %v\n", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	base, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	url := "http://" + listenURL(ln.Addr())
	d, m := cfg.Daraja, cfg.MoMo
	say := func(format string, a ...any) { fmt.Fprintf(stdout, "channels demo-pay: "+format+"\n", a...) }
	say("DEMONSTRATION ONLY: fake M-Pesa and MoMo, no money; never use it in production")
	say("mpesa: base URL %s consumer key %s consumer secret %s shortcode %s passkey %s initiator %s security credential %s",
		url, d.ConsumerKey, d.ConsumerSecret, d.ShortCode, d.Passkey, d.Initiator, d.SecurityCredential)
	say("momo: base URL %s target environment %s", url, m.TargetEnvironment)
	say("momo collection: subscription key %s API user %s API key %s", m.Collection.SubscriptionKey, m.Collection.APIUser, m.Collection.APIKey)
	say("momo disbursement: subscription key %s API user %s API key %s", m.Disbursement.SubscriptionKey, m.Disbursement.APIUser, m.Disbursement.APIKey)
	say("magic phone endings: 001 no funds, 032 cancelled, 019 expired, 037 unreachable, 201 wrong PIN, 500 provider failure, 902 callback twice, 903 late, 904 never, 905 stays pending, 908 answer lost; others pay")
	// Last, so that whoever waits for it has the credentials already.
	say("listening on %s (Daraja and MoMo paths; control API under /demo/)", url)

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "channels demo-pay: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	cancelRequests()
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := hs.Shutdown(shutdown); err != nil {
		fmt.Fprintf(stderr, "channels demo-pay: shutdown: %v\n", err)
		return 1
	}
	return 0
}
