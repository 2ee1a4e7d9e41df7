package cases

import (
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// DueBound is computed on every change of a case a replica indexes, so it is written out
// here without the general machinery of Clocks: the same events and the same rules, with
// every day a working day, no roll-over, and 复核 hearing days counted (counting them only
// makes the bound earlier). The tests check it against Clocks on real calendars.

const (
	msPerDay   = int64(24 * 60 * 60 * 1000)
	msShanghai = int64(8 * 60 * 60 * 1000)
)

// dateOfMs is DateOf for an instant in ms since the epoch.
func dateOfMs(ms int64) Date {
	v := ms + msShanghai
	d := v / msPerDay
	if v%msPerDay < 0 {
		d--
	}
	return Date(d)
}

// endOfMs is Date.End in ms: the last millisecond of d in Shanghai.
func endOfMs(d Date) int64 { return (int64(d)+1)*msPerDay - msShanghai - 1 }

// boundEvent is one event as DueBound needs it: its kind (eventBit) and effective time.
type boundEvent struct {
	kind uint32 // one bit
	at   int64  // effective, ms
}

// eventBit numbers the event kinds for DueBound's bit sets.
var eventBit = func() map[EventKind]uint32 {
	m := map[EventKind]uint32{}
	for i, k := range []EventKind{EventReceived, EventRouted, EventAssigned, EventFeedback, EventForwardReceived, EventObjected,
		EventAccepted, EventExtended, EventHearing, EventOpinionServed, EventReviewRequested, EventReviewServed,
		EventReReviewRequested, EventReReviewServed, EventAgreement, EventConfirmationFiled, EventConfirmationDecided, EventClosed} {
		m[k] = 1 << i
	}
	return m
}()

// dutyRule is a duty clock's rule as DueBound reads it.
type dutyRule struct {
	kind  ClockKind
	days  int
	start uint32 // bit
	stops uint32 // bits
}

var dutyRules = func() []dutyRule {
	var out []dutyRule
	for _, r := range clockRules {
		if r.holder != HolderOrgan && r.holder != HolderCourt {
			continue
		}
		d := dutyRule{kind: r.kind, days: r.days, start: eventBit[r.start]}
		for _, k := range r.stop {
			d.stops |= eventBit[k]
		}
		out = append(out, d)
	}
	return out
}()

// DueBound returns a lower bound of the instant (ms) at which the earliest running duty
// clock of c falls due, on any calendar: working days counted as calendar days, no
// roll-over. 0 means no duty clock runs. A replica indexes cases by it, so a query for what
// falls due before an instant finds a superset of the cases that do, and judges each exactly
// with the calendar in force (CaseClocks). It is 1 when an event's true start is unknown (its
// op was flagged and hubAt does not know when the hub received it): such a case is always
// looked at.
func DueBound(c *Case, hubAt func(crdt.Dot) int64) int64 {
	var buf [24]boundEvent
	evs := buf[:0]
	var exts []Extension // effective times in At
	var until int64      // the assigner's feedback date (the display value, as clockEvents uses)
	var assignedAt []int64
	unknown := false
	effective := func(ms int64, w *crdt.Write[[]byte]) int64 {
		if !w.Flagged {
			return ms
		}
		if hubAt != nil {
			if h := hubAt(w.Dot); h > 0 {
				return h
			}
		}
		unknown = true
		return ms
	}
	var rd mp.Reader
	dispute := isDispute(c)
	for _, ef := range dueFields {
		r := c.Registers[ef.field]
		if r == nil {
			continue
		}
		k := ef.kind
		if ef.field == "registered_at" {
			if c.Registers["received_at"] != nil {
				continue // received_at is the receipt; registered_at stands in only without one
			}
			k, ef.bit = EventReceived, eventBit[EventReceived]
		}
		switch {
		case k != "":
			if dispute && !disputeEvent(k) {
				continue
			}
			for _, w := range r.Values() {
				rd.Reset(w.Value)
				ms := rd.Int()
				if rd.Err() != nil || rd.Remaining() != 0 || ms <= 0 {
					continue
				}
				if k == EventAssigned {
					assignedAt = append(assignedAt, effective(ms, &w))
					continue
				}
				evs = append(evs, boundEvent{ef.bit, effective(ms, &w)})
			}
		case ef.field == "feedback_due":
			if w, ok := r.Winner(); ok {
				rd.Reset(w.Value)
				if v := rd.Int(); rd.Err() == nil && rd.Remaining() == 0 && v > 0 {
					until = v
				}
			}
		case ef.field == "extensions":
			for _, w := range r.Values() {
				xs, _ := DecodeValue("extensions", w.Value).([]Extension)
				for i, x := range xs {
					if i == len(xs)-1 {
						x.At = effective(x.At, &w)
					}
					if x.At > 0 && !slices.Contains(exts, x) {
						exts = append(exts, x)
					}
				}
			}
		}
	}
	if e, ok := closedByState(c); ok {
		w := crdt.Write[[]byte]{Dot: e.dot, Flagged: e.Flagged}
		evs = append(evs, boundEvent{eventBit[EventClosed], effective(e.At.UnixMilli(), &w)})
	}
	if unknown {
		return 1
	}
	// An assignment whose feedback date lies before it is unusable (Clocks leaves it out).
	for _, a := range assignedAt {
		if until == 0 || dateOfMs(until) >= dateOfMs(a) {
			evs = append(evs, boundEvent{eventBit[EventAssigned], a})
		}
	}
	if len(evs) == 0 {
		return 0
	}
	var due int64
	var present uint32
	for _, e := range evs {
		present |= e.kind
	}
	for _, r := range dutyRules {
		if present&r.start == 0 {
			continue
		}
		start := int64(0)
		for _, e := range evs {
			if e.kind == r.start && e.at > start {
				start = e.at
			}
		}
		if present&r.stops != 0 && stoppedAfter(evs, r.stops, start) {
			continue
		}
		from := dateOfMs(start)
		var last Date
		switch r.kind {
		case ClockFeedback:
			if until == 0 {
				continue
			}
			last = dateOfMs(until)
		case ClockHandle:
			last = from + Date(r.days+validExtensionDays(exts, start, from+Date(r.days)))
		default:
			last = from + Date(r.days)
		}
		if d := endOfMs(last); due == 0 || d < due {
			due = d
		}
	}
	return due
}

// stoppedAfter reports whether an event of a kind in stops happened at or after start.
func stoppedAfter(evs []boundEvent, stops uint32, start int64) bool {
	for _, e := range evs {
		if e.at >= start && e.kind&stops != 0 {
			return true
		}
	}
	return false
}

// validExtensionDays adds up, in time order, the extensions of a running handling clock that
// started at start and would end on last that checkExtension grants.
func validExtensionDays(exts []Extension, start int64, last Date) int {
	if len(exts) == 0 {
		return 0
	}
	slices.SortFunc(exts, func(a, b Extension) int {
		if a.At != b.At {
			if a.At < b.At {
				return -1
			}
			return 1
		}
		return a.Days - b.Days
	})
	granted := 0
	for _, x := range exts {
		if x.At < start || strings.TrimSpace(x.Approver) == "" || x.ApproverRole != RoleUnitHead || x.Days <= 0 ||
			granted+x.Days > MaxExtensionDays || strings.TrimSpace(x.Reason) == "" || x.At > endOfMs(last) {
			continue
		}
		granted += x.Days
		last += Date(x.Days)
	}
	return granted
}

// dueFields are the fields DueBound reads, with the event each time field records.
var dueFields = func() []dueField {
	var out []dueField
	for _, ef := range eventFields {
		out = append(out, dueField{ef.field, ef.kind, eventBit[ef.kind]})
	}
	for _, f := range []string{"registered_at", "feedback_due", "extensions"} {
		out = append(out, dueField{f, "", 0})
	}
	return out
}()

type dueField struct {
	field string
	kind  EventKind
	bit   uint32
}

// disputeKind is the stored value of a dispute's kind.
var disputeKind = EncodeString(MatterDispute)

// isDispute reports whether c's kind (its display value) is a dispute, without decoding it.
func isDispute(c *Case) bool {
	r := c.Registers["kind"]
	if r == nil {
		return false
	}
	w, ok := r.Winner()
	return ok && string(w.Value) == string(disputeKind)
}

// eventKindOf returns the event an event-time field records ("" for any other field).
func eventKindOf(f string) EventKind {
	switch f {
	case "received_at":
		return EventReceived
	case "routed_at":
		return EventRouted
	case "assigned_at":
		return EventAssigned
	case "feedback_at":
		return EventFeedback
	case "forward_received_at":
		return EventForwardReceived
	case "objected_at":
		return EventObjected
	case "notice_at":
		return EventAccepted
	case "served_at":
		return EventOpinionServed
	case "review_requested_at":
		return EventReviewRequested
	case "review_served_at":
		return EventReviewServed
	case "rereview_requested_at":
		return EventReReviewRequested
	case "rereview_served_at":
		return EventReReviewServed
	case "agreement_at":
		return EventAgreement
	case "confirmation_filed_at":
		return EventConfirmationFiled
	case "confirmation_decided_at":
		return EventConfirmationDecided
	case "closed_at":
		return EventClosed
	}
	return ""
}
