package crdt_test

// Tests of the apply-once variants MVReg.ApplyOnce, AWSet.AddOnce and AWSet.RemoveOnce, which
// a replica uses when it never applies the same op twice: each op once, in any order, must
// show what Apply, Add and Remove show for the same ops.

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
	"pgregory.net/rapid"
)

// onceDoc is a register and a set fed through the apply-once methods.
type onceDoc struct {
	reg     crdt.MVReg[string]
	set     crdt.AWSet[string]
	applied map[crdt.Dot]bool // the ops applied so far: seen
}

// apply applies op, which must not have been applied before. seen reports the ops applied
// before this one.
func (d *onceDoc) apply(op docOp) {
	seen := func(x crdt.Dot) bool { return d.applied[x] }
	switch op.kind {
	case regWrite:
		d.reg.ApplyOnce(op.w, op.observed, seen)
	case setAdd:
		for _, e := range op.elems {
			d.set.AddOnce(e, op.w.Dot)
		}
	case setRemove:
		for _, e := range op.elems {
			d.set.RemoveOnce(e, op.observed, seen)
		}
	}
	// The caller's duty (see MVReg.Forget): once an op has been applied, nothing waits for its
	// dot any longer.
	d.reg.Forget(op.w.Dot)
	d.set.Forget(op.w.Dot)
	d.applied[op.w.Dot] = true
}

func buildOnce(ops []docOp, order []int) *onceDoc {
	d := &onceDoc{applied: map[crdt.Dot]bool{}}
	for _, i := range order {
		d.apply(ops[i])
	}
	return d
}

// onceState is what the apply-once variants must agree on with Apply/Add/Remove: the visible
// register writes and display winner, the set's elements and live adds. (Overwritten dots and
// tombstones are what they forget, so they are not compared.)
type onceState struct {
	Values    []crdt.Write[string]
	Winner    crdt.Write[string]
	HasWinner bool
	Elems     []string
	AddDots   map[string][]crdt.Dot
}

func onceStateOf(reg *crdt.MVReg[string], set *crdt.AWSet[string]) onceState {
	s := onceState{Values: nilIfEmpty(slices.Clone(reg.Values())), Elems: nilIfEmpty(slices.Clone(set.Elems())), AddDots: map[string][]crdt.Dot{}}
	s.Winner, s.HasWinner = reg.Winner()
	for _, e := range allElems {
		if ds := set.AddDots(e); len(ds) > 0 {
			s.AddDots[e] = slices.Clone(ds)
		}
	}
	return s
}

// onceStateOfOracle is the part of the oracle's state that onceState compares.
func onceStateOfOracle(s docState) onceState {
	return onceState{Values: s.Values, Winner: s.Winner, HasWinner: s.HasWinner, Elems: s.Elems, AddDots: s.AddDots}
}

func checkOnce(t fataler, what string, ops []docOp, got, want onceState) {
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: apply-once state differs\nhistory:%s\ngot:  %+v\nwant: %+v", what, historyString(ops), got, want)
	}
}

func TestOnce_Property_AnyOrderMatchesApply(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) { propOnceAnyOrder(rt, rapidChooser{rt}, sized(16)) })
}

// propOnceAnyOrder: each op of a history applied once, in order and in random orders, through
// ApplyOnce/AddOnce/RemoveOnce gives the register values and set elements that Apply/Add/
// Remove give (and the oracle computes) for the same ops.
func propOnceAnyOrder(t fataler, c chooser, maxOps int) {
	ops := genHistory(c, 1+c.intn("ops", maxOps))
	want := onceStateOfOracle(oracle(ops))
	viaApply := build(ops, identity(len(ops)))
	checkOnce(t, "Apply versus the oracle", ops, onceStateOf(&viaApply.reg, &viaApply.set), want)
	d := buildOnce(ops, identity(len(ops)))
	checkOnce(t, "in order", ops, onceStateOf(&d.reg, &d.set), want)
	for k := range 3 {
		order := shuffle(c, "permutation", len(ops))
		d := buildOnce(ops, order)
		checkOnce(t, fmt.Sprintf("order #%d %v", k, order), ops, onceStateOf(&d.reg, &d.set), want)
	}
}

func TestOnce_Property_ExhaustivePermutations(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		c := rapidChooser{rt}
		n := 1 + c.intn("ops", 6)
		ops := genHistory(c, n)
		want := onceStateOfOracle(oracle(ops))
		permute(n, func(p []int) {
			d := buildOnce(ops, p)
			if got := onceStateOf(&d.reg, &d.set); !reflect.DeepEqual(got, want) {
				checkOnce(rt, fmt.Sprintf("permutation %v", p), ops, got, want)
			}
		})
	})
}

