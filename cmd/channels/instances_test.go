package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/peertest"
	"github.com/govchannels/channels/store/postgres"
)

// smsbox stands for Kannel's sendsms interface: it accepts every message
// and records who sent it (the instances log in as different users), to
// whom, and under which outbox key (from the dlr-url the sender adds).
// The sends of a user in slow wait that long before the answer, so that
// an instance killed meanwhile dies with its attempts in flight.
type smsbox struct {
	srv *httptest.Server

	mu    sync.Mutex
	sends []boxSend
	slow  map[string]time.Duration
}

type boxSend struct {
	user, to, text, key string
	at                  time.Time
}

func newSMSBox(t *testing.T) *smsbox {
	b := &smsbox{slow: map[string]time.Duration{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		// Kannel expands its escapes in a dlr-url, "%%" to "%" among them.
		dlr, err := url.Parse(strings.ReplaceAll(q.Get("dlr-url"), "%%", "%"))
		if err != nil || dlr.Query().Get("key") == "" {
			http.Error(w, "no dlr-url with a key: "+q.Get("dlr-url"), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.sends = append(b.sends, boxSend{user: q.Get("username"), to: q.Get("to"), text: q.Get("text"), key: dlr.Query().Get("key"), at: time.Now()})
		wait := b.slow[q.Get("username")]
		b.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "0: Accepted for delivery")
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// sent returns a copy of every send so far.
func (b *smsbox) sent() []boxSend {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sends)
}

// setSlow makes the sends of user wait d.
func (b *smsbox) setSlow(user string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slow[user] = d
}

// waitTo waits until n messages reached phone and returns their texts in
// the order sent.
func (b *smsbox) waitTo(t *testing.T, phone string, n int) []string {
	t.Helper()
	texts, err := b.awaitTo(phone, n)
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

// awaitTo is waitTo for a goroutine of a test: it returns an error when
// the messages do not come.
func (b *smsbox) awaitTo(phone string, n int) ([]string, error) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var texts []string
		for _, s := range b.sent() {
			if s.to == phone {
				texts = append(texts, s.text)
			}
		}
		if len(texts) >= n {
			return texts, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s got %d SMS, want %d: %q", phone, len(texts), n, texts)
		}
	}
}

// awaitKey waits until the message with the outbox key key is sent, and
// returns its text.
func (b *smsbox) awaitKey(key string) (string, error) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, s := range b.sent() {
			if s.key == key {
				return s.text, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not sent", key)
		}
	}
}

// instances is two `channels serve` on one PostgreSQL database.
type instances struct {
	db    string
	box   *smsbox
	procs [2]*process
	users [2]string
}

// instanceLease is the outbox lease of the instances under test: short, so
// that a killed instance's claims pass to the other within the test.
const instanceLease = 3 * time.Second

// startInstances starts two servers on a new database of pg, each with
// its own data directory and admin socket, sending SMS through one
// smsbox as users "a" and "b", replies to inbound SMS through the outbox.
func startInstances(t *testing.T, pg *peertest.Postgres) *instances {
	t.Helper()
	in := &instances{db: pg.Database(t), box: newSMSBox(t), users: [2]string{"a", "b"}}
	for i, user := range in.users {
		dir := t.TempDir()
		// At info level, each says what it leads.
		in.procs[i] = startCommand(t, "info", "serve", "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "channels.db"), "-database-url", in.db,
			"-kannel-sendsms", in.box.srv.URL+"/cgi-bin/sendsms", "-kannel-user", user, "-kannel-password", "pw",
			"-kannel-from", "22141", "-kannel-secret", testKannelSecret, "-kannel-rate", "200",
			"-public-url", "http://127.0.0.1:1", "-sms-replies", "outbox",
			"-outbox-lease", instanceLease.String(), "-ussd-dials-per-phone", "off", "-ussd-hops-per-phone", "off")
	}
	return in
}

// reportProblem is the USSD texts of Report a problem, dial to END.
var reportProblem = []string{"", "3", "3*1", "3*1*Kisumu, near the bus park", "3*1*Kisumu, near the bus park*Broken water pipe", "3*1*Kisumu, near the bus park*Broken water pipe*1"}

// reportProblemSMS is the same service by SMS.
var reportProblemSMS = []string{"PROBLEM", "1", "Kisumu, near the bus park", "Broken water pipe", "1"}

// hop posts one Africa's Talking hop to base; an error is a transport
// failure (the instance is gone), which a gateway answers by trying
// another.
func hop(ctx context.Context, base, session, phone, text string) (string, error) {
	form := url.Values{"sessionId": {session}, "serviceCode": {"*384#"}, "phoneNumber": {phone}, "networkCode": {"63902"}, "text": {text}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/ussd/at", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("hop %q: %s: %s", text, resp.Status, body)
	}
	return string(body), nil
}

// mo delivers one inbound SMS to base as Kannel's get-url does.
func mo(ctx context.Context, base, phone, id, text string) error {
	q := url.Values{"from": {phone}, "to": {"22141"}, "text": {text}, "id": {id}, "secret": {testKannelSecret}}
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/sms/kannel?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sms %q: %s", text, resp.Status)
	}
	return nil
}

