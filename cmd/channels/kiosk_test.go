package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	printedPassword = regexp.MustCompile(`Password of amina: (\S+)`)
	csrfField       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// TestServeKiosk checks the wiring of the console in the binary: an
// operator made with `channels operator add` while the server runs signs
// in, the sign-in is in the audit log `channels audit` shows, and once
// `channels operator disable` has run the same session opens nothing.
func TestServeKiosk(t *testing.T) {
	data := filepath.Join(t.TempDir(), "channels.db")
	p := startServe(t, data)
	cli := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("channels %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	m := printedPassword.FindStringSubmatch(cli("operator", "add", "-data", data, "-kiosk", "kisumu-post", "-region", "Kisumu", "amina", "Amina Otieno"))
	if m == nil {
		t.Fatal("no password printed")
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	page := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodGet {
			resp, err = client.Get(p.base + path)
		} else {
			resp, err = client.PostForm(p.base+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	_, signIn := page(http.MethodGet, "/kiosk/sign-in", nil)
	token := csrfField.FindStringSubmatch(signIn)
	if token == nil {
		t.Fatalf("sign-in page without a CSRF field:\n%s", signIn)
	}
	if st, home := page(http.MethodPost, "/kiosk/sign-in", url.Values{"csrf": {token[1]}, "id": {"amina"}, "password": {m[1]}}); st != http.StatusOK || !strings.Contains(home, "Amina Otieno") {
		t.Fatalf("sign-in: %d\n%s", st, home)
	}
	if audit := cli("audit", "-data", data, "-actor", "operator:amina"); !strings.Contains(audit, "sign_in") {
		t.Errorf("the sign-in is not in the audit log:\n%s", audit)
	}
	cli("operator", "disable", "-data", data, "amina")
	if st, home := page(http.MethodGet, "/kiosk/", nil); strings.Contains(home, "Amina Otieno") {
		t.Errorf("a disabled operator's session still opens the console: %d", st)
	}
}
