package cases

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Shanghai is China Standard Time, UTC+8, in which every statutory day is counted.
//
// It is a fixed zone, not time.LoadLocation("Asia/Shanghai"): loading reads the tz database
// from disk (I/O, which this package does not do) and a fresh station may not have one. The
// two agree for every instant since 1991, when China last observed summer time, so they agree
// for every case this system holds (calendar_test.go checks it where the database exists).
var Shanghai = time.FixedZone("CST", 8*60*60)

// Date is a civil date in the calendar, without a time or a zone, counted in days since
// 1970-01-01: Date(0) is 1970-01-01 and d+1 is the day after d. The date of an instant is
// its date in Shanghai (DateOf).
type Date int

const secondsPerDay = 24 * 60 * 60

// MakeDate returns the date y-m-d. Out-of-range months and days are normalised as
// time.Date does (2025-02-29 is 2025-03-01).
func MakeDate(y int, m time.Month, d int) Date {
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
}

// DateOf returns the date of instant t in Shanghai: 2025-01-15T16:30:00Z is 2025-01-16.
func DateOf(t time.Time) Date {
	y, m, d := t.In(Shanghai).Date()
	return MakeDate(y, m, d)
}

// Civil returns the year, month and day of d.
func (d Date) Civil() (year int, month time.Month, day int) {
	return time.Unix(int64(d)*secondsPerDay, 0).UTC().Date()
}

// Year returns the year of d.
func (d Date) Year() int { y, _, _ := d.Civil(); return y }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Weekday(((int(d)+4)%7 + 7) % 7) // 1970-01-01 was a Thursday
}

// Start returns 00:00 of d in Shanghai.
func (d Date) Start() time.Time { return time.Unix(int64(d)*secondsPerDay-8*60*60, 0).In(Shanghai) }

// End returns the last instant of d in Shanghai (23:59:59.999999999): a period ends at
// 24:00 of its last day, and an act at any instant up to End is in time.
func (d Date) End() time.Time { return (d + 1).Start().Add(-time.Nanosecond) }

// String formats d as 2006-01-02.
func (d Date) String() string {
	y, m, dd := d.Civil()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}

// ParseDate parses a date written 2006-01-02 (exactly: four-digit year, two-digit month and
// day, an existing day).
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !isDigits(s[:4]) || !isDigits(s[5:7]) || !isDigits(s[8:]) {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	y, m, d := atoi(s[:4]), time.Month(atoi(s[5:7])), atoi(s[8:])
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, fmt.Errorf("date %q: no month %d or day %d", s, m, d)
	}
	date := MakeDate(y, m, d)
	if _, m2, _ := date.Civil(); m2 != m {
		return 0, fmt.Errorf("date %q: %s has no day %d", s, m, d)
	}
	return date, nil
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// Calendar says which days are working days: Monday to Friday, except official holidays
// (法定节假日 and the weekdays given off around them, 放假调休), plus the Saturdays and Sundays
// worked instead (调休上班). It is versioned configuration: the State Council publishes each
// year's arrangement in November, and a county admin supplies it as a calendar file
// (ParseCalendar); DefaultCalendar is the one built in.
//
// A Calendar knows the years it covers. Outside them it knows no holidays, so a working-day
// count that reaches an uncovered year is only an estimate; Clock.Provisional says so.
//
// A Calendar is immutable once built and safe for concurrent use. A nil *Calendar has no
// holidays, covers no year and does not roll over.
type Calendar struct {
	version  string
	years    []int // sorted
	rollOver bool
	entries  []calendarEntry // sorted by from
	holidays map[Date]bool
	workdays map[Date]bool
}

// calendarEntry is one holiday or workday line of a calendar file.
type calendarEntry struct {
	from, to Date // inclusive; from == to for a single day
	work     bool // a weekend worked (调休上班), else days off
	name     string
	line     int // in the file it came from (0 when unknown)
}

// Version returns the calendar's version string, as given in its file.
func (c *Calendar) Version() string {
	if c == nil {
		return ""
	}
	return c.version
}

// Years returns the years the calendar covers, ascending.
func (c *Calendar) Years() []int {
	if c == nil {
		return nil
	}
	return slices.Clone(c.years)
}

// RollOver reports whether a period of calendar days whose last day is not a working day
// ends on the next working day instead (the rule of 民法典 Art 203 and 民事诉讼法 Art 85, which
// R22 neither adopts nor excludes: DOMAIN.md §1.4 leaves holiday roll-over open). It is off
// unless the calendar file says "rollover on".
func (c *Calendar) RollOver() bool { return c != nil && c.rollOver }

// Covers reports whether d lies in a year the calendar covers.
func (c *Calendar) Covers(d Date) bool {
	if c == nil {
		return false
	}
	_, ok := slices.BinarySearch(c.years, d.Year())
	return ok
}

// coversRange reports whether every day in [from, to] is covered.
func (c *Calendar) coversRange(from, to Date) bool {
	for y := from.Year(); y <= to.Year(); y++ {
		if !c.Covers(MakeDate(y, 1, 1)) {
			return false
		}
	}
	return true
}

// IsWorkingDay reports whether d is a working day (工作日): a 调休 Saturday or Sunday is one,
// a holiday is not, otherwise Monday to Friday are.
func (c *Calendar) IsWorkingDay(d Date) bool {
	if c != nil {
		if c.workdays[d] {
			return true
		}
		if c.holidays[d] {
			return false
		}
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddCalendarDays returns the last day of a period of n calendar days (日) that starts on
// from. The day of the event is not counted: counting starts the next day, so 15 days from a
// receipt on 2025-01-01 end on 2025-01-16. This is the convention DOMAIN.md §1.4 reports
// ("counts from the day after acceptance") and the general rule of 民法典 Art 201 (开始的当日
// 不计入，自下一日开始计算). The period ends at 24:00 of that day (Date.End; 民法典 Art 203).
// Holidays do not matter here; see RollOver for the last day.
func (c *Calendar) AddCalendarDays(from Date, n int) Date { return from + Date(n) }

// AddWorkingDays returns the last day of a period of n working days (工作日, as in R22 Art
// 23(3)'s 5-working-day objection) that starts on from: the n-th working day after from.
// As for calendar days, from itself is not counted even when it is a working day. n = 0
// returns from; a negative n counts back.
func (c *Calendar) AddWorkingDays(from Date, n int) Date {
	step := Date(1)
	if n < 0 {
		step, n = -1, -n
	}
	d := from
	for n > 0 {
		d += step
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d
}

// nextWorkingDay returns d if it is a working day, else the first working day after it.
func (c *Calendar) nextWorkingDay(d Date) Date {
	for !c.IsWorkingDay(d) {
		d++
	}
	return d
}

// Text returns the calendar as a calendar file that ParseCalendar reads back to the same
// calendar (comments are not kept).
func (c *Calendar) Text() string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version %s\nyears", c.version)
	for _, y := range c.years {
		fmt.Fprintf(&b, " %d", y)
	}
	if c.rollOver {
		b.WriteString("\nrollover on\n")
	} else {
		b.WriteString("\nrollover off\n")
	}
	for _, e := range c.entries {
		if e.work {
			fmt.Fprintf(&b, "workday %s", e.from)
		} else if e.from == e.to {
			fmt.Fprintf(&b, "holiday %s", e.from)
		} else {
			fmt.Fprintf(&b, "holiday %s..%s", e.from, e.to)
		}
		if e.name != "" {
			b.WriteString(" " + e.name)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
