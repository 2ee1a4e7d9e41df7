package cases

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// EventKind is what happened to a case, as far as the statutory clocks of DOMAIN.md §1.4 and
// §6 care. The values are stable strings.
type EventKind string

// Events of a petition item (R22 = 《信访工作条例》2022) and of a mediated dispute.
const (
	EventReceived            EventKind = "received"             // the registering organ received the item (登记; Art 22, 23(2))
	EventRouted              EventKind = "routed"               // it forwarded, routed, redirected or refused the item (转送 … 不予受理)
	EventAssigned            EventKind = "assigned"             // it assigned the item (交办); Until = the assigner's feedback date, if set
	EventFeedback            EventKind = "feedback"             // the assignee reported to the assigner (办结报告)
	EventForwardReceived     EventKind = "forward_received"     // the competent organ received a forwarded or assigned item
	EventObjected            EventKind = "objected"             // it objected that the item is not in its scope (异议)
	EventAccepted            EventKind = "accepted"             // written acceptance notice served (受理); again when re-handling is ordered
	EventExtended            EventKind = "extended"             // handling extended (延期): Days, Approver, ApproverRole, Reason
	EventHearing             EventKind = "hearing"              // a hearing (听证): At its first day, Until its last (zero while it lasts)
	EventOpinionServed       EventKind = "opinion_served"       // the petitioner received the 信访处理意见书
	EventReviewRequested     EventKind = "review_requested"     // the reviewing organ received a 复查 request
	EventReviewServed        EventKind = "review_served"        // the petitioner received the 复查 opinion
	EventReReviewRequested   EventKind = "rereview_requested"   // the re-reviewing organ received a 复核 request
	EventReReviewServed      EventKind = "rereview_served"      // the petitioner received the 复核 opinion
	EventAgreement           EventKind = "agreement"            // a 人民调解 agreement took effect (MedL Art 29)
	EventConfirmationFiled   EventKind = "confirmation_filed"   // the parties applied for 司法确认
	EventConfirmationDecided EventKind = "confirmation_decided" // the court decided the application
	EventClosed              EventKind = "closed"               // the case was closed (终结/办结): every clock stops
)

// ClockEvent is one event of a case that starts, stops or changes a statutory clock.
type ClockEvent struct {
	Kind EventKind
	// At is when it happened, as recorded where it was recorded (a station's clock).
	At time.Time
	// HubAt is when the first hub received the record (Meta.ReceivedAt); zero before.
	HubAt time.Time
	// Flagged is set when At lay beyond the hub's clock + the maximum skew (Meta.Flagged):
	// the station's clock was wrong, and the clocks run from HubAt instead (Effective).
	Flagged bool
	// Until is the last day of a hearing (zero while it lasts), or the feedback date an
	// assigner set. It is a date people chose, so it is used as given even when Flagged.
	Until time.Time
	// Extension data (EventExtended): days granted, who approved, the approver's role, why.
	Days         int
	Approver     string
	ApproverRole Role
	Reason       string
}

// Effective returns the instant the event starts or stops clocks at: At, or HubAt when At
// was flagged as lying in the future (a station whose clock ran ahead must not buy a case
// more time, and the hub's receipt is the earliest instant known to be true). A flagged
// event no hub has received yet cannot exist (hubs flag); At is used then.
func (e ClockEvent) Effective() time.Time {
	if e.Flagged && !e.HubAt.IsZero() {
		return e.HubAt
	}
	return e.At
}

// ClockKind names a statutory clock.
type ClockKind string

// Holder says whose time limit a clock is: an organ's duty (late = 超期), or a window in
// which the petitioner, the parties or a court may act.
type Holder string

// Holders.
const (
	HolderOrgan      Holder = "organ"
	HolderPetitioner Holder = "petitioner"
	HolderParties    Holder = "parties"
	HolderCourt      Holder = "court"
)

