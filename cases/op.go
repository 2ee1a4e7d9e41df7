package cases

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// Op is the unit of change and of sync: all the field writes of one user action (a
// registration, an edit, a workflow transition with its data, a note), under one dot. Ops are
// immutable; their canonical encoding (Encode) is what is hashed, chained and signed.
type Op struct {
	Dot      crdt.Dot
	Stamp    crdt.Timestamp // the origin's HLC reading when the action was taken
	Case     string         // the case's id
	Kind     Kind           // what the user did; unknown kinds from newer versions are kept
	Author   string         // the signed-in account that did it
	Writes   []Write        // sorted by (Field, Action, Value); see Normalize
	Observed []crdt.Dot     // the dots this op's writes overwrite (register values, set adds)

	extra bool // decoded from a newer version's encoding with elements this one skips
}

// Kind names the user action an op records.
type Kind string

// The kinds this version writes. Replicas keep ops of kinds they do not know and pass them on.
const (
	KindRegister   Kind = "register"   // a new case, with its initial fields
	KindEdit       Kind = "edit"       // changed fields
	KindTransition Kind = "transition" // a workflow transition: state plus the data it requires
	KindNote       Kind = "note"       // a handling note, visit or record appended to the timeline
	KindWithdraw   Kind = "withdraw"   // a log record marked withdrawn
	KindResolve    Kind = "resolve"    // a person resolved a conflict by choosing or writing a value
)

// Action is what a write does to its field.
type Action uint8

const (
	Set      Action = iota // replace the register's observed values with Value
	Add                    // add Value to a set
	Remove                 // remove Value from a set (the adds of it named in Observed)
	Append                 // append Value as a record to a log
	Withdraw               // mark the log record whose dot Value encodes as withdrawn
)

