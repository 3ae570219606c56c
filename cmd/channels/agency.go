package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/store/postgres"
)

// envAdminSocket sets the admin socket of `channels agency`, as it does
// for serve.
const envAdminSocket = "CHANNELS_ADMIN_SOCKET"

const agencyUsage = `usage: channels agency <command> [flags] [arguments]

commands:
  add [-webhook URL] [-api-url URL] ID NAME
                               add an agency with its first API key (and the secret
                               that signs its webhooks and calls)
  key AGENCY                   make another API key of an agency
  revoke KEY_ID                revoke an API key at once
  list                         list the agencies and their keys (never a secret)
  webhook [-rotate-secret] AGENCY URL
                               set an agency's webhook ("" removes it); makes a secret if it has none
  api-url AGENCY URL           set the base URL of an agency's operations, which call
                               steps POST to ("" removes it); makes a secret if it has none

Keys and secrets are printed once and stored only hashed (keys) or unlisted
(secrets). One secret per agency signs both its webhooks and its calls. While 'channels serve' runs it holds the data file; the
commands then go through its admin socket, found with the same -data.

flags of every command:
`

// adminFlags are the flags of the admin commands (agency, operator,
// audit): where the data file and the running server's admin socket are.
type adminFlags struct {
	data     string
	database string // a PostgreSQL URL, used instead of data when set
	envErr   error  // reading CHANNELS_DATABASE_URL_FILE failed
	socket   string
	services string
}

// register adds the common flags to fs, their defaults from the
// environment as serve takes them.
func (f *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", envOr("CHANNELS_DATA", "channels.db"), "bbolt data file, used directly when no server answers on the admin socket ($CHANNELS_DATA)")
	var database string
	database, f.envErr = envSecret("CHANNELS_DATABASE_URL")
	fs.StringVar(&f.database, "database-url", database, "PostgreSQL URL, used directly instead of the data file when no server answers on the admin socket ($CHANNELS_DATABASE_URL or _FILE)")
	fs.StringVar(&f.socket, "admin-socket", os.Getenv(envAdminSocket), "admin socket of a running server; empty: the data file path + "+admin.SocketSuffix+" ($"+envAdminSocket+")")
	fs.StringVar(&f.services, "services", os.Getenv("CHANNELS_SERVICES"), "service catalog directory, to warn of an agency no service names; empty: the shipped catalog ($CHANNELS_SERVICES)")
}

// envSecret returns the variable name, or the contents of the file named
// by name_FILE, as serve reads its secrets.
func envSecret(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	path := os.Getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// runAgency is `channels agency`: the admin operations on agencies and
// their keys, through a running server's admin socket or on the data file.
func runAgency(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, agencyUsage)
		agencyFlagSet("agency", stderr, &adminFlags{}).PrintDefaults()
		return 2
	}
	cmd, rest := args[0], args[1:]
	var f adminFlags
	fs := agencyFlagSet("agency "+cmd, stderr, &f)
	webhook, apiURL := "", ""
	rotate := false
	var want int
	switch cmd {
	case "add":
		fs.StringVar(&webhook, "webhook", "", "URL the agency's webhooks are sent to: https, or http to localhost")
		fs.StringVar(&apiURL, "api-url", "", "base URL of the agency's operations (call steps POST to URL/operations/NAME): https, or http to localhost")
		want = 2
	case "api-url":
		want = 2
	case "key", "revoke":
		want = 1
	case "list":
		want = 0
	case "webhook":
		fs.BoolVar(&rotate, "rotate-secret", false, "make a new webhook secret even if the agency has one")
		want = 2
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, agencyUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	default:
		fmt.Fprintf(stderr, "channels agency: unknown command %q\n\n%s", cmd, agencyUsage)
		return 2
	}
	if code := parseCommand(fs, rest, want, "channels agency "+cmd, agencyUsage, stderr); code >= 0 {
		return code
	}
	ops, done, err := f.open("channels agency", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "channels agency %s: %v\n", cmd, err)
		return 1
	}
	defer done()
	ctx := context.Background()
	a := fs.Args()
	switch cmd {
	case "add":
		err = agencyAdd(ctx, ops, a[0], a[1], webhook, apiURL, f.services, stdout, stderr)
	case "key":
		err = agencyKey(ctx, ops, a[0], f.services, stdout, stderr)
	case "revoke":
		err = agencyRevoke(ctx, ops, a[0], stdout)
	case "list":
		err = agencyList(ctx, ops, stdout)
	case "webhook":
		err = agencyWebhook(ctx, ops, a[0], a[1], rotate, stdout)
	case "api-url":
		err = agencyAPIURL(ctx, ops, a[0], a[1], stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "channels agency %s: %s\n", cmd, admin.Describe(err))
		return 1
	}
	return 0
}

