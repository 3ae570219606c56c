package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/push"
	"github.com/govchannels/channels/ratelimit"
	"github.com/govchannels/channels/store/bolt"
)

// smsInbox keeps the sign-in SMS the real auth package queues, so that a
// test can read the code as the citizen would.
type smsInbox struct {
	mu   sync.Mutex
	sent []channels.Outbound
}

func (o *smsInbox) Send(_ context.Context, ms ...*channels.Outbound) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range ms {
		o.sent = append(o.sent, *m)
	}
	return nil
}

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// code returns the code of the last SMS to phone.
func (o *smsInbox) code(phone string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.sent) - 1; i >= 0; i-- {
		if o.sent[i].To == phone {
			return codeRE.FindString(o.sent[i].Text)
		}
	}
	return ""
}

// apiEnv is the device endpoints behind the real sign-in, over a bbolt
// store, on a gin router.
type apiEnv struct {
	db     *bolt.DB
	bundle *locales.Bundle
	clock  *channelstest.Clock
	inbox  *smsInbox
	router *gin.Engine
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	gin.SetMode(gin.TestMode)
	start := time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)
	e := &apiEnv{db: channelstest.OpenStore(t), clock: channelstest.NewClock(start), inbox: &smsInbox{}}
	var err error
	if e.bundle, err = locales.New(); err != nil {
		t.Fatal(err)
	}
	a := auth.New(auth.Config{
		Sessions: e.db, SignOuts: e.db, Prefs: e.db, Outbox: e.inbox, Bundle: e.bundle,
		Key: bytes.Repeat([]byte{7}, auth.MinKeySize), Region: "KE", Now: e.clock.Now,
		PerClient: ratelimit.Limit{Every: time.Millisecond, Burst: 1000},
	})
	e.router = gin.New()
	a.Register(e.router)
	push.NewDevices(push.DevicesConfig{Store: e.db, Bundle: e.bundle, Now: e.clock.Now}).Register(e.router, a.Require())
	return e
}

// answer is a response, its JSON error decoded when there is one.
type answer struct {
	status int
	raw    string
	body   map[string]any
}

func (a answer) errorCode() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (a answer) errorMessage() string {
	e, _ := a.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// do sends a request with the header pairs.
func (e *apiEnv) do(method, path, body string, header ...string) answer {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, r)
	out := answer{status: w.Code, raw: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &out.body)
	return out
}

// signIn signs phone in through the auth endpoints and returns the
// Authorization header value.
func (e *apiEnv) signIn(t *testing.T, phone string) string {
	t.Helper()
	if r := e.do(http.MethodPost, "/v1/auth/otp", `{"phone":"`+phone+`"}`); r.status != http.StatusAccepted {
		t.Fatalf("ask a code: %d %s", r.status, r.raw)
	}
	r := e.do(http.MethodPost, "/v1/auth/verify", `{"phone":"`+phone+`","code":"`+e.inbox.code(phone)+`"}`)
	tok, _ := r.body["token"].(string)
	if r.status != http.StatusOK || tok == "" {
		t.Fatalf("verify: %d %s", r.status, r.raw)
	}
	return "Bearer " + tok
}

// put registers a device as the holder of bearer.
func (e *apiEnv) put(bearer, token, platform, lang string, header ...string) answer {
	b, _ := json.Marshal(map[string]string{"token": token, "platform": platform, "lang": lang})
	return e.do(http.MethodPost, "/v1/devices", string(b), append([]string{"Authorization", bearer}, header...)...)
}

// remove deletes a device as the holder of bearer.
func (e *apiEnv) remove(bearer, token string) answer {
	return e.do(http.MethodDelete, "/v1/devices/"+url.PathEscape(token), "", "Authorization", bearer)
}

// devices returns the stored devices of phone, oldest first.
func (e *apiEnv) devices(t *testing.T, phone string) []channels.Device {
	t.Helper()
	devs, err := e.db.Devices(t.Context(), phone)
	if err != nil {
		t.Fatal(err)
	}
	return devs
}

// tokensOf returns the tokens of devs, in their order.
func tokensOf(devs []channels.Device) []string {
	var out []string
	for _, d := range devs {
		out = append(out, d.Token)
	}
	return out
}

// fcmToken is shaped like an FCM registration token.
const fcmToken = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx1hz7ZqjfKsV_9aW3xy9D8pPaIr0Fh3xkR_vhR8WvXh6ytgjk"

