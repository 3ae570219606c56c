package ussd

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
)

const formType = "application/x-www-form-urlencoded"

// atRouter is the fixture's Server behind gin, mounted as cmd/channels
// mounts it.
func atRouter(f *fixture) *gin.Engine {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.srv.RegisterAT(r, "/ussd/at")
	return r
}

// atServer serves the fixture over a real HTTP listener.
func atServer(t *testing.T, f *fixture) string {
	t.Helper()
	srv := httptest.NewServer(atRouter(f))
	t.Cleanup(srv.Close)
	return srv.URL + "/ussd/at"
}

// atForm is an Africa's Talking hop as the gateway posts it.
func atForm(session, phoneNumber, text string) string {
	return url.Values{"sessionId": {session}, "serviceCode": {"*384#"}, "phoneNumber": {phoneNumber}, "networkCode": {"63902"}, "text": {text}}.Encode()
}

func post(t *testing.T, target, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(target, formType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	return resp.StatusCode, string(b)
}

func TestATRequests(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	tests := []struct {
		name   string
		body   string
		status int
		prefix string
	}{
		{"dial", atForm("h1", "+254712345678", ""), 200, "CON Government services\n1. Birth certificate"},
		{"national number", atForm("h2", "0712345678", ""), 200, "CON Government services"},
		{"international without plus", atForm("h3", "254712345678", ""), 200, "CON Government services"},
		{"missing sessionId", form("serviceCode", "*384#", "phoneNumber", phone), 400, "END The request is not valid."},
		{"blank sessionId", form("sessionId", "  ", "serviceCode", "*384#", "phoneNumber", phone), 400, "END The request is not valid."},
		{"missing serviceCode", form("sessionId", "h4", "phoneNumber", phone), 400, "END The request is not valid."},
		{"missing phoneNumber", form("sessionId", "h5", "serviceCode", "*384#"), 400, "END The request is not valid."},
		{"invalid phone", atForm("h6", "+2541", ""), 400, "END That phone number is not valid."},
		{"letters for a phone", atForm("h6", "hello", ""), 400, "END That phone number is not valid."},
		{"huge text", atForm("h7", phone, strings.Repeat("1", 4200)), 400, "END The request is not valid."},
		{"text not UTF-8", atForm("h7", phone, "1*\xff"), 400, "END The request is not valid."},
		{"oversized body", "sessionId=h8&text=" + strings.Repeat("x", 9000), 413, "END The request is too large."},
		{"broken encoding", "sessionId=%zz", 400, "END The request is not valid."},
		{"not a form", `{"sessionId":"h9"}`, 400, "END The request is not valid."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, target, tt.body)
			if status != tt.status || !strings.HasPrefix(body, tt.prefix) {
				t.Errorf("%d %q, want %d %q…", status, body, tt.status, tt.prefix)
			}
		})
	}
	t.Run("GET is not served", func(t *testing.T) {
		resp, err := http.Get(target + "?" + atForm("h10", phone, ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("GET: %d", resp.StatusCode)
		}
	})
	t.Run("a refused request touches no session", func(t *testing.T) {
		post(t, target, atForm("h11", phone, ""))
		post(t, target, atForm("h11", "+2541", "3"))
		if _, body := post(t, target, atForm("h11", phone, "3")); !strings.HasPrefix(body, "CON What is the problem with?") {
			t.Errorf("after a refused hop, the session continued to %q", body)
		}
	})
}

// TestATRetries posts every hop of a report twice, as a gateway that timed
// out does: the same reply each time, and one case in the store.
func TestATRetries(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	var last string
	for i, text := range hops(reportInputs...) {
		_, first := post(t, target, atForm("retry", phone, text))
		_, again := post(t, target, atForm("retry", phone, text))
		if first != again {
			t.Fatalf("retry of hop %d: %q then %q", i, first, again)
		}
		last = first
	}
	if !strings.HasPrefix(last, "END Report received.") || !refPattern.MatchString(last) {
		t.Fatalf("last reply %q", last)
	}
	if cs := f.cases(t); len(cs) != 1 || !strings.Contains(last, cs[0].Ref) {
		t.Fatalf("%d cases, want 1 whose reference is in %q", len(cs), last)
	}
	// A late copy of an earlier hop changes nothing either.
	if _, body := post(t, target, atForm("retry", phone, "3*1")); body != last {
		t.Errorf("late earlier hop: %q, want %q", body, last)
	}
	if cs := f.cases(t); len(cs) != 1 {
		t.Errorf("%d cases after a late hop", len(cs))
	}
}

