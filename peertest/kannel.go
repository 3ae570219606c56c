package peertest

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	_ "embed"
)

// smscScript is the SMPP operator simulator (npm smpp in server mode).
//
//go:embed smsc.js
var smscScript []byte

// KannelOptions shapes the Kannel StartKannel runs.
type KannelOptions struct {
	// GetURL is the smsbox sms-service get-url for inbound (MO) messages,
	// e.g. "http://127.0.0.1:9/sms/kannel?from=%p&to=%P&text=%a&id=%I&meta=%D".
	// The body of its answer goes back to the phone as an SMS; an empty
	// body sends nothing. Empty: inbound messages are dropped.
	GetURL string
	// SMPP connects bearerbox to an SMPP operator simulator (npm smpp in
	// server mode) that knows the USSD TLVs ussd_service_op and
	// its_session_info, instead of Kannel's fakesmsc.
	SMPP bool
	// MaxMessages is the sms-service's max-messages: how many SMS, joined
	// by concatenation, a reply may take; 10 when 0. With 1, as the USSD
	// dialect asks for, Kannel cuts a longer reply to one SMS.
	MaxMessages int
	// HTTPRetries is smsbox's http-request-retry: how often a get-url
	// request that failed is sent again (with the same %I), a second
	// apart; 0 for never.
	HTTPRetries int
}

// Kannel is a running bearerbox and smsbox connected to a simulated
// operator.
type Kannel struct {
	SendSMSURL         string // "http://127.0.0.1:PORT/cgi-bin/sendsms"
	Username, Password string // the sendsms-user
	AdminURL           string // bearerbox's admin HTTP, "http://127.0.0.1:PORT"
	AdminPassword      string
	SMSCID             string // the smsc-id of the operator link: "fake" or "smpp"
	Dir                string // the configuration and the log files

	smpp bool
	in   io.Writer // the operator simulator's stdin

	mts chan MT

	mu    sync.Mutex
	resps map[string]chan int // deliver_sm ref -> command_status
	seq   int
}

// MT is a message Kannel sent to the operator.
type MT struct {
	From, To, Text string
	// USSDServiceOp is the ussd_service_op TLV, -1 when absent (and always
	// with fakesmsc).
	USSDServiceOp int
	SessionInfo   []byte // the its_session_info TLV, nil when absent
	// DataCoding is the SMPP data_coding (0 the SMSC default alphabet,
	// GSM-7; 8 UCS-2), -1 with fakesmsc.
	DataCoding int
	// UDH is the user data header before the text, nil when there is
	// none: each part of a message Kannel split carries one.
	UDH []byte
	Raw string // the simulator's line for it, for failure messages
}

// The Kannel configuration, one file for bearerbox and smsbox.
const kannelConf = `group = core
admin-port = {{admin}}
admin-password = {{adminpw}}
admin-allow-ip = 127.0.0.1
smsbox-port = {{smsboxport}}
box-allow-ip = 127.0.0.1
log-file = "{{dir}}/bearerbox.log"
log-level = 0
access-log = "{{dir}}/access.log"
dlr-storage = internal

{{smsc}}

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {{smsboxport}}
sendsms-port = {{sendsms}}
sendsms-interface = 127.0.0.1
log-file = "{{dir}}/smsbox.log"
log-level = 0
access-log = "{{dir}}/smsbox-access.log"
mo-recode = true
http-request-retry = {{retries}}
http-queue-delay = 1

group = sendsms-user
username = {{user}}
password = {{password}}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = yes
max-messages = {{maxmessages}}
concatenation = true
omit-empty = true
accept-x-kannel-headers = true
{{service}}
`

const fakeSMSCConf = `group = smsc
smsc = fake
smsc-id = fake
host = 127.0.0.1
port = {{smscport}}
connect-allow-ip = 127.0.0.1`

// The SMPP link carries USSD: Kannel needs the two TLVs declared to pass
// them to the get-url (%D) and take them from X-Kannel-Meta-Data.
const smppSMSCConf = `group = smsc
smsc = smpp
smsc-id = smpp
host = 127.0.0.1
port = {{smscport}}
transceiver-mode = yes
smsc-username = kannel
smsc-password = {{smscpw}}
system-type = ""
enquire-link-interval = 30
reconnect-delay = 1
msg-id-type = 0x00

group = smpp-tlv
name = ussd_service_op
tag = 0x0501
type = integer
length = 1
smsc-id = smpp

group = smpp-tlv
name = its_session_info
tag = 0x1383
type = octetstring
length = 2
smsc-id = smpp`

