package crdt_test

// Property tests over random op histories touching all three op-based types at once: a
// register, an add-wins set and a log. Every history is checked against an oracle computed
// from the op set alone, so the tests check meaning, not only convergence.

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
	"pgregory.net/rapid"
)

type opKind int

const (
	regWrite    opKind = iota // a register write observing dots
	setAdd                    // adds one or more elements under the op's dot
	setRemove                 // removes elements, deleting the adds whose dots it observed
	logAppend                 // appends a record
	logWithdraw               // withdraws the record written by target
	numOpKinds
)

// docOp is one op of a history. Every op has its own dot.
type docOp struct {
	kind     opKind
	w        crdt.Write[string] // regWrite, logAppend; w.Dot is the op's dot for every kind
	elems    []string           // setAdd, setRemove
	observed []crdt.Dot         // regWrite, setRemove
	target   crdt.Dot           // logWithdraw
}

func (op docOp) String() string {
	d := op.w.Dot
	switch op.kind {
	case regWrite:
		return fmt.Sprintf("%v reg.write(%q @%d.%d flagged=%v) observing %v", d, op.w.Value, op.w.Stamp.Wall, op.w.Stamp.Logical, op.w.Flagged, op.observed)
	case setAdd:
		return fmt.Sprintf("%v set.add%q", d, op.elems)
	case setRemove:
		return fmt.Sprintf("%v set.remove%q observing %v", d, op.elems, op.observed)
	case logAppend:
		return fmt.Sprintf("%v log.append(%q @%d.%d)", d, op.w.Value, op.w.Stamp.Wall, op.w.Stamp.Logical)
	default:
		return fmt.Sprintf("%v log.withdraw(%v)", d, op.target)
	}
}

func historyString(ops []docOp) string {
	var b strings.Builder
	for i, op := range ops {
		fmt.Fprintf(&b, "\n  #%d %v", i, op)
	}
	return b.String()
}

// genHistory returns a history of n ops from three origins. Observed sets are random subsets
// of the dots of earlier ops of any kind, sometimes with a dot that never arrives; one op may
// add several elements; stamps collide often so that ties are broken by dots.
func genHistory(c chooser, n int) []docOp {
	origins := []crdt.Origin{org("a"), org("b"), org("c")}
	seqs := make([]uint64, len(origins))
	elems := []string{"p", "q", "r"}
	var ops []docOp
	var dots []crdt.Dot
	addsOf := map[string][]crdt.Dot{}
	for i := range n {
		o := c.intn("origin", len(origins))
		seqs[o]++
		op := docOp{kind: opKind(c.intn("kind", int(numOpKinds)))}
		op.w = crdt.Write[string]{
			Dot:     crdt.Dot{Origin: origins[o], Seq: seqs[o]},
			Stamp:   ts(int64(c.intn("wall", 4)), uint32(c.intn("logical", 2))),
			Flagged: oneIn(c, "flagged", 4),
			Author:  origins[o].Node,
			Value:   fmt.Sprintf("v%d", i),
		}
		observe := func() {
			for _, d := range dots {
				if oneIn(c, "observe", 2) {
					op.observed = append(op.observed, d)
				}
			}
			if oneIn(c, "observe unknown", 8) {
				op.observed = append(op.observed, dot("z", uint64(1+c.intn("unknown seq", 3))))
			}
		}
		pick := func(label string) []string {
			e := []string{elems[c.intn(label, len(elems))]}
			if oneIn(c, label+" another", 3) {
				e = append(e, elems[c.intn(label, len(elems))])
			}
			return slices.Compact(slices.Sorted(slices.Values(e)))
		}
		switch op.kind {
		case regWrite:
			observe()
		case setAdd:
			op.elems = pick("add")
			for _, e := range op.elems {
				addsOf[e] = append(addsOf[e], op.w.Dot)
			}
		case setRemove:
			op.elems = pick("remove")
			observe()
		case logWithdraw:
			if len(dots) > 0 && !oneIn(c, "withdraw unknown", 4) {
				op.target = dots[c.intn("withdraw", len(dots))]
			} else {
				op.target = dot("z", uint64(1+c.intn("unknown seq", 3)))
			}
		}
		ops = append(ops, op)
		dots = append(dots, op.w.Dot)
	}
	return ops
}

