package cases_test

// The statutory clocks as the workflow records them: transitions write event times into the
// case, and the clocks are read back from it — at month ends, in leap years, over holidays
// and 调休 weekends, with extensions and 复核 hearings, and from the hub's receipt time when a
// station's clock ran ahead. Then the property: state and deadlines are a pure function of
// the op set.

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// step is one transition made at a time (Beijing "2006-01-02", 10:00, or RFC 3339).
type step struct {
	to   cases.State
	at   string
	data map[string]json.RawMessage
}

// walk registers a petition received at `received` and makes the steps in order, each at
// its time on cal, as one station would; it fails the test on a refusal.
func walk(t *testing.T, kind, received string, cal *cases.Calendar, steps ...step) *cases.Case {
	t.Helper()
	return walkID(t, caseID, kind, received, cal, nil, steps...)
}

// walkID is walk for case id, registered with extra writes; a step with no state is an edit
// of the fields in its data.
func walkID(t *testing.T, caseID, kind, received string, cal *cases.Calendar, extra []cases.LocalWrite, steps ...step) *cases.Case {
	t.Helper()
	in := append(append(without(registration(), "kind"), lw("kind", kind), lw("received_at", at(t, received).UnixMilli())), extra...)
	ws, obs, err := cases.Prepare(cases.NewCase(caseID), cases.KindRegister, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := []cases.Stored{{Op: cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 1}, Stamp: crdt.Timestamp{Wall: at(t, received).UnixMilli()},
		Case: caseID, Kind: cases.KindRegister, Author: "u", Writes: ws, Observed: obs}}}
	c := cases.Fold(caseID, ops)
	for i, s := range steps {
		now := at(t, s.at)
		kind := cases.KindTransition
		var tws []cases.LocalWrite
		if s.to == "" {
			kind = cases.KindEdit
			for f, v := range s.data {
				tws = append(tws, cases.LocalWrite{Field: f, JSON: v})
			}
		} else if tws, err = cases.TransitionAt(c, s.to, s.data, cases.TransitionContext{Now: now, Region: "420323", Calendar: cal, Full: c}); err != nil {
			t.Fatalf("step %d to %s at %s: %v", i, s.to, s.at, err)
		}
		ws, obs, err := cases.Prepare(c, kind, tws, nil)
		if err != nil {
			t.Fatalf("step %d: Prepare: %v", i, err)
		}
		ops = append(ops, cases.Stored{Op: cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: uint64(i + 2)}, Stamp: crdt.Timestamp{Wall: now.UnixMilli()},
			Case: caseID, Kind: kind, Author: "u", Writes: ws, Observed: obs}})
		c = cases.Fold(caseID, ops)
	}
	return c
}

func accept(t *testing.T, when string) step {
	return step{cases.Accepted, when, data("notice_at", at(t, when).UnixMilli())}
}

func lastDay(t *testing.T, c *cases.Case, cal *cases.Calendar, k cases.ClockKind) string {
	t.Helper()
	cs, err := cases.CaseClocks(c, cal, nil)
	if err != nil {
		t.Fatalf("CaseClocks: %v", err)
	}
	return clockOf(t, cs, k).Last.String()
}

