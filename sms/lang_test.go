package sms

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/locales"
)

// TestLangKeyword sends a language keyword, alone or with a language, as
// the first message of a phone: alone it shows the language menu in the
// keyword's language; with a language named any way a citizen may name
// it, it stores the choice and confirms it in the language chosen; with
// anything else it is no keyword, and a first message gets the root menu.
func TestLangKeyword(t *testing.T) {
	const (
		setAR = "اللغة المختارة: العربية.\nأرسل MENU للقائمة الرئيسية."
		setFR = "Langue choisie: Francais.\nRépondez MENU pour le menu principal."
		setSW = "Lugha uliyochagua: Kiswahili.\nJibu MENU kwa menyu kuu."
		setEN = "Language chosen: English.\nReply MENU for the main menu."
	)
	tests := []struct {
		msg  string
		want string // the reply; its first lines when it ends with a newline
		menu bool   // the reply is the language menu
		lang string // stored
	}{
		{"LANG", "Choose your language", true, ""},
		{"langue", "Choisissez votre langue", true, ""},
		{" Lugha ", "Chagua lugha yako", true, ""},
		{"لغة", "اختر لغتك", true, ""},
		{"اللغة", "اختر لغتك", true, ""},
		{"LANG ar", setAR, false, "ar"},
		{"lang AR", setAR, false, "ar"},
		{"لغة العربية", setAR, false, "ar"},
		{"لغة العربيه", setAR, false, "ar"}, // typed with ه for ة
		{"اللغة ٤", setAR, false, "ar"},     // its number, in Arabic digits
		{"LANG 4", setAR, false, "ar"},
		{"LANGUE Français", setFR, false, "fr"},
		{"langue fr-CM", setFR, false, "fr"},
		{"LUGHA 3", setSW, false, "sw"},
		{"lang kiswahili", setSW, false, "sw"},
		{"LANGUAGE english", setEN, false, "en"},
		{"LANG xx", "Government services\n1. Birth certificate\n", false, ""},
		{"LANG 5", "Government services\n1. Birth certificate\n", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			f := newFixture(t)
			r := f.send(t, tt.msg)
			whole := !tt.menu && !strings.HasSuffix(tt.want, "\n")
			if whole && r.Text != tt.want || !whole && !strings.HasPrefix(r.Text, strings.TrimSuffix(tt.want, "\n")+"\n") {
				t.Errorf("reply\n%s\nwant\n%s", r.Text, tt.want)
			}
			if tt.menu {
				// Numbered in the order of the USSD menu, each language
				// named in itself; "1 English" when it saves a segment.
				lines := strings.Split(r.Text, "\n")
				for i, name := range []string{"English", "Francais", "Kiswahili", "العربية"} {
					if !slices.Contains(lines, fmt.Sprintf("%d. %s", i+1, name)) && !slices.Contains(lines, fmt.Sprintf("%d %s", i+1, name)) {
						t.Errorf("option %d %s missing:\n%s", i+1, name, r.Text)
					}
				}
			}
			if got := f.prefs(t).Lang; got != tt.lang {
				t.Errorf("stored language %q, want %q", got, tt.lang)
			}
			if r.Purpose != channels.PurposeReply {
				t.Errorf("purpose %q", r.Purpose)
			}
			if n := f.bundle.Missing(); n != 0 {
				t.Errorf("%d messages missing", n)
			}
		})
	}
}

// TestLangMenu chooses on the SMS language menu, as on USSD: the answer is
// remembered for the phone and the root menu follows in the language.
func TestLangMenu(t *testing.T) {
	f := newFixture(t)
	f.send(t, "LANG")
	if r := f.send(t, "9"); !strings.HasPrefix(r.Text, "Choose one of the numbers shown.\nChoose your language") {
		t.Errorf("refused choice: %q", r.Text)
	}
	r := f.send(t, "٤")
	// Numbered "1 X" rather than "1. X" when that saves a segment.
	if !strings.HasPrefix(strings.Replace(r.Text, "\n1 ", "\n1. ", 1), "الخدمات الحكومية\n1. شهادة ميلاد\n") || f.prefs(t).Lang != "ar" {
		t.Errorf("after 4: prefs %+v, reply %q", f.prefs(t), r.Text)
	}
	// Every later dialogue is in Arabic, a shared keyword's too.
	if r := f.send(t, "MENU"); !strings.HasPrefix(r.Text, "الخدمات الحكومية") {
		t.Errorf("MENU after choosing Arabic: %q", r.Text)
	}
	if r := f.send(t, "0"); !strings.HasPrefix(r.Text, "الخدمات الحكومية") {
		t.Errorf("back on the root menu: %q", r.Text)
	}
}

