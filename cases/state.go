package cases

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// A replica stores one head per case (see ApplyHead) and rewrites it with most ops, so its
// encoding is compact: origins are listed once and dots refer to them by index; known fields
// are named by a stable number. It is deterministic (fields, dots and origins in order), so
// replicas holding the same ops store the same bytes.
//
//	[version, [origin: [node, incarnation]...], created [oi, seq], creator,
//	 [[field, [write...], [pending [oi, seq]...]]...],
//	 [[field, [[elem, oi, seq]...], [pending [oi, seq]...]]...]]
//
// field is a number from headFields or, for a field this version does not know, its name. A
// write is [oi, seq] for an ordinary field and [oi, seq, wall, logical, flagged, value] for an
// index field.
const headVersion = 2

// headFields numbers the fields in head encodings. Append only: a number once given is never
// reused or changed.
var headFields = []string{
	"kind", "region", "petitioners", "people_count", "category", "channel", "matter_type", "summary",
	"respondent", "accused", "handler_unit", "assignee", "tags", "state", "registered_at", "received_at",
	"notice_at", "route", "outcome", "served_at", "close_reason",
}

var headFieldNum = func() map[string]uint64 {
	m := make(map[string]uint64, len(headFields))
	for i, f := range headFields {
		m[f] = uint64(i)
	}
	return m
}()

// headOrigins collects the origins a head refers to.
type headOrigins struct {
	list []crdt.Origin
}

func (h *headOrigins) add(d crdt.Dot) {
	if d.IsZero() || len(h.list) == 1 && h.list[0] == d.Origin {
		return
	}
	if i, ok := slices.BinarySearchFunc(h.list, d.Origin, crdt.Origin.Compare); !ok {
		h.list = slices.Insert(h.list, i, d.Origin)
	}
}

// index returns the position of o in the list (it must be there).
func (h *headOrigins) index(o crdt.Origin) int {
	if len(h.list) == 1 {
		return 0 // the usual head: every dot of one origin
	}
	i, _ := slices.BinarySearchFunc(h.list, o, crdt.Origin.Compare)
	return i
}

func (h *headOrigins) writeDot(w *mp.Writer, d crdt.Dot) {
	w.ArrayLen(2)
	w.Uint(uint64(h.index(d.Origin)))
	w.Uint(d.Seq)
}

func (h *headOrigins) writeElems(w *mp.Writer, elems []string, dots []crdt.Dot) {
	w.ArrayLen(len(elems))
	for i := range elems {
		w.ArrayLen(3)
		w.String(elems[i])
		w.Uint(uint64(h.index(dots[i].Origin)))
		w.Uint(dots[i].Seq)
	}
}

func readElems(r *mp.Reader, origins []crdt.Origin) ([]string, []crdt.Dot) {
	n := r.ArrayLen(1 << 20)
	elems := make([]string, 0, n)
	dots := make([]crdt.Dot, 0, n)
	for j := 0; j < n && r.Err() == nil; j++ {
		r.ExpectArray(3, 3)
		elems = append(elems, r.String(MaxValueBytes))
		oi, seq := r.Uint(), r.Uint()
		if oi >= uint64(len(origins)) || seq == 0 {
			r.Failf("dot (origin %d of %d, seq %d)", oi, len(origins), seq)
			break
		}
		dots = append(dots, crdt.Dot{Origin: origins[oi], Seq: seq})
	}
	return elems[:len(dots)], dots // on an origin out of range, the last element has no dot
}

func writeField(w *mp.Writer, f string) {
	if n, ok := headFieldNum[f]; ok {
		w.Uint(n)
	} else {
		w.String(f)
	}
}

// namedReg and namedSet are a head's registers and sets with their field names, sorted by
// name for EncodeHead (one map lookup per field instead of one per pass).
type namedReg struct {
	field string
	r     *crdt.MVReg[[]byte]
}

type namedSet struct {
	field         string
	elems, relems []string
	dots, rdots   []crdt.Dot
}

