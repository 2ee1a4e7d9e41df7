package cases_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fengqiao/fengqiao/cases"
)

// date parses 2006-01-02 or fails the test.
func date(t testing.TB, s string) cases.Date {
	t.Helper()
	d, err := cases.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// utc parses an RFC 3339 instant or fails the test.
func utc(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestShanghai_MatchesTZDatabase(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skipf("no tz database here: %v", err)
	}
	// China's last summer time ended in September 1991.
	for at := time.Date(1992, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() < 2100; at = at.Add(13*24*time.Hour + 7*time.Hour) {
		_, want := at.In(loc).Zone()
		if _, got := at.In(cases.Shanghai).Zone(); got != want {
			t.Fatalf("%s: offset %d, tz database says %d", at, got, want)
		}
	}
}

func TestDateOf_ShanghaiMidnight(t *testing.T) {
	for _, tc := range []struct{ at, want string }{
		{"2025-01-15T15:59:59Z", "2025-01-15"}, // 23:59:59 in Shanghai
		{"2025-01-15T16:00:00Z", "2025-01-16"}, // 00:00 in Shanghai: already the next day
		{"2028-02-28T16:30:00Z", "2028-02-29"},
		{"2025-12-31T16:00:00Z", "2026-01-01"},
		{"2025-01-16T00:30:00+08:00", "2025-01-16"},
	} {
		if got := cases.DateOf(utc(t, tc.at)); got.String() != tc.want {
			t.Errorf("DateOf(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
	d := date(t, "2025-01-16")
	if got, want := d.Start(), utc(t, "2025-01-15T16:00:00Z"); !got.Equal(want) {
		t.Errorf("Start = %s, want %s", got, want)
	}
	if got, want := d.End(), utc(t, "2025-01-16T16:00:00Z").Add(-time.Nanosecond); !got.Equal(want) {
		t.Errorf("End = %s, want %s", got, want)
	}
	if got := d.Weekday(); got != time.Thursday {
		t.Errorf("2025-01-16 is a %s, want Thursday", got)
	}
	if got := cases.MakeDate(1969, 12, 31).Weekday(); got != time.Wednesday {
		t.Errorf("1969-12-31 is a %s, want Wednesday", got)
	}
}

func TestParseDate_Rejects(t *testing.T) {
	for _, s := range []string{"2025-02-29", "2025-13-01", "2025-00-10", "2025-1-01", "20250101", "2025-01-32", "２025-01-01", ""} {
		if _, err := cases.ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) accepted", s)
		}
	}
	if got := date(t, "2028-02-29").String(); got != "2028-02-29" {
		t.Errorf("leap day: %s", got)
	}
}

func TestDefaultCalendar(t *testing.T) {
	c := cases.DefaultCalendar()
	if c.Version() != "cn-2025-2026.1" || c.RollOver() {
		t.Errorf("version %q rollover %v", c.Version(), c.RollOver())
	}
	if got := c.Years(); len(got) != 2 || got[0] != 2025 || got[1] != 2026 {
		t.Errorf("years %v", got)
	}
	// Weekdays off and weekends worked, counted by hand from the notices. 2025: 元旦 1/1 (1);
	// 春节 1/28–31, 2/3–4 (6); 清明 4/4 (1); 劳动 5/1–2, 5/5 (3); 端午 6/2 (1); 国庆中秋
	// 10/1–3, 10/6–8 (6): 18 days; worked 1/26 2/8 4/27 9/28 10/11: 5. 2026: 元旦 1/1–2 (2);
	// 春节 2/16–20, 2/23 (6); 清明 4/6 (1); 劳动 5/1, 5/4–5 (3); 端午 6/19 (1); 中秋 9/25 (1);
	// 国庆 10/1–2, 10/5–7 (5): 19 days; worked 1/4 2/14 2/28 5/9 9/20 10/10: 6. Either year,
	// off = 13 statutory days (全国年节及纪念日放假办法, 2024) + the days made up by working.
	for _, tc := range []struct{ year, off, worked int }{{2025, 18, 5}, {2026, 19, 6}} {
		off, worked := 0, 0
		for d := cases.MakeDate(tc.year, 1, 1); d.Year() == tc.year; d++ {
			weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
			switch {
			case weekend && c.IsWorkingDay(d):
				worked++
			case !weekend && !c.IsWorkingDay(d):
				off++
			}
		}
		if off != tc.off || worked != tc.worked || off != 13+worked {
			t.Errorf("%d: %d weekdays off, %d weekends worked; want %d, %d", tc.year, off, worked, tc.off, tc.worked)
		}
	}
	again, err := cases.ParseCalendar(c.Text())
	if err != nil || again.Text() != c.Text() {
		t.Errorf("Text does not round-trip: %v\n%s", err, c.Text())
	}
}

func TestCalendar_IsWorkingDay(t *testing.T) {
	c := cases.DefaultCalendar()
	for _, tc := range []struct {
		day  string
		want bool
	}{
		{"2025-01-01", false}, // 元旦, Wednesday
		{"2025-01-26", true},  // Sunday, 春节调休
		{"2025-01-28", false}, // 除夕
		{"2025-02-04", false}, // Tuesday, last day of 春节
		{"2025-02-05", true},
		{"2025-02-08", true},  // Saturday, 春节调休
		{"2025-02-09", false}, // an ordinary Sunday
		{"2025-04-27", true},  // Sunday, 劳动节调休
		{"2025-05-05", false}, // Monday, 劳动节
		{"2025-09-28", true},  // Sunday, 国庆调休
		{"2025-10-08", false}, // Wednesday, 国庆+中秋
		{"2025-10-09", true},
		{"2025-10-11", true},  // Saturday, 国庆调休
		{"2025-03-08", false}, // an ordinary Saturday
		{"2025-03-10", true},  // an ordinary Monday
		{"2026-01-02", false}, // Friday, 元旦
		{"2026-01-04", true},  // Sunday, 元旦调休
		{"2026-02-14", true},  // Saturday, 春节调休
		{"2026-02-23", false}, // Monday, 正月初七
		{"2026-02-28", true},  // Saturday, 春节调休
		{"2026-05-09", true},  // Saturday, 劳动节调休
		{"2026-09-20", true},  // Sunday, 国庆调休
		{"2026-10-07", false}, // Wednesday, 国庆
		{"2026-10-10", true},  // Saturday, 国庆调休
		{"2027-01-01", true},  // Friday, not covered: weekdays assumed working
	} {
		if got := c.IsWorkingDay(date(t, tc.day)); got != tc.want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", tc.day, got, tc.want)
		}
	}
	if c.Covers(date(t, "2027-01-01")) || !c.Covers(date(t, "2026-12-31")) {
		t.Error("Covers: want 2025–2026 only")
	}
	var none *cases.Calendar
	if none.IsWorkingDay(date(t, "2025-01-28")) != true || none.Covers(date(t, "2025-01-28")) || none.Version() != "" {
		t.Error("nil calendar: want Monday–Friday, covering nothing")
	}
}

func TestCalendar_AddWorkingDays(t *testing.T) {
	c := cases.DefaultCalendar()
	for _, tc := range []struct {
		from string
		n    int
		want string
	}{
		{"2025-03-03", 1, "2025-03-04"}, // the start day is not counted, even a working day
		{"2025-03-07", 1, "2025-03-10"}, // Friday → Monday
		{"2025-03-03", 0, "2025-03-03"},
		// Across 春节 2025: 1/25 Sat no, 1/26 Sun 调休 (1), 1/27 (2), 1/28–2/4 off, 2/5 (3), 2/6 (4), 2/7 (5).
		{"2025-01-24", 5, "2025-02-07"},
		// Across 国庆 2025: 9/27 Sat no, 9/28 Sun 调休 (1), 9/29 (2), 9/30 (3), 10/1–10/8 off, 10/9 (4), 10/10 (5).
		{"2025-09-26", 5, "2025-10-10"},
		{"2025-10-10", 1, "2025-10-11"}, // Friday → the 调休 Saturday
		// Across 春节 2026: 2/14 Sat 调休 (1), 2/15–2/23 off, 2/24 (2), 2/25 (3), 2/26 (4), 2/27 (5).
		{"2026-02-13", 5, "2026-02-27"},
		{"2025-02-05", -1, "2025-01-27"}, // back across 春节
		{"2026-12-31", 2, "2027-01-04"},  // into 2027 (not covered): Fri 1/1 (1), Mon 1/4 (2)
	} {
		if got := c.AddWorkingDays(date(t, tc.from), tc.n); got.String() != tc.want {
			t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tc.from, tc.n, got, tc.want)
		}
	}
}

func TestCalendar_AddCalendarDays(t *testing.T) {
	c := cases.DefaultCalendar()
	for _, tc := range []struct {
		from string
		n    int
		want string
	}{
		{"2025-01-01", 15, "2025-01-16"},
		{"2025-01-31", 30, "2025-03-02"}, // Feb 2025 has 28 days: 2/28 is +28, 3/2 is +30
		{"2028-01-30", 30, "2028-02-29"}, // 2028 is a leap year: 1/31 is +1, 2/29 is +30
		{"2028-02-14", 15, "2028-02-29"},
		{"2027-12-31", 60, "2028-02-29"}, // 1/31 is +31, 2/29 is +60
		{"2025-01-20", 15, "2025-02-04"}, // a holiday: no roll-over here
	} {
		if got := c.AddCalendarDays(date(t, tc.from), tc.n); got.String() != tc.want {
			t.Errorf("AddCalendarDays(%s, %d) = %s, want %s", tc.from, tc.n, got, tc.want)
		}
	}
}

// TestCalendar_Property_AddWorkingDays checks AddWorkingDays against a naive count: the
// result is a working day, and exactly n working days lie after from up to it.
func TestCalendar_Property_AddWorkingDays(t *testing.T) {
	c := cases.DefaultCalendar()
	rapid.Check(t, func(t *rapid.T) {
		from := cases.MakeDate(2024, 12, 1) + cases.Date(rapid.IntRange(0, 800).Draw(t, "from"))
		n := rapid.IntRange(1, 40).Draw(t, "n")
		got := c.AddWorkingDays(from, n)
		count := 0
		for d := from + 1; d <= got; d++ {
			if c.IsWorkingDay(d) {
				count++
			}
		}
		if count != n || !c.IsWorkingDay(got) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s: %d working days up to it, working %v", from, n, got, count, c.IsWorkingDay(got))
		}
		if back := c.AddWorkingDays(got, -n); back > from || c.AddWorkingDays(back, n) != got {
			t.Fatalf("counting back %d from %s gives %s", n, got, back)
		}
	})
}