// parseCommand parses the flags of the admin command name ("channels
// agency add") from args into fs and checks that want arguments follow.
// It returns -1 to go on, else the exit status to return at once: 0 after
// -h, 2 for a usage error.
func parseCommand(fs *flag.FlagSet, args []string, want int, name, usage string, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != want {
		fmt.Fprintf(stderr, "%s: want %d arguments, got %d (flags go before them)\n\n%s", name, want, fs.NArg(), usage)
		return 2
	}
	return -1
}

// agencyFlagSet returns the flag set of a command with the common flags.
func agencyFlagSet(name string, stderr io.Writer, f *adminFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	return fs
}

// open returns the operations for the command named cmd: through the
// admin socket (the data file's when -admin-socket is not given) when a
// server answers on it, else on the data file, which done closes. It says
// on stderr which it took.
func (f *adminFlags) open(cmd string, stderr io.Writer) (ops admin.Operations, done func(), err error) {
	if f.socket == "" {
		f.socket = admin.SocketPath(f.data)
	}
	if admin.Answers(f.socket) {
		fmt.Fprintf(stderr, "%s: through the admin socket %s\n", cmd, f.socket)
		return admin.NewClient(f.socket), func() {}, nil
	}
	if f.envErr != nil {
		return nil, nil, f.envErr
	}
	if f.database != "" {
		db, err := postgres.Open(context.Background(), f.database)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(stderr, "%s: on the database\n", cmd)
		return admin.New(db, agency.NewKey, time.Now), func() { db.Close() }, nil
	}
	db, err := bolt.Open(f.data, bolt.Options{})
	if errors.Is(err, bolt.ErrLocked) {
		return nil, nil, fmt.Errorf("%w; no server answers on the admin socket %s: give the running server's with -admin-socket", err, f.socket)
	}
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "%s: on the data file %s\n", cmd, f.data)
	return admin.New(db, agency.NewKey, time.Now), func() { db.Close() }, nil
}

// onceNotice ends every output that holds a key or a secret.
const onceNotice = "Store them now: they will not be shown again."

