package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels/store/bolt"
)

// openStore opens a bolt store on a fresh file under t.TempDir and closes
// it when the test ends.
func openStore(t testing.TB) (*bolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "channels.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// newSecret returns 32 random bytes, a secret as `channels agency` makes
// them (and gives them to the agency in hex).
func newSecret(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// delivery is one request a receiver took, as it arrived.
type delivery struct {
	Path   string
	Method string
	Header http.Header
	Body   []byte
}

// receiver is an agency's webhook endpoint: a real HTTP server that
// records every request and answers each with answer, given the number of
// requests before it (0 for the first). It answers 204 when answer is nil.
type receiver struct {
	*httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu  sync.Mutex
	got []delivery
}

func newReceiver(t testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, delivery{Path: r.URL.Path, Method: r.Method, Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		if rc.answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// deliveries returns a copy of what the receiver took so far.
func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// status answers every request with code.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// externalHMAC returns the hex HMAC-SHA256 of data keyed with secret as
// the openssl command computes it (python3 where openssl is missing): an
// implementation independent of this package's, to check its signatures
// against.
func externalHMAC(t testing.TB, secret, data []byte) string {
	t.Helper()
	var cmd *exec.Cmd
	if _, err := exec.LookPath("openssl"); err == nil {
		cmd = exec.Command("openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+hex.EncodeToString(secret), "-r")
	} else if _, err := exec.LookPath("python3"); err == nil {
		cmd = exec.Command("python3", "-c", "import hashlib,hmac,sys; print(hmac.new(bytes.fromhex(sys.argv[1]), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())", hex.EncodeToString(secret))
	} else {
		t.Fatal("neither openssl nor python3 is installed: no independent HMAC to check signatures against")
	}
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 || len(fields[0]) != 64 {
		t.Fatalf("%s printed %q, not a hex SHA-256 HMAC", cmd.Args[0], out)
	}
	return fields[0]
}

// checkSigned fails t unless d carries exactly the signature
// "v1=HMAC(secret, timestamp + "." + body)", computed independently.
func checkSigned(t testing.TB, d delivery, secret []byte) {
	t.Helper()
	ts := d.Header.Get(HeaderTimestamp)
	signed := append([]byte(ts+"."), d.Body...)
	if want, got := "v1="+externalHMAC(t, secret, signed), d.Header.Get(HeaderSignature); got != want {
		t.Errorf("signature %q; openssl says HMAC(secret, timestamp.body) is %q", got, want)
	}
}

// waitFor polls cond until it holds, failing t after a while.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