// Clocks.
const (
	ClockDecide              ClockKind = "decide"               // 15 days: forward, assign, route or tell
	ClockFeedback            ClockKind = "feedback"             // the assigner's feedback date
	ClockNotice              ClockKind = "notice"               // 15 days: notify acceptance of a forwarded item
	ClockObjection           ClockKind = "objection"            // 5 working days: object to a forwarded item
	ClockHandle              ClockKind = "handle"               // 60 days (+≤30): handle the item
	ClockReviewRequest       ClockKind = "review_request"       // 30 days: the petitioner may request 复查
	ClockReview              ClockKind = "review"               // 30 days: 复查 opinion
	ClockReReviewRequest     ClockKind = "rereview_request"     // 30 days: the petitioner may request 复核
	ClockReReview            ClockKind = "rereview"             // 30 days + hearing days: 复核 opinion
	ClockConfirmationRequest ClockKind = "confirmation_request" // 30 days: the parties may apply for 司法确认
	ClockConfirmation        ClockKind = "confirmation"         // 30 days: the court decides
)

// clockRule is one row of the table of DOMAIN.md §1.4 (and §6 for 司法确认).
type clockRule struct {
	kind    ClockKind
	holder  Holder
	days    int
	working bool
	rule    string
	start   EventKind
	stop    []EventKind
}

var clockRules = []clockRule{
	{ClockDecide, HolderOrgan, 15, false, "R22 Art 22, 23(2): forward, assign or route the item, or tell the petitioner, within 15 days of receipt",
		EventReceived, []EventKind{EventRouted, EventAssigned, EventAccepted, EventClosed}},
	{ClockFeedback, HolderOrgan, 0, false, "R22 Art 22(3): report to the assigner by its feedback date",
		EventAssigned, []EventKind{EventFeedback, EventClosed}},
	{ClockNotice, HolderOrgan, 15, false, "R22 Art 23(3): notify the petitioner of acceptance within 15 days of receiving a forwarded or assigned item",
		EventForwardReceived, []EventKind{EventAccepted, EventObjected, EventClosed}},
	{ClockObjection, HolderOrgan, 5, true, "R22 Art 23(3): object to an item not in the organ's scope within 5 working days of receipt",
		EventForwardReceived, []EventKind{EventObjected, EventAccepted, EventClosed}},
	{ClockHandle, HolderOrgan, 60, false, "R22 Art 34: handle within 60 days of acceptance; the unit head may extend by at most 30 days",
		EventAccepted, []EventKind{EventOpinionServed, EventClosed}},
	{ClockReviewRequest, HolderPetitioner, 30, false, "R22 Art 35: the petitioner may request 复查 within 30 days of receiving the written reply",
		EventOpinionServed, []EventKind{EventReviewRequested, EventClosed}},
	{ClockReview, HolderOrgan, 30, false, "R22 Art 35: 复查 opinion within 30 days of receiving the request",
		EventReviewRequested, []EventKind{EventReviewServed, EventClosed}},
	{ClockReReviewRequest, HolderPetitioner, 30, false, "R22 Art 36: the petitioner may request 复核 within 30 days of receiving the 复查 opinion",
		EventReviewServed, []EventKind{EventReReviewRequested, EventClosed}},
	{ClockReReview, HolderOrgan, 30, false, "R22 Art 36: 复核 opinion within 30 days of receiving the request; hearing time is not counted",
		EventReReviewRequested, []EventKind{EventReReviewServed, EventClosed}},
	{ClockConfirmationRequest, HolderParties, 30, false, "MedL Art 33: the parties may jointly apply for 司法确认 within 30 days of the agreement taking effect",
		EventAgreement, []EventKind{EventConfirmationFiled, EventClosed}},
	{ClockConfirmation, HolderCourt, 30, false, "CPL Art 187 (DOMAIN.md §6): the court decides within 30 days of filing",
		EventConfirmationFiled, []EventKind{EventConfirmationDecided, EventClosed}},
}

