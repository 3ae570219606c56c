package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/consolesms"
	"github.com/govchannels/channels/gateway"
	"github.com/govchannels/channels/metrics"
	"github.com/govchannels/channels/ratelimit"
	"github.com/govchannels/channels/ussd"
)

// config is everything a deployment can set. Each field has a flag and an
// environment variable; the flag wins. Secrets (gateway credentials) are
// better not given as flags, which other users of the machine can read:
// each also reads a CHANNELS_..._FILE variable naming a file that holds it.
type config struct {
	Addr string
	Data string
	// DatabaseURL, when set, keeps everything in PostgreSQL instead of the
	// bbolt file Data (a secret: it may hold a password).
	DatabaseURL  string
	Services     string
	Region       string
	TimeZone     string
	location     *time.Location
	LogLevel     string
	USSDPage     int
	USSDSession  time.Duration
	ResumeWindow time.Duration
	AppSession   time.Duration
	// Retention is how long a final outbox message is kept before the
	// purge removes it.
	Retention time.Duration
	// OutboxLease is how long an instance's claim on an outbox message
	// lasts: another instance sharing the database takes over the claims
	// of one that died once they have ended.
	OutboxLease time.Duration
	// TokenKeyFile names a file of at least auth.MinKeySize random bytes
	// that signs app tokens, kept outside the database; tokenKey is what it
	// holds. Without it the key is a secret in the database.
	TokenKeyFile string
	tokenKey     []byte

	// TrustedProxies are the addresses whose X-Forwarded-For is believed:
	// rate limits are per client address, and anyone else could forge it.
	TrustedProxies string

	// PublicURL is the scheme and host the SMS gateways call us at: Twilio
	// signs its requests over it, and delivery-report URLs are built on it.
	PublicURL string

	TwilioAccountSID       string
	TwilioAuthToken        string // secret
	TwilioFrom             string
	TwilioMessagingService string
	TwilioRate             float64
	TwilioAPI              string // the API's scheme and host: a regional edge, or a mock in tests

	KannelSendSMS  string // smsbox's sendsms URL: http://host:13013/cgi-bin/sendsms
	KannelUser     string
	KannelPassword string // secret
	KannelFrom     string
	KannelSecret   string // secret: the "secret" parameter of Kannel's calls to us
	KannelRate     float64
	KannelUSSD     bool   // USSD over Kannel (SMPP): mounts /ussd/kannel
	KannelAllow    string // addresses Kannel calls from; with the secret, both are required
	kannelAllow    []netip.Prefix

	// ATSecret and ATAllow are how an Africa's Talking gateway proves
	// itself; with neither, /ussd/at takes loopback callers only.
	ATSecret string // secret
	ATAllow  string
	atAllow  []netip.Prefix

	// The limits of inbound USSD and SMS, as "N/DURATION" or "off".
	USSDDialsPerPhone, USSDHopsPerPhone, USSDDialsPerSource, USSDHopsPerSource string
	SMSPerPhone, SMSPerSource                                                  string
	ussdLimits                                                                 ussd.Limits
	smsPerPhone, smsPerSource                                                  ratelimit.Limit

	SMSSender  string // "twilio", "kannel" or "console": which sends, when both gateways are set or for development
	SMSIdle    time.Duration
	SMSReplies string // "inline" or "outbox"

	// Push notices through FCM: on when a project is set, with a service
	// account's key file or, without one, the platform's own credentials
	// (workload identity).
	FirebaseProject     string
	FirebaseCredentials string // path of a service-account JSON key
	FCMEndpoint         string // the FCM API's base URL: a local peer in tests
	PushLink            string // the app link of a case, "{ref}" replaced

	// MetricsTokenFile names a file holding the bearer token Prometheus
	// sends to /metrics (metricsToken, 32 bytes or more); MetricsAllow
	// lists the addresses it scrapes from. With neither, /metrics serves
	// loopback callers only.
	MetricsTokenFile string
	metricsToken     string
	MetricsAllow     string
	metricsAllow     []netip.Prefix

	// AdminSocket is the Unix socket on which `channels agency` and the
	// other admin commands reach a running server.
	AdminSocket string
}

