// Package gsm7 knows the GSM 03.38 default alphabet, in which USSD pages and
// SMS are cheapest: text in it packs 7 bits a character; any other
// character forces UCS-2 and halves what a page or segment holds.
package gsm7

// basic is the default alphabet (one septet each).
const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// extension holds the characters sent as an escape plus one septet.
const extension = "\f^{}\\[~]|€"

var table = func() map[rune]int {
	t := make(map[rune]int, 140)
	for _, r := range basic {
		t[r] = 1
	}
	for _, r := range extension {
		t[r] = 2
	}
	return t
}()

// Septets returns how many septets s takes in GSM-7, and false when some
// character of s is not in the alphabet (the text then needs UCS-2).
func Septets(s string) (int, bool) {
	n := 0
	for _, r := range s {
		if r < 0x80 && r >= ' ' && r != '`' && r != '$' && r != '@' && r != '^' && r != '{' && r != '}' && r != '\\' && r != '[' && r != ']' && r != '~' && r != '|' {
			n++ // the common printable ASCII characters, without a map lookup
			continue
		}
		w, ok := table[r]
		if !ok {
			return 0, false
		}
		n += w
	}
	return n, true
}

// UCS2Units returns how many UTF-16 code units s takes, as UCS-2 counts it.
func UCS2Units(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// Length returns the length of s against a page or segment budget: its
// septets when s is GSM-7, else its UCS-2 units; ucs2 tells which.
func Length(s string) (n int, ucs2 bool) {
	if n, ok := Septets(s); ok {
		return n, false
	}
	return UCS2Units(s), true
}
