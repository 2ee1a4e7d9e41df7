package cases_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
)

// checkFieldErr checks the parts of a FieldError that every validator promises: the field,
// both messages, ErrInvalid, and that no message repeats the (personal) value.
func checkFieldErr(t *testing.T, err *cases.FieldError, field, value string) {
	t.Helper()
	if err.Field != field || err.Zh == "" || err.En == "" || !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("%q: bad FieldError %+v", value, err)
	}
	// The messages' own text (the example 0719-4221234-801, "400/800 number") may of course
	// contain the value: fuzzing found "400/8", a substring of the English message.
	zh, en := err.Zh, err.En
	for _, fixed := range []string{"0719-4221234", "400/800"} {
		zh, en = strings.ReplaceAll(zh, fixed, ""), strings.ReplaceAll(en, fixed, "")
	}
	if v := strings.TrimSpace(value); len(v) >= 5 && (strings.Contains(zh, v) || strings.Contains(en, v)) {
		t.Errorf("%q: message repeats the value: %+v", value, err)
	}
}

func codeOf(err *cases.FieldError) string {
	if err == nil {
		return ""
	}
	return err.Code
}

func TestResidentIDCheck(t *testing.T) {
	for first17, want := range map[string]byte{
		"11010519491231002": 'X', // the sample of GB 11643-1999
		"42032319800101123": '4',
		"42032120000229001": '7',
		"44190019900615003": '8',
		"37131119000101000": '9',
	} {
		if got, ok := cases.ResidentIDCheck(first17); !ok || got != want {
			t.Errorf("ResidentIDCheck(%q) = %q, %v; want %q, true", first17, got, ok, want)
		}
	}
	for _, bad := range []string{"", "1101051949123100", "110105194912310021", "1101051949123100a", "１１010519491231002"} {
		if _, ok := cases.ResidentIDCheck(bad); ok {
			t.Errorf("ResidentIDCheck(%q) ok", bad)
		}
	}
}

func TestValidateResidentID(t *testing.T) {
	const f = "petitioners[0].id_number"
	for _, tc := range []struct {
		id, code string
	}{
		{"11010519491231002X", ""},
		{"420323198001011234", ""},
		{"420321200002290017", ""}, // 420321 郧县 was retired in 2014: still valid; 2000-02-29
		{"441900199006150038", ""},
		{"659012202312310025", ""},
		{"371311190001010009", ""}, // 1900-01-01

		{"", "resident_id_length"},
		{"11010519491231002", "resident_id_length"},
		{"11010519491231002X1", "resident_id_length"},
		{" 11010519491231002X", "resident_id_length"}, // callers trim
		{"110105491231002", "resident_id_length"},     // 15-digit first generation
		{"１１０１０５１９４９１２３１００２Ｘ", "resident_id_chars"},   // full-width
		{"11010519491231002x", "resident_id_chars"},
		{"1101051949123100XX", "resident_id_chars"},
		{"11010519491231002Y", "resident_id_chars"},
		{"11010519491231 02X", "resident_id_chars"},
		{"11010519491231002\x00", "resident_id_chars"},
		{"-1010519491231002X", "resident_id_chars"},
		{"99010519491231002X", "resident_id_province"},
		{"71010519491231002X", "resident_id_province"}, // Taiwan is not in the 2023 data
		{"81000019491231002X", "resident_id_province"}, // HK residence permit: not a resident ID
		{"00010519491231002X", "resident_id_province"},
		{"11010518991231002X", "resident_id_birthdate"},
		{"11010519000229002X", "resident_id_birthdate"}, // 1900 is not a leap year
		{"11010519490230002X", "resident_id_birthdate"},
		{"11010519491331002X", "resident_id_birthdate"},
		{"11010519490001002X", "resident_id_birthdate"},
		{"11010519491200002X", "resident_id_birthdate"},
		{"11010519490431002X", "resident_id_birthdate"},
		{"110105194912310021", "resident_id_checksum"},
		{"110105194912310020", "resident_id_checksum"},
		{"110105194912310012", "resident_id_checksum"}, // transposed 2 and 1
		{"420323198001011230", "resident_id_checksum"},
	} {
		err := cases.ValidateResidentID(f, tc.id)
		if got := codeOf(err); got != tc.code {
			t.Errorf("ValidateResidentID(%q) = %v, want code %q", tc.id, err, tc.code)
			continue
		}
		if err != nil {
			checkFieldErr(t, err, f, tc.id)
		}
	}
}

