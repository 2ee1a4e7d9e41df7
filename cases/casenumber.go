package cases

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A case number is what a petitioner, a grid worker and a clerk say to each other on the
// phone: 3204-25-420. It is made offline by the station that registers the case and is unique
// without a network:
//
//	<station code>-<year>-<sequence><check digit>
//	3204          -25    -42       0
//
// The station code is 2–6 digits, no leading 0, unique in the deployment. The hub assigns it
// at enrollment, one per station incarnation: a reinstalled station cannot know which numbers
// its predecessor issued, so it gets a new code.
//
// The year is the last two digits of the year of registration in Shanghai (2000–2099).
//
// The sequence is 1, 2, 3, … per station and year, no leading 0, at most 9 digits. The
// station stores the last sequence of each year durably before it shows a number, so a clock
// set back a year cannot issue a number twice.
//
// The check digit is the Damm check digit of the code's length, the code, the year and the
// sequence. It catches every single misheard digit (一/七 on a bad line) and every swap of two
// neighbouring digits; the length digit catches a group boundary heard in the wrong place.
//
// Only digits: Latin letters are what gets confused when read aloud in Chinese (B/D/E/G/P/T/
// V/Z all end in -ee; M/N; S/F), and many petitioners do not use their names at all. Digits
// also go into any phone keypad. ParseCaseNumber accepts full-width digits (３２０４), and
// spaces or dashes of any width between the groups.
type CaseNumber struct {
	Station string // the station code, 2–6 digits
	Year    int    // 2000–2099
	Seq     uint64 // 1 … MaxCaseSeq
}

// MaxCaseSeq is the largest sequence number of a station in a year.
const MaxCaseSeq = 999_999_999

// CaseNumberError is a case number that cannot be used: the input, the 1-based character
// position concerned (0 when not one character), a stable Code and the reason in Chinese
// and English. Codes: empty, too_long, bad_char, groups, station, year, sequence,
// check_digit.
type CaseNumberError struct {
	Input string
	Pos   int
	Code  string
	Zh    string
	En    string
}

func (e *CaseNumberError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("case number %q: character %d: %s: %s", e.Input, e.Pos, e.Code, e.En)
	}
	return fmt.Sprintf("case number %q: %s: %s", e.Input, e.Code, e.En)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *CaseNumberError) Unwrap() error { return ErrInvalid }

// String returns n in its canonical form, 3204-25-420.
func (n CaseNumber) String() string {
	return fmt.Sprintf("%s-%02d-%d%d", n.Station, n.Year%100, n.Seq, n.check())
}

func (n CaseNumber) check() byte {
	return damm(strconv.Itoa(len(n.Station)) + n.Station + fmt.Sprintf("%02d", n.Year%100) + strconv.FormatUint(n.Seq, 10))
}

// FormatCaseNumber returns the case number of sequence seq of station in year.
func FormatCaseNumber(station string, year int, seq uint64) (string, error) {
	n := CaseNumber{Station: station, Year: year, Seq: seq}
	if err := n.validate(n.Station); err != nil {
		return "", err
	}
	return n.String(), nil
}

func (n CaseNumber) validate(input string) *CaseNumberError {
	bad := func(code, zh, en string) *CaseNumberError {
		return &CaseNumberError{Input: input, Code: code, Zh: zh, En: en}
	}
	switch {
	case len(n.Station) < 2 || len(n.Station) > 6 || !isDigits(n.Station) || n.Station[0] == '0':
		return bad("station", "站点代码应为 2–6 位数字，且不以 0 开头", "the station code must be 2–6 digits, not starting with 0")
	case n.Year < 2000 || n.Year > 2099:
		return bad("year", "年份应在 2000–2099 之间", "the year must be from 2000 to 2099")
	case n.Seq < 1 || n.Seq > MaxCaseSeq:
		return bad("sequence", fmt.Sprintf("序号应在 1–%d 之间", MaxCaseSeq), fmt.Sprintf("the sequence must be from 1 to %d", MaxCaseSeq))
	}
	return nil
}

