package cases

// defaultCalendarText is the built-in calendar: the State Council's published holiday
// arrangements for 2025 and 2026. Each year's notice appears in November of the year
// before; a county admin supplies the next year as a calendar file (docs/domain.md) until a
// release carries it here.
const defaultCalendarText = `# 国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号，2024-11-12）
# 国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）
version cn-2025-2026.1
years 2025 2026
rollover off

# 2025
holiday 2025-01-01 元旦
workday 2025-01-26 春节调休
holiday 2025-01-28..2025-02-04 春节
workday 2025-02-08 春节调休
holiday 2025-04-04..2025-04-06 清明节
workday 2025-04-27 劳动节调休
holiday 2025-05-01..2025-05-05 劳动节
holiday 2025-05-31..2025-06-02 端午节
workday 2025-09-28 国庆节调休
holiday 2025-10-01..2025-10-08 国庆节、中秋节
workday 2025-10-11 国庆节调休

# 2026
holiday 2026-01-01..2026-01-03 元旦
workday 2026-01-04 元旦调休
workday 2026-02-14 春节调休
holiday 2026-02-15..2026-02-23 春节
workday 2026-02-28 春节调休
holiday 2026-04-04..2026-04-06 清明节
holiday 2026-05-01..2026-05-05 劳动节
workday 2026-05-09 劳动节调休
holiday 2026-06-19..2026-06-21 端午节
holiday 2026-09-25..2026-09-27 中秋节
workday 2026-09-20 国庆节调休
holiday 2026-10-01..2026-10-07 国庆节
workday 2026-10-10 国庆节调休
`

var defaultCalendar = func() *Calendar {
	c, err := ParseCalendar(defaultCalendarText)
	if err != nil {
		panic("cases: built-in calendar: " + err.Error()) // a bug in this file; TestDefaultCalendar catches it
	}
	return c
}()

// DefaultCalendar returns the built-in calendar (2025 and 2026, version cn-2025-2026.1),
// with roll-over off.
func DefaultCalendar() *Calendar { return defaultCalendar }

// DefaultCalendarText returns the built-in calendar as a calendar file with its comments,
// for an admin to start the next year's file from.
func DefaultCalendarText() string { return defaultCalendarText }
