package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/peertest"
)

// outageText is what a citizen reads in lang while the store cannot do
// the work.
func outageText(t *testing.T, lang string) string {
	t.Helper()
	_, b, err := catalog("")
	if err != nil {
		t.Fatal(err)
	}
	return b.Text(lang, channels.Msg("error.unavailable"))
}

// smsGateway stands in for Kannel's sendsms interface, which the server's
// Kannel sender calls: it keeps every message it takes, and while
// refusing it answers 503, which the outbox retries.
type smsGateway struct {
	*httptest.Server
	mu       sync.Mutex
	refusing bool
	sent     []url.Values // the queries of the messages taken
}

func newSMSGateway(t *testing.T) *smsGateway {
	g := &smsGateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.refusing {
			http.Error(w, "Service unavailable", http.StatusServiceUnavailable)
			return
		}
		g.sent = append(g.sent, r.URL.Query())
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "0: Accepted for delivery")
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *smsGateway) refuse(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refusing = on
}

// wait waits for a message to phone whose text matches re and returns it.
func (g *smsGateway) wait(t *testing.T, phone string, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		g.mu.Lock()
		for _, q := range g.sent {
			if strings.TrimPrefix(q.Get("to"), "+") == strings.TrimPrefix(phone, "+") && re.MatchString(q.Get("text")) {
				g.mu.Unlock()
				return q.Get("text")
			}
		}
		g.mu.Unlock()
	}
	t.Fatalf("no SMS to %s matching %s reached the gateway", phone, re)
	return ""
}

// load drives USSD sessions of Report a problem, each from a new phone,
// and app requests of one signed-in citizen, until stopped: what the
// server gives while its store comes and goes.
type load struct {
	p                          *process
	client                     *http.Client // no request may hang: each must complete
	token                      string       // the app citizen's
	unavailable, unavailableSw string

	phones atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	acked    []string // references shown to citizens
	refused  int      // sessions ended with the polite refusal
	app503   int      // app requests answered 503 with the refusal
	appOK    int
	odd      []string // anything else: never expected
	sessions int
}