func (a Action) String() string {
	switch a {
	case Set:
		return "set"
	case Add:
		return "add"
	case Remove:
		return "remove"
	case Append:
		return "append"
	case Withdraw:
		return "withdraw"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Write is one field write of an op. Value is the canonical msgpack encoding of the field's
// value (see values.go); fields this version does not know keep their bytes untouched.
type Write struct {
	Field  string
	Action Action
	Value  []byte
}

func compareWrite(a, b Write) int {
	if c := strings.Compare(a.Field, b.Field); c != 0 {
		return c
	}
	if a.Action != b.Action {
		return int(a.Action) - int(b.Action)
	}
	return slices.Compare(a.Value, b.Value)
}

// Normalize sorts Writes and Observed into canonical order and removes exact duplicates, so
// that equal actions encode (and hash) equally.
func (op *Op) Normalize() {
	slices.SortFunc(op.Writes, compareWrite)
	op.Writes = slices.CompactFunc(op.Writes, func(a, b Write) bool { return compareWrite(a, b) == 0 })
	op.Observed = crdt.SortDots(op.Observed)
}

// Limits on a decoded op. They bound what a peer can make a replica allocate.
const (
	MaxOpBytes    = 1 << 20 // one op's encoding
	MaxWrites     = 256     // writes per op
	MaxObserved   = 4096    // observed dots per op
	MaxFieldName  = 64
	MaxIDLen      = 128 // node, case and author ids
	MaxValueBytes = 256 << 10
)

// opVersion is the first element of every encoded op; bump it on an incompatible change.
const opVersion = 1

// Encode returns the canonical encoding of op (which must be normalized):
//
//	[version, node, incarnation, seq, wall, logical, case, kind, author,
//	 [[field, action, value]...], [[node, incarnation, seq]...]]
func (op *Op) Encode() []byte { return mp.Encode(op.EncodeTo) }

// EncodeTo appends op's canonical encoding to w.
func (op *Op) EncodeTo(w *mp.Writer) {
	w.ArrayLen(11)
	w.Uint(opVersion)
	w.String(op.Dot.Origin.Node)
	w.Uint(uint64(op.Dot.Origin.Incarnation))
	w.Uint(op.Dot.Seq)
	w.Int(op.Stamp.Wall)
	w.Uint(uint64(op.Stamp.Logical))
	w.String(op.Case)
	w.String(string(op.Kind))
	w.String(op.Author)
	w.ArrayLen(len(op.Writes))
	for _, x := range op.Writes {
		w.ArrayLen(3)
		w.String(x.Field)
		w.Uint(uint64(x.Action))
		w.Raw(x.Value)
	}
	writeDots(w, op.Observed)
}

// DecodeOp decodes an op from outside input. It checks every length before allocating, the
// version, that the op is well-formed (a dot, a case, canonical order, one value per register
// and one record per log, observed dots before its own) and that b is the op's canonical
// encoding; it does not judge field values, which is Check's job. The op's write values alias
// b, which must not change while the op is in use.
func DecodeOp(b []byte) (Op, error) {
	if len(b) > MaxOpBytes {
		return Op{}, fmt.Errorf("decode op: %d bytes, limit %d: %w", len(b), MaxOpBytes, mp.ErrMalformed)
	}
	r := mp.NewReader(b)
	op, err := ReadOp(r)
	if err == nil && r.Remaining() != 0 {
		err = fmt.Errorf("decode op: %d trailing bytes: %w", r.Remaining(), mp.ErrMalformed)
	}
	if err == nil && !canonical(&op, b) {
		// Replicas hash and chain the bytes they receive: an op spelled any other way than
		// its canonical encoding would hash differently from the same op elsewhere.
		err = fmt.Errorf("decode op %s: not in canonical encoding: %w", op.Dot, mp.ErrMalformed)
	}
	return op, err
}

// ReadOp reads one op from r (see DecodeOp).
func ReadOp(r *mp.Reader) (Op, error) {
	var op Op
	n := r.ExpectArray(11, 64)
	if v := r.Uint(); r.Err() == nil && v != opVersion {
		r.Failf("op version %d, this build reads %d", v, opVersion)
	}
	op.Dot.Origin.Node = r.String(MaxIDLen)
	op.Dot.Origin.Incarnation = uint32From(r, r.Uint())
	op.Dot.Seq = r.Uint()
	op.Stamp.Wall = r.Int()
	op.Stamp.Logical = uint32From(r, r.Uint())
	op.Case = r.String(MaxIDLen)
	op.Kind = Kind(r.String(MaxFieldName))
	op.Author = r.String(MaxIDLen)
	nw := r.ArrayLen(MaxWrites)
	if nw > 0 {
		op.Writes = make([]Write, nw)
	}
	for i := range op.Writes {
		m := r.ExpectArray(3, 3)
		_ = m
		op.Writes[i].Field = r.String(MaxFieldName)
		a := r.Uint()
		if a > 255 {
			r.Failf("write action %d", a)
		}
		op.Writes[i].Action = Action(a)
		op.Writes[i].Value = r.Raw()
		if len(op.Writes[i].Value) > MaxValueBytes {
			r.Failf("value of %q is %d bytes, limit %d", op.Writes[i].Field, len(op.Writes[i].Value), MaxValueBytes)
		}
	}
	no := r.ArrayLen(MaxObserved)
	if no > 0 {
		op.Observed = make([]crdt.Dot, no)
	}
	for i := range op.Observed {
		op.Observed[i] = readDot(r)
	}
	for i := 11; i < n; i++ { // fields added by newer versions: skipped here, kept in the bytes
		r.Skip()
	}
	if err := r.Err(); err != nil {
		return Op{}, fmt.Errorf("decode op: %w", err)
	}
	if err := op.wellFormed(); err != nil {
		return Op{}, fmt.Errorf("decode op %s: %w", op.Dot, err)
	}
	op.extra = n > 11
	return op, nil
}

func uint32From(r *mp.Reader, v uint64) uint32 {
	if v > 1<<32-1 {
		r.Failf("%d does not fit 32 bits", v)
	}
	return uint32(v)
}

// ValidID reports whether s may name a node, a case or an account: 1 to MaxIDLen bytes with
// no spaces, control characters or '/'. Replicas build keys from ids, so an id with a NUL
// could otherwise reach into another case's keys.
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '/' || c == 0x7f {
			return false
		}
	}
	return true
}

