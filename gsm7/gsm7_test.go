package gsm7

import (
	"testing"
	"unicode/utf8"
)

func TestSeptets(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		ok   bool
	}{
		{"empty", "", 0, true},
		{"ascii", "CON 1. Apply", 12, true},
		{"accents in the alphabet", "éèùìòà", 6, true},
		{"extension characters count twice", "{}[]~|^\\€", 18, true},
		{"dollar and at are basic", "$@", 2, true},
		{"newline", "a\nb", 3, true},
		{"backtick is not GSM-7", "`", 0, false},
		{"c cedilla lower case is not GSM-7", "reçu", 0, false},
		{"circumflex is not GSM-7", "être", 0, false},
		{"arabic", "مرحبا", 0, false},
		{"emoji", "ok 👍", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := Septets(tt.in)
			if n != tt.n || ok != tt.ok {
				t.Errorf("Septets(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.ok)
			}
		})
	}
}

func TestLength(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		ucs2 bool
	}{
		{"gsm", "Habari {x}", 12, false},
		{"ucs2", "reçu", 4, true},
		{"surrogate pair", "a👍", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ucs2 := Length(tt.in)
			if n != tt.n || ucs2 != tt.ucs2 {
				t.Errorf("Length(%q) = %d, %v; want %d, %v", tt.in, n, ucs2, tt.n, tt.ucs2)
			}
		})
	}
}

// TestAlphabetSize checks the tables against the standard: 128 basic
// characters (with the escape) and 10 extension characters.
func TestAlphabetSize(t *testing.T) {
	if n := utf8.RuneCountInString(basic); n != 127 {
		t.Errorf("basic alphabet has %d characters, want 127 (128 less the escape)", n)
	}
	if n := utf8.RuneCountInString(extension); n != 10 {
		t.Errorf("extension table has %d characters, want 10", n)
	}
}

func FuzzLength(f *testing.F) {
	for _, s := range []string{"", "CON 1. Apply", "€{}", "reçu", "👍"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ucs2 := Length(s)
		runes := utf8.RuneCountInString(s)
		if !ucs2 && (n < runes || n > 2*runes) {
			t.Fatalf("septets %d for %d runes", n, runes)
		}
		if ucs2 && (n < runes || n > 2*runes) {
			t.Fatalf("ucs2 units %d for %d runes", n, runes)
		}
	})
}
