package cases

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fengqiao/fengqiao/cases/regions"
)

// This file validates the identity fields of a local write: resident ID numbers, phone numbers
// and region codes. The validators only judge; they never return a corrected value, so they
// accept each number in the one spelling that should be stored, and their messages say how
// to fix the rest. No message repeats the value, which may be personal data that ends up in
// logs.

// residentIDWeights are the MOD 11-2 weights of the first 17 characters, 2^(17−i) mod 11.
var residentIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// ResidentIDCheck returns the check character (GB 11643-1999, ISO 7064 MOD 11-2) of a resident
// ID whose first 17 characters are first17: '0'–'9' or 'X'. It reports false if first17 is not
// 17 ASCII digits. Tests and demos use it to make valid numbers:
//
//	first17 := "42032319800101123"
//	c, _ := cases.ResidentIDCheck(first17)
//	id := first17 + string(c)
func ResidentIDCheck(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * residentIDWeights[i]
	}
	return "10X98765432"[sum%11], true
}

// ValidateResidentID checks a citizen identity number (公民身份号码, GB 11643-1999) and returns
// nil if it is valid, or a FieldError for field with one of these codes, checked in this order:
//
//   - resident_id_length: not 18 characters (15-digit first-generation numbers are refused;
//     the message asks for the 18-digit number).
//   - resident_id_chars: the first 17 are not all ASCII digits, or the last is not a digit or
//     an uppercase X. A lowercase x is refused with a message asking for X, so that one
//     number has one spelling for search and duplicate detection.
//   - resident_id_province: the first two digits are not a province of the regions package.
//     The rest of the 6-digit address code is not checked: it is the county of registration
//     when the number was issued, and codes retired since then stay valid in old numbers.
//   - resident_id_birthdate: digits 7–14 are not a calendar date YYYYMMDD with year ≥ 1900.
//     The package has no clock, so a date in the future is not caught here.
//   - resident_id_checksum: the check character does not match. The message does not say
//     which character was expected: that would help to fix a typo, but also to make up a
//     number that passes.
//
// s is checked as given: surrounding spaces are an error (resident_id_length), so callers trim
// first, as the form handling does.
func ValidateResidentID(field, s string) *FieldError {
	if n := utf8.RuneCountInString(s); n != 18 {
		if n == 15 && isDigits(s) {
			return fieldErr(field, "resident_id_length",
				"这是15位旧身份证号码，请填写18位公民身份号码",
				"This is an old 15-digit ID number; please enter the 18-digit resident ID number")
		}
		return fieldErr(field, "resident_id_length",
			"身份证号码应为18位，现为"+strconv.Itoa(n)+"位，请核对",
			"A resident ID number has 18 characters, this one has "+strconv.Itoa(n)+"; please check it")
	}
	// 18 characters in more than 18 bytes: some are not ASCII (full-width digits, letters).
	if len(s) != 18 || !isDigits(s[:17]) {
		return residentIDCharsErr(field)
	}
	switch c := s[17]; {
	case c == 'x':
		return fieldErr(field, "resident_id_chars",
			"身份证号码最后一位请用大写字母X",
			"Use a capital X as the last character of the resident ID number")
	case c != 'X' && (c < '0' || c > '9'):
		return residentIDCharsErr(field)
	}
	if r, ok := regions.Lookup(s[:2]); !ok || r.Level != regions.Province {
		return fieldErr(field, "resident_id_province",
			"身份证号码前两位不是有效的省份代码，请核对",
			"The first two digits of the resident ID number are not a province code; please check the number")
	}
	if !validBirthDate(s[6:14]) {
		return fieldErr(field, "resident_id_birthdate",
			"身份证号码第7至14位的出生日期不正确，请核对",
			"Digits 7 to 14 of the resident ID number are not a valid birth date; please check the number")
	}
	if c, _ := ResidentIDCheck(s[:17]); c != s[17] {
		return fieldErr(field, "resident_id_checksum",
			"身份证号码校验位不正确，请核对",
			"The resident ID's check digit does not match; please check the number")
	}
	return nil
}

func residentIDCharsErr(field string) *FieldError {
	return fieldErr(field, "resident_id_chars",
		"身份证号码只能是17位数字加1位数字或大写X，请不要使用全角字符、空格或其他符号",
		"A resident ID number is 17 digits followed by a digit or a capital X; no full-width characters, spaces or other signs")
}

// validBirthDate reports whether d, 8 ASCII digits, is a calendar date YYYYMMDD in or after 1900.
func validBirthDate(d string) bool {
	y, _ := strconv.Atoi(d[0:4])
	m, _ := strconv.Atoi(d[4:6])
	day, _ := strconv.Atoi(d[6:8])
	if y < 1900 || m < 1 || m > 12 || day < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return day <= days
}