// TestLangInDialogue switches language in the middle of an application:
// the question waiting is asked again in the new language, the answers
// given so far are kept, and the case is filed in the language chosen.
func TestLangInDialogue(t *testing.T) {
	f := newFixture(t)
	f.send(t, "BIRTH")
	f.send(t, "Amani Wanjiru")
	r := f.send(t, "LANGUE fr")
	if want := "Langue choisie: Francais.\nDate de naissance de l'enfant (JJ/MM/AAAA):\n"; !strings.HasPrefix(r.Text, want) {
		t.Errorf("reply\n%s\nwant it to start with\n%s", r.Text, want)
	}
	if r := f.send(t, "0"); !strings.HasPrefix(r.Text, "Nom complet de l'enfant:") {
		t.Errorf("back after the switch: %q", r.Text)
	}
	for _, m := range []string{"Amani Wanjiru", "01/11/2026", "Féminin", "Nakuru", "1", "Grace Wanjiru", "0712345678", "1"} {
		f.send(t, m)
	}
	if r := f.send(t, "1"); !strings.HasPrefix(r.Text, "Demande enregistrée.") {
		t.Errorf("end: %q", r.Text)
	}
	cs := f.cases(t)
	if len(cs) != 1 || cs[0].Lang != "fr" || cs[0].Answers[0].Value != "Amani Wanjiru" {
		t.Fatalf("cases = %+v", cs)
	}
}

// TestLangOnRootMenu switches on the root menu: it is shown again in the
// new language, and its numbers answer in it.
func TestLangOnRootMenu(t *testing.T) {
	f := newFixture(t)
	f.send(t, "MENU")
	r := f.send(t, "LUGHA 3")
	// Numbered "1 X" rather than "1. X" when that saves a segment.
	if want := "Lugha uliyochagua: Kiswahili.\nHuduma za serikali\n1. Cheti cha kuzaliwa\n"; !strings.HasPrefix(strings.Replace(r.Text, "\n1 ", "\n1. ", 1), want) {
		t.Errorf("reply\n%s\nwant it to start with\n%s", r.Text, want)
	}
	if r := f.send(t, "1"); !strings.HasPrefix(r.Text, "Jina kamili la mtoto:") {
		t.Errorf("1 after the switch: %q", r.Text)
	}
}

// TestLangWordInAnswer checks that an answer that starts with a language
// keyword is an answer, not a change of language.
func TestLangWordInAnswer(t *testing.T) {
	f := newFixture(t)
	for _, m := range []string{"TATIZO", "1", "Mombasa"} {
		f.send(t, m)
	}
	r := f.send(t, "Lugha ya alama haieleweki")
	if !strings.HasPrefix(r.Text, "Hakiki ripoti yako:") || !strings.Contains(r.Text, "Lugha ya alama haieleweki") {
		t.Errorf("reply %q", r.Text)
	}
	if p := f.prefs(t); p.Lang != "" {
		t.Errorf("prefs = %+v", p)
	}
}

// TestLangIdleDialogue switches after a dialogue went idle: the dialogue
// ends rather than wake up, and the next message starts afresh.
func TestLangIdleDialogue(t *testing.T) {
	f := newFixture(t)
	f.send(t, "BIRTH")
	f.clk.Add(13 * time.Hour)
	if r := f.send(t, "LANG sw"); r.Text != "Lugha uliyochagua: Kiswahili.\nJibu MENU kwa menyu kuu." {
		t.Errorf("reply %q", r.Text)
	}
	if r := f.send(t, "Amani"); !strings.HasPrefix(r.Text, "Huduma za serikali") {
		t.Errorf("after the idle dialogue ended: %q", r.Text)
	}
}