// EncodeHead appends the encoding of head c to w.
func (c *Case) EncodeHead(w *mp.Writer) {
	var regBuf [32]namedReg
	regs := regBuf[:0]
	for f, r := range c.Registers {
		regs = append(regs, namedReg{f, r})
	}
	slices.SortFunc(regs, func(a, b namedReg) int { return strings.Compare(a.field, b.field) })
	var setBuf [4]namedSet
	sets := setBuf[:0]
	for f, st := range c.Sets {
		ns := namedSet{field: f}
		ns.elems, ns.dots = st.Adds()
		ns.relems, ns.rdots = st.Removed()
		sets = append(sets, ns)
	}
	slices.SortFunc(sets, func(a, b namedSet) int { return strings.Compare(a.field, b.field) })

	var originBuf [4]crdt.Origin
	o := headOrigins{list: originBuf[:0]}
	o.add(c.Created)
	for _, nr := range regs {
		for _, v := range nr.r.Values() {
			o.add(v.Dot)
		}
		for _, d := range nr.r.Overwritten() {
			o.add(d)
		}
	}
	for _, ns := range sets {
		for _, d := range ns.dots {
			o.add(d)
		}
		for _, d := range ns.rdots {
			o.add(d)
		}
	}
	w.ArrayLen(6)
	w.Uint(headVersion)
	w.ArrayLen(len(o.list))
	for _, or := range o.list {
		w.ArrayLen(2)
		w.String(or.Node)
		w.Uint(uint64(or.Incarnation))
	}
	if c.Created.IsZero() {
		w.Nil()
	} else {
		o.writeDot(w, c.Created)
	}
	w.String(c.Creator)
	w.ArrayLen(len(regs))
	for _, nr := range regs {
		w.ArrayLen(3)
		writeField(w, nr.field)
		vals := nr.r.Values()
		w.ArrayLen(len(vals))
		index := IsIndexField(nr.field)
		for _, v := range vals {
			if !index {
				o.writeDot(w, v.Dot)
				continue
			}
			w.ArrayLen(6)
			w.Uint(uint64(o.index(v.Dot.Origin)))
			w.Uint(v.Dot.Seq)
			w.Int(v.Stamp.Wall)
			w.Uint(uint64(v.Stamp.Logical))
			w.Bool(v.Flagged)
			w.Bin(v.Value)
		}
		pend := nr.r.Overwritten()
		w.ArrayLen(len(pend))
		for _, d := range pend {
			o.writeDot(w, d)
		}
	}
	w.ArrayLen(len(sets))
	for _, ns := range sets {
		w.ArrayLen(3)
		writeField(w, ns.field)
		o.writeElems(w, ns.elems, ns.dots)
		o.writeElems(w, ns.relems, ns.rdots)
	}
}

