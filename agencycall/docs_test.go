package agencycall_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
)

// TestDocsAgency runs the Python agency that docs/agency-calls.md gives
// implementers and calls it as the service does: what the documentation
// tells agencies to write must answer our calls, refuse forged ones and
// answer a repeated change with its first answer.
func TestDocsAgency(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skipf("python3 is not installed: %v", err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "agency-calls.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```python\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) != 1 {
		t.Fatalf("docs/agency-calls.md has %d python blocks; want 1", len(blocks))
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	py := exec.CommandContext(ctx, "python3", "-c", string(blocks[0][1]))
	py.Env = append(os.Environ(), "SECRET="+hex.EncodeToString(secret), "PORT=0")
	out, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &channelstest.LogBuffer{}
	py.Stderr = logs
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = py.Wait()
		if t.Failed() {
			t.Logf("the agency's log:\n%s", logs)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	port := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || port == "" {
		t.Fatalf("the agency printed %q: %v", line, err)
	}

	db := channelstest.OpenStore(t)
	put := func(s []byte) {
		a := channels.Agency{ID: agencyID, Name: "Revenue Authority", APIURL: "http://127.0.0.1:" + port, WebhookSecret: s, CreatedAt: time.Now()}
		if err := db.PutAgency(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	put(secret)
	c := newClient(t, db, agencycall.Config{})
	pin := func(value string) flows.AgencyRequest {
		req := pinRequest()
		req.Params = []channels.Answer{{Field: "pin", Value: value}}
		req.Returns = map[string]*flows.Return{
			"status":      {Type: flows.ReturnText, Values: []string{"valid", "invalid", "suspended"}, MaxLength: 9, Required: true},
			"name":        {Type: flows.ReturnText, MaxLength: 40, Unicode: true},
			"certificate": {Type: flows.ReturnText, Values: []string{"ready", "pending", "none"}, MaxLength: 7},
		}
		return req
	}
	hold := flows.AgencyRequest{
		Key: "ussd/ATUid_7/hold/5", Agency: agencyID, Operation: "hold_slot", Service: "registry_appointment",
		Phone: "+254712345678", Lang: "en", Channel: channels.ChannelUSSD, Changes: true, Deadline: 2 * time.Second,
		Params: []channels.Answer{{Field: "office", Value: "nairobi"}, {Field: "slot", Value: "s-0912"}},
		Returns: map[string]*flows.Return{
			"hold":  {Type: flows.ReturnText, MaxLength: 20, Required: true},
			"until": {Type: flows.ReturnDateTime, Required: true},
		},
	}

	if got := c.Ask(context.Background(), pin("A012345678Z")); got.Outcome != flows.OutcomeFound || got.Fields["certificate"] != "ready" {
		t.Errorf("a valid PIN: %+v", got)
	}
	if got := c.Ask(context.Background(), pin("B000000000X")); got.Outcome != flows.OutcomeNotFound {
		t.Errorf("an unknown PIN: %+v", got)
	}
	first := c.Ask(context.Background(), hold)
	if first.Outcome != flows.OutcomeFound {
		t.Fatalf("hold_slot: %+v", first)
	}
	other := hold
	other.Key = "ussd/ATUid_8/hold/5"
	if got := c.Ask(context.Background(), other); got.Outcome != flows.OutcomeFound || got.Fields["hold"] == first.Fields["hold"] {
		t.Errorf("another hold gave %+v; want a new hold", got)
	}
	if again := c.Ask(context.Background(), hold); again.Outcome != flows.OutcomeFound || again.Fields["hold"] != first.Fields["hold"] {
		t.Errorf("the same hold again gave %+v; want the first answer %+v", again, first)
	}
	moved := hold
	moved.Params = []channels.Answer{{Field: "office", Value: "nairobi"}, {Field: "slot", Value: "s-0913"}}
	if got := c.Ask(context.Background(), moved); got.Outcome != flows.OutcomeFailed || !strings.Contains(got.Reason, "422") {
		t.Errorf("the same key with other params gave %+v; want failed by 422", got)
	}
	forged := make([]byte, 32)
	if _, err := rand.Read(forged); err != nil {
		t.Fatal(err)
	}
	put(forged)
	if got := c.Ask(context.Background(), pin("A012345678Z")); got.Outcome != flows.OutcomeFailed || !strings.Contains(got.Reason, "401") {
		t.Errorf("a call signed with another secret gave %+v; want failed by 401", got)
	}
}
