package cases

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Metrics (DOMAIN.md §3) are computed from cases as their ops left them, at any tier, for
// any period: the same ops give the same figures wherever they are counted, and every figure
// comes with the cases behind it.

// CaseFacts is what the metrics read of one case.
type CaseFacts struct {
	ID           string
	Number       string // case number, if it has one
	Region       string
	Unit         string // handling unit (handler_unit)
	Kind         string
	State        State
	Clocks       []Clock
	Flags        []string // FlagsOf
	Evaluation   string
	Confidential bool
	Route        string
	Times        map[string]int64 // the event-time fields (ms), display values
}

// FactsOf gathers the facts of folded case c with its clocks and flags.
func FactsOf(c *Case, clocks []Clock, flags []string) CaseFacts {
	f := CaseFacts{ID: c.ID, Number: c.String("case_no"), Region: c.String("region"), Unit: c.String("handler_unit"),
		Kind: caseKind(c), State: c.State(), Clocks: clocks, Flags: flags, Evaluation: c.String("evaluation"),
		Route: c.String("route"), Times: map[string]int64{}}
	if b, ok := c.Value("confidential"); ok {
		f.Confidential, _ = DecodeValue("confidential", b).(bool)
	}
	for _, ef := range append(slices.Clone(eventFields), struct {
		field string
		kind  EventKind
	}{"registered_at", ""}) {
		if v := c.Int(ef.field); v > 0 {
			f.Times[ef.field] = v
		}
	}
	return f
}

// tagFlags maps the tags of the ledgers in use (the workload's, 台账 columns) to flags.
var tagFlags = map[string]string{"重复访": FlagRepeat, "群体访": FlagCollective, "集体访": FlagCollective, "积案": FlagBacklog,
	"越级访": FlagLevelSkipping, "领导包案": FlagLeaderCase, "督办": FlagSupervised, "重大紧急": FlagUrgent}

// FlagsOf returns the flags of c at instant now: the ones people set, the ones its tags
// name, and the computed ones — overdue when a duty clock has run out, collective when at
// least collectiveSize people petition together — plus extra (a replica's repeat finding).
// The result is sorted in FlagCodes order.
func FlagsOf(c *Case, clocks []Clock, now time.Time, collectiveSize int, extra ...string) []string {
	has := map[string]bool{}
	for _, f := range extra {
		has[f] = true
	}
	for _, set := range []string{"flags", "tags"} {
		if s := c.Sets[set]; s != nil {
			for _, e := range s.Elems() {
				v, _ := DecodeValue(set, []byte(e)).(string)
				if set == "flags" {
					has[v] = true
				} else if f, ok := tagFlags[v]; ok {
					has[f] = true
				}
			}
		}
	}
	for _, k := range clocks {
		if _, _, overdue := k.Status(now, 0); overdue && k.Stopped.IsZero() && isDuty(k) {
			has[FlagOverdue] = true
		}
	}
	if collectiveSize > 0 {
		n := int(c.Int("people_count"))
		if ps, ok := DecodeValue("petitioners", mustValue(c, "petitioners")).([]Person); ok {
			n = max(n, len(ps))
		}
		if n >= collectiveSize {
			has[FlagCollective] = true
		}
	}
	var out []string
	for _, f := range FlagCodes {
		if has[f] {
			out = append(out, f)
		}
	}
	return out
}

// MetricTerm is one fact about a case that metric definitions count.
type MetricTerm struct {
	Zh, En string
	holds  func(f *CaseFacts, asOf time.Time, d *MetricDefinitions) bool
}

// clockAt judges clock k of f at asOf: started by then, stopped by then (in time or late),
// or running (overdue or not).
func clockAt(f *CaseFacts, k ClockKind, asOf time.Time) (started, stopped, inTime, overdue bool) {
	for _, c := range f.Clocks {
		if c.Kind != k || c.Start.After(asOf) {
			continue
		}
		if !c.Stopped.IsZero() && !c.Stopped.After(asOf) {
			return true, true, !c.Stopped.After(c.Due), false
		}
		return true, false, false, !c.Paused && asOf.After(c.Due)
	}
	return false, false, false, false
}

// acceptanceClock is the clock that judges an item's acceptance: the notice of a forwarded
// or assigned item, else the decision on a direct one that was accepted or is pending.
func acceptanceClock(f *CaseFacts) (ClockKind, bool) {
	for _, c := range f.Clocks {
		if c.Kind == ClockNotice {
			return ClockNotice, true
		}
	}
	if _, routed := f.Times["routed_at"]; routed {
		return "", false // routed out (政法, 纪检监察, 另行提出, 不予受理): not an acceptance
	}
	return ClockDecide, true
}