// DecodeHead decodes what EncodeHead wrote. Stored bytes are still checked: every length and
// index is bounded.
func DecodeHead(id string, b []byte) (*Case, error) {
	r := mp.NewReader(b)
	r.ExpectArray(6, 64)
	if v := r.Uint(); r.Err() == nil && v != headVersion {
		r.Failf("case head version %d, this build reads %d", v, headVersion)
	}
	no := r.ArrayLen(1 << 16)
	origins := make([]crdt.Origin, 0, no)
	for i := 0; i < no && r.Err() == nil; i++ {
		r.ExpectArray(2, 2)
		origins = append(origins, crdt.Origin{Node: r.String(MaxIDLen), Incarnation: uint32From(r, r.Uint())})
	}
	dot := func() crdt.Dot {
		r.ExpectArray(2, 2)
		i, seq := r.Uint(), r.Uint()
		if i >= uint64(len(origins)) || seq == 0 {
			r.Failf("dot (origin %d of %d, seq %d)", i, len(origins), seq)
			return crdt.Dot{}
		}
		return crdt.Dot{Origin: origins[i], Seq: seq}
	}
	dots := func() []crdt.Dot {
		n := r.ArrayLen(1 << 20)
		ds := make([]crdt.Dot, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			ds = append(ds, dot())
		}
		return ds
	}
	field := func() string {
		if r.NextIsString() {
			return r.String(MaxFieldName)
		}
		n := r.Uint()
		if n >= uint64(len(headFields)) {
			r.Failf("field number %d", n)
			return ""
		}
		return headFields[n]
	}
	c := &Case{ID: id, Sets: map[string]*crdt.AWSet[string]{}, Logs: map[string]*crdt.Log[[]byte]{}}
	if r.PeekNil() {
		r.Skip()
	} else {
		c.Created = dot()
	}
	c.Creator = r.String(MaxIDLen)
	nf := r.ArrayLen(1 << 16) // at most one per byte left: bounded by the input
	c.Registers = make(map[string]*crdt.MVReg[[]byte], nf)
	// The registers' writes share one allocation (a head usually has one per register); each
	// register gets a slice of it capped at its own writes, so that a register that grows
	// later reallocates rather than writing over its neighbour's.
	slab := make([]crdt.Write[[]byte], 0, nf)
	for i := 0; i < nf && r.Err() == nil; i++ {
		r.ExpectArray(3, 3)
		f := field()
		nv := r.ArrayLen(1 << 20)
		var writes []crdt.Write[[]byte]
		if n := len(slab); n+nv <= cap(slab) {
			writes, slab = slab[n:n:n+nv], slab[:n+nv]
		} else {
			writes = make([]crdt.Write[[]byte], 0, nv)
		}
		for j := 0; j < nv && r.Err() == nil; j++ {
			var v crdt.Write[[]byte]
			n := r.ExpectArray(2, 6)
			oi, seq := r.Uint(), r.Uint()
			if oi >= uint64(len(origins)) || seq == 0 {
				r.Failf("dot (origin %d of %d, seq %d)", oi, len(origins), seq)
				break
			}
			v.Dot = crdt.Dot{Origin: origins[oi], Seq: seq}
			if n == 6 {
				v.Stamp.Wall = r.Int()
				v.Stamp.Logical = uint32From(r, r.Uint())
				v.Flagged = r.Bool()
				v.Value = r.Bytes(MaxValueBytes)
			}
			writes = append(writes, v)
		}
		c.Registers[f] = crdt.RestoreMVReg(writes, dots())
	}
	ns := r.ArrayLen(1 << 16)
	for i := 0; i < ns && r.Err() == nil; i++ {
		r.ExpectArray(3, 3)
		f := field()
		elems, eds := readElems(r, origins)
		relems, rdots := readElems(r, origins)
		c.Sets[f] = crdt.RestoreAWSet(elems, eds, relems, rdots)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("decode case head %s: %w", id, err)
	}
	return c, nil
}

// IndexFields are the fields a replica's indexes and scopes are computed from: an op that
// writes one of them makes the replica recompute the case's scopes, state and deadline.
// The workflow adds the fields its clocks and rules read (workflowIndexed).
var IndexFields = workflowIndexed([]string{"state", "kind", "region", "assignee", "registered_at", "received_at", "notice_at", "served_at"})

var indexFieldSet = func() map[string]bool {
	m := make(map[string]bool, len(IndexFields))
	for _, f := range IndexFields {
		m[f] = true
	}
	return m
}()

// IsIndexField reports whether f is one of IndexFields.
func IsIndexField(f string) bool { return indexFieldSet[f] }

func writeDot(w *mp.Writer, d crdt.Dot) {
	w.ArrayLen(3)
	w.String(d.Origin.Node)
	w.Uint(uint64(d.Origin.Incarnation))
	w.Uint(d.Seq)
}

func writeDots(w *mp.Writer, ds []crdt.Dot) {
	w.ArrayLen(len(ds))
	for _, d := range ds {
		writeDot(w, d)
	}
}

func readDot(r *mp.Reader) crdt.Dot {
	var d crdt.Dot
	r.ExpectArray(3, 3)
	d.Origin.Node = r.String(MaxIDLen)
	d.Origin.Incarnation = uint32From(r, r.Uint())
	d.Seq = r.Uint()
	return d
}