// secretFlags are the flags whose value may come from the file named by
// their variable with _FILE appended.
var secretFlags = []string{"twilio-auth-token", "kannel-password", "kannel-secret", "at-secret", "database-url"}

// envNames maps each flag to the environment variable that sets it.
var envNames = map[string]string{
	"addr":           "CHANNELS_ADDR",
	"data":           "CHANNELS_DATA",
	"database-url":   "CHANNELS_DATABASE_URL",
	"services":       "CHANNELS_SERVICES",
	"region":         "CHANNELS_REGION",
	"timezone":       "CHANNELS_TIMEZONE",
	"log-level":      "CHANNELS_LOG_LEVEL",
	"ussd-page":      "CHANNELS_USSD_PAGE",
	"ussd-session":   "CHANNELS_USSD_SESSION",
	"resume-window":  "CHANNELS_RESUME_WINDOW",
	"app-session":    "CHANNELS_APP_SESSION",
	"retention":      "CHANNELS_RETENTION",
	"outbox-lease":   "CHANNELS_OUTBOX_LEASE",
	"token-key-file": "CHANNELS_TOKEN_KEY_FILE",

	"trusted-proxies":          "CHANNELS_TRUSTED_PROXIES",
	"public-url":               "CHANNELS_PUBLIC_URL",
	"twilio-account-sid":       "CHANNELS_TWILIO_ACCOUNT_SID",
	"twilio-auth-token":        "CHANNELS_TWILIO_AUTH_TOKEN",
	"twilio-from":              "CHANNELS_TWILIO_FROM",
	"twilio-messaging-service": "CHANNELS_TWILIO_MESSAGING_SERVICE",
	"twilio-rate":              "CHANNELS_TWILIO_RATE",
	"twilio-api":               "CHANNELS_TWILIO_API",
	"kannel-sendsms":           "CHANNELS_KANNEL_SENDSMS",
	"kannel-user":              "CHANNELS_KANNEL_USER",
	"kannel-password":          "CHANNELS_KANNEL_PASSWORD",
	"kannel-from":              "CHANNELS_KANNEL_FROM",
	"kannel-secret":            "CHANNELS_KANNEL_SECRET",
	"kannel-rate":              "CHANNELS_KANNEL_RATE",
	"kannel-ussd":              "CHANNELS_KANNEL_USSD",
	"kannel-allow":             "CHANNELS_KANNEL_ALLOW",
	"at-secret":                "CHANNELS_AT_SECRET",
	"at-allow":                 "CHANNELS_AT_ALLOW",
	"ussd-dials-per-phone":     "CHANNELS_USSD_DIALS_PER_PHONE",
	"ussd-hops-per-phone":      "CHANNELS_USSD_HOPS_PER_PHONE",
	"ussd-dials-per-source":    "CHANNELS_USSD_DIALS_PER_SOURCE",
	"ussd-hops-per-source":     "CHANNELS_USSD_HOPS_PER_SOURCE",
	"sms-per-phone":            "CHANNELS_SMS_PER_PHONE",
	"sms-per-source":           "CHANNELS_SMS_PER_SOURCE",
	"sms-sender":               "CHANNELS_SMS_SENDER",
	"sms-idle":                 "CHANNELS_SMS_IDLE",
	"sms-replies":              "CHANNELS_SMS_REPLIES",
	"firebase-project":         "CHANNELS_FIREBASE_PROJECT",
	"firebase-credentials":     "CHANNELS_FIREBASE_CREDENTIALS",
	"fcm-endpoint":             "CHANNELS_FCM_ENDPOINT",
	"push-link":                "CHANNELS_PUSH_LINK",
	"admin-socket":             "CHANNELS_ADMIN_SOCKET",
	"metrics-token-file":       "CHANNELS_METRICS_TOKEN_FILE",
	"metrics-allow":            "CHANNELS_METRICS_ALLOW",
}