func clockTerm(k ClockKind, want string) func(*CaseFacts, time.Time, *MetricDefinitions) bool {
	return func(f *CaseFacts, asOf time.Time, _ *MetricDefinitions) bool {
		kind := k
		if k == "acceptance" {
			var ok bool
			if kind, ok = acceptanceClock(f); !ok {
				return false
			}
		}
		started, stopped, inTime, overdue := clockAt(f, kind, asOf)
		switch want {
		case "in_time":
			return stopped && inTime
		case "late":
			return stopped && !inTime
		case "overdue":
			return started && !stopped && overdue
		case "pending":
			return started && !stopped && !overdue
		}
		return false
	}
}

func hasFlag(flag string) func(*CaseFacts, time.Time, *MetricDefinitions) bool {
	return func(f *CaseFacts, _ time.Time, _ *MetricDefinitions) bool { return slices.Contains(f.Flags, flag) }
}

func happened(f *CaseFacts, field string, asOf time.Time) bool {
	t, ok := f.Times[field]
	return ok && t <= asOf.UnixMilli()
}

// MetricTerms are the terms a definition may use, by name.
var MetricTerms = map[string]*MetricTerm{
	"decided_in_time":    {"15日内转送、交办、导出或告知", "forwarded, assigned, routed or told within 15 days", clockTerm(ClockDecide, "in_time")},
	"decided_late":       {"超期转送、交办", "decided after 15 days", clockTerm(ClockDecide, "late")},
	"undecided_overdue":  {"超期未处理", "not decided, 15 days passed", clockTerm(ClockDecide, "overdue")},
	"undecided":          {"未到期未处理", "not decided yet, in time", clockTerm(ClockDecide, "pending")},
	"noticed_in_time":    {"15日内书面告知受理", "acceptance notified within 15 days", clockTerm(ClockNotice, "in_time")},
	"noticed_late":       {"超期告知受理", "acceptance notified late", clockTerm(ClockNotice, "late")},
	"unnoticed_overdue":  {"超期未告知", "not notified, 15 days passed", clockTerm(ClockNotice, "overdue")},
	"accepted_in_time":   {"及时受理", "accepted in time", clockTerm("acceptance", "in_time")},
	"accepted_late":      {"超期受理", "accepted late", clockTerm("acceptance", "late")},
	"unaccepted_overdue": {"超期未受理", "not accepted, time passed", clockTerm("acceptance", "overdue")},
	"unaccepted":         {"未到期未受理", "not accepted yet, in time", clockTerm("acceptance", "pending")},
	"replied_in_time":    {"按期答复", "replied in time", clockTerm(ClockHandle, "in_time")},
	"replied_late":       {"超期答复", "replied late", clockTerm(ClockHandle, "late")},
	"unreplied":          {"未答复（未到期）", "not replied yet, in time", clockTerm(ClockHandle, "pending")},
	"unreplied_overdue":  {"超期未答复", "not replied, time passed", clockTerm(ClockHandle, "overdue")},
	"served": {"已出具处理意见", "opinion served", func(f *CaseFacts, asOf time.Time, _ *MetricDefinitions) bool {
		return happened(f, "served_at", asOf)
	}},
	"should_evaluate": {"应参评", "to be evaluated", func(f *CaseFacts, asOf time.Time, _ *MetricDefinitions) bool {
		return happened(f, "served_at", asOf) && !f.Confidential && !slices.Contains(RoutesToProcedure, f.Route)
	}},
	"evaluated": {"已参评", "evaluated", func(f *CaseFacts, _ time.Time, _ *MetricDefinitions) bool { return f.Evaluation != "" }},
	"satisfied": {"满意", "satisfied", func(f *CaseFacts, _ time.Time, d *MetricDefinitions) bool {
		return f.Evaluation != "" && slices.Contains(d.Satisfied, f.Evaluation)
	}},
	"closed": {"已办结", "closed", func(f *CaseFacts, asOf time.Time, _ *MetricDefinitions) bool { return happened(f, "closed_at", asOf) }},
	"first_petition_closed": {"初次信访办结", "first petition, closed", func(f *CaseFacts, asOf time.Time, _ *MetricDefinitions) bool {
		return happened(f, "closed_at", asOf) && !slices.Contains(f.Flags, FlagRepeat)
	}},
	"resolved_once": {"一次性化解", "resolved at the first handling", func(f *CaseFacts, asOf time.Time, _ *MetricDefinitions) bool {
		return happened(f, "closed_at", asOf) && !slices.Contains(f.Flags, FlagRepeat) && !happened(f, "review_requested_at", asOf)
	}},
	"backlog": {"积案", "backlog", hasFlag(FlagBacklog)},
	"backlog_resolved": {"已化解积案", "backlog resolved", func(f *CaseFacts, asOf time.Time, _ *MetricDefinitions) bool {
		return slices.Contains(f.Flags, FlagBacklog) && happened(f, "closed_at", asOf)
	}},
	"repeat":         {"重复信访", "repeat petition", hasFlag(FlagRepeat)},
	"level_skipping": {"越级访", "level-skipping visit", hasFlag(FlagLevelSkipping)},
	"collective":     {"集体访", "joint visit", hasFlag(FlagCollective)},
	"urgent":         {"重大紧急", "major and urgent", hasFlag(FlagUrgent)},
	"supervised":     {"督办", "supervised", hasFlag(FlagSupervised)},
	"overdue":        {"超期", "overdue", hasFlag(FlagOverdue)},
}