func TestCaseClocks_Deadlines(t *testing.T) {
	def := cases.DefaultCalendar()
	roll := rollOverCalendar(t)
	ext := func(days int) map[string]json.RawMessage {
		return data("days", days, "approver", "李局长", "approver_role", "unit_head", "reason", "涉及多部门，需会同调查")
	}
	for _, tc := range []struct {
		name  string
		c     func(t *testing.T) *cases.Case
		cal   *cases.Calendar
		clock cases.ClockKind
		want  string
	}{
		{"15 days across a month end", func(t *testing.T) *cases.Case { return walk(t, cases.MatterPetition, "2026-01-31", def) },
			def, cases.ClockDecide, "2026-02-15"},
		{"15 days ending on the last day of February", func(t *testing.T) *cases.Case { return walk(t, cases.MatterPetition, "2026-02-13", def) },
			def, cases.ClockDecide, "2026-02-28"},
		{"60 days into a leap February", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2023-12-20", nil, accept(t, "2023-12-31"))
		}, nil, cases.ClockHandle, "2024-02-29"},
		{"60 days over a common February", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2025-12-20", def, accept(t, "2025-12-31"))
		}, def, cases.ClockHandle, "2026-03-01"},
		{"a period ending in the National Day holiday, no roll-over", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2026-09-20", def)
		}, def, cases.ClockDecide, "2026-10-05"},
		{"the same with roll-over: the next working day", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2026-09-20", roll)
		}, roll, cases.ClockDecide, "2026-10-08"},
		{"5 working days over 春节 and a 调休 Saturday", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2026-02-10", def,
				step{cases.Forwarded, "2026-02-13", data("handler_unit", "县住建局", "handler_region", "420323")})
		}, def, cases.ClockObjection, "2026-02-27"},
		{"5 working days with no calendar: Monday to Friday", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2026-02-10", nil,
				step{cases.Forwarded, "2026-02-13", data("handler_unit", "县住建局", "handler_region", "420323")})
		}, nil, cases.ClockObjection, "2026-02-20"},
		{"two extensions add up to 30 days", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2026-01-05", def, accept(t, "2026-01-10"),
				step{cases.Investigating, "2026-01-11", data("route", "Art31(6)")},
				step{cases.Extended, "2026-03-01", ext(20)}, step{cases.Extended, "2026-03-20", ext(10)})
		}, def, cases.ClockHandle, "2026-04-10"},
		{"复核 hearing days are not counted", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2025-11-01", def, accept(t, "2025-11-03"),
				step{cases.Investigating, "2025-11-04", data("route", "Art31(6)")},
				step{cases.OpinionServed, "2025-12-20", data("outcome", "不予支持", "served_at", at(t, "2025-12-20").UnixMilli())},
				step{cases.Review, "2026-01-10", nil}, step{cases.Review, "2026-02-01", data("review_outcome", "维持")},
				step{cases.ReReview, "2026-03-02", nil},
				step{cases.Hearing, "2026-03-10", nil}, step{cases.ReReview, "2026-03-12", nil})
		}, def, cases.ClockReReview, "2026-04-04"},
		{"a handling round ordered again gets a fresh 60 days", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterPetition, "2025-11-01", def, accept(t, "2025-11-03"),
				step{cases.Investigating, "2025-11-04", data("route", "Art31(6)")},
				step{cases.OpinionServed, "2025-12-20", data("outcome", "不予支持", "served_at", at(t, "2025-12-20").UnixMilli())},
				step{cases.Review, "2026-01-10", nil}, step{cases.Review, "2026-02-01", data("review_outcome", cases.OutcomeRedo)},
				step{cases.Investigating, "2026-02-05", nil})
		}, def, cases.ClockHandle, "2026-04-06"},
		{"司法确认 within 30 days of the agreement", func(t *testing.T) *cases.Case {
			return walk(t, cases.MatterDispute, "2026-01-05", def,
				step{cases.Mediating, "2026-01-06", data("committee", "溢水镇人民调解委员会", "mediator", "王调解员")},
				step{cases.Agreement, "2026-01-31", data("agreement", signed)})
		}, def, cases.ClockConfirmationRequest, "2026-03-02"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lastDay(t, tc.c(t), tc.cal, tc.clock); got != tc.want {
				t.Errorf("%s clock ends on %s, want %s", tc.clock, got, tc.want)
			}
		})
	}
	// A third extension past 30 days in total is refused by the transition.
	c := walk(t, cases.MatterPetition, "2026-01-05", def, accept(t, "2026-01-10"),
		step{cases.Investigating, "2026-01-11", data("route", "Art31(6)")},
		step{cases.Extended, "2026-03-01", ext(20)}, step{cases.Extended, "2026-03-20", ext(10)})
	_, err := cases.TransitionAt(c, cases.Extended, ext(1), cases.TransitionContext{Now: at(t, "2026-03-21"), Calendar: def})
	wantRule(t, err, "days", "too_long", "R22 Art 34")
}

