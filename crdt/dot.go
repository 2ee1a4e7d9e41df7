package crdt

import (
	"cmp"
	"fmt"
	"slices"
)

// Origin names one writer: a node and the incarnation of its store. A new incarnation is
// minted at every init and every restore from backup, so a cloned or restored replica can
// never reuse a sequence number of an earlier life.
type Origin struct {
	Node        string
	Incarnation uint32
}

func (o Origin) String() string { return fmt.Sprintf("%s/%d", o.Node, o.Incarnation) }

// Compare orders origins by node, then incarnation.
func (o Origin) Compare(p Origin) int {
	if c := cmp.Compare(o.Node, p.Node); c != 0 {
		return c
	}
	return cmp.Compare(o.Incarnation, p.Incarnation)
}

// Dot identifies one op: its origin and its sequence number there. Seq is dense per origin
// and starts at 1; the zero Dot names nothing.
type Dot struct {
	Origin Origin
	Seq    uint64
}

func (d Dot) String() string {
	return fmt.Sprintf("%s/%d/%d", d.Origin.Node, d.Origin.Incarnation, d.Seq)
}

// IsZero reports whether d names nothing.
func (d Dot) IsZero() bool { return d.Seq == 0 && d.Origin == Origin{} }

// Compare orders dots by origin, then sequence. It is a total order used wherever a
// deterministic order is needed; it says nothing about causality.
func (d Dot) Compare(e Dot) int {
	if c := d.Origin.Compare(e.Origin); c != 0 {
		return c
	}
	return cmp.Compare(d.Seq, e.Seq)
}

// SortDots sorts dots in place in Compare order and removes duplicates.
func SortDots(ds []Dot) []Dot {
	slices.SortFunc(ds, Dot.Compare)
	return slices.CompactFunc(ds, func(a, b Dot) bool { return a == b })
}

// DotSet is a sorted, duplicate-free set of dots. The zero value is empty and ready to use.
// It is kept sorted so that its encoding and its iteration order are deterministic.
type DotSet struct{ dots []Dot }

// NewDotSet returns a set holding ds.
func NewDotSet(ds ...Dot) DotSet {
	return DotSet{dots: SortDots(slices.Clone(ds))}
}

// Has reports whether d is in the set.
func (s DotSet) Has(d Dot) bool {
	_, ok := slices.BinarySearchFunc(s.dots, d, Dot.Compare)
	return ok
}

// Add puts d in the set.
func (s *DotSet) Add(d Dot) {
	i, ok := slices.BinarySearchFunc(s.dots, d, Dot.Compare)
	if !ok {
		s.dots = slices.Insert(s.dots, i, d)
	}
}

// Union adds every dot of t to s.
func (s *DotSet) Union(t DotSet) {
	if len(t.dots) == 0 {
		return
	}
	s.dots = SortDots(append(s.dots, t.dots...))
}

// Len returns the number of dots in the set.
func (s DotSet) Len() int { return len(s.dots) }

// Dots returns the dots in Compare order. The caller must not modify the slice.
func (s DotSet) Dots() []Dot { return s.dots }

// Clone returns an independent copy of s.
func (s DotSet) Clone() DotSet { return DotSet{dots: slices.Clone(s.dots)} }

// Remove takes d out of the set.
func (s *DotSet) Remove(d Dot) {
	i, ok := slices.BinarySearchFunc(s.dots, d, Dot.Compare)
	if ok {
		s.dots = slices.Delete(s.dots, i, i+1)
	}
}
