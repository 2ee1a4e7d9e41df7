package cases

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a calendar file.
const (
	MaxCalendarBytes   = 64 << 10
	maxCalendarLine    = 1024 // bytes
	maxCalendarEntries = 1000
	maxCalendarYears   = 20
	maxHolidayRange    = 31 // days in one holiday line
	maxCalendarName    = 64 // characters
)

// CalendarError is a calendar file that cannot be used: the line (1-based; 0 for the file
// as a whole), a stable machine-readable Code, and the reason in Chinese and English.
type CalendarError struct {
	Line int
	Code string
	Zh   string
	En   string
}

func (e *CalendarError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("calendar: %s: %s", e.Code, e.En)
	}
	return fmt.Sprintf("calendar line %d: %s: %s", e.Line, e.Code, e.En)
}

// Unwrap makes errors.Is(err, ErrInvalid) true: the file, not the system, is at fault.
func (e *CalendarError) Unwrap() error { return ErrInvalid }

// ParseCalendar reads a calendar file. It is UTF-8 text, one directive a line; blank lines
// and lines starting with # are ignored; words are separated by spaces:
//
//	# 2026 年部分节假日安排 (国务院办公厅 2025-11-04)
//	version cn-2026.1                       required, once: letters, digits, . _ - (≤ 64)
//	years 2026                              required, once: the years covered (2000–2099)
//	rollover off                            optional: on|off (default off), see RollOver
//	holiday 2026-02-15..2026-02-23 春节      days off, one day or an inclusive range ≤ 31 days
//	workday 2026-02-14 春节调休              a Saturday or Sunday worked (调休上班)
//
// A holiday or workday must lie in a covered year, and no day may be listed twice. Any
// mistake is a *CalendarError naming the line and what is wrong; ParseCalendar never panics.
func ParseCalendar(text string) (*Calendar, error) {
	if len(text) > MaxCalendarBytes {
		return nil, calErr(0, "too_large", fmt.Sprintf("日历文件超过 %d 字节", MaxCalendarBytes),
			fmt.Sprintf("the file is larger than %d bytes", MaxCalendarBytes))
	}
	c := &Calendar{holidays: map[Date]bool{}, workdays: map[Date]bool{}}
	seen := map[string]int{} // directive → line, for version/years/rollover
	text = strings.TrimPrefix(text, "\uFEFF")
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if len(line) > maxCalendarLine {
			return nil, calErr(n, "line_too_long", fmt.Sprintf("该行超过 %d 字节", maxCalendarLine),
				fmt.Sprintf("the line is longer than %d bytes", maxCalendarLine))
		}
		if !utf8.ValidString(line) {
			return nil, calErr(n, "bad_utf8", "该行不是有效的 UTF-8 文本", "the line is not valid UTF-8 text")
		}
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		dir, args := f[0], f[1:]
		switch dir {
		case "version", "years", "rollover":
			if prev, ok := seen[dir]; ok {
				return nil, calErr(n, "repeated", fmt.Sprintf("“%s”已在第 %d 行给出", dir, prev),
					fmt.Sprintf("%s is already given on line %d", dir, prev))
			}
			seen[dir] = n
			if len(args) == 0 {
				return nil, calErr(n, "missing_value", "“"+dir+"”后缺少值", dir+" needs a value")
			}
		}
		var err *CalendarError
		switch dir {
		case "version":
			err = c.parseVersion(n, args)
		case "years":
			err = c.parseYears(n, args)
		case "rollover":
			err = c.parseRollOver(n, args)
		case "holiday", "workday":
			err = c.parseEntry(n, dir == "workday", args)
		default:
			err = calErr(n, "unknown_directive", fmt.Sprintf("未知指令“%s”，应为 version、years、rollover、holiday 或 workday", dir),
				fmt.Sprintf("unknown directive %q; want version, years, rollover, holiday or workday", dir))
		}
		if err != nil {
			return nil, err
		}
	}
	if c.version == "" {
		return nil, calErr(0, "no_version", "缺少“version”行", "no version line")
	}
	if len(c.years) == 0 {
		return nil, calErr(0, "no_years", "缺少“years”行", "no years line")
	}
	if err := c.index(); err != nil {
		return nil, err
	}
	return c, nil
}

func calErr(line int, code, zh, en string) *CalendarError {
	return &CalendarError{Line: line, Code: code, Zh: zh, En: en}
}