// StartKannel starts bearerbox and smsbox with a configuration generated
// in t.TempDir(), connected to Kannel's fakesmsc or, with o.SMPP, to an
// SMPP operator simulator, and waits until the operator link is online and
// sendsms answers.
func StartKannel(t testing.TB, o KannelOptions) *Kannel {
	t.Helper()
	binDir := os.Getenv(envKannelBin)
	if binDir == "" {
		if p := lookPath("bearerbox"); p != "" {
			binDir = filepath.Dir(p)
		} else if executable("/usr/sbin/bearerbox") {
			binDir = "/usr/sbin"
		}
	}
	bearerbox, smsbox := filepath.Join(binDir, "bearerbox"), filepath.Join(binDir, "smsbox")
	if binDir == "" || !executable(bearerbox) || !executable(smsbox) {
		missing(t, "Kannel's bearerbox and smsbox not found (%s)", envKannelBin)
	}
	var fakesmsc, node, modules string
	if o.SMPP {
		node, modules = nodePath(t, "smpp")
	} else if fakesmsc = find(envFakeSMSC, fakesmscPath); fakesmsc == "" {
		missing(t, "Kannel's fakesmsc not found (%s)", envFakeSMSC)
	}

	dir := t.TempDir()
	k := &Kannel{
		Username:      "channels",
		Password:      "sendsms-secret",
		AdminPassword: "admin-secret",
		Dir:           dir,
		smpp:          o.SMPP,
		mts:           make(chan MT, 1024),
		resps:         map[string]chan int{},
	}
	admin, smsboxPort, sendsms, smscPort := FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	k.AdminURL = fmt.Sprintf("http://127.0.0.1:%d", admin)
	k.SendSMSURL = fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendsms)

	smsc := fakeSMSCConf
	k.SMSCID = "fake"
	if o.SMPP {
		smsc = smppSMSCConf
		k.SMSCID = "smpp"
	}
	service := `text = ""`
	if o.GetURL != "" {
		service = "get-url = " + strconv.Quote(o.GetURL)
	}
	conf := strings.NewReplacer(
		"{{smsc}}", smsc, "{{service}}", service,
	).Replace(kannelConf)
	maxMessages := o.MaxMessages
	if maxMessages <= 0 {
		maxMessages = 10
	}
	conf = strings.NewReplacer(
		"{{maxmessages}}", strconv.Itoa(maxMessages),
		"{{retries}}", strconv.Itoa(o.HTTPRetries),
		"{{admin}}", strconv.Itoa(admin),
		"{{adminpw}}", k.AdminPassword,
		"{{smsboxport}}", strconv.Itoa(smsboxPort),
		"{{sendsms}}", strconv.Itoa(sendsms),
		"{{smscport}}", strconv.Itoa(smscPort),
		"{{smscpw}}", "smscpw",
		"{{dir}}", dir,
		"{{user}}", k.Username,
		"{{password}}", k.Password,
	).Replace(conf)
	confPath := filepath.Join(dir, "kannel.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatalf("peertest: write kannel.conf: %v", err)
	}
	logFiles(t, confPath, filepath.Join(dir, "bearerbox.log"), filepath.Join(dir, "smsbox.log"))

	// The SMPP operator listens first; Kannel connects to it.
	var operator *proc
	if o.SMPP {
		script := filepath.Join(dir, "smsc.js")
		if err := os.WriteFile(script, smscScript, 0o600); err != nil {
			t.Fatalf("peertest: write smsc.js: %v", err)
		}
		cmd := exec.Command(node, script, strconv.Itoa(smscPort), "kannel", "smscpw")
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		operator = k.startSimulator(t, "smsc.js", cmd, k.smscLine)
		waitFor(t, operator, "smsc.js listening", 10*time.Second, func() error {
			return dial(smscPort)
		})
	}

	// -v 2: warnings and errors on stdout; the full debug log is in dir.
	bb := start(t, "bearerbox", exec.Command(bearerbox, "-v", "2", confPath), nil)
	waitFor(t, bb, "bearerbox admin", 10*time.Second, func() error {
		_, err := k.status()
		return err
	})
	sb := start(t, "smsbox", exec.Command(smsbox, "-v", "2", confPath), nil)
	waitFor(t, sb, "smsbox sendsms", 10*time.Second, func() error {
		return dial(sendsms)
	})

	if !o.SMPP {
		// Interactive mode (no messages on the command line): each stdin
		// line is an MO message. -i 0 keeps it from pausing between them.
		cmd := exec.Command(fakesmsc, "-H", "127.0.0.1", "-r", strconv.Itoa(smscPort), "-i", "0")
		operator = k.startSimulator(t, "fakesmsc", cmd, k.fakesmscLine)
	}
	waitFor(t, operator, "operator link online and smsbox connected", 15*time.Second, func() error {
		s, err := k.status()
		if err != nil {
			return err
		}
		if !strings.Contains(s, "(online") {
			return fmt.Errorf("smsc not online:\n%s", s)
		}
		if !strings.Contains(s, "(on-line") {
			return fmt.Errorf("smsbox not connected:\n%s", s)
		}
		return nil
	})
	return k
}

