package channels

import "testing"

func TestMaskPhone(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"Kenyan", "+254712345678", "+254***678"},
		{"shortest masked", "+1234567", "+123***567"},
		{"short", "+12345", "***"},
		{"empty", "", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskPhone(tt.in); got != tt.want {
				t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