// TestRegisterDevice follows a device's life: registered, registered
// again, moved to another phone, removed; and a stranger cannot remove it.
func TestRegisterDevice(t *testing.T) {
	e := newAPIEnv(t)
	mine, theirs := e.signIn(t, phone), e.signIn(t, stranger)

	steps := []struct {
		name   string
		do     func() answer
		status int
		phone  []string // the tokens of phone afterwards
		other  []string // the tokens of stranger afterwards
	}{
		{"register", func() answer { return e.put(mine, fcmToken, "android", "sw") }, http.StatusCreated, []string{fcmToken}, nil},
		{"register again", func() answer { return e.put(mine, fcmToken, "android", "fr") }, http.StatusOK, []string{fcmToken}, nil},
		{"a stranger cannot remove it", func() answer { return e.remove(theirs, fcmToken) }, http.StatusNotFound, []string{fcmToken}, nil},
		{"the app moves to another phone", func() answer { return e.put(theirs, fcmToken, "android", "") }, http.StatusCreated, nil, []string{fcmToken}},
		{"the first phone cannot remove it now", func() answer { return e.remove(mine, fcmToken) }, http.StatusNotFound, nil, []string{fcmToken}},
		{"its phone removes it", func() answer { return e.remove(theirs, fcmToken) }, http.StatusNoContent, nil, nil},
		{"removed twice", func() answer { return e.remove(theirs, fcmToken) }, http.StatusNotFound, nil, nil},
	}
	for _, st := range steps {
		e.clock.Add(time.Minute)
		r := st.do()
		if r.status != st.status {
			t.Fatalf("%s: %d %s, want %d", st.name, r.status, r.raw, st.status)
		}
		if st.status == http.StatusNotFound && r.errorCode() != channels.ENOTFOUND {
			t.Errorf("%s: error %s, want %s", st.name, r.raw, channels.ENOTFOUND)
		}
		if got := tokensOf(e.devices(t, phone)); !slices.Equal(got, st.phone) {
			t.Errorf("%s: devices of the phone %v, want %v", st.name, got, st.phone)
		}
		if got := tokensOf(e.devices(t, stranger)); !slices.Equal(got, st.other) {
			t.Errorf("%s: devices of the stranger %v, want %v", st.name, got, st.other)
		}
	}
}

// TestRegisterDeviceStored checks what a registration stores and answers:
// the signed-in phone (never one the body names), the platform, the
// language and the time.
func TestRegisterDeviceStored(t *testing.T) {
	e := newAPIEnv(t)
	bearer := e.signIn(t, phone)
	r := e.put(bearer, fcmToken, "ios", "sw")
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	want := `{"token":"` + fcmToken + `","platform":"ios","lang":"sw","created_at":"2026-11-26T15:04:05Z"}`
	if r.raw != want {
		t.Errorf("answer %s, want %s", r.raw, want)
	}
	devs := e.devices(t, phone)
	wantDev := channels.Device{Phone: phone, Token: fcmToken, Platform: "ios", Lang: "sw", CreatedAt: e.clock.Now()}
	if len(devs) != 1 || !devs[0].CreatedAt.Equal(wantDev.CreatedAt) || devs[0].Phone != wantDev.Phone ||
		devs[0].Token != wantDev.Token || devs[0].Platform != wantDev.Platform || devs[0].Lang != wantDev.Lang {
		t.Errorf("stored %+v, want %+v", devs, wantDev)
	}

	// The body cannot name a phone: unknown fields are refused.
	r = e.do(http.MethodPost, "/v1/devices", `{"token":"t2","platform":"web","phone":"`+stranger+`"}`, "Authorization", bearer)
	if r.status != http.StatusBadRequest || len(e.devices(t, stranger)) != 0 {
		t.Errorf("a body naming a phone: %d %s", r.status, r.raw)
	}
}