// TestCaseClocks_NextDueAndWarnings: offline, a station knows the next deadline, the days left
// and whether it is near due or overdue; the 15-day decision stops at the forward and the
// forwarded item's own notice and objection clocks start.
func TestCaseClocks_NextDueAndWarnings(t *testing.T) {
	def := cases.DefaultCalendar()
	c := walk(t, cases.MatterPetition, "2026-03-02", def)
	cs, _ := cases.CaseClocks(c, def, nil)
	k, ok := cases.NextDue(cs)
	if !ok || k.Kind != cases.ClockDecide || k.Due.Format(time.RFC3339Nano) != "2026-03-17T23:59:59.999999999+08:00" {
		t.Fatalf("next due %+v %v", k, ok)
	}
	for _, tc := range []struct {
		now           string
		left          int
		near, overdue bool
	}{
		{"2026-03-10", 7, false, false},
		{"2026-03-14", 3, true, false},
		{"2026-03-17T23:59:00+08:00", 0, true, false},
		{"2026-03-18T00:00:00+08:00", -1, false, true},
	} {
		left, near, overdue := k.Status(at(t, tc.now), 3)
		if left != tc.left || near != tc.near || overdue != tc.overdue {
			t.Errorf("at %s: %d days left, near %v, overdue %v; want %d %v %v", tc.now, left, near, overdue, tc.left, tc.near, tc.overdue)
		}
	}
	if got := cases.FlagsOf(c, cs, at(t, "2026-03-18T00:00:00+08:00"), 5); !slices.Contains(got, cases.FlagOverdue) {
		t.Errorf("flags after the deadline %v, want overdue", got)
	}
	f := walk(t, cases.MatterPetition, "2026-03-02", def, step{cases.Forwarded, "2026-03-04", data("handler_unit", "县住建局")})
	cs, _ = cases.CaseClocks(f, def, nil)
	if d := clockOf(t, cs, cases.ClockDecide); d.Stopped.IsZero() {
		t.Errorf("the decision clock still runs after the forward: %+v", d)
	}
	k, _ = cases.NextDue(cs)
	if k.Kind != cases.ClockObjection || k.Last.String() != "2026-03-11" {
		t.Errorf("next due after the forward: %s on %s, want the objection on 2026-03-11", k.Kind, k.Last)
	}
}

// TestCaseClocks_FlaggedStationClock: a notice written by a station whose clock ran a week
// ahead is judged from the hub's receipt, not from the station's time.
func TestCaseClocks_FlaggedStationClock(t *testing.T) {
	c := walk(t, cases.MatterPetition, "2026-03-02", nil)
	ahead := at(t, "2026-03-20").UnixMilli()
	op := cases.Op{Dot: crdt.Dot{Origin: origins[1], Seq: 1}, Stamp: crdt.Timestamp{Wall: ahead}, Case: caseID, Kind: cases.KindTransition,
		Author: "u", Observed: c.Observe("state", "notice_at"), Writes: []cases.Write{
			{Field: "notice_at", Action: cases.Set, Value: cases.EncodeInt(ahead)},
			{Field: "state", Action: cases.Set, Value: cases.EncodeString(string(cases.Accepted))},
		}}
	hubAt := at(t, "2026-03-05").UnixMilli()
	c.Apply(&op, cases.Meta{Flagged: true, ReceivedAt: hubAt})
	lookup := func(d crdt.Dot) int64 {
		if d == op.Dot {
			return hubAt
		}
		return 0
	}
	cs, _ := cases.CaseClocks(c, nil, lookup)
	if h := clockOf(t, cs, cases.ClockHandle); h.Last.String() != "2026-05-04" {
		t.Errorf("handling from the hub's receipt ends %s, want 2026-05-04", h.Last)
	}
	if b := cases.DueBound(c, nil); b != 1 {
		t.Errorf("DueBound without the hub's receipt = %d, want 1 (look at it every time)", b)
	}
	if b := cases.DueBound(c, lookup); b != at(t, "2026-05-04T23:59:59.999+08:00").UnixMilli() {
		t.Errorf("DueBound with the receipt = %d", b)
	}
}

// ---- the property ----

