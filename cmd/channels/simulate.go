package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/app"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/ussd"
)

// runSimulate is `channels simulate`: a service in the terminal, rendered
// as USSD pages or as the app's JSON screens, inputs typed at the prompt or
// piped in. It runs the real engine on a real (temporary) bbolt file.
func runSimulate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	channel := fs.String("channel", "ussd", "rendering: ussd, sms or app")
	service := fs.String("service", "", "app: start at this service instead of the root menu")
	phone := fs.String("phone", "+254712345678", "the citizen's phone")
	lang := fs.String("lang", "", "app: the language (default: the phone's, else English)")
	services := fs.String("services", "", "service catalog directory (default: the shipped catalog)")
	region := fs.String("region", "KE", "country of national phone numbers")
	zone := fs.String("timezone", "Africa/Nairobi", "IANA time zone in which \"today\" is reckoned")
	data := fs.String("data", "", "bbolt data file (default: a temporary one)")
	page := fs.Int("ussd-page", 182, "ussd: characters a page may hold")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: channels simulate [flags] < inputs\n\nEach input line answers the screen shown. USSD: 98 more, 0 back, 00 home;\n$REF is the last reference shown; ~drop cuts the session. SMS: each line is one\nmessage (MENU, HELP, STOP, a service keyword, an answer). App: <back and <home.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *channel != "ussd" && *channel != "sms" && *channel != "app" {
		fs.Usage()
		return 2
	}
	e164, ok := flows.NormalizePhone(*phone, *region)
	if !ok {
		fmt.Fprintf(stderr, "channels simulate: %q is not a valid phone number\n", *phone)
		return 2
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		fmt.Fprintf(stderr, "channels simulate: timezone %q: %v\n", *zone, err)
		return 2
	}
	cat, bundle, err := catalog(*services)
	if err != nil {
		fmt.Fprintf(stderr, "channels simulate: %v\n", err)
		return 1
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: *region, Location: loc})
	if err != nil {
		fmt.Fprintf(stderr, "channels simulate: %v\n", err)
		return 1
	}
	path := *data
	if path == "" {
		dir, err := os.MkdirTemp("", "channels-simulate-")
		if err != nil {
			fmt.Fprintf(stderr, "channels simulate: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "simulate.db")
	}
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "channels simulate: %v\n", err)
		return 1
	}
	defer db.Close()
	host := &host.Store{Cases: db, Prefs: db, Log: db}
	ctx := context.Background()

	if *channel == "ussd" {
		srv := ussd.New(ussd.Config{Engine: engine, Host: host, Sessions: db, Prefs: db, Bundle: bundle,
			Log: slog.New(slog.NewTextHandler(stderr, nil)), Layout: ussd.Layout{MaxChars: *page}, Region: *region})
		sim := &ussd.Simulator{Server: srv, Phone: e164}
		if err := sim.Run(ctx, stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "channels simulate: %v\n", err)
			return 1
		}
		return 0
	}

	if *channel == "sms" {
		srv, err := sms.New(sms.Config{Engine: engine, Host: host, Sessions: db, Prefs: db, Bundle: bundle,
			Log: slog.New(slog.NewTextHandler(stderr, nil))})
		if err != nil {
			fmt.Fprintf(stderr, "channels simulate: %v\n", err)
			return 1
		}
		run := time.Now().UnixNano() // message IDs unique on a kept data file too
		sc := bufio.NewScanner(stdin)
		for i := 0; sc.Scan(); i++ {
			line := sc.Text()
			r, err := srv.Handle(ctx, sms.Inbound{Gateway: "simulate", ID: fmt.Sprintf("%d-%d", run, i), From: e164, Text: line})
			if err != nil {
				fmt.Fprintf(stderr, "channels simulate: %v\n", err)
				return 1
			}
			if r.Text == "" {
				r.Text = "(no reply)"
			}
			fmt.Fprintf(stdout, "> %s\n%s\n\n", line, r.Text)
		}
		return 0
	}

	// The app: the same engine calls the API makes, printed as its JSON.
	l := *lang
	if l == "" {
		if p, err := db.Prefs(ctx, e164); err == nil {
			l = p.Lang
		}
	}
	res, err := engine.Start(channels.ChannelApp, l, *service)
	if err != nil {
		fmt.Fprintf(stderr, "channels simulate: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	show := func(res flows.Result) {
		_ = enc.Encode(app.Render(bundle, res.State.Lang, res.Screen))
	}
	show(res)
	key := fmt.Sprintf("simulate/app/%d", time.Now().UnixNano()) // one case per run, even on a kept data file
	sc := bufio.NewScanner(stdin)
	for !res.Ended() && sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fmt.Fprintf(stdout, "> %s\n", line)
		in := flows.Input{Text: line}
		switch line {
		case "<back":
			in = flows.Input{Action: flows.Back}
		case "<home":
			in = flows.Input{Action: flows.Home}
		}
		res, err = engine.Step(res.State, in)
		if err == nil {
			res, err = engine.Settle(ctx, host, e164, key, res)
		}
		if err != nil {
			fmt.Fprintf(stderr, "channels simulate: %v\n", err)
			return 1
		}
		show(res)
	}
	return 0
}
