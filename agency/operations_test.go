package agency_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
)

// shippedOperations are the operations of the shipped catalog, each of
// which the contract shows with an example request and answer.
var shippedOperations = []string{
	"pin_status", "benefit_eligibility", "national_id", "free_slots",
	"hold_slot", "book_slot", "booking", "cancel_booking",
}

// loadOperations loads and validates the contract as it is served,
// examples included.
func loadOperations(t *testing.T) *openapi3.T {
	t.Helper()
	raw, err := agency.Operations()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the operations document: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("the operations document is invalid: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("the operations document is OpenAPI %s; want 3.1", doc.OpenAPI)
	}
	return doc
}

// TestOperationsDocument checks the contract's shape: one operation, its
// examples for every shipped operation, the request an example shows
// naming its operation, and numbers that agree with package agencycall.
func TestOperationsDocument(t *testing.T) {
	doc := loadOperations(t)
	item := doc.Paths.Value("/operations/{operation}")
	if item == nil || item.Post == nil || len(doc.Paths.Map()) != 1 {
		t.Fatalf("the document has paths %v; want POST /operations/{operation} only", doc.Paths.InMatchingOrder())
	}
	op := item.Post
	reqExamples := op.RequestBody.Value.Content.Get("application/json").Examples
	ansExamples := op.Responses.Status(http.StatusOK).Value.Content.Get("application/json").Examples
	for _, name := range shippedOperations {
		ex := reqExamples[name]
		if ex == nil {
			t.Errorf("no example request of %s", name)
			continue
		}
		if got := ex.Value.Value.(map[string]any)["operation"]; got != name {
			t.Errorf("the example request %s calls %v", name, got)
		}
		if ansExamples[name] == nil {
			t.Errorf("no example answer of %s", name)
		}
	}
	for _, h := range []string{agencycall.HeaderIdempotencyKey, "Channels-Webhook-Id", "Channels-Webhook-Timestamp", "Channels-Webhook-Signature"} {
		if p := op.Parameters.GetByInAndName("header", h); p == nil || !p.Required {
			t.Errorf("header %s is not documented as required", h)
		}
	}
	if !strings.Contains(doc.Info.Description, "64 KiB") || agencycall.MaxAnswer != 64<<10 {
		t.Errorf("the documented answer limit is not the client's %d bytes", agencycall.MaxAnswer)
	}
	if got := doc.Components.Schemas["Item"].Value.Properties["id"].Value.Pattern; got != "^[!-~]{1,64}$" || agencycall.MaxID != 64 {
		t.Errorf("item ids documented as %s; the client takes at most %d", got, agencycall.MaxID)
	}
}

