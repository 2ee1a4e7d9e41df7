package crdt_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
)

// regOp is one write to a register with the dots it observed.
type regOp struct {
	w        crdt.Write[string]
	observed []crdt.Dot
}

func applyAll(r *crdt.MVReg[string], ops ...regOp) *crdt.MVReg[string] {
	for _, op := range ops {
		r.Apply(op.w, op.observed)
	}
	return r
}

func TestMVReg_ZeroValue(t *testing.T) {
	var r crdt.MVReg[string]
	if got := r.Values(); len(got) != 0 {
		t.Errorf("Values() = %v, want none", got)
	}
	if got := r.Dots(); len(got) != 0 {
		t.Errorf("Dots() = %v, want none", got)
	}
	if r.Conflict() {
		t.Errorf("Conflict() = true on an empty register")
	}
	if w, ok := r.Winner(); ok {
		t.Errorf("Winner() = %v, true on an empty register", w)
	}
	if got := r.Overwritten(); len(got) != 0 {
		t.Errorf("Overwritten() = %v, want none", got)
	}
}

func TestMVReg_Apply(t *testing.T) {
	a1 := regOp{wr(dot("a", 1), 100, "x"), nil}
	b1 := regOp{wr(dot("b", 1), 90, "y"), nil}                                  // concurrent with a1
	a2 := regOp{wr(dot("a", 2), 110, "z"), []crdt.Dot{dot("a", 1)}}             // saw only a1
	c1 := regOp{wr(dot("c", 1), 50, "w"), []crdt.Dot{dot("a", 1), dot("b", 1)}} // resolves a1 and b1
	c2 := regOp{wr(dot("c", 2), 60, "v"), []crdt.Dot{dot("a", 2), dot("c", 1)}} // resolves everything
	tests := []struct {
		name           string
		ops            []regOp
		wantValues     []string
		wantOverwriten []crdt.Dot
	}{
		{"one write", []regOp{a1}, []string{"x"}, nil},
		{"overwrite", []regOp{a1, a2}, []string{"z"}, []crdt.Dot{dot("a", 1)}},
		{"overwrite arrives first", []regOp{a2, a1}, []string{"z"}, []crdt.Dot{dot("a", 1)}},
		{"concurrent writes conflict", []regOp{a1, b1}, []string{"x", "y"}, nil},
		{"conflict kept regardless of stamps", []regOp{b1, a1}, []string{"x", "y"}, nil},
		{"partial overwrite keeps the unseen write", []regOp{a1, b1, a2}, []string{"z", "y"}, []crdt.Dot{dot("a", 1)}},
		{"resolving write", []regOp{a1, b1, c1}, []string{"w"}, []crdt.Dot{dot("a", 1), dot("b", 1)}},
		{"resolver arrives before what it resolves", []regOp{c1, b1, a1}, []string{"w"}, []crdt.Dot{dot("a", 1), dot("b", 1)}},
		{"older stamp still overwrites", []regOp{a2, c1, a1, b1}, []string{"z", "w"}, []crdt.Dot{dot("a", 1), dot("b", 1)}},
		{"chain fully resolved", []regOp{c2, a2, b1, c1, a1}, []string{"v"}, []crdt.Dot{dot("a", 1), dot("a", 2), dot("b", 1), dot("c", 1)}},
		{"duplicates", []regOp{a1, b1, a1, b1, a1}, []string{"x", "y"}, nil},
		{"duplicate of an overwritten write", []regOp{a1, a2, a1}, []string{"z"}, []crdt.Dot{dot("a", 1)}},
		{"observing an unknown dot", []regOp{{wr(dot("a", 1), 1, "x"), []crdt.Dot{dot("q", 9)}}}, []string{"x"}, []crdt.Dot{dot("q", 9)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := applyAll(new(crdt.MVReg[string]), tt.ops...)
			if got := valuesOf(r.Values()); !slices.Equal(got, tt.wantValues) {
				t.Errorf("Values() = %q, want %q", got, tt.wantValues)
			}
			if got, want := r.Dots(), dotsOf(r.Values()); !slices.Equal(got, want) {
				t.Errorf("Dots() = %v, want %v", got, want)
			}
			if got, want := r.Conflict(), len(tt.wantValues) > 1; got != want {
				t.Errorf("Conflict() = %v, want %v", got, want)
			}
			if got := r.Overwritten(); !slices.Equal(got, tt.wantOverwriten) {
				t.Errorf("Overwritten() = %v, want %v", got, tt.wantOverwriten)
			}
			if ds := r.Dots(); !slices.IsSortedFunc(ds, crdt.Dot.Compare) {
				t.Errorf("Dots() = %v, not in Dot order", ds)
			}
		})
	}
}

func TestMVReg_Apply_KeepsWriteFields(t *testing.T) {
	w := crdt.Write[string]{Dot: dot("a", 1), Stamp: ts(100, 3), Flagged: true, Author: "acct-7", Value: "x"}
	var r crdt.MVReg[string]
	r.Apply(w, nil)
	if got, want := r.Values(), []crdt.Write[string]{w}; !reflect.DeepEqual(got, want) {
		t.Errorf("Values() = %+v, want %+v", got, want)
	}
}

