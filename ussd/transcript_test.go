package ussd

import (
	"bytes"
	"context"
	"github.com/govchannels/channels/channelstest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTranscripts replays every dialogue under testdata/transcripts through
// the Simulator, each on a fresh store and the fixed clock, and compares it
// with the file; -update rewrites the files from their inputs.
//
// A transcript is the Simulator's output: "# dial" lines, the gateway's
// CON/END pages, and "> input" lines (">" alone is an empty input), which
// are what is replayed. Leading "## " lines describe the dialogue and are
// kept. Case references are random, so every ten-digit reference in a
// reply compares as <REF>; an input "$REF" stands for the last one shown.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := string(b)
			var header strings.Builder
			var inputs []string
			for _, line := range strings.Split(want, "\n") {
				switch {
				case strings.HasPrefix(line, "## ") || line == "##":
					if len(inputs) == 0 {
						header.WriteString(line + "\n")
					}
				case line == ">":
					inputs = append(inputs, "")
				case strings.HasPrefix(line, "> "):
					inputs = append(inputs, line[2:])
				}
			}
			f := newFixture(t)
			sim := &Simulator{Server: f.srv, Phone: phone, SessionPrefix: "transcript"}
			var out bytes.Buffer
			if err := sim.Run(context.Background(), strings.NewReader(strings.Join(inputs, "\n")), &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			got := maskRefs(header.String() + strings.ReplaceAll(out.String(), "> \n", ">\n"))
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := maskRefs(want); got != want {
				t.Errorf("transcript differs (run go test ./ussd -update and review the diff):\n%s", channelstest.Diff(want, got))
			}
			if n := f.bundle.Missing(); n != 0 {
				t.Errorf("%d messages missing", n)
			}
		})
	}
}

// maskRefs replaces the case references in the replies of a transcript
// with <REF>; inputs are kept as typed.
func maskRefs(transcript string) string {
	lines := strings.Split(transcript, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "> ") {
			lines[i] = refPattern.ReplaceAllString(line, "<REF>")
		}
	}
	return strings.Join(lines, "\n")
}