// doc is one replica of the three types.
type doc struct {
	reg crdt.MVReg[string]
	set crdt.AWSet[string]
	log crdt.Log[string]
}

func (d *doc) apply(op docOp) {
	switch op.kind {
	case regWrite:
		d.reg.Apply(op.w, op.observed)
	case setAdd:
		for _, e := range op.elems {
			d.set.Add(e, op.w.Dot)
		}
	case setRemove:
		for _, e := range op.elems {
			d.set.Remove(e, op.observed)
		}
	case logAppend:
		d.log.Append(op.w)
	case logWithdraw:
		d.log.Withdraw(op.target)
	}
}

func (d *doc) merge(o *doc) {
	d.reg.Merge(&o.reg)
	d.set.Merge(&o.set)
	d.log.Merge(&o.log)
}

func build(ops []docOp, order []int) *doc {
	d := new(doc)
	for _, i := range order {
		d.apply(ops[i])
	}
	return d
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// docState is the observable state of a doc, copied out of it.
type docState struct {
	Values      []crdt.Write[string]
	Winner      crdt.Write[string]
	HasWinner   bool
	Overwritten []crdt.Dot
	Elems       []string
	AddDots     map[string][]crdt.Dot
	Entries     []crdt.LogEntry[string]
}

var allElems = []string{"p", "q", "r"}

func (d *doc) state() docState {
	s := docState{
		Values:      nilIfEmpty(slices.Clone(d.reg.Values())),
		Overwritten: nilIfEmpty(slices.Clone(d.reg.Overwritten())),
		Elems:       nilIfEmpty(slices.Clone(d.set.Elems())),
		AddDots:     map[string][]crdt.Dot{},
		Entries:     nilIfEmpty(slices.Clone(d.log.Entries())),
	}
	s.Winner, s.HasWinner = d.reg.Winner()
	for _, e := range allElems {
		if ds := d.set.AddDots(e); len(ds) > 0 {
			s.AddDots[e] = slices.Clone(ds)
		}
	}
	return s
}

func (s docState) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  reg values:")
	for _, w := range s.Values {
		fmt.Fprintf(&b, " %v=%q", w.Dot, w.Value)
	}
	fmt.Fprintf(&b, "\n  reg winner: %v=%q (%v)\n  reg overwritten: %v", s.Winner.Dot, s.Winner.Value, s.HasWinner, s.Overwritten)
	fmt.Fprintf(&b, "\n  set: %q adds %v\n  log:", s.Elems, s.AddDots)
	for _, e := range s.Entries {
		fmt.Fprintf(&b, " %v=%q(withdrawn=%v)", e.Dot, e.Value, e.Withdrawn)
	}
	return b.String()
}

// oracle computes the state a doc must have once it holds exactly the ops of ops (duplicates
// ignored), from their meaning alone.
func oracle(ops []docOp) docState {
	s := docState{AddDots: map[string][]crdt.Dot{}}
	overwritten := map[crdt.Dot]bool{}
	type pair struct {
		e string
		d crdt.Dot
	}
	removed := map[pair]bool{}
	withdrawn := map[crdt.Dot]bool{}
	for _, op := range ops {
		switch op.kind {
		case regWrite:
			for _, d := range op.observed {
				overwritten[d] = true
			}
		case setRemove:
			for _, e := range op.elems {
				for _, d := range op.observed {
					removed[pair{e, d}] = true
				}
			}
		case logWithdraw:
			withdrawn[op.target] = true
		}
	}
	seen := map[crdt.Dot]bool{}
	for _, op := range ops {
		if seen[op.w.Dot] {
			continue
		}
		seen[op.w.Dot] = true
		switch op.kind {
		case regWrite:
			if !overwritten[op.w.Dot] {
				s.Values = append(s.Values, op.w)
			}
		case setAdd:
			for _, e := range op.elems {
				if !removed[pair{e, op.w.Dot}] {
					s.AddDots[e] = append(s.AddDots[e], op.w.Dot)
				}
			}
		case logAppend:
			s.Entries = append(s.Entries, crdt.LogEntry[string]{Write: op.w, Withdrawn: withdrawn[op.w.Dot]})
		}
	}
	slices.SortFunc(s.Values, func(a, b crdt.Write[string]) int { return a.Dot.Compare(b.Dot) })
	for i, w := range s.Values {
		if i == 0 || displayBefore(w, s.Winner) {
			s.Winner, s.HasWinner = w, true
		}
	}
	s.Overwritten = nilIfEmpty(slices.SortedFunc(maps.Keys(overwritten), crdt.Dot.Compare))
	for e, ds := range s.AddDots {
		slices.SortFunc(ds, crdt.Dot.Compare)
		s.Elems = append(s.Elems, e)
	}
	slices.Sort(s.Elems)
	slices.SortFunc(s.Entries, func(a, b crdt.LogEntry[string]) int {
		return cmp.Or(a.Stamp.Compare(b.Stamp), a.Dot.Compare(b.Dot))
	})
	return s
}