// TestRegisterDeviceInvalid sends what the endpoints refuse: each is
// answered with its code in the language of Accept-Language, and nothing
// is stored.
func TestRegisterDeviceInvalid(t *testing.T) {
	e := newAPIEnv(t)
	bearer := e.signIn(t, phone)
	body := func(token, platform, lang string) string {
		b, _ := json.Marshal(map[string]string{"token": token, "platform": platform, "lang": lang})
		return string(b)
	}
	forge := func(bearer string) string {
		last := byte('A')
		if bearer[len(bearer)-1] == last {
			last = 'B'
		}
		return bearer[:len(bearer)-1] + string(last)
	}
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		auth     string
		status   int
		code     string
		message  string // the message ID, told in French
		wantAuth bool   // a WWW-Authenticate challenge is expected
	}{
		{"empty token", "POST", "/v1/devices", body("", "android", ""), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"token with a space", "POST", "/v1/devices", body("abc def", "android", ""), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"token with a tab", "POST", "/v1/devices", body("abc\tdef", "android", ""), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"token not ASCII", "POST", "/v1/devices", body("jeton-é", "android", ""), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"token over 4096 bytes", "POST", "/v1/devices", body(strings.Repeat("a", push.MaxTokenSize+1), "android", ""), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"unknown platform", "POST", "/v1/devices", body(fcmToken, "windows", ""), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"no platform", "POST", "/v1/devices", `{"token":"` + fcmToken + `"}`, bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"platform in upper case", "POST", "/v1/devices", body(fcmToken, "Android", ""), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"unknown language", "POST", "/v1/devices", body(fcmToken, "android", "de"), bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"unknown field", "POST", "/v1/devices", `{"token":"t","platform":"web","extra":1}`, bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"not an object", "POST", "/v1/devices", `["t"]`, bearer, 400, channels.EINVALID, "error.bad_request", false},
		{"body over 8 KiB", "POST", "/v1/devices", body(strings.Repeat("a", push.DefaultMaxBody), "android", ""), bearer, 413, channels.ETOOLARGE, "error.too_large", false},
		{"no token", "POST", "/v1/devices", body(fcmToken, "android", ""), "", 401, channels.EUNAUTHORIZED, "error.sign_in", true},
		{"forged token", "POST", "/v1/devices", body(fcmToken, "android", ""), forge(bearer), 401, channels.EUNAUTHORIZED, "error.sign_in", true},
		{"not a bearer token", "POST", "/v1/devices", body(fcmToken, "android", ""), "Basic dXNlcjpwYXNz", 401, channels.EUNAUTHORIZED, "error.sign_in", true},
		{"delete without a token", "DELETE", "/v1/devices/" + fcmToken, "", "", 401, channels.EUNAUTHORIZED, "error.sign_in", true},
		{"delete a malformed token", "DELETE", "/v1/devices/abc%20def", "", bearer, 400, channels.EINVALID, "error.bad_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := []string{"Accept-Language", "fr-CM,fr;q=0.9"}
			if tt.auth != "" {
				header = append(header, "Authorization", tt.auth)
			}
			r := e.do(tt.method, tt.path, tt.body, header...)
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Fatalf("%d %s, want %d with code %s", r.status, r.raw, tt.status, tt.code)
			}
			if want := e.bundle.Text("fr", channels.Msg(tt.message)); r.errorMessage() != want || want == e.bundle.Text("en", channels.Msg(tt.message)) {
				t.Errorf("message %q, want %q (French)", r.errorMessage(), want)
			}
			if n := len(e.devices(t, phone)); n != 0 {
				t.Errorf("%d devices stored", n)
			}
		})
	}

	// The limits are inclusive: a 4096-byte token in a body just under
	// the limit is taken.
	long := strings.Repeat("a", push.MaxTokenSize)
	if r := e.put(bearer, long, "web", "ar"); r.status != http.StatusCreated {
		t.Errorf("a %d-byte token: %d %s", len(long), r.status, r.raw)
	}
}

// TestDeviceCap registers more devices than a phone keeps: the one that
// registered longest ago goes, and registering again counts as
// registering, so a device in daily use is not the one removed.
func TestDeviceCap(t *testing.T) {
	e := newAPIEnv(t)
	bearer := e.signIn(t, phone)
	var want []string
	for i := range push.DefaultMaxDevices {
		e.clock.Add(time.Minute)
		tok := "dev-" + string(rune('a'+i))
		if r := e.put(bearer, tok, "android", ""); r.status != http.StatusCreated {
			t.Fatalf("device %d: %d %s", i+1, r.status, r.raw)
		}
		want = append(want, tok)
	}
	if got := tokensOf(e.devices(t, phone)); !slices.Equal(got, want) {
		t.Fatalf("devices %v, want %v", got, want)
	}

	// dev-a registers again: dev-b is now the one registered longest ago.
	e.clock.Add(time.Minute)
	if r := e.put(bearer, "dev-a", "android", ""); r.status != http.StatusOK {
		t.Fatalf("dev-a again: %d %s", r.status, r.raw)
	}
	e.clock.Add(time.Minute)
	if r := e.put(bearer, "dev-new", "ios", ""); r.status != http.StatusCreated {
		t.Fatalf("an 11th device: %d %s", r.status, r.raw)
	}
	want = append(append(want[2:], "dev-a"), "dev-new") // oldest first
	if got := tokensOf(e.devices(t, phone)); !slices.Equal(got, want) {
		t.Errorf("devices %v, want %v", got, want)
	}
}

// TestDeviceCapSameTime registers an 11th device at the very time of the
// others, its token sorting first: the store cannot tell which is oldest,
// and the device just registered must not be the one removed.
func TestDeviceCapSameTime(t *testing.T) {
	e := newAPIEnv(t)
	bearer := e.signIn(t, phone)
	for i := range push.DefaultMaxDevices {
		if r := e.put(bearer, "dev-"+string(rune('a'+i)), "android", ""); r.status != http.StatusCreated {
			t.Fatalf("device %d: %d %s", i+1, r.status, r.raw)
		}
	}
	if r := e.put(bearer, "aaa", "web", ""); r.status != http.StatusCreated {
		t.Fatalf("an 11th device: %d %s", r.status, r.raw)
	}
	got := tokensOf(e.devices(t, phone))
	if len(got) != push.DefaultMaxDevices || !slices.Contains(got, "aaa") || slices.Contains(got, "dev-a") {
		t.Errorf("devices %v: want %d, aaa kept and dev-a removed", got, push.DefaultMaxDevices)
	}
}
