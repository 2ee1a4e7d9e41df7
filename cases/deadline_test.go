package cases_test

import (
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

const day = int64(24 * 60 * 60 * 1000)

// withTimes returns a petition in state s whose time fields hold times (field → ms).
func withTimes(t *testing.T, s cases.State, times map[string]int64) *cases.Case {
	t.Helper()
	c := inState(t, cases.MatterPetition, s)
	op := cases.Op{Dot: crdt.Dot{Origin: origins[2], Seq: 1}, Stamp: crdt.Timestamp{Wall: baseWall + 5}, Case: caseID, Kind: cases.KindEdit, Author: "u-hub"}
	for f, v := range times {
		op.Writes = append(op.Writes, cases.Write{Field: f, Action: cases.Set, Value: cases.EncodeInt(v)})
		op.Observed = append(op.Observed, c.Observe(f)...)
	}
	op.Normalize()
	c.Apply(&op, cases.Meta{})
	return c
}

func TestNextDeadline(t *testing.T) {
	const received = int64(1_704_067_200_000) // 2024-01-01 00:00 UTC
	const registeredAt = received + 2*day
	const notice = received + 10*day
	const served = received + 70*day
	for _, tc := range []struct {
		name  string
		state cases.State
		times map[string]int64
		want  int64 // 0: no deadline
	}{
		// registered() writes received_at = baseWall; withTimes overwrites it.
		{"REGISTERED: 15 days from receipt", cases.Registered, map[string]int64{"received_at": received, "registered_at": registeredAt}, received + 15*day},
		{"FORWARDED: 15 days from receipt", cases.Forwarded, map[string]int64{"received_at": received}, received + 15*day},
		{"ACCEPTED: 60 days from the notice", cases.Accepted, map[string]int64{"received_at": received, "notice_at": notice}, notice + 60*day},
		{"INVESTIGATING: 60 days from the notice", cases.Investigating, map[string]int64{"notice_at": notice}, notice + 60*day},
		{"ACCEPTED without a notice: none", cases.Accepted, map[string]int64{"received_at": received}, 0},
		{"EXTENDED: 90 days from the notice", cases.Extended, map[string]int64{"notice_at": notice}, notice + 90*day},
		{"REVIEW: 60 days from the opinion", cases.Review, map[string]int64{"served_at": served}, served + 60*day},
		{"CLOSED: none", cases.Closed, map[string]int64{"received_at": received, "notice_at": notice}, 0},
		{"OPINION_SERVED: none", cases.OpinionServed, map[string]int64{"served_at": served}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := cases.NextDeadline(withTimes(t, tc.state, tc.times))
			if tc.want == 0 {
				if ok {
					t.Errorf("NextDeadline = %+v, want none", got)
				}
				return
			}
			if !ok || got.At != tc.want || got.Rule == "" {
				t.Errorf("NextDeadline = %+v, %v; want At %d (%+d days off)", got, ok, tc.want, (got.At-tc.want)/day)
			}
		})
	}
	// Without received_at, the registration time starts the clock.
	_, reg := registered(t, lw("registered_at", registeredAt))
	noReceipt := cases.Stored{Op: reg.Op}
	noReceipt.Op.Writes = nil
	for _, w := range reg.Op.Writes {
		if w.Field != "received_at" {
			noReceipt.Op.Writes = append(noReceipt.Op.Writes, w)
		}
	}
	if got, ok := cases.NextDeadline(cases.Fold(caseID, []cases.Stored{noReceipt})); !ok || got.At != registeredAt+15*day {
		t.Errorf("REGISTERED without received_at: %+v, %v; want registered_at + 15 days", got, ok)
	}
	// Before registration there is no deadline.
	if got, ok := cases.NextDeadline(cases.NewCase("x")); ok {
		t.Errorf("empty case: %+v", got)
	}
}
