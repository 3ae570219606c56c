package ussd

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/store/bolt"
)

var update = flag.Bool("update", false, "rewrite golden files and transcripts")

// today is the fixed clock of the USSD tests.
var today = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

// fixture is a USSD server on a real bbolt file, the shipped catalog and
// locales, and a clock the test can move.
type fixture struct {
	srv    *Server
	db     *bolt.DB
	engine *flows.Engine
	bundle *locales.Bundle
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{bundle: bundle, now: today}
	clock := func() time.Time { return f.now }
	f.engine, err = flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: "KE", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.db, err = bolt.Open(filepath.Join(t.TempDir(), "channels.db"), bolt.Options{BatchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	f.srv = New(Config{
		Engine: f.engine, Host: &flows.StoreHost{Cases: f.db, Prefs: f.db, Now: clock},
		Sessions: f.db, Prefs: f.db, Bundle: bundle, Region: "KE", Now: clock,
	})
	return f
}

const phone = "+254712345678"

// hop sends one request and fails the test on error.
func (f *fixture) hop(t *testing.T, session, text string) Reply {
	t.Helper()
	r, err := f.srv.Handle(context.Background(), Request{SessionID: session, Phone: phone, ServiceCode: "*384#", Text: text})
	if err != nil {
		t.Fatalf("hop %q: %v", text, err)
	}
	return r
}

// TestTranscripts replays every dialogue under testdata/transcripts through
// the Simulator and compares it with the file; -update rewrites them.
// References are random, so they compare as <REF>.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var inputs []string
			for _, line := range strings.Split(string(want), "\n") {
				if in, ok := strings.CutPrefix(line, "> "); ok {
					inputs = append(inputs, in)
				} else if line == ">" {
					inputs = append(inputs, "")
				}
			}
			f := newFixture(t)
			sim := &Simulator{Server: f.srv, Phone: phone}
			var out bytes.Buffer
			if err := sim.Run(context.Background(), strings.NewReader(strings.Join(inputs, "\n")), &out); err != nil {
				t.Fatal(err)
			}
			got := refPattern.ReplaceAllString(out.String(), "<REF>")
			got = strings.ReplaceAll(got, "> \n", ">\n")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != refPattern.ReplaceAllString(string(want), "<REF>") {
				t.Errorf("transcript differs (run go test ./ussd -update and review the diff):\n%s", diff(string(want), got))
			}
		})
	}
}

// diff shows the first line where two texts part.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + wl + "\ngot:  " + gl
		}
	}
	return ""
}

func TestRetryGivesSameReplyAndOneCase(t *testing.T) {
	f := newFixture(t)
	texts := []string{"", "3", "3*1", "3*1*Kisumu", "3*1*Kisumu*Pipe burst", "3*1*Kisumu*Pipe burst*1"}
	var last Reply
	for _, text := range texts {
		first := f.hop(t, "retry", text)
		again := f.hop(t, "retry", text) // the gateway retries every hop
		if first != again {
			t.Fatalf("retry of %q: %q then %q", text, first.Text, again.Text)
		}
		last = first
	}
	if !last.End || !refPattern.MatchString(last.Text) {
		t.Fatalf("last reply %+v", last)
	}
	cases, err := f.db.CasesByPhone(context.Background(), phone, 10)
	if err != nil || len(cases) != 1 {
		t.Fatalf("cases = %d (%v), want 1", len(cases), err)
	}
	if got := cases[0].Answers; got[1].Value != "Kisumu" || got[2].Value != "Pipe burst" {
		t.Errorf("answers = %+v", got)
	}
}