func TestValidateResidentID_Messages(t *testing.T) {
	err := cases.ValidateResidentID("id", "11010519491231002x")
	if !strings.Contains(err.Zh, "大写") || !strings.Contains(err.En, "capital X") {
		t.Errorf("lowercase x: %+v", err)
	}
	err = cases.ValidateResidentID("id", "110105491231002")
	if !strings.Contains(err.Zh, "15位") || !strings.Contains(err.En, "18-digit") {
		t.Errorf("15 digits: %+v", err)
	}
	err = cases.ValidateResidentID("id", "1101051949123100")
	if !strings.Contains(err.Zh, "现为16位") || !strings.Contains(err.En, "has 16") {
		t.Errorf("16 digits: %+v", err)
	}
	// The checksum message must not reveal the expected character.
	err = cases.ValidateResidentID("id", "110105194912310021")
	if err.Zh != "身份证号码校验位不正确，请核对" || strings.ContainsAny(err.En, "0123456789X") {
		t.Errorf("checksum: %+v", err)
	}
}

func TestValidatePhone(t *testing.T) {
	const f = "petitioners[0].phone"
	for _, s := range []string{
		"13812345678", "19912345678", "16612345678",
		" 13812345678 ", "\t13812345678\n", "\u300013812345678", // surrounding space is ignored
		"0719-4221234", "07194221234", "0719-42212345", "010-88886666", "01088886666",
		"021-6123456", "0991-8888888", "010-88886666-801", "0719-4221234-123456", "07194221234-1",
		"4008208820", "8008101234",
	} {
		if err := cases.ValidatePhone(f, s); err != nil {
			t.Errorf("ValidatePhone(%q) = %v, want nil", s, err)
		}
	}
	for _, tc := range []struct{ s, hint string }{
		{"", ""},
		{"12812345678", ""},
		{"10012345678", ""},
		{"1381234567", ""},
		{"138123456789", ""},
		{"138-1234-5678", ""},
		{"１３８１２３４５６７８", ""},
		{"013812345678", ""},
		{"0719-422123", ""},
		{"0719-422123456", ""},
		{"0719-0221234", ""},
		{"0719-1221234", ""},
		{"0719--4221234", ""},
		{"0719-4221234-", ""},
		{"0719-4221234-1234567", ""},
		{"0719-4221234-12-3", ""},
		{"0719-4221234转801", ""},
		{"011-88886666", ""},
		{"00-88886666", ""},
		{"0-88886666", ""},
		{"0", ""},
		{"400-820-8820", ""},
		{"4008208820-1", ""},
		{"5008208820", ""},
		{"12345", ""},
		{"138 1234 5678", "空格"},
		{"0719 4221234", "空格"},
		{"+8613812345678", "+86"},
		{"+86 13812345678", "+86"},
		{"8613812345678", "+86"},
		{"(0719)4221234", "括号"},
		{"（0719）4221234", "括号"},
	} {
		err := cases.ValidatePhone(f, tc.s)
		if codeOf(err) != "phone_format" {
			t.Errorf("ValidatePhone(%q) = %v, want phone_format", tc.s, err)
			continue
		}
		checkFieldErr(t, err, f, tc.s)
		if tc.hint != "" && !strings.Contains(err.Zh, tc.hint) {
			t.Errorf("ValidatePhone(%q).Zh = %q, want a hint about %s", tc.s, err.Zh, tc.hint)
		}
	}
}

func TestValidateRegion(t *testing.T) {
	const f = "region"
	for _, tc := range []struct {
		code   string
		levels []regions.Level
		want   string
	}{
		{"420323103201", nil, ""},
		{"420323103", nil, ""},
		{"420323", nil, "region_format"}, // a county is not allowed by default
		{"", nil, "region_format"},
		{"42032310320", nil, "region_format"},
		{"42032310320a", nil, "region_format"},
		{" 420323103201", nil, "region_format"},
		{"４２０３２３１０３", nil, "region_format"},
		{"420323103999", nil, "region_unknown"},
		{"420323999", nil, "region_unknown"},
		{"420321001", nil, "region_unknown"}, // 郧县, retired in 2014
		{"420323", []regions.Level{regions.County}, ""},
		{"42", []regions.Level{regions.Province, regions.City}, ""},
		{"420323103201", []regions.Level{regions.County}, "region_format"},
		{"420399", []regions.Level{regions.County}, "region_unknown"},
	} {
		err := cases.ValidateRegion(f, tc.code, tc.levels...)
		if got := codeOf(err); got != tc.want {
			t.Errorf("ValidateRegion(%q, %v) = %v, want code %q", tc.code, tc.levels, err, tc.want)
			continue
		}
		if err == nil {
			continue
		}
		checkFieldErr(t, err, f, tc.code)
		if tc.want == "region_unknown" && (!strings.Contains(err.Zh, "2023年") || !strings.Contains(err.En, "2023 edition")) {
			t.Errorf("ValidateRegion(%q): message without the edition: %+v", tc.code, err)
		}
	}
	err := cases.ValidateRegion(f, "420323")
	if !strings.Contains(err.Zh, "12位（村/社区）或9位（乡镇/街道）") || !strings.Contains(err.En, "12 digits (village) or 9 digits (township)") {
		t.Errorf("format message: %+v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("ValidateRegion with Level(0) did not panic")
		}
	}()
	cases.ValidateRegion(f, "42", regions.Level(0))
}

