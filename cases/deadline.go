package cases

// Deadline is the next statutory time limit of a case.
type Deadline struct {
	At   int64  // ms since epoch
	Rule string // which limit, e.g. "R22 Art 23: acceptance notice within 15 days"
}

const day = int64(24 * 60 * 60 * 1000)

// NextDeadline returns the next statutory deadline of c from the events that start it, in
// calendar days. It is the minimal rule set of the replica issue, enough to index and warn;
// the workflow issue replaces it with working days, holidays and extensions (DOMAIN.md §1.4).
func NextDeadline(c *Case) (Deadline, bool) {
	start := func(fields ...string) int64 {
		for _, f := range fields {
			if v := c.Int(f); v != 0 {
				return v
			}
		}
		return 0
	}
	switch c.State() {
	case Registered, Forwarded, Assigned, Returned:
		if t := start("received_at", "registered_at"); t != 0 {
			return Deadline{At: t + 15*day, Rule: "R22 Art 22/23: forward, assign or notify acceptance within 15 days of receipt"}, true
		}
	case Accepted, Investigating, Mediating, Hearing:
		if t := start("notice_at"); t != 0 {
			return Deadline{At: t + 60*day, Rule: "R22 Art 34: handle within 60 days of acceptance"}, true
		}
	case Extended:
		if t := start("notice_at"); t != 0 {
			return Deadline{At: t + 90*day, Rule: "R22 Art 34: extended handling, at most 30 more days"}, true
		}
	case Review, ReReview:
		if t := start("served_at"); t != 0 {
			return Deadline{At: t + 60*day, Rule: "R22 Art 35/36: review opinion within 30 days of the request"}, true
		}
	}
	return Deadline{}, false
}