// ValidatePhone checks a mainland China phone number and returns nil if it is one of:
//
//   - a mobile number: 11 digits starting 13–19, e.g. 13812345678;
//   - a landline: 0, the area code, an optional '-', the 7- or 8-digit local number (not
//     starting with 0 or 1), then optionally '-' and an extension of 1–6 digits, e.g.
//     0719-4221234, 01088886666, 010-88886666-801. The area code is 2 digits after the 0 when
//     they start with 1 or 2 (010, 020–029), otherwise 3 (0719), which is how Chinese area codes
//     are allocated and makes a number without '-' unambiguous;
//   - a 400 or 800 service number: 10 digits, e.g. 4008208820, without '-'.
//
// Leading and trailing white space is ignored (callers store the trimmed value); nothing else
// is removed: no spaces or '-' inside a mobile number, no +86, no brackets around the area
// code. Anything else is a FieldError with code phone_format.
func ValidatePhone(field, s string) *FieldError {
	t := strings.TrimSpace(s)
	if isMobile(t) || isLandline(t) || isServiceNumber(t) {
		return nil
	}
	zh, en := "电话号码格式不正确：手机号为11位数字；固定电话为区号加号码，如0719-4221234或0719-4221234-801；400/800电话为10位数字",
		"Not a valid phone number: a mobile number has 11 digits; a landline is area code and number, e.g. 0719-4221234 or 0719-4221234-801; a 400/800 number has 10 digits"
	switch {
	case strings.HasPrefix(t, "+") || (strings.HasPrefix(t, "86") && len(t) == 13):
		zh, en = "电话号码请不要加国家代码（如+86）", "Leave out the country code (such as +86)"
	case strings.ContainsAny(t, " \u3000"):
		zh, en = "电话号码中请不要加空格", "Do not put spaces inside the phone number"
	case strings.ContainsAny(t, "()（）"):
		zh, en = "区号请不要加括号，用“-”与号码分开，如0719-4221234", "Do not put the area code in brackets; separate it with '-', e.g. 0719-4221234"
	}
	return fieldErr(field, "phone_format", zh, en)
}

func isMobile(s string) bool {
	return len(s) == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && isDigits(s)
}

func isServiceNumber(s string) bool {
	return len(s) == 10 && (strings.HasPrefix(s, "400") || strings.HasPrefix(s, "800")) && isDigits(s)
}

func isLandline(s string) bool {
	if len(s) < 3 || s[0] != '0' {
		return false
	}
	var area int // digits after the leading 0
	switch s[1] {
	case '1':
		if s[2] != '0' {
			return false
		}
		area = 2
	case '2':
		area = 2
	case '3', '4', '5', '6', '7', '8', '9':
		area = 3
	default:
		return false
	}
	if len(s) < 1+area || !isDigits(s[1:1+area]) {
		return false
	}
	rest := strings.TrimPrefix(s[1+area:], "-")
	num, ext, hasExt := strings.Cut(rest, "-")
	if len(num) < 7 || len(num) > 8 || num[0] < '2' || !isDigits(num) {
		return false
	}
	return !hasExt || (len(ext) >= 1 && len(ext) <= 6 && isDigits(ext))
}

// ValidateRegion checks a statistical division code and returns nil if it is a code of one of
// levels (by default Village or Township, that is 12 or 9 digits) that exists in the edition of
// package regions. Otherwise the FieldError's code is region_format (not all ASCII digits, or
// the wrong length for levels) or region_unknown (not in this edition; the message names the
// edition year, since codes change every year). It panics if a level is not a regions.Level
// constant.
func ValidateRegion(field, code string, levels ...regions.Level) *FieldError {
	if len(levels) == 0 {
		levels = []regions.Level{regions.Village, regions.Township}
	}
	ok := false
	for _, l := range levels {
		if l.Digits() == 0 {
			panic("cases: ValidateRegion: invalid level " + l.String())
		}
		ok = ok || len(code) == l.Digits()
	}
	if !ok || !isDigits(code) {
		var zh, en []string
		for _, l := range levels {
			zh = append(zh, strconv.Itoa(l.Digits())+"位（"+levelZh[l]+"）")
			en = append(en, strconv.Itoa(l.Digits())+" digits ("+levelEn[l]+")")
		}
		return fieldErr(field, "region_format",
			"地区代码应为"+strings.Join(zh, "或")+"数字，请从列表中选择",
			"A region code has "+strings.Join(en, " or ")+"; please pick the region from the list")
	}
	if !regions.Known(code) {
		y := strconv.Itoa(regions.Edition)
		return fieldErr(field, "region_unknown",
			"该地区代码不在"+y+"年版统计用区划代码中，可能已撤销或有误，请从列表中重新选择",
			"This region code is not in the "+y+" edition of the division codes (it may have been abolished or mistyped); please pick the region again from the list")
	}
	return nil
}

var (
	levelZh = map[regions.Level]string{regions.Province: "省", regions.City: "市", regions.County: "县/区",
		regions.Township: "乡镇/街道", regions.Village: "村/社区"}
	levelEn = map[regions.Level]string{regions.Province: "province", regions.City: "city", regions.County: "county",
		regions.Township: "township", regions.Village: "village"}
)

// isDigits reports whether s is non-empty and all ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