// MetricValues are the per-case values a mean may average, by name.
var MetricValues = map[string]func(f *CaseFacts) (float64, bool){
	// handling_days: calendar days from acceptance to the opinion served.
	"handling_days": func(f *CaseFacts) (float64, bool) {
		a, ok1 := f.Times["notice_at"]
		s, ok2 := f.Times["served_at"]
		if !ok1 || !ok2 || s < a {
			return 0, false
		}
		return float64(DateOf(time.UnixMilli(s)) - DateOf(time.UnixMilli(a))), true
	},
}

// MetricResult is one figure with what it is made of.
type MetricResult struct {
	Name        string       `json:"name"`
	Zh          string       `json:"zh"`
	En          string       `json:"en"`
	Kind        string       `json:"kind"`
	Doc         string       `json:"doc"`
	Numerator   int          `json:"numerator"`
	Denominator int          `json:"denominator,omitempty"`
	Value       string       `json:"value"` // "57.49%" for a rate ("" when the denominator is 0), the count, or the mean to 2 places
	Terms       []TermResult `json:"terms"`
	// The cases behind the figure (ids).
	NumeratorCases   []string `json:"numerator_cases"`
	DenominatorCases []string `json:"denominator_cases,omitempty"`
}

// TermResult is one term of a figure and the cases it holds for.
type TermResult struct {
	Term  string   `json:"term"`
	Zh    string   `json:"zh"`
	Cases []string `json:"cases"`
}

// ComputeMetrics computes every definition of d over facts for the period [from, to), judged
// as of the end of the period or now, whichever is earlier. A case is in a metric's period
// when its anchor event happened in it (every case for an empty anchor).
func ComputeMetrics(d *MetricDefinitions, facts []CaseFacts, from, to, now time.Time) []MetricResult {
	asOf := to
	if now.Before(asOf) {
		asOf = now
	}
	out := make([]MetricResult, 0, len(d.Metrics))
	for _, m := range d.Metrics {
		res := MetricResult{Name: m.Name, Zh: m.Zh, En: m.En, Kind: m.Kind, Doc: m.Doc, NumeratorCases: []string{}}
		terms := map[string]*TermResult{}
		for _, name := range append(slices.Clone(m.Numerator), m.Denominator...) {
			if terms[name] == nil {
				terms[name] = &TermResult{Term: name, Zh: MetricTerms[name].Zh, Cases: []string{}}
				res.Terms = append(res.Terms, TermResult{})
			}
		}
		var sum float64
		for i := range facts {
			f := &facts[i]
			if m.Anchor != "" {
				t, ok := f.Times[m.Anchor]
				if !ok || t < from.UnixMilli() || t >= to.UnixMilli() {
					continue
				}
			}
			holds := map[string]bool{}
			for name, tr := range terms {
				if MetricTerms[name].holds(f, asOf, d) {
					holds[name] = true
					tr.Cases = append(tr.Cases, f.ID)
				}
			}
			inNum := slices.ContainsFunc(m.Numerator, func(n string) bool { return holds[n] })
			inDen := slices.ContainsFunc(m.Denominator, func(n string) bool { return holds[n] })
			if m.Kind == MetricMean && inNum {
				v, ok := MetricValues[m.Value](f)
				if !ok {
					continue
				}
				sum += v
			}
			if inNum {
				res.NumeratorCases = append(res.NumeratorCases, f.ID)
			}
			if inDen {
				res.DenominatorCases = append(res.DenominatorCases, f.ID)
			}
		}
		res.Numerator, res.Denominator = len(res.NumeratorCases), len(res.DenominatorCases)
		switch m.Kind {
		case MetricRate:
			res.Value = FormatRate(res.Numerator, res.Denominator)
		case MetricCount:
			res.Value = strconv.Itoa(res.Numerator)
		case MetricMean:
			if res.Numerator > 0 {
				res.Value = strconv.FormatFloat(sum/float64(res.Numerator), 'f', 2, 64)
			}
		}
		i := 0
		for _, name := range append(slices.Clone(m.Numerator), m.Denominator...) {
			if tr := terms[name]; tr != nil {
				slices.Sort(tr.Cases)
				res.Terms[i] = *tr
				i++
				delete(terms, name)
			}
		}
		slices.Sort(res.NumeratorCases)
		slices.Sort(res.DenominatorCases)
		out = append(out, res)
	}
	return out
}

// FormatRate returns num/den as a percentage with two decimals, rounded half up in exact
// integer arithmetic: 96/167 is "57.49%". A zero denominator gives "".
func FormatRate(num, den int) string {
	if den <= 0 || num < 0 {
		return ""
	}
	bp := (int64(num)*20000 + int64(den)) / (2 * int64(den)) // hundredths of a percent, half up
	return fmt.Sprintf("%d.%02d%%", bp/100, bp%100)
}