// TestOnce_SeededHistories runs the property over longer seeded histories; a failure names
// its seed.
func TestOnce_SeededHistories(t *testing.T) {
	for seed := uint64(1); seed <= uint64(500*propScale); seed++ {
		propOnceAnyOrder(seedT{t, seed}, newRandChooser(seed), sized(24))
	}
}

// TestOnce_ApplyOnce_Examples: the cases the apply-once variants exist for.
func TestOnce_ApplyOnce_Examples(t *testing.T) {
	a1, a2, b1 := dot("a", 1), dot("a", 2), dot("b", 1)
	never := func(crdt.Dot) bool { return false }
	seenAll := func(crdt.Dot) bool { return true }

	// In causal order nothing is remembered: the state is the visible writes.
	var r crdt.MVReg[string]
	r.ApplyOnce(wr(a1, 1, "x"), nil, never)
	r.ApplyOnce(wr(a2, 2, "y"), []crdt.Dot{a1}, func(d crdt.Dot) bool { return d == a1 })
	if got := dotsOf(r.Values()); !slices.Equal(got, []crdt.Dot{a2}) || len(r.Overwritten()) != 0 {
		t.Errorf("causal: values %v overwritten %v, want [a/1/2] and nothing remembered", got, r.Overwritten())
	}
	// Out of order: a2 arrives first and remembers a1 until a1 arrives, hidden.
	var s crdt.MVReg[string]
	s.ApplyOnce(wr(a2, 2, "y"), []crdt.Dot{a1}, never)
	if got := s.Overwritten(); !slices.Equal(got, []crdt.Dot{a1}) {
		t.Errorf("pending: overwritten %v, want [a/1/1]", got)
	}
	s.ApplyOnce(wr(a1, 1, "x"), nil, func(d crdt.Dot) bool { return d == a2 })
	if got := dotsOf(s.Values()); !slices.Equal(got, []crdt.Dot{a2}) || len(s.Overwritten()) != 0 {
		t.Errorf("late arrival: values %v overwritten %v, want [a/1/2] and a/1/1 forgotten", got, s.Overwritten())
	}
	// Concurrent writes both stay.
	s.ApplyOnce(wr(b1, 1, "z"), []crdt.Dot{a1}, seenAll)
	if got := dotsOf(s.Values()); !slices.Equal(got, []crdt.Dot{a2, b1}) {
		t.Errorf("concurrent: values %v", got)
	}

	// A remove that arrives before the add it observed hides the add, and forgets it then.
	var set crdt.AWSet[string]
	set.RemoveOnce("p", []crdt.Dot{a1}, never)
	set.AddOnce("q", a1) // another element under the same dot is not hidden
	set.AddOnce("p", a1)
	if got := set.Elems(); !slices.Equal(got, []string{"q"}) {
		t.Errorf("remove before add: elems %q, want [q]", got)
	}
	if e, _ := set.Removed(); len(e) != 0 {
		t.Errorf("tombstones %q kept after the add arrived", e)
	}
	set.AddOnce("p", b1) // concurrent add wins
	if got := set.Elems(); !slices.Equal(got, []string{"p", "q"}) {
		t.Errorf("concurrent add: elems %q", got)
	}
}

// TestOnce_Property_ForgetsArrivedDots: ApplyOnce says an observed dot is "remembered only
// while seen says its op has not arrived yet ... and forgotten once it has", so that the state
// stays as small as the visible writes. Once every op of a history has been applied, nothing
// should be remembered but dots whose ops never arrive. That fails when an observed dot names
// an op that does not write this register (or add this element): case ops observe across all
// their fields, so when such an op arrives after the op that observed it, its dot is never
// forgotten (see cases.TestHead_Property_AnyOrderSameBytes).
func TestOnce_Property_ForgetsArrivedDots(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		c := rapidChooser{rt}
		ops := genHistory(c, 1+c.intn("ops", sized(16)))
		d := buildOnce(ops, shuffle(c, "permutation", len(ops)))
		_, removed := d.set.Removed()
		for _, x := range slices.Concat(d.reg.Overwritten(), removed) {
			if d.applied[x] {
				rt.Fatalf("dot %v of an applied op still remembered (overwritten %v, tombstones %v)\nhistory:%s", x, d.reg.Overwritten(), removed, historyString(ops))
			}
		}
	})
}