func agencyAdd(ctx context.Context, ops admin.Operations, id, name, webhook, apiURL, services string, stdout, stderr io.Writer) error {
	out, err := ops.AddAgency(ctx, id, name, webhook, apiURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Agency %s (%s) added.\n", out.Agency.ID, out.Agency.Name)
	fmt.Fprintf(stdout, "API key %s: %s\n", out.Key.ID, out.Key.Plaintext)
	if out.Agency.WebhookURL != "" {
		fmt.Fprintf(stdout, "Webhook %s\n", out.Agency.WebhookURL)
	}
	if out.Agency.APIURL != "" {
		fmt.Fprintf(stdout, "API URL %s\n", out.Agency.APIURL)
	}
	if out.WebhookSecret != "" {
		fmt.Fprintf(stdout, "Webhook secret (HMAC-SHA256 key, hex of 32 bytes): %s\n", out.WebhookSecret)
	}
	fmt.Fprintln(stdout, onceNotice)
	warnUnnamed(id, services, stderr)
	return nil
}

func agencyKey(ctx context.Context, ops admin.Operations, id, services string, stdout, stderr io.Writer) error {
	out, err := ops.AddKey(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API key %s of agency %s: %s\n", out.ID, out.Agency, out.Plaintext)
	fmt.Fprintln(stdout, onceNotice)
	warnUnnamed(id, services, stderr)
	return nil
}

func agencyRevoke(ctx context.Context, ops admin.Operations, keyID string, stdout io.Writer) error {
	k, err := ops.RevokeKey(ctx, keyID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Key %s of agency %s revoked at %s.\n", k.ID, k.Agency, k.RevokedAt.Format(time.RFC3339))
	return nil
}

func agencyList(ctx context.Context, ops admin.Operations, stdout io.Writer) error {
	list, err := ops.ListAgencies(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "No agencies. Add one with 'channels agency add ID NAME'.")
		return nil
	}
	for _, ag := range list {
		fmt.Fprintf(stdout, "%s  %s  created %s\n", ag.ID, ag.Name, ag.CreatedAt.Format(time.RFC3339))
		if ag.WebhookURL != "" {
			fmt.Fprintf(stdout, "  webhook %s\n", ag.WebhookURL)
		}
		if ag.APIURL != "" {
			fmt.Fprintf(stdout, "  api-url %s\n", ag.APIURL)
		}
		if len(ag.Keys) == 0 {
			fmt.Fprintln(stdout, "  no key")
		}
		for _, k := range ag.Keys {
			state := "active"
			if !k.RevokedAt.IsZero() {
				state = "revoked " + k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "  key %s  created %s  %s\n", k.ID, k.CreatedAt.Format(time.RFC3339), state)
		}
	}
	return nil
}

func agencyWebhook(ctx context.Context, ops admin.Operations, id, url string, rotate bool, stdout io.Writer) error {
	out, err := ops.SetWebhook(ctx, id, url, rotate)
	if err != nil {
		return err
	}
	if out.URL == "" {
		fmt.Fprintf(stdout, "Webhook of agency %s removed.\n", out.Agency)
		return nil
	}
	fmt.Fprintf(stdout, "Webhook of agency %s: %s\n", out.Agency, out.URL)
	if out.Secret != "" {
		fmt.Fprintf(stdout, "Webhook secret (HMAC-SHA256 key, hex of 32 bytes): %s\n", out.Secret)
		fmt.Fprintln(stdout, onceNotice)
	}
	return nil
}

func agencyAPIURL(ctx context.Context, ops admin.Operations, id, url string, stdout io.Writer) error {
	out, err := ops.SetAPIURL(ctx, id, url)
	if err != nil {
		return err
	}
	if out.URL == "" {
		fmt.Fprintf(stdout, "API URL of agency %s removed: its call steps fail.\n", out.Agency)
		return nil
	}
	fmt.Fprintf(stdout, "API URL of agency %s: %s\n", out.Agency, out.URL)
	if out.Secret != "" {
		fmt.Fprintf(stdout, "Webhook secret (HMAC-SHA256 key, hex of 32 bytes), which signs the calls: %s\n", out.Secret)
		fmt.Fprintln(stdout, onceNotice)
	}
	return nil
}

// warnUnnamed warns when no service of the catalog names agency id: its
// keys then find no case. The admin operations do not check it, since the
// catalog can change without the agencies.
func warnUnnamed(id, services string, stderr io.Writer) {
	name := "the shipped catalog"
	if services != "" {
		name = services
	}
	cat, _, err := catalog(services)
	if err != nil {
		fmt.Fprintf(stderr, "warning: cannot load %s to check that a service names agency %s: %v\n", name, id, err)
		return
	}
	for _, s := range cat.Services {
		if s.Agency == id {
			return
		}
	}
	fmt.Fprintf(stderr, "warning: no service of %s names agency %s: its keys will find no case until one does\n", name, id)
}