// anonymous replaces the references in a transcript, which differ from
// case to case.
func anonymous(texts []string) []string {
	out := make([]string, len(texts))
	for i, s := range texts {
		out[i] = reference.ReplaceAllString(s, "REF")
	}
	return out
}

// TestTwoInstancesOnePostgres runs two real servers on one database. USSD
// sessions whose hops alternate between them, each hop sent to both at
// once as a gateway retry to the other instance would be, get exactly the
// answers one instance gives; SMS dialogues alternating, each message
// delivered to both, get one reply each; every outbox message is sent
// once, by one of them; the citizen's case made through one is listed by
// the other.
func TestTwoInstancesOnePostgres(t *testing.T) {
	pg := peertest.StartPostgres(t)
	in := startInstances(t, pg)
	ctx := t.Context()
	a, b := in.procs[0], in.procs[1]

	var want []string
	for _, text := range reportProblem {
		want = append(want, a.ussd(t, "one-instance", "+254700000001", text))
	}
	if !strings.HasPrefix(want[len(want)-1], "END ") || reference.FindString(want[len(want)-1]) == "" {
		t.Fatalf("the one-instance walk ends %q", want[len(want)-1])
	}

	tests := []struct {
		name  string
		first int // the instance that gets each session's dial
	}{
		{"dial on A", 0},
		{"dial on B", 1},
	}
	var refs []string
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for s := range 3 {
				session, phone := fmt.Sprintf("alt-%d-%d", n, s), fmt.Sprintf("+2547001%02d%03d", n, s)
				var got []string
				for i, text := range reportProblem {
					here, there := in.procs[(tt.first+i)%2], in.procs[(tt.first+i+1)%2]
					var retry string
					var rerr error
					var wg sync.WaitGroup
					wg.Go(func() { retry, rerr = hop(ctx, there.base, session, phone, text) })
					reply, err := hop(ctx, here.base, session, phone, text)
					wg.Wait()
					if err != nil || rerr != nil {
						t.Fatalf("hop %d: %v, retry: %v", i, err, rerr)
					}
					if retry != reply {
						t.Errorf("hop %d: %q on one instance, %q on the other at once", i, reply, retry)
					}
					got = append(got, reply)
				}
				if !slices.Equal(anonymous(got), anonymous(want)) {
					t.Errorf("session %s:\n got %q\nwant %q", session, got, want)
				}
				refs = append(refs, reference.FindString(got[len(got)-1]))
			}
		})
	}

	store, err := postgres.Open(ctx, in.db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, ref := range refs {
		if _, err := store.Case(ctx, ref); err != nil {
			t.Errorf("case %s shown in an END: %v", ref, err)
		}
	}

	// SMS dialogues: each message goes to one instance and, as a
	// redelivery, to the other at once; replies come through the outbox.
	var wantSMS []string
	for i, text := range reportProblemSMS {
		if err := mo(ctx, a.base, "+254700000002", fmt.Sprintf("one-%d", i), text); err != nil {
			t.Fatal(err)
		}
		if _, err := in.box.awaitTo("+254700000002", i+1); err != nil {
			t.Fatalf("%v\n%s", err, a.stderr)
		}
		wantSMS = in.box.waitTo(t, "+254700000002", i+1)
	}
	for s := range 3 {
		phone := fmt.Sprintf("+2547002%05d", s)
		for i, text := range reportProblemSMS {
			id := fmt.Sprintf("mo-%d-%d", s, i)
			var wg sync.WaitGroup
			for p := range in.procs {
				base := in.procs[(s+i+p)%2].base
				wg.Go(func() {
					if err := mo(ctx, base, phone, id, text); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			in.box.waitTo(t, phone, i+1)
		}
		time.Sleep(200 * time.Millisecond) // a second reply to a message would come now
		got := in.box.waitTo(t, phone, len(reportProblemSMS))
		if !slices.Equal(anonymous(got), anonymous(wantSMS)) {
			t.Errorf("SMS dialogue of %s:\n got %q\nwant %q", phone, got, wantSMS)
		}
	}

	// The app codes, by the API of either instance, are outbox messages
	// too; then every message is sent exactly once.
	for i, p := range in.procs {
		if st := p.api(t, "POST", "/v1/auth/otp", "", fmt.Sprintf(`{"phone":"+25470000300%d"}`, i), nil); st != http.StatusAccepted {
			t.Fatalf("ask a code on instance %d: %d", i, st)
		}
		in.box.waitTo(t, fmt.Sprintf("+25470000300%d", i), 1)
	}
	byKey := map[string][]string{}
	for _, s := range in.box.sent() {
		byKey[s.key] = append(byKey[s.key], s.user)
	}
	users := map[string]int{}
	for key, us := range byKey {
		if len(us) != 1 {
			t.Errorf("%s sent %d times (by %v), want once", key, len(us), us)
		}
		users[us[0]]++
	}
	// One reply to each message of four dialogues, and the two codes.
	if want := 4*len(reportProblemSMS) + 2; len(byKey) != want {
		t.Errorf("%d messages sent, want %d", len(byKey), want)
	}
	if users["a"] == 0 || users["b"] == 0 {
		t.Errorf("messages sent by instance: %v; want both sending", users)
	}

	// The case made through A is listed through B.
	for _, text := range []string{"", "2", "2*2"} {
		if mine := b.ussd(t, "list", "+254700000001", text); text == "2*2" && !strings.Contains(mine, reference.FindString(want[len(want)-1])) {
			t.Errorf("B lists %q, want the case made through A", mine)
		}
	}
}

// TestKillOneInstanceUnderLoad drives USSD sessions and SMS dialogues
// against two instances, alternating, and kills one with SIGKILL while it
// holds sessions and outbox messages and leads the notifier: a gateway
// retries on the other what the dead one did not answer. Every session
// still ends as on one instance, every reference shown in an END is in the
// database, every reply is sent, the messages the dead one had claimed are
// sent by the other once its lease has ended, and the other takes the
// notifier over: an agency's status change reaches the citizen.
func TestKillOneInstanceUnderLoad(t *testing.T) {
	pg := peertest.StartPostgres(t)
	in := startInstances(t, pg)
	ctx := t.Context()
	a, b := in.procs[0], in.procs[1]
	if !strings.Contains(a.stderr.String(), "msg=leading work=notify") || strings.Contains(b.stderr.String(), "msg=leading work=notify") {
		t.Fatalf("A, started first, does not lead the notifier alone:\nA: %s\nB: %s", a.stderr, b.stderr)
	}
	var want []string
	for _, text := range reportProblem {
		want = append(want, b.ussd(t, "one-instance", "+254700000001", text))
	}
	// A takes long over each SMS, so that it dies with attempts in flight
	// and claims made.
	in.box.setSlow("a", time.Second)

	// send posts to the preferred instance and, when it is gone, to the
	// other, as a gateway would.
	send := func(prefer int, do func(base string) error) error {
		err := do(in.procs[prefer].base)
		if err != nil {
			err = do(in.procs[1-prefer].base)
		}
		return err
	}
	const sessions, dialogues = 16, 6
	killed := make(chan struct{})
	var mu sync.Mutex
	var refs []string
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Go(func() {
			session, phone := fmt.Sprintf("load-%d", s), fmt.Sprintf("+2547010%05d", s)
			var got []string
			for i, text := range reportProblem {
				if s%4 == 0 && i == 3 {
					<-killed // a quarter of the sessions go on after the kill
				}
				var reply string
				err := send((s+i)%2, func(base string) error {
					var err error
					reply, err = hop(ctx, base, session, phone, text)
					return err
				})
				if err != nil {
					t.Errorf("session %s, hop %d: %v", session, i, err)
					return
				}
				got = append(got, reply)
			}
			if !slices.Equal(anonymous(got), anonymous(want)) {
				t.Errorf("session %s:\n got %q\nwant %q", session, got, want)
			}
			mu.Lock()
			refs = append(refs, reference.FindString(got[len(got)-1]))
			mu.Unlock()
		})
	}
	for d := range dialogues {
		wg.Go(func() {
			phone := fmt.Sprintf("+2547020%05d", d)
			for i, text := range reportProblemSMS {
				if d%2 == 0 && i == 2 {
					<-killed
				}
				id := fmt.Sprintf("load-%d-%d", d, i)
				if err := send((d+i)%2, func(base string) error { return mo(ctx, base, phone, id, text) }); err != nil {
					t.Errorf("dialogue %s, message %d: %v", phone, i, err)
					return
				}
				reply, err := in.box.awaitKey("reply/kannel/" + id)
				if err != nil {
					t.Error(err)
					return
				}
				if i == len(reportProblemSMS)-1 && reference.FindString(reply) == "" {
					t.Errorf("dialogue %s ends %q, without a reference", phone, reply)
				}
			}
		})
	}

	// Kill A once it has attempts in flight at the slow gateway.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, s := range in.box.sent() {
			if s.user == "a" {
				n++
			}
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("instance A sent nothing")
		}
	}
	pid := a.cmd.Process.Pid
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()
	conn, err := pgx.Connect(ctx, in.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT key, claimed_until FROM outbox WHERE claimed_by LIKE '%/' || $1::text || '/%' AND claimed_until > now()
		AND status IN ('queued', 'sending')`, strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	type orphan struct {
		Key   string
		Until time.Time
	}
	claims, err := pgx.CollectRows(rows, pgx.RowToStructByPos[orphan])
	if err != nil {
		t.Fatal(err)
	}
	var orphans []string
	until := map[string]time.Time{}
	for _, c := range claims {
		orphans = append(orphans, c.Key)
		until[c.Key] = c.Until
	}
	if len(orphans) == 0 {
		t.Error("the killed instance held no claim: nothing tests the lease")
	}
	t.Logf("the killed instance held %d claims", len(orphans))
	close(killed)
	wg.Wait()

	// Every message the dead instance had claimed is sent by B, after the
	// lease; no message is sent twice but an attempt the dead one had in
	// flight.
	for _, key := range orphans {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var status string
			if err := conn.QueryRow(ctx, "SELECT status FROM outbox WHERE key = $1", key).Scan(&status); err != nil {
				t.Fatal(err)
			}
			if channels.OutboundStatus(status) == channels.OutboundSent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s, claimed by the killed instance, is still %s", key, status)
			}
		}
	}
	byKey := map[string][]string{}
	for _, s := range in.box.sent() {
		byKey[s.key] = append(byKey[s.key], s.user)
		if end, ok := until[s.key]; ok && s.user == "b" && s.at.Before(end) {
			t.Errorf("%s, claimed by the killed instance until %v, sent by B at %v", s.key, end, s.at)
		}
	}
	for _, key := range orphans {
		if us := byKey[key]; !slices.Contains(us, "b") {
			t.Errorf("%s, claimed by the killed instance, sent by %v; want B", key, us)
		}
	}
	for key, us := range byKey {
		if len(us) > 1 && !(len(us) == 2 && us[0] == "a" && us[1] == "b") {
			t.Errorf("%s sent by %v: only the attempt the killed instance had in flight may be repeated", key, us)
		}
	}

	store, err := postgres.Open(ctx, in.db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if len(refs) != sessions {
		t.Errorf("%d sessions ended with a reference, want %d", len(refs), sessions)
	}
	for _, ref := range refs {
		if _, err := store.Case(ctx, ref); err != nil {
			t.Errorf("case %s shown in an END: %v", ref, err)
		}
	}
	// B goes on: a new session after the kill, whose case an agency moves
	// on; the notifier, now B's, tells the citizen.
	var last string
	for _, text := range reportProblem {
		last = b.ussd(t, "after", "+254700000009", text)
	}
	ref := reference.FindString(last)
	if !strings.HasPrefix(last, "END ") || ref == "" {
		t.Fatalf("a session on B after the kill ends %q", last)
	}
	out := binaryOut(t, "agency", "add", "-data", filepath.Join(t.TempDir(), "admin.db"), "-database-url", in.db, "county_works", "County Works")
	m := printedKey.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key printed:\n%s", out)
	}
	b.setStatus(t, m[2], ref, "in_review", "assigned to the Kisumu depot")
	notice := in.box.waitTo(t, "+254700000009", 1)
	if !strings.Contains(notice[0], ref) {
		t.Errorf("the notice after the kill is %q, want one about %s", notice[0], ref)
	}
	if !strings.Contains(b.stderr.String(), "msg=leading work=notify") {
		t.Errorf("B does not say it took the notifier over:\n%s", b.stderr)
	}
}

// TestGuessLimitAcrossInstances guesses wrong at a phone's sign-in codes,
// alternating between two instances and asking a new code when one is
// burnt: the guesses checked stop at the budget one instance allows
// (DefaultPerPhoneGuesses, 10), not twice it.
func TestGuessLimitAcrossInstances(t *testing.T) {
	pg := peertest.StartPostgres(t)
	in := startInstances(t, pg)
	const phone = "+254700004000"
	checked, codes := 0, 0
	pending := false
	for i := 0; i < 40; i++ {
		p := in.procs[i%2]
		if !pending {
			// The code was burnt by its last wrong guess: ask a new one.
			if codes == 3 {
				t.Fatalf("three codes burnt after %d guesses, and no refusal", checked)
			}
			if st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"`+phone+`"}`, nil); st != http.StatusAccepted {
				t.Fatalf("ask code %d: %d", codes+1, st)
			}
			codes, pending = codes+1, true
			continue
		}
		var e struct {
			Error struct{ Code string }
		}
		st := p.api(t, "POST", "/v1/auth/verify", "", `{"phone":"`+phone+`","code":"000000"}`, &e)
		if st == http.StatusTooManyRequests {
			break
		}
		checked++
		pending = e.Error.Code != channels.ENOTFOUND
	}
	if checked != 10 {
		t.Errorf("%d wrong guesses checked across two instances, want 10, the budget of one", checked)
	}
}
