package ussd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// TestLateHopChangesNothing: a copy of an earlier hop arriving after a
// later one gets the reply last shown, and the session goes on.
func TestLateHopChangesNothing(t *testing.T) {
	f := newFixture(t)
	last := f.run(t, "late", "3", "1", "Kisumu")
	for _, text := range []string{"", "3", "3*1"} {
		if r := f.hop(t, "late", text); r != last {
			t.Errorf("late %q: %q, want %q", text, r.Text, last.Text)
		}
	}
	if r := f.hop(t, "late", "3*1*Kisumu*Pipe burst"); !strings.HasPrefix(r.Text, f.text("report.confirm")) {
		t.Errorf("next hop: %q", r.Text)
	}
}

func TestSessionOfAnotherPhone(t *testing.T) {
	f := newFixture(t)
	f.run(t, "shared", "3")
	r, err := f.srv.Handle(context.Background(), Request{SessionID: "shared", Phone: "+254722000111", ServiceCode: "*384#", Text: "3*1"})
	if err != nil || !strings.HasPrefix(r.Text, f.text("home.title")+"\n") {
		t.Errorf("another phone on the session: %q, %v; want a fresh root menu", r.Text, err)
	}
}

func TestIncompleteRequest(t *testing.T) {
	f := newFixture(t)
	for _, req := range []Request{{Phone: phone}, {SessionID: "s"}} {
		r, err := f.srv.Handle(context.Background(), req)
		if channels.ErrorCode(err) != channels.EINVALID || !r.End || r.Text != f.text("error.bad_request") {
			t.Errorf("Handle(%+v) = %+v, %v", req, r, err)
		}
	}
}

// TestExpiry: a session lives SessionTTL after its last hop; within the
// resume window a new dial offers to continue, after it the root menu.
func TestExpiry(t *testing.T) {
	f := newFixture(t)
	f.run(t, "exp", "1", "Amina")
	f.advance(3*time.Minute + time.Second)
	// The gateway still has the old session; we do not.
	r := f.hop(t, "exp", "1*Amina*12/03/2024")
	if !strings.HasPrefix(r.Text, f.text("resume.prompt")) {
		t.Errorf("after the session's TTL: %q, want the resume offer", r.Text)
	}
	if r = f.hop(t, "exp", "1*Amina*12/03/2024*1"); !strings.HasPrefix(r.Text, f.text("birth.child_dob")) {
		t.Errorf("continue: %q, want the date of birth again", r.Text)
	}
	f.advance(10*time.Minute + time.Second)
	if r = f.hop(t, "exp-2", ""); !strings.HasPrefix(r.Text, f.text("home.title")) {
		t.Errorf("after the resume window: %q, want the root menu", r.Text)
	}
}

// TestResumeRecord follows the phone's resume record: written inside a
// service, cleared when the citizen goes home or the flow ends; and what
// the citizen typed is not kept in an ended session.
func TestResumeRecord(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	record := func() (flows.State, bool) {
		rec, err := f.db.Session(ctx, resumeKey(phone), f.clock())
		if channels.ErrorCode(err) == channels.ENOTFOUND {
			return flows.State{}, false
		}
		if err != nil {
			t.Fatal(err)
		}
		st, err := flows.DecodeState(rec.State)
		if err != nil {
			t.Fatal(err)
		}
		return st, true
	}
	f.hop(t, "r1", "")
	if _, ok := record(); ok {
		t.Error("a resume record for the root menu")
	}
	f.hop(t, "r1", "3")
	f.hop(t, "r1", "3*1")
	if st, ok := record(); !ok || st.Service != "report_problem" || st.Step != "location" {
		t.Errorf("record = %+v, %v; want report_problem/location", st, ok)
	}
	f.hop(t, "r1", "3*1*00")
	if _, ok := record(); ok {
		t.Error("the record survived going home")
	}

	end := f.run(t, "r2", reportInputs...)
	if !end.End {
		t.Fatalf("last reply %+v", end)
	}
	if _, ok := record(); ok {
		t.Error("the record survived the end of the flow")
	}
	sess, err := f.db.Session(ctx, sessionKey("r2"), f.clock())
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.State) != 0 || strings.Contains(string(sess.Edge), "Broken water pipe") {
		t.Errorf("ended session keeps answers: state %d bytes, edge %q", len(sess.State), sess.Edge)
	}
	if again := f.hop(t, "r2", strings.Join(reportInputs, "*")); again != end {
		t.Errorf("retry of the last hop: %+v, want %+v", again, end)
	}
	if r := f.hop(t, "r3", ""); !strings.HasPrefix(r.Text, f.text("home.title")) {
		t.Errorf("dial after the end: %q, want the root menu", r.Text)
	}
}

