package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// twilioSent is one message twilio-go sent, with the status Prism, judging
// it against Twilio's own spec, answered.
type twilioSent struct {
	To, Body string
	Status   int
}

// twilioRecorder is a proxy in front of Prism that records every message
// sent through the Twilio API, so that tests check what reached Twilio
// rather than what the log says.
type twilioRecorder struct {
	URL  string
	mu   sync.Mutex
	sent []twilioSent
}

// recordTwilio starts a recorder in front of the Prism at prism.
func recordTwilio(t *testing.T, prism string) *twilioRecorder {
	t.Helper()
	target, err := url.Parse(prism)
	if err != nil {
		t.Fatal(err)
	}
	rec := &twilioRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(sw, r)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Messages.json") {
			form, _ := url.ParseQuery(string(body))
			rec.mu.Lock()
			rec.sent = append(rec.sent, twilioSent{To: form.Get("To"), Body: form.Get("Body"), Status: sw.status})
			rec.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// wait returns the first message accepted (201) for which match holds,
// waiting for it up to 30 seconds.
func (r *twilioRecorder) wait(t *testing.T, what string, match func(twilioSent) bool) twilioSent {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		r.mu.Lock()
		sent := append([]twilioSent(nil), r.sent...)
		r.mu.Unlock()
		for _, m := range sent {
			if m.Status == http.StatusCreated && match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s accepted by Twilio; sent %+v", what, sent)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
