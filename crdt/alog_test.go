package crdt_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
)

// logOp is an append (withdraw zero) or a withdrawal of the record written by withdraw.
type logOp struct {
	w        crdt.Write[string]
	withdraw crdt.Dot
}

func applyLog(l *crdt.Log[string], ops ...logOp) *crdt.Log[string] {
	for _, op := range ops {
		if op.withdraw.IsZero() {
			l.Append(op.w)
		} else {
			l.Withdraw(op.withdraw)
		}
	}
	return l
}

type entry struct {
	value     string
	withdrawn bool
}

func entriesOf(l *crdt.Log[string]) []entry {
	var out []entry
	for _, e := range l.Entries() {
		out = append(out, entry{e.Value, e.Withdrawn})
	}
	return out
}

func TestLog_ZeroValue(t *testing.T) {
	var l crdt.Log[string]
	if got := l.Entries(); len(got) != 0 {
		t.Errorf("Entries() = %v, want none", got)
	}
	if got, want := l.Len(), 0; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	l.Withdraw(dot("a", 1)) // withdrawing from an empty log is fine
	if got, want := l.Len(), 0; got != want {
		t.Errorf("Len() after Withdraw = %d, want %d", got, want)
	}
}

func TestLog(t *testing.T) {
	note := func(d crdt.Dot, wall int64, logical uint32, v string) logOp {
		return logOp{w: crdt.Write[string]{Dot: d, Stamp: ts(wall, logical), Author: "acct", Value: v}}
	}
	withdraw := func(d crdt.Dot) logOp { return logOp{withdraw: d} }
	a1, a2, b1 := dot("a", 1), dot("a", 2), dot("b", 1)
	tests := []struct {
		name string
		ops  []logOp
		want []entry
	}{
		{"ordered by stamp", []logOp{note(a1, 300, 0, "late"), note(b1, 100, 0, "early"), note(a2, 200, 0, "mid")}, []entry{{"early", false}, {"mid", false}, {"late", false}}},
		{"logical orders within a millisecond", []logOp{note(a1, 100, 2, "second"), note(b1, 100, 1, "first")}, []entry{{"first", false}, {"second", false}}},
		{"equal stamps ordered by dot", []logOp{note(b1, 100, 0, "b"), note(a1, 100, 0, "a")}, []entry{{"a", false}, {"b", false}}},
		{"duplicate append kept once", []logOp{note(a1, 100, 0, "x"), note(a1, 100, 0, "x")}, []entry{{"x", false}}},
		{"withdrawn record kept and marked", []logOp{note(a1, 100, 0, "x"), note(b1, 200, 0, "y"), withdraw(a1)}, []entry{{"x", true}, {"y", false}}},
		{"withdraw before the record arrives", []logOp{withdraw(a1), note(a1, 100, 0, "x")}, []entry{{"x", true}}},
		{"withdraw twice", []logOp{note(a1, 100, 0, "x"), withdraw(a1), withdraw(a1)}, []entry{{"x", true}}},
		{"withdraw of an unknown record", []logOp{note(a1, 100, 0, "x"), withdraw(b1)}, []entry{{"x", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			permute(len(tt.ops), func(p []int) {
				var l crdt.Log[string]
				for _, i := range p {
					applyLog(&l, tt.ops[i])
				}
				if got := entriesOf(&l); !slices.Equal(got, tt.want) {
					t.Errorf("order %v: entries = %v, want %v", p, got, tt.want)
				}
				if got, want := l.Len(), len(tt.want); got != want {
					t.Errorf("order %v: Len() = %d, want %d", p, got, want)
				}
			})
		})
	}
}

func TestLog_Append_KeepsWriteFields(t *testing.T) {
	w := crdt.Write[string]{Dot: dot("a", 1), Stamp: ts(100, 3), Flagged: true, Author: "acct-7", Value: "x"}
	var l crdt.Log[string]
	l.Append(w)
	if got, want := l.Entries(), []crdt.LogEntry[string]{{Write: w}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Entries() = %+v, want %+v", got, want)
	}
}

func TestLog_Merge(t *testing.T) {
	x := logOp{w: wr(dot("a", 1), 100, "x")}
	y := logOp{w: wr(dot("b", 1), 50, "y")}
	wx := logOp{withdraw: dot("a", 1)}
	tests := []struct {
		name        string
		left, right []logOp
		want        []entry
	}{
		{"empty", nil, nil, nil},
		{"union in order", []logOp{x}, []logOp{y}, []entry{{"y", false}, {"x", false}}},
		{"withdrawal from the right", []logOp{x}, []logOp{wx}, []entry{{"x", true}}},
		{"record and withdrawal from the right", nil, []logOp{x, wx}, []entry{{"x", true}}},
		{"withdrawal on the left, record from the right", []logOp{wx}, []logOp{x, y}, []entry{{"y", false}, {"x", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := applyLog(new(crdt.Log[string]), tt.left...)
			r := applyLog(new(crdt.Log[string]), tt.right...)
			rBefore := entriesOf(r)
			l.Merge(r)
			if got := entriesOf(l); !slices.Equal(got, tt.want) {
				t.Errorf("entries = %v, want %v", got, tt.want)
			}
			if got := entriesOf(r); !slices.Equal(got, rBefore) {
				t.Errorf("argument changed to %v, want %v", got, rBefore)
			}
			// A withdrawal that travelled by Merge still marks a record that arrives later.
			l.Append(x.w)
			if got := entriesOf(l); !slices.Equal(got, tt.want) && len(tt.want) > 0 {
				t.Errorf("after a late duplicate append, entries = %v, want %v", got, tt.want)
			}
		})
	}
}
