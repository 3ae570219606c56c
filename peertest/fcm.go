package peertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// envFCMSpec names FCM's v1 discovery document converted for Prism by
// scripts/peers.
const envFCMSpec = "CHANNELS_FCM_SPEC"

// fcmErrorType is the @type of the detail that carries FCM's own error
// code; the Firebase Admin SDK reads errorCode from it (IsUnregistered).
const fcmErrorType = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

// FCMOptions shapes the FCM peer StartFCMWith runs.
type FCMOptions struct {
	// PublishedEnums serves the enums exactly as FCM's discovery document
	// lists them (upper case). The Firebase Admin SDK sends
	// android.priority in lower case, which FCM accepts, so by default the
	// lowercase values are added; with PublishedEnums every request that
	// sets a priority is refused, which is how a test gets a request that
	// FCM's schema rejects.
	PublishedEnums bool
	// ProjectID is the project the peer answers for; "channels-test" when
	// empty. Requests for another project are refused as FCM refuses them.
	ProjectID string
}

// FCM is a spec-checking FCM HTTP v1 endpoint: Prism serving FCM's own
// discovery document validates every request, and a recording proxy in
// front of it answers as FCM does for dead tokens and outages.
//
// Point the Firebase Admin SDK at it with option.WithEndpoint(Endpoint) and
// option.WithoutAuthentication(), for the project ProjectID.
type FCM struct {
	Endpoint  string // "http://127.0.0.1:PORT/v1"
	ProjectID string

	prism  string // Prism's base URL
	client *http.Client

	mu          sync.Mutex
	dead        map[string]bool
	unavailable int           // requests still to answer 503
	retryAfter  time.Duration // the Retry-After of those answers; none when 0
	requests    []FCMRequest
	sent        int // names given to accepted messages
}

// FCMRequest is one request the peer received and what it answered.
type FCMRequest struct {
	Project         string            // from the path
	Token           string            // message.token
	Title, Body     string            // message.notification
	Data            map[string]string // message.data
	AndroidPriority string            // message.android.priority
	Raw             []byte            // the request body as sent
	Status          int               // the HTTP status the peer answered
	Name            string            // the message name answered on success
	ErrorCode       string            // FCM's errorCode answered on failure
}

// StartFCM starts an FCM peer that accepts what the Firebase Admin SDK
// sends (see FCMOptions.PublishedEnums) and returns it; it is stopped when
// the test ends. Prism takes a few seconds to start: share one per test.
func StartFCM(t testing.TB) *FCM {
	t.Helper()
	return StartFCMWith(t, FCMOptions{})
}

