package cases

import (
	"cmp"
	"slices"
	"time"

	"github.com/fengqiao/fengqiao/crdt"
)

// A case's statutory clocks come from the event times its transitions wrote (clockFields).
// Every visible value counts: while a field is in conflict each value is an event of its own
// (Clocks takes the latest start and the first stop), so the clocks are a pure function of
// the case's ops, whatever their order.

// eventFields maps each event-time field to the event it records.
var eventFields = []struct {
	field string
	kind  EventKind
}{
	{"received_at", EventReceived}, {"routed_at", EventRouted}, {"assigned_at", EventAssigned},
	{"feedback_at", EventFeedback}, {"forward_received_at", EventForwardReceived}, {"objected_at", EventObjected},
	{"notice_at", EventAccepted}, {"served_at", EventOpinionServed}, {"review_requested_at", EventReviewRequested},
	{"review_served_at", EventReviewServed}, {"rereview_requested_at", EventReReviewRequested},
	{"rereview_served_at", EventReReviewServed}, {"agreement_at", EventAgreement},
	{"confirmation_filed_at", EventConfirmationFiled}, {"confirmation_decided_at", EventConfirmationDecided},
	{"closed_at", EventClosed},
}

// ClockEvents returns the clock events recorded in c. hubAt, when not nil, gives the time (ms)
// the first hub received the op with a given dot (cases.Meta.ReceivedAt, 0 if unknown): an
// event whose op was flagged for a station clock running ahead then runs from it.
func ClockEvents(c *Case, hubAt func(crdt.Dot) int64) []ClockEvent {
	evs, _ := clockEvents(c, hubAt)
	return evs
}

// clockEvents is ClockEvents; unknown reports a flagged event whose hub receipt time is not
// known, whose true start can only be bounded.
func clockEvents(c *Case, hubAt func(crdt.Dot) int64) (evs []ClockEvent, unknown bool) {
	stamp := func(e *ClockEvent, w crdt.Write[[]byte]) {
		if !w.Flagged {
			return
		}
		e.Flagged = true
		if hubAt != nil {
			if h := hubAt(w.Dot); h > 0 {
				e.HubAt = time.UnixMilli(h)
				return
			}
		}
		unknown = true
	}
	var until time.Time
	if ms := c.Int("feedback_due"); ms > 0 {
		until = time.UnixMilli(ms)
	}
	dispute := caseKind(c) == MatterDispute
	for _, ef := range eventFields {
		if dispute && !disputeEvent(ef.kind) {
			continue // a dispute's receipt starts none of the 《信访工作条例》's clocks
		}
		r := c.Registers[ef.field]
		if r == nil && ef.kind == EventReceived {
			r = c.Registers["registered_at"] // a registration that gave no receipt: received when registered
		}
		if r == nil {
			continue
		}
		for _, w := range r.Values() {
			ms, ok := DecodeValue(ef.field, w.Value).(int64)
			if !ok || ms <= 0 {
				continue
			}
			e := ClockEvent{Kind: ef.kind, At: time.UnixMilli(ms)}
			if ef.kind == EventAssigned {
				e.Until = until
			}
			stamp(&e, w)
			evs = append(evs, e)
		}
	}
	// The lists are rewritten whole by each transition that adds to them; the op that wrote a
	// value added its last item, so only that item carries the op's flag.
	if r := c.Registers["extensions"]; r != nil {
		for _, w := range r.Values() {
			xs, _ := DecodeValue("extensions", w.Value).([]Extension)
			for i, x := range xs {
				e := ClockEvent{Kind: EventExtended, At: time.UnixMilli(x.At), Days: x.Days, Approver: x.Approver, ApproverRole: x.ApproverRole, Reason: x.Reason}
				if i == len(xs)-1 {
					stamp(&e, w)
				}
				evs = append(evs, e)
			}
		}
	}
	if r := c.Registers["hearings"]; r != nil {
		for _, w := range r.Values() {
			hs, _ := DecodeValue("hearings", w.Value).([]HearingRecord)
			for i, h := range hs {
				e := ClockEvent{Kind: EventHearing, At: time.UnixMilli(h.From)}
				if h.Until != 0 {
					e.Until = time.UnixMilli(h.Until)
				}
				if i == len(hs)-1 {
					stamp(&e, w)
				}
				evs = append(evs, e)
			}
		}
	}
	if e, ok := closedByState(c); ok {
		if e.Flagged && hubAt != nil {
			if h := hubAt(e.dot); h > 0 {
				e.HubAt = time.UnixMilli(h)
			}
		}
		if e.Flagged && e.HubAt.IsZero() {
			unknown = true
		}
		evs = append(evs, e.ClockEvent)
	}
	return evs, unknown
}

