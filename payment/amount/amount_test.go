package amount_test

import (
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/payment/amount"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   channels.Money
		want string
		err  bool
	}{
		{"shillings", channels.Money{Amount: 150000, Currency: "KES"}, "1500.00", false},
		{"one cent", channels.Money{Amount: 1, Currency: "KES"}, "0.01", false},
		{"zero", channels.Money{Amount: 0, Currency: "KES"}, "0.00", false},
		{"francs have no decimals", channels.Money{Amount: 1500, Currency: "RWF"}, "1500", false},
		{"shillings of Uganda", channels.Money{Amount: 2000, Currency: "UGX"}, "2000", false},
		{"euro", channels.Money{Amount: 505, Currency: "EUR"}, "5.05", false},
		{"three decimals", channels.Money{Amount: 1234, Currency: "BHD"}, "1.234", false},
		{"negative", channels.Money{Amount: -1, Currency: "KES"}, "", true},
		{"lower case", channels.Money{Amount: 1, Currency: "kes"}, "", true},
		{"unknown", channels.Money{Amount: 1, Currency: "XYZ"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := amount.Format(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("Format(%v) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, code string
		want           int64
		err            bool
	}{
		{"whole", "1500", "KES", 150000, false},
		{"two decimals", "1500.50", "KES", 150050, false},
		{"one decimal", "5.0", "EUR", 500, false},
		{"zeros past the scale", "1000.00", "UGX", 1000, false},
		{"leading zeros", "007", "RWF", 7, false},
		{"a fraction of a franc", "10.5", "RWF", 0, true},
		{"three decimals of KES", "1.005", "KES", 0, true},
		{"sign", "-5", "KES", 0, true},
		{"plus", "+5", "KES", 0, true},
		{"exponent", "1e3", "KES", 0, true},
		{"empty", "", "KES", 0, true},
		{"point only", ".", "KES", 0, true},
		{"no whole part", ".5", "KES", 0, true},
		{"trailing point", "5.", "KES", 0, true},
		{"overflow", "99999999999999999999", "KES", 0, true},
		{"bad currency", "5", "K", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := amount.Parse(tt.in, tt.code)
			if (err != nil) != tt.err || (err == nil && got != (channels.Money{Amount: tt.want, Currency: tt.code})) {
				t.Fatalf("Parse(%q, %s) = %v, %v; want %d, error %v", tt.in, tt.code, got, err, tt.want, tt.err)
			}
		})
	}
}

// FuzzParse checks that whatever Parse accepts, Format writes back to the
// same amount.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1500", "1500.50", "0.01", "1000.00", "1e3", "-1", "99999999999999999"} {
		f.Add(s, "KES")
		f.Add(s, "UGX")
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		m, err := amount.Parse(s, code)
		if err != nil {
			return
		}
		text, err := amount.Format(m)
		if err != nil {
			t.Fatalf("Parse(%q) = %v, which Format refuses: %v", s, m, err)
		}
		back, err := amount.Parse(text, code)
		if err != nil || back != m {
			t.Fatalf("Parse(%q) = %v; Format = %q; Parse again = %v, %v", s, m, text, back, err)
		}
	})
}