var wfTargets = map[cases.State]func(t *rapid.T, now int64) map[string]json.RawMessage{
	cases.Forwarded: func(t *rapid.T, now int64) map[string]json.RawMessage { return data("handler_unit", "县住建局") },
	cases.Assigned: func(t *rapid.T, now int64) map[string]json.RawMessage {
		return data("handler_unit", "溢水镇人民政府", "feedback_due", now+int64(rapid.IntRange(1, 30).Draw(t, "feedback days"))*86400_000)
	},
	cases.RoutedLegal:       func(*rapid.T, int64) map[string]json.RawMessage { return data("handler_unit", "县委政法委") },
	cases.RoutedDiscipline:  func(*rapid.T, int64) map[string]json.RawMessage { return data("handler_unit", "县纪委监委") },
	cases.Redirected:        func(*rapid.T, int64) map[string]json.RawMessage { return data("handler_unit", "竹山县人民法院") },
	cases.NotAccepted:       func(*rapid.T, int64) map[string]json.RawMessage { return data("refusal", "不予受理") },
	cases.Objected:          func(*rapid.T, int64) map[string]json.RawMessage { return data("objection_reason", "不属本单位") },
	cases.Accepted:          func(_ *rapid.T, now int64) map[string]json.RawMessage { return data("notice_at", now) },
	cases.RoutedToProcedure: func(*rapid.T, int64) map[string]json.RawMessage { return data("route", "Art31(2)") },
	cases.Investigating:     func(*rapid.T, int64) map[string]json.RawMessage { return data("route", "Art31(6)") },
	cases.Mediating: func(*rapid.T, int64) map[string]json.RawMessage {
		return data("mediation_consent", true, "committee", "溢水镇人民调解委员会", "mediator", "王调解员")
	},
	cases.Extended: func(t *rapid.T, _ int64) map[string]json.RawMessage {
		return data("days", rapid.IntRange(1, 20).Draw(t, "ext days"), "approver", "李局长", "approver_role", "unit_head", "reason", "需会同调查")
	},
	cases.OpinionServed: func(t *rapid.T, now int64) map[string]json.RawMessage {
		return data("outcome", rapid.SampledFrom([]string{"支持", "不予支持"}).Draw(t, "outcome"), "served_at", now)
	},
	cases.Review: func(t *rapid.T, _ int64) map[string]json.RawMessage {
		return data("review_outcome", rapid.SampledFrom([]string{"维持", cases.OutcomeRedo}).Draw(t, "review"))
	},
	cases.ReReview: func(t *rapid.T, _ int64) map[string]json.RawMessage { return data("rereview_outcome", "维持") },
	cases.Closed: func(*rapid.T, int64) map[string]json.RawMessage {
		return data("close_reason", "已办结", "confirmation_result", "有效")
	},
	cases.Agreement: func(*rapid.T, int64) map[string]json.RawMessage {
		return data("agreement", signed)
	},
	cases.JudicialConfirmation: func(*rapid.T, int64) map[string]json.RawMessage { return data("court", "竹山县人民法院") },
}

// transitionData drops the parameters a particular rule does not take, so the generator's
// broad data fits whichever variant applies.
func transitionData(c *cases.Case, to cases.State, d map[string]json.RawMessage, ctx cases.TransitionContext) ([]cases.LocalWrite, error) {
	for {
		ws, err := cases.TransitionAt(c, to, d, ctx)
		fe, ok := err.(*cases.FieldError)
		if !ok || fe.Code != "not_transition_data" {
			return ws, err
		}
		delete(d, fe.Field)
	}
}

