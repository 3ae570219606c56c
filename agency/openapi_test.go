package agency_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/locales"
)

// spec is the OpenAPI document of the API, loaded and validated by
// kin-openapi, with the router that finds an exchange's operation.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

// loadSpec reads the document the API serves, as the package embeds it,
// and validates it; change, when given, alters it first (to check that the
// checks catch a document that drifted from the code).
func loadSpec(change func(*openapi3.T)) (*spec, error) {
	raw, err := agency.OpenAPI()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	if change != nil {
		change(doc)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &spec{doc: doc, router: router}, nil
}

// theSpec is the document every exchange of the tests is checked against.
var theSpec = sync.OnceValues(func() (*spec, error) { return loadSpec(nil) })

// checkOpenAPI is called by fixture.do for every exchange of the tests:
// sent is the request as sent (its body read again through GetBody), resp
// and body its answer.
func checkOpenAPI(t testing.TB, sent *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	s, err := theSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.check(sent, resp.StatusCode, resp.Header, body); err != nil {
		t.Error(err)
	}
}

// keyFormat is the documented shape of a key.
var keyFormat = regexp.MustCompile(`^chk_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$`)

// checkKey is the documented security scheme: a bearer key of the
// documented shape. Whether the key is valid is the server's business.
func checkKey(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, tok, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if scheme != "Bearer" || !keyFormat.MatchString(tok) {
		return errors.New("no bearer key of the documented format")
	}
	return nil
}

// refusedStatuses are the answers the server may give to a request the
// document refuses: it must refuse it too, before acting on it.
var refusedStatuses = []int{
	http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound,
	http.StatusRequestEntityTooLarge, http.StatusTooManyRequests,
}

// check reports how an exchange differs from the document. The response
// must always match it: a documented status with its documented headers
// and body, so an undocumented status, header or field is an error. Many
// tests send invalid requests on purpose, so the request need not match;
// but when the document refuses it, the server must refuse it as well (a
// request the document calls invalid and the server carries out means the
// two disagree).
func (s *spec) check(sent *http.Request, status int, header http.Header, body []byte) error {
	hr := sent.Clone(context.Background())
	hr.Body = http.NoBody
	if sent.GetBody != nil {
		b, err := sent.GetBody()
		if err != nil {
			return err
		}
		hr.Body = b
	}
	// The server reads any body as JSON, whatever its Content-Type, and the
	// tests send none: check the body as the JSON the document describes.
	if hr.Body != http.NoBody && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	route, params, err := s.router.FindRoute(hr)
	if err != nil {
		return fmt.Errorf("%s %s is not in the OpenAPI document: %w", hr.Method, hr.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: hr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: checkKey, SkipSettingDefaults: true, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && !slices.Contains(refusedStatuses, status) {
		return fmt.Errorf("%s %s: the OpenAPI document refuses the request, the server answered %d:\n%w\n%s", hr.Method, hr.URL, status, err, body)
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		return fmt.Errorf("%s %s: the response %d does not match the OpenAPI document: %w\n%s", hr.Method, hr.URL, status, err, body)
	}
	return nil
}

// TestOpenAPIDocument loads the embedded document, which kin-openapi
// validates, and checks its numbers and lifecycle against the code's.
func TestOpenAPIDocument(t *testing.T) {
	s, err := theSpec()
	if err != nil {
		t.Fatal(err)
	}
	schemas := s.doc.Components.Schemas
	op := func(path, method string) *openapi3.Operation {
		t.Helper()
		o := s.doc.Paths.Value(path).GetOperation(method)
		if o == nil {
			t.Fatalf("%s %s is not documented", method, path)
		}
		return o
	}
	limit := op("/v1/agency/cases", http.MethodGet).Parameters.GetByInAndName("query", "limit").Schema.Value
	if *limit.Min != 1 || *limit.Max != agency.MaxLimit || limit.Default != float64(agency.DefaultLimit) {
		t.Errorf("limit documented as %v to %v, default %v; the code has 1 to %d, default %d", *limit.Min, *limit.Max, limit.Default, agency.MaxLimit, agency.DefaultLimit)
	}
	for _, f := range []struct{ schema, field string }{{"StatusRequest", "note"}, {"InfoRequest", "question"}} {
		if got := schemas[f.schema].Value.Properties[f.field].Value.MaxLength; got == nil || *got != agency.MaxNote {
			t.Errorf("%s.%s documented at most %v characters, the code allows %d", f.schema, f.field, got, agency.MaxNote)
		}
	}

	// The statuses and their moves, as package channels has them.
	all := []channels.Status{
		channels.StatusSubmitted, channels.StatusInReview, channels.StatusMoreInfo, channels.StatusApproved,
		channels.StatusRejected, channels.StatusReady, channels.StatusClosed,
	}
	var enum []string
	for _, v := range schemas["Status"].Value.Enum {
		enum = append(enum, v.(string))
	}
	want := map[string][]string{}
	for _, st := range all {
		if !st.Valid() {
			t.Fatalf("%s is not a status", st)
		}
		for _, to := range all {
			if st.CanBecome(to) {
				want[string(st)] = append(want[string(st)], string(to))
			}
		}
		if !slices.Contains(enum, string(st)) {
			t.Errorf("status %s is not in the Status enum %v", st, enum)
		}
	}
	if len(enum) != len(all) {
		t.Errorf("the Status enum %v has other values than %v", enum, all)
	}

	// The lifecycle table of the API's description: | `from` | `to`, … |.
	table := map[string][]string{}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (.*) \\|$")
	quoted := regexp.MustCompile("`([a-z_]+)`")
	for _, m := range row.FindAllStringSubmatch(s.doc.Info.Description, -1) {
		for _, to := range quoted.FindAllStringSubmatch(m[2], -1) {
			table[m[1]] = append(table[m[1]], to[1])
		}
	}
	// And the sentence of the Status schema: "from → to, to; …".
	sentence := map[string][]string{}
	moves := regexp.MustCompile(`([a-z_]+) → ([a-z_, ]+)`)
	for _, m := range moves.FindAllStringSubmatch(strings.Join(strings.Fields(schemas["Status"].Value.Description), " "), -1) {
		if strings.TrimSpace(m[2]) == "nothing" {
			continue
		}
		for to := range strings.SplitSeq(m[2], ",") {
			sentence[m[1]] = append(sentence[m[1]], strings.TrimSpace(to))
		}
	}
	for _, m := range []map[string][]string{want, table, sentence} {
		for _, to := range m {
			slices.Sort(to)
		}
	}
	if !reflect.DeepEqual(table, want) {
		t.Errorf("the lifecycle table of the description\n%v\nthe code's lifecycle\n%v", table, want)
	}
	if !reflect.DeepEqual(sentence, want) {
		t.Errorf("the lifecycle of the Status schema\n%v\nthe code's lifecycle\n%v", sentence, want)
	}
}

// TestOpenAPIServed reads the document as a client does: without a key,
// as JSON, the very document the tests check the API against.
func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t, func(c *agency.Config) { c.Burst = 1 })
	key, _ := f.key(t, civil)
	if r := f.do(t, "GET", "/v1/agency/cases", key, nil); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	want, err := agency.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"", key, "not a key"} { // the key is over its limit by now: no matter
		r := f.do(t, "GET", "/v1/agency/openapi.json", auth, nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || !bytes.Equal(r.raw, want) {
			t.Fatalf("with key %q: %d %s %.80s", auth, r.status, r.header.Get("Content-Type"), r.raw)
		}
		if _, err := openapi3.NewLoader().LoadFromData(r.raw); err != nil {
			t.Fatalf("the served document: %v", err)
		}
	}
}

// TestOpenAPICoversRoutes checks that the document and Register describe
// the same endpoints, so that no route escapes the checks and no
// documented one is missing.
func TestOpenAPICoversRoutes(t *testing.T) {
	s, err := theSpec()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	db := channelstest.OpenStore(t)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	agency.New(agency.Config{Cases: db, Keys: db, Bundle: bundle}).Register(r)
	served := map[string]bool{}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	for _, rt := range r.Routes() {
		served[rt.Method+" "+param.ReplaceAllString(rt.Path, "{$1}")] = true
	}
	if !maps.Equal(documented, served) {
		t.Errorf("documented endpoints %v\nserved endpoints %v", slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(served)))
	}
	if len(served) == 0 {
		t.Error("Register mounted no route")
	}
}

