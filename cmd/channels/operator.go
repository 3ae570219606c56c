package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/govchannels/channels/admin"
)

const operatorUsage = `usage: channels operator <command> [flags] [arguments]

commands:
  add -kiosk KIOSK -region REGION [-lang LANG] ID NAME
                      add a kiosk operator with a random password, printed once
  disable ID          disable an operator: their console sessions end at their next request
  enable ID           enable an operator again, clearing any lockout after wrong passwords
  reset-password ID   give an operator a new random password, printed once; it signs them out everywhere
  list                list the operators (never a password or its hash)

An ID is what the operator signs in with: 2 to 32 lower-case letters, digits,
'.', '_' or '-', starting with a letter or digit. Passwords are stored only as
argon2id hashes. Every change is recorded in the audit log ('channels audit').
While 'channels serve' runs it holds the data file; the commands then go
through its admin socket, found with the same -data.

flags of every command:
`

// runOperator is `channels operator`: the admin operations on kiosk
// operators' accounts, through a running server's admin socket or on the
// data file, as `channels agency` does.
func runOperator(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, operatorUsage)
		adminFlagSet("operator", stderr, &adminFlags{}, false).PrintDefaults()
		return 2
	}
	cmd, rest := args[0], args[1:]
	var f adminFlags
	fs := adminFlagSet("operator "+cmd, stderr, &f, cmd == "add")
	var kiosk, region, lang string
	var want int
	switch cmd {
	case "add":
		fs.StringVar(&kiosk, "kiosk", "", "the kiosk the operator serves at, e.g. kisumu-post-office (required)")
		fs.StringVar(&region, "region", "", "the county or district of the kiosk (required)")
		fs.StringVar(&lang, "lang", "", "the operator's language, one of the catalog's (optional)")
		want = 2
	case "disable", "enable", "reset-password":
		want = 1
	case "list":
		want = 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, operatorUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	default:
		fmt.Fprintf(stderr, "channels operator: unknown command %q\n\n%s", cmd, operatorUsage)
		return 2
	}
	if code := parseCommand(fs, rest, want, "channels operator "+cmd, operatorUsage, stderr); code >= 0 {
		return code
	}
	if cmd == "add" && lang != "" {
		if err := offered(lang, f.services, stderr); err != nil {
			fmt.Fprintf(stderr, "channels operator add: %v\n", err)
			return 1
		}
	}

	ops, done, err := f.open("channels operator", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "channels operator %s: %v\n", cmd, err)
		return 1
	}
	defer done()
	ctx := context.Background()
	a := fs.Args()
	switch cmd {
	case "add":
		err = operatorAdd(ctx, ops, a[0], a[1], kiosk, region, lang, stdout)
	case "disable":
		err = operatorDisable(ctx, ops, a[0], stdout)
	case "enable":
		err = operatorEnable(ctx, ops, a[0], stdout)
	case "reset-password":
		err = operatorReset(ctx, ops, a[0], stdout)
	case "list":
		err = operatorList(ctx, ops, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "channels operator %s: %s\n", cmd, admin.Describe(err))
		return 1
	}
	return 0
}

// adminFlagSet returns the flag set of an admin command other than
// `channels agency`: its -data and -admin-socket flags (and -services when
// withServices is set, to check a language), with the same defaults and
// environment variables.
func adminFlagSet(name string, stderr io.Writer, f *adminFlags, withServices bool) *flag.FlagSet {
	common := agencyFlagSet(name, io.Discard, f)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, name := range []string{"data", "database-url", "admin-socket"} {
		fl := common.Lookup(name)
		fs.Var(fl.Value, fl.Name, fl.Usage)
	}
	if withServices {
		fs.Var(common.Lookup("services").Value, "services", "service catalog directory whose languages -lang must be one of; empty: the shipped catalog ($CHANNELS_SERVICES)")
	}
	return fs
}

// offered checks that lang is a language of the catalog in services (the
// shipped one when empty). A catalog that does not load is warned of, and
// the language's form is then left to the operation to check.
func offered(lang, services string, stderr io.Writer) error {
	_, bundle, err := catalogFS(services)
	if err != nil {
		fmt.Fprintf(stderr, "warning: cannot load the catalog's languages to check -lang %s: %v\n", lang, err)
		return nil
	}
	if !bundle.Supports(lang) {
		return fmt.Errorf("language %q is not offered; the catalog's are %v", lang, bundle.Langs())
	}
	return nil
}

// passwordNotice ends every output that holds a password.
const passwordNotice = "Hand it to the operator now: it will not be shown again (only its hash is stored)."

func operatorAdd(ctx context.Context, ops admin.Operations, id, name, kiosk, region, lang string, stdout io.Writer) error {
	out, err := ops.AddOperator(ctx, id, name, kiosk, region, lang)
	if err != nil {
		return err
	}
	o := out.Operator
	fmt.Fprintf(stdout, "Operator %s (%s) added at kiosk %s, region %s.\n", o.ID, o.Name, o.Kiosk, o.Region)
	fmt.Fprintf(stdout, "Password of %s: %s\n", o.ID, out.Password)
	fmt.Fprintln(stdout, passwordNotice)
	return nil
}

func operatorDisable(ctx context.Context, ops admin.Operations, id string, stdout io.Writer) error {
	o, err := ops.DisableOperator(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Operator %s disabled: their console sessions end at their next request.\n", o.ID)
	return nil
}

func operatorEnable(ctx context.Context, ops admin.Operations, id string, stdout io.Writer) error {
	o, err := ops.EnableOperator(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Operator %s enabled, with no lockout.\n", o.ID)
	return nil
}

func operatorReset(ctx context.Context, ops admin.Operations, id string, stdout io.Writer) error {
	out, err := ops.ResetPassword(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Password of %s reset at %s: every console session of %s is signed out.\n", out.Operator.ID, out.Operator.PasswordSetAt.Format(time.RFC3339), out.Operator.ID)
	fmt.Fprintf(stdout, "Password of %s: %s\n", out.Operator.ID, out.Password)
	fmt.Fprintln(stdout, passwordNotice)
	return nil
}

func operatorList(ctx context.Context, ops admin.Operations, stdout io.Writer) error {
	list, err := ops.ListOperators(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "No operators. Add one with 'channels operator add -kiosk KIOSK -region REGION ID NAME'.")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIOSK\tREGION\tLANG\tSTATE\tPASSWORD SET\tCREATED")
	for _, o := range list {
		state := "active"
		switch {
		case o.Disabled:
			state = "disabled"
		case o.Locked(now):
			state = "locked until " + o.LockedUntil.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Name, o.Kiosk, o.Region, orDash(o.Lang), state,
			o.PasswordSetAt.UTC().Format(time.RFC3339), o.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// orDash shows an empty field of a table as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
