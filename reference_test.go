package channels

import "testing"

func TestNewReferenceIsValid(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		ref := NewReference()
		if got, ok := ParseReference(ref); !ok || got != ref {
			t.Fatalf("ParseReference(%q) = %q, %v", ref, got, ok)
		}
		if len(ref) != ReferenceLen || ref[0] == '0' {
			t.Fatalf("bad reference %q", ref)
		}
		seen[ref] = true
	}
	if len(seen) < 999 {
		t.Errorf("only %d distinct references in 1000", len(seen))
	}
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "4821773057", "4821773057", true},
		{"grouped with spaces", " 482 177 3057 ", "4821773057", true},
		{"grouped with dashes and dots", "482-177.3057", "4821773057", true},
		{"wrong check digit", "4821773051", "", false},
		{"adjacent digits swapped", "4812773057", "", false},
		{"one digit wrong", "4821773157", "", false},
		{"too short", "482177305", "", false},
		{"too long", "48217730570", "", false},
		{"leading zero", "0821773055", "", false},
		{"letters", "48217730A7", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseReference(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseReference(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestDammCatchesEverySingleError checks the property the check digit is
// chosen for, over every position and every substitution.
func TestDammCatchesEverySingleError(t *testing.T) {
	ref := "4821773057"
	for i := 0; i < len(ref); i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == ref[i] {
				continue
			}
			typo := ref[:i] + string(d) + ref[i+1:]
			if _, ok := ParseReference(typo); ok {
				t.Errorf("typo %s of %s accepted", typo, ref)
			}
		}
	}
	for i := 0; i+1 < len(ref); i++ {
		if ref[i] == ref[i+1] {
			continue
		}
		swapped := ref[:i] + string(ref[i+1]) + string(ref[i]) + ref[i+2:]
		if _, ok := ParseReference(swapped); ok {
			t.Errorf("swap %s of %s accepted", swapped, ref)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	err := Errorf(ENOTFOUND, "error.not_found", "case %s", "x")
	if ErrorCode(err) != ENOTFOUND || ErrorMessage(err) != "error.not_found" {
		t.Errorf("got %s %s", ErrorCode(err), ErrorMessage(err))
	}
	if ErrorCode(nil) != "" || ErrorCode(errString("boom")) != EINTERNAL || ErrorMessage(errString("boom")) != "error.internal" {
		t.Error("plain errors must be internal")
	}
}

type errString string

func (e errString) Error() string { return string(e) }