// TestOpenAPIChecksHaveTeeth alters the document the way it could drift
// from the code, and checks that real exchanges are then refused: an
// undocumented field, status, header value or route, and a request the
// document refuses but the server carries out.
func TestOpenAPIChecksHaveTeeth(t *testing.T) {
	f := newFixture(t)
	key, _ := f.key(t, civil)
	c := f.submit(t, birth, civil)
	type exchange struct {
		method, path, key, body string
	}
	get := exchange{"GET", "/v1/agency/cases/" + c.Ref, key, ""}
	approve := exchange{"POST", "/v1/agency/cases/" + c.Ref + "/status", key, `{"status":"approved"}`} // 409 from submitted
	tests := []struct {
		name   string
		change func(*openapi3.T)
		ex     exchange
		want   string // in the error
	}{
		{"a case field not documented", func(d *openapi3.T) {
			delete(d.Components.Schemas["Case"].Value.Properties, "history")
		}, get, `property "history" is unsupported`},
		{"a status not documented", func(d *openapi3.T) {
			d.Paths.Value("/v1/agency/cases/{ref}/status").Post.Responses.Delete("409")
		}, approve, "status is not supported"},
		{"a field of another type", func(d *openapi3.T) {
			d.Components.Schemas["StatusChange"].Value.Properties["at"].Value.Type = &openapi3.Types{"integer"}
		}, get, "value must be an integer"},
		{"a header not as documented", func(d *openapi3.T) {
			d.Components.Responses["unauthorized"].Value.Headers["WWW-Authenticate"].Value.Schema.Value.Pattern = "^Basic "
		}, exchange{"GET", "/v1/agency/cases", "", ""}, `response header "WWW-Authenticate"`},
		{"a route not documented", func(d *openapi3.T) {
			d.Paths.Delete("/v1/agency/cases/{ref}")
		}, get, "is not in the OpenAPI document"},
		{"a request the server takes but the document refuses", func(d *openapi3.T) {
			d.Paths.Value("/v1/agency/cases").Get.Parameters.GetByInAndName("query", "limit").Schema.Value.Max = openapi3.Ptr(100.0)
		}, exchange{"GET", "/v1/agency/cases?limit=200", key, ""}, "the OpenAPI document refuses the request, the server answered 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			intact, err := loadSpec(nil)
			if err != nil {
				t.Fatal(err)
			}
			drifted, err := loadSpec(tt.change)
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader
			if tt.ex.body != "" {
				body = strings.NewReader(tt.ex.body)
			}
			req, err := http.NewRequest(tt.ex.method, f.url+tt.ex.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ex.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.ex.key)
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
			if err := intact.check(req, resp.StatusCode, resp.Header, raw); err != nil {
				t.Fatalf("the intact document refuses the exchange: %v", err)
			}
			err = drifted.check(req, resp.StatusCode, resp.Header, raw)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("the drifted document: %v\nwant an error with %q", err, tt.want)
			}
		})
	}
}
