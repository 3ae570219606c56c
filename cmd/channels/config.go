package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// config is everything a deployment can set. Each field has a flag and an
// environment variable; the flag wins. Secrets (later: gateway credentials)
// also read a CHANNELS_..._FILE variable naming a file that holds them.
type config struct {
	Addr         string
	Data         string
	Services     string
	Region       string
	TimeZone     string
	location     *time.Location
	LogLevel     string
	USSDPage     int
	USSDSession  time.Duration
	ResumeWindow time.Duration
	AppSession   time.Duration
}

// envNames maps each flag to the environment variable that sets it.
var envNames = map[string]string{
	"addr":          "CHANNELS_ADDR",
	"data":          "CHANNELS_DATA",
	"services":      "CHANNELS_SERVICES",
	"region":        "CHANNELS_REGION",
	"timezone":      "CHANNELS_TIMEZONE",
	"log-level":     "CHANNELS_LOG_LEVEL",
	"ussd-page":     "CHANNELS_USSD_PAGE",
	"ussd-session":  "CHANNELS_USSD_SESSION",
	"resume-window": "CHANNELS_RESUME_WINDOW",
	"app-session":   "CHANNELS_APP_SESSION",
}

// flags registers the settings on fs. Call parse instead of fs.Parse: it
// applies the environment first, so that a flag given on the command line
// wins over its variable.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&c.Data, "data", "channels.db", "bbolt data file, created if missing")
	fs.StringVar(&c.Services, "services", "", "service catalog directory (*.yaml, optional locales/); empty: the shipped catalog")
	fs.StringVar(&c.Region, "region", "KE", "ISO 3166 country of national phone numbers")
	fs.StringVar(&c.TimeZone, "timezone", "Africa/Nairobi", "IANA time zone in which \"today\" is reckoned for date answers")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&c.USSDPage, "ussd-page", 182, "characters a USSD page may hold (GSM-7; 160 is safe with every aggregator)")
	fs.DurationVar(&c.USSDSession, "ussd-session", 3*time.Minute, "how long a USSD session is kept after its last hop")
	fs.DurationVar(&c.ResumeWindow, "resume-window", 10*time.Minute, "how long a dropped USSD session can be resumed by dialling again")
	fs.DurationVar(&c.AppSession, "app-session", 30*time.Minute, "how long an app session is kept after its last request")
	fs.VisitAll(func(f *flag.Flag) {
		if env := envNames[f.Name]; env != "" {
			f.Usage += " ($" + env + ")"
		}
	})
}

// parse applies the environment, then args, then validates the result.
func (c *config) parse(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envNames[f.Name]); ok && envNames[f.Name] != "" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envNames[f.Name], v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	return c.validate()
}

func (c *config) validate() error {
	var problems []string
	if c.Data == "" {
		problems = append(problems, "data file must not be empty")
	}
	if !phonenumbers.GetSupportedRegions()[strings.ToUpper(c.Region)] {
		problems = append(problems, fmt.Sprintf("region %q is not an ISO 3166 country code known for phone numbers", c.Region))
	}
	c.Region = strings.ToUpper(c.Region)
	if c.USSDPage < 60 || c.USSDPage > 182 {
		problems = append(problems, fmt.Sprintf("ussd-page %d must be between 60 and 182", c.USSDPage))
	}
	for name, d := range map[string]time.Duration{"ussd-session": c.USSDSession, "resume-window": c.ResumeWindow, "app-session": c.AppSession} {
		if d <= 0 {
			problems = append(problems, fmt.Sprintf("%s must be positive", name))
		}
	}
	if loc, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		problems = append(problems, fmt.Sprintf("timezone %q is not an IANA time zone such as Africa/Nairobi", c.TimeZone))
	} else {
		c.location = loc
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log-level %q must be debug, info, warn or error", s)
	}
	return l, nil
}

func (c *config) logger(w io.Writer) *slog.Logger {
	l, _ := parseLevel(c.LogLevel)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// defaultConfig returns the configuration with every default and no
// environment applied.
func defaultConfig() config {
	var c config
	c.flags(flag.NewFlagSet("defaults", flag.ContinueOnError))
	if err := c.validate(); err != nil {
		panic("channels: the default configuration is invalid: " + err.Error())
	}
	return c
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