const testCalendarHead = "version t1\nyears 2025\n"

func TestParseCalendar_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
		code       string
	}{
		{"no version", "years 2025\n", 0, "no_version"},
		{"no years", "version t1\n", 0, "no_years"},
		{"unknown directive", testCalendarHead + "holidays 2025-01-01\n", 3, "unknown_directive"},
		{"version twice", testCalendarHead + "version t2\n", 3, "repeated"},
		{"version with space", "version t 1\nyears 2025\n", 1, "bad_version"},
		{"version non-ASCII", "version 版本\nyears 2025\n", 1, "bad_version"},
		{"version empty", "version\nyears 2025\n", 1, "missing_value"},
		{"bad year", "version t1\nyears 25\n", 2, "bad_year"},
		{"year out of range", "version t1\nyears 2100\n", 2, "bad_year"},
		{"year twice", "version t1\nyears 2025 2025\n", 2, "repeated_year"},
		{"bad rollover", testCalendarHead + "rollover yes\n", 3, "bad_rollover"},
		{"Feb 29 of a common year", testCalendarHead + "holiday 2025-02-29\n", 3, "bad_date"},
		{"date without a year", testCalendarHead + "\n# comment\nholiday 01-28 春节\n", 5, "bad_date"},
		{"range backwards", testCalendarHead + "holiday 2025-02-04..2025-01-28\n", 3, "bad_range"},
		{"range too long", testCalendarHead + "holiday 2025-01-01..2025-02-01\n", 3, "range_too_long"},
		{"range end bad", testCalendarHead + "holiday 2025-01-28..2025-02-30\n", 3, "bad_date"},
		{"workday range", testCalendarHead + "workday 2025-01-25..2025-01-26\n", 3, "workday_range"},
		{"workday on a Monday", testCalendarHead + "workday 2025-01-27\n", 3, "not_weekend"},
		{"holiday outside years", testCalendarHead + "holiday 2025-12-31..2026-01-01\n", 3, "outside_years"},
		{"listed twice", testCalendarHead + "holiday 2025-01-28..2025-02-04\nholiday 2025-02-01\n", 4, "listed_twice"},
		{"holiday and workday", testCalendarHead + "workday 2025-01-26\nholiday 2025-01-26\n", 4, "listed_twice"},
		{"missing date", testCalendarHead + "holiday\n", 3, "missing_value"},
		{"control character in name", testCalendarHead + "holiday 2025-01-01 元\x01旦\n", 3, "bad_name"},
		{"bad UTF-8", testCalendarHead + "holiday 2025-01-01 \xff\n", 3, "bad_utf8"},
		{"long line", testCalendarHead + "holiday 2025-01-01 " + strings.Repeat("x", 1100) + "\n", 3, "line_too_long"},
		{"too large", testCalendarHead + strings.Repeat("#\n", cases.MaxCalendarBytes), 0, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cases.ParseCalendar(tc.text)
			var ce *cases.CalendarError
			if !errors.As(err, &ce) || c != nil {
				t.Fatalf("ParseCalendar = %v, %v; want a *CalendarError", c, err)
			}
			if ce.Line != tc.line || ce.Code != tc.code || ce.Zh == "" || !errors.Is(err, cases.ErrInvalid) {
				t.Errorf("got line %d %s (%v); want line %d %s", ce.Line, ce.Code, err, tc.line, tc.code)
			}
		})
	}
}