// Clock is one statutory time limit of a case.
type Clock struct {
	Kind   ClockKind
	Holder Holder
	Rule   string // the article and what it requires
	// Days is the length counted, extensions included, hearing days not (calendar days
	// unless Working). For ClockFeedback it is the days from Start's date to the assigner's
	// date, which is negative if a flagged start moved past that date.
	Days    int
	Working bool // Days are working days (工作日)

	Start time.Time // the effective time of the event that started it
	Last  Date      // the last day on which acting is in time
	Due   time.Time // Last.End(): 24:00 of Last in Shanghai, less a nanosecond

	Extended int       // days added by valid extensions (ClockHandle)
	Excluded int       // hearing days not counted (ClockReReview)
	Stopped  time.Time // the effective time of the event that met it; zero while it runs
	// Paused is set while a 复核 hearing lasts: the clock stands still and Due is a lower
	// bound (the hearing counted as one day).
	Paused bool
	// Provisional is set when Last depends on working days in a year the calendar does not
	// cover: Monday to Friday were assumed. Supply that year's calendar.
	Provisional bool
}

// Clocks returns the statutory clocks of a case from its events, in the order of the table
// in docs/domain.md: the clocks some event has started, running or stopped. It is a pure
// function of the set of events: their order and duplicates do not matter.
//
// Each clock runs from the latest event that starts it (a re-forwarded item, a handling
// ordered again) and is stopped by the first event at or after that start that meets it.
// Days are counted from the day after the start (Calendar.AddCalendarDays); the last day of a
// calendar-day period moves to the next working day only if cal.RollOver().
//
// Events this version cannot use are reported in the error (errors.Join of *ExtensionError
// and *EventError) and left out; the clocks are computed from the rest, so a replica can
// show them and flag the case for a person. Unknown kinds are ignored without error.
func Clocks(events []ClockEvent, cal *Calendar) ([]Clock, error) {
	evs, errs := canonicalEvents(events)
	var out []Clock
	for _, r := range clockRules {
		start, ok := latest(evs, r.start)
		if !ok {
			if r.kind == ClockHandle {
				errs = append(errs, extensionErrors(evs, nil, cal)...)
			}
			continue
		}
		c := Clock{Kind: r.kind, Holder: r.holder, Rule: r.rule, Days: r.days, Working: r.working, Start: start.Effective()}
		c.Stopped = firstStop(evs, r.stop, c.Start)
		from := DateOf(c.Start)
		switch {
		case r.kind == ClockFeedback:
			if start.Until.IsZero() {
				continue
			}
			c.Last = DateOf(start.Until)
			c.Days = int(c.Last - from)
		case r.kind == ClockReReview:
			c.Last, c.Excluded, c.Paused = hearingWalk(evs, c, from)
			c.Last, c.Provisional = cal.lastDay(c.Last)
		case r.working:
			c.Last = cal.AddWorkingDays(from, r.days)
			c.Provisional = !cal.coversRange(from+1, c.Last)
		default:
			c.Last, c.Provisional = cal.lastDay(from + Date(r.days))
		}
		c.Due = c.Last.End()
		if r.kind == ClockHandle {
			errs = append(errs, extensionErrors(evs, &c, cal)...)
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// lastDay returns the last day of a calendar-day period whose counted last day is last:
// last itself, or with RollOver the first working day from it. provisional reports that the
// move depended on an uncovered year.
func (c *Calendar) lastDay(last Date) (Date, bool) {
	if !c.RollOver() {
		return last, false
	}
	rolled := c.nextWorkingDay(last)
	return rolled, !c.coversRange(last, rolled)
}

// hearingWalk counts the 30 days of a 复核 from the day after from, skipping every day on
// which a hearing held since the clock started was under way (R22 Art 36: 听证所需时间不计算
// 在内). A hearing still under way pauses the clock; its first day is skipped so far.
func hearingWalk(evs []ClockEvent, c Clock, from Date) (last Date, excluded int, paused bool) {
	type span struct{ from, to Date }
	var hs []span
	for _, e := range evs {
		at := e.Effective()
		if e.Kind != EventHearing || at.Before(c.Start) || (!c.Stopped.IsZero() && at.After(c.Stopped)) {
			continue
		}
		s := span{DateOf(at), DateOf(at)}
		if e.Until.IsZero() {
			paused = c.Stopped.IsZero()
		} else if u := DateOf(e.Until); u > s.to {
			s.to = u
		}
		hs = append(hs, s)
	}
	d := from
	for counted := 0; counted < c.Days; {
		d++
		if slices.ContainsFunc(hs, func(s span) bool { return s.from <= d && d <= s.to }) {
			excluded++
		} else {
			counted++
		}
	}
	return d, excluded, paused
}

// Status judges clock c at instant now: daysLeft is the number of calendar days from now's
// date in Shanghai to c.Last (0 on the last day, negative once overdue); overdue is set once
// now is past c.Due, near when it is not and daysLeft ≤ nearDue. A stopped clock is judged
// at the instant it stopped (met in time, or late); a paused clock is neither near nor
// overdue. Midnight is Shanghai's: 2025-01-16T16:00:00Z is already 2025-01-17.
func (c Clock) Status(now time.Time, nearDue int) (daysLeft int, near, overdue bool) {
	running := c.Stopped.IsZero()
	if !running {
		now = c.Stopped
	}
	daysLeft = int(c.Last - DateOf(now))
	overdue = !c.Paused && now.After(c.Due)
	near = running && !overdue && !c.Paused && daysLeft <= nearDue
	return daysLeft, near, overdue
}

// EventError is an event that cannot be used, with a stable Code.
type EventError struct {
	Kind EventKind
	At   time.Time
	Code string
	Zh   string
	En   string
}

func (e *EventError) Error() string {
	return fmt.Sprintf("%s event at %s: %s: %s", e.Kind, e.At.In(Shanghai).Format(time.RFC3339), e.Code, e.En)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *EventError) Unwrap() error { return ErrInvalid }

// maxHearingDays bounds one hearing's span, so a mistyped year cannot stall a clock for good.
const maxHearingDays = 366

// canonicalEvents returns the usable events sorted by compareEvents without duplicates, and
// an error for each unusable one.
func canonicalEvents(events []ClockEvent) ([]ClockEvent, []error) {
	evs := slices.Clone(events)
	slices.SortFunc(evs, compareEvents)
	evs = slices.CompactFunc(evs, func(a, b ClockEvent) bool { return compareEvents(a, b) == 0 })
	var errs []error
	out := evs[:0]
	for _, e := range evs {
		bad := func(code, zh, en string) {
			errs = append(errs, &EventError{Kind: e.Kind, At: e.At, Code: code, Zh: zh, En: en})
		}
		switch {
		case e.At.IsZero():
			bad("no_time", "事件没有时间", "the event has no time")
		case !e.Until.IsZero() && DateOf(e.Until) < DateOf(e.At):
			bad("until_before_at", "结束日期早于开始日期", "Until is before At")
		case e.Kind == EventHearing && !e.Until.IsZero() && DateOf(e.Until)-DateOf(e.At) >= maxHearingDays:
			bad("hearing_too_long", "听证超过一年，请核对日期", "a hearing of more than a year: check the dates")
		default:
			out = append(out, e)
		}
	}
	return out, errs
}

func compareEvents(a, b ClockEvent) int {
	if c := a.Effective().Compare(b.Effective()); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	for _, p := range [][2]time.Time{{a.At, b.At}, {a.HubAt, b.HubAt}, {a.Until, b.Until}} {
		if c := p[0].Compare(p[1]); c != 0 {
			return c
		}
	}
	switch {
	case a.Flagged != b.Flagged:
		if a.Flagged {
			return 1
		}
		return -1
	case a.Days != b.Days:
		return a.Days - b.Days
	}
	if c := strings.Compare(a.Approver, b.Approver); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.ApproverRole), string(b.ApproverRole)); c != 0 {
		return c
	}
	return strings.Compare(a.Reason, b.Reason)
}

// latest returns the last event of kind k in canonical order: the latest by effective time.
func latest(evs []ClockEvent, k EventKind) (ClockEvent, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == k {
			return evs[i], true
		}
	}
	return ClockEvent{}, false
}

// firstStop returns the effective time of the first event of a kind in stops at or after
// start, or the zero time.
func firstStop(evs []ClockEvent, stops []EventKind, start time.Time) time.Time {
	for _, e := range evs {
		if slices.Contains(stops, e.Kind) && !e.Effective().Before(start) {
			return e.Effective()
		}
	}
	return time.Time{}
}
