// Package kannel sends outbound SMS through a Kannel gateway's sendsms
// HTTP interface, as an outbox.Sender, and reads the delivery reports
// Kannel posts back.
//
// Kannel is the open-source SMS gateway operators and governments run
// on-premises; it speaks SMPP to the mobile network and HTTP to us.
// sendsms returns no message ID, so the message's own key is the provider
// ID, and every delivery report URL carries it.
package kannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/outbox"
)

// Config configures a Sender.
type Config struct {
	// SendSMSURL is smsbox's sendsms address:
	// "http://kannel:13013/cgi-bin/sendsms".
	SendSMSURL         string
	Username, Password string // a sendsms-user group
	From               string // the sender: our short code or number
	// SMSC routes every message to the smsc group with this smsc-id; empty
	// lets Kannel choose.
	SMSC string
	// DLRURL is where Kannel reports delivery. The sender adds key (our
	// message key), status (%d), smsc_id (%i) and reply (%A, the SMSC's
	// own words) to its query. Empty: no delivery reports.
	DLRURL string
	// Timeout bounds one sendsms call; 0 means 10 s.
	Timeout time.Duration
}

// dlrMask asks Kannel for every report type: delivered (1), failed (2),
// buffered (4), accepted by the SMSC (8) and rejected by it (16).
const dlrMask = "31"

const defaultTimeout = 10 * time.Second

// Sender sends SMS through Kannel. It is safe for concurrent use.
type Sender struct {
	cfg     Config
	sendsms *url.URL
	dlr     *url.URL // nil: no delivery reports
	client  *http.Client
}

var _ outbox.Sender = (*Sender)(nil)

// New returns a Sender for cfg, or an error naming what is misconfigured.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.SendSMSURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("kannel: sendsms URL %q is not an absolute URL", cfg.SendSMSURL)
	}
	if cfg.Username == "" || cfg.Password == "" {
		return nil, errors.New("kannel: sendsms username and password are required")
	}
	if cfg.From == "" {
		return nil, errors.New("kannel: From (the sender number) is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	s := &Sender{cfg: cfg, sendsms: u, client: &http.Client{Timeout: cfg.Timeout}}
	if cfg.DLRURL != "" {
		d, err := url.Parse(cfg.DLRURL)
		if err != nil || d.Scheme == "" || d.Host == "" {
			return nil, fmt.Errorf("kannel: DLR URL %q is not an absolute URL", cfg.DLRURL)
		}
		s.dlr = d
	}
	return s, nil
}

// Name is "kannel".
func (s *Sender) Name() string { return "kannel" }

// Send hands m to Kannel and returns m.Key as the provider ID (Kannel has
// no ID of its own to give). Text outside the GSM 7-bit alphabet goes as
// UCS-2. A 4xx answer (403: wrong credentials) is outbox.Permanent with
// reason "rejected_<status>"; 5xx (503: queue full), network errors and
// timeouts are plain errors, to be retried.
func (s *Sender) Send(ctx context.Context, m *channels.Outbound) (string, error) {
	q := url.Values{
		"username": {s.cfg.Username},
		"password": {s.cfg.Password},
		"from":     {s.cfg.From},
		"to":       {m.To},
		"text":     {m.Text},
		"charset":  {"UTF-8"},
	}
	if _, gsm := gsm7.Septets(m.Text); !gsm {
		q.Set("coding", "2") // UCS-2; Kannel converts from charset
	}
	if s.cfg.SMSC != "" {
		q.Set("smsc", s.cfg.SMSC)
	}
	if s.dlr != nil {
		q.Set("dlr-mask", dlrMask)
		q.Set("dlr-url", s.dlrURL(m.Key))
	}
	u := *s.sendsms
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("kannel: send %s: %w", m.Key, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The URL holds the password: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("kannel: send %s: %w", m.Key, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	answer := strings.TrimSpace(string(body))
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		// "0: Accepted for delivery", "3: Queued for later delivery", "Sent."
		return m.Key, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return "", outbox.Permanent(fmt.Sprintf("rejected_%d", resp.StatusCode),
			fmt.Errorf("kannel: send %s: %s: %s", m.Key, resp.Status, answer))
	default:
		return "", fmt.Errorf("kannel: send %s: %s: %s", m.Key, resp.Status, answer)
	}
}

// dlrURL is the configured DLR URL with our key and Kannel's report
// escapes in its query. Kannel expands %-escapes in a dlr-url, and a
// URL-escaped key is full of them: "ä" is "%C3%A4", and %C and %A are
// Kannel's charset and SMSC-reply escapes. Every "%" of the encoded query
// is therefore doubled; Kannel turns "%%" back into "%".
func (s *Sender) dlrURL(key string) string {
	u := *s.dlr
	q := u.Query()
	q.Set("key", key)
	raw := strings.ReplaceAll(q.Encode(), "%", "%%")
	u.RawQuery = raw + "&status=%d&smsc_id=%i&reply=%A"
	return u.String()
}

// DLRStatus maps the report type Kannel puts in a dlr-url's %d to the
// message's status. ok is false for a code Kannel does not define.
//
//	1  delivered to the phone        -> OutboundDelivered (final)
//	2  failed at the phone/network   -> OutboundFailed (final)
//	4  buffered at the SMSC          -> OutboundSent (more may follow)
//	8  accepted by the SMSC          -> OutboundSent (more may follow)
//	16 rejected by the SMSC          -> OutboundFailed (final)
//	32 intermediate SMSC notice      -> OutboundSent (more may follow)
func DLRStatus(code int) (status channels.OutboundStatus, ok bool) {
	switch code {
	case 1:
		return channels.OutboundDelivered, true
	case 2, 16:
		return channels.OutboundFailed, true
	case 4, 8, 32:
		return channels.OutboundSent, true
	default:
		return "", false
	}
}