func TestMVReg_Apply_DoesNotKeepObservedSlice(t *testing.T) {
	observed := []crdt.Dot{dot("a", 1)}
	var r crdt.MVReg[string]
	r.Apply(wr(dot("b", 1), 1, "x"), observed)
	observed[0] = dot("b", 1) // the caller reuses its slice
	r.Apply(wr(dot("a", 1), 1, "y"), nil)
	if got, want := valuesOf(r.Values()), []string{"x"}; !slices.Equal(got, want) {
		t.Errorf("Values() = %q, want %q", got, want)
	}
}

func TestMVReg_Winner(t *testing.T) {
	w := func(node string, wall int64, logical uint32, flagged bool) crdt.Write[string] {
		return crdt.Write[string]{Dot: dot(node, 1), Stamp: ts(wall, logical), Flagged: flagged, Value: node}
	}
	tests := []struct {
		name   string
		writes []crdt.Write[string]
		want   string
	}{
		{"single", []crdt.Write[string]{w("a", 1, 0, false)}, "a"},
		{"later stamp", []crdt.Write[string]{w("a", 2, 0, false), w("b", 1, 0, false)}, "a"},
		{"later logical", []crdt.Write[string]{w("a", 2, 1, false), w("b", 2, 0, false)}, "a"},
		{"tie broken by higher dot", []crdt.Write[string]{w("a", 2, 0, false), w("b", 2, 0, false)}, "b"},
		{"unflagged beats later flagged", []crdt.Write[string]{w("a", 1, 0, false), w("b", 10*year, 0, true)}, "a"},
		{"all flagged: later stamp", []crdt.Write[string]{w("a", 9*year, 0, true), w("b", 10*year, 0, true), w("c", 5, 0, false)}, "c"},
		{"only flagged", []crdt.Write[string]{w("a", 9*year, 0, true), w("b", 10*year, 0, true)}, "b"},
		{"three way", []crdt.Write[string]{w("c", 5, 0, false), w("a", 7, 0, false), w("b", 7, 0, false)}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every delivery order shows the same winner.
			permute(len(tt.writes), func(p []int) {
				var r crdt.MVReg[string]
				for _, i := range p {
					r.Apply(tt.writes[i], nil)
				}
				got, ok := r.Winner()
				if !ok || got.Value != tt.want {
					t.Errorf("order %v: Winner() = %q, %v, want %q", p, got.Value, ok, tt.want)
				}
				if got, want := len(r.Values()), len(tt.writes); got != want {
					t.Errorf("order %v: %d values visible, want %d (the winner discards nothing)", p, got, want)
				}
			})
		})
	}
}

func TestMVReg_Merge(t *testing.T) {
	a1 := regOp{wr(dot("a", 1), 100, "x"), nil}
	b1 := regOp{wr(dot("b", 1), 90, "y"), nil}
	a2 := regOp{wr(dot("a", 2), 110, "z"), []crdt.Dot{dot("a", 1)}}
	c1 := regOp{wr(dot("c", 1), 50, "w"), []crdt.Dot{dot("a", 1), dot("b", 1)}}
	tests := []struct {
		name       string
		left       []regOp
		right      []regOp
		wantValues []string
	}{
		{"empty into empty", nil, nil, nil},
		{"into empty", nil, []regOp{a1, b1}, []string{"x", "y"}},
		{"from empty", []regOp{a1}, nil, []string{"x"}},
		{"concurrent sides", []regOp{a1}, []regOp{b1}, []string{"x", "y"}},
		{"right overwrote what left holds", []regOp{a1, b1}, []regOp{a2}, []string{"z", "y"}},
		{"left overwrote what right holds", []regOp{a2}, []regOp{a1, b1}, []string{"z", "y"}},
		{"resolver on one side", []regOp{a1, b1}, []regOp{c1}, []string{"w"}},
		{"both hold the same", []regOp{a1, b1}, []regOp{b1, a1}, []string{"x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := applyAll(new(crdt.MVReg[string]), tt.left...)
			r := applyAll(new(crdt.MVReg[string]), tt.right...)
			rBefore := r.Clone()
			l.Merge(r)
			if got := valuesOf(l.Values()); !slices.Equal(got, tt.wantValues) {
				t.Errorf("Values() = %q, want %q", got, tt.wantValues)
			}
			want := applyAll(new(crdt.MVReg[string]), append(slices.Clone(tt.left), tt.right...)...)
			if !sameReg(l, want) {
				t.Errorf("merge = %+v / %v, applying both sides' ops = %+v / %v", l.Values(), l.Overwritten(), want.Values(), want.Overwritten())
			}
			if !sameReg(r, rBefore) {
				t.Errorf("argument changed to %+v, want %+v", r.Values(), rBefore.Values())
			}
		})
	}
}

