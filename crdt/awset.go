package crdt

import (
	"cmp"
	"slices"
)

// AWSet is an add-wins set of comparable elements (tags, involved parties). Each add is
// tagged with the dot of its op; a remove of e deletes only the adds of e it observed, so an
// add made concurrently with a remove survives it. One op may add several elements under its
// dot; removing one leaves the others. The zero value is an empty set.
type AWSet[E cmp.Ordered] struct {
	adds    []setAdd[E] // sorted by (Elem, Dot); none of them in removed
	removed []setAdd[E] // sorted by (Elem, Dot): adds that a remove of their element observed
}

type setAdd[E cmp.Ordered] struct {
	Elem E
	Dot  Dot
}

func compareAdd[E cmp.Ordered](a, b setAdd[E]) int {
	if c := cmp.Compare(a.Elem, b.Elem); c != 0 {
		return c
	}
	return a.Dot.Compare(b.Dot)
}

// hasAdd reports whether the sorted list as holds a.
func hasAdd[E cmp.Ordered](as []setAdd[E], a setAdd[E]) bool {
	_, found := slices.BinarySearchFunc(as, a, compareAdd[E])
	return found
}

// insertAdd puts a in the sorted list as, once.
func insertAdd[E cmp.Ordered](as []setAdd[E], a setAdd[E]) []setAdd[E] {
	i, found := slices.BinarySearchFunc(as, a, compareAdd[E])
	if found {
		return as
	}
	return slices.Insert(as, i, a)
}

// deleteAdd takes a out of the sorted list as; found reports whether it was there.
func deleteAdd[E cmp.Ordered](as []setAdd[E], a setAdd[E]) ([]setAdd[E], bool) {
	i, found := slices.BinarySearchFunc(as, a, compareAdd[E])
	if !found {
		return as, false
	}
	return slices.Delete(as, i, i+1), true
}

// Add records that the op with dot d added e.
func (s *AWSet[E]) Add(e E, d Dot) {
	a := setAdd[E]{e, d}
	if hasAdd(s.removed, a) {
		return
	}
	s.adds = insertAdd(s.adds, a)
}

// Remove deletes the adds of e whose dots are in observed. Adds of e that the remover had
// not seen stay, and so do adds of other elements, whatever their dots: observed may name
// dots of other elements' adds and of register writes.
func (s *AWSet[E]) Remove(e E, observed []Dot) {
	for _, d := range observed {
		a := setAdd[E]{e, d}
		s.removed = insertAdd(s.removed, a)
		s.adds, _ = deleteAdd(s.adds, a)
	}
}

// AddDots returns the dots of the live adds of e: what a remove of e must observe.
func (s *AWSet[E]) AddDots(e E) []Dot {
	var ds []Dot
	for _, a := range s.adds {
		if a.Elem == e {
			ds = append(ds, a.Dot)
		}
	}
	return ds
}

// Has reports whether e is in the set.
func (s *AWSet[E]) Has(e E) bool {
	i, _ := slices.BinarySearchFunc(s.adds, setAdd[E]{Elem: e}, compareAdd[E])
	return i < len(s.adds) && s.adds[i].Elem == e
}

// Elems returns the elements in ascending order.
func (s *AWSet[E]) Elems() []E {
	var out []E
	for _, a := range s.adds {
		if len(out) == 0 || out[len(out)-1] != a.Elem {
			out = append(out, a.Elem)
		}
	}
	return out
}

// Merge folds o into s. It is commutative, associative and idempotent.
func (s *AWSet[E]) Merge(o *AWSet[E]) {
	for _, a := range o.removed {
		s.removed = insertAdd(s.removed, a)
	}
	for _, a := range o.adds {
		s.Add(a.Elem, a.Dot)
	}
	s.adds = slices.DeleteFunc(s.adds, func(a setAdd[E]) bool { return hasAdd(s.removed, a) })
}

// Adds returns the live adds as parallel slices of elements and dots, in (element, dot)
// order, for encoding stored state.
func (s *AWSet[E]) Adds() (elems []E, dots []Dot) { return split(s.adds) }

// Removed returns the tombstones, the adds that a remove of their element observed, as
// parallel slices of elements and dots in (element, dot) order, for encoding stored state.
func (s *AWSet[E]) Removed() (elems []E, dots []Dot) { return split(s.removed) }

func split[E cmp.Ordered](as []setAdd[E]) (elems []E, dots []Dot) {
	for _, a := range as {
		elems = append(elems, a.Elem)
		dots = append(dots, a.Dot)
	}
	return elems, dots
}

// RestoreAWSet rebuilds a set from the parts Adds and Removed returned.
func RestoreAWSet[E cmp.Ordered](elems []E, dots []Dot, removedElems []E, removedDots []Dot) *AWSet[E] {
	s := &AWSet[E]{}
	for i := range removedElems {
		s.removed = insertAdd(s.removed, setAdd[E]{removedElems[i], removedDots[i]})
	}
	for i := range elems {
		s.Add(elems[i], dots[i])
	}
	return s
}

// AddOnce and RemoveOnce are Add and Remove for a caller that never applies the same op
// twice (see MVReg.ApplyOnce): removed adds are forgotten rather than remembered.
func (s *AWSet[E]) AddOnce(e E, d Dot) {
	var held bool
	if s.removed, held = deleteAdd(s.removed, setAdd[E]{e, d}); held {
		return
	}
	s.adds = insertAdd(s.adds, setAdd[E]{e, d})
}

// RemoveOnce deletes the adds of e whose dots are in observed; an observed dot whose op has
// not arrived (seen is false) is kept so that its add of e stays hidden when it does.
func (s *AWSet[E]) RemoveOnce(e E, observed []Dot, seen func(Dot) bool) {
	for _, d := range observed {
		var found bool
		if s.adds, found = deleteAdd(s.adds, setAdd[E]{e, d}); !found && !seen(d) {
			s.removed = insertAdd(s.removed, setAdd[E]{e, d})
		}
	}
}

// Forget drops the tombstones under d: the op d has arrived and added none of their
// elements, so nothing will ever need hiding under d. For AddOnce/RemoveOnce sets.
func (s *AWSet[E]) Forget(d Dot) {
	s.removed = slices.DeleteFunc(s.removed, func(a setAdd[E]) bool { return a.Dot == d })
}