// displayBefore is the oracle's display rule for strings (see displayFirst).
func displayBefore(a, b crdt.Write[string]) bool {
	switch {
	case a.Flagged != b.Flagged:
		return b.Flagged
	case a.Stamp != b.Stamp:
		return b.Stamp.Less(a.Stamp)
	}
	return b.Dot.Compare(a.Dot) < 0
}

// deliveryOrder returns a random order of delivering ops 0..n-1 in which every op appears at
// least once and some appear again, anywhere.
func deliveryOrder(c chooser, n int) []int {
	order := shuffle(c, "permutation", n)
	for range c.intn("duplicates", n+1) {
		at := c.intn("duplicate at", len(order)+1)
		order = slices.Insert(order, at, c.intn("duplicate of", n))
	}
	return order
}

// fataler is what a property body needs of its test: *rapid.T, or seedT.
type fataler interface {
	Fatalf(format string, args ...any)
}

// seedT names the seed of a plain seeded history in every failure.
type seedT struct {
	t    *testing.T
	seed uint64
}

func (s seedT) Fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d: "+format, append([]any{s.seed}, args...)...)
}

func checkState(t fataler, what string, ops []docOp, got, want docState) {
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: state differs\nhistory:%s\ngot:%v\nwant:%v", what, historyString(ops), got, want)
	}
}

func TestDoc_Property_AnyDeliveryOrderWithDuplicates(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) { propAnyDeliveryOrder(rt, rapidChooser{rt}, sized(16)) })
}

// propAnyDeliveryOrder: a history of up to maxOps ops, delivered in order and in random orders
// with duplicates, always gives the oracle's state.
func propAnyDeliveryOrder(t fataler, c chooser, maxOps int) {
	ops := genHistory(c, 1+c.intn("ops", maxOps))
	want := oracle(ops)
	checkState(t, "in order", ops, build(ops, identity(len(ops))).state(), want)
	for k := range 3 {
		order := deliveryOrder(c, len(ops))
		checkState(t, fmt.Sprintf("order #%d %v", k, order), ops, build(ops, order).state(), want)
	}
}

func TestDoc_Property_ExhaustivePermutations(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		c := rapidChooser{rt}
		n := 6
		if oneIn(c, "shorter", 4) {
			n = 1 + c.intn("ops", 5)
		}
		ops := genHistory(c, n)
		want := oracle(ops)
		count := 0
		permute(n, func(p []int) {
			count++
			if got := build(ops, p).state(); !reflect.DeepEqual(got, want) {
				checkState(rt, fmt.Sprintf("permutation %v", p), ops, got, want)
			}
		})
		if wantCount := [...]int{1, 1, 2, 6, 24, 120, 720}[n]; count != wantCount {
			rt.Fatalf("tried %d permutations of %d ops, want %d", count, n, wantCount)
		}
	})
}

// subset returns the ops of a random sub-history, in a random delivery order with duplicates.
func subset(c chooser, label string, ops []docOp) []docOp {
	var out []docOp
	for _, i := range deliveryOrder(c, len(ops)) {
		if !oneIn(c, label, 2) {
			out = append(out, ops[i])
		}
	}
	return out
}

func TestDoc_Property_MergeLaws(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) { propMergeLaws(rt, rapidChooser{rt}, sized(12)) })
}