func TestParseCalendar_CountyFile(t *testing.T) {
	// A test-only file (not a real arrangement) with CRLF line ends, a BOM, full-width
	// spaces and roll-over on.
	text := "\uFEFF# test\r\nversion county-test.2\r\nyears 2030\r\nrollover on\r\n" +
		"holiday\u30002030-02-02..2030-02-08  春节 假期\r\nworkday 2030-01-26 调休\r\n"
	c, err := cases.ParseCalendar(text)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != "county-test.2" || !c.RollOver() || c.IsWorkingDay(date(t, "2030-02-04")) || !c.IsWorkingDay(date(t, "2030-01-26")) {
		t.Errorf("parsed wrong:\n%s", c.Text())
	}
	want := "version county-test.2\nyears 2030\nrollover on\nworkday 2030-01-26 调休\nholiday 2030-02-02..2030-02-08 春节 假期\n"
	if got := c.Text(); got != want {
		t.Errorf("Text:\n%s\nwant\n%s", got, want)
	}
}

func FuzzParseCalendar(f *testing.F) {
	f.Add(cases.DefaultCalendarText())
	f.Add(testCalendarHead + "rollover on\nholiday 2025-01-28..2025-02-04 春节\nworkday 2025-01-26\n")
	f.Add(testCalendarHead + "holiday 2025-02-04..2025-01-28\n")
	f.Add("version x\nyears 2099\nholiday 2099-12-31..2100-01-01\n")
	f.Add("\uFEFFversion\u3000a\r\nyears 2000 2001\r\n")
	f.Add("workday 2025-01-26..\nholiday ..\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := cases.ParseCalendar(text)
		if err != nil {
			var ce *cases.CalendarError
			if c != nil || !errors.As(err, &ce) || ce.Code == "" || ce.En == "" || ce.Zh == "" {
				t.Fatalf("ParseCalendar = %v, %#v", c, err)
			}
			return
		}
		again, err := cases.ParseCalendar(c.Text())
		if err != nil || again.Text() != c.Text() {
			t.Fatalf("Text does not round-trip: %v\n%s", err, c.Text())
		}
		// Counting working days ends, on a working day, whatever the file declared.
		for _, y := range c.Years() {
			d := cases.MakeDate(y, 6, 1)
			if got := c.AddWorkingDays(d, 1); got <= d || !c.IsWorkingDay(got) {
				t.Fatalf("AddWorkingDays(%s, 1) = %s", d, got)
			}
		}
	})
}
