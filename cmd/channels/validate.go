package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/lint"
	"github.com/govchannels/channels/ussd"
)

// ucs2Page is what a USSD page holds, in UTF-16 units, when some character
// of it is outside GSM-7: about 80 (USSD.md), ussd.Layout's default.
const ucs2Page = 80

// runValidate is `channels validate [DIR]`: "ok" and status 0 for a sound
// catalog, else one "file:line: step S, locale L: reason [rule]" per
// problem (or a JSON array of them) and status 1.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	page := fs.Int("ussd-page", 182, "characters a GSM-7 USSD page may hold on Africa's Talking (a page needing UCS-2 holds 80); Kannel's pages hold at most 160 GSM-7 or 70 UCS-2")
	segments := fs.Int("sms-segments", 2, "segments an SMS reply may take")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels validate [-format text|json] [-ussd-page N] [-sms-segments N] [DIR]\n\nChecks every service in DIR (default: the shipped catalog) in every language,\nits USSD pages on every dialect channels serve mounts.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || (*format != "text" && *format != "json") || *segments < 1 {
		fs.Usage()
		return 2
	}
	if err := (ussd.Layout{MaxChars: *page, UCS2MaxChars: ucs2Page}).Validate(); err != nil {
		fmt.Fprintf(stderr, "channels validate: %v\n", err)
		return 2
	}
	dir := fs.Arg(0)
	svcFS, bundle, err := catalogFS(dir)
	if err != nil {
		fmt.Fprintf(stderr, "channels validate: %v\n", err)
		return 1
	}
	cat, found, err := flows.LoadEach(svcFS)
	if err != nil {
		fmt.Fprintf(stderr, "channels validate: %v\n", err)
		return 1
	}
	if cat != nil {
		found = append(found, lint.Check(cat, bundle, lint.Options{
			USSD:        ussdDialects(*page),
			SMSSegments: *segments,
		})...)
	}
	found.Sort()
	for i := range found {
		if dir != "" {
			found[i].File = filepath.Join(dir, found[i].File)
		}
	}
	switch {
	case *format == "json":
		if found == nil {
			found = flows.Findings{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(found)
	case len(found) == 0:
		fmt.Fprintf(stdout, "ok: %d services, %d languages\n", len(cat.Services), len(bundle.Langs()))
	default:
		for _, f := range found {
			fmt.Fprintln(stdout, f.String())
		}
	}
	if len(found) > 0 {
		return 1
	}
	return 0
}