// flags registers the settings on fs. Call parse instead of fs.Parse: it
// applies the environment first, so that a flag given on the command line
// wins over its variable.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&c.Data, "data", "channels.db", "bbolt data file, created if missing")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://user@host/db); when set, data goes there instead of the bbolt file")
	fs.StringVar(&c.Services, "services", "", "service catalog directory (*.yaml, optional locales/); empty: the shipped catalog")
	fs.StringVar(&c.Region, "region", "KE", "ISO 3166 country of national phone numbers")
	fs.StringVar(&c.TimeZone, "timezone", "Africa/Nairobi", "IANA time zone in which \"today\" is reckoned for date answers")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&c.USSDPage, "ussd-page", 182, "characters a USSD page may hold (GSM-7; 160 is safe with every aggregator)")
	fs.DurationVar(&c.USSDSession, "ussd-session", 3*time.Minute, "how long a USSD session is kept after its last hop")
	fs.DurationVar(&c.ResumeWindow, "resume-window", 10*time.Minute, "how long a dropped USSD session can be resumed by dialling again")
	fs.DurationVar(&c.AppSession, "app-session", 30*time.Minute, "how long an app session is kept after its last request")
	fs.DurationVar(&c.Retention, "retention", 7*24*time.Hour, "how long sent, delivered and failed outbox messages are kept (at least 24h)")
	fs.DurationVar(&c.OutboxLease, "outbox-lease", 2*time.Minute, "how long an instance's claim on an outbox message lasts before another instance on the same database may take it over (at least 2s); an attempt gets at most half")
	fs.StringVar(&c.TokenKeyFile, "token-key-file", "", "file of at least 32 random bytes that signs app tokens (head -c 32 /dev/urandom > FILE); empty: a secret kept in the database")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed; empty: none")
	fs.StringVar(&c.PublicURL, "public-url", "", "scheme and host SMS gateways call this server at, e.g. https://sms.gov.example (Twilio signs over it)")
	fs.StringVar(&c.TwilioAccountSID, "twilio-account-sid", "", "Twilio account SID (AC...); with the auth token it turns SMS over Twilio on")
	fs.StringVar(&c.TwilioAuthToken, "twilio-auth-token", "", "Twilio auth token")
	fs.StringVar(&c.TwilioFrom, "twilio-from", "", "Twilio number replies and notices are sent from (E.164)")
	fs.StringVar(&c.TwilioMessagingService, "twilio-messaging-service", "", "Twilio messaging service SID (MG...), instead of -twilio-from")
	fs.Float64Var(&c.TwilioRate, "twilio-rate", 1, "messages per second sent through Twilio (a long code allows 1)")
	fs.StringVar(&c.TwilioAPI, "twilio-api", "https://api.twilio.com", "Twilio REST API scheme and host (a regional edge such as https://api.dublin.ie1.twilio.com)")
	fs.StringVar(&c.KannelSendSMS, "kannel-sendsms", "", "Kannel smsbox sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms; turns SMS over Kannel on")
	fs.StringVar(&c.KannelUser, "kannel-user", "", "Kannel sendsms-user username")
	fs.StringVar(&c.KannelPassword, "kannel-password", "", "Kannel sendsms-user password")
	fs.StringVar(&c.KannelFrom, "kannel-from", "", "sender (short code) of messages sent through Kannel")
	fs.StringVar(&c.KannelSecret, "kannel-secret", "", "shared secret (16+ letters and digits) Kannel adds to its get-url and dlr-url calls as secret=...; required by every Kannel route")
	fs.Float64Var(&c.KannelRate, "kannel-rate", 10, "messages per second sent through Kannel")
	fs.BoolVar(&c.KannelUSSD, "kannel-ussd", false, "serve USSD over Kannel (SMPP) at /ussd/kannel; needs kannel-secret")
	fs.StringVar(&c.KannelAllow, "kannel-allow", "", "comma-separated IPs or CIDRs Kannel calls from; with kannel-secret, both are required")
	fs.StringVar(&c.ATSecret, "at-secret", "", "secret (16+ letters and digits) in the Africa's Talking callback URL, /ussd/at/SECRET; with neither this nor at-allow, loopback callers only")
	fs.StringVar(&c.ATAllow, "at-allow", "", "comma-separated IPs or CIDRs Africa's Talking calls from; with at-secret, both are required")
	fs.StringVar(&c.USSDDialsPerPhone, "ussd-dials-per-phone", "10/15m", "USSD sessions one phone may open, N/DURATION or off")
	fs.StringVar(&c.USSDHopsPerPhone, "ussd-hops-per-phone", "100/5m", "USSD hops of one phone, N/DURATION or off")
	fs.StringVar(&c.USSDDialsPerSource, "ussd-dials-per-source", "1000/1s", "USSD sessions one gateway address may open, N/DURATION or off")
	fs.StringVar(&c.USSDHopsPerSource, "ussd-hops-per-source", "5000/1s", "USSD hops of one gateway address, N/DURATION or off")
	fs.StringVar(&c.SMSPerPhone, "sms-per-phone", "20/1h", "inbound SMS of one phone that get a reply, N/DURATION or off")
	fs.StringVar(&c.SMSPerSource, "sms-per-source", "200/1s", "inbound SMS of one gateway address, N/DURATION or off")
	fs.StringVar(&c.SMSSender, "sms-sender", "", "twilio or kannel: the gateway that sends, when both are configured; console: print every SMS on stderr instead (development only, never in production)")
	fs.DurationVar(&c.SMSIdle, "sms-idle", 12*time.Hour, "how long an SMS dialogue waits for the next reply")
	fs.StringVar(&c.SMSReplies, "sms-replies", "inline", "inline (in the gateway's response) or outbox (queued, rate-limited, reported)")
	fs.StringVar(&c.FirebaseProject, "firebase-project", "", "Firebase project ID; turns push notices over FCM on")
	fs.StringVar(&c.FirebaseCredentials, "firebase-credentials", "", "service-account JSON key file for FCM; empty: the platform's credentials (workload identity)")
	fs.StringVar(&c.FCMEndpoint, "fcm-endpoint", "", "FCM API base URL, e.g. http://127.0.0.1:4010/v1 for a local peer; empty: Google's")
	fs.StringVar(&c.PushLink, "push-link", "channels://cases/{ref}", "app link sent with a case's push notices; {ref} is replaced by the reference")
	fs.StringVar(&c.MetricsTokenFile, "metrics-token-file", "", "file holding the bearer token (32+ bytes) Prometheus must send to /metrics; with neither this nor metrics-allow, loopback callers only")
	fs.StringVar(&c.MetricsAllow, "metrics-allow", "", "comma-separated IPs or CIDRs Prometheus scrapes /metrics from (client addresses as trusted-proxies resolve them); with metrics-token-file, both are required")
	fs.StringVar(&c.AdminSocket, "admin-socket", "", "Unix socket for admin commands (channels agency ...); empty: the data file's path + .admin.sock")
	fs.VisitAll(func(f *flag.Flag) {
		if env := envNames[f.Name]; env != "" {
			f.Usage += " ($" + env + ")"
			if slices.Contains(secretFlags, f.Name) {
				f.Usage += " (or $" + env + "_FILE)"
			}
		}
	})
}

