package cases

import (
	"slices"

	"github.com/fengqiao/fengqiao/crdt"
)

// Meta is what a replica knows about an op beside its immutable content.
type Meta struct {
	// ReceivedAt is when the first hub received the op (ms since epoch), or 0 before any hub
	// has. It travels with the op, so every replica downstream judges the op's stamp against
	// the same instant; deadlines of a flagged op run from it.
	ReceivedAt int64
	// Flagged is set when the op's stamp lay beyond the receiver's clock + max skew: the
	// origin's clock is wrong. A flagged write is never a display winner.
	Flagged bool
	// Quarantined is set when the first hub to receive the op found that its writer may not
	// write that case (see node.WriterRule). A quarantined op is kept, chained and forwarded
	// upward, but never folded into its case: a person decides what becomes of it.
	Quarantined bool
}

// Case is the state of one case: the fold of its ops. The zero value is not usable; use
// NewCase or Fold.
type Case struct {
	ID string

	Registers map[string]*crdt.MVReg[[]byte]
	Sets      map[string]*crdt.AWSet[string] // elements are their canonical encodings
	Logs      map[string]*crdt.Log[[]byte]

	Created crdt.Dot       // the register op (the lowest dot if, wrongly, there are several)
	Creator string         // who registered it
	Updated crdt.Timestamp // the latest stamp of an unflagged op
	Flags   []Flag         // rules its ops break (computed by Fold), in (Dot, Field, Code) order
}

// Flag records that a replicated op broke a rule of this version: it was applied (rules
// change; the op is authentic) and a person should look at it.
type Flag struct {
	Dot   crdt.Dot
	Field string
	Code  string
}

// NewCase returns an empty case with id.
func NewCase(id string) *Case {
	return &Case{
		ID:        id,
		Registers: map[string]*crdt.MVReg[[]byte]{},
		Sets:      map[string]*crdt.AWSet[string]{},
		Logs:      map[string]*crdt.Log[[]byte]{},
	}
}

// Stored is an op as a replica holds it: its content and what the replica knows of it.
type Stored struct {
	Op   Op
	Meta Meta
}

// Fold returns the case made by ops, in any order and with any duplicates: state is a pure
// function of the set of ops.
func Fold(id string, ops []Stored) *Case {
	c := NewCase(id)
	for i := range ops {
		c.Apply(&ops[i].Op, ops[i].Meta)
		for _, v := range Check(&ops[i].Op) {
			c.addFlag(Flag{Dot: ops[i].Op.Dot, Field: v.Field, Code: v.Code})
		}
	}
	return c
}

// Apply folds one op into the case. Apply is idempotent and commutative: applying ops in any
// order, any number of times, gives the same case. Writes whose action this version does not
// know change nothing here (the op itself is kept and passed on by the replica).
func (c *Case) Apply(op *Op, meta Meta) {
	for _, w := range op.Writes {
		switch w.Action {
		case Set:
			r := c.Registers[w.Field]
			if r == nil {
				r = &crdt.MVReg[[]byte]{}
				c.Registers[w.Field] = r
			}
			r.Apply(crdt.Write[[]byte]{Dot: op.Dot, Stamp: op.Stamp, Flagged: meta.Flagged, Author: op.Author, Value: w.Value}, op.Observed)
		case Add, Remove:
			s := c.Sets[w.Field]
			if s == nil {
				s = &crdt.AWSet[string]{}
				c.Sets[w.Field] = s
			}
			if w.Action == Add {
				s.Add(string(w.Value), op.Dot)
			} else {
				s.Remove(string(w.Value), op.Observed)
			}
		case Append, Withdraw:
			l := c.Logs[w.Field]
			if l == nil {
				l = &crdt.Log[[]byte]{}
				c.Logs[w.Field] = l
			}
			if w.Action == Append {
				l.Append(crdt.Write[[]byte]{Dot: op.Dot, Stamp: op.Stamp, Flagged: meta.Flagged, Author: op.Author, Value: w.Value})
			} else if d, err := DecodeDot(w.Value); err == nil {
				l.Withdraw(d)
			}
		}
	}
	if op.Kind == KindRegister && (c.Created.IsZero() || op.Dot.Compare(c.Created) < 0) {
		c.Created, c.Creator = op.Dot, op.Author
	}
	if !meta.Flagged && c.Updated.Less(op.Stamp) {
		c.Updated = op.Stamp
	}
}

func compareFlag(a, b Flag) int {
	if c := a.Dot.Compare(b.Dot); c != 0 {
		return c
	}
	if a.Field != b.Field {
		if a.Field < b.Field {
			return -1
		}
		return 1
	}
	switch {
	case a.Code < b.Code:
		return -1
	case a.Code > b.Code:
		return 1
	}
	return 0
}

func (c *Case) addFlag(f Flag) {
	i, found := slices.BinarySearchFunc(c.Flags, f, compareFlag)
	if !found {
		c.Flags = slices.Insert(c.Flags, i, f)
	}
}

// Exists reports whether the case has been registered (its register op has arrived).
func (c *Case) Exists() bool { return !c.Created.IsZero() }

