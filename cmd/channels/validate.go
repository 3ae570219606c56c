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

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/ussd"
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
// exists in every language, and that every prompt, with any refusal shown
// above it, fits one USSD page of pageChars in every language, so that no
// citizen has to page through what to type.
func lint(cat *flows.Catalog, bundle *locales.Bundle, pageChars int) flows.Problems {
	var ps flows.Problems
	for _, ref := range cat.Messages() {
		for _, lang := range bundle.Langs() {
			if !bundle.Has(lang, ref.ID) {
				ps = append(ps, flows.Problem{File: ref.File, Line: ref.Line, Reason: fmt.Sprintf("message %q is missing in locale %s", ref.ID, lang)})
			}
		}
	}
	if len(ps) > 0 {
		return ps // pages of missing texts say nothing useful
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs()})
	if err != nil {
		return flows.Problems{{File: ".", Reason: err.Error()}}
	}
	layout := ussd.Layout{MaxChars: pageChars}
	for _, svc := range cat.Services {
		for _, step := range svc.Steps {
			if step.Kind != flows.StepInput {
				continue
			}
			for _, lang := range bundle.Langs() {
				sc, err := engine.Screen(flows.State{Service: svc.ID, Step: step.ID, Lang: lang, Channel: channels.ChannelUSSD})
				if err != nil {
					ps = append(ps, flows.Problem{File: svc.File, Line: step.Line, Reason: err.Error()})
					continue
				}
				for _, why := range append([]*channels.Message{nil}, refusals(engine, svc.ID, step.ID)...) {
					sc.Error = why
					if pages := ussd.Pages(bundle, lang, sc, layout); len(pages) > 1 {
						shown := "the prompt"
						if why != nil {
							shown = fmt.Sprintf("the prompt under %s", why.ID)
						}
						ps = append(ps, flows.Problem{File: svc.File, Line: step.Line, Reason: fmt.Sprintf(
							"step %q in locale %s: %s takes %d USSD pages of %d characters; a prompt must fit one", step.ID, lang, shown, len(pages), pageChars)})
						break
					}
				}
			}
		}
	}
	return ps
}

// lintSMS checks that every screen of every service, with any refusal
// shown above it, is sent as one SMS of at most maxSegments segments in
// every language: Kannel cuts a longer reply and each segment is billed.
// Screens are enumerated step by step as lint does, with the final texts of
// submissions and lookups measured on a ten-digit reference and one case.
// A confirm screen is measured without answers: the SMS channel shortens
// the citizen's answers to fit.
func lintSMS(cat *flows.Catalog, bundle *locales.Bundle, maxSegments int) flows.Problems {
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs()})
	if err != nil {
		return flows.Problems{{File: ".", Reason: err.Error()}}
	}
	layout := sms.Layout{MaxSegments: maxSegments}
	var ps flows.Problems
	for _, svc := range cat.Services {
		for _, step := range svc.Steps {
			for _, lang := range bundle.Langs() {
				screens, err := smsScreens(engine, svc, step, lang)
				if err != nil {
					ps = append(ps, flows.Problem{File: svc.File, Line: step.Line, Reason: err.Error()})
					continue
				}
				for _, sc := range screens {
					text := sms.Render(bundle, lang, sc, layout)
					if layout.Fits(text) {
						continue
					}
					n, _ := gsm7.Segments(text)
					shown := "the screen"
					if sc.Error != nil {
						shown = fmt.Sprintf("the screen under %s", sc.Error.ID)
					}
					ps = append(ps, flows.Problem{File: svc.File, Line: step.Line, Reason: fmt.Sprintf(
						"step %q in locale %s: %s takes %d SMS segments; a reply must fit %d", step.ID, lang, shown, n, maxSegments)})
					break
				}
			}
		}
	}
	return ps
}

// messagesComplete reports whether every message the catalog uses exists
// in every language: the SMS texts of a catalog missing some say nothing
// useful.
func messagesComplete(cat *flows.Catalog, bundle *locales.Bundle) bool {
	for _, ref := range cat.Messages() {
		for _, lang := range bundle.Langs() {
			if !bundle.Has(lang, ref.ID) {
				return false
			}
		}
	}
	return true
}

// smsScreens returns the screens step can show in lang: the screen itself
// and, for a step that takes input, the screen under each refusal.
func smsScreens(engine *flows.Engine, svc *flows.Service, step *flows.Step, lang string) ([]channels.Screen, error) {
	const ref = "1234567890"
	end := channels.Screen{Kind: channels.KindEnd, Service: svc.ID, Step: step.ID}
	switch step.Kind {
	case flows.StepEnd:
		end.Text = channels.Msg(step.Text)
		return []channels.Screen{end}, nil
	case flows.StepSubmit:
		end.Text, end.Reference = channels.Msg(step.Text, "Reference", ref), ref
		return []channels.Screen{end}, nil
	case flows.StepLookup:
		found := end
		found.Text = channels.Msg(step.Text, "Count", 1)
		found.Lines = []channels.Message{channels.Msg("case.line", "Reference", ref, "Service", channels.Msg(svc.Title), "Status", channels.Msg("status.submitted"))}
		screens := []channels.Screen{found}
		if step.Empty != "" {
			end.Text = channels.Msg(step.Empty)
			screens = append(screens, end)
		}
		return screens, nil
	}
	sc, err := engine.Screen(flows.State{Service: svc.ID, Step: step.ID, Lang: lang, Channel: channels.ChannelSMS})
	if err != nil {
		return nil, err
	}
	whys := refusals(engine, svc.ID, step.ID)
	if step.Kind != flows.StepInput {
		whys = []*channels.Message{{ID: "error.choice"}}
	}
	screens := []channels.Screen{sc}
	for _, why := range whys {
		sc.Error = why
		screens = append(screens, sc)
	}
	return screens, nil
}

func refusals(engine *flows.Engine, service, step string) []*channels.Message {
	var out []*channels.Message
	for _, m := range engine.Refusals(service, step) {
		out = append(out, &m)
	}
	return out
}

// runValidate is `channels validate [DIR]`: "ok" and status 0 for a sound
// catalog, else one "file:line: reason" per problem and status 1.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	page := fs.Int("ussd-page", 182, "characters a USSD page may hold")
	segments := fs.Int("sms-segments", 2, "segments an SMS reply may take")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels validate [-format text|json] [DIR]\n\nChecks every service in DIR (default: the shipped catalog).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || (*format != "text" && *format != "json") || *segments < 1 {
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
		ps = lint(cat, bundle, *page)
		if messagesComplete(cat, bundle) { // else lint said which are missing
			ps = append(ps, lintSMS(cat, bundle, *segments)...)
		}
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
