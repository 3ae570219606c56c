package locales

import "golang.org/x/text/language"

// rtlScripts are the scripts written right to left among those CLDR names
// as a language's likely script.
var rtlScripts = map[string]bool{
	"Adlm": true, "Arab": true, "Hebr": true, "Mand": true, "Mend": true,
	"Nkoo": true, "Rohg": true, "Samr": true, "Syrc": true, "Thaa": true, "Yezi": true,
}

// Direction is "rtl" when the likely script of lang is written right to
// left (Arabic, Hebrew, Dhivehi, N'Ko, …), else "ltr": what the app API
// and the kiosk's pages mark their texts with.
func Direction(lang string) string {
	if tag, err := language.Parse(lang); err == nil {
		if script, conf := tag.Script(); conf != language.No && rtlScripts[script.String()] {
			return "rtl"
		}
	}
	return "ltr"
}