// TestLangOptedOut checks that a phone that sent STOP gets no reply to a
// language keyword, and that nothing changes.
func TestLangOptedOut(t *testing.T) {
	f := newFixture(t)
	f.send(t, "STOP")
	for _, m := range []string{"LANG ar", "LANG"} {
		if r := f.send(t, m); r.Text != "" {
			t.Errorf("%q after STOP answered %q", m, r.Text)
		}
	}
	if p := f.prefs(t); p.Lang != "" || !p.OptedOut {
		t.Errorf("prefs = %+v", p)
	}
}

// TestLangRemembered checks that a language chosen elsewhere (the app's
// profile, the USSD menu) is the one SMS answers in, over the language of
// the keyword the phone sends.
func TestLangRemembered(t *testing.T) {
	f := newFixture(t)
	if err := f.db.PutPrefs(context.Background(), phone, channels.Prefs{Lang: "ar"}); err != nil {
		t.Fatal(err)
	}
	if r := f.send(t, "NAISSANCE"); !strings.HasPrefix(r.Text, "اسم الطفل الكامل:") {
		t.Errorf("a French keyword from a phone that chose Arabic: %q", r.Text)
	}
	if r := f.send(t, "HELP"); !strings.HasPrefix(r.Text, "أرسل رقم اختيارك.") {
		t.Errorf("HELP: %q", r.Text)
	}
}

func TestFoldArabic(t *testing.T) {
	tests := []struct{ in, want string }{
		{"العربية", "العربيه"},
		{"العربيّة", "العربيه"}, // a shadda is a mark
		{"إيقاف", "ايقاف"},      // a hamza under alef is a mark once decomposed
		{"مستشفى", "مستشفي"},    // alef maksura
		{"مـسـاعـدة", "مساعده"}, // tatweel
		{" لغة  عربية! ", "لغه عربيه"},
		{"١٢", "١٢"}, // digits are Handle's: see asciiDigits
	}
	for _, tt := range tests {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestASCIIDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"٤", "4"},
		{"١٢/٠٣/٢٠٢٤", "12/03/2024"},
		{"۰۷۱۲۳۴۵۶۷۸", "0712345678"}, // Persian and Urdu forms
		{"ص.ب. ١٢، الخرطوم", "ص.ب. 12، الخرطوم"},
		{"Box 12", "Box 12"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := asciiDigits(tt.in); got != tt.want {
			t.Errorf("asciiDigits(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Handle reads them: a date typed in Arabic digits is accepted.
	f := newFixture(t)
	f.send(t, "ميلاد")
	f.send(t, "آمنة محمد")
	if r := f.send(t, "٠١/١١/٢٠٢٦"); !strings.HasPrefix(r.Text, "جنس الطفل:") {
		t.Errorf("date in Arabic digits: %q", r.Text)
	}
}

// TestRenderArabic checks that an Arabic reply is measured in UCS-2: 70
// units for one segment, 67 a part, and the navigation hint chosen by
// those budgets (a hint that would fit a GSM-7 segment many times over is
// dropped to save an Arabic one).
func TestRenderArabic(t *testing.T) {
	ar := func(n int) string { return strings.Repeat("ب", n) }
	b, err := locales.New(fstest.MapFS{"test.ar.yaml": {Data: []byte(fmt.Sprintf("test.b45: %s\ntest.b69: %s\ntest.b70: %s\ntest.b90: %s\ntest.b134: %s\n", ar(45), ar(69), ar(70), ar(90), ar(134)))}})
	if err != nil {
		t.Fatal(err)
	}
	in := func(id string) channels.Screen {
		return channels.Screen{Kind: channels.KindInput, Service: "s", Text: channels.Msg(id), CanGoBack: true}
	}
	tests := []struct {
		name  string
		sc    channels.Screen
		want  string
		parts int
	}{
		{"the short hint fits one segment, the full one would not", in("test.b45"), ar(45) + "\n0 رجوع، MENU القائمة", 1},
		{"no hint rather than a second segment", in("test.b69"), ar(69), 1},
		{"a full segment", channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("test.b70")}, ar(70), 1},
		{"two parts of 67", channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("test.b134")}, ar(134), 2},
		{"the full hint when the text takes two parts anyway", in("test.b90"), ar(90) + "\nأرسل 0 للرجوع أو MENU للقائمة الرئيسية.", 2},
		{"no hint rather than a third part", in("test.b134"), ar(134), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(b, "ar", tt.sc, Layout{})
			n, ucs2 := gsm7.Segments(got)
			if got != tt.want || n != tt.parts || !ucs2 {
				t.Errorf("Render = %q (%d segments, UCS-2 %v)\nwant %q (%d)", got, n, ucs2, tt.want, tt.parts)
			}
		})
	}
	if n, _ := gsm7.Segments(ar(135)); n != 3 {
		t.Errorf("135 Arabic letters take %d segments, want 3", n)
	}
}

