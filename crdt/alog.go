package crdt

import "slices"

// Log is an append-only log of records (notes, visits, mediation records, attachment
// metadata). Records are never deleted; one can be marked withdrawn by a later op, and the
// mark is kept beside it. Order is by stamp, then dot, so every replica lists the same
// records in the same order. The zero value is an empty log.
type Log[V any] struct {
	entries   []LogEntry[V] // sorted by (Stamp, Dot)
	withdrawn DotSet
}

// LogEntry is one record of a Log.
type LogEntry[V any] struct {
	Write[V]
	Withdrawn bool
}

func compareEntry[V any](a, b LogEntry[V]) int {
	if c := a.Stamp.Compare(b.Stamp); c != 0 {
		return c
	}
	return a.Dot.Compare(b.Dot)
}

// Append adds w. Appending the same record twice keeps one.
func (l *Log[V]) Append(w Write[V]) {
	e := LogEntry[V]{Write: w, Withdrawn: l.withdrawn.Has(w.Dot)}
	i, found := slices.BinarySearchFunc(l.entries, e, compareEntry[V])
	if !found {
		l.entries = slices.Insert(l.entries, i, e)
	}
}

// Withdraw marks the record written by d as withdrawn, whether or not it has arrived yet.
func (l *Log[V]) Withdraw(d Dot) {
	l.withdrawn.Add(d)
	for i := range l.entries {
		if l.entries[i].Dot == d {
			l.entries[i].Withdrawn = true
		}
	}
}

// Entries returns the records in order, withdrawn ones included and marked. The caller must
// not modify the slice.
func (l *Log[V]) Entries() []LogEntry[V] { return l.entries }

// Len returns the number of records, withdrawn ones included.
func (l *Log[V]) Len() int { return len(l.entries) }

// Merge folds o into l. It is commutative, associative and idempotent.
func (l *Log[V]) Merge(o *Log[V]) {
	for _, d := range o.withdrawn.Dots() {
		l.Withdraw(d)
	}
	for _, e := range o.entries {
		l.Append(e.Write)
	}
}
