package cases_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fengqiao/fengqiao/cases"
)

// at parses "2006-01-02" (10:00 in Shanghai that day) or an RFC 3339 instant.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	if len(s) == 10 {
		s += "T10:00:00+08:00"
	}
	return utc(t, s)
}

func ev(t testing.TB, kind cases.EventKind, when string) cases.ClockEvent {
	t.Helper()
	return cases.ClockEvent{Kind: kind, At: at(t, when)}
}

func hearing(t testing.TB, from, until string) cases.ClockEvent {
	e := ev(t, cases.EventHearing, from)
	if until != "" {
		e.Until = at(t, until)
	}
	return e
}

func extension(t testing.TB, when string, days int) cases.ClockEvent {
	e := ev(t, cases.EventExtended, when)
	e.Days, e.Approver, e.ApproverRole, e.Reason = days, "张主任", cases.RoleUnitHead, "涉及多个部门，需会同调查"
	return e
}

// clockOf returns the clock of kind k, failing the test if there is none.
func clockOf(t testing.TB, cs []cases.Clock, k cases.ClockKind) cases.Clock {
	t.Helper()
	for _, c := range cs {
		if c.Kind == k {
			return c
		}
	}
	t.Fatalf("no %s clock in %+v", k, cs)
	return cases.Clock{}
}