// StartFCMWith starts an FCM peer shaped by o; see StartFCM.
func StartFCMWith(t testing.TB, o FCMOptions) *FCM {
	t.Helper()
	prism := find(envPrism, filepath.Join(cacheDir(), "node_modules", ".bin", "prism"), lookPath("prism"))
	if prism == "" {
		missing(t, "prism not found (%s)", envPrism)
	}
	src := fcmSpec()
	if src == "" {
		missing(t, "FCM's converted discovery document not found (%s)", envFCMSpec)
	}
	spec, err := os.ReadFile(src)
	if err != nil {
		missing(t, "FCM's converted discovery document: %v", err)
	}
	if !o.PublishedEnums {
		if spec, err = acceptSDKPriority(spec); err != nil {
			t.Fatalf("peertest: %s: %v", src, err)
		}
	}
	path := filepath.Join(t.TempDir(), "fcm_v1_swagger.json")
	if err := os.WriteFile(path, spec, 0o600); err != nil {
		t.Fatalf("peertest: write the FCM spec: %v", err)
	}

	port := FreePort(t)
	p := start(t, "prism (fcm)", exec.Command(prism, "mock", "-h", "127.0.0.1", "-p", strconv.Itoa(port), path), nil)
	f := &FCM{
		ProjectID: o.ProjectID,
		prism:     fmt.Sprintf("http://127.0.0.1:%d", port),
		client:    &http.Client{Timeout: 10 * time.Second},
		dead:      map[string]bool{},
	}
	if f.ProjectID == "" {
		f.ProjectID = "channels-test"
	}
	probe := &http.Client{Timeout: time.Second}
	waitFor(t, p, "prism (fcm) listening", 60*time.Second, func() error {
		// Any answer means Prism is up; a GET has no operation here.
		resp, err := probe.Get(f.prism + "/v1/projects/" + f.ProjectID + "/messages:send")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.Endpoint = srv.URL + "/v1"
	return f
}

// fcmSpec returns the converted document scripts/peers made: the one in
// the environment, else the only one in the cache; "" when there is none.
func fcmSpec() string {
	if p := os.Getenv(envFCMSpec); p != "" {
		return p
	}
	found, _ := filepath.Glob(filepath.Join(cacheDir(), "fcm", "*", "fcm_v1_swagger.json"))
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// acceptSDKPriority adds the lowercase values of android.priority, which
// the Firebase Admin SDK sends and FCM accepts, to the enum of the
// converted document, which lists only NORMAL and HIGH.
func acceptSDKPriority(spec []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	prio, ok := dig(doc, "definitions", "AndroidConfig", "properties", "priority").(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no definitions.AndroidConfig.properties.priority")
	}
	enum, ok := prio["enum"].([]any)
	if !ok {
		return nil, fmt.Errorf("AndroidConfig.priority has no enum")
	}
	for _, v := range slices.Clone(enum) {
		if s, ok := v.(string); ok && !slices.Contains(enum, any(strings.ToLower(s))) {
			enum = append(enum, strings.ToLower(s))
		}
	}
	prio["enum"] = enum
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return out, nil
}

// dig follows keys through nested JSON objects; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Kill makes tokens dead: a valid request to one of them is answered as
// FCM answers a token whose app was uninstalled, 404 with errorCode
// UNREGISTERED.
func (f *FCM) Kill(tokens ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tok := range tokens {
		f.dead[tok] = true
	}
}

// Unavailable makes the next n requests fail as during an FCM outage: 503
// with status UNAVAILABLE, before the request is looked at. A retryAfter
// above zero is sent as Retry-After; the SDK does not retry an answer that
// asks it to wait longer than two minutes, and retries the others itself.
func (f *FCM) Unavailable(n int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unavailable, f.retryAfter = n, retryAfter
}

// Requests returns every request received so far, oldest first.
func (f *FCM) Requests() []FCMRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// fcmMessage is the part of a send request the peer records.
type fcmMessage struct {
	Message struct {
		Token        string            `json:"token"`
		Data         map[string]string `json:"data"`
		Notification struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		} `json:"notification"`
		Android struct {
			Priority string `json:"priority"`
		} `json:"android"`
	} `json:"message"`
}

// ServeHTTP answers one request: an outage first, then Prism's verdict on
// the request, then a dead token, else FCM's answer with a fresh message
// name.
func (f *FCM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := FCMRequest{Raw: body}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/"); ok {
		rec.Project, _, _ = strings.Cut(rest, "/")
	}
	var m fcmMessage
	if json.Unmarshal(body, &m) == nil { // an undecodable body is Prism's to refuse
		rec.Token, rec.Data = m.Message.Token, m.Message.Data
		rec.Title, rec.Body = m.Message.Notification.Title, m.Message.Notification.Body
		rec.AndroidPriority = m.Message.Android.Priority
	}
	defer func() {
		f.mu.Lock()
		f.requests = append(f.requests, rec)
		f.mu.Unlock()
	}()

	f.mu.Lock()
	down, wait := f.unavailable > 0, f.retryAfter
	if down {
		f.unavailable--
	}
	f.mu.Unlock()
	if down {
		if wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
		}
		rec.Status, rec.ErrorCode = fcmError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
		return
	}

	status, header, answer, err := f.forward(r, body)
	if err != nil {
		rec.Status = http.StatusBadGateway
		http.Error(w, "peertest: prism: "+err.Error(), rec.Status)
		return
	}
	switch {
	case status == http.StatusUnprocessableEntity || status == http.StatusBadRequest:
		// Prism refused the request against the schema: FCM's answer to a
		// malformed message.
		rec.Status, rec.ErrorCode = fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", prismProblem(answer))
	case status != http.StatusOK:
		// No such route, method or media type: Prism's own answer.
		rec.Status = status
		w.Header().Set("Content-Type", header.Get("Content-Type"))
		w.WriteHeader(status)
		w.Write(answer)
	case rec.Project != f.ProjectID:
		rec.Status, rec.ErrorCode = fcmError(w, http.StatusForbidden, "PERMISSION_DENIED", "SENDER_ID_MISMATCH",
			"SenderId mismatch")
	case f.isDead(rec.Token):
		rec.Status, rec.ErrorCode = fcmError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
	default:
		f.mu.Lock()
		f.sent++
		rec.Name = fmt.Sprintf("projects/%s/messages/0:%d%%peertest", rec.Project, 1700000000000000+f.sent)
		f.mu.Unlock()
		rec.Status = http.StatusOK
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		json.NewEncoder(w).Encode(map[string]string{"name": rec.Name})
	}
}

// isDead reports whether Kill named token.
func (f *FCM) isDead(token string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dead[token]
}

// forward sends the request to Prism and returns its answer.
func (f *FCM) forward(r *http.Request, body []byte) (status int, header http.Header, answer []byte, err error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.prism+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	// Our transport negotiates its own compression and decodes it.
	req.Header.Del("Accept-Encoding")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// prismProblem turns Prism's problem+json into one line naming each
// refused field, for FCM's error message.
func prismProblem(answer []byte) string {
	var p struct {
		Detail     string `json:"detail"`
		Validation []struct {
			Message string `json:"message"`
		} `json:"validation"`
	}
	if json.Unmarshal(answer, &p) != nil {
		return "Invalid request: " + string(answer)
	}
	var msgs []string
	for _, v := range p.Validation {
		msgs = append(msgs, v.Message)
	}
	if len(msgs) == 0 {
		return "Invalid request: " + p.Detail
	}
	return "Invalid request: " + strings.Join(msgs, "; ")
}

// fcmError answers an FCM error as FCM does: a google.rpc.Status whose
// details carry FCM's own errorCode. It returns the status and errorCode.
func fcmError(w http.ResponseWriter, status int, rpcStatus, errorCode, message string) (int, string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    status,
		"message": message,
		"status":  rpcStatus,
		"details": []map[string]string{{"@type": fcmErrorType, "errorCode": errorCode}},
	}})
	return status, errorCode
}