func TestStarInsideAnswer(t *testing.T) {
	f := newFixture(t)
	for _, text := range []string{"", "3", "3*1", "3*1*Plot 5*B", "3*1*Plot 5*B*Leak*at*gate", "3*1*Plot 5*B*Leak*at*gate*1"} {
		f.hop(t, "star", text)
	}
	cases, err := f.db.CasesByPhone(context.Background(), phone, 1)
	if err != nil || len(cases) != 1 {
		t.Fatalf("cases: %v %v", cases, err)
	}
	if got := cases[0].Answers; got[1].Value != "Plot 5*B" || got[2].Value != "Leak*at*gate" {
		t.Errorf("answers = %+v, want the * kept", got)
	}
}

func TestConcurrentDuplicateStart(t *testing.T) {
	f := newFixture(t)
	replies := make(chan Reply, 8)
	for range 8 {
		go func() {
			r, err := f.srv.Handle(context.Background(), Request{SessionID: "dup", Phone: phone, ServiceCode: "*384#"})
			if err != nil {
				t.Error(err)
			}
			replies <- r
		}()
	}
	first := <-replies
	for range 7 {
		if r := <-replies; r != first {
			t.Errorf("duplicate start got %q, first %q", r.Text, first.Text)
		}
	}
	if r := f.hop(t, "dup", "1"); !strings.Contains(r.Text, f.bundle.Text("en", channels.Msg("birth.child_name"))) {
		t.Errorf("after duplicate starts, choice 1 gave %q", r.Text)
	}
}

func TestUnknownSessionWithStaleTextStartsClean(t *testing.T) {
	f := newFixture(t)
	r := f.hop(t, "never-seen", "3*1*Kisumu")
	if r.End || !strings.HasPrefix(r.Text, f.bundle.Text("en", channels.Msg("home.title"))) {
		t.Fatalf("reply = %+v, want the root menu", r)
	}
	// The next hop continues from there.
	r = f.hop(t, "never-seen", "3*1*Kisumu*3")
	if !strings.HasPrefix(r.Text, f.bundle.Text("en", channels.Msg("report.category"))) {
		t.Errorf("next reply = %q", r.Text)
	}
}

func TestExpiredSessionStartsClean(t *testing.T) {
	f := newFixture(t)
	f.hop(t, "exp", "")
	f.hop(t, "exp", "1")
	f.now = f.now.Add(4 * time.Minute)
	r := f.hop(t, "exp", "1*Amina")
	if !strings.Contains(r.Text, f.bundle.Text("en", channels.Msg("resume.prompt"))) {
		t.Errorf("after expiry within the resume window: %q, want the resume offer", r.Text)
	}
	f.now = f.now.Add(20 * time.Minute)
	r = f.hop(t, "exp2", "")
	if !strings.HasPrefix(r.Text, f.bundle.Text("en", channels.Msg("home.title"))) {
		t.Errorf("after the resume window: %q, want the root menu", r.Text)
	}
}

// TestLongFinalScreenIsReadToTheEnd: "my applications" with many cases does
// not fit one page; the session must stay open until its last page.
func TestLongFinalScreenIsReadToTheEnd(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		sid := fmt.Sprintf("fill-%d", i)
		for _, text := range []string{"", "3", "3*4", "3*4*Kakamega County Referral Hospital", "3*4*Kakamega County Referral Hospital*No doctor on duty at night", "3*4*Kakamega County Referral Hospital*No doctor on duty at night*1"} {
			f.hop(t, sid, text)
		}
	}
	f.hop(t, "long", "")
	f.hop(t, "long", "2")
	r := f.hop(t, "long", "2*2")
	if r.End || !strings.Contains(r.Text, "98. More") {
		t.Fatalf("first page of a long final screen: %+v", r)
	}
	pages := 1
	text := "2*2"
	for !r.End && pages < 10 {
		text += "*98"
		r = f.hop(t, "long", text)
		pages++
	}
	if !r.End || pages < 2 || strings.Contains(r.Text, "98. More") {
		t.Errorf("after %d pages: %+v", pages, r)
	}
	if again := f.hop(t, "long", text); again != r {
		t.Errorf("retry of the last page: %+v, want %+v", again, r)
	}
}
