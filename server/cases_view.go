package server

import (
	"slices"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// The workflow's view of a case: the fields and conflicts of CaseView, plus what the
// workflow knows of it at this node, offline — its statutory clocks on the calendar in
// force, the next deadline with days left and warnings, its flags, the states it may go to,
// other cases of the same petitioner and matter, and the version a PATCH must name.

// WorkflowCaseJSON is a case as GET /api/v1/cases/{id} shows it.
type WorkflowCaseJSON struct {
	CaseJSON
	Number     string     `json:"number,omitempty"` // the case number (3204-26-420), if it has one
	Kind       string     `json:"kind"`
	StateName  string     `json:"state_name,omitempty"`
	FlagList   []FlagView `json:"case_flags"`
	NextStates []string   `json:"next_states"`
	// Transitions are the next states with the data each takes, for a form to ask for.
	Transitions []TransitionView `json:"transitions"`
	Deadline    *DueView         `json:"next_deadline,omitempty"`
	Clocks      []ClockView      `json:"clocks"`
	RepeatOf    []string         `json:"repeat_of,omitempty"`
	Version     []string         `json:"version"`            // the dots a PATCH names as its base
	Calendar    CalendarView     `json:"calendar"`           // the calendar the clocks were counted on
	Stub        bool             `json:"stub,omitempty"`     // only a stub is kept here (left scope, or an accusation of this station)
	Warnings    []string         `json:"warnings,omitempty"` // for people: the clock flagged, the configuration unusable
}

// FlagView is one flag beside the state.
type FlagView struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Computed bool   `json:"computed,omitempty"` // computed by the system, not set by a person
}

// DueView is the next deadline of a case, judged now.
type DueView struct {
	Clock    cases.ClockKind `json:"clock"`
	Rule     string          `json:"rule"`
	LastDay  string          `json:"last_day"` // YYYY-MM-DD, Beijing time
	Due      string          `json:"due"`      // 24:00 of the last day, RFC 3339 in Asia/Shanghai
	DaysLeft int             `json:"days_left"`
	Near     bool            `json:"near_due"`
	Overdue  bool            `json:"overdue"`
}

// ClockView is one statutory clock.
type ClockView struct {
	Clock       cases.ClockKind `json:"clock"`
	Holder      cases.Holder    `json:"holder"`
	Rule        string          `json:"rule"`
	Start       string          `json:"start"`
	LastDay     string          `json:"last_day"`
	Due         string          `json:"due"`
	Days        int             `json:"days"`
	Working     bool            `json:"working_days,omitempty"`
	Extended    int             `json:"extended_days,omitempty"`
	Excluded    int             `json:"excluded_days,omitempty"`
	Status      string          `json:"status"` // running, near_due, overdue, paused, met, late
	DaysLeft    int             `json:"days_left"`
	Stopped     string          `json:"stopped,omitempty"`
	Provisional bool            `json:"provisional,omitempty"`
}

// CalendarView names a calendar and where it came from.
type CalendarView struct {
	Version string `json:"version"`
	Source  string `json:"source,omitempty"` // the configuration document; "" for the built-in one
}

func shanghaiTime(t time.Time) string { return t.In(Shanghai).Format(time.RFC3339) }

// hubAtOf returns the hub receipt times of a case's ops, by dot, from its history.
func hubAtOf(hist []cases.Stored) func(crdt.Dot) int64 {
	return func(d crdt.Dot) int64 {
		for i := range hist {
			if hist[i].Op.Dot == d {
				return hist[i].Meta.ReceivedAt
			}
		}
		return 0
	}
}

// viewContext is what a view is computed with.
type viewContext struct {
	now      time.Time
	cal      *cases.Calendar
	calSrc   string
	nearDays int
	collect  int // collective-visit size
	repeatOf []string
	stub     bool
}

// clocksOf returns the clocks of c and its flags at vc.now.
func clocksOf(c *cases.Case, hist []cases.Stored, vc viewContext) ([]cases.Clock, []string, error) {
	var hubAt func(crdt.Dot) int64
	if hist != nil {
		hubAt = hubAtOf(hist)
	}
	clocks, err := cases.CaseClocks(c, vc.cal, hubAt)
	var extra []string
	if len(vc.repeatOf) > 0 {
		extra = append(extra, cases.FlagRepeat)
	}
	return clocks, cases.FlagsOf(c, clocks, vc.now, vc.collect, extra...), err
}

