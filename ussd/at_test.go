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
	"testing"

	"github.com/gin-gonic/gin"
)

// atServer serves the fixture's Server over real HTTP as cmd/channels does.
func atServer(t *testing.T, f *fixture) string {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.srv.RegisterAT(r, "/ussd/at")
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/ussd/at"
}

func postForm(t *testing.T, target string, body string, contentType string) (int, string) {
	t.Helper()
	resp, err := http.Post(target, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	return resp.StatusCode, string(b)
}

func TestATOverHTTP(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const formType = "application/x-www-form-urlencoded"
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
		prefix string
	}{
		{"dial", form("sessionId", "h1", "serviceCode", "*384#", "phoneNumber", "+254712345678", "networkCode", "63902", "text", ""), formType, 200, "CON Government services\n1. Birth certificate"},
		{"national number", form("sessionId", "h2", "serviceCode", "*384#", "phoneNumber", "0712345678", "text", ""), formType, 200, "CON Government services"},
		{"international without plus", form("sessionId", "h3", "serviceCode", "*384#", "phoneNumber", "254712345678", "text", ""), formType, 200, "CON Government services"},
		{"missing sessionId", form("serviceCode", "*384#", "phoneNumber", "+254712345678"), formType, 400, "END The request is not valid."},
		{"missing serviceCode", form("sessionId", "h4", "phoneNumber", "+254712345678"), formType, 400, "END The request is not valid."},
		{"missing phone", form("sessionId", "h5", "serviceCode", "*384#"), formType, 400, "END That phone number is not valid."},
		{"invalid phone", form("sessionId", "h6", "serviceCode", "*384#", "phoneNumber", "+2541"), formType, 400, "END That phone number is not valid."},
		{"huge text", form("sessionId", "h7", "serviceCode", "*384#", "phoneNumber", "+254712345678", "text", strings.Repeat("1", 4200)), formType, 400, "END The request is not valid."},
		{"oversized body", "sessionId=h8&text=" + strings.Repeat("x", 9000), formType, 413, "END The request is too large."},
		{"broken encoding", "sessionId=%zz", formType, 400, "END The request is not valid."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, target, tt.body, tt.ctype)
			if status != tt.status || !strings.HasPrefix(body, tt.prefix) {
				t.Errorf("%d %q, want %d %q…", status, body, tt.status, tt.prefix)
			}
		})
	}
	t.Run("a refused request touches no session", func(t *testing.T) {
		postForm(t, target, form("sessionId", "h9", "serviceCode", "*384#", "phoneNumber", "+254712345678", "text", ""), formType)
		postForm(t, target, form("sessionId", "h9", "serviceCode", "*384#", "phoneNumber", "+2541", "text", "3"), formType)
		_, body := postForm(t, target, form("sessionId", "h9", "serviceCode", "*384#", "phoneNumber", "+254712345678", "text", "3"), formType)
		if !strings.HasPrefix(body, "CON What is the problem with?") {
			t.Errorf("after a refused hop, the session continued to %q", body)
		}
	})
}

func TestATReplyFitsGatewayBudget(t *testing.T) {
	f := newFixture(t)
	target := atServer(t, f)
	texts := []string{"", "1", "1*Amina Otieno", "1*Amina Otieno*12/03/2024", "1*Amina Otieno*12/03/2024*1", "1*Amina Otieno*12/03/2024*1*Kisumu",
		"1*Amina Otieno*12/03/2024*1*Kisumu*1", "1*Amina Otieno*12/03/2024*1*Kisumu*1*Grace Otieno", "1*Amina Otieno*12/03/2024*1*Kisumu*1*Grace Otieno*0712345678",
		"1*Amina Otieno*12/03/2024*1*Kisumu*1*Grace Otieno*0712345678*1"}
	for _, text := range texts {
		_, body := postForm(t, target, url.Values{"sessionId": {"budget"}, "serviceCode": {"*384#"}, "phoneNumber": {phone}, "text": {text}}.Encode(), "application/x-www-form-urlencoded")
		page := body[4:]
		if n := length(page); n > 182 {
			t.Errorf("page after %q has %d characters:\n%s", text, n, page)
		}
	}
}

// FuzzATRequest feeds arbitrary form bodies: parsing must never panic, and a
// request it accepts gets a CON or END reply.
func FuzzATRequest(f *testing.F) {
	fx := newFixture(f)
	f.Add("sessionId=s&serviceCode=*384%23&phoneNumber=%2B254712345678&text=")
	f.Add("sessionId=s&serviceCode=*384%23&phoneNumber=0712345678&text=3*1*Plot+5*B")
	f.Add("sessionId=s&serviceCode=*384%23&phoneNumber=254712345678&text=1*98*0*00")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		req, err := ParseAT(form, "KE")
		if err != nil {
			return
		}
		reply, _ := fx.srv.Handle(context.Background(), req)
		if reply.Text == "" {
			t.Fatalf("empty reply for %q", body)
		}
	})
}

// FuzzNewestInput checks the input taken from an accumulated text is always
// a suffix of it.
func FuzzNewestInput(f *testing.F) {
	f.Add("3*1", "3*1*Plot 5*B")
	f.Add("", "1")
	f.Add("1*2", "9")
	f.Fuzz(func(t *testing.T, last, text string) {
		if in := newestInput(last, text); !strings.HasSuffix(text, in) {
			t.Fatalf("newestInput(%q, %q) = %q is not a suffix", last, text, in)
		}
	})
}

// TestFuzzCorpusCommitted makes sure the seed corpora under testdata/fuzz
// exist, so `go test` replays them.
func TestFuzzCorpusCommitted(t *testing.T) {
	for _, name := range []string{"FuzzATRequest", "FuzzNewestInput", "FuzzPages"} {
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
