package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
)

const auditUsage = `usage: channels audit [flags]
       channels audit -verify [-data FILE] [-admin-socket PATH]

Lists the audit log, oldest first, one line per entry: sequence number, time
(RFC 3339, UTC), actor, kiosk, action, citizen, case reference, detail. The
filters combine; -since and -until take a date (UTC) or an RFC 3339 time, and
-until with a date includes that whole day. At most -limit entries are listed;
page on with -after, the sequence number of the last one listed.

-verify checks the whole log's hash chain instead, and exits with status 1
naming the first entry that was altered, removed or inserted.

The log is append-only: no command changes or removes an entry. While
'channels serve' runs it holds the data file; the command then goes through
its admin socket, found with the same -data.

flags:
`

// auditFormats are the output formats of `channels audit`.
var auditFormats = []string{"text", "json"}

// runAudit is `channels audit`: the audit log listed, or its chain
// verified, through a running server's admin socket or on the data file.
func runAudit(args []string, stdout, stderr io.Writer) int {
	var f adminFlags
	fs := adminFlagSet("audit", stderr, &f, false)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), auditUsage)
		fs.PrintDefaults()
	}
	var q channels.AuditQuery
	var since, until, format string
	var verify bool
	fs.StringVar(&q.Actor, "actor", "", `only entries by this actor: "admin" or "operator:<id>"`)
	fs.StringVar(&q.Citizen, "citizen", "", `only entries for this citizen: an E.164 phone (+2547...) or "id:<document number>"`)
	fs.StringVar(&q.Action, "action", "", "only entries of this action, e.g. sign_in, consent_given, service_started, case_submitted, case_lookup, operator_changed")
	fs.StringVar(&since, "since", "", "only entries at or after this date or time")
	fs.StringVar(&until, "until", "", "only entries before this time, or up to the end of this date")
	fs.Uint64Var(&q.After, "after", 0, "only entries after this sequence number")
	fs.IntVar(&q.Limit, "limit", 100, fmt.Sprintf("list at most this many entries (1 to %d)", admin.MaxAuditLimit))
	fs.StringVar(&format, "format", "text", "output: text (a table) or json (an array of entries, with their hashes)")
	fs.BoolVar(&verify, "verify", false, "verify the whole log's hash chain instead of listing entries")
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "channels audit: unexpected argument %q: the command lists the log or verifies it; no command changes or removes an entry\n\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	var err error
	if q.Since, err = parseWhen(since, false); err != nil {
		fmt.Fprintf(stderr, "channels audit: -since: %v\n", err)
		return 2
	}
	if q.Until, err = parseWhen(until, true); err != nil {
		fmt.Fprintf(stderr, "channels audit: -until: %v\n", err)
		return 2
	}
	if !slices.Contains(auditFormats, format) {
		fmt.Fprintf(stderr, "channels audit: -format %q: want one of %s\n", format, strings.Join(auditFormats, ", "))
		return 2
	}
	if verify {
		var filters []string
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name != "verify" && fl.Name != "data" && fl.Name != "admin-socket" {
				filters = append(filters, "-"+fl.Name)
			}
		})
		if len(filters) > 0 {
			fmt.Fprintf(stderr, "channels audit: -verify checks the whole log and takes no %s\n", strings.Join(filters, ", "))
			return 2
		}
	}

	if f.socket == "" {
		f.socket = admin.SocketPath(f.data)
	}
	// Opening a data file creates it: an auditor's mistyped path would
	// otherwise read as an empty, intact log.
	if !admin.Answers(f.socket) {
		if _, err := os.Stat(f.data); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "channels audit: no data file %s, and no server answers on the admin socket %s\n", f.data, f.socket)
			return 1
		}
	}
	ops, done, err := f.open("channels audit", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "channels audit: %v\n", err)
		return 1
	}
	defer done()
	ctx := context.Background()

	if verify {
		n, err := ops.VerifyAudit(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "channels audit -verify: the audit log is not intact: %s (entries checked: %d)\n", admin.Describe(err), n)
			return 1
		}
		fmt.Fprintf(stdout, "audit log intact: %d entries\n", n)
		return 0
	}
	entries, err := ops.AuditEntries(ctx, q)
	if err != nil {
		fmt.Fprintf(stderr, "channels audit: %s\n", admin.Describe(err))
		return 1
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			fmt.Fprintf(stderr, "channels audit: %v\n", err)
			return 1
		}
	} else if err := printAudit(stdout, entries); err != nil {
		fmt.Fprintf(stderr, "channels audit: %v\n", err)
		return 1
	}
	if len(entries) > 0 && len(entries) == limitOf(q) {
		fmt.Fprintf(stderr, "channels audit: listed %d entries, as many as -limit allows: more may follow (-after %d)\n", len(entries), entries[len(entries)-1].Seq)
	}
	return 0
}

// limitOf is how many entries q lists at most.
func limitOf(q channels.AuditQuery) int {
	if q.Limit == 0 {
		return 100
	}
	return q.Limit
}

// printAudit prints entries as a table, one line per entry.
func printAudit(w io.Writer, entries []channels.AuditEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "No audit entries match.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tKIOSK\tACTION\tCITIZEN\tREFERENCE\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.UTC().Format(time.RFC3339),
			cell(e.Actor), cell(e.Kiosk), cell(e.Action), cell(e.Citizen), cell(e.Ref), cell(e.Detail))
	}
	return tw.Flush()
}

// cell shows a field of an entry on its line: "-" when empty, quoted when
// it holds a tab, a newline or another control character, so that no field
// can forge a line or a column.
func cell(s string) string {
	switch {
	case s == "":
		return "-"
	case strings.ContainsFunc(s, unicode.IsControl):
		return strconv.Quote(s)
	}
	return s
}

// parseWhen reads a -since or -until: an RFC 3339 time, or a date taken in
// UTC, its start or (endOfDay) the start of the next day. "" is no bound.
func parseWhen(s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T08:00:00Z)", s)
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