// dial reports whether something listens on 127.0.0.1:port.
func dial(port int) error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// status returns bearerbox's plain-text status page.
func (k *Kannel) status() (string, error) {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(k.AdminURL + "/status.txt?password=" + url.QueryEscape(k.AdminPassword))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status: %s: %s", resp.Status, b)
	}
	return string(b), nil
}

// startSimulator starts the operator simulator with a pipe to its stdin,
// handing each line it prints to line.
func (k *Kannel) startSimulator(t testing.TB, name string, cmd *exec.Cmd, line func(string)) *proc {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("peertest: %s stdin: %v", name, err)
	}
	k.in = in
	return start(t, name, cmd, line)
}

// smscEvent is one line smsc.js prints.
type smscEvent struct {
	Event          string `json:"event"`
	Ref            string `json:"ref"`
	Status         int    `json:"status"`
	From           string `json:"from"`
	To             string `json:"to"`
	Text           string `json:"text"`
	USSDServiceOp  int    `json:"ussd_service_op"`
	ITSSessionInfo string `json:"its_session_info"`
	UDH            string `json:"udh"`
	DataCoding     int    `json:"data_coding"`
	Error          string `json:"error"`
}

// smscLine turns smsc.js's submit_sm/data_sm lines into MTs and delivers
// deliver_sm_resp statuses to the SendMO waiting for them.
func (k *Kannel) smscLine(line string) {
	var ev smscEvent
	if json.Unmarshal([]byte(line), &ev) != nil {
		return // a node warning or stack trace: it stays in the log
	}
	switch ev.Event {
	case "submit_sm", "data_sm":
		mt := MT{From: ev.From, To: ev.To, Text: ev.Text, USSDServiceOp: ev.USSDServiceOp, DataCoding: ev.DataCoding, Raw: line}
		if ev.ITSSessionInfo != "" {
			mt.SessionInfo, _ = hex.DecodeString(ev.ITSSessionInfo)
		}
		if ev.UDH != "" {
			mt.UDH, _ = hex.DecodeString(ev.UDH)
		}
		k.mts <- mt
	case "deliver_sm_resp", "error":
		k.mu.Lock()
		ch := k.resps[ev.Ref]
		delete(k.resps, ev.Ref)
		k.mu.Unlock()
		if ch != nil {
			status := ev.Status
			if ev.Event == "error" {
				status = -1
			}
			ch <- status
		}
	}
}

// fakesmscLine turns fakesmsc's "Got message N: <from to type text>" log
// lines into MTs.
func (k *Kannel) fakesmscLine(line string) {
	const marker = "Got message "
	i := strings.Index(line, marker)
	if i < 0 {
		return
	}
	rest := line[i+len(marker):]
	j := strings.Index(rest, ": <")
	if j < 0 || !strings.HasSuffix(rest, ">") {
		return
	}
	msg := rest[j+3 : len(rest)-1]
	f := strings.SplitN(msg, " ", 4)
	if len(f) < 3 {
		return
	}
	mt := MT{From: f[0], To: f[1], USSDServiceOp: -1, DataCoding: -1, Raw: line}
	body := ""
	if len(f) == 4 {
		body = f[3]
	}
	switch typ := f[2]; {
	case typ == "text":
		mt.Text = body
	case typ == "ucs-2" || typ == "ucs2":
		mt.Text = decodeUCS2(unescape(body))
	case strings.HasPrefix(typ, "udh"):
		// "udh-data UDH DATA": the text follows the user data header.
		if _, data, ok := strings.Cut(body, " "); ok {
			body = data
		}
		mt.Text = unescape(body)
	default: // "data": 8-bit, URL-encoded
		mt.Text = unescape(body)
	}
	k.mts <- mt
}

