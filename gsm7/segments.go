package gsm7

import "unicode/utf8"

// The SMS budgets: a single message holds 160 septets or 70 UTF-16 units;
// a part of a concatenated message loses room to its user data header
// (6 octets) and holds 153 septets or 67 units.
const (
	singleSeptets = 160
	partSeptets   = 153
	singleUnits   = 70
	partUnits     = 67
)

// Segments returns how many SMS segments s takes and whether it is sent in
// UCS-2: one when it fits a single message, else the parts of a
// concatenated message. A character never straddles two parts, as handsets
// and SMSCs send it: an extension character's escape and its septet stay
// together, as do the two units of a surrogate pair, so a part may end one
// short of its budget. An empty text takes no segment.
func Segments(s string) (n int, ucs2 bool) {
	if s == "" {
		return 0, false
	}
	if septets, ok := Septets(s); ok {
		if septets <= singleSeptets {
			return 1, false
		}
		return gsmParts(s), false
	}
	if units := UCS2Units(s); units <= singleUnits {
		return 1, true
	}
	return ucs2Parts(s), true
}

// gsmParts packs s, known to be GSM-7, into parts of partSeptets septets,
// moving a two-septet character that does not fit whole to the next part.
func gsmParts(s string) int {
	parts, used := 1, 0
	for i := 0; i < len(s); {
		var w int
		if c := s[i]; c < utf8.RuneSelf {
			w = int(ascii[c])
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			w, _ = RuneSeptets(r)
			i += size
		}
		if used+w > partSeptets {
			parts, used = parts+1, 0
		}
		used += w
	}
	return parts
}

// ucs2Parts packs s into parts of partUnits UTF-16 units, moving a
// surrogate pair that does not fit whole to the next part. Each byte of
// invalid UTF-8 is one unit, as UCS2Units counts it.
func ucs2Parts(s string) int {
	parts, used := 1, 0
	for i := 0; i < len(s); {
		w := 1
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x10000 {
				w = 2
			}
			i += size
		}
		if used+w > partUnits {
			parts, used = parts+1, 0
		}
		used += w
	}
	return parts
}
