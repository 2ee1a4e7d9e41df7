package crdt

import "slices"

// VersionVector maps each origin to the highest sequence number of the contiguous prefix of
// its ops that a replica holds. Seqs are dense per origin, so one number per origin says
// exactly which ops are held. The zero value is empty and ready to use.
type VersionVector map[Origin]uint64

// Get returns the contiguous prefix held for o (0 when none).
func (v VersionVector) Get(o Origin) uint64 { return v[o] }

// Includes reports whether the op named by d is inside the held prefix.
func (v VersionVector) Includes(d Dot) bool { return d.Seq != 0 && d.Seq <= v[d.Origin] }

// Advance raises o's entry to seq if seq is higher. The caller keeps the prefix contiguous.
func (v VersionVector) Advance(o Origin, seq uint64) {
	if seq > v[o] {
		v[o] = seq
	}
}

// Merge raises every entry of v to at least the entry of w (pointwise maximum).
func (v VersionVector) Merge(w VersionVector) {
	for o, s := range w {
		v.Advance(o, s)
	}
}

// Clone returns an independent copy of v.
func (v VersionVector) Clone() VersionVector {
	c := make(VersionVector, len(v))
	for o, s := range v {
		c[o] = s
	}
	return c
}

// Ordering is the causal relation between two version vectors.
type Ordering int

const (
	Equal      Ordering = iota // both hold the same ops
	Before                     // the first holds a strict subset of the second
	After                      // the first holds a strict superset of the second
	Concurrent                 // each holds an op the other lacks
)

// Compare tells how v relates to w.
func (v VersionVector) Compare(w VersionVector) Ordering {
	less, more := false, false
	for o, s := range v {
		if t := w[o]; s > t {
			more = true
		} else if s < t {
			less = true
		}
	}
	for o, t := range w {
		if _, ok := v[o]; !ok && t > 0 {
			less = true
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// Dominates reports whether v holds every op that w holds.
func (v VersionVector) Dominates(w VersionVector) bool {
	o := v.Compare(w)
	return o == Equal || o == After
}

// Origins returns the origins of v in a deterministic order.
func (v VersionVector) Origins() []Origin {
	os := make([]Origin, 0, len(v))
	for o := range v {
		os = append(os, o)
	}
	slices.SortFunc(os, Origin.Compare)
	return os
}
