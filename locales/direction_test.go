package locales

import "testing"

func TestDirection(t *testing.T) {
	tests := []struct {
		lang, want string
	}{
		{"en", "ltr"},
		{"fr", "ltr"},
		{"sw", "ltr"},
		{"ar", "rtl"},
		{"fa", "rtl"},
		{"he", "rtl"},
		{"ur", "rtl"},
		{"dv", "rtl"},
		{"az-Arab", "rtl"},
		{"sd-Deva", "ltr"},
		{"", "ltr"},
		{"not a tag", "ltr"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			if got := Direction(tt.lang); got != tt.want {
				t.Errorf("Direction(%q) = %s, want %s", tt.lang, got, tt.want)
			}
		})
	}
}
