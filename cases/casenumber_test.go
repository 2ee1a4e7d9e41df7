package cases_test

import (
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/fengqiao/fengqiao/cases"
)

func TestFormatCaseNumber(t *testing.T) {
	// Check digit of station 3204, year 25, sequence 42: Damm over "4" (length of the code),
	// "3204", "25", "42", starting from 0: row 0 col 4 → 5; row 5 col 3 → 4; row 4 col 2 → 2;
	// row 2 col 0 → 4; row 4 col 4 → 0; row 0 col 2 → 1; row 1 col 5 → 5; row 5 col 4 → 2;
	// row 2 col 2 → 0. Check digit 0.
	got, err := cases.FormatCaseNumber("3204", 2025, 42)
	if err != nil || got != "3204-25-420" {
		t.Errorf("FormatCaseNumber = %q, %v; want 3204-25-420", got, err)
	}
	for _, tc := range []struct {
		station string
		year    int
		seq     uint64
		code    string
	}{
		{"0123", 2025, 1, "station"},
		{"1", 2025, 1, "station"},
		{"1234567", 2025, 1, "station"},
		{"12a4", 2025, 1, "station"},
		{"１２３", 2025, 1, "station"},
		{"3204", 1999, 1, "year"},
		{"3204", 2100, 1, "year"},
		{"3204", 2025, 0, "sequence"},
		{"3204", 2025, cases.MaxCaseSeq + 1, "sequence"},
	} {
		_, err := cases.FormatCaseNumber(tc.station, tc.year, tc.seq)
		var ce *cases.CaseNumberError
		if !errors.As(err, &ce) || ce.Code != tc.code || !errors.Is(err, cases.ErrInvalid) {
			t.Errorf("FormatCaseNumber(%q, %d, %d) = %v; want %s", tc.station, tc.year, tc.seq, err, tc.code)
		}
	}
}

func TestParseCaseNumber(t *testing.T) {
	want := cases.CaseNumber{Station: "3204", Year: 2025, Seq: 42}
	for _, s := range []string{"3204-25-420", " 3204 25 420 ", "３２０４－２５－４２０", "3204—25—420", "3204 - 25 - 420", "3204\u300025\u3000420"} {
		if got, err := cases.ParseCaseNumber(s); err != nil || got != want {
			t.Errorf("ParseCaseNumber(%q) = %+v, %v", s, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		code string
		pos  int
	}{
		{"", "empty", 0},
		{" - ", "empty", 0},
		{"3204-25", "groups", 0},
		{"3204-25-42-0", "groups", 0},
		{"3204-2025-420", "year", 0},
		{"3204-25-0420", "sequence", 0},
		{"3204-25-4", "sequence", 0},
		{"3204-25-12345678901", "sequence", 0},
		{"0204-25-420", "station", 0},
		{"1234567-25-420", "station", 0},
		{"32O4-25-420", "bad_char", 3}, // the letter O
		{"3204-25-42l", "bad_char", 11},
		{"3204/25/420", "bad_char", 5},
		{"3204-25-421", "check_digit", 0},
		{"3204-25-240", "check_digit", 0}, // 42 heard as 24
		{"3207-25-420", "check_digit", 0}, // one digit misheard
		{"320-42-5420", "check_digit", 0}, // a group boundary in the wrong place
		{strings.Repeat("1", 65), "too_long", 0},
		{"3204-25-\xff", "bad_char", 0},
	} {
		_, err := cases.ParseCaseNumber(tc.in)
		var ce *cases.CaseNumberError
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Pos != tc.pos || ce.Zh == "" || !errors.Is(err, cases.ErrInvalid) {
			t.Errorf("ParseCaseNumber(%q) = %v; want %s at %d", tc.in, err, tc.code, tc.pos)
		}
	}
}

func genCaseNumber(t *rapid.T) cases.CaseNumber {
	return cases.CaseNumber{
		Station: rapid.StringMatching(`[1-9][0-9]{1,5}`).Draw(t, "station"),
		Year:    rapid.IntRange(2000, 2099).Draw(t, "year"),
		Seq:     rapid.Uint64Range(1, cases.MaxCaseSeq).Draw(t, "seq"),
	}
}

// TestCaseNumber_Property_MishearingDetected checks that no single wrong digit and no swap
// of two neighbouring digits turns a case number into another valid one.
func TestCaseNumber_Property_MishearingDetected(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := genCaseNumber(t)
		s := n.String()
		if got, err := cases.ParseCaseNumber(s); err != nil || got != n {
			t.Fatalf("ParseCaseNumber(%q) = %+v, %v; want %+v", s, got, err, n)
		}
		var digits []int // positions of digits in s
		for i := 0; i < len(s); i++ {
			if s[i] != '-' {
				digits = append(digits, i)
			}
		}
		try := func(what, bad string) {
			if got, err := cases.ParseCaseNumber(bad); err == nil {
				t.Fatalf("%s: %q read as %q, a valid number %+v", what, s, bad, got)
			}
		}
		for _, i := range digits {
			for d := byte('0'); d <= '9'; d++ {
				if d != s[i] {
					try("one digit misheard", s[:i]+string(d)+s[i+1:])
				}
			}
		}
		for k := 0; k+1 < len(digits); k++ {
			i, j := digits[k], digits[k+1]
			if s[i] != s[j] {
				b := []byte(s)
				b[i], b[j] = b[j], b[i]
				try("two neighbours swapped", string(b))
			}
		}
		// The boundary between code and year heard one digit off.
		c, rest, _ := strings.Cut(s, "-")
		if len(c) > 2 {
			try("boundary", c[:len(c)-1]+"-"+c[len(c)-1:]+rest[:1]+"-"+rest[1:])
		}
	})
}

func FuzzParseCaseNumber(f *testing.F) {
	for _, s := range []string{"3204-25-420", "３２０４－２５－４２０", "10-00-12", "999999-99-9999999990", "32O4-25-420", "-", "1-2-3", "3204-25-0420", " 3204  25 420 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := cases.ParseCaseNumber(s)
		if err != nil {
			var ce *cases.CaseNumberError
			if !errors.As(err, &ce) || ce.Code == "" || ce.En == "" || ce.Zh == "" || ce.Input != s {
				t.Fatalf("ParseCaseNumber(%q) error %#v", s, err)
			}
			return
		}
		formatted, err := cases.FormatCaseNumber(n.Station, n.Year, n.Seq)
		if err != nil || formatted != n.String() {
			t.Fatalf("parsed %q as %+v, which formats as %q, %v", s, n, formatted, err)
		}
		if again, err := cases.ParseCaseNumber(formatted); err != nil || again != n {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, n, formatted, again, err)
		}
	})
}
