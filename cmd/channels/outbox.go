package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/govchannels/channels/admin"
)

const outboxUsage = `usage: channels outbox <command> [flags] [arguments]

commands:
  failed [-kind K] [-format text|json]
                list the messages the outbox gave up on, the case events the
                notifier parked and the late agency calls that failed
                (K: sms, push, webhook, event, call; all when empty)
  retry KEY     queue the failed message KEY again as a fresh message, with
                all its attempts (a parked event is handled again); a one-time
                code is never sent twice

Neither shows a message's text. While 'channels serve' runs it holds the data
file; the commands then go through its admin socket, found with the same -data.

flags of every command:
`

// outboxPage is how many failed messages one read of the listing asks for.
const outboxPage = 500

// runOutbox is `channels outbox`: the failed outbox messages, through a
// running server's admin socket or on the data file.
func runOutbox(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, outboxUsage)
		agencyFlagSet("outbox", stderr, &adminFlags{}).PrintDefaults()
		return 2
	}
	cmd, rest := args[0], args[1:]
	var f adminFlags
	fs := agencyFlagSet("outbox "+cmd, stderr, &f)
	var kind, format string
	var want int
	switch cmd {
	case "failed":
		fs.StringVar(&kind, "kind", "", "list only this kind: sms, push, webhook, event or call")
		fs.StringVar(&format, "format", "text", "text (a table) or json (an array)")
		want = 0
	case "retry":
		want = 1
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, outboxUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	default:
		fmt.Fprintf(stderr, "channels outbox: unknown command %q\n\n%s", cmd, outboxUsage)
		return 2
	}
	if code := parseCommand(fs, rest, want, "channels outbox "+cmd, outboxUsage, stderr); code >= 0 {
		return code
	}
	if kind != "" && !slices.Contains(admin.OutboxKinds, kind) {
		fmt.Fprintf(stderr, "channels outbox failed: -kind %q: one of %s\n", kind, strings.Join(admin.OutboxKinds, ", "))
		return 2
	}
	if format != "" && format != "text" && format != "json" {
		fmt.Fprintf(stderr, "channels outbox failed: -format %q: text or json\n", format)
		return 2
	}
	ops, done, err := f.open("channels outbox", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "channels outbox %s: %v\n", cmd, err)
		return 1
	}
	defer done()
	ctx := context.Background()
	switch cmd {
	case "failed":
		err = outboxFailed(ctx, ops, kind, format, stdout)
	case "retry":
		err = outboxRetry(ctx, ops, fs.Arg(0), stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "channels outbox %s: %s\n", cmd, admin.Describe(err))
		return 1
	}
	return 0
}

// outboxFailed prints every failed message of kind (of every kind when
// empty), reading them page by page.
func outboxFailed(ctx context.Context, ops admin.Operations, kind, format string, stdout io.Writer) error {
	kinds := admin.OutboxKinds
	if kind != "" {
		kinds = []string{kind}
	}
	all := []admin.FailedMessage{}
	for _, k := range kinds {
		after := ""
		for {
			page, err := ops.FailedMessages(ctx, k, after, outboxPage)
			if err != nil {
				return err
			}
			all = append(all, page...)
			if len(page) < outboxPage {
				break
			}
			after = page[len(page)-1].Key
		}
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	if len(all) == 0 {
		fmt.Fprintln(stdout, "No failed messages.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tKIND\tTO\tPURPOSE\tATTEMPTS\tFAILED\tREASON")
	for _, m := range all {
		reason := m.Reason
		if m.Refusal != "" {
			reason += " (not retried: " + m.Refusal + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.Key, m.Kind, m.To, m.Purpose, m.Attempts, m.UpdatedAt.UTC().Format(time.RFC3339), reason)
	}
	return tw.Flush()
}

func outboxRetry(ctx context.Context, ops admin.Operations, key string, stdout io.Writer) error {
	m, err := ops.RetryMessage(ctx, key)
	if err != nil {
		return err
	}
	what := "Message"
	if m.Kind == "event" {
		what = "Parked event"
	}
	fmt.Fprintf(stdout, "%s %s (%s to %s) queued again, with all its attempts.\n", what, m.Key, m.Kind, m.To)
	return nil
}
