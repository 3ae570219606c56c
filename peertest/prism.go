package peertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prism serves Twilio's own OpenAPI spec (api.twilio.com 2010-04-01) with
// Stoplight Prism in mock mode and returns its base URL
// "http://127.0.0.1:PORT". Prism validates each request against the spec
// (401 without Basic auth, 422 on a missing required field) and answers
// with the spec's examples, so a client that passes it speaks Twilio's API
// as published. Starting takes a few seconds: share one per test where you
// can.
func Prism(t testing.TB) string {
	t.Helper()
	prism := find(envPrism, filepath.Join(cacheDir(), "node_modules", ".bin", "prism"), lookPath("prism"))
	if prism == "" {
		missing(t, "prism not found (%s)", envPrism)
	}
	spec := os.Getenv(envSpec)
	if spec == "" {
		spec = filepath.Join(cacheDir(), "twilio-oai", "0.7.0", "twilio_api_v2010.json")
	}
	if _, err := os.Stat(spec); err != nil {
		missing(t, "Twilio's OpenAPI spec not found (%s)", envSpec)
	}
	port := FreePort(t)
	cmd := exec.Command(prism, "mock", "-h", "127.0.0.1", "-p", strconv.Itoa(port), spec)
	p := start(t, "prism", cmd, nil)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: time.Second}
	waitFor(t, p, "prism listening", 60*time.Second, func() error {
		resp, err := client.Get(base + "/2010-04-01/Accounts.json")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return base
}

// signScript prints the signature the twilio npm package expects for a
// webhook: argv is the auth token, the URL and the params as JSON.
const signScript = `
const twilio = require('twilio');
const [token, url, params] = process.argv.slice(1);
process.stdout.write(twilio.getExpectedTwilioSignature(token, url, JSON.parse(params)));
`

// TwilioSignature is the X-Twilio-Signature the npm twilio package computes
// (getExpectedTwilioSignature) for authToken, the full URL and the POST
// params, run through node: an independent reference for the signatures
// tests put on simulated Twilio webhooks.
func TwilioSignature(t testing.TB, authToken, url string, params map[string]string) string {
	t.Helper()
	node, modules := nodePath(t, "twilio")
	if params == nil {
		params = map[string]string{}
	}
	js, err := json.Marshal(params)
	if err != nil {
		t.Fatalf("peertest: encode params: %v", err)
	}
	cmd := exec.Command(node, "-e", signScript, authToken, url, string(js))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peertest: twilio signature via node: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
