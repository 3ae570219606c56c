// Command channels serves government services to every channel (USSD, SMS,
// the mobile app, kiosks) from one catalog of declarative flows.
//
//	channels serve                 run the service (bbolt file, shipped catalog)
//	channels validate [DIR]        check a service catalog; "ok" or file:line: reason
//	channels simulate [flags]      try a service in the terminal as USSD or the app
//	channels load [flags]          drive concurrent USSD sessions and compare to a no-op baseline
//	channels graph SERVICE         draw a service (Mermaid or Graphviz DOT)
//	channels agency add|key|revoke|list|webhook   manage agencies and their API keys
//	channels operator add|disable|enable|reset-password|list   manage kiosk operators' accounts
//	channels audit [filters] | -verify   list the audit log, or verify its hash chain
//	channels outbox failed|retry   list failed messages and parked events, send one again
//	channels demo-agency [flags]   a demonstration agency answering the shipped operations (never for production)
//	channels demo-pay [flags]      a demonstration of M-Pesa and MoMo, fake money (never for production)
package main

import (
	"fmt"
	"io"
	"os"
	_ "time/tzdata" // time zones even on hosts without a zoneinfo database
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: channels <command> [flags]

commands:
  serve       run the service (default: ./channels.db, the shipped catalog, every channel)
  validate    check a service catalog directory (default: the shipped catalog)
  simulate    run a service in the terminal, rendered for USSD or the app
  load        load-test USSD sessions against a no-op baseline on the same server stack
  graph       draw a service as a Mermaid or Graphviz diagram
  agency      add agencies, make and revoke their API keys, set their webhooks
  operator    add kiosk operators, disable and enable them, reset their passwords
  audit       list who did what, when, for which citizen; verify the log is intact
  outbox      list the messages that failed and the events parked; send one again
  demo-agency run a demonstration agency for the shipped services' calls (never for production)
  demo-pay    run a demonstration of M-Pesa Daraja and MTN MoMo with fake money (never for production)

Run 'channels <command> -h' for the flags of a command. Every flag can also be
set by the environment variable named in its help.
`

// run is main without the process: it returns the exit status, so tests can
// drive every subcommand.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(rest, stdout, stderr)
	case "validate":
		return runValidate(rest, stdout, stderr)
	case "simulate":
		return runSimulate(rest, stdin, stdout, stderr)
	case "load":
		return runLoad(rest, stdout, stderr)
	case "graph":
		return runGraph(rest, stdout, stderr)
	case "agency":
		return runAgency(rest, stdout, stderr)
	case "operator":
		return runOperator(rest, stdout, stderr)
	case "audit":
		return runAudit(rest, stdout, stderr)
	case "outbox":
		return runOutbox(rest, stdout, stderr)
	case "demo-agency":
		return runDemoAgency(rest, stdout, stderr)
	case "demo-pay":
		return runDemoPay(rest, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "channels: unknown command %q\n\n%s", cmd, usage)
	return 2
}