func TestValidate_NoAllocs(t *testing.T) {
	for name, fn := range map[string]func(){
		"resident_id": func() { cases.ValidateResidentID("id", "11010519491231002X") },
		"phone":       func() { cases.ValidatePhone("phone", "010-88886666-801") },
		"region":      func() { cases.ValidateRegion("region", "420323103201") },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs for a valid value, want 0", name, n)
		}
	}
}

// refProvinces are the 31 province-level codes, written out independently of package regions.
var refProvinces = strings.Fields("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65")

var refResidentIDChars = regexp.MustCompile(`^[0-9]{17}[0-9X]$`)

// refResidentID is a plain reference for ValidateResidentID: the error code it should give, or
// "" for a valid number. Weights come from their definition 2^(17−i) mod 11 and dates from
// package time.
func refResidentID(s string) string {
	if utf8.RuneCountInString(s) != 18 {
		return "resident_id_length"
	}
	if !refResidentIDChars.MatchString(s) {
		return "resident_id_chars"
	}
	found := false
	for _, p := range refProvinces {
		found = found || s[:2] == p
	}
	if !found {
		return "resident_id_province"
	}
	if d, err := time.Parse("20060102", s[6:14]); err != nil || d.Year() < 1900 {
		return "resident_id_birthdate"
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * ((1 << (17 - i)) % 11)
	}
	if "10X98765432"[sum%11] != s[17] {
		return "resident_id_checksum"
	}
	return ""
}

var refPhone = regexp.MustCompile(`^(1[3-9][0-9]{9}|0(10|2[0-9]|[3-9][0-9]{2})-?[2-9][0-9]{6,7}(-[0-9]{1,6})?|[48]00[0-9]{7})$`)

func FuzzValidateResidentID(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X", "420323198001011234", "420321200002290017", "11010519491231002x",
		"110105194912310021", "11010519000229002X", "99010519491231002X", "110105491231002",
		"１１０１０５１９４９１２３１００２Ｘ", "", "\xff\xfe0519491231002X",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkResidentID(t, s)
		// Random strings rarely have a matching check character; give the first 17 characters
		// theirs, so that the province and date checks and the property below get exercised.
		if len(s) >= 17 {
			if c, ok := cases.ResidentIDCheck(s[:17]); ok {
				checkResidentID(t, s[:17]+string(c))
			}
		}
	})
}

// checkResidentID compares ValidateResidentID with the reference and, for a valid number,
// checks that every single substitution and adjacent swap is refused.
func checkResidentID(t *testing.T, s string) {
	t.Helper()
	err := cases.ValidateResidentID("id", s)
	if got, want := codeOf(err), refResidentID(s); got != want {
		t.Fatalf("ValidateResidentID(%q) = %v, reference says %q", s, err, want)
	}
	if err != nil {
		checkFieldErr(t, err, "id", s)
		return
	}
	if c, ok := cases.ResidentIDCheck(s[:17]); !ok || c != s[17] {
		t.Fatalf("valid %q but ResidentIDCheck = %q, %v", s, c, ok)
	}
	// MOD 11-2 catches every single substitution and every swap of neighbours.
	b := []byte(s)
	for i := range b {
		orig := b[i]
		for _, c := range []byte("0123456789X") {
			if c != orig {
				b[i] = c
				if cases.ValidateResidentID("id", string(b)) == nil {
					t.Fatalf("%q valid and so is %q", s, b)
				}
			}
		}
		b[i] = orig
		if i > 0 && b[i-1] != b[i] {
			b[i-1], b[i] = b[i], b[i-1]
			if cases.ValidateResidentID("id", string(b)) == nil {
				t.Fatalf("%q valid and so is %q", s, b)
			}
			b[i-1], b[i] = b[i], b[i-1]
		}
	}
}

func FuzzValidatePhone(f *testing.F) {
	for _, s := range []string{
		"13812345678", " 13812345678 ", "0719-4221234", "07194221234", "010-88886666-801",
		"021-6123456", "4008208820", "8008101234", "138 1234 5678", "+8613812345678",
		"(0719)4221234", "0719-4221234-", "011-88886666", "", "0", "0719-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := cases.ValidatePhone("phone", s)
		want := refPhone.MatchString(strings.TrimSpace(s))
		if (err == nil) != want {
			t.Fatalf("ValidatePhone(%q) = %v, reference valid = %v", s, err, want)
		}
		if err != nil {
			if err.Code != "phone_format" {
				t.Fatalf("ValidatePhone(%q): code %q", s, err.Code)
			}
			checkFieldErr(t, err, "phone", s)
		}
	})
}

func BenchmarkValidateResidentID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		cases.ValidateResidentID("id", "11010519491231002X")
	}
}

func BenchmarkValidatePhone(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		cases.ValidatePhone("phone", "010-88886666-801")
	}
}

func BenchmarkValidateRegion(b *testing.B) {
	cases.ValidateRegion("region", "420323103201")
	b.ReportAllocs()
	for b.Loop() {
		cases.ValidateRegion("region", "420323103201")
	}
}
