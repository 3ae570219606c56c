package ussd

import (
	"slices"
	"strings"
	"testing"
)

func TestHopInput(t *testing.T) {
	tests := []struct {
		name, last, text string
		input            string
		fresh            bool
	}{
		{"dial", "", "", "", false},
		{"first input", "", "3", "3", true},
		{"first input with a star", "", "Plot 5*B", "Plot 5*B", true},
		{"next input", "3", "3*1", "1", true},
		{"star inside the answer", "3*1", "3*1*Plot 5*B", "Plot 5*B", true},
		{"empty answer", "3*1", "3*1*", "", true},
		{"retry", "3*1", "3*1", "", false},
		{"late earlier hop", "3*1*Kisumu", "3*1", "", false},
		{"late dial", "3*1", "", "", false},
		{"history that does not match: after the last star", "9*9", "3*1*Kisumu", "Kisumu", true},
		{"history that does not match, no star", "9*9", "Kisumu", "Kisumu", true},
		{"a longer text that is not an extension", "3*1", "3*10", "10", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input, fresh := hopInput(tt.last, tt.text)
			if input != tt.input || fresh != tt.fresh {
				t.Errorf("hopInput(%q, %q) = %q, %v; want %q, %v", tt.last, tt.text, input, fresh, tt.input, tt.fresh)
			}
		})
	}
}

// FuzzHopInput: the input is always a suffix of the text, and exactly what
// follows the last text and "*" when the text extends it.
func FuzzHopInput(f *testing.F) {
	f.Add("3*1", "3*1*Plot 5*B")
	f.Add("", "1")
	f.Add("1*2", "9")
	f.Add("1*2", "1")
	f.Fuzz(func(t *testing.T, last, text string) {
		input, fresh := hopInput(last, text)
		if !strings.HasSuffix(text, input) {
			t.Fatalf("hopInput(%q, %q) = %q is not a suffix", last, text, input)
		}
		if text == last && fresh {
			t.Fatalf("hopInput(%q, %q): a retry is fresh", last, text)
		}
		if rest, ok := strings.CutPrefix(text, last+"*"); ok && last != "" && (!fresh || input != rest) {
			t.Fatalf("hopInput(%q, %q) = %q, %v; want %q, true", last, text, input, fresh, rest)
		}
	})
}

func TestEdgeEncoding(t *testing.T) {
	tests := []struct {
		name string
		ed   edge
	}{
		{"one page", edge{pages: []string{"Government services\n1. Birth certificate"}}},
		{"every flag", edge{end: true, resume: true, confirm: true, holds: true, page: 1, last: "3*1*Plot 5*B", key: "ussd/abc", pages: []string{"a", "b"}}},
		{"non-ASCII text", edge{last: "1*Grâce", pages: []string{"Reçu 👍"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.ed.appendEncode(nil)
			got, err := decodeEdge(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.end != tt.ed.end || got.resume != tt.ed.resume || got.confirm != tt.ed.confirm || got.holds != tt.ed.holds ||
				got.page != tt.ed.page || got.last != tt.ed.last || got.key != tt.ed.key || !slices.Equal(got.pages, tt.ed.pages) {
				t.Errorf("decoded %+v, want %+v", got, tt.ed)
			}
		})
	}
}

func TestDecodeEdgeRefuses(t *testing.T) {
	good := (&edge{page: 1, last: "1", pages: []string{"a", "b"}}).appendEncode(nil)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other version", append([]byte{1}, good[1:]...)},
		{"unknown flag", append([]byte{good[0], 0x80}, good[2:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"page out of range", (&edge{page: 2, pages: []string{"a", "b"}}).appendEncode(nil)},
		{"no pages", (&edge{}).appendEncode(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeEdge(tt.b); err == nil {
				t.Errorf("decodeEdge(%x) succeeded", tt.b)
			}
		})
	}
}
