package password

import (
	"strings"
	"testing"
)

func TestHashAndCheck(t *testing.T) {
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	again, _ := Hash("correct horse battery")
	if again == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		name string
		hash string
		pw   string
		ok   bool
		err  bool
	}{
		{"right", h, "correct horse battery", true, false},
		{"wrong", h, "correct horse batterY", false, false},
		{"empty", h, "", false, false},
		{"another salt", again, "correct horse battery", true, false},
		{"not a hash", "plaintext", "plaintext", false, true},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuv", "x", false, true},
		{"argon2i", strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery", false, true},
		{"huge memory", strings.Replace(h, "m=19456", "m=99999999", 1), "correct horse battery", false, true},
		{"cut hash", h[:len(h)-30], "correct horse battery", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Check(tt.hash, tt.pw)
			if ok != tt.ok || (err != nil) != tt.err {
				t.Errorf("Check = %v, %v; want %v, error %v", ok, err, tt.ok, tt.err)
			}
		})
	}
}

func TestTooShort(t *testing.T) {
	if _, err := Hash("short"); err != ErrTooShort {
		t.Errorf("Hash of a short password: %v", err)
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw := Generate()
		if len(pw) != 16 || strings.ContainsAny(pw, "0O1lI") || seen[pw] {
			t.Fatalf("Generate = %q (repeat: %v)", pw, seen[pw])
		}
		seen[pw] = true
	}
}
