package main

import (
	"strings"
	"testing"
)

// TestGraphCalls draws call steps: a hexagon naming the agency's
// operation and what it does, and one arrow for each of the four exits.
func TestGraphCalls(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"mermaid", []string{"graph", "-services", "testdata/calls", "slot"}, []string{
			`slots{{"slots (call)<br/>registry free_slots"}}`, `book{{"book (call)<br/>registry book_slot (changes, reminds 24h before)"}}`,
			`slots -->|"found"| choose`, `slots -->|"not found"| none`, `slots -->|"failed"| none`, `slots -->|"timeout"| none`,
			`submit["submit (submit)"]`, "submit --> book", `Booked for [start]. Reference [reference].`,
		}},
		{"dot", []string{"graph", "-format", "dot", "-services", "testdata/calls", "pin"}, []string{
			`"check" [shape=hexagon, label="check (call)\nrevenue pin_status"];`, `"check" -> "none" [label="timeout"];`, "PIN of [name]: [status].",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %s:\n%s", w, out)
				}
			}
		})
	}
}