// TestWorkflow_Property_StateAndDeadlinesArePureFunctionsOfTheOpSet: stations write legal
// transitions from their own partial views of a case (so concurrent ones become conflicts,
// which a later op resolves), some ops flagged for a station clock ahead with the hub's
// receipt time; folding the op set in any order with any duplicates gives the same state,
// conflicts and clocks, and the bound a replica indexes never lies after the exact next
// deadline on any calendar.
func TestWorkflow_Property_StateAndDeadlinesArePureFunctionsOfTheOpSet(t *testing.T) {
	roll := rollOverCalendar(t)
	rapid.Check(t, func(t *rapid.T) {
		kind := rapid.SampledFrom(cases.Kinds()).Draw(t, "kind")
		start := time.Date(2026, 1, 5, 10, 0, 0, 0, cases.Shanghai).UnixMilli()
		in := append(without(registration(), "kind"), lw("kind", kind), lw("received_at", start))
		ws, obs, err := cases.Prepare(cases.NewCase(caseID), cases.KindRegister, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		ops := []cases.Stored{{Op: cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 1}, Stamp: crdt.Timestamp{Wall: start}, Case: caseID,
			Kind: cases.KindRegister, Author: "u", Writes: ws, Observed: obs}}}
		seqs := map[crdt.Origin]uint64{origins[0]: 1}
		now := start
		n := rapid.IntRange(1, 24).Draw(t, "ops")
		for i := 0; i < n; i++ {
			o := rapid.SampledFrom(origins).Draw(t, "origin")
			now += int64(rapid.IntRange(0, 20*24).Draw(t, "hours later")) * 3600_000
			// The author's view: the register op and a random subset of the rest.
			view := []cases.Stored{ops[0]}
			for _, s := range ops[1:] {
				if s.Op.Dot.Origin == o || rapid.IntRange(0, 3).Draw(t, "seen") > 0 {
					view = append(view, s)
				}
			}
			c := cases.Fold(caseID, view)
			var ws []cases.LocalWrite
			var kind cases.Kind
			if cf := c.Conflicts(); slices.Contains(cf, "state") {
				kind = cases.KindResolve
				ws = []cases.LocalWrite{lw("state", rapid.SampledFrom(c.Strings("state")).Draw(t, "chosen"))}
			} else {
				next := cases.NextStates(kind0(c), c.State())
				if len(next) == 0 {
					continue
				}
				// Mostly along the main road, so that the deep states (extensions, hearings,
				// 复查, 复核) are reached as often as the quick ends.
				deep := slices.DeleteFunc(slices.Clone(next), func(s cases.State) bool { return slices.Contains(quickEnds, s) })
				if len(deep) > 0 && rapid.IntRange(0, 4).Draw(t, "main road") > 0 {
					next = deep
				}
				to := rapid.SampledFrom(next).Draw(t, "to")
				d := map[string]json.RawMessage{}
				if g := wfTargets[to]; g != nil {
					d = g(t, now)
				}
				ctx := cases.TransitionContext{Now: time.UnixMilli(now), Calendar: cases.DefaultCalendar(), Full: c}
				if ws, err = transitionData(c, to, d, ctx); err != nil {
					continue // a rule refused it (a late request, an order not given): nothing written
				}
				kind = cases.KindTransition
			}
			pws, pobs, err := cases.Prepare(c, kind, ws, nil)
			if err != nil {
				t.Fatalf("Prepare %s: %v", kind, err)
			}
			seqs[o]++
			st := cases.Stored{Op: cases.Op{Dot: crdt.Dot{Origin: o, Seq: seqs[o]}, Stamp: crdt.Timestamp{Wall: now}, Case: caseID,
				Kind: kind, Author: "u", Writes: pws, Observed: pobs}}
			if rapid.IntRange(0, 4).Draw(t, "flagged") == 0 {
				st.Meta = cases.Meta{Flagged: true, ReceivedAt: now - int64(rapid.IntRange(0, 72).Draw(t, "hub earlier by hours"))*3600_000}
				st.Op.Stamp.Wall += 30 * 86400_000 // the station's clock ran a month ahead
			}
			ops = append(ops, st)
		}
		hubAt := func(d crdt.Dot) int64 {
			for _, s := range ops {
				if s.Op.Dot == d {
					return s.Meta.ReceivedAt
				}
			}
			return 0
		}
		want := summarize(cases.Fold(caseID, ops), hubAt, roll)
		for k := 0; k < 3; k++ {
			shuffled := rapid.Permutation(append(slices.Clone(ops), ops[rapid.IntRange(0, len(ops)-1).Draw(t, "dup")])).Draw(t, "order")
			if got := summarize(cases.Fold(caseID, shuffled), hubAt, roll); got != want {
				t.Fatalf("order %d:\n got %s\nwant %s", k, got, want)
			}
		}
		c := cases.Fold(caseID, ops)
		bound := cases.DueBound(c, hubAt)
		for _, cal := range []*cases.Calendar{cases.DefaultCalendar(), roll, nil} {
			cs, _ := cases.CaseClocks(c, cal, hubAt)
			k, ok := cases.NextDue(cs)
			if ok != (bound != 0) || (ok && bound > k.Due.UnixMilli()) {
				t.Fatalf("DueBound %d, exact next due %v (%v) on %s", bound, k.Due, ok, cal.Version())
			}
		}
	})
}

var quickEnds = []cases.State{cases.Closed, cases.RoutedLegal, cases.RoutedDiscipline, cases.Redirected, cases.NotAccepted,
	cases.RoutedToProcedure, cases.Escalated, cases.Objected}

func kind0(c *cases.Case) string {
	if k := c.String("kind"); k != "" {
		return k
	}
	return cases.MatterPetition
}