// ParseCaseNumber parses a case number as written or typed from what was heard. A mistake is
// a *CaseNumberError saying which part is wrong; a wrong check digit means a digit was
// misheard or two were swapped, and the number must be asked for again.
func ParseCaseNumber(s string) (CaseNumber, error) {
	bad := func(pos int, code, zh, en string) (CaseNumber, error) {
		return CaseNumber{}, &CaseNumberError{Input: s, Pos: pos, Code: code, Zh: zh, En: en}
	}
	if len(s) > 64 {
		return bad(0, "too_long", "案件编号过长", "too long for a case number")
	}
	if !utf8.ValidString(s) {
		return bad(0, "bad_char", "案件编号含无效字符", "not valid text")
	}
	var groups []string
	var cur strings.Builder
	pos := 0
	for _, r := range s {
		pos++
		switch {
		case r >= '0' && r <= '9':
			cur.WriteRune(r)
		case r >= '０' && r <= '９':
			cur.WriteRune('0' + (r - '０'))
		case strings.ContainsRune("-－–—‐ \t\u3000", r):
			if cur.Len() > 0 {
				groups = append(groups, cur.String())
				cur.Reset()
			}
		default:
			hint := ""
			switch r {
			case 'O', 'o':
				hint = "0"
			case 'I', 'l', '|':
				hint = "1"
			}
			if hint != "" {
				return bad(pos, "bad_char", fmt.Sprintf("第 %d 个字符“%c”不是数字，是否应为 %s？", pos, r, hint),
					fmt.Sprintf("%q is not a digit; did you mean %s?", r, hint))
			}
			return bad(pos, "bad_char", fmt.Sprintf("第 %d 个字符“%c”不是数字或分隔符“-”", pos, r),
				fmt.Sprintf("%q is not a digit or a '-'", r))
		}
	}
	if cur.Len() > 0 {
		groups = append(groups, cur.String())
	}
	switch {
	case len(groups) == 0:
		return bad(0, "empty", "未填写案件编号", "no case number")
	case len(groups) != 3:
		return bad(0, "groups", fmt.Sprintf("案件编号应为用“-”分开的三组数字（如 3204-25-420），实为 %d 组", len(groups)),
			fmt.Sprintf("want three groups of digits separated by '-' (like 3204-25-420), got %d", len(groups)))
	case len(groups[1]) != 2:
		return bad(0, "year", "第二组应为两位年份（如 25）", "the second group must be the two-digit year (like 25)")
	case len(groups[2]) < 2 || len(groups[2]) > 10 || groups[2][0] == '0':
		return bad(0, "sequence", "第三组应为序号加一位校验码，2–10 位数字，且不以 0 开头",
			"the third group must be the sequence and a check digit: 2–10 digits, not starting with 0")
	}
	seqDigits := groups[2][:len(groups[2])-1]
	seq, _ := strconv.ParseUint(seqDigits, 10, 64) // ≤ 9 digits, all digits
	n := CaseNumber{Station: groups[0], Year: 2000 + atoi(groups[1]), Seq: seq}
	if err := n.validate(s); err != nil {
		return CaseNumber{}, err
	}
	if got := groups[2][len(groups[2])-1] - '0'; got != n.check() {
		return bad(0, "check_digit", "校验码不符：可能听错了某一位数字或颠倒了相邻两位，请再核对一遍",
			"the check digit does not match: a digit was probably misheard or two were swapped; ask again")
	}
	return n, nil
}

// dammTable is the quasigroup of order 10 of H. M. Damm's check digit algorithm (2004).
var dammTable = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

// damm returns the Damm check digit of a string of ASCII digits.
func damm(digits string) byte {
	var interim byte
	for i := 0; i < len(digits); i++ {
		interim = dammTable[interim][digits[i]-'0']
	}
	return interim
}