// TestArabicTranscripts runs whole dialogues in Arabic and keeps them as
// golden transcripts.
func TestArabicTranscripts(t *testing.T) {
	tests := []struct {
		name  string
		msgs  []string
		cases int
	}{
		{"arabic_birth_certificate", []string{"ميلاد", "آمنة محمد علي", "٠١/١١/٢٠٢٦", "أنثى", "مستشفى الخرطوم", "الأم", "فاطمة علي", "0712345678", "بالبريد", "ص.ب. ١٢، الخرطوم", "تأكيد"}, 1},
		{"arabic_report_problem", []string{"لغة العربية", "بلاغ", "1", "K", "الخرطوم، قرب المحطة", "انقطاع المياه منذ يومين", "1"}, 1},
		{"arabic_language_menu", []string{"LANG", "9", "4", "مساعدة", "رجوع", "إيقاف", "START"}, 0},
		{"arabic_switch_in_dialogue", []string{"BIRTH", "Amani Wanjiru", "LANG ar", "31/02/2026", "01/11/2026", "LANG en", "0", "STOP"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			channelstest.Golden(t, filepath.Join("testdata", "transcripts", tt.name+".golden"), f.transcript(t, tt.msgs...), *update)
			cs := f.cases(t)
			if len(cs) != tt.cases {
				t.Fatalf("%d cases, want %d", len(cs), tt.cases)
			}
			if tt.cases > 0 && cs[0].Lang != "ar" {
				t.Errorf("case in %s, want ar", cs[0].Lang)
			}
		})
	}
}

// TestLongestCaseList renders, in every language, the longest list of
// cases a lookup can show: five cases (host.Store's default), each of the
// service with the longest title and in the status with the longest name.
// It must fit the reply budget of the server, which does not shorten a
// list: Kannel would cut a longer reply. In Arabic it takes 4 segments.
func TestLongestCaseList(t *testing.T) {
	e, b := renderShipped(t)
	for _, lang := range b.Langs() {
		longest := func(ids []string) string {
			best, most := "", -1
			for _, id := range ids {
				if n := utf8.RuneCountInString(b.Text(lang, channels.Msg(id))); n > most {
					best, most = id, n
				}
			}
			return best
		}
		var titles, statuses []string
		for _, svc := range e.Catalog().Services {
			titles = append(titles, svc.Title)
		}
		for _, s := range []channels.Status{channels.StatusSubmitted, channels.StatusInReview, channels.StatusMoreInfo,
			channels.StatusApproved, channels.StatusRejected, channels.StatusReady, channels.StatusClosed} {
			statuses = append(statuses, "status."+string(s))
		}
		line := channels.Msg("case.line", "Reference", "4821773057", "Service", channels.Msg(longest(titles)), "Status", channels.Msg(longest(statuses)))
		sc := channels.Screen{Kind: channels.KindEnd, Service: "check_status", Step: "mine", Text: channels.Msg("check.mine", "Count", 5)}
		for range 5 {
			sc.Lines = append(sc.Lines, line)
		}
		text := Render(b, lang, sc, Layout{MaxSegments: serverSegments})
		if b.Missing() != 0 {
			t.Fatalf("%s: %d messages missing", lang, b.Missing())
		}
		n, ucs2 := gsm7.Segments(text)
		length, _ := gsm7.Length(text)
		if n > serverSegments || strings.Contains(text, "[[") {
			t.Errorf("%s: %d segments:\n%s", lang, n, text)
		}
		if ucs2 != !slices.Contains([]string{"en", "fr", "sw"}, lang) {
			t.Errorf("%s: UCS-2 %v", lang, ucs2)
		}
		t.Logf("%s: %d segments, %d characters", lang, n, length)
	}
}