func summarize(c *cases.Case, hubAt func(crdt.Dot) int64, roll *cases.Calendar) string {
	s := fmt.Sprintf("state %v kind %v conflicts %v bound %d", c.Strings("state"), c.Strings("kind"), c.Conflicts(), cases.DueBound(c, hubAt))
	for _, cal := range []*cases.Calendar{cases.DefaultCalendar(), roll} {
		cs, err := cases.CaseClocks(c, cal, hubAt)
		s += fmt.Sprintf("\n  err %v", err)
		for _, k := range cs {
			s += fmt.Sprintf("\n  %s start %d last %s stopped %d ext %d excl %d paused %v", k.Kind, k.Start.UnixMilli(), k.Last, k.Stopped.UnixMilli(), k.Extended, k.Excluded, k.Paused)
		}
	}
	return s
}

// Two stations that accept one item offline at different times leave both notices in the
// case: the handling clock runs from the later one (the latest start), on every replica,
// and the index's bound agrees.
func TestCaseClocks_ConflictCountsEveryValue(t *testing.T) {
	c := walk(t, cases.MatterPetition, "2026-03-02", nil)
	base := c.Observe("state", "notice_at")
	for i, day := range []string{"2026-03-05", "2026-03-03"} { // the hub's, first by dot, is the earlier
		op := cases.Op{Dot: crdt.Dot{Origin: origins[1+i], Seq: 1}, Stamp: crdt.Timestamp{Wall: at(t, day).UnixMilli()}, Case: caseID,
			Kind: cases.KindTransition, Author: "u", Observed: base, Writes: []cases.Write{
				{Field: "notice_at", Action: cases.Set, Value: cases.EncodeInt(at(t, day).UnixMilli())},
				{Field: "state", Action: cases.Set, Value: cases.EncodeString(string(cases.Accepted))},
			}}
		c.Apply(&op, cases.Meta{})
	}
	if len(c.Registers["notice_at"].Values()) != 2 {
		t.Fatalf("fixture: %d notices", len(c.Registers["notice_at"].Values()))
	}
	cs, _ := cases.CaseClocks(c, nil, nil)
	if h := clockOf(t, cs, cases.ClockHandle); h.Last.String() != "2026-05-04" {
		t.Errorf("handling ends %s, want 60 days from the later notice (2026-05-04)", h.Last)
	}
	if b := cases.DueBound(c, nil); b != at(t, "2026-05-04T23:59:59.999+08:00").UnixMilli() {
		t.Errorf("DueBound %d", b)
	}
}

// A dispute's receipt starts none of the 《信访工作条例》's clocks; once escalated into a petition
// item and registered as one, its 15 days run from that registration.
func TestCaseClocks_DisputeThenPetition(t *testing.T) {
	c := walk(t, cases.MatterDispute, "2026-03-02", nil,
		step{cases.Mediating, "2026-03-03", data("committee", "城关镇人民调解委员会", "mediator", "王调解员")})
	if cs, _ := cases.CaseClocks(c, nil, nil); len(cs) != 0 || cases.DueBound(c, nil) != 0 {
		t.Fatalf("a dispute in mediation has clocks %+v", cs)
	}
	c = walk(t, cases.MatterDispute, "2026-03-02", nil,
		step{cases.Mediating, "2026-03-03", data("committee", "城关镇人民调解委员会", "mediator", "王调解员")},
		step{cases.Escalated, "2026-03-10", nil}, step{cases.Registered, "2026-03-11", nil})
	cs, _ := cases.CaseClocks(c, nil, nil)
	if k, ok := cases.NextDue(cs); !ok || k.Kind != cases.ClockDecide || k.Last.String() != "2026-03-26" {
		t.Errorf("escalated and registered: next due %+v", k)
	}
}

// A case closed by an op that recorded no closed_at (an older version's) is closed at the
// time its state became CLOSED: no clock of it runs on.
func TestCaseClocks_ClosedWithoutClosedAt(t *testing.T) {
	c := walk(t, cases.MatterPetition, "2026-03-02", nil)
	op := cases.Op{Dot: crdt.Dot{Origin: origins[1], Seq: 1}, Stamp: crdt.Timestamp{Wall: at(t, "2026-03-04").UnixMilli()}, Case: caseID,
		Kind: cases.KindTransition, Author: "u", Observed: c.Observe("state"),
		Writes: []cases.Write{{Field: "state", Action: cases.Set, Value: cases.EncodeString(string(cases.Closed))}}}
	c.Apply(&op, cases.Meta{})
	cs, _ := cases.CaseClocks(c, nil, nil)
	if k, ok := cases.NextDue(cs); ok || cases.DueBound(c, nil) != 0 {
		t.Errorf("a closed case still has %+v due (bound %d)", k, cases.DueBound(c, nil))
	}
}
