package agency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/store/bolt"
)

// The agencies of the shipped catalog and one service of each.
const (
	civil   = "civil_registry"
	works   = "county_works"
	birth   = "birth_certificate"
	problem = "report_problem"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fixture is the agency API on a real bbolt store, served over HTTP, with
// a clock the test moves and the log it writes.
type fixture struct {
	db    *bolt.DB
	clock *channelstest.Clock
	logs  *channelstest.LogBuffer
	url   string
}

func newFixture(t *testing.T, tune ...func(*agency.Config)) *fixture {
	t.Helper()
	f := &fixture{db: channelstest.OpenStore(t), clock: channelstest.NewClock(start), logs: &channelstest.LogBuffer{}}
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := agency.Config{
		Cases: f.db, Keys: f.db, Bundle: bundle, Now: f.clock.Now,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, fn := range tune {
		fn(&cfg)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	agency.New(cfg).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// key stores a new key of agencyID and returns its plaintext and record.
func (f *fixture) key(t *testing.T, agencyID string) (string, channels.AgencyKey) {
	t.Helper()
	plain, k, err := agency.NewKey(agencyID, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutAgencyKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return plain, k
}

// submit stores a case of service for agencyID as a citizen's submission
// does (host.Store.Submit), one second after the previous one.
func (f *fixture) submit(t *testing.T, service, agencyID string) *channels.Case {
	t.Helper()
	at := f.clock.Now()
	f.clock.Add(time.Second)
	c, err := f.db.CreateCase(context.Background(), &channels.Case{
		Ref:       channels.NewReference(),
		Service:   service,
		Agency:    agencyID,
		Phone:     "+254712345678",
		Channel:   channels.ChannelUSSD,
		Lang:      "en",
		Answers:   []channels.Answer{{Field: "location", Value: "Kisumu, near the bus park"}},
		Status:    channels.StatusSubmitted,
		History:   []channels.StatusChange{{Status: channels.StatusSubmitted, At: at, Actor: "citizen"}},
		CreatedAt: at,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stored reads the case ref from the store, bypassing the API.
func (f *fixture) stored(t *testing.T, ref string) *channels.Case {
	t.Helper()
	c, err := f.db.Case(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	raw    []byte
}

// errorBody is the error of a response, empty when it is not one.
func (r response) errorBody() (code, message string) {
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.raw, &b)
	return b.Error.Code, b.Error.Message
}

// decode reads the response body into v, failing the test if it cannot.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.raw, v); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.raw, err)
	}
}

// do sends a request with key as bearer (none when ""); body is JSON
// unless it is a string, sent as is. The exchange is checked against the
// OpenAPI document (checkOpenAPI).
func (f *fixture) do(t *testing.T, method, path, key string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkOpenAPI(t, req, resp, raw)
	return response{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// page is the answer of the list endpoint.
type page struct {
	Cases      []*channels.Case `json:"cases"`
	NextCursor string           `json:"next_cursor"`
}

func refs(cs []*channels.Case) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Ref)
	}
	return out
}

func TestGetCaseIsTheStoredCase(t *testing.T) {
	f := newFixture(t)
	key, _ := f.key(t, civil)
	c := f.submit(t, birth, civil)
	r := f.do(t, "GET", "/v1/agency/cases/"+c.Ref, key, nil)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	want, err := json.Marshal(f.stored(t, c.Ref))
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.TrimSpace(r.raw); !bytes.Equal(got, want) {
		t.Errorf("the API's case is not the channels.Case JSON:\n got %s\nwant %s", got, want)
	}
}

// TestAgencyIsolation tries to cross the one rule of the API with a key of
// county_works: list, read, change and question a case of civil_registry.
// Every read must look like an unknown reference and every write must leave
// the case as it was.
func TestAgencyIsolation(t *testing.T) {
	f := newFixture(t)
	civilKey, _ := f.key(t, civil)
	worksKey, _ := f.key(t, works)
	theirs := f.submit(t, birth, civil)
	ours := f.submit(t, problem, works)
	before, err := json.Marshal(f.stored(t, theirs.Ref))
	if err != nil {
		t.Fatal(err)
	}
	unknown := f.do(t, "GET", "/v1/agency/cases/4821773057", worksKey, nil)
	if code, msg := unknown.errorBody(); unknown.status != http.StatusNotFound || code != channels.ENOTFOUND || msg != "Not found." {
		t.Fatalf("unknown reference: %d %s", unknown.status, unknown.raw)
	}

	t.Run("the other agency's key sees the case", func(t *testing.T) {
		if r := f.do(t, "GET", "/v1/agency/cases/"+theirs.Ref, civilKey, nil); r.status != http.StatusOK {
			t.Errorf("owner: %d %s", r.status, r.raw)
		}
	})
	lists := []struct {
		name  string
		query string
		want  []string
	}{
		{"everything", "", []string{ours.Ref}},
		{"the other agency's service", "?service=" + birth, []string{}},
		{"both services", "?service=" + birth + "," + problem, []string{ours.Ref}},
		{"the other case's status", "?status=submitted&service=" + birth, []string{}},
	}
	for _, tt := range lists {
		t.Run("list "+tt.name, func(t *testing.T) {
			r := f.do(t, "GET", "/v1/agency/cases"+tt.query, worksKey, nil)
			var p page
			r.decode(t, &p)
			if r.status != http.StatusOK || strings.Join(refs(p.Cases), " ") != strings.Join(tt.want, " ") {
				t.Errorf("%d %s, want %v", r.status, r.raw, tt.want)
			}
		})
	}
	crossings := []struct {
		name   string
		method string
		path   string
		body   any
	}{
		{"read", "GET", "/v1/agency/cases/" + theirs.Ref, nil},
		{"read, reference typed with dashes", "GET", "/v1/agency/cases/" + theirs.Ref[:3] + "-" + theirs.Ref[3:], nil},
		{"review", "POST", "/v1/agency/cases/" + theirs.Ref + "/status", map[string]string{"status": "in_review"}},
		{"reject", "POST", "/v1/agency/cases/" + theirs.Ref + "/status", map[string]string{"status": "rejected", "note": "not ours"}},
		{"close", "POST", "/v1/agency/cases/" + theirs.Ref + "/status", map[string]string{"status": "closed"}},
		{"ask the citizen", "POST", "/v1/agency/cases/" + theirs.Ref + "/info-requests", map[string]string{"question": "Which hospital?"}},
	}
	for _, tt := range crossings {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, worksKey, tt.body)
			if r.status != unknown.status || !bytes.Equal(r.raw, unknown.raw) {
				t.Errorf("%d %s, want exactly the answer of an unknown reference: %s", r.status, r.raw, unknown.raw)
			}
			after, err := json.Marshal(f.stored(t, theirs.Ref))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, before) {
				t.Errorf("the case changed:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// TestUnauthorized refuses every request that lacks a valid key, with 401,
// WWW-Authenticate and the localized message, before any case is touched.
func TestUnauthorized(t *testing.T) {
	f := newFixture(t)
	valid, k := f.key(t, civil)
	c := f.submit(t, birth, civil)
	revoked, rk := f.key(t, civil)
	rk.RevokedAt = f.clock.Now()
	if err := f.db.PutAgencyKey(context.Background(), rk); err != nil {
		t.Fatal(err)
	}
	other, _, err := agency.NewKey(civil, start)
	if err != nil {
		t.Fatal(err)
	}
	forged := valid[:len(valid)-43] + other[len(other)-43:] // the right ID, another secret
	tests := []struct {
		name   string
		header string
		lang   string
		want   string
	}{
		{"no header", "", "", "The API key is missing, not valid or revoked."},
		{"basic scheme", "Basic " + valid, "", "The API key is missing, not valid or revoked."},
		{"bearer without key", "Bearer ", "fr", "La clé d'API est absente, invalide ou révoquée."},
		{"malformed key", "Bearer chk_123", "sw", "Ufunguo wa API haupo, si sahihi au umebatilishwa."},
		{"the key's ID only", "Bearer " + k.ID, "", "The API key is missing, not valid or revoked."},
		{"unknown key", "Bearer " + other, "", "The API key is missing, not valid or revoked."},
		{"forged secret", "Bearer " + forged, "", "The API key is missing, not valid or revoked."},
		{"key with trailing data", "Bearer " + valid + "x", "", "The API key is missing, not valid or revoked."},
		{"revoked key", "Bearer " + revoked, "", "The API key is missing, not valid or revoked."},
	}
	for _, tt := range tests {
		for _, ep := range []struct{ method, path string }{
			{"GET", "/v1/agency/cases"},
			{"GET", "/v1/agency/cases/" + c.Ref},
			{"POST", "/v1/agency/cases/" + c.Ref + "/status"},
		} {
			t.Run(tt.name+" "+ep.method+" "+ep.path, func(t *testing.T) {
				hdr := []string{"Accept-Language", tt.lang}
				if tt.header != "" {
					hdr = append(hdr, "Authorization", tt.header)
				}
				r := f.do(t, ep.method, ep.path, "", map[string]string{"status": "in_review"}, hdr...)
				code, msg := r.errorBody()
				if r.status != http.StatusUnauthorized || code != channels.EUNAUTHORIZED || msg != tt.want {
					t.Errorf("%d %s, want 401 %q", r.status, r.raw, tt.want)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	if got := f.stored(t, c.Ref); got.Status != channels.StatusSubmitted || len(got.History) != 1 {
		t.Errorf("a refused request changed the case: %+v", got)
	}
	for _, secret := range []string{valid[len(valid)-43:], other[len(other)-43:], revoked[len(revoked)-43:]} {
		if strings.Contains(f.logs.String(), secret) {
			t.Errorf("the log holds a key's secret:\n%s", f.logs.String())
		}
	}
	if !strings.Contains(f.logs.String(), "wrong secret for agency key "+k.ID) {
		t.Errorf("the forged key is not logged by its ID:\n%s", f.logs.String())
	}
}

// TestRevokedAtOnce revokes a key between two requests: the second is
// refused, with no grace period.
func TestRevokedAtOnce(t *testing.T) {
	f := newFixture(t)
	key, k := f.key(t, civil)
	if r := f.do(t, "GET", "/v1/agency/cases", key, nil); r.status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", r.status, r.raw)
	}
	k.RevokedAt = f.clock.Now()
	if err := f.db.PutAgencyKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, "GET", "/v1/agency/cases", key, nil); r.status != http.StatusUnauthorized {
		t.Errorf("after revocation: %d %s", r.status, r.raw)
	}
}

// TestPagination pages through an agency's cases two at a time while new
// cases of both agencies arrive between pages: every case of the agency
// comes exactly once, oldest first, and the last page has no cursor.
func TestPagination(t *testing.T) {
	f := newFixture(t)
	key, _ := f.key(t, civil)
	var want []string
	for i := range 5 {
		want = append(want, f.submit(t, birth, civil).Ref)
		if i%2 == 0 {
			f.submit(t, problem, works)
		}
	}
	var got []string
	cursor, pages := "", 0
	for {
		path := "/v1/agency/cases?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := f.do(t, "GET", path, key, nil)
		var p page
		r.decode(t, &p)
		if r.status != http.StatusOK || len(p.Cases) > 2 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.raw)
		}
		got = append(got, refs(p.Cases)...)
		pages++
		if p.NextCursor == "" {
			if bytes.Contains(r.raw, []byte("next_cursor")) {
				t.Errorf("last page names a cursor: %s", r.raw)
			}
			break
		}
		if pages > 10 {
			t.Fatalf("no end after %d pages: %v", pages, got)
		}
		cursor = p.NextCursor
		if pages <= 2 { // new cases while the client pages
			want = append(want, f.submit(t, birth, civil).Ref)
			f.submit(t, problem, works)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("paged\n%v\nwant every case once, oldest first\n%v", got, want)
	}
	if pages != 4 {
		t.Errorf("%d pages of 2 for %d cases", pages, len(want))
	}
}

// TestListFilters selects by service and status and refuses what it cannot
// read.
func TestListFilters(t *testing.T) {
	f := newFixture(t)
	key, _ := f.key(t, works)
	a := f.submit(t, problem, works)
	b := f.submit(t, "street_lights", works) // a service the catalog moved here, say
	c := f.submit(t, problem, works)
	if r := f.do(t, "POST", "/v1/agency/cases/"+b.Ref+"/status", key, map[string]string{"status": "in_review"}); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if r := f.do(t, "POST", "/v1/agency/cases/"+c.Ref+"/status", key, map[string]string{"status": "in_review"}); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	tests := []struct {
		name   string
		query  string
		status int
		want   []string // references, or the error message
	}{
		{"all", "", 200, []string{a.Ref, b.Ref, c.Ref}},
		{"one service", "?service=report_problem", 200, []string{a.Ref, c.Ref}},
		{"two services, comma", "?service=report_problem,street_lights", 200, []string{a.Ref, b.Ref, c.Ref}},
		{"two services, repeated", "?service=street_lights&service=report_problem", 200, []string{a.Ref, b.Ref, c.Ref}},
		{"a service without cases", "?service=birth_certificate", 200, []string{}},
		{"status", "?status=in_review", 200, []string{b.Ref, c.Ref}},
		{"status and service", "?status=in_review&service=report_problem", 200, []string{c.Ref}},
		{"status no case has", "?status=approved", 200, []string{}},
		{"status and limit", "?status=in_review&limit=1", 200, []string{b.Ref}},
		{"unknown status", "?status=lost", 400, []string{"That status does not exist."}},
		{"status in capitals", "?status=SUBMITTED", 400, []string{"That status does not exist."}},
		{"malformed service", "?service=Report-Problem", 400, []string{"The request is not valid."}},
		{"limit zero", "?limit=0", 400, []string{"The page size (limit) must be a number from 1 to 200."}},
		{"limit over the maximum", "?limit=201", 400, []string{"The page size (limit) must be a number from 1 to 200."}},
		{"limit not a number", "?limit=ten", 400, []string{"The page size (limit) must be a number from 1 to 200."}},
		{"limit at the maximum", "?limit=200", 200, []string{a.Ref, b.Ref, c.Ref}},
		{"forged cursor", "?cursor=!!", 400, []string{"That page cursor is not valid. Start again from the first page."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "GET", "/v1/agency/cases"+tt.query, key, nil)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.status != http.StatusOK {
				if _, msg := r.errorBody(); msg != tt.want[0] {
					t.Errorf("message %q, want %q", msg, tt.want[0])
				}
				return
			}
			var p page
			r.decode(t, &p)
			if strings.Join(refs(p.Cases), " ") != strings.Join(tt.want, " ") {
				t.Errorf("listed %v, want %v", refs(p.Cases), tt.want)
			}
		})
	}
}

// TestDefaultLimit lists 51 cases without a limit: a page of 50 and a
// cursor to the last one.
func TestDefaultLimit(t *testing.T) {
	f := newFixture(t)
	key, _ := f.key(t, civil)
	var last *channels.Case
	for range agency.DefaultLimit + 1 {
		last = f.submit(t, birth, civil)
	}
	var p page
	f.do(t, "GET", "/v1/agency/cases", key, nil).decode(t, &p)
	if len(p.Cases) != agency.DefaultLimit || p.NextCursor == "" {
		t.Fatalf("%d cases, cursor %q", len(p.Cases), p.NextCursor)
	}
	var rest page
	f.do(t, "GET", "/v1/agency/cases?cursor="+p.NextCursor, key, nil).decode(t, &rest)
	if len(rest.Cases) != 1 || rest.Cases[0].Ref != last.Ref || rest.NextCursor != "" {
		t.Errorf("second page %v %q, want only %s", refs(rest.Cases), rest.NextCursor, last.Ref)
	}
}

// The lifecycle of a case as the issue states it, written out rather than
// read from package channels, so that a change to either is noticed.
var legal = map[channels.Status][]channels.Status{
	channels.StatusSubmitted: {channels.StatusInReview, channels.StatusMoreInfo, channels.StatusRejected, channels.StatusClosed},
	channels.StatusInReview:  {channels.StatusMoreInfo, channels.StatusApproved, channels.StatusRejected},
	channels.StatusMoreInfo:  {channels.StatusInReview, channels.StatusRejected, channels.StatusClosed},
	channels.StatusApproved:  {channels.StatusReady, channels.StatusClosed},
	channels.StatusReady:     {channels.StatusClosed},
	channels.StatusRejected:  {channels.StatusClosed},
	channels.StatusClosed:    nil,
}

// pathTo is how a submitted case reaches each status.
var pathTo = map[channels.Status][]channels.Status{
	channels.StatusSubmitted: nil,
	channels.StatusInReview:  {channels.StatusInReview},
	channels.StatusMoreInfo:  {channels.StatusMoreInfo},
	channels.StatusApproved:  {channels.StatusInReview, channels.StatusApproved},
	channels.StatusRejected:  {channels.StatusRejected},
	channels.StatusReady:     {channels.StatusInReview, channels.StatusApproved, channels.StatusReady},
	channels.StatusClosed:    {channels.StatusClosed},
}

// TestTransitions tries every move between two statuses: the lifecycle's
// moves answer the updated case with one more history entry, recorded with
// the key as actor; every other move is 409 and leaves the case as it was.
func TestTransitions(t *testing.T) {
	f := newFixture(t)
	key, k := f.key(t, civil)
	all := []channels.Status{
		channels.StatusSubmitted, channels.StatusInReview, channels.StatusMoreInfo, channels.StatusApproved,
		channels.StatusRejected, channels.StatusReady, channels.StatusClosed,
	}
	moves := 0
	for _, from := range all {
		for _, to := range all {
			ok := false
			for _, s := range legal[from] {
				ok = ok || s == to
			}
			name := string(from) + " to " + string(to)
			if !ok {
				name += " refused"
			}
			t.Run(name, func(t *testing.T) {
				c := f.submit(t, birth, civil)
				for _, s := range pathTo[from] {
					if r := f.do(t, "POST", "/v1/agency/cases/"+c.Ref+"/status", key, map[string]string{"status": string(s), "note": "on the way"}); r.status != http.StatusOK {
						t.Fatalf("reaching %s: %d %s", from, r.status, r.raw)
					}
				}
				before := f.stored(t, c.Ref)
				f.clock.Add(time.Minute)
				r := f.do(t, "POST", "/v1/agency/cases/"+c.Ref+"/status", key, map[string]string{"status": string(to), "note": "step " + name})
				after := f.stored(t, c.Ref)
				if !ok {
					code, msg := r.errorBody()
					if r.status != http.StatusConflict || code != channels.ECONFLICT || msg != "The case cannot move to that status from where it stands." {
						t.Errorf("%d %s, want 409 error.transition", r.status, r.raw)
					}
					if after.Status != from || len(after.History) != len(before.History) {
						t.Errorf("refused move changed the case: %+v", after)
					}
					return
				}
				moves++
				var got channels.Case
				r.decode(t, &got)
				wantEntry := channels.StatusChange{Status: to, At: f.clock.Now(), Actor: "agency:civil_registry/key:" + k.ID, Note: "step " + name}
				if r.status != http.StatusOK || got.Status != to || len(got.History) != len(before.History)+1 || got.History[len(got.History)-1] != wantEntry {
					t.Fatalf("%d %s\nwant status %s and last entry %+v", r.status, r.raw, to, wantEntry)
				}
				for i, h := range before.History {
					if got.History[i] != h {
						t.Errorf("history entry %d changed: %+v, was %+v", i, got.History[i], h)
					}
				}
				if after.Status != to || len(after.History) != len(got.History) {
					t.Errorf("stored %s with %d entries, answered %s with %d", after.Status, len(after.History), got.Status, len(got.History))
				}
			})
		}
	}
	if moves != 14 {
		t.Errorf("%d legal moves made, the lifecycle has 14", moves)
	}
}

// TestStatusRequests checks what a status or info request must hold.
func TestStatusRequests(t *testing.T) {
	f := newFixture(t)
	key, _ := f.key(t, civil)
	long := strings.Repeat("é", agency.MaxNote) // characters, not bytes
	tests := []struct {
		name    string
		path    string // after the case's path
		body    any
		status  int
		message string                // of an error
		want    channels.StatusChange // the entry added, At and Actor aside
	}{
		{"review without a note", "/status", map[string]string{"status": "in_review"}, 200, "", channels.StatusChange{Status: channels.StatusInReview}},
		{"reject without a note", "/status", map[string]string{"status": "rejected"}, 400, "A note is required for this status.", channels.StatusChange{}},
		{"more info with a blank note", "/status", map[string]string{"status": "more_info", "note": "  \n "}, 400, "A note is required for this status.", channels.StatusChange{}},
		{"reject with a note", "/status", map[string]string{"status": "rejected", "note": " The birth was registered abroad. "}, 200, "", channels.StatusChange{Status: channels.StatusRejected, Note: "The birth was registered abroad."}},
		{"a note of the maximum length", "/status", map[string]string{"status": "in_review", "note": long}, 200, "", channels.StatusChange{Status: channels.StatusInReview, Note: long}},
		{"a note too long", "/status", map[string]string{"status": "in_review", "note": long + "e"}, 400, "A note or question can have at most 1000 characters.", channels.StatusChange{}},
		{"unknown status", "/status", map[string]string{"status": "lost"}, 400, "That status does not exist.", channels.StatusChange{}},
		{"no status", "/status", map[string]string{"note": "hello"}, 400, "That status does not exist.", channels.StatusChange{}},
		{"unknown field", "/status", map[string]string{"status": "in_review", "reason": "x"}, 400, "The request is not valid.", channels.StatusChange{}},
		{"not an object", "/status", `"in_review"`, 400, "The request is not valid.", channels.StatusChange{}},
		{"no body", "/status", nil, 400, "The request is not valid.", channels.StatusChange{}},
		{"body over 16 KiB", "/status", map[string]string{"status": "in_review", "note": strings.Repeat("x", agency.DefaultMaxBody)}, 413, "The request is too large.", channels.StatusChange{}},
		{"ask the citizen", "/info-requests", map[string]string{"question": "Which hospital was the child born in?"}, 200, "", channels.StatusChange{Status: channels.StatusMoreInfo, Note: "Which hospital was the child born in?"}},
		{"ask nothing", "/info-requests", map[string]string{"question": " "}, 400, "Write the question to ask the citizen.", channels.StatusChange{}},
		{"ask too much", "/info-requests", map[string]string{"question": long + "?"}, 400, "A note or question can have at most 1000 characters.", channels.StatusChange{}},
		{"ask with a status", "/info-requests", map[string]string{"question": "Why?", "status": "rejected"}, 400, "The request is not valid.", channels.StatusChange{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.submit(t, birth, civil)
			r := f.do(t, "POST", "/v1/agency/cases/"+c.Ref+tt.path, key, tt.body)
			stored := f.stored(t, c.Ref)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.status != http.StatusOK {
				if _, msg := r.errorBody(); msg != tt.message {
					t.Errorf("message %q, want %q", msg, tt.message)
				}
				if len(stored.History) != 1 {
					t.Errorf("a refused request changed the case: %+v", stored.History)
				}
				return
			}
			if len(stored.History) != 2 {
				t.Fatalf("history %+v, want one entry more", stored.History)
			}
			got := stored.History[1]
			if got.Status != tt.want.Status || got.Note != tt.want.Note || stored.Status != tt.want.Status {
				t.Errorf("added %+v (status %s), want %+v", got, stored.Status, tt.want)
			}
		})
	}
}

// TestHistory follows one case through two keys of its agency: the
// history only grows, each entry names the key that made it, and each
// change is in the store's case log, which citizens' notices follow.
func TestHistory(t *testing.T) {
	f := newFixture(t)
	first, k1 := f.key(t, civil)
	second, k2 := f.key(t, civil)
	c := f.submit(t, birth, civil)
	steps := []struct {
		key, path string
		body      map[string]string
		actor     string
	}{
		{first, "/status", map[string]string{"status": "in_review"}, "agency:civil_registry/key:" + k1.ID},
		{second, "/info-requests", map[string]string{"question": "Mother's ID number?"}, "agency:civil_registry/key:" + k2.ID},
		{first, "/status", map[string]string{"status": "in_review", "note": "answered by phone"}, "agency:civil_registry/key:" + k1.ID},
		{second, "/status", map[string]string{"status": "approved"}, "agency:civil_registry/key:" + k2.ID},
		{first, "/status", map[string]string{"status": "ready", "note": "Collect at Huduma Centre Kisumu"}, "agency:civil_registry/key:" + k1.ID},
	}
	prev := f.stored(t, c.Ref).History
	for i, s := range steps {
		f.clock.Add(time.Hour)
		r := f.do(t, "POST", "/v1/agency/cases/"+c.Ref+s.path, s.key, s.body)
		if r.status != http.StatusOK {
			t.Fatalf("step %d: %d %s", i, r.status, r.raw)
		}
		h := f.stored(t, c.Ref).History
		if len(h) != len(prev)+1 {
			t.Fatalf("step %d: %d entries after %d", i, len(h), len(prev))
		}
		for j := range prev {
			if h[j] != prev[j] {
				t.Errorf("step %d rewrote entry %d: %+v, was %+v", i, j, h[j], prev[j])
			}
		}
		if last := h[len(h)-1]; last.Actor != s.actor || !last.At.Equal(f.clock.Now()) {
			t.Errorf("step %d: entry %+v, want actor %s at %v", i, last, s.actor, f.clock.Now())
		}
		prev = h
	}
	events, err := f.db.CaseEvents(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for _, e := range events {
		if e.Ref == c.Ref {
			logged = append(logged, string(e.Change.Status)+" by "+e.Change.Actor)
		}
	}
	var want []string
	for _, h := range prev {
		want = append(want, string(h.Status)+" by "+h.Actor)
	}
	if strings.Join(logged, "|") != strings.Join(want, "|") {
		t.Errorf("case log\n%v\nwant\n%v", logged, want)
	}
}

// TestRateLimit spends a key's burst: the next request is 429 with
// Retry-After, another key of the same agency is still served, and the
// key is served again once its bucket refills.
func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *agency.Config) { c.Rate, c.Burst = rate.Limit(0.5), 3 })
	key, _ := f.key(t, civil)
	other, _ := f.key(t, civil)
	for i := range 3 {
		if r := f.do(t, "GET", "/v1/agency/cases", key, nil); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, r.status, r.raw)
		}
	}
	r := f.do(t, "GET", "/v1/agency/cases", key, nil, "Accept-Language", "sw")
	if code, _ := r.errorBody(); r.status != http.StatusTooManyRequests || code != channels.ERATELIMITED || r.header.Get("Retry-After") != "2" {
		t.Errorf("over the burst: %d %s Retry-After %q", r.status, r.raw, r.header.Get("Retry-After"))
	}
	if r := f.do(t, "GET", "/v1/agency/cases", other, nil); r.status != http.StatusOK {
		t.Errorf("another key: %d %s", r.status, r.raw)
	}
	f.clock.Add(2 * time.Second)
	if r := f.do(t, "GET", "/v1/agency/cases", key, nil); r.status != http.StatusOK {
		t.Errorf("after Retry-After: %d %s", r.status, r.raw)
	}
	if r := f.do(t, "GET", "/v1/agency/cases", key, nil); r.status != http.StatusTooManyRequests {
		t.Errorf("the refill was one token: %d %s", r.status, r.raw)
	}
}

// TestRetriedChange checks that a retry of the request that made the last
// change (its answer lost on the way) gets the case again instead of a
// conflict, and changes nothing; anything else that repeats the status is
// still refused.
func TestRetriedChange(t *testing.T) {
	f := newFixture(t)
	key, _ := f.key(t, civil)
	other, _ := f.key(t, civil)
	c := f.submit(t, birth, civil)
	body := map[string]string{"status": "rejected", "note": "Duplicate of 4821773057"}
	for i := range 2 {
		f.clock.Add(time.Minute)
		if r := f.do(t, "POST", "/v1/agency/cases/"+c.Ref+"/status", key, body); r.status != http.StatusOK {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.raw)
		}
	}
	if h := f.stored(t, c.Ref).History; len(h) != 2 {
		t.Fatalf("history has %d entries after a retry, want 2", len(h))
	}
	tests := []struct {
		name string
		key  string
		body map[string]string
	}{
		{"another note", key, map[string]string{"status": "rejected", "note": "Another reason"}},
		{"another key", other, body},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := f.do(t, "POST", "/v1/agency/cases/"+c.Ref+"/status", tt.key, tt.body); r.status != http.StatusConflict {
				t.Errorf("%d %s, want 409", r.status, r.raw)
			}
			if h := f.stored(t, c.Ref).History; len(h) != 2 {
				t.Errorf("history has %d entries", len(h))
			}
		})
	}
}
