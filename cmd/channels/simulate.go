package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/app"
	"github.com/govchannels/channels/demoagency"
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
	agencyURL := fs.String("agency-url", "", "the API URL of every agency the catalog's call steps name, e.g. http://127.0.0.1:8090 for channels demo-agency (default: the agencies of the data file)")
	agencySecrets := fs.String("agency-secret-file", "", "with -agency-url: the file of the secrets that sign the calls, as demo-agency reads it: one hex secret for every agency, or lines AGENCY HEX")
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
	ctx := context.Background()
	if *agencyURL != "" || *agencySecrets != "" {
		if err := simulateAgencies(ctx, db, cat, *agencyURL, *agencySecrets); err != nil {
			fmt.Fprintf(stderr, "channels simulate: %v\n", err)
			return 2
		}
	}
	client, err := agencycall.New(agencycall.Config{Agencies: db})
	if err != nil {
		fmt.Fprintf(stderr, "channels simulate: %v\n", err)
		return 1
	}
	host := &host.Store{Cases: db, Prefs: db, Log: db, Agencies: &simulateCaller{caller: client, out: stdout}}

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

// simulateCaller makes the calls of a simulation with the real client,
// without a late-answer hook: nothing runs in the background to finish a
// call that ran out of time, so it says what `channels serve` would do.
type simulateCaller struct {
	caller flows.AgencyCaller
	out    io.Writer
}

// Ask makes the call and, when a call whose step finishes late runs out
// of time, prints that the answer would come by SMS.
func (c *simulateCaller) Ask(ctx context.Context, req flows.AgencyRequest) flows.AgencyAnswer {
	ans := c.caller.Ask(ctx, req)
	if ans.Outcome == flows.OutcomeTimeout && req.Later != nil {
		fmt.Fprintf(c.out, "(simulate: %s of %s did not answer in time; channels serve would finish the call in the background and send the answer by SMS, or push on the app)\n", req.Operation, req.Agency)
	}
	return ans
}

// simulateAgencies points every agency the catalog's call steps name at
// apiURL, signing with its secret from secretFile, in the simulation's
// store: the shipped call services can then be tried against `channels
// demo-agency`.
func simulateAgencies(ctx context.Context, db *bolt.DB, cat *flows.Catalog, apiURL, secretFile string) error {
	if apiURL == "" || secretFile == "" {
		return errors.New("-agency-url and -agency-secret-file go together")
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-agency-url %q is not an absolute http(s) URL", apiURL)
	}
	data, err := os.ReadFile(secretFile)
	if err != nil {
		return fmt.Errorf("agency secrets: %w", err)
	}
	secrets, err := demoagency.ParseSecrets(string(data))
	if err != nil {
		return fmt.Errorf("agency secrets %s: %w", secretFile, err)
	}
	for _, id := range calledAgencies(cat) {
		secret, ok := secrets[id]
		if !ok {
			secret = secrets[""]
		}
		if secret == nil {
			return fmt.Errorf("agency secrets %s: no secret for agency %s", secretFile, id)
		}
		a, err := db.Agency(ctx, id)
		switch {
		case channels.ErrorCode(err) == channels.ENOTFOUND:
			a = &channels.Agency{ID: id, Name: id, CreatedAt: time.Now()}
		case err != nil:
			return fmt.Errorf("agency %s: %w", id, err)
		}
		a.APIURL, a.WebhookSecret = apiURL, secret
		if err := db.PutAgency(ctx, *a); err != nil {
			return fmt.Errorf("agency %s: %w", id, err)
		}
	}
	return nil
}

// calledAgencies lists, once each and sorted, the agencies the call steps
// of cat call: the step's agency, else its service's.
func calledAgencies(cat *flows.Catalog) []string {
	var ids []string
	for _, svc := range cat.Services {
		for _, st := range svc.Steps {
			if st.Kind != flows.StepCall {
				continue
			}
			id := st.Agency
			if id == "" {
				id = svc.Agency
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}