// Value returns the display value of a register field: the deterministic winner while a
// conflict is open. ok is false when the field was never written.
func (c *Case) Value(field string) (v []byte, ok bool) {
	r := c.Registers[field]
	if r == nil {
		return nil, false
	}
	w, ok := r.Winner()
	return w.Value, ok
}

// String returns the display value of a string-typed register field ("" if unset).
func (c *Case) String(field string) string {
	b, ok := c.Value(field)
	if !ok {
		return ""
	}
	s, _ := DecodeValue(field, b).(string)
	return s
}

// Int returns the display value of an integer or time register field (0 if unset).
func (c *Case) Int(field string) int64 {
	b, ok := c.Value(field)
	if !ok {
		return 0
	}
	v, _ := DecodeValue(field, b).(int64)
	return v
}

// Strings returns every visible value of a string-typed register field: one normally, more
// while a conflict is open. The replica uses it where a conflict must mean "all of them" (a
// case whose region is in conflict is in the scope of every region named).
func (c *Case) Strings(field string) []string {
	r := c.Registers[field]
	if r == nil {
		return nil
	}
	var out []string
	for _, w := range r.Values() {
		if s, ok := DecodeValue(field, w.Value).(string); ok && s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Observe returns the dots a new write of fields must observe to overwrite what is visible
// now: the visible writes of those registers. A local edit observes what its author saw.
func (c *Case) Observe(fields ...string) []crdt.Dot {
	var ds []crdt.Dot
	for _, f := range fields {
		if r := c.Registers[f]; r != nil {
			ds = append(ds, r.Dots()...)
		}
	}
	return crdt.SortDots(ds)
}

// Conflicts returns the names of register fields with more than one visible value, sorted.
func (c *Case) Conflicts() []string {
	var out []string
	for f, r := range c.Registers {
		if r.Conflict() {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// State returns the workflow state shown for the case ("" before registration).
func (c *Case) State() State { return State(c.String("state")) }

// ReflagHead sets the flag of op's index-field writes in the head (the only writes a head
// keeps flags for) to meta's, and reports whether any of them is still visible: what a
// replica does when it learns an op's receipt time after applying it (its own op, which it
// judged against its own clock).
func (c *Case) ReflagHead(op *Op, meta Meta) (changed bool) {
	for _, w := range op.Writes {
		if w.Action != Set || !IsIndexField(w.Field) {
			continue
		}
		if r := c.Registers[w.Field]; r != nil && r.Reflag(op.Dot, meta.Flagged) {
			changed = true
		}
	}
	return changed
}

// ApplyHead folds op into a case head: the compact state a replica keeps per case to apply
// ops and validate local writes without reading the case's history. A head differs from a
// folded case: registers of IndexFields keep their values, stamps and flags, other registers
// keep only their visible dots (what a new write must observe); authors, logs and the
// Updated stamp are left out; and removed writes are forgotten instead of remembered, which
// is safe because the replica never applies an op twice (seen reports whether an op has been
// applied).
//
// changed is false when the op cannot have changed the head (a note or withdrawal, which
// heads leave out, whose dot no write of the head had observed): the replica then need not
// encode it again to find that out.
func (c *Case) ApplyHead(op *Op, meta Meta, seen func(crdt.Dot) bool) (changed bool) {
	for _, w := range op.Writes {
		switch w.Action {
		case Set:
			r := c.Registers[w.Field]
			if r == nil {
				r = &crdt.MVReg[[]byte]{}
				c.Registers[w.Field] = r
			}
			hw := crdt.Write[[]byte]{Dot: op.Dot}
			if IsIndexField(w.Field) {
				hw.Stamp, hw.Flagged, hw.Value = op.Stamp, meta.Flagged, w.Value
			}
			r.ApplyOnce(hw, op.Observed, seen)
			changed = true
		case Add, Remove:
			s := c.Sets[w.Field]
			if s == nil {
				s = &crdt.AWSet[string]{}
				c.Sets[w.Field] = s
			}
			if w.Action == Add {
				s.AddOnce(string(w.Value), op.Dot)
			} else {
				s.RemoveOnce(string(w.Value), op.Observed, seen)
			}
			changed = true
		}
	}
	// The op has arrived: no register or set needs to wait for its dot any longer (what it
	// wrote has been hidden or applied above). Without this a dot observed before its op
	// arrived would stay in the head for good, and heads would differ by arrival order.
	for _, r := range c.Registers {
		if !changed && slices.Contains(r.Overwritten(), op.Dot) {
			changed = true
		}
		r.Forget(op.Dot)
	}
	for _, s := range c.Sets {
		if !changed {
			if tomb, _ := s.Removed(); len(tomb) > 0 {
				changed = true // it may hold one under op's dot
			}
		}
		s.Forget(op.Dot)
	}
	if op.Kind == KindRegister && (c.Created.IsZero() || op.Dot.Compare(c.Created) < 0) {
		c.Created, c.Creator = op.Dot, op.Author
		changed = true
	}
	return changed
}