// parse applies the environment, then args, then validates the result.
func (c *config) parse(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		file, ok := os.LookupEnv(envNames[f.Name] + "_FILE")
		if !ok || !slices.Contains(secretFlags, f.Name) || err != nil {
			return
		}
		v, rerr := os.ReadFile(file)
		if rerr != nil {
			err = fmt.Errorf("%s_FILE: %w", envNames[f.Name], rerr)
			return
		}
		err = fs.Set(f.Name, strings.TrimSpace(string(v)))
	})
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
	if c.OutboxLease < 2*time.Second {
		problems = append(problems, fmt.Sprintf("outbox-lease %v must be at least 2s", c.OutboxLease))
	}
	if c.Retention < 24*time.Hour {
		problems = append(problems, fmt.Sprintf("retention %v must be at least 24h: delivery reports come hours, sometimes a day, after a message", c.Retention))
	}
	if c.TokenKeyFile != "" {
		key, err := os.ReadFile(c.TokenKeyFile)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("token-key-file: %v", err))
		case len(key) < auth.MinKeySize:
			problems = append(problems, fmt.Sprintf("token-key-file %s holds %d bytes, fewer than %d: make one with head -c %d /dev/urandom > %s",
				c.TokenKeyFile, len(key), auth.MinKeySize, auth.MinKeySize, c.TokenKeyFile))
		default:
			c.tokenKey = key
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
	for _, p := range c.proxies() {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				problems = append(problems, fmt.Sprintf("trusted-proxies: %q is not an IP address or CIDR", p))
			}
		}
	}
	problems = append(problems, c.validateSMS()...)
	problems = append(problems, c.validateGateways()...)
	if c.FirebaseProject == "" && (c.FirebaseCredentials != "" || c.FCMEndpoint != "") {
		problems = append(problems, "firebase-credentials and fcm-endpoint need firebase-project")
	}
	if c.FCMEndpoint != "" {
		if u, err := url.Parse(c.FCMEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("fcm-endpoint %q is not an http(s) URL", c.FCMEndpoint))
		}
	}
	if !strings.Contains(c.PushLink, "{ref}") {
		problems = append(problems, fmt.Sprintf("push-link %q must contain {ref}", c.PushLink))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

// proxies lists the trusted proxies; nil for none.
func (c *config) proxies() []string {
	var ps []string
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	return ps
}

// twilio reports whether SMS over Twilio is configured.
func (c *config) twilio() bool { return c.TwilioAccountSID != "" || c.TwilioAuthToken != "" }

// kannel reports whether SMS over Kannel is configured.
func (c *config) kannel() bool { return c.KannelSendSMS != "" }

// sender is the gateway that sends outbound SMS, "" when none is set. The
// console sender is chosen only by name, never by default.
func (c *config) sender() string {
	switch {
	case c.SMSSender != "":
		return c.SMSSender
	case c.kannel():
		return "kannel"
	case c.twilio():
		return "twilio"
	}
	return ""
}

func (c *config) validateSMS() []string {
	var problems []string
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			problems = append(problems, fmt.Sprintf("public-url %q must be a scheme and host, e.g. https://sms.gov.example", c.PublicURL))
		}
	}
	if c.twilio() {
		switch {
		case c.TwilioAccountSID == "" || c.TwilioAuthToken == "":
			problems = append(problems, "Twilio needs both twilio-account-sid and twilio-auth-token")
		case (c.TwilioFrom == "") == (c.TwilioMessagingService == ""):
			problems = append(problems, "Twilio needs one of twilio-from or twilio-messaging-service")
		case c.PublicURL == "":
			problems = append(problems, "Twilio needs public-url: it signs every webhook over the URL it calls")
		}
	}
	if c.kannel() {
		u, err := url.Parse(c.KannelSendSMS)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("kannel-sendsms %q is not an http URL", c.KannelSendSMS))
		}
		if c.KannelUser == "" || c.KannelPassword == "" {
			problems = append(problems, "Kannel needs kannel-user and kannel-password (a sendsms-user of smsbox)")
		}
	}
	switch c.SMSSender {
	case "":
		if c.twilio() && c.kannel() {
			problems = append(problems, "both Twilio and Kannel are configured: choose the one that sends with sms-sender")
		}
	case "twilio", "kannel":
		if (c.SMSSender == "twilio" && !c.twilio()) || (c.SMSSender == "kannel" && !c.kannel()) {
			problems = append(problems, fmt.Sprintf("sms-sender %s is not configured", c.SMSSender))
		}
	case consolesms.Name:
		// Development only, and only when named: it needs no gateway.
	default:
		problems = append(problems, fmt.Sprintf("sms-sender %q must be twilio, kannel or console", c.SMSSender))
	}
	for name, r := range map[string]float64{"twilio-rate": c.TwilioRate, "kannel-rate": c.KannelRate} {
		if r <= 0 || r > 10000 {
			problems = append(problems, fmt.Sprintf("%s %g must be above 0 and at most 10000 messages a second", name, r))
		}
	}
	if c.SMSIdle < time.Minute {
		problems = append(problems, "sms-idle must be at least a minute (SMS replies take minutes, often hours)")
	}
	if c.SMSReplies != "inline" && c.SMSReplies != "outbox" {
		problems = append(problems, fmt.Sprintf("sms-replies %q must be inline or outbox", c.SMSReplies))
	}
	return problems
}

