package app

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

func TestDecodeInput(t *testing.T) {
	tests := []struct {
		name string
		body string
		want flows.Input
		ok   bool
	}{
		{"answer", `{"text":"1"}`, flows.Input{Text: "1"}, true},
		{"explicit answer", `{"text":"Amina","action":"answer"}`, flows.Input{Text: "Amina"}, true},
		{"back", `{"action":"back"}`, flows.Input{Action: flows.Back}, true},
		{"home, text ignored by the engine", `{"action":"home","text":"x"}`, flows.Input{Action: flows.Home, Text: "x"}, true},
		{"empty object is an empty answer", ` {} `, flows.Input{}, true},
		{"unknown action", `{"action":"jump"}`, flows.Input{}, false},
		{"unknown field", `{"txt":"1"}`, flows.Input{}, false},
		{"text of the wrong type", `{"text":1}`, flows.Input{}, false},
		{"null", `null`, flows.Input{}, false},
		{"array", `[{"text":"1"}]`, flows.Input{}, false},
		{"two objects", `{"text":"1"}{"text":"2"}`, flows.Input{}, false},
		{"truncated", `{"text":"1"`, flows.Input{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeInput([]byte(tt.body))
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("decodeInput(%s) = %+v, %v", tt.body, got, err)
			}
			if err != nil && channels.ErrorCode(err) != channels.EINVALID {
				t.Errorf("error code %s, want %s", channels.ErrorCode(err), channels.EINVALID)
			}
		})
	}
}

// FuzzDecodeRequests checks the strict decoding of the input and
// submission bodies: it never panics, refuses with EINVALID only (a bad
// body is the client's mistake, never a 500), and what it accepts it reads
// back the same after encoding.
func FuzzDecodeRequests(f *testing.F) {
	f.Add([]byte(`{"text":"1"}`))
	f.Add([]byte(`{"action":"back"}`))
	f.Add([]byte(`{"phone":"+254712345678","lang":"sw","answers":{"category":"water","location":"Kisumu"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeInput(body)
		if err != nil {
			if channels.ErrorCode(err) != channels.EINVALID {
				t.Fatalf("input error %v is not EINVALID", err)
			}
		} else {
			action := map[flows.Action]string{flows.Answer: "answer", flows.Back: "back", flows.Home: "home"}[in.Action]
			if action == "" {
				t.Fatalf("decoded action %d", in.Action)
			}
			again, err := json.Marshal(inputRequest{Text: in.Text, Action: action})
			if err != nil {
				t.Fatal(err)
			}
			if in2, err := decodeInput(again); err != nil || in2 != in {
				t.Fatalf("%s read as %+v, re-encoded as %s, read back as %+v, %v", body, in, again, in2, err)
			}
		}

		sub, err := decodeSubmission(body)
		if err != nil {
			if channels.ErrorCode(err) != channels.EINVALID {
				t.Fatalf("submission error %v is not EINVALID", err)
			}
			return
		}
		again, err := json.Marshal(sub)
		if err != nil {
			t.Fatal(err)
		}
		if sub2, err := decodeSubmission(again); err != nil || !reflect.DeepEqual(sub2, sub) {
			t.Fatalf("%s read as %+v, re-encoded as %s, read back as %+v, %v", body, sub, again, sub2, err)
		}
	})
}
