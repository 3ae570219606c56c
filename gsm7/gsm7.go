// Package gsm7 knows the GSM 03.38 default alphabet, in which USSD pages and
// SMS are cheapest: text in it packs 7 bits a character, so a USSD string of
// 160 octets holds 182 characters; a single character outside it forces the
// whole text into UCS-2 (16 bits a character, about 80 a page).
//
// The USSD channel measures pages with it; the SMS channel counts segments
// with it.
package gsm7

// basic is the default alphabet, one septet each, in code order (0x00 to
// 0x7F) without the escape at 0x1B. 0x09 is the capital Ç of the 1997
// revision of the standard; the small ç is not in the alphabet.
const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// extension holds the characters of the extension table: each is sent as
// the escape septet and one more, so it counts two.
const extension = "\f^{}\\[~]|€"

// ascii is the septet count of each ASCII character, 0 for those outside
// the alphabet (most control characters and the backtick): the common case
// without a map lookup.
var ascii [128]uint8

// others is the septet count of every non-ASCII character of the alphabet.
var others = make(map[rune]uint8, 40)

func init() {
	for _, r := range basic {
		set(r, 1)
	}
	for _, r := range extension {
		set(r, 2)
	}
}

func set(r rune, n uint8) {
	if r < 0x80 {
		ascii[r] = n
		return
	}
	others[r] = n
}

// RuneSeptets returns how many septets r takes (1, or 2 for a character of
// the extension table), and false when r is not in the alphabet.
func RuneSeptets(r rune) (int, bool) {
	if r >= 0 && r < 0x80 {
		n := ascii[r]
		return int(n), n != 0
	}
	n, ok := others[r]
	return int(n), ok
}

// Septets returns how many septets s takes in GSM-7, the characters of the
// extension table (^ { } \ [ ~ ] | € and form feed) counting two, and false
// when some character of s is not in the alphabet: s then needs UCS-2.
// Invalid UTF-8 is not in the alphabet.
func Septets(s string) (n int, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			w := ascii[c]
			if w == 0 {
				return 0, false
			}
			n += int(w)
			continue
		}
		// A multi-byte rune: decode it the slow way.
		for _, r := range s[i:] {
			w, ok := RuneSeptets(r)
			if !ok {
				return 0, false
			}
			n += w
		}
		return n, true
	}
	return n, true
}

// UCS2Units returns how many UTF-16 code units s takes, which is what a
// UCS-2 budget counts: one per character of the Basic Multilingual Plane,
// two for any other (an emoji, say). Each byte of invalid UTF-8 counts as
// one replacement character.
func UCS2Units(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < 0x80 {
			n++
			continue
		}
		for _, r := range s[i:] {
			if r >= 0x10000 {
				n += 2
			} else {
				n++
			}
		}
		return n
	}
	return n
}

// Length returns the length of s against a page or segment budget: its
// septets when s is GSM-7, else its UTF-16 units; ucs2 tells which.
func Length(s string) (n int, ucs2 bool) {
	if n, ok := Septets(s); ok {
		return n, false
	}
	return UCS2Units(s), true
}