func (c *Calendar) parseVersion(n int, args []string) *CalendarError {
	v := args[0]
	ok := len(args) == 1 && len(v) <= 64
	for _, r := range v {
		ok = ok && (r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-'))
	}
	if !ok {
		return calErr(n, "bad_version", "版本应为一个词：字母、数字、. _ -，不超过 64 个字符",
			"the version must be one word of letters, digits, '.', '_' or '-', at most 64 characters")
	}
	c.version = v
	return nil
}

func (c *Calendar) parseYears(n int, args []string) *CalendarError {
	if len(args) > maxCalendarYears {
		return calErr(n, "too_many_years", fmt.Sprintf("年份不能超过 %d 个", maxCalendarYears),
			fmt.Sprintf("at most %d years", maxCalendarYears))
	}
	for _, a := range args {
		y, err := strconv.Atoi(a)
		if err != nil || len(a) != 4 || y < 2000 || y > 2099 {
			return calErr(n, "bad_year", fmt.Sprintf("“%s”不是 2000–2099 之间的四位年份", a),
				fmt.Sprintf("%q is not a four-digit year from 2000 to 2099", a))
		}
		if slices.Contains(c.years, y) {
			return calErr(n, "repeated_year", fmt.Sprintf("年份 %d 重复", y), fmt.Sprintf("year %d is listed twice", y))
		}
		c.years = append(c.years, y)
	}
	slices.Sort(c.years)
	return nil
}

func (c *Calendar) parseRollOver(n int, args []string) *CalendarError {
	if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		return calErr(n, "bad_rollover", "“rollover”后应为 on 或 off", "rollover must be followed by on or off")
	}
	c.rollOver = args[0] == "on"
	return nil
}

func (c *Calendar) parseEntry(n int, work bool, args []string) *CalendarError {
	if len(args) == 0 {
		return calErr(n, "missing_value", "缺少日期", "a date is missing")
	}
	if len(c.entries) >= maxCalendarEntries {
		return calErr(n, "too_many_entries", fmt.Sprintf("节假日和调休行不能超过 %d 行", maxCalendarEntries),
			fmt.Sprintf("at most %d holiday and workday lines", maxCalendarEntries))
	}
	e := calendarEntry{work: work, line: n}
	first, last, isRange := strings.Cut(args[0], "..")
	var err error
	if e.from, err = ParseDate(first); err != nil {
		return calErr(n, "bad_date", "日期“"+first+"”无效，应为 YYYY-MM-DD 且确有该日", err.Error())
	}
	e.to = e.from
	if isRange {
		if work {
			return calErr(n, "workday_range", "调休上班日应逐日列出，不能写成区间",
				"list each make-up working day on its own line, not as a range")
		}
		if e.to, err = ParseDate(last); err != nil {
			return calErr(n, "bad_date", "日期“"+last+"”无效，应为 YYYY-MM-DD 且确有该日", err.Error())
		}
		if e.to < e.from {
			return calErr(n, "bad_range", fmt.Sprintf("区间结束日 %s 早于开始日 %s", e.to, e.from),
				fmt.Sprintf("the range ends (%s) before it starts (%s)", e.to, e.from))
		}
		if e.to-e.from >= maxHolidayRange {
			return calErr(n, "range_too_long", fmt.Sprintf("一行的假期不能超过 %d 天", maxHolidayRange),
				fmt.Sprintf("a holiday line covers at most %d days", maxHolidayRange))
		}
	}
	if wd := e.from.Weekday(); work && wd != 0 && wd != 6 {
		return calErr(n, "not_weekend", fmt.Sprintf("%s 是%s，本就是工作日；workday 只用于调休上班的周六或周日", e.from, weekdayZh[wd]),
			fmt.Sprintf("%s is a %s, a working day anyway; workday is for a Saturday or Sunday worked instead (调休)", e.from, wd))
	}
	e.name = strings.Join(args[1:], " ")
	if utf8.RuneCountInString(e.name) > maxCalendarName || strings.IndexFunc(e.name, unicode.IsControl) >= 0 {
		return calErr(n, "bad_name", fmt.Sprintf("名称不能超过 %d 个字符，也不能含控制字符", maxCalendarName),
			fmt.Sprintf("the name must be at most %d characters without control characters", maxCalendarName))
	}
	c.entries = append(c.entries, e)
	return nil
}

var weekdayZh = [7]string{"周日", "周一", "周二", "周三", "周四", "周五", "周六"}

// index checks the entries against the covered years and each other, in file order, and
// fills the day sets.
func (c *Calendar) index() error {
	listed := map[Date]int{} // day → line
	for _, e := range c.entries {
		for d := e.from; d <= e.to; d++ {
			if !c.Covers(d) {
				return calErr(e.line, "outside_years", fmt.Sprintf("%s 不在本日历覆盖的年份内（years 行）", d),
					fmt.Sprintf("%s is not in a year the calendar covers (the years line)", d))
			}
			if prev, ok := listed[d]; ok {
				return calErr(e.line, "listed_twice", fmt.Sprintf("%s 已在第 %d 行列出", d, prev),
					fmt.Sprintf("%s is already listed on line %d", d, prev))
			}
			listed[d] = e.line
			if e.work {
				c.workdays[d] = true
			} else {
				c.holidays[d] = true
			}
		}
	}
	slices.SortFunc(c.entries, func(a, b calendarEntry) int { return int(a.from - b.from) })
	return nil
}
