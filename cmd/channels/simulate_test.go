package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels/agencycall"
)

// simAgency is the revenue agency of testdata/simcall: a real HTTP server
// that checks every call as a real agency would (method, path, content
// type, the signature, a strict body whose id is the Idempotency-Key:
// agencycall.Receive) and answers by the PIN sent: "found" found, "none"
// not_found, "bad" malformed JSON, "slow" never (it waits until the
// caller gives up). A refused request is recorded and fails the test.
type simAgency struct {
	*httptest.Server
	secret []byte

	mu      sync.Mutex
	refused []string
	keys    []string // the Idempotency-Key of each good request
}

func newSimAgency(t *testing.T) *simAgency {
	t.Helper()
	ag := &simAgency{secret: make([]byte, 32)}
	if _, err := rand.Read(ag.secret); err != nil {
		t.Fatal(err)
	}
	ag.Server = httptest.NewServer(http.HandlerFunc(ag.serve))
	t.Cleanup(func() {
		ag.Close()
		ag.mu.Lock()
		defer ag.mu.Unlock()
		for _, p := range ag.refused {
			t.Errorf("the agency refused a call: %s", p)
		}
	})
	return ag
}

func (ag *simAgency) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/operations/pin_status" {
		ag.refuse(w, &agencycall.Refusal{Status: http.StatusNotFound, Reason: r.Method + " " + r.URL.Path})
		return
	}
	req, err := agencycall.Receive(w, r, ag.secret, "pin_status", time.Now())
	if err != nil {
		ag.refuse(w, err)
		return
	}
	if req.Service != "pin" || len(req.Params) != 1 || req.Params[0].Field != "pin" {
		ag.refuse(w, &agencycall.Refusal{Status: http.StatusBadRequest, Reason: fmt.Sprintf("request %+v", req)})
		return
	}
	ag.mu.Lock()
	ag.keys = append(ag.keys, req.ID)
	ag.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch req.Params[0].Value {
	case "found":
		_, _ = io.WriteString(w, `{"outcome": "found", "result": {"name": "Amani Otieno"}}`)
	case "none":
		_, _ = io.WriteString(w, `{"outcome": "not_found"}`)
	case "bad":
		_, _ = io.WriteString(w, `{"outcome": "found", "result": `)
	case "slow":
		<-r.Context().Done()
	default:
		http.Error(w, "unknown pin", http.StatusBadRequest)
	}
}

// refuse records why a call was refused and answers it with the
// refusal's status.
func (ag *simAgency) refuse(w http.ResponseWriter, err error) {
	why := err.(*agencycall.Refusal)
	ag.mu.Lock()
	ag.refused = append(ag.refused, why.Error())
	ag.mu.Unlock()
	http.Error(w, "refused", why.Status)
}

// agencySecretFile writes content to a file of the test's and returns its path.
func agencySecretFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agency.secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSimulateCalls drives `channels simulate` through the call step of
// testdata/simcall against a real local agency, on every outcome: the
// transcript shows the exit's screen, and a timeout says the answer would
// come by SMS. Each run made one signed call.
func TestSimulateCalls(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		inputs  string
		secrets func(ag *simAgency) string // the secret file's content
		want    []string
		absent  []string
	}{
		{"found", "ussd", "1\nfound\n", hexSecret, []string{"END PIN of Amani Otieno: valid."}, []string{"(simulate:"}},
		{"not found", "ussd", "1\nnone\n", hexSecret, []string{"END No such PIN."}, nil},
		{"a malformed answer is the failed exit", "ussd", "1\nbad\n", hexSecret, []string{"END The register is not answering. Try again later."}, nil},
		{"timeout: the exit, and the SMS that would come", "ussd", "1\nslow\n", hexSecret, []string{
			"(simulate: pin_status of revenue did not answer in time; channels serve would finish the call in the background and send the answer by SMS",
			"END The register is slow. The answer will come by SMS.",
		}, nil},
		{"a secret by agency", "ussd", "1\nfound\n", func(ag *simAgency) string {
			return "# the demo agency's secrets\nother " + strings.Repeat("ab", 32) + "\nrevenue " + hex.EncodeToString(ag.secret) + "\n"
		}, []string{"END PIN of Amani Otieno: valid."}, nil},
		{"app", "app", "1\nfound\n", hexSecret, []string{`"text": "PIN of Amani Otieno: valid."`, `"ended": true`}, nil},
		{"SMS", "sms", "MENU\n1\nfound\n", hexSecret, []string{"> found\nPIN of Amani Otieno: valid."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ag := newSimAgency(t)
			code, out, errOut := runCmd(t, tt.inputs, "simulate", "-channel", tt.channel, "-services", "testdata/simcall",
				"-agency-url", ag.URL, "-agency-secret-file", agencySecretFile(t, tt.secrets(ag)))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("transcript lacks %q:\n%s", want, out)
				}
			}
			for _, absent := range tt.absent {
				if strings.Contains(out, absent) {
					t.Errorf("transcript has %q:\n%s", absent, out)
				}
			}
			ag.mu.Lock()
			defer ag.mu.Unlock()
			if len(ag.keys) != 1 || !strings.HasSuffix(ag.keys[0], "/check/1") {
				t.Errorf("the agency took calls %q, want one of step check", ag.keys)
			}
		})
	}
}

// hexSecret is a secret file of one hex secret for every agency.
func hexSecret(ag *simAgency) string { return hex.EncodeToString(ag.secret) + "\n" }

// TestSimulateAgencyFlagsRefused checks the agency flags simulate refuses
// before it runs anything.
func TestSimulateAgencyFlagsRefused(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		secret string
		want   string
	}{
		{"a URL without secrets", []string{"-agency-url", "http://127.0.0.1:8090"}, "", "go together"},
		{"not a URL", []string{"-agency-url", "127.0.0.1:8090"}, strings.Repeat("ab", 32), "not an absolute http(s) URL"},
		{"a secret that is not hex", []string{"-agency-url", "http://127.0.0.1:8090"}, "not-hex", "not a hex secret"},
		{"no secret for the agency", []string{"-agency-url", "http://127.0.0.1:8090"}, "other " + strings.Repeat("ab", 32), "no secret for agency revenue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"simulate", "-services", "testdata/simcall"}, tt.args...)
			if tt.secret != "" {
				args = append(args, "-agency-secret-file", agencySecretFile(t, tt.secret))
			}
			code, _, errOut := runCmd(t, "1\nfound\n", args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.want)
			}
		})
	}
}
