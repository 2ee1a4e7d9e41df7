package crdt_test

import (
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
)

// setOp is an add (observed == nil) or a remove of elem.
type setOp struct {
	remove   bool
	elem     string
	dot      crdt.Dot   // of an add
	observed []crdt.Dot // of a remove
}

func add(e string, d crdt.Dot) setOp { return setOp{elem: e, dot: d} }
func remove(e string, observed ...crdt.Dot) setOp {
	return setOp{remove: true, elem: e, observed: observed}
}

func applySet(s *crdt.AWSet[string], ops ...setOp) *crdt.AWSet[string] {
	for _, op := range ops {
		if op.remove {
			s.Remove(op.elem, op.observed)
		} else {
			s.Add(op.elem, op.dot)
		}
	}
	return s
}

func TestAWSet_ZeroValue(t *testing.T) {
	var s crdt.AWSet[string]
	if got := s.Elems(); len(got) != 0 {
		t.Errorf("Elems() = %q, want none", got)
	}
	if s.Has("") || s.Has("x") {
		t.Errorf("zero set Has an element")
	}
	if got := s.AddDots("x"); len(got) != 0 {
		t.Errorf("AddDots(x) = %v, want none", got)
	}
	s.Remove("x", []crdt.Dot{dot("a", 1)}) // removing from an empty set is fine
	if got := s.Elems(); len(got) != 0 {
		t.Errorf("Elems() = %q, want none", got)
	}
}

