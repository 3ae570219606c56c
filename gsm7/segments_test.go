package gsm7

import (
	"strings"
	"testing"
	"unicode/utf16"
)

func TestSegments(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	zh := func(n int) string { return strings.Repeat("ж", n) } // one UCS-2 unit, not GSM-7
	tests := []struct {
		name string
		in   string
		n    int
		ucs2 bool
	}{
		{"empty takes no segment", "", 0, false},
		{"one character", "a", 1, false},
		{"160 septets fill one message", a(160), 1, false},
		{"161 septets need two parts", a(161), 2, false},
		{"two full parts", a(153 * 2), 2, false},
		{"one septet over two parts", a(153*2 + 1), 3, false},
		{"three full parts", a(153 * 3), 3, false},
		{"escape ending a single message", a(158) + "€", 1, false},
		{"escape one septet over a single message", a(159) + "€", 2, false},
		{"80 form feeds count 160", strings.Repeat("\f", 80), 1, false},
		{"81 form feeds count 162", strings.Repeat("\f", 81), 2, false},
		{"escape ending the first part", a(151) + "€" + a(153), 2, false},
		{"escape straddling the first part moves whole", a(152) + "{" + a(152), 3, false},
		{"escape straddling the second part moves whole", a(153) + a(152) + "~" + a(1), 3, false},
		{"accents of the alphabet are one septet", strings.Repeat("é", 160), 1, false},
		{"70 units fill one UCS-2 message", zh(70), 1, true},
		{"71 units need two parts", zh(71), 2, true},
		{"two full UCS-2 parts", zh(67 * 2), 2, true},
		{"one unit over two UCS-2 parts", zh(67*2 + 1), 3, true},
		{"emoji ending a single message", zh(68) + "👍", 1, true},
		{"emoji one unit over a single message", zh(69) + "👍", 2, true},
		{"surrogate pair ending the first part", zh(65) + "👍" + zh(67), 2, true},
		{"surrogate pair straddling the first part moves whole", zh(66) + "👍" + zh(66), 3, true},
		{"one typographic apostrophe forces UCS-2", a(100) + "’", 2, true},
		{"the same text with a plain apostrophe", a(100) + "'", 1, false},
		{"invalid UTF-8 is UCS-2, one unit a byte", "a\xffb", 1, true},
		{"71 invalid bytes need two parts", strings.Repeat("\xff", 71), 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ucs2 := Segments(tt.in)
			if n != tt.n || ucs2 != tt.ucs2 {
				t.Errorf("Segments(%.20q… %d bytes) = %d, %v; want %d, %v", tt.in, len(tt.in), n, ucs2, tt.n, tt.ucs2)
			}
		})
	}
}

// segmentsByRune is the plain reference for Segments: the characters of s
// placed one by one, each whole, into a single message or into parts.
func segmentsByRune(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	var widths []int
	ucs2 := false
	for _, r := range s {
		n, ok := RuneSeptets(r)
		if !ok {
			ucs2 = true
		}
		widths = append(widths, n)
	}
	single, part := 160, 153
	if ucs2 {
		single, part = 70, 67
		widths = widths[:0]
		for _, r := range s {
			widths = append(widths, max(1, utf16.RuneLen(r)))
		}
	}
	total := 0
	for _, w := range widths {
		total += w
	}
	if total <= single {
		return 1, ucs2
	}
	parts, used := 1, 0
	for _, w := range widths {
		if used+w > part {
			parts++
			used = 0
		}
		used += w
	}
	return parts, ucs2
}

// FuzzSegments checks Segments against segmentsByRune and against Length:
// the same encoding, one segment exactly when the length fits a single
// message, else between the parts a length needs when packed tight and
// when every part loses a unit to a character moved whole.
func FuzzSegments(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, ucs2 := Segments(s)
		if wn, wu := segmentsByRune(s); n != wn || ucs2 != wu {
			t.Fatalf("Segments(%q) = %d, %v; by rune %d, %v", s, n, ucs2, wn, wu)
		}
		length, lucs2 := Length(s)
		if ucs2 != lucs2 {
			t.Fatalf("Segments(%q) says UCS-2 %v, Length says %v", s, ucs2, lucs2)
		}
		if s == "" {
			if n != 0 {
				t.Fatalf("Segments(\"\") = %d", n)
			}
			return
		}
		single, part := 160, 153
		if ucs2 {
			single, part = 70, 67
		}
		switch {
		case n < 1:
			t.Fatalf("Segments(%q) = %d for a non-empty text", s, n)
		case (n == 1) != (length <= single):
			t.Fatalf("Segments(%q) = %d for length %d", s, n, length)
		case n > 1 && (n < ceilDiv(length, part) || n > ceilDiv(length, part-1)):
			t.Fatalf("Segments(%q) = %d parts for length %d: want %d to %d", s, n, length, ceilDiv(length, part), ceilDiv(length, part-1))
		}
	})
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func BenchmarkSegments(b *testing.B) {
	for _, bb := range []struct{ name, s string }{
		{"single", "Check your application:\nChild: Amina Wanjiru Otieno\nBorn: 12/03/2024\n1 Confirm\n2 Cancel\n0 Back, MENU Menu"},
		{"gsm7 parts", strings.Repeat("Report received. Your reference is 4821773057. [Thank you] ", 6)},
		{"ucs2 parts", strings.Repeat("Ombi limepokelewa “4821773057” 👍 ", 6)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Segments(bb.s)
			}
		})
	}
}