// workflowView shows case c (folded from hist) as the workflow sees it at vc.now.
func workflowView(c *cases.Case, hist []cases.Stored, vc viewContext) WorkflowCaseJSON {
	v := WorkflowCaseJSON{Kind: c.String("kind"), Number: c.String("case_no"), Calendar: CalendarView{Version: vc.cal.Version(), Source: vc.calSrc},
		NextStates: []string{}, Transitions: []TransitionView{}, Clocks: []ClockView{}, FlagList: []FlagView{}, Version: versionOf(c)}
	if v.Kind == "" {
		v.Kind = cases.MatterPetition
	}
	if vc.stub {
		v.CaseJSON = CaseJSON{ID: c.ID, State: string(c.State()), Fields: map[string]any{}, Tags: []string{}, Notes: []NoteJSON{}}
		v.Stub = true
		v.Warnings = append(v.Warnings, "本站只保留存根：案件已移交或涉及对本单位的检举控告 / only a stub is kept here: the case moved on, or accuses this unit")
		return v
	}
	v.CaseJSON = CaseView(c, hist)
	v.CaseJSON.Deadline = nil // set below from the clocks on the calendar in force
	v.StateName = cases.StateNames[c.State()]
	v.RepeatOf = vc.repeatOf
	if len(c.Conflicts()) == 0 || !slices.Contains(c.Conflicts(), "state") {
		for _, s := range cases.NextStates(v.Kind, c.State()) {
			v.NextStates = append(v.NextStates, string(s))
			v.Transitions = append(v.Transitions, transitionView(v.Kind, c.State(), s))
		}
	}
	clocks, flags, err := clocksOf(c, hist, vc)
	if err != nil {
		v.Warnings = append(v.Warnings, "部分时限事件无法使用："+err.Error()+" / some clock events cannot be used")
	}
	stored := map[string]bool{}
	if s := c.Sets["flags"]; s != nil {
		for _, e := range s.Elems() {
			if f, ok := cases.DecodeValue("flags", []byte(e)).(string); ok {
				stored[f] = true
			}
		}
	}
	for _, f := range flags {
		v.FlagList = append(v.FlagList, FlagView{Code: f, Name: cases.FlagNames[f], Computed: !stored[f]})
	}
	for _, k := range clocks {
		v.Clocks = append(v.Clocks, clockView(k, vc))
	}
	if k, ok := cases.NextDue(clocks); ok {
		left, near, overdue := k.Status(vc.now, vc.nearDays)
		v.Deadline = &DueView{Clock: k.Kind, Rule: k.Rule, LastDay: k.Last.String(), Due: shanghaiTime(k.Due), DaysLeft: left, Near: near, Overdue: overdue}
		v.CaseJSON.Deadline = &DeadlineJSON{At: v.Deadline.Due, Rule: k.Rule}
	}
	for _, k := range clocks {
		if k.Provisional && k.Stopped.IsZero() {
			v.Warnings = append(v.Warnings, "时限跨入日历未覆盖的年份，按周一至周五估算，请更新节假日日历 / a deadline falls in a year the calendar does not cover: supply that year's calendar")
			break
		}
	}
	return v
}

func clockView(k cases.Clock, vc viewContext) ClockView {
	left, near, overdue := k.Status(vc.now, vc.nearDays)
	cv := ClockView{Clock: k.Kind, Holder: k.Holder, Rule: k.Rule, Start: shanghaiTime(k.Start), LastDay: k.Last.String(), Due: shanghaiTime(k.Due),
		Days: k.Days, Working: k.Working, Extended: k.Extended, Excluded: k.Excluded, DaysLeft: left, Provisional: k.Provisional}
	switch {
	case !k.Stopped.IsZero() && !overdue:
		cv.Status = "met"
	case !k.Stopped.IsZero():
		cv.Status = "late"
	case k.Paused:
		cv.Status = "paused"
	case overdue:
		cv.Status = "overdue"
	case near:
		cv.Status = "near_due"
	default:
		cv.Status = "running"
	}
	if !k.Stopped.IsZero() {
		cv.Stopped = shanghaiTime(k.Stopped)
	}
	return cv
}

// versionOf returns what a PATCH names as its base: every visible register write and every
// element add of c's sets, as node/incarnation/seq.
func versionOf(c *cases.Case) []string {
	var ds []crdt.Dot
	for _, r := range c.Registers {
		ds = append(ds, r.Dots()...)
	}
	for _, s := range c.Sets {
		_, dots := s.Adds()
		ds = append(ds, dots...)
	}
	ds = crdt.SortDots(ds)
	out := make([]string, 0, len(ds))
	for i, d := range ds {
		if i == 0 || d != ds[i-1] {
			out = append(out, d.String())
		}
	}
	return out
}

// TransitionView is one transition a case may take from its state.
type TransitionView struct {
	To     string                `json:"to"`
	Name   string                `json:"name"` // the state as people say it
	Fields []TransitionDatumJSON `json:"fields"`
}

// TransitionDatumJSON is one datum a transition takes.
type TransitionDatumJSON struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Zh       string   `json:"zh"`
	En       string   `json:"en"`
	Enum     []string `json:"enum,omitempty"`
	Required bool     `json:"required,omitempty"`
	Defaults bool     `json:"defaults_to_now,omitempty"`
}

func transitionView(kind string, from, to cases.State) TransitionView {
	tv := TransitionView{To: string(to), Name: cases.StateNames[to], Fields: []TransitionDatumJSON{}}
	for _, p := range cases.TransitionParams(kind, from, to) {
		tv.Fields = append(tv.Fields, TransitionDatumJSON{Name: p.Name, Type: typeNames[p.Spec.Type], Zh: p.Spec.Zh, En: p.Spec.En,
			Enum: p.Spec.Enum, Required: p.Required, Defaults: p.Defaults})
	}
	return tv
}