// TestLongFinalScreen reads "my applications" on a small gateway page:
// CON with More until the last page, Back to the page before; any other
// key, Home included, turns the page: the flow is over.
func TestLongFinalScreen(t *testing.T) {
	f := newFixture(t)
	for i := range 2 {
		f.run(t, "fill-"+string(rune('a'+i)), reportInputs...)
	}
	srv := New(Config{Engine: f.engine, Host: f.host, Sessions: f.db, Prefs: f.db, Bundle: f.bundle, Now: f.clock, Layout: Layout{MaxChars: 60}})
	session := "long"
	hop := func(text string) Reply {
		t.Helper()
		r, err := srv.Handle(context.Background(), Request{SessionID: session, Phone: phone, ServiceCode: "*384#", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	hop("")
	hop("2")
	first := hop("2*2")
	if first.End || !strings.HasSuffix(first.Text, "\n98. More") {
		t.Fatalf("first page: %+v", first)
	}
	second := hop("2*2*98")
	if second.End || !strings.HasSuffix(second.Text, "\n98. More\n0. Back") {
		t.Fatalf("second page: %+v", second)
	}
	if r := hop("2*2*98*0"); r != first {
		t.Errorf("back: %+v, want the first page", r)
	}
	if r := hop("2*2*98*0*1"); r != second {
		t.Errorf("any key: %+v, want the next page", r)
	}
	last := hop("2*2*98*0*1*98")
	if !last.End || strings.Contains(last.Text, "98. More") || strings.Contains(last.Text, "0. Back") {
		t.Errorf("last page: %+v, want END without navigation", last)
	}
	if again := hop("2*2*98*0*1*98"); again != last {
		t.Errorf("retry of the last page: %+v", again)
	}
	session = "long-2"
	hop("")
	hop("2")
	hop("2*2")
	if r := hop("2*2*00"); r != second {
		t.Errorf("home on a final screen: %+v, want the next page", r)
	}
}

// TestResumedApplicationSubmitsOnce: the confirmation's case is stored but
// the reply is lost (the session cannot be saved); the application,
// resumed from a new dial and confirmed again, finds the same case.
func TestResumedApplicationSubmitsOnce(t *testing.T) {
	f := newFixture(t)
	confirm := reportInputs[:len(reportInputs)-1]
	f.run(t, "lost", confirm...)
	f.store.fail(true)
	text := strings.Join(reportInputs, "*")
	if r, err := f.srv.Handle(context.Background(), Request{SessionID: "lost", Phone: phone, ServiceCode: "*384#", Text: text}); err == nil || !r.End {
		t.Fatalf("confirm with the store failing: %+v, %v", r, err)
	}
	f.store.fail(false)
	cs := f.cases(t)
	if len(cs) != 1 {
		t.Fatalf("%d cases after the lost reply", len(cs))
	}
	if r := f.hop(t, "again", ""); !strings.HasPrefix(r.Text, f.text("resume.prompt")) {
		t.Fatalf("dial: %q, want the resume offer", r.Text)
	}
	if r := f.hop(t, "again", "1"); !strings.HasPrefix(r.Text, f.text("report.confirm")) {
		t.Fatalf("continue: %q, want the confirmation", r.Text)
	}
	r := f.hop(t, "again", "1*1")
	if !r.End || !strings.Contains(r.Text, cs[0].Ref) {
		t.Errorf("confirm again: %+v, want the reference %s", r, cs[0].Ref)
	}
	if n := len(f.cases(t)); n != 1 {
		t.Errorf("%d cases, want 1", n)
	}
	// A new application in a later session is a new case.
	f.run(t, "later", reportInputs...)
	if n := len(f.cases(t)); n != 2 {
		t.Errorf("%d cases after a second application, want 2", n)
	}
}

// TestHostFailure: a submission that fails shows the confirm step again
// with the error first, logged for the operator; confirming again works
// and makes one case.
func TestHostFailure(t *testing.T) {
	f := newFixture(t)
	f.host.fail(true)
	r := f.run(t, "host", reportInputs...)
	if r.End || !strings.HasPrefix(r.Text, f.text("error.internal")+"\n"+f.text("report.confirm")) {
		t.Fatalf("reply %+v, want the confirm step with the error", r)
	}
	if !strings.Contains(f.logs.String(), "ussd host call failed") {
		t.Errorf("not logged:\n%s", f.logs)
	}
	f.host.fail(false)
	if r = f.hop(t, "host", strings.Join(reportInputs, "*")+"*1"); !r.End || !refPattern.MatchString(r.Text) {
		t.Fatalf("confirm again: %+v", r)
	}
	if n := len(f.cases(t)); n != 1 {
		t.Errorf("%d cases", n)
	}
}

// TestStoreFailure: a session that cannot be saved ends with a polite
// message in the citizen's language, and the error is returned; the
// gateway's retry of the hop, once the store is back, goes on.
func TestStoreFailure(t *testing.T) {
	f := newFixture(t)
	if err := f.db.PutPrefs(context.Background(), phone, channels.Prefs{Lang: "sw"}); err != nil {
		t.Fatal(err)
	}
	f.run(t, "store", "3")
	f.store.fail(true)
	r, err := f.srv.Handle(context.Background(), Request{SessionID: "store", Phone: phone, ServiceCode: "*384#", Text: "3*1"})
	if !errors.Is(err, errInjected) || !r.End || r.Text != f.bundle.Text("sw", channels.Msg("error.internal")) {
		t.Errorf("reply %+v, %v; want END error.internal in Swahili", r, err)
	}
	f.store.fail(false)
	if r = f.hop(t, "store", "3*1"); r.End || !strings.HasPrefix(r.Text, f.bundle.Text("sw", channels.Msg("report.location"))) {
		t.Errorf("retry: %+v", r)
	}
}

// TestLogsHoldNoPersonalData drives a session through warnings and errors
// with a debug logger: no answer and no whole phone number reach the log.
func TestLogsHoldNoPersonalData(t *testing.T) {
	f := newFixture(t)
	secret := "Wanjiku Kamau Secret"
	f.run(t, "log", "3", "1", secret)
	f.store.fail(true)
	f.srv.Handle(context.Background(), Request{SessionID: "log", Phone: phone, ServiceCode: "*384#", Text: "3*1*" + secret + "*" + secret})
	f.store.fail(false)
	f.host.fail(true)
	f.run(t, "log-2", "3", "1", secret, secret, "1")
	f.srv.Handle(context.Background(), Request{SessionID: "log", Phone: "+254722000111", ServiceCode: "*384#", Text: secret})
	logs := f.logs.String()
	if !strings.Contains(logs, "ussd hop failed") {
		t.Fatalf("nothing logged:\n%s", logs)
	}
	for _, pii := range []string{secret, phone, "+254722000111"} {
		if strings.Contains(logs, pii) {
			t.Errorf("log holds %q:\n%s", pii, logs)
		}
	}
}

// TestSessionSize keeps what a hop writes small: the engine state and the
// edge of every screen of a long application.
func TestSessionSize(t *testing.T) {
	f := newFixture(t)
	inputs := []string{"1", "Amina Wanjiru Otieno", "12/03/2024", "1", "Kisumu District Hospital", "3", "12345674", "Grace Achieng Otieno", "0712345678", "2", "P.O. Box 42, Kisumu"}
	f.run(t, "size", inputs...)
	sess, err := f.db.Session(context.Background(), sessionKey("size"), f.clock())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("confirm step: state %d bytes, edge %d bytes", len(sess.State), len(sess.Edge))
	if len(sess.State) > 512 || len(sess.Edge) > 1024 {
		t.Errorf("state %d bytes, edge %d bytes: want at most 512 and 1024", len(sess.State), len(sess.Edge))
	}
}