// rollOverCalendar is the built-in calendar with roll-over on.
func rollOverCalendar(t testing.TB) *cases.Calendar {
	c, err := cases.ParseCalendar(strings.Replace(cases.DefaultCalendarText(), "rollover off", "rollover on", 1))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClocks_Table(t *testing.T) {
	def, roll := cases.DefaultCalendar(), rollOverCalendar(t)
	for _, tc := range []struct {
		name   string
		events []cases.ClockEvent
		cal    *cases.Calendar
		kind   cases.ClockKind
		last   string
		check  func(t *testing.T, c cases.Clock)
	}{
		{"decide: 15 days from receipt", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-01-01")}, def, cases.ClockDecide, "2025-01-16", nil},
		{"handle: month end, Jan 31 + 60", []cases.ClockEvent{ev(t, cases.EventAccepted, "2025-01-31")}, def, cases.ClockHandle, "2025-04-01", nil},
		{"review: leap year, Jan 30 + 30", []cases.ClockEvent{ev(t, cases.EventReviewRequested, "2028-01-30")}, def, cases.ClockReview, "2028-02-29", nil},
		{"handle: leap year, Dec 31 + 60", []cases.ClockEvent{ev(t, cases.EventAccepted, "2027-12-31")}, def, cases.ClockHandle, "2028-02-29",
			func(t *testing.T, c cases.Clock) {
				if c.Provisional {
					t.Error("a calendar-day clock without roll-over does not depend on the calendar")
				}
			}},
		{"decide ends on 春节 (no roll-over)", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-01-20")}, def, cases.ClockDecide, "2025-02-04", nil},
		{"decide rolls over 春节", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-01-20")}, roll, cases.ClockDecide, "2025-02-05", nil},
		// 9/23 + 15 = 10/8, the last day of 国庆+中秋 2025; the next working day is Thursday 10/9.
		{"decide rolls over 国庆", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-09-23")}, roll, cases.ClockDecide, "2025-10-09", nil},
		{"decide ends on 国庆 (no roll-over)", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-09-23")}, def, cases.ClockDecide, "2025-10-08", nil},
		// 9/26 + 15 = 10/11, a Saturday worked (调休): a working day, no roll-over needed.
		{"decide ends on a 调休 Saturday", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-09-26")}, roll, cases.ClockDecide, "2025-10-11", nil},
		{"decide rolls over a Sunday", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-03-01")}, roll, cases.ClockDecide, "2025-03-17", nil},
		{"notice: Jan 24 + 15", []cases.ClockEvent{ev(t, cases.EventForwardReceived, "2025-01-24")}, def, cases.ClockNotice, "2025-02-08", nil},
		// 1/25 Sat no, 1/26 Sun 调休 (1), 1/27 (2), 1/28–2/4 春节, 2/5 (3), 2/6 (4), 2/7 (5).
		{"objection: 5 working days across 春节 2025", []cases.ClockEvent{ev(t, cases.EventForwardReceived, "2025-01-24")}, def, cases.ClockObjection, "2025-02-07",
			func(t *testing.T, c cases.Clock) {
				if !c.Working || c.Days != 5 || c.Provisional || c.Holder != cases.HolderOrgan {
					t.Errorf("%+v", c)
				}
			}},
		// 10/1–10/7 国庆 2026, 10/8 Thu (1), 10/9 Fri (2), 10/10 Sat 调休 (3), 10/12 Mon (4), 10/13 (5).
		{"objection: across 国庆 2026 and its 调休 Saturday", []cases.ClockEvent{ev(t, cases.EventForwardReceived, "2026-09-30")}, def, cases.ClockObjection, "2026-10-13", nil},
		// 9/27 Sat no, 9/28 Sun 调休 (1), 9/29 (2), 9/30 (3), 10/1–10/8 off, 10/9 (4), 10/10 (5).
		{"objection: across 国庆 2025 from a Friday", []cases.ClockEvent{ev(t, cases.EventForwardReceived, "2025-09-26")}, def, cases.ClockObjection, "2025-10-10", nil},
		// 12/31 Thu (1), 2027-01-01 Fri (2, assumed a working day), 1/4 (3), 1/5 (4), 1/6 (5).
		{"objection into an uncovered year is provisional", []cases.ClockEvent{ev(t, cases.EventForwardReceived, "2026-12-30")}, def, cases.ClockObjection, "2027-01-06",
			func(t *testing.T, c cases.Clock) {
				if !c.Provisional {
					t.Error("want Provisional")
				}
			}},
		{"objection with no calendar is provisional", []cases.ClockEvent{ev(t, cases.EventForwardReceived, "2025-01-24")}, nil, cases.ClockObjection, "2025-01-31",
			func(t *testing.T, c cases.Clock) {
				if !c.Provisional {
					t.Error("want Provisional")
				}
			}},
		// 3/1 + 30 = 3/31, plus the 3 hearing days 3/10–3/12 not counted: 4/3.
		{"rereview: hearing days not counted", []cases.ClockEvent{ev(t, cases.EventReReviewRequested, "2025-03-01"), hearing(t, "2025-03-10", "2025-03-12")}, def, cases.ClockReReview, "2025-04-03",
			func(t *testing.T, c cases.Clock) {
				if c.Excluded != 3 || c.Paused {
					t.Errorf("excluded %d paused %v", c.Excluded, c.Paused)
				}
			}},
		{"rereview: a hearing under way pauses it", []cases.ClockEvent{ev(t, cases.EventReReviewRequested, "2025-03-01"), hearing(t, "2025-03-10", "")}, def, cases.ClockReReview, "2025-04-01",
			func(t *testing.T, c cases.Clock) {
				if !c.Paused {
					t.Error("want Paused")
				}
				if _, near, overdue := c.Status(at(t, "2025-05-01"), 3); near || overdue {
					t.Error("a paused clock is neither near nor overdue")
				}
			}},
		{"rereview: a hearing before the request does not count", []cases.ClockEvent{hearing(t, "2025-02-10", "2025-02-12"), ev(t, cases.EventReReviewRequested, "2025-03-01")}, def, cases.ClockReReview, "2025-03-31", nil},
		{"handle: a hearing does not stop it", []cases.ClockEvent{ev(t, cases.EventAccepted, "2025-01-31"), hearing(t, "2025-02-10", "2025-02-12")}, def, cases.ClockHandle, "2025-04-01", nil},
		{"feedback: the assigner's date", []cases.ClockEvent{{Kind: cases.EventAssigned, At: at(t, "2025-03-03"), Until: at(t, "2025-03-20")}}, def, cases.ClockFeedback, "2025-03-20",
			func(t *testing.T, c cases.Clock) {
				if c.Days != 17 {
					t.Errorf("days %d", c.Days)
				}
			}},
		{"review request window: the petitioner's", []cases.ClockEvent{ev(t, cases.EventOpinionServed, "2025-06-30")}, def, cases.ClockReviewRequest, "2025-07-30",
			func(t *testing.T, c cases.Clock) {
				if c.Holder != cases.HolderPetitioner {
					t.Errorf("holder %s", c.Holder)
				}
			}},
		{"rereview request window", []cases.ClockEvent{ev(t, cases.EventReviewServed, "2025-02-27")}, def, cases.ClockReReviewRequest, "2025-03-29", nil},
		{"司法确认 window across new year", []cases.ClockEvent{ev(t, cases.EventAgreement, "2025-12-20")}, def, cases.ClockConfirmationRequest, "2026-01-19", nil},
		{"司法确认 decision", []cases.ClockEvent{ev(t, cases.EventConfirmationFiled, "2026-01-05")}, def, cases.ClockConfirmation, "2026-02-04", nil},
		{"a flagged far-future stamp runs from the hub's receipt",
			[]cases.ClockEvent{{Kind: cases.EventReceived, At: at(t, "2031-05-05"), HubAt: at(t, "2025-01-01"), Flagged: true}}, def, cases.ClockDecide, "2025-01-16",
			func(t *testing.T, c cases.Clock) {
				if !c.Start.Equal(at(t, "2025-01-01")) {
					t.Errorf("start %s", c.Start)
				}
			}},
		{"an unflagged stamp runs from itself", []cases.ClockEvent{{Kind: cases.EventReceived, At: at(t, "2025-01-01"), HubAt: at(t, "2025-01-05")}}, def, cases.ClockDecide, "2025-01-16", nil},
		// Jan 20 + 60: 1/31 is +11, 2/28 is +39, 3/21 is +60.
		{"late acceptance: decide stopped late, handle runs from it", []cases.ClockEvent{ev(t, cases.EventReceived, "2025-01-01"), ev(t, cases.EventAccepted, "2025-01-20")}, def, cases.ClockHandle, "2025-03-21", nil},
		// Re-handling ordered after 复查: the latest acceptance starts the clock; the earlier
		// opinion does not stop it. 5/1 + 60: 5/31 is +30, 6/30 is +60.
		{"handle: the latest acceptance counts",
			[]cases.ClockEvent{ev(t, cases.EventAccepted, "2025-01-10"), ev(t, cases.EventOpinionServed, "2025-03-01"), ev(t, cases.EventAccepted, "2025-05-01")}, def, cases.ClockHandle, "2025-06-30",
			func(t *testing.T, c cases.Clock) {
				if !c.Stopped.IsZero() {
					t.Errorf("stopped at %s by the earlier opinion", c.Stopped)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := cases.Clocks(tc.events, tc.cal)
			if err != nil {
				t.Fatal(err)
			}
			c := clockOf(t, cs, tc.kind)
			if c.Last.String() != tc.last || !c.Due.Equal(c.Last.End()) || c.Rule == "" {
				t.Errorf("%s: last %s due %s; want last %s", c.Kind, c.Last, c.Due, tc.last)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestClocks_StopsAndStatus(t *testing.T) {
	events := []cases.ClockEvent{ev(t, cases.EventReceived, "2025-01-01"), ev(t, cases.EventAccepted, "2025-01-20")}
	cs, err := cases.Clocks(events, cases.DefaultCalendar())
	if err != nil {
		t.Fatal(err)
	}
	// Decide (last 1/16) was met on 1/20: 4 days late, judged when it stopped, whatever now is.
	decide := clockOf(t, cs, cases.ClockDecide)
	if left, near, overdue := decide.Status(at(t, "2026-01-01"), 3); left != -4 || near || !overdue {
		t.Errorf("decide: %d %v %v; want -4 late", left, near, overdue)
	}
	if handle := clockOf(t, cs, cases.ClockHandle); !handle.Stopped.IsZero() {
		t.Errorf("handle stopped at %s", handle.Stopped)
	}
	// In time: accepted on the 15th day.
	cs, _ = cases.Clocks([]cases.ClockEvent{ev(t, cases.EventReceived, "2025-01-01"), ev(t, cases.EventAccepted, "2025-01-16T23:59:00+08:00")}, nil)
	if left, near, overdue := clockOf(t, cs, cases.ClockDecide).Status(at(t, "2026-01-01"), 3); left != 0 || near || overdue {
		t.Errorf("decide met on its last day: %d %v %v", left, near, overdue)
	}
	// Closing stops every running clock.
	cs, _ = cases.Clocks([]cases.ClockEvent{ev(t, cases.EventOpinionServed, "2025-01-01"), ev(t, cases.EventClosed, "2025-01-05")}, nil)
	if c := clockOf(t, cs, cases.ClockReviewRequest); !c.Stopped.Equal(at(t, "2025-01-05")) {
		t.Errorf("closed: %+v", c)
	}
}

func TestClock_Status_ShanghaiMidnight(t *testing.T) {
	cs, _ := cases.Clocks([]cases.ClockEvent{ev(t, cases.EventReceived, "2025-01-01")}, cases.DefaultCalendar())
	c := clockOf(t, cs, cases.ClockDecide) // last 2025-01-16, due 2025-01-16T15:59:59.999999999Z
	for _, tc := range []struct {
		now           string
		left          int
		near, overdue bool
	}{
		{"2025-01-12T15:59:59Z", 4, false, false}, // 1/12 23:59:59 in Shanghai
		{"2025-01-12T16:00:00Z", 3, true, false},  // 1/13 00:00 in Shanghai: near with nearDue 3
		{"2025-01-16T15:59:59Z", 0, true, false},  // 1/16 23:59:59: the last second
		{"2025-01-16T16:00:00Z", -1, false, true}, // still 1/16 in UTC, already 1/17 in Shanghai
		{"2025-01-16T23:00:00+08:00", 0, true, false},
		{"2025-01-20T09:00:00+08:00", -4, false, true},
	} {
		left, near, overdue := c.Status(utc(t, tc.now), 3)
		if left != tc.left || near != tc.near || overdue != tc.overdue {
			t.Errorf("Status(%s) = %d %v %v; want %d %v %v", tc.now, left, near, overdue, tc.left, tc.near, tc.overdue)
		}
	}
}

func TestClocks_Extensions(t *testing.T) {
	accepted := ev(t, cases.EventAccepted, "2025-01-31") // handle: last 2025-04-01
	unit := func(mod func(*cases.ClockEvent)) cases.ClockEvent {
		e := extension(t, "2025-03-20", 30)
		mod(&e)
		return e
	}
	for _, tc := range []struct {
		name   string
		events []cases.ClockEvent
		last   string
		code   string // of the last extension's refusal; "" = all granted
	}{
		// 4/1 + 30: 4/30 is +29, 5/1 is +30.
		{"30 days by the unit head", []cases.ClockEvent{accepted, extension(t, "2025-03-20", 30)}, "2025-05-01", ""},
		{"approved in the last minute", []cases.ClockEvent{accepted, extension(t, "2025-04-01T23:59:00+08:00", 30)}, "2025-05-01", ""},
		// 4/1 + 10 = 4/11, + 20 = 5/1; one more day would make 31.
		{"10 + 20 days", []cases.ClockEvent{accepted, extension(t, "2025-03-01", 10), extension(t, "2025-04-05", 20)}, "2025-05-01", ""},
		{"10 + 20 + 1 days", []cases.ClockEvent{accepted, extension(t, "2025-03-01", 10), extension(t, "2025-04-05", 20), extension(t, "2025-04-20", 1)}, "2025-05-01", "too_long"},
		{"31 days", []cases.ClockEvent{accepted, extension(t, "2025-03-20", 31)}, "2025-04-01", "too_long"},
		{"no approver", []cases.ClockEvent{accepted, unit(func(e *cases.ClockEvent) { e.Approver = " " })}, "2025-04-01", "no_approver"},
		{"a deputy approved", []cases.ClockEvent{accepted, unit(func(e *cases.ClockEvent) { e.ApproverRole = "deputy_head" })}, "2025-04-01", "not_unit_head"},
		{"no role", []cases.ClockEvent{accepted, unit(func(e *cases.ClockEvent) { e.ApproverRole = "" })}, "2025-04-01", "not_unit_head"},
		{"no reason", []cases.ClockEvent{accepted, unit(func(e *cases.ClockEvent) { e.Reason = "" })}, "2025-04-01", "no_reason"},
		{"zero days", []cases.ClockEvent{accepted, unit(func(e *cases.ClockEvent) { e.Days = 0 })}, "2025-04-01", "bad_days"},
		{"after the period ended (Shanghai midnight)", []cases.ClockEvent{accepted, extension(t, "2025-04-01T16:00:00Z", 30)}, "2025-04-01", "late"},
		{"after the opinion", []cases.ClockEvent{accepted, ev(t, cases.EventOpinionServed, "2025-03-01"), extension(t, "2025-03-20", 30)}, "2025-04-01", "not_handling"},
		{"before acceptance", []cases.ClockEvent{extension(t, "2025-01-20", 30), accepted}, "2025-04-01", "not_handling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := cases.Clocks(tc.events, cases.DefaultCalendar())
			h := clockOf(t, cs, cases.ClockHandle)
			if h.Last.String() != tc.last {
				t.Errorf("handle last %s, want %s", h.Last, tc.last)
			}
			// The same verdict from CheckExtension on the events before the last extension.
			ext, before := tc.events[len(tc.events)-1], tc.events[:len(tc.events)-1]
			if ext.Kind != cases.EventExtended {
				ext, before = tc.events[0], tc.events[1:]
			}
			check := cases.CheckExtension(before, ext, cases.DefaultCalendar())
			if tc.code == "" {
				if err != nil || check != nil || h.Extended+60 != h.Days {
					t.Errorf("refused: %v / %v; %+v", err, check, h)
				}
				return
			}
			for _, e := range []error{err, check} {
				var xe *cases.ExtensionError
				if !errors.As(e, &xe) || xe.Code != tc.code || !errors.Is(e, cases.ErrInvalid) || xe.Zh == "" {
					t.Errorf("got %v, want an *ExtensionError %s", e, tc.code)
				}
			}
		})
	}
	// No acceptance at all: the extension is reported, no handle clock.
	cs, err := cases.Clocks([]cases.ClockEvent{extension(t, "2025-03-20", 10)}, nil)
	var xe *cases.ExtensionError
	if len(cs) != 0 || !errors.As(err, &xe) || xe.Code != "not_handling" {
		t.Errorf("no acceptance: %+v, %v", cs, err)
	}
}

func TestClocks_BadEvents(t *testing.T) {
	cs, err := cases.Clocks([]cases.ClockEvent{
		{Kind: cases.EventReceived},
		{Kind: cases.EventAssigned, At: at(t, "2025-03-03"), Until: at(t, "2025-03-01")},
		hearing(t, "2025-03-10", "2026-03-20"),
		ev(t, "from_a_newer_version", "2025-03-03"),
	}, nil)
	var codes []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ee *cases.EventError
		if errors.As(e, &ee) {
			codes = append(codes, ee.Code)
		}
	}
	if len(cs) != 0 || fmt.Sprint(codes) != "[no_time until_before_at hearing_too_long]" {
		t.Errorf("clocks %+v; codes %v (%v)", cs, codes, err)
	}
}

// genEvent draws an event of a small case history in the first months of 2025.
func genEvent(t *rapid.T, i int) cases.ClockEvent {
	kinds := []cases.EventKind{cases.EventReceived, cases.EventRouted, cases.EventAssigned, cases.EventFeedback,
		cases.EventForwardReceived, cases.EventObjected, cases.EventAccepted, cases.EventExtended, cases.EventHearing,
		cases.EventOpinionServed, cases.EventReviewRequested, cases.EventReviewServed, cases.EventReReviewRequested,
		cases.EventReReviewServed, cases.EventAgreement, cases.EventConfirmationFiled, cases.EventConfirmationDecided,
		cases.EventClosed, "unknown"}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, cases.Shanghai)
	label := fmt.Sprintf("event%d.", i)
	e := cases.ClockEvent{
		Kind: rapid.SampledFrom(kinds).Draw(t, label+"kind"),
		At:   base.Add(time.Duration(rapid.IntRange(0, 200*24).Draw(t, label+"hour")) * time.Hour),
	}
	if rapid.Bool().Draw(t, label+"flagged") {
		e.HubAt, e.Flagged = base.Add(time.Duration(rapid.IntRange(0, 200*24).Draw(t, label+"hubHour"))*time.Hour), true
	}
	if rapid.Bool().Draw(t, label+"until") {
		e.Until = e.At.Add(time.Duration(rapid.IntRange(-2, 20).Draw(t, label+"untilDays")) * 24 * time.Hour)
	}
	if e.Kind == cases.EventExtended {
		e.Days = rapid.IntRange(0, 31).Draw(t, label+"days")
		e.Approver = rapid.SampledFrom([]string{"", "李局长"}).Draw(t, label+"approver")
		e.ApproverRole = rapid.SampledFrom([]cases.Role{cases.RoleUnitHead, "clerk"}).Draw(t, label+"role")
		e.Reason = rapid.SampledFrom([]string{"", "情况复杂"}).Draw(t, label+"reason")
	}
	return e
}

// TestClocks_Property_PureFunctionOfEventSet checks that the clocks and the errors depend on
// the set of events only: any order, any duplicates.
func TestClocks_Property_PureFunctionOfEventSet(t *testing.T) {
	cal := cases.DefaultCalendar()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, sized(12)).Draw(t, "n")
		events := make([]cases.ClockEvent, n)
		for i := range events {
			events[i] = genEvent(t, i)
		}
		want, wantErr := cases.Clocks(events, cal)
		shuffled := rapid.Permutation(events).Draw(t, "order")
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, max(n-1, 0)), 0, n).Draw(t, "dups") {
			shuffled = append(shuffled, events[i])
		}
		got, gotErr := cases.Clocks(shuffled, cal)
		if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("order or duplicates changed the clocks:\n got %+v\n%v\nwant %+v\n%v", got, gotErr, want, wantErr)
		}
		for _, c := range got {
			// The feedback date is the assigner's: a flagged start may move past it.
			early := c.Last < cases.DateOf(c.Start) && c.Kind != cases.ClockFeedback
			if early || !c.Due.Equal(c.Last.End()) || c.Extended > cases.MaxExtensionDays {
				t.Fatalf("bad clock %+v", c)
			}
		}
	})
}
