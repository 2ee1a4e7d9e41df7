package crdt

import "slices"

// Write is one value written to a register, set or log, with what identifies and
// describes it.
type Write[V any] struct {
	Dot     Dot       // the op that wrote it
	Stamp   Timestamp // the writer's HLC reading
	Flagged bool      // Stamp lay beyond the receiver's clock + MaxSkew; never a display winner
	Author  string    // who made the write (an account id)
	Value   V
}

// MVReg is a multi-value register. A write names the dots it observed; it replaces exactly
// those. Writes that did not observe each other are all kept: a conflict, shown to people
// and resolved by a later write that observes them all. Nothing is resolved by timestamp.
//
// State: the visible writes, plus the set of dots that some write has overwritten. A write
// that arrives after a write that overwrote it stays hidden, so delivery order does not
// matter. The zero value is an empty register.
type MVReg[V any] struct {
	writes      []Write[V] // sorted by Dot; none of them in overwritten
	overwritten DotSet
}

// Apply adds w, which observed (and so overwrites) the dots in observed. Applying the same
// write twice, or writes in any order, gives the same register.
func (r *MVReg[V]) Apply(w Write[V], observed []Dot) {
	for _, d := range observed {
		r.overwritten.Add(d)
	}
	r.writes = slices.DeleteFunc(r.writes, func(x Write[V]) bool { return r.overwritten.Has(x.Dot) })
	if r.overwritten.Has(w.Dot) {
		return
	}
	i, found := slices.BinarySearchFunc(r.writes, w.Dot, func(x Write[V], d Dot) int { return x.Dot.Compare(d) })
	if !found {
		r.writes = slices.Insert(r.writes, i, w)
	}
}

// Merge folds the state of o into r: the union of writes less the union of overwritten dots.
// It is commutative, associative and idempotent.
func (r *MVReg[V]) Merge(o *MVReg[V]) {
	r.overwritten.Union(o.overwritten)
	for _, w := range o.writes {
		r.Apply(w, nil)
	}
	r.writes = slices.DeleteFunc(r.writes, func(x Write[V]) bool { return r.overwritten.Has(x.Dot) })
}

// Values returns the visible writes in Dot order. One write means no conflict; none means
// the register was never written. The caller must not modify the slice.
func (r *MVReg[V]) Values() []Write[V] { return r.writes }

// Dots returns the dots of the visible writes: what a new write that resolves the register
// must observe.
func (r *MVReg[V]) Dots() []Dot {
	ds := make([]Dot, len(r.writes))
	for i, w := range r.writes {
		ds[i] = w.Dot
	}
	return ds
}

// Conflict reports whether more than one write is visible.
func (r *MVReg[V]) Conflict() bool { return len(r.writes) > 1 }

// Overwritten returns the dots some write has overwritten, in Dot order.
func (r *MVReg[V]) Overwritten() []Dot { return r.overwritten.Dots() }

// Winner returns the write to display while a conflict is open: the same on every replica.
// Unflagged writes come before flagged ones; then the later stamp; then the higher dot. The
// winner is only for display: the other values stay visible and nothing is discarded.
func (r *MVReg[V]) Winner() (Write[V], bool) {
	if len(r.writes) == 0 {
		var zero Write[V]
		return zero, false
	}
	best := r.writes[0]
	for _, w := range r.writes[1:] {
		if displayBefore(w, best) {
			best = w
		}
	}
	return best, true
}

// displayBefore reports whether a should be displayed in preference to b.
func displayBefore[V any](a, b Write[V]) bool {
	if a.Flagged != b.Flagged {
		return !a.Flagged
	}
	if c := a.Stamp.Compare(b.Stamp); c != 0 {
		return c > 0
	}
	return a.Dot.Compare(b.Dot) > 0
}

// Clone returns an independent copy of r (values are copied shallowly).
func (r *MVReg[V]) Clone() *MVReg[V] {
	return &MVReg[V]{writes: slices.Clone(r.writes), overwritten: r.overwritten.Clone()}
}

// RestoreMVReg rebuilds a register from the parts Values and Overwritten returned, when
// decoding stored state. Writes that overwritten names are dropped. It takes ownership of
// writes.
func RestoreMVReg[V any](writes []Write[V], overwritten []Dot) *MVReg[V] {
	r := &MVReg[V]{overwritten: NewDotSet(overwritten...)}
	if slices.IsSortedFunc(writes, func(a, b Write[V]) int { return a.Dot.Compare(b.Dot) }) &&
		!slices.ContainsFunc(writes, func(w Write[V]) bool { return r.overwritten.Has(w.Dot) }) {
		// As Values returned them: take the slice as it is. (Duplicates are dropped below.)
		r.writes = slices.CompactFunc(writes, func(a, b Write[V]) bool { return a.Dot == b.Dot })
		return r
	}
	for _, w := range writes {
		r.Apply(w, nil)
	}
	return r
}

// ApplyOnce is Apply for a caller that never applies the same write twice (a replica that
// dedupes ops by dot before applying them). Knowing that, the register need not remember the
// dots of writes it has already removed: an observed dot is remembered only while seen says
// its op has not arrived yet (to hide its write when it does), and forgotten once it has. The
// state stays as small as the visible writes. Mixing Apply and ApplyOnce on one register is
// an error.
func (r *MVReg[V]) ApplyOnce(w Write[V], observed []Dot, seen func(Dot) bool) {
	for _, d := range observed {
		i, found := slices.BinarySearchFunc(r.writes, d, func(x Write[V], d Dot) int { return x.Dot.Compare(d) })
		if found {
			r.writes = slices.Delete(r.writes, i, i+1)
		} else if !seen(d) {
			r.overwritten.Add(d)
		}
	}
	if r.overwritten.Has(w.Dot) {
		r.overwritten.Remove(w.Dot)
		return
	}
	i, found := slices.BinarySearchFunc(r.writes, w.Dot, func(x Write[V], d Dot) int { return x.Dot.Compare(d) })
	if !found {
		r.writes = slices.Insert(r.writes, i, w)
	}
}

// Forget drops d from the dots the register is waiting for: the op d has arrived and did not
// write this register, so nothing will ever need hiding under d. For ApplyOnce registers.
func (r *MVReg[V]) Forget(d Dot) { r.overwritten.Remove(d) }

// Reflag sets the flag of the visible write with dot d, and reports whether one was there.
// A write's flag can be learnt late: the writer's own replica judged the write against its
// own clock, and learns later when the first hub received it (cases.Meta).
func (r *MVReg[V]) Reflag(d Dot, flagged bool) bool {
	i, found := slices.BinarySearchFunc(r.writes, d, func(x Write[V], d Dot) int { return x.Dot.Compare(d) })
	if found {
		r.writes[i].Flagged = flagged
	}
	return found
}