// propMergeLaws: states built from random sub-histories merge commutatively, associatively
// and idempotently, into the state of the union of their ops, without sharing memory.
func propMergeLaws(t fataler, c chooser, maxOps int) {
	ops := genHistory(c, 1+c.intn("ops", maxOps))
	a, b, cc := subset(c, "a", ops), subset(c, "b", ops), subset(c, "c", ops)
	mk := func(ops []docOp) *doc { return build(ops, identity(len(ops))) }
	join := func(xs ...[]docOp) *doc {
		d := mk(xs[0])
		for _, x := range xs[1:] {
			d.merge(mk(x))
		}
		return d
	}
	union := func(xs ...[]docOp) []docOp { return slices.Concat(xs...) }
	sa, sb := mk(a).state(), mk(b).state()

	// Merge of two states is the state of the union of their ops.
	checkState(t, "a ⊔ b versus apply(a ∪ b)", ops, join(a, b).state(), oracle(union(a, b)))
	// Commutative.
	checkState(t, "a ⊔ b versus b ⊔ a", ops, join(a, b).state(), join(b, a).state())
	// Associative.
	ab := join(a, b)
	ab.merge(mk(cc))
	bc := join(b, cc)
	aBC := mk(a)
	aBC.merge(bc)
	checkState(t, "(a ⊔ b) ⊔ c versus a ⊔ (b ⊔ c)", ops, ab.state(), aBC.state())
	// Idempotent, with a copy and with itself.
	checkState(t, "a ⊔ a", ops, join(a, a).state(), sa)
	self := mk(a)
	self.merge(self)
	checkState(t, "a.merge(a)", ops, self.state(), sa)
	// Merge takes nothing of its argument's memory: changing the result afterwards leaves
	// the argument as it was.
	x, y := mk(a), mk(b)
	x.merge(y)
	for _, op := range ops {
		x.apply(op)
	}
	checkState(t, "argument after merge", ops, y.state(), sb)
	checkState(t, "merged then all ops", ops, x.state(), oracle(ops))
}

func TestDoc_Property_RestoreRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) { propRestoreRoundTrip(rt, rapidChooser{rt}, sized(12)) })
}

// propRestoreRoundTrip: a state rebuilt from the parts it gives for storage (Values and
// Overwritten, Adds and Removed) shows the same and behaves the same afterwards.
func propRestoreRoundTrip(t fataler, c chooser, maxOps int) {
	ops := genHistory(c, 1+c.intn("ops", maxOps))
	part := subset(c, "stored", ops)
	x := build(part, identity(len(part)))
	y := &doc{
		reg: *crdt.RestoreMVReg(slices.Clone(x.reg.Values()), slices.Clone(x.reg.Overwritten())),
		set: *restoreSet(&x.set),
	}
	y.log.Merge(&x.log)
	checkState(t, "restored", ops, y.state(), x.state())
	for _, i := range deliveryOrder(c, len(ops)) {
		y.apply(ops[i])
	}
	checkState(t, "restored then all ops", ops, y.state(), oracle(ops))
}

// TestDoc_SeededHistories runs the same properties over plain seeded histories, longer than
// the ones rapid favours; a failure names its seed.
func TestDoc_SeededHistories(t *testing.T) {
	for seed := uint64(1); seed <= uint64(1000*propScale); seed++ {
		c, st := newRandChooser(seed), seedT{t, seed}
		propAnyDeliveryOrder(st, c, sized(24))
		propMergeLaws(st, c, sized(16))
		propRestoreRoundTrip(st, c, sized(16))
	}
}

