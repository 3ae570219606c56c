package peertest

import "testing"

// envChromium names the Chromium binary; scripts/peers exports it.
const envChromium = "CHANNELS_CHROMIUM"

// Chromium returns Debian's chromium, the browser that browser tests drive
// over the DevTools protocol (github.com/chromedp/chromedp): the binary
// CHANNELS_CHROMIUM names, else chromium on PATH, else /usr/bin/chromium.
// When there is none the test is skipped, or fails under
// CHANNELS_PEERS=require.
func Chromium(t testing.TB) string {
	t.Helper()
	p := find(envChromium, lookPath("chromium"), "/usr/bin/chromium")
	if p == "" || !executable(p) {
		missing(t, "chromium not found (%s)", envChromium)
	}
	return p
}

// ChromiumFlags returns the switches of a Chromium for tests, name to
// value (true for a bare switch): headless; no sandbox, which needs user
// namespaces that a root test run does not have; no GPU; no background
// networking or first-run dialogs, so that the browser talks only to the
// server under test; and a fresh profile in a directory of the test's own,
// so that no cookie or cache survives from another run.
func ChromiumFlags(t testing.TB) map[string]any {
	t.Helper()
	return map[string]any{
		"headless":                      true,
		"no-sandbox":                    true,
		"disable-gpu":                   true,
		"disable-background-networking": true,
		"no-first-run":                  true,
		"no-default-browser-check":      true,
		"disable-dev-shm-usage":         true,
		"user-data-dir":                 t.TempDir(),
	}
}