// TestOperationsGoldenRequest validates the golden request body of
// package agencycall against the Request schema.
func TestOperationsGoldenRequest(t *testing.T) {
	doc := loadOperations(t)
	body, err := os.ReadFile(filepath.Join("..", "agencycall", "testdata", "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	schema := doc.Components.Schemas["Request"].Value
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("the golden request does not match the Request schema: %v", err)
	}
	v.(map[string]any)["extra"] = true
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err == nil {
		t.Error("the Request schema takes an undocumented field")
	}
}

// TestOperationsExchanges makes real calls with agencycall.Client to a
// server answering each example answer of the document, and checks every
// request (headers, signature form, body) and answer against it.
func TestOperationsExchanges(t *testing.T) {
	doc := loadOperations(t)
	examples := doc.Paths.Value("/operations/{operation}").Post.Responses.Status(http.StatusOK).Value.Content.Get("application/json").Examples

	var mu sync.Mutex
	var seen []*http.Request
	var bodies [][]byte
	answer := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen, bodies = append(seen, r), append(bodies, b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(<-answer)
	}))
	t.Cleanup(srv.Close)
	doc.Servers = openapi3.Servers{{URL: srv.URL + "/v1"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	db := channelstest.OpenStore(t)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	if err := db.PutAgency(context.Background(), channels.Agency{ID: "civil_registry", Name: "Civil Registry", APIURL: srv.URL + "/v1", WebhookSecret: secret}); err != nil {
		t.Fatal(err)
	}
	client, err := agencycall.New(agencycall.Config{Agencies: db})
	if err != nil {
		t.Fatal(err)
	}

	names := make([]string, 0, len(examples))
	for name := range examples {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(examples[name].Value.Value)
			if err != nil {
				t.Fatal(err)
			}
			answer <- raw
			req := flows.AgencyRequest{
				Key: "ussd/ATUid_1/" + name + "/2", Agency: "civil_registry", Operation: "free_slots", Service: "registry_appointment",
				Phone: "+254712345678", Lang: "sw", Channel: channels.ChannelUSSD,
				Params:  []channels.Answer{{Field: "office", Value: "nairobi"}},
				Returns: returnsOf(examples[name].Value.Value), Deadline: 2 * time.Second,
			}
			got := client.Ask(context.Background(), req)
			if got.Outcome != flows.OutcomeFound && got.Outcome != flows.OutcomeNotFound {
				t.Fatalf("the example answer %s: %s (%s)", name, got.Outcome, got.Reason)
			}
			mu.Lock()
			hr, body := seen[i].Clone(context.Background()), bodies[i]
			mu.Unlock()
			hr.URL.Scheme, hr.URL.Host = "http", strings.TrimPrefix(srv.URL, "http://")
			hr.Body = io.NopCloser(bytes.NewReader(body))
			route, params, err := router.FindRoute(hr)
			if err != nil {
				t.Fatalf("%s is not in the document: %v", hr.URL, err)
			}
			in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route,
				Options: &openapi3filter.Options{MultiError: true}}
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("the request does not match the document: %v\n%s", err, body)
			}
			// The checks have teeth: an unsigned call, or a body with a
			// field more, is refused.
			unsigned := hr.Clone(context.Background())
			unsigned.Header.Del("Channels-Webhook-Signature")
			unsigned.Body = io.NopCloser(bytes.NewReader(body))
			extra := hr.Clone(context.Background())
			extra.Body = io.NopCloser(strings.NewReader(strings.Replace(string(body), `{"id"`, `{"extra":1,"id"`, 1)))
			for _, bad := range []*http.Request{unsigned, extra} {
				in := &openapi3filter.RequestValidationInput{Request: bad, PathParams: params, Route: route}
				if err := openapi3filter.ValidateRequest(context.Background(), in); err == nil {
					t.Errorf("the document takes a bad request: %v", bad.Header)
				}
			}
			h := http.Header{"Content-Type": {"application/json"}}
			if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: http.StatusOK, Header: h, Body: io.NopCloser(bytes.NewReader(raw)),
				Options: &openapi3filter.Options{MultiError: true},
			}); err != nil {
				t.Errorf("the example answer does not match the document: %v", err)
			}
		})
	}
}

// returnsOf declares the fields of an example answer as a call step
// would: lists of datetimes, texts of up to 40 GSM-7 characters.
func returnsOf(example any) map[string]*flows.Return {
	out := map[string]*flows.Return{}
	result, _ := example.(map[string]any)["result"].(map[string]any)
	for name, v := range result {
		if _, ok := v.([]any); ok {
			out[name] = &flows.Return{Type: flows.ReturnList, Item: flows.ReturnDateTime, MaxItems: 5}
			continue
		}
		out[name] = &flows.Return{Type: flows.ReturnText, MaxLength: 40}
	}
	return out
}

// TestOperationsServed reads the contract as an agency's developer does:
// without a key, as JSON.
func TestOperationsServed(t *testing.T) {
	f := newFixture(t)
	want, err := agency.Operations()
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"", "not a key"} {
		r := f.do(t, "GET", "/v1/agency/operations.json", auth, nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || !bytes.Equal(r.raw, want) {
			t.Fatalf("with key %q: %d %s %.80s", auth, r.status, r.header.Get("Content-Type"), r.raw)
		}
	}
}