// unescape undoes fakesmsc's URL encoding, keeping s when it is not one.
func unescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// decodeUCS2 decodes big-endian UCS-2 (UTF-16) bytes.
func decodeUCS2(b string) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16([]byte(b[2*i : 2*i+2]))
	}
	return string(utf16.Decode(u))
}

// encodeUCS2 is the URL-encoded big-endian UTF-16 of s, as fakesmsc's
// "ucs2" message type takes it.
func encodeUCS2(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.BigEndian.PutUint16(b[2*i:], c)
	}
	return url.QueryEscape(string(b))
}

// plainText reports whether fakesmsc can carry s as a "text" message:
// printable ASCII, nothing it would misread.
func plainText(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return s != "" && strings.TrimSpace(s) == s
}

// SendMO delivers an inbound SMS from phone from to short code to, as the
// operator would: a fakesmsc message, or a deliver_sm in SMPP mode.
func (k *Kannel) SendMO(t testing.TB, from, to, text string) {
	t.Helper()
	if k.smpp {
		k.deliver(t, map[string]any{"from": from, "to": to, "text": text})
		return
	}
	if strings.ContainsAny(from+to, " \n") {
		t.Fatalf("peertest: SendMO: addresses %q, %q must not contain spaces", from, to)
	}
	line := from + " " + to + " text " + text
	if !plainText(text) {
		line = from + " " + to + " ucs2 " + encodeUCS2(text)
	}
	// fakesmsc reads stdin in 256-byte chunks: a longer line would arrive
	// as two messages.
	if len(line) >= 255 {
		t.Fatalf("peertest: SendMO: message too long for fakesmsc (%d bytes encoded)", len(line))
	}
	if _, err := io.WriteString(k.in, line+"\n"); err != nil {
		t.Fatalf("peertest: SendMO: write to fakesmsc: %v", err)
	}
}

// SendUSSD (SMPP mode only) delivers a USSD request: a deliver_sm with the
// TLVs ussd_service_op (0x0501, 1 byte: op) and its_session_info (0x1383,
// 2 octets: session).
func (k *Kannel) SendUSSD(t testing.TB, from, to, text string, op byte, session [2]byte) {
	t.Helper()
	if !k.smpp {
		t.Fatal("peertest: SendUSSD needs StartKannel with KannelOptions.SMPP")
	}
	k.deliver(t, map[string]any{
		"from": from, "to": to, "text": text,
		"ussd_service_op":  int(op),
		"its_session_info": hex.EncodeToString(session[:]),
	})
}

// deliver asks smsc.js for a deliver_sm and waits for Kannel's
// deliver_sm_resp.
func (k *Kannel) deliver(t testing.TB, cmd map[string]any) {
	t.Helper()
	k.mu.Lock()
	k.seq++
	ref := "mo-" + strconv.Itoa(k.seq)
	ch := make(chan int, 1)
	k.resps[ref] = ch
	k.mu.Unlock()
	cmd["cmd"], cmd["ref"] = "deliver", ref
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatalf("peertest: encode deliver_sm: %v", err)
	}
	if _, err := k.in.Write(append(line, '\n')); err != nil {
		t.Fatalf("peertest: write to smsc.js: %v", err)
	}
	select {
	case status := <-ch:
		if status != 0 {
			t.Fatalf("peertest: deliver_sm %s: Kannel answered command_status %#x", line, status)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("peertest: deliver_sm %s: no deliver_sm_resp from Kannel in 10s", line)
	}
}

// MT waits up to timeout for the next message Kannel sent to the operator
// (a fakesmsc line, or an SMPP submit_sm/data_sm), in the order sent.
// fakesmsc looks at its connection about once a second, so allow it two.
func (k *Kannel) MT(t testing.TB, timeout time.Duration) (MT, bool) {
	t.Helper()
	select {
	case mt := <-k.mts:
		return mt, true
	case <-time.After(timeout):
		return MT{}, false
	}
}