func TestAWSet(t *testing.T) {
	a1, a2, b1, b2 := dot("a", 1), dot("a", 2), dot("b", 1), dot("b", 2)
	tests := []struct {
		name      string
		ops       []setOp
		wantElems []string
		wantDots  map[string][]crdt.Dot
	}{
		{"adds sorted", []setOp{add("urgent", a1), add("elderly", b1), add("minor", a2)}, []string{"elderly", "minor", "urgent"}, nil},
		{"same element twice", []setOp{add("x", a1), add("x", b1)}, []string{"x"}, map[string][]crdt.Dot{"x": {a1, b1}}},
		{"duplicate add", []setOp{add("x", a1), add("x", a1)}, []string{"x"}, map[string][]crdt.Dot{"x": {a1}}},
		{"remove observed add", []setOp{add("x", a1), remove("x", a1)}, nil, map[string][]crdt.Dot{"x": nil}},
		{"remove before its add arrives", []setOp{remove("x", a1), add("x", a1)}, nil, map[string][]crdt.Dot{"x": nil}},
		{"concurrent add survives remove", []setOp{add("x", a1), add("x", b1), remove("x", a1)}, []string{"x"}, map[string][]crdt.Dot{"x": {b1}}},
		{"concurrent add survives, remove first", []setOp{remove("x", a1), add("x", b1), add("x", a1)}, []string{"x"}, map[string][]crdt.Dot{"x": {b1}}},
		{"re-add after remove", []setOp{add("x", a1), remove("x", a1), add("x", a2)}, []string{"x"}, map[string][]crdt.Dot{"x": {a2}}},
		{"remove of every add", []setOp{add("x", a1), add("x", b1), remove("x", a1, b1)}, nil, nil},
		{"remove of one element keeps others", []setOp{add("x", a1), add("y", b1), remove("x", a1)}, []string{"y"}, map[string][]crdt.Dot{"y": {b1}}},
		{"remove without observed dots", []setOp{add("x", a1), remove("x")}, []string{"x"}, nil},
		{"one op adds two elements, the other is removed", []setOp{add("x", b2), add("y", b2), remove("x", b2)}, []string{"y"}, map[string][]crdt.Dot{"x": nil, "y": {b2}}},
		{"remove names a dot of another element", []setOp{add("x", a1), add("y", b1), remove("x", a1, b1)}, []string{"y"}, map[string][]crdt.Dot{"y": {b1}}},
		{"remove of another element before the add", []setOp{remove("x", b1), add("y", b1)}, []string{"y"}, map[string][]crdt.Dot{"y": {b1}}},
		{"empty element", []setOp{add("", a1)}, []string{""}, map[string][]crdt.Dot{"": {a1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The same result in every delivery order.
			permute(len(tt.ops), func(p []int) {
				var s crdt.AWSet[string]
				for _, i := range p {
					applySet(&s, tt.ops[i])
				}
				if got := s.Elems(); !slices.Equal(got, tt.wantElems) {
					t.Errorf("order %v: Elems() = %q, want %q", p, got, tt.wantElems)
				}
				for e, want := range tt.wantDots {
					if got := s.AddDots(e); !slices.Equal(got, want) {
						t.Errorf("order %v: AddDots(%q) = %v, want %v", p, e, got, want)
					}
				}
				for _, op := range tt.ops {
					if got, want := s.Has(op.elem), slices.Contains(tt.wantElems, op.elem); got != want {
						t.Errorf("order %v: Has(%q) = %v, want %v", p, op.elem, got, want)
					}
				}
			})
		})
	}
}

func TestAWSet_Has_Neighbours(t *testing.T) {
	s := applySet(new(crdt.AWSet[string]), add("b", dot("a", 1)), add("d", dot("a", 2)))
	for _, tt := range []struct {
		e    string
		want bool
	}{{"a", false}, {"b", true}, {"c", false}, {"d", true}, {"e", false}} {
		if got := s.Has(tt.e); got != tt.want {
			t.Errorf("Has(%q) = %v, want %v", tt.e, got, tt.want)
		}
	}
}

func TestAWSet_Merge(t *testing.T) {
	a1, b1, c1 := dot("a", 1), dot("b", 1), dot("c", 1)
	tests := []struct {
		name        string
		left, right []setOp
		want        []string
	}{
		{"empty", nil, nil, nil},
		{"union", []setOp{add("x", a1)}, []setOp{add("y", b1)}, []string{"x", "y"}},
		{"remove on the right", []setOp{add("x", a1)}, []setOp{add("x", a1), remove("x", a1)}, nil},
		{"remove on the right, add not there", []setOp{add("x", a1)}, []setOp{remove("x", a1)}, nil},
		{"concurrent add on the left", []setOp{add("x", a1), add("x", c1)}, []setOp{add("x", a1), remove("x", a1)}, []string{"x"}},
		{"remove of one element on the right keeps another of the same dot", []setOp{add("x", b1), add("y", b1)}, []setOp{remove("x", b1)}, []string{"y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := applySet(new(crdt.AWSet[string]), tt.left...)
			r := applySet(new(crdt.AWSet[string]), tt.right...)
			l.Merge(r)
			if got := l.Elems(); !slices.Equal(got, tt.want) {
				t.Errorf("Elems() = %q, want %q", got, tt.want)
			}
			all := applySet(new(crdt.AWSet[string]), append(slices.Clone(tt.left), tt.right...)...)
			if got, want := l.Elems(), all.Elems(); !slices.Equal(got, want) {
				t.Errorf("merge Elems() = %q, applying both sides' ops = %q", got, want)
			}
			// Tombstones travel with Merge: a late add the right side had removed stays out.
			for _, op := range tt.right {
				if op.remove {
					for _, d := range op.observed {
						l.Add(op.elem, d)
						if slices.Contains(l.AddDots(op.elem), d) {
							t.Errorf("after merge, late Add(%q, %v) visible; the merged remove observed it", op.elem, d)
						}
					}
				}
			}
		})
	}
}

// TestAWSet_Remove_KeepsOtherElementsOfTheSameDot is the shape cases.Case.Apply gives a
// remove (tombstones were once kept by dot alone, and this failed): a registration adds two tags under one dot; a later edit sets a field (observing
// the registration's dot) and removes one tag, passing the op's whole Observed to Remove.
func TestAWSet_Remove_KeepsOtherElementsOfTheSameDot(t *testing.T) {
	reg := dot("a", 1)
	observed := []crdt.Dot{reg} // the edit's Observed: the register value it overwrote, and the add of "urgent"
	for _, order := range [][]string{{"add", "remove"}, {"remove", "add"}} {
		var s crdt.AWSet[string]
		for _, step := range order {
			if step == "add" {
				s.Add("urgent", reg)
				s.Add("elderly", reg)
			} else {
				s.Remove("urgent", observed)
			}
		}
		if got, want := s.Elems(), []string{"elderly"}; !slices.Equal(got, want) {
			t.Errorf("order %v: Elems() = %q, want %q", order, got, want)
		}
	}
}

// restoreSet rebuilds s from the parts it gives for encoding stored state.
func restoreSet(s *crdt.AWSet[string]) *crdt.AWSet[string] {
	elems, dots := s.Adds()
	relems, rdots := s.Removed()
	return crdt.RestoreAWSet(elems, dots, relems, rdots)
}

func TestAWSet_Restore(t *testing.T) {
	a1, b1, c1 := dot("a", 1), dot("b", 1), dot("c", 1)
	s := applySet(new(crdt.AWSet[string]), add("x", a1), add("y", b1), remove("x", a1), remove("z", c1))
	elems, dots := s.Adds()
	if got, want := elems, []string{"y"}; !slices.Equal(got, want) {
		t.Errorf("Adds() elems = %q, want %q", got, want)
	}
	if got, want := dots, []crdt.Dot{b1}; !slices.Equal(got, want) {
		t.Errorf("Adds() dots = %v, want %v", got, want)
	}
	r := restoreSet(s)
	if got, want := r.Elems(), s.Elems(); !slices.Equal(got, want) {
		t.Errorf("restored Elems() = %q, want %q", got, want)
	}
	// The tombstones came back: late adds the removes observed stay out.
	r.Add("x", a1)
	r.Add("z", c1)
	if got, want := r.Elems(), []string{"y"}; !slices.Equal(got, want) {
		t.Errorf("restored set after late adds: Elems() = %q, want %q", got, want)
	}
}