// validateGateways checks how the inbound gateways prove themselves and
// the limits of what they bring.
func (c *config) validateGateways() []string {
	var problems []string
	var err error
	if c.metricsAllow, err = gateway.ParseAllow(c.MetricsAllow); err != nil {
		problems = append(problems, "metrics-allow: "+err.Error())
	}
	if c.MetricsTokenFile != "" {
		if c.metricsToken, err = metrics.ReadToken(c.MetricsTokenFile); err != nil {
			problems = append(problems, "metrics-token-file: "+err.Error())
		}
	}
	if c.atAllow, err = gateway.ParseAllow(c.ATAllow); err != nil {
		problems = append(problems, "at-allow: "+err.Error())
	}
	if c.kannelAllow, err = gateway.ParseAllow(c.KannelAllow); err != nil {
		problems = append(problems, "kannel-allow: "+err.Error())
	}
	if c.ATSecret != "" && (len(c.ATSecret) < 16 || !alphanumeric(c.ATSecret)) {
		problems = append(problems, "at-secret must be at least 16 letters and digits (it goes in a URL)")
	}
	if c.KannelSecret != "" && (len(c.KannelSecret) < 16 || !alphanumeric(c.KannelSecret)) {
		problems = append(problems, "kannel-secret must be at least 16 letters and digits (Kannel expands %-escapes and other signs in its URLs)")
	}
	switch {
	case c.kannel() && c.KannelSecret == "":
		problems = append(problems, "SMS over Kannel (kannel-sendsms) needs kannel-secret, which Kannel adds to its get-url and dlr-url calls")
	case c.KannelUSSD && c.KannelSecret == "":
		problems = append(problems, "USSD over Kannel (kannel-ussd) needs kannel-secret, which Kannel adds to its get-url calls")
	case !c.kannel() && !c.KannelUSSD && (c.KannelSecret != "" || c.KannelAllow != ""):
		problems = append(problems, "kannel-secret or kannel-allow is set but no Kannel route is on: set kannel-sendsms (SMS) or kannel-ussd (USSD)")
	}
	limits := []struct {
		name string
		s    string
		to   *ratelimit.Limit
	}{
		{"ussd-dials-per-phone", c.USSDDialsPerPhone, &c.ussdLimits.DialsPerPhone},
		{"ussd-hops-per-phone", c.USSDHopsPerPhone, &c.ussdLimits.HopsPerPhone},
		{"ussd-dials-per-source", c.USSDDialsPerSource, &c.ussdLimits.DialsPerSource},
		{"ussd-hops-per-source", c.USSDHopsPerSource, &c.ussdLimits.HopsPerSource},
		{"sms-per-phone", c.SMSPerPhone, &c.smsPerPhone},
		{"sms-per-source", c.SMSPerSource, &c.smsPerSource},
	}
	for _, l := range limits {
		if *l.to, err = ratelimit.Parse(l.s); err != nil {
			problems = append(problems, l.name+": "+err.Error())
		}
	}
	return problems
}

func alphanumeric(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
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
