package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
)

// catalog loads the service definitions and the messages they use: the
// shipped ones when dir is empty, else the YAML files in dir with the
// message files in dir/locales on top of the shipped messages. A catalog
// that fails to load returns flows.Problems.
func catalog(dir string) (*flows.Catalog, *locales.Bundle, error) {
	var svcFS fs.FS = services.FS
	var extra []fs.FS
	if dir != "" {
		info, err := os.Stat(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("service catalog: %w", err)
		}
		if !info.IsDir() {
			return nil, nil, fmt.Errorf("service catalog %s is not a directory", dir)
		}
		svcFS = os.DirFS(dir)
		if info, err := os.Stat(filepath.Join(dir, "locales")); err == nil && info.IsDir() {
			extra = append(extra, os.DirFS(filepath.Join(dir, "locales")))
		}
	}
	bundle, err := locales.New(extra...)
	if err != nil {
		return nil, nil, fmt.Errorf("load messages: %w", err)
	}
	cat, err := flows.Load(svcFS)
	if err != nil {
		return nil, nil, err
	}
	return cat, bundle, nil
}

// lint checks what the loader cannot: that every message a service uses
// exists in every language.
func lint(cat *flows.Catalog, bundle *locales.Bundle) flows.Problems {
	var ps flows.Problems
	for _, ref := range cat.Messages() {
		for _, lang := range bundle.Langs() {
			if !bundle.Has(lang, ref.ID) {
				ps = append(ps, flows.Problem{File: ref.File, Line: ref.Line, Reason: fmt.Sprintf("message %q is missing in locale %s", ref.ID, lang)})
			}
		}
	}
	return ps
}

// runValidate is `channels validate [DIR]`: "ok" and status 0 for a sound
// catalog, else one "file:line: reason" per problem and status 1.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels validate [-format text|json] [DIR]\n\nChecks every service in DIR (default: the shipped catalog).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || (*format != "text" && *format != "json") {
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	cat, bundle, err := catalog(dir)
	var ps flows.Problems
	switch {
	case errors.As(err, &ps):
	case err != nil:
		fmt.Fprintf(stderr, "channels validate: %v\n", err)
		return 1
	default:
		ps = lint(cat, bundle)
	}
	for i := range ps {
		if dir != "" {
			ps[i].File = filepath.Join(dir, ps[i].File)
		}
	}
	if *format == "json" {
		type problem struct {
			File   string `json:"file"`
			Line   int    `json:"line,omitempty"`
			Reason string `json:"reason"`
		}
		out := struct {
			OK       bool      `json:"ok"`
			Problems []problem `json:"problems"`
		}{OK: len(ps) == 0, Problems: []problem{}}
		for _, p := range ps {
			out.Problems = append(out.Problems, problem{p.File, p.Line, p.Reason})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else if len(ps) == 0 {
		fmt.Fprintf(stdout, "ok: %d services, %d languages\n", len(cat.Services), len(bundle.Langs()))
	} else {
		for _, p := range ps {
			fmt.Fprintln(stdout, p.String())
		}
	}
	if len(ps) > 0 {
		return 1
	}
	return 0
}
