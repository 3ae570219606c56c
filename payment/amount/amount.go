// Package amount turns channels.Money into the decimal text providers
// send ("1500", "12.50") and back, by the currency's ISO 4217 exponent,
// with integers only: a float never comes near money.
package amount

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/currency"

	"github.com/govchannels/channels"
)

// Scale is the number of decimals of code's minor unit (2 for KES, 0 for
// RWF and UGX), from the ISO 4217 data of golang.org/x/text/currency.
func Scale(code string) (int, error) {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return 0, fmt.Errorf("currency %q: not an upper-case ISO 4217 code", code)
	}
	unit, err := currency.ParseISO(code)
	if err != nil {
		return 0, fmt.Errorf("currency %q: %w", code, err)
	}
	scale, _ := currency.Standard.Rounding(unit)
	return scale, nil
}

// Format writes m in major units with exactly the currency's decimals:
// {150000 KES} is "1500.00", {1500 RWF} is "1500". A negative amount is
// refused: providers take positive amounts only.
func Format(m channels.Money) (string, error) {
	scale, err := Scale(m.Currency)
	if err != nil {
		return "", err
	}
	if m.Amount < 0 {
		return "", fmt.Errorf("amount %d %s: negative", m.Amount, m.Currency)
	}
	digits := strconv.FormatInt(m.Amount, 10)
	if scale == 0 {
		return digits, nil
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return digits[:len(digits)-scale] + "." + digits[len(digits)-scale:], nil
}

// Parse reads a provider's decimal text in major units ("1500", "1500.5",
// "1500.50") into minor units of code. It takes digits and at most one
// point; decimals beyond the currency's scale must be zeros ("1000.00"
// UGX is 1000), since anything else is not an amount of that currency.
func Parse(s, code string) (channels.Money, error) {
	scale, err := Scale(code)
	if err != nil {
		return channels.Money{}, err
	}
	whole, frac, point := strings.Cut(s, ".")
	if whole == "" || !digitsOnly(whole) || (point && (frac == "" || !digitsOnly(frac))) {
		return channels.Money{}, fmt.Errorf("amount %q: not a decimal number", s)
	}
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return channels.Money{}, fmt.Errorf("amount %q: more decimals than %s has (%d)", s, code, scale)
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	whole = strings.TrimLeft(whole, "0")
	if len(whole)+scale > 18 {
		return channels.Money{}, fmt.Errorf("amount %q: too large", s)
	}
	n, err := strconv.ParseInt("0"+whole+frac, 10, 64)
	if err != nil {
		return channels.Money{}, fmt.Errorf("amount %q: %w", s, err)
	}
	return channels.Money{Amount: n, Currency: code}, nil
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