func TestMVReg_Merge_Self(t *testing.T) {
	r := applyAll(new(crdt.MVReg[string]), regOp{wr(dot("a", 1), 1, "x"), []crdt.Dot{dot("z", 1)}}, regOp{wr(dot("b", 1), 1, "y"), nil})
	want := r.Clone()
	r.Merge(r)
	if !sameReg(r, want) {
		t.Errorf("r.Merge(r) = %+v / %v, want %+v / %v", r.Values(), r.Overwritten(), want.Values(), want.Overwritten())
	}
}

func TestMVReg_Clone_Independent(t *testing.T) {
	r := applyAll(new(crdt.MVReg[string]), regOp{wr(dot("a", 1), 1, "x"), nil}, regOp{wr(dot("b", 1), 1, "y"), nil})
	c := r.Clone()
	c.Apply(wr(dot("c", 1), 2, "z"), []crdt.Dot{dot("a", 1)})
	if got, want := valuesOf(r.Values()), []string{"x", "y"}; !slices.Equal(got, want) {
		t.Errorf("original after changing the clone: Values() = %q, want %q", got, want)
	}
	if got := r.Overwritten(); len(got) != 0 {
		t.Errorf("original after changing the clone: Overwritten() = %v, want none", got)
	}
	r.Apply(wr(dot("d", 1), 2, "w"), []crdt.Dot{dot("b", 1)})
	if got, want := valuesOf(c.Values()), []string{"y", "z"}; !slices.Equal(got, want) {
		t.Errorf("clone after changing the original: Values() = %q, want %q", got, want)
	}
}

// sameReg reports whether a and b have the same observable state.
func sameReg[V any](a, b *crdt.MVReg[V]) bool {
	wa, oka := a.Winner()
	wb, okb := b.Winner()
	return reflect.DeepEqual(nilIfEmpty(a.Values()), nilIfEmpty(b.Values())) &&
		slices.Equal(a.Overwritten(), b.Overwritten()) &&
		oka == okb && reflect.DeepEqual(wa, wb)
}

// nilIfEmpty maps empty slices to nil, so that states compare by content.
func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

// permute calls f with every permutation of 0..n-1 (Heap's algorithm). f must not keep p.
func permute(n int, f func(p []int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	c := make([]int, n)
	f(p)
	for i := 0; i < n; {
		if c[i] < i {
			if i%2 == 0 {
				p[0], p[i] = p[i], p[0]
			} else {
				p[c[i]], p[i] = p[i], p[c[i]]
			}
			f(p)
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
}

func TestPermute_Count(t *testing.T) {
	for n, want := range []int{1, 1, 2, 6, 24, 120, 720} {
		seen := map[string]bool{}
		permute(n, func(p []int) { seen[fmt.Sprint(p)] = true })
		if got := len(seen); got != want {
			t.Errorf("permute(%d) gave %d distinct permutations, want %d", n, got, want)
		}
	}
}

func BenchmarkMVReg_Apply(b *testing.B) {
	// Each iteration folds one register's whole history into an empty register, the way a
	// case is rebuilt from its ops; ns/write is the cost of one Apply. The overwritten set grows
	// with the history, so the cost per write does too.
	type op struct {
		w        crdt.Write[string]
		observed []crdt.Dot
	}
	run := func(b *testing.B, ops []op) {
		b.ReportAllocs()
		for b.Loop() {
			var r crdt.MVReg[string]
			for _, o := range ops {
				r.Apply(o.w, o.observed)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ops)), "ns/write")
	}
	// One writer; each write resolves the single visible value.
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("case=overwrite/writes=%d", n), func(b *testing.B) {
			var ops []op
			for seq := uint64(1); seq <= uint64(n); seq++ {
				w := op{w: crdt.Write[string]{Dot: dot("a", seq), Stamp: ts(int64(seq), 0), Value: "v"}}
				if seq > 1 {
					w.observed = []crdt.Dot{dot("a", seq-1)}
				}
				ops = append(ops, w)
			}
			run(b, ops)
		})
	}
	// Rounds of k concurrent writers, each round resolved by a write observing them all.
	for _, k := range []int{2, 8} {
		b.Run(fmt.Sprintf("case=conflict/writers=%d/rounds=100", k), func(b *testing.B) {
			var ops []op
			var prev []crdt.Dot
			for round := uint64(1); round <= 100; round++ {
				for i := range k {
					d := dot(fmt.Sprintf("n%d", i), round)
					ops = append(ops, op{w: crdt.Write[string]{Dot: d, Stamp: ts(int64(round), 0), Value: "v"}, observed: prev})
				}
				var seen []crdt.Dot
				for i := range k {
					seen = append(seen, dot(fmt.Sprintf("n%d", i), round))
				}
				resolver := dot("resolver", round)
				ops = append(ops, op{w: crdt.Write[string]{Dot: resolver, Stamp: ts(int64(round), 1), Value: "r"}, observed: seen})
				prev = []crdt.Dot{resolver}
			}
			run(b, ops)
		})
	}
}