// TestATConcurrentDuplicateStart sends the dial eight times at once, as
// Safaricom sends it twice: every copy gets the same root menu and the
// session goes on from it.
func TestATConcurrentDuplicateStart(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	replies := make([]string, 8)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() {
			resp, err := http.Post(target, formType, strings.NewReader(atForm("dup", phone, "")))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			replies[i] = string(b)
		})
	}
	wg.Wait()
	for _, r := range replies[1:] {
		if r != replies[0] {
			t.Errorf("duplicate start got %q, another %q", r, replies[0])
		}
	}
	if _, body := post(t, target, atForm("dup", phone, "1")); !strings.HasPrefix(body, "CON "+f.text("birth.child_name")) {
		t.Errorf("after duplicate starts, choice 1 gave %q", body)
	}
}

// TestATStarInFreeText: a "*" typed inside an answer is part of it, though
// Africa's Talking joins inputs with "*".
func TestATStarInFreeText(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	var body string
	for _, text := range []string{"", "3", "3*1", "3*1*Plot 5*B", "3*1*Plot 5*B*Leak*at*gate", "3*1*Plot 5*B*Leak*at*gate*1"} {
		_, body = post(t, target, atForm("star", phone, text))
	}
	if !strings.HasPrefix(body, "END ") {
		t.Fatalf("last reply %q", body)
	}
	cs := f.cases(t)
	if len(cs) != 1 {
		t.Fatalf("%d cases", len(cs))
	}
	if a := cs[0].Answers; a[1].Value != "Plot 5*B" || a[2].Value != "Leak*at*gate" {
		t.Errorf("answers = %+v, want the * kept", a)
	}
}

// TestATUnknownSessionStaleText: a hop of a session we do not know (expired,
// or lost) starts cleanly at the root menu; its text is not an input.
func TestATUnknownSessionStaleText(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	status, body := post(t, target, atForm("never-seen", phone, "3*1*Kisumu"))
	if status != 200 || !strings.HasPrefix(body, "CON "+f.text("home.title")+"\n") {
		t.Fatalf("%d %q, want the root menu", status, body)
	}
	if _, body = post(t, target, atForm("never-seen", phone, "3*1*Kisumu*3")); !strings.HasPrefix(body, "CON "+f.text("report.category")) {
		t.Errorf("next hop: %q", body)
	}
}

// TestATReplyFitsBudget walks a birth certificate over HTTP: no page over
// 182 characters.
func TestATReplyFitsBudget(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	for _, text := range hops("1", "Amina Otieno", "12/03/2024", "1", "Kisumu", "3", "12345674", "Grace Otieno", "0712345678", "2", "P.O. Box 42, Kisumu", "98", "1") {
		_, body := post(t, target, atForm("budget", phone, text))
		if !(Layout{}).Fits(body[4:]) {
			t.Errorf("page after %q over budget:\n%s", text, body)
		}
	}
}

// FuzzATRequest posts an arbitrary body, then the same session with an
// arbitrary next input appended and with an arbitrary text instead: the
// form parsing and the input extraction never panic, a refused request is
// a 4xx, and an accepted one a CON or END page.
func FuzzATRequest(f *testing.F) {
	fx := newFixture(f)
	router := atRouter(fx)
	f.Add("sessionId=s&serviceCode=*384%23&phoneNumber=%2B254712345678&text=", "3")
	f.Add("sessionId=s&serviceCode=*384%23&phoneNumber=0712345678&text=3*1*Plot+5*B", "Leak*at")
	f.Add("sessionId=s&serviceCode=*384%23&phoneNumber=254712345678&text=1*98*0*00", "98")
	f.Fuzz(func(t *testing.T, body, next string) {
		do := func(body string) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/ussd/at", strings.NewReader(body))
			req.Header.Set("Content-Type", formType)
			router.ServeHTTP(rec, req)
			switch out := rec.Body.String(); {
			case rec.Code == http.StatusOK:
				if !strings.HasPrefix(out, "CON ") && !strings.HasPrefix(out, "END ") {
					t.Fatalf("200 %q for %q", out, body)
				}
			case rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge:
				t.Fatalf("%d %q for %q", rec.Code, out, body)
			}
		}
		do(body)
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		text := form.Get("text")
		form.Set("text", text+"*"+next)
		do(form.Encode())
		form.Set("text", next)
		do(form.Encode())
	})
}

// TestFuzzCorpusCommitted makes sure the seed corpora under testdata/fuzz
// exist and are Go fuzz files, so that `go test` replays them.
func TestFuzzCorpusCommitted(t *testing.T) {
	for _, name := range []string{"FuzzATRequest", "FuzzHopInput", "FuzzPages"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if len(files) == 0 {
			t.Errorf("no seed corpus in testdata/fuzz/%s", name)
		}
		for _, file := range files {
			if b, err := os.ReadFile(file); err != nil || !strings.HasPrefix(string(b), "go test fuzz v1") {
				t.Errorf("%s is not a Go fuzz corpus file", file)
			}
		}
	}
}