func (l *load) start(ussdWorkers int) {
	l.stop = make(chan struct{})
	for range ussdWorkers {
		l.wg.Go(func() {
			for !l.stopped() {
				l.session()
			}
		})
	}
	l.wg.Go(func() {
		for !l.stopped() {
			l.appRequest()
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) oddly(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.odd = append(l.odd, fmt.Sprintf(format, args...))
}

// session walks one citizen from dial to END: a reference, or the polite
// refusal at whatever hop the store failed.
func (l *load) session() {
	n := l.phones.Add(1)
	w := walkReport(l.client, l.p.base, fmt.Sprintf("load-%d", n), fmt.Sprintf("+25471%07d", n), l.unavailable)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case w.odd != "":
		l.odd = append(l.odd, w.odd)
	case w.ref != "":
		l.acked = append(l.acked, w.ref)
		l.sessions++
	default:
		l.refused++
		l.sessions++
	}
}

// walk is how one session of Report a problem went.
type walk struct {
	ref string // the reference shown at the end, if any
	hop int    // the hop that ended it, 0 for the dial
	// retry is set when the submission was refused and the confirm
	// screen shown again under the refusal, for the citizen to try again.
	retry bool
	odd   string // an answer that was neither a page of the service nor the refusal
	text  string // the last reply
}

// walkReport walks Report a problem over Africa's Talking from dial to
// END, as session id of phone: the END of the service with its
// reference, or the polite refusal (refusal, after "END ") at any hop.
func walkReport(client *http.Client, base, id, phone, refusal string) walk {
	return walkHops(client, base, id, phone, refusal, 0, len(reportProblem))
}

// walkHops walks the hops from to before to of Report a problem; a walk
// that stops before the last has no reference, and its text is the page
// of its last hop.
func walkHops(client *http.Client, base, id, phone, refusal string, from, to int) walk {
	for i := from; i < to; i++ {
		text := reportProblem[i]
		form := url.Values{"sessionId": {id}, "serviceCode": {"*384#"}, "phoneNumber": {phone}, "text": {text}}
		resp, err := client.PostForm(base+"/ussd/at", form)
		if err != nil {
			return walk{hop: i, odd: fmt.Sprintf("hop %d of %s: %v", i, id, err)}
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		reply := string(body)
		w := walk{hop: i, text: reply}
		switch {
		case resp.StatusCode != http.StatusOK:
			w.odd = fmt.Sprintf("hop %d of %s: %d %q", i, id, resp.StatusCode, reply)
			return w
		case reply == "END "+refusal:
			return w
		case i == len(reportProblem)-1 && strings.HasPrefix(reply, "CON "+refusal+"\n"):
			w.retry = true
			return w
		case i < len(reportProblem)-1 && strings.HasPrefix(reply, "CON "):
			if i == to-1 {
				return w
			}
		case i == len(reportProblem)-1 && strings.HasPrefix(reply, "END ") && reference.MatchString(reply):
			w.ref = reference.FindString(reply)
			return w
		default:
			w.odd = fmt.Sprintf("hop %d of %s: %q", i, id, reply)
			return w
		}
	}
	return walk{odd: fmt.Sprintf("no hops from %d to %d", from, to)}
}

// appRequest lists the app citizen's cases, in Swahili.
func (l *load) appRequest() {
	req, _ := http.NewRequest("GET", l.p.base+"/v1/cases", nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Accept-Language", "sw")
	resp, err := l.client.Do(req)
	if err != nil {
		l.oddly("app: %v", err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body struct {
		Error struct{ Code, Message string }
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		l.mu.Lock()
		l.appOK++
		l.mu.Unlock()
	case resp.StatusCode == http.StatusServiceUnavailable && json.Unmarshal(data, &body) == nil &&
		body.Error.Code == channels.EUNAVAILABLE && body.Error.Message == l.unavailableSw:
		l.mu.Lock()
		l.app503++
		l.mu.Unlock()
	default:
		l.oddly("app: %d %s", resp.StatusCode, data)
	}
}

// counts returns how many sessions ended and how many were refused.
func (l *load) counts() (sessions, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sessions, l.refused
}

// waitFor waits until cond holds of the load, or fails.
func (l *load) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// TestServePostgresRestart takes PostgreSQL away three times under a load
// of USSD sessions and app requests to the real binary: a fast shutdown
// (as `pg_ctl restart -m fast` or a package upgrade does), a server frozen
// with SIGSTOP (it neither answers nor refuses, as across a network
// partition: only the deadline on each call ends a request), and the
// postmaster killed. While it is away every request completes
// with a polite answer: an END in the citizen's language over Africa's
// Talking and Kannel, a reply by SMS, a 503 with the API's error in the
// app's language, the kiosk's error page; the log says so once per
// outage. When it is back the server serves again by itself: new
// sessions end with a reference, no case a citizen was shown is lost, and
// a case notice held up across the outage is sent.
func TestServePostgresRestart(t *testing.T) {
	pg := peertest.StartPostgres(t)
	dbURL := pg.Database(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// The suite's cluster commits asynchronously; the commits of this
	// database are written the moment they are acknowledged, as in
	// production, so that killing the postmaster cannot lose one.
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+strings.TrimPrefix(u.Path, "/")+" SET synchronous_commit = on").ReadAll(); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	gw := newSMSGateway(t)
	data := filepath.Join(t.TempDir(), "channels.db")
	// SMS replies go through the outbox: while it is down, the refusal
	// still goes back in the gateway's response.
	p := startServe(t, data, "-database-url", dbURL, "-sms-replies", "outbox",
		"-kannel-ussd", "-kannel-secret", testKannelSecret,
		"-kannel-sendsms", gw.URL+"/cgi-bin/sendsms", "-kannel-user", "channels", "-kannel-password", "pw", "-kannel-from", "22141", "-kannel-rate", "50")
	key, _ := addAgency(t, data, "county_works", "County Works", "")
	m := printedPassword.FindStringSubmatch(cliOut(t, "operator", "add", "-data", data, "-kiosk", "kisumu-post", "-region", "Kisumu", "amina", "Amina Otieno"))
	if m == nil {
		t.Fatal("no operator password printed")
	}
	kiosk := signInKiosk(t, p, "amina", m[1])

	// A citizen who chose French, and made a case whose notice the SMS
	// gateway holds up until after the outage.
	const french = "+254712345678"
	for _, text := range []string{"", "8", "8*2"} {
		p.ussd(t, "fr-lang", french, text)
	}
	var reply string
	for _, text := range reportProblem {
		reply = p.ussd(t, "fr-case", french, text)
	}
	ref := reference.FindString(reply)
	if !strings.HasPrefix(reply, "END ") || ref == "" {
		t.Fatalf("the French citizen's case: %q", reply)
	}
	const appCitizen = "+254712345670"
	if st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"`+appCitizen+`"}`, nil); st != http.StatusAccepted {
		t.Fatalf("ask a sign-in code: %d", st)
	}
	otp := code.FindString(gw.wait(t, appCitizen, code))
	var tok struct{ Token string }
	if st := p.api(t, "POST", "/v1/auth/verify", "", `{"phone":"`+appCitizen+`","code":"`+otp+`"}`, &tok); st != http.StatusOK {
		t.Fatalf("verify: %d", st)
	}
	gw.refuse(true)
	p.setStatus(t, key, ref, "in_review", "")

	l := &load{
		p: p, client: &http.Client{Timeout: 15 * time.Second}, token: tok.Token,
		unavailable: outageText(t, "en"), unavailableSw: outageText(t, "sw"),
	}
	l.start(4)
	defer func() {
		if l.stop != nil && !l.stopped() {
			l.finish()
		}
	}()
	frText := outageText(t, "fr")
	outages := []struct {
		name        string
		stop, start func(testing.TB)
		crash       bool // the server's sessions are lost: it is not shut down cleanly
	}{
		{"fast shutdown", func(t testing.TB) { pg.Stop(t, syscall.SIGINT) }, pg.Start, false},
		// Nothing answers and nothing refuses: only the deadline on
		// each call ends the requests.
		{"server frozen", pg.Pause, pg.Resume, false},
		{"postmaster killed", func(t testing.TB) { pg.Stop(t, syscall.SIGKILL) }, pg.Start, true},
	}
	for round, stop := range outages {
		sessions, _ := l.counts()
		l.waitFor(t, "sessions before the outage", func() bool { s, _ := l.counts(); return s >= sessions+20 })
		stop.stop(t)
		_, refused := l.counts()
		l.waitFor(t, "sessions refused during the outage", func() bool { _, r := l.counts(); return r >= refused+8 })

		// Every channel answers, politely and in the citizen's language.
		if got := p.ussd(t, fmt.Sprint("fr-down-", round), french, ""); got != "END "+frText {
			t.Errorf("%s: a dial over Africa's Talking: %q, want the French refusal", stop.name, got)
		}
		q := url.Values{"from": {french}, "to": {"384"}, "text": {"*384#"}, "meta": {fmt.Sprintf("?smpp?ussd_service_op=1&its_session_info=%%%02x%%00", round+1)}, "secret": {testKannelSecret}}
		if st, got := p.call(t, "GET", "/ussd/kannel?"+q.Encode(), nil, nil); st != http.StatusOK || got != frText {
			t.Errorf("%s: a dial over Kannel: %d %q, want the French refusal", stop.name, st, got)
		}
		q = url.Values{"from": {french}, "to": {"22141"}, "text": {"MENU"}, "id": {fmt.Sprint("mo-down-", round)}, "secret": {testKannelSecret}}
		if st, got := p.call(t, "GET", "/sms/kannel?"+q.Encode(), nil, nil); st != http.StatusOK || got != frText {
			t.Errorf("%s: an SMS over Kannel: %d %q, want the French refusal", stop.name, st, got)
		}
		if st, page := kiosk("/kiosk/"); st != http.StatusServiceUnavailable || !strings.Contains(page, l.unavailable) {
			t.Errorf("%s: the kiosk console: %d, want 503 and the refusal:\n%s", stop.name, st, page)
		}

		stop.start(t)
		l.mu.Lock()
		acked := len(l.acked)
		l.mu.Unlock()
		l.waitFor(t, "a case after the restart", func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return len(l.acked) > acked
		})
		st, page := kiosk("/kiosk/")
		if stop.crash {
			// Sessions are kept in an UNLOGGED table, which PostgreSQL
			// empties after a crash: the operator signs in again.
			if st != http.StatusUnauthorized {
				t.Errorf("%s: the kiosk console after the crash: %d, want the sign-in page", stop.name, st)
			}
			kiosk = signInKiosk(t, p, "amina", m[1])
			st, page = kiosk("/kiosk/")
		}
		if st != http.StatusOK || !strings.Contains(page, "Amina Otieno") {
			t.Errorf("%s: the kiosk console after the restart: %d\n%s", stop.name, st, page)
		}
		// The outage is over once no call has failed for a moment.
		for deadline := time.Now().Add(60 * time.Second); strings.Count(p.stderr.String(), `msg="store answers again"`) < round+1; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the log does not say the store answers again:\n%s", stop.name, p.stderr)
			}
		}
		if round == 0 {
			gw.refuse(false)
			gw.wait(t, french, regexp.MustCompile(ref))
		}
	}
	l.finish()

	if len(l.odd) > 0 {
		t.Errorf("%d answers were neither the service nor the polite refusal, as:\n%s", len(l.odd), strings.Join(l.odd[:min(len(l.odd), 10)], "\n"))
	}
	if l.app503 == 0 || l.appOK == 0 {
		t.Errorf("app requests: %d answered, %d refused; want both", l.appOK, l.app503)
	}
	t.Logf("%d sessions: %d ended with a reference, %d refused; app: %d answered, %d refused", l.sessions, len(l.acked), l.refused, l.appOK, l.app503)
	conn, err = pgconn.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res, err := conn.Exec(ctx, "SELECT ref FROM cases").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, row := range res[0].Rows {
		stored[string(row[0])] = true
	}
	for _, ref := range l.acked {
		if !stored[ref] {
			t.Errorf("case %s, shown to its citizen, is not in the database", ref)
		}
	}
	logs := p.stderr.String()
	if n := strings.Count(logs, `msg="store unavailable:`); n != len(outages) {
		t.Errorf("the log says %d times that the store is unavailable, want once per outage:\n%s", n, logs)
	}
	if n := strings.Count(logs, `msg="store answers again"`); n != len(outages) {
		t.Errorf("the log says %d times that the store answers again, want once per outage:\n%s", n, logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=ERROR") && !strings.Contains(line, `msg="store unavailable:`) {
			t.Errorf("an error logged besides the outage's: %s", line)
		}
	}
}

// cliOut runs the binary with args and returns what it printed.
func cliOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("channels %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// signInKiosk signs the operator in to the console and returns a getter
// of its pages in that session.
func signInKiosk(t *testing.T, p *process, id, password string) func(path string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 15 * time.Second}
	do := func(resp *http.Response, err error) (int, string) {
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	_, signIn := do(client.Get(p.base + "/kiosk/sign-in"))
	token := csrfField.FindStringSubmatch(signIn)
	if token == nil {
		t.Fatalf("sign-in page without a CSRF field:\n%s", signIn)
	}
	if st, _ := do(client.PostForm(p.base+"/kiosk/sign-in", url.Values{"csrf": {token[1]}, "id": {id}, "password": {password}})); st != http.StatusOK {
		t.Fatalf("kiosk sign-in: %d", st)
	}
	return func(path string) (int, string) { return do(client.Get(p.base + path)) }
}

// TestServeDiskFull fills the disk of the bbolt files under the real
// binary, on a small tmpfs mounted for the test: while it is full, every
// hop and submission completes with a service page or the polite refusal
// (in the citizen's language), the log names the file and the cause once,
// and nothing is corrupted; once space is freed the next citizen is served
// to the end, without a restart, and every case shown is in the file.
// The disk is peertest.SmallDisk's tmpfs.
func TestServeDiskFull(t *testing.T) {
	disk := peertest.SmallDisk(t, "4m")
	data := filepath.Join(disk, "channels.db")
	p := startServe(t, data)
	client := &http.Client{Timeout: 15 * time.Second}
	en, fr := outageText(t, "en"), outageText(t, "fr")

	const french = "+254712345678"
	for _, text := range []string{"", "8", "8*2"} {
		p.ussd(t, "fr-lang", french, text)
	}
	var acked []string
	if w := walkReport(client, p.base, "before", "+254710000001", en); w.ref == "" {
		t.Fatalf("a case before the disk is full: %+v", w)
	} else {
		acked = append(acked, w.ref)
	}

	// Citizens waiting at the confirm screen when the disk fills up.
	const waiting = 30
	var odd []string
	for i := range waiting {
		if w := walkHops(client, p.base, fmt.Sprint("confirm-", i), fmt.Sprintf("+25473%07d", i), en, 0, len(reportProblem)-1); w.odd != "" || !strings.HasPrefix(w.text, "CON ") {
			t.Fatalf("a session to its confirm screen: %+v", w)
		}
	}
	filler := filepath.Join(disk, "filler")
	fill(t, filler)
	// New sessions and cases need new pages, which the files cannot grow
	// to hold: sooner or later a hop, and a submission, is refused.
	var refusedHop, refusedSubmit int
	var again []int // the waiting citizens asked to try their submission again
	record := func(w walk) {
		switch {
		case w.odd != "":
			odd = append(odd, w.odd)
		case w.ref != "":
			acked = append(acked, w.ref)
		case w.hop == len(reportProblem)-1:
			refusedSubmit++
		default:
			refusedHop++
		}
	}
	for i := range waiting {
		w := walkHops(client, p.base, fmt.Sprint("confirm-", i), fmt.Sprintf("+25473%07d", i), en, len(reportProblem)-1, len(reportProblem))
		if w.retry {
			again = append(again, i)
		}
		record(w)
	}
	n := 0
	for ; n < 400 && refusedHop == 0; n++ {
		record(walkReport(client, p.base, fmt.Sprint("full-", n), fmt.Sprintf("+25472%07d", n), en))
	}
	t.Logf("disk full: %d submissions and %d new sessions, %d ended with a reference, %d refused at a hop, %d at the submission (%d asked to try again)",
		waiting, n, len(acked)-1, refusedHop, refusedSubmit, len(again))
	if refusedHop == 0 || refusedSubmit == 0 {
		t.Errorf("on a full disk %d sessions were refused at a hop and %d at the submission; want both", refusedHop, refusedSubmit)
	}
	if len(odd) > 0 {
		t.Errorf("%d answers were neither the service nor the polite refusal, as:\n%s", len(odd), strings.Join(odd[:min(len(odd), 10)], "\n"))
	}
	// A citizen whose language is known is refused in it.
	var frReply string
	for i := 0; i < 50 && frReply != "END "+fr; i++ {
		frReply = p.ussd(t, fmt.Sprint("fr-full-", i), french, "")
	}
	if frReply != "END "+fr {
		t.Errorf("the French citizen on a full disk: %q, want the French refusal", frReply)
	}
	logs := p.stderr.String()
	outage := regexp.MustCompile(`level=ERROR msg="store unavailable:[^\n]*` + regexp.QuoteMeta(data) + `[^\n]*no space left on device`)
	if !outage.MatchString(logs) {
		t.Errorf("the log does not name the file and the full disk:\n%s", logs)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Those asked to try again read the summary again (98: its second
	// page, with the options), confirm, and get their reference.
	for _, i := range again {
		var body []byte
		for _, text := range []string{reportProblem[len(reportProblem)-1] + "*98", reportProblem[len(reportProblem)-1] + "*98*1"} {
			form := url.Values{"sessionId": {fmt.Sprint("confirm-", i)}, "serviceCode": {"*384#"}, "phoneNumber": {fmt.Sprintf("+25473%07d", i)}, "text": {text}}
			resp, err := client.PostForm(p.base+"/ussd/at", form)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if ref := reference.FindString(string(body)); strings.HasPrefix(string(body), "END ") && ref != "" {
			acked = append(acked, ref)
		} else {
			t.Errorf("confirm-%d confirms again once space is freed: %q", i, body)
		}
	}
	if w := walkReport(client, p.base, "freed", "+254710000002", en); w.ref == "" {
		t.Errorf("the first session once space is freed: %+v", w)
	} else {
		acked = append(acked, w.ref)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.stderr.String(), `msg="store answers again"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say the store answers again:\n%s", p.stderr)
		}
		walkReport(client, p.base, fmt.Sprint("after-", time.Now().UnixNano()), "+254710000003", en)
	}
	logs = p.stderr.String()
	if n := strings.Count(logs, `msg="store unavailable:`); n != 1 {
		t.Errorf("the log says %d times that the store is unavailable, want once:\n%s", n, logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=ERROR") && !strings.Contains(line, `msg="store unavailable:`) {
			t.Errorf("an error logged besides the outage's: %s", line)
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, p.stderr)
	}
	for _, path := range []string{data, data + "-sessions"} {
		checkBolt(t, path)
	}
	db := openData(t, data)
	for _, ref := range acked {
		if _, err := db.Case(context.Background(), ref); err != nil {
			t.Errorf("case %s, shown to its citizen: %v", ref, err)
		}
	}
}

// fill writes path until its file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}

// checkBolt opens the bbolt file at path and checks every page of it
// (bbolt's Tx.Check).
func checkBolt(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("%s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("check %s: %v", path, err)
	}
}