// wellFormed checks the structure every op must have, whatever its version.
func (op *Op) wellFormed() error {
	switch {
	case !ValidID(op.Dot.Origin.Node):
		return fmt.Errorf("%w: origin %q is not a valid id", mp.ErrMalformed, op.Dot.Origin.Node)
	case op.Dot.Seq == 0:
		return fmt.Errorf("%w: seq 0", mp.ErrMalformed)
	case !ValidID(op.Case):
		return fmt.Errorf("%w: case %q is not a valid id", mp.ErrMalformed, op.Case)
	case !ValidID(op.Author):
		return fmt.Errorf("%w: author %q is not a valid id", mp.ErrMalformed, op.Author)
	case op.Kind == "":
		return fmt.Errorf("%w: no kind", mp.ErrMalformed)
	}
	for i := 1; i < len(op.Writes); i++ {
		if compareWrite(op.Writes[i-1], op.Writes[i]) >= 0 {
			return fmt.Errorf("%w: writes not in canonical order", mp.ErrMalformed)
		}
	}
	for i := 1; i < len(op.Observed); i++ {
		if op.Observed[i-1].Compare(op.Observed[i]) >= 0 {
			return fmt.Errorf("%w: observed dots not in canonical order", mp.ErrMalformed)
		}
	}
	for _, d := range op.Observed {
		if d.Seq == 0 || !ValidID(d.Origin.Node) {
			return fmt.Errorf("%w: observed dot %q/%d", mp.ErrMalformed, d.Origin.Node, d.Seq)
		}
		if d.Origin == op.Dot.Origin && d.Seq >= op.Dot.Seq {
			return fmt.Errorf("%w: observes %s, which is not before it", mp.ErrMalformed, d)
		}
	}
	for i := 1; i < len(op.Writes); i++ {
		a, b := op.Writes[i-1], op.Writes[i]
		if a.Field == b.Field && a.Action == b.Action && (a.Action == Set || a.Action == Append || a.Action == Withdraw) {
			// One op is one action: one value per register, one record per log. (Fold keeps
			// one register write and one log record per dot, so a second would be lost.)
			return fmt.Errorf("%w: two %s writes to %s", mp.ErrMalformed, a.Action, a.Field)
		}
	}
	return nil
}

// Hash is a SHA-256 digest: an op's content hash or a chain hash.
type Hash [32]byte

func (h Hash) String() string { return fmt.Sprintf("%x", h[:8]) }

// ContentHash returns the SHA-256 of an op's canonical encoding. The same dot with a
// different content hash is an equivocation.
func ContentHash(encoded []byte) Hash { return sha256.Sum256(encoded) }

// ChainHash extends an origin's hash chain by one op: SHA-256(prev || encoded op). The chain
// of an origin starts from the zero Hash before seq 1.
func ChainHash(prev Hash, encoded []byte) Hash {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(encoded)
	var out Hash
	h.Sum(out[:0])
	return out
}

// PeekCase returns the case id of an encoded op without decoding the rest.
func PeekCase(b []byte) (string, error) {
	r := mp.NewReader(b)
	r.ExpectArray(11, 64)
	r.Uint()
	r.String(MaxIDLen)
	r.Uint()
	r.Uint()
	r.Int()
	r.Uint()
	id := r.String(MaxIDLen)
	if err := r.Err(); err != nil {
		return "", fmt.Errorf("peek case: %w", err)
	}
	return id, nil
}

// PeekDot returns the dot of an encoded op without decoding the rest.
func PeekDot(b []byte) (crdt.Dot, error) {
	r := mp.NewReader(b)
	r.ExpectArray(11, 64)
	r.Uint()
	var d crdt.Dot
	d.Origin.Node = r.String(MaxIDLen)
	inc := r.Uint()
	d.Seq = r.Uint()
	if inc > 1<<32-1 {
		r.Failf("incarnation %d out of range", inc)
	}
	d.Origin.Incarnation = uint32(inc)
	if err := r.Err(); err != nil {
		return crdt.Dot{}, fmt.Errorf("peek dot: %w", err)
	}
	return d, nil
}

// canonical reports whether b is op's canonical encoding. For an op of a newer version
// (elements beyond the 11 this version knows) the 11 known elements must be spelled
// canonically; the rest are kept as they came.
func canonical(op *Op, b []byte) bool {
	enc := op.Encode()
	if !op.extra {
		return bytes.Equal(enc, b)
	}
	// Both start with an array header: one byte for enc (11 elements), one (fixarray, up to
	// 15) or three (array16) for b.
	hb := 1
	if len(b) > 0 && b[0] == 0xdc {
		hb = 3
	}
	return len(b) > hb && bytes.HasPrefix(b[hb:], enc[1:])
}

// WellFormed checks the structure DecodeOp requires of every op (see DecodeOp), for ops
// built locally before they are stored and sent.
func (op *Op) WellFormed() error { return op.wellFormed() }
