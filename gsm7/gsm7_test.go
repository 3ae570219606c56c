package gsm7

import (
	"strings"
	"testing"
	"unicode/utf16"
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
		{"greek capitals", "ΔΦΓΛΩΠΨΣΘΞ", 10, true},
		{"extension characters count twice", "{}[]~|^\\€", 18, true},
		{"form feed is in the extension table", "\f", 2, true},
		{"dollar and at are basic", "$@", 2, true},
		{"newline and carriage return", "a\nb\r", 4, true},
		{"ascii then accents", "Féminin", 7, true},
		{"backtick is not GSM-7", "`", 0, false},
		{"tab is not GSM-7", "a\tb", 0, false},
		{"NUL is not GSM-7", "\x00", 0, false},
		{"c cedilla lower case is not GSM-7", "reçu", 0, false},
		{"circumflex is not GSM-7", "être", 0, false},
		{"greek small letter is not GSM-7", "α", 0, false},
		{"arabic", "مرحبا", 0, false},
		{"emoji", "ok 👍", 0, false},
		{"invalid UTF-8", "a\xffb", 0, false},
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

func TestUCS2Units(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
	}{
		{"empty", "", 0},
		{"ascii", "Habari", 6},
		{"accents", "reçu", 4},
		{"BMP scripts", "مرحبا Ωμέγα", 11},
		{"surrogate pair", "a👍", 3},
		{"two emoji", "👍👍", 4},
		{"invalid byte counts one", "a\xff", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := UCS2Units(tt.in); n != tt.n {
				t.Errorf("UCS2Units(%q) = %d; want %d", tt.in, n, tt.n)
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
		{"extension characters count once in UCS-2", "reçu {}", 7, true},
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

// TestAlphabet checks the tables against the standard: 127 basic characters
// (128 code points less the escape), 10 in the extension table, no
// character in both, and every one reported by RuneSeptets.
func TestAlphabet(t *testing.T) {
	if n := utf8.RuneCountInString(basic); n != 127 {
		t.Errorf("basic alphabet has %d characters, want 127", n)
	}
	if n := utf8.RuneCountInString(extension); n != 10 {
		t.Errorf("extension table has %d characters, want 10", n)
	}
	for _, r := range basic {
		if strings.ContainsRune(extension, r) {
			t.Errorf("%q is in both tables", r)
		}
		if n, ok := RuneSeptets(r); n != 1 || !ok {
			t.Errorf("RuneSeptets(%q) = %d, %v; want 1, true", r, n, ok)
		}
	}
	for _, r := range extension {
		if n, ok := RuneSeptets(r); n != 2 || !ok {
			t.Errorf("RuneSeptets(%q) = %d, %v; want 2, true", r, n, ok)
		}
	}
	for _, r := range []rune{-1, 0x1B, '`', 'ç', 'ê', utf8.RuneError, 0x10FFFF} {
		if n, ok := RuneSeptets(r); n != 0 || ok {
			t.Errorf("RuneSeptets(%q) = %d, %v; want 0, false", r, n, ok)
		}
	}
}

// FuzzLength compares Septets and UCS2Units with plain reference
// implementations rune by rune.
func FuzzLength(f *testing.F) {
	for _, s := range []string{"", "CON 1. Apply", "€{}", "reçu", "👍", "a\xffb", "Féminin\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		wantN, wantOK := 0, true
		wantUnits := 0
		for _, r := range s {
			switch {
			case strings.ContainsRune(basic, r) && r != utf8.RuneError:
				wantN++
			case strings.ContainsRune(extension, r):
				wantN += 2
			default:
				wantOK = false
			}
			wantUnits += max(1, utf16.RuneLen(r))
		}
		if !wantOK {
			wantN = 0
		}
		if n, ok := Septets(s); n != wantN || ok != wantOK {
			t.Fatalf("Septets(%q) = %d, %v; want %d, %v", s, n, ok, wantN, wantOK)
		}
		if n := UCS2Units(s); n != wantUnits {
			t.Fatalf("UCS2Units(%q) = %d; want %d", s, n, wantUnits)
		}
	})
}

func BenchmarkSeptets(b *testing.B) {
	s := "Check your application:\nChild: Amina Wanjiru Otieno\nBorn: 12/03/2024\nSex: Féminin\n1. Confirm\n2. Cancel\n0. Back\n00. Home"
	b.ReportAllocs()
	for b.Loop() {
		Septets(s)
	}
}