// closedByState returns the closing of a case closed by an op that recorded no closed_at (an
// older version's, or a replicated one breaking today's rules): closed when its state became
// CLOSED, the time of that write.
func closedByState(c *Case) (closing, bool) {
	if c.Registers["closed_at"] != nil {
		return closing{}, false
	}
	r := c.Registers["state"]
	if r == nil {
		return closing{}, false
	}
	w, ok := r.Winner()
	if !ok || string(w.Value) != string(closedState) || w.Stamp.Wall <= 0 {
		return closing{}, false
	}
	return closing{ClockEvent{Kind: EventClosed, At: time.UnixMilli(w.Stamp.Wall), Flagged: w.Flagged}, w.Dot}, true
}

// closing is a closing event and the op that wrote it.
type closing struct {
	ClockEvent
	dot crdt.Dot
}

var closedState = EncodeString(string(Closed))

// disputeEvent reports whether an event counts for a dispute (人民调解): its agreement and
// 司法确认, and its closing. The 《信访工作条例》's clocks start only once it is escalated into
// a petition item.
func disputeEvent(k EventKind) bool {
	return k == EventAgreement || k == EventConfirmationFiled || k == EventConfirmationDecided || k == EventClosed
}

// Extensions returns the extensions of handling granted on c, oldest first: every item of
// every visible value of the list, once.
func Extensions(c *Case) []Extension {
	var out []Extension
	if r := c.Registers["extensions"]; r != nil {
		for _, w := range r.Values() {
			xs, _ := DecodeValue("extensions", w.Value).([]Extension)
			for _, x := range xs {
				if !slices.Contains(out, x) {
					out = append(out, x)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Extension) int { return cmp.Compare(a.At, b.At) })
	return out
}

// Hearings returns the hearings of c, oldest first. Of two versions of one hearing (the same
// start), the one that has ended is kept.
func Hearings(c *Case) []HearingRecord {
	var out []HearingRecord
	if r := c.Registers["hearings"]; r != nil {
		for _, w := range r.Values() {
			hs, _ := DecodeValue("hearings", w.Value).([]HearingRecord)
			for _, h := range hs {
				i := slices.IndexFunc(out, func(o HearingRecord) bool { return o.From == h.From && o.Stage == h.Stage })
				switch {
				case i < 0:
					out = append(out, h)
				case out[i].Until == 0 || (h.Until != 0 && h.Until < out[i].Until):
					out[i] = h
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b HearingRecord) int { return cmp.Compare(a.From, b.From) })
	return out
}

// CaseClocks returns the statutory clocks of c on calendar cal (see Clocks and ClockEvents).
func CaseClocks(c *Case, cal *Calendar, hubAt func(crdt.Dot) int64) ([]Clock, error) {
	return Clocks(ClockEvents(c, hubAt), cal)
}

// Dues are the clocks whose lateness is someone's duty (超期): an organ's and a court's. The
// petitioner's and the parties' windows are shown, but nothing is "due" of anyone.
func isDuty(k Clock) bool { return k.Holder == HolderOrgan || k.Holder == HolderCourt }

// NextDue returns the running duty clock of clocks that falls due first.
func NextDue(clocks []Clock) (Clock, bool) {
	var best Clock
	found := false
	for _, k := range clocks {
		if k.Stopped.IsZero() && isDuty(k) && (!found || k.Due.Before(best.Due)) {
			best, found = k, true
		}
	}
	return best, found
}

// Deadline is the next statutory time limit of a case.
type Deadline struct {
	At   int64  // ms since epoch: 24:00 of the last day in Shanghai, less a millisecond
	Rule string // which limit, e.g. "R22 Art 23(3): notify acceptance within 15 days"
}

// NextDeadline returns the next duty deadline of c on the built-in calendar, from its
// events as recorded (no hub receipt times).
func NextDeadline(c *Case) (Deadline, bool) {
	cs, _ := CaseClocks(c, DefaultCalendar(), nil)
	k, ok := NextDue(cs)
	if !ok {
		return Deadline{}, false
	}
	return Deadline{At: k.Due.UnixMilli(), Rule: k.Rule}, true
}