// TestAWSet_Property_AddWins: replica R removes element e, observing the adds of e it has
// seen; adds of e made concurrently elsewhere survive the remove, in every delivery order.
// Some adds add another element under the same dot; the remove of e must keep it.
func TestAWSet_Property_AddWins(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		c := rapidChooser{rt}
		var ops []setOp
		seq := map[string]uint64{}
		next := func(node string) crdt.Dot { seq[node]++; return dot(node, seq[node]) }
		// Adds made before the remove; R has seen some of them.
		var view crdt.AWSet[string]
		var seen, unseen []crdt.Dot
		hasF := false
		for range c.intn("early adds", 5) {
			d := next([]string{"a", "b", "c"}[c.intn("early origin", 3)])
			ops = append(ops, add("e", d))
			if oneIn(c, "also f", 3) {
				ops = append(ops, add("f", d))
				hasF = true
			}
			if oneIn(c, "unseen", 3) {
				unseen = append(unseen, d)
				continue
			}
			seen = append(seen, d)
			view.Add("e", d)
		}
		if !slices.Equal(view.AddDots("e"), crdt.SortDots(slices.Clone(seen))) {
			rt.Fatalf("view AddDots(e) = %v, want %v", view.AddDots("e"), seen)
		}
		ops = append(ops, remove("e", view.AddDots("e")...))
		// Adds concurrent with the remove.
		var concurrent []crdt.Dot
		for range c.intn("concurrent adds", 4) {
			d := next([]string{"a", "b", "c"}[c.intn("concurrent origin", 3)])
			ops = append(ops, add("e", d))
			concurrent = append(concurrent, d)
		}
		wantDots := crdt.SortDots(slices.Concat(unseen, concurrent))
		for k := range 3 {
			order := deliveryOrder(c, len(ops))
			var s crdt.AWSet[string]
			for _, i := range order {
				applySet(&s, ops[i])
			}
			if got := s.AddDots("e"); !slices.Equal(got, wantDots) {
				rt.Fatalf("order #%d: AddDots(e) = %v, want the adds the remove did not observe %v (seen %v)", k, got, wantDots, seen)
			}
			if got, want := s.Has("e"), len(wantDots) > 0; got != want {
				rt.Fatalf("order #%d: Has(e) = %v, want %v", k, got, want)
			}
			if got, want := s.Has("f"), hasF; got != want {
				rt.Fatalf("order #%d: Has(f) = %v, want %v (a remove of e observed f's dot)", k, got, want)
			}
		}
	})
}

// TestClock_Property_MonotonicAndBounded drives a clock with a wandering wall clock and
// remote readings from near and far, some with a spent logical counter: every reading is
// after everything issued or absorbed before, a remote is flagged exactly when it lies beyond
// wall + MaxSkew, a flagged remote changes nothing, and the clock never runs beyond the
// highest wall it was given + MaxSkew (+1 ms when a spent counter moved it on).
func TestClock_Property_MonotonicAndBounded(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		skew := rapid.Int64Range(1, 10_000).Draw(rt, "skew")
		c := crdt.NewClock(crdt.Timestamp{}, skew)
		wall := int64(simEpoch)
		maxWall := wall
		var high crdt.Timestamp
		for range rapid.IntRange(1, sized(100)).Draw(rt, "events") {
			wall += rapid.Int64Range(-2*skew, 2*skew).Draw(rt, "wall step")
			maxWall = max(maxWall, wall)
			if rapid.Bool().Draw(rt, "now") {
				got := c.Now(wall)
				if !high.Less(got) {
					rt.Fatalf("Now(%d) = %v, not after %v", wall, got, high)
				}
				high = got
			} else {
				var ahead int64
				switch rapid.IntRange(0, 3).Draw(rt, "remote kind") {
				case 0:
					ahead = 5 * year
				case 1:
					ahead = skew + rapid.Int64Range(-1, 1).Draw(rt, "edge")
				default:
					ahead = rapid.Int64Range(-3*skew, 3*skew).Draw(rt, "ahead")
				}
				logical := rapid.Uint32Range(0, 3).Draw(rt, "remote logical")
				if rapid.IntRange(0, 7).Draw(rt, "spent logical") == 7 {
					logical = ^uint32(0) // a remote may send any counter
				}
				remote := ts(wall+ahead, logical)
				before := c.Last()
				flagged := c.Observe(remote, wall)
				if want := ahead > skew; flagged != want {
					rt.Fatalf("Observe(%v, %d) flagged = %v, want %v", remote, wall, flagged, want)
				}
				want := before
				if want.Less(remote) {
					want = remote
				}
				switch {
				case flagged && c.Last() != before:
					rt.Fatalf("flagged Observe(%v) moved the clock from %v to %v", remote, before, c.Last())
				case !flagged && c.Last() != want:
					rt.Fatalf("Observe(%v) left the clock at %v, want %v", remote, c.Last(), want)
				}
				if !flagged && high.Less(remote) {
					high = remote
				}
			}
			// One millisecond more when a spent logical counter moved the wall part on.
			if got := c.Last(); got.Wall > maxWall+skew+1 {
				rt.Fatalf("clock at %v, beyond the highest wall %d + skew %d", got, maxWall, skew)
			}
		}
	})
}
