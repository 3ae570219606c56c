package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// call sends one request to the server and returns its status and body.
func (p *process) call(t *testing.T, method, path string, form url.Values, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func atHop(session string) url.Values {
	return url.Values{"sessionId": {session}, "serviceCode": {"*384#"}, "phoneNumber": {"+254712345678"}, "text": {""}}
}

// kannelMO is a dial over USSD-over-Kannel, as Kannel's get-url sends it.
const kannelMO = "from=%2B254712345678&to=384&text=%2A384%23&meta=%3Fsmpp%3Fussd_service_op%3D1%26its_session_info%3D%2501%2500"

// TestServeGateways runs the binary as deployed and calls the gateway
// routes as an attacker would: with no credential configured, Africa's
// Talking answers loopback callers only, never one that came through a
// proxy, and Kannel's routes are not mounted; with credentials, each
// route wants its own.
func TestServeGateways(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		p := startServe(t, filepath.Join(t.TempDir(), "channels.db"))
		if code, body := p.call(t, "POST", "/ussd/at", atHop("local"), nil); code != http.StatusOK || !strings.HasPrefix(body, "CON ") {
			t.Errorf("a loopback caller: %d %q", code, body)
		}
		code, body := p.call(t, "POST", "/ussd/at", atHop("proxied"), map[string]string{"X-Forwarded-For": "203.0.113.9"})
		if code != http.StatusForbidden || body != "END This request does not come from an authorized gateway." {
			t.Errorf("a caller through a proxy on this host: %d %q, want 403 and the END text", code, body)
		}
		for _, path := range []string{"/ussd/kannel?" + kannelMO, "/sms/kannel?from=%2B254712345678&text=MENU&id=1", "/sms/kannel/dlr?key=k&status=1"} {
			if code, _ := p.call(t, "GET", path, nil, nil); code != http.StatusNotFound {
				t.Errorf("GET %s without Kannel configured: %d, want 404", path, code)
			}
		}
	})
	t.Run("secrets", func(t *testing.T) {
		const atSecret = "atSecretForTests42"
		p := startServe(t, filepath.Join(t.TempDir(), "channels.db"),
			"-at-secret", atSecret, "-kannel-ussd", "-kannel-secret", testKannelSecret)
		tests := []struct {
			name, method, path string
			form               url.Values
			want               int
		}{
			{"AT without the secret, from loopback", "POST", "/ussd/at", atHop("a1"), http.StatusForbidden},
			{"AT with a wrong secret", "POST", "/ussd/at/" + testKannelSecret, atHop("a2"), http.StatusForbidden},
			{"AT with the secret in the path", "POST", "/ussd/at/" + atSecret, atHop("a3"), http.StatusOK},
			{"AT with the secret in the query", "POST", "/ussd/at?secret=" + atSecret, atHop("a4"), http.StatusOK},
			{"Kannel without the secret", "GET", "/ussd/kannel?" + kannelMO, nil, http.StatusForbidden},
			{"Kannel with AT's secret", "GET", "/ussd/kannel?" + kannelMO + "&secret=" + atSecret, nil, http.StatusForbidden},
			{"Kannel with its secret", "GET", "/ussd/kannel?" + kannelMO + "&secret=" + testKannelSecret, nil, http.StatusOK},
			{"SMS over Kannel is not on", "GET", "/sms/kannel?from=%2B254712345678&text=MENU&id=1&secret=" + testKannelSecret, nil, http.StatusNotFound},
		}
		for _, tt := range tests {
			if code, body := p.call(t, tt.method, tt.path, tt.form, nil); code != tt.want {
				t.Errorf("%s: %d %q, want %d", tt.name, code, body, tt.want)
			}
		}
	})
	t.Run("limits", func(t *testing.T) {
		p := startServe(t, filepath.Join(t.TempDir(), "channels.db"), "-ussd-dials-per-phone", "2/1h")
		for i, want := range []string{"CON ", "CON ", "END Too many requests."} {
			if code, body := p.call(t, "POST", "/ussd/at", atHop(fmt.Sprint("d", i)), nil); code != http.StatusOK || !strings.HasPrefix(body, want) {
				t.Errorf("dial %d: %d %q, want %q…", i, code, body, want)
			}
		}
	})
	t.Run("half configured", func(t *testing.T) {
		out, err := exec.Command(binary, "serve", "-addr", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "channels.db"), "-kannel-ussd").CombinedOutput()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(out), "kannel-ussd) needs kannel-secret") {
			t.Errorf("serve -kannel-ussd without a secret: %v %s; want exit 2 and the reason", err, out)
		}
	})
}
