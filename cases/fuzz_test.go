package cases_test

// Fuzz targets for the decoders of outside and stored input: ops, case heads and field
// values. Seed corpora, length bombs among them, are in testdata/fuzz/<FuzzName>/. Run one
// with, for example:
//
//	go test -run '^$' -fuzz '^FuzzDecodeOp$' -fuzztime 30s ./cases/

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// FuzzDecodeOp: DecodeOp never panics; what it accepts re-encodes to an op that decodes to
// the same op and re-encodes to the same bytes (Encode is a fixed point), and to the input
// itself when the input was in canonical form. What it accepts can be checked, folded,
// applied to a head, and the head stored and read back, without panicking.
func FuzzDecodeOp(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := cases.DecodeOp(data)
		if err != nil {
			return
		}
		enc := op.Encode()
		if !canonicalOp(enc) {
			t.Fatalf("Encode wrote a non-canonical op: %x", enc)
		}
		if canonicalOp(data) && !bytes.Equal(enc, data) {
			t.Fatalf("canonical input re-encodes differently:\n in %x\nout %x", data, enc)
		}
		again, err := cases.DecodeOp(enc)
		if err != nil {
			t.Fatalf("DecodeOp(Encode(op)): %v", err)
		}
		if !sameOp(again, op) || !bytes.Equal(again.Encode(), enc) {
			t.Fatalf("round trip changed the op:\n%+v\n%+v", op, again)
		}
		if id, err := cases.PeekCase(data); err != nil || id != op.Case {
			t.Fatalf("PeekCase = %q, %v; DecodeOp says %q", id, err, op.Case)
		}
		cases.Check(&op)
		c := cases.Fold(op.Case, []cases.Stored{{Op: op}, {Op: op, Meta: cases.Meta{Flagged: true}}})
		c.Conflicts()
		c.State()
		cases.NextDeadline(c)
		head := cases.NewCase(op.Case)
		head.ApplyHead(&op, cases.Meta{}, func(d crdt.Dot) bool { return d == op.Dot })
		w := mp.NewWriter()
		head.EncodeHead(w)
		if _, err := cases.DecodeHead(op.Case, w.Bytes()); err != nil {
			t.Fatalf("DecodeHead(EncodeHead) of a head made from a decoded op: %v", err)
		}
	})
}

// FuzzDecodeHead: DecodeHead never panics; a head it accepts encodes to bytes that decode to
// a head showing the same and encoding to the same bytes.
func FuzzDecodeHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := cases.DecodeHead(caseID, data)
		if err != nil {
			return
		}
		enc := encodeHead(c)
		c2, err := cases.DecodeHead(caseID, enc)
		if err != nil {
			t.Fatalf("DecodeHead(EncodeHead(DecodeHead(x))): %v\nx   %x\nenc %x", err, data, enc)
		}
		if got, want := headStateOf(c2), headStateOf(c); !reflect.DeepEqual(got, want) {
			t.Fatalf("head changed by a round trip\ngot:%v\nwant:%v", got, want)
		}
		if again := encodeHead(c2); !bytes.Equal(again, enc) {
			t.Fatalf("EncodeHead is not a fixed point:\n%x\n%x", enc, again)
		}
		c.State()
		c.Conflicts()
		cases.NextDeadline(c)
	})
}

// fuzzFields are the fields FuzzDecodeValue picks from: the schema's and an unknown one.
var fuzzFields = append(cases.FieldNames(), "x_unknown")

// FuzzDecodeValue: DecodeValue never panics, for any field; an unknown encoding comes back
// as Opaque holding the input; anything else re-encodes to a value that decodes the same.
// Check and Apply of a write holding the value do not panic.
func FuzzDecodeValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, field uint8, data []byte) {
		name := fuzzFields[int(field)%len(fuzzFields)]
		v := cases.DecodeValue(name, data)
		var enc []byte
		switch x := v.(type) {
		case cases.Opaque:
			if !bytes.Equal(x, data) {
				t.Fatalf("Opaque %x is not the input %x", []byte(x), data)
			}
			enc = data
		case string:
			enc = cases.EncodeString(x)
		case int64:
			enc = cases.EncodeInt(x)
		case []cases.Person:
			enc = cases.EncodePersons(x)
		case cases.Party:
			enc = cases.EncodeParty(x)
		case cases.Note:
			enc = cases.EncodeNote(x)
		case bool:
			enc = cases.EncodeBool(x)
		case []cases.Extension:
			enc = cases.EncodeExtensions(x)
		case []cases.HearingRecord:
			enc = cases.EncodeHearings(x)
		case cases.MediationAgreement:
			enc = cases.EncodeAgreement(x)
		case cases.File:
			w := mp.NewWriter()
			w.ArrayLen(4)
			w.String(x.Name)
			w.String(x.SHA256)
			w.Int(x.Size)
			w.String(x.MIME)
			enc = w.Bytes()
		default:
			t.Fatalf("DecodeValue(%q) returned a %T", name, v)
		}
		if got := cases.DecodeValue(name, enc); !reflect.DeepEqual(got, v) {
			t.Fatalf("DecodeValue(%q): %#v re-encoded as %x decodes to %#v", name, v, enc, got)
		}
		action := cases.Set
		if spec := cases.Fields[name]; spec != nil {
			switch spec.Type.Shape() {
			case cases.ShapeSet:
				action = cases.Add
			case cases.ShapeLog:
				action = cases.Append
			}
		}
		op := cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 1}, Case: caseID, Kind: cases.KindEdit,
			Writes: []cases.Write{{Field: name, Action: action, Value: data}}}
		cases.Check(&op)
		c := cases.Fold(caseID, []cases.Stored{{Op: op}})
		c.String(name)
		c.Int(name)
		c.Strings(name)
	})
}

// canonicalOp reports whether b is an op of this version (11 elements) in the form Encode
// writes: every integer, string and array header in its shortest form, non-negative integers
// as unsigned, strings as str (not bin or nil). Write values may be anything: they are kept
// byte for byte.
func canonicalOp(b []byte) bool {
	c := &canonReader{b: b}
	if c.arrayLen() != 11 {
		return false
	}
	c.uint()
	c.str()
	c.uint()
	c.uint()
	c.int()
	c.uint()
	c.str()
	c.str()
	c.str()
	for range c.arrayLen() {
		if c.arrayLen() != 3 {
			return false
		}
		c.str()
		c.uint()
		c.skip(0)
	}
	for range c.arrayLen() {
		if c.arrayLen() != 3 {
			return false
		}
		c.str()
		c.uint()
		c.uint()
	}
	return c.ok() && len(c.b) == 0
}

// canonReader reads msgpack, insisting on the shortest form of every header.
type canonReader struct {
	b   []byte
	bad bool
}

func (c *canonReader) ok() bool { return !c.bad }

func (c *canonReader) next(n int) []byte {
	if c.bad || len(c.b) < n {
		c.bad = true
		return make([]byte, min(n, 8))
	}
	p := c.b[:n]
	c.b = c.b[n:]
	return p
}

func (c *canonReader) be(n int) uint64 {
	var v uint64
	for _, x := range c.next(n) {
		v = v<<8 | uint64(x)
	}
	return v
}

// unsigned reads a non-negative integer written by EncodeUint, given its code.
func (c *canonReader) unsigned(code byte) {
	switch {
	case code <= 0x7f:
	case code == 0xcc:
		c.bad = c.bad || c.be(1) < 1<<7
	case code == 0xcd:
		c.bad = c.bad || c.be(2) < 1<<8
	case code == 0xce:
		c.bad = c.bad || c.be(4) < 1<<16
	case code == 0xcf:
		c.bad = c.bad || c.be(8) < 1<<32
	default:
		c.bad = true
	}
}

func (c *canonReader) uint() { c.unsigned(c.next(1)[0]) }

// int reads an integer written by EncodeInt: non-negative ones as unsigned, negative ones in
// the shortest signed form.
func (c *canonReader) int() {
	code := c.next(1)[0]
	switch {
	case code >= 0xe0:
	case code == 0xd0:
		c.bad = c.bad || int8(c.be(1)) >= -32
	case code == 0xd1:
		c.bad = c.bad || int16(c.be(2)) >= -1<<7
	case code == 0xd2:
		c.bad = c.bad || int32(c.be(4)) >= -1<<15
	case code == 0xd3:
		c.bad = c.bad || int64(c.be(8)) >= -1<<31
	default:
		c.unsigned(code)
	}
}

func (c *canonReader) str() {
	code := c.next(1)[0]
	var n uint64
	switch {
	case code&0xe0 == 0xa0:
		n = uint64(code & 0x1f)
	case code == 0xd9:
		n = c.be(1)
		c.bad = c.bad || n < 32
	case code == 0xda:
		n = c.be(2)
		c.bad = c.bad || n < 1<<8
	case code == 0xdb:
		n = c.be(4)
		c.bad = c.bad || n < 1<<16
	default:
		c.bad = true
	}
	if n > uint64(len(c.b)) {
		c.bad = true
		return
	}
	c.next(int(n))
}

func (c *canonReader) arrayLen() int {
	code := c.next(1)[0]
	var n uint64
	switch {
	case code&0xf0 == 0x90:
		n = uint64(code & 0x0f)
	case code == 0xdc:
		n = c.be(2)
		c.bad = c.bad || n < 16
	case code == 0xdd:
		n = c.be(4)
		c.bad = c.bad || n < 1<<16
	default:
		c.bad = true
	}
	if c.bad || n > uint64(len(c.b)) {
		c.bad = true
		return 0
	}
	return int(n)
}

// skip reads one value of any form.
func (c *canonReader) skip(depth int) {
	if c.bad || depth > 64 || len(c.b) == 0 {
		c.bad = true
		return
	}
	code := c.b[0]
	fixed := map[byte]int{0xc0: 1, 0xc2: 1, 0xc3: 1, 0xca: 5, 0xcb: 9, 0xcc: 2, 0xcd: 3, 0xce: 5, 0xcf: 9, 0xd0: 2, 0xd1: 3, 0xd2: 5, 0xd3: 9}
	lenOf := func(hdr, width int) int { // length-prefixed: header bytes, then the length's width
		c.next(hdr)
		return int(c.be(width))
	}
	switch {
	case code <= 0x7f || code >= 0xe0:
		c.next(1)
	case fixed[code] > 0:
		c.next(fixed[code])
	case code&0xe0 == 0xa0:
		c.next(1 + int(code&0x1f))
	case code == 0xc4 || code == 0xd9:
		c.next(lenOf(1, 1))
	case code == 0xc5 || code == 0xda:
		c.next(lenOf(1, 2))
	case code == 0xc6 || code == 0xdb:
		n := lenOf(1, 4)
		if n > len(c.b) {
			c.bad = true
			return
		}
		c.next(n)
	case code&0xf0 == 0x90 || code == 0xdc || code == 0xdd:
		for range c.anyLen(code, 0x90) {
			c.skip(depth + 1)
		}
	case code&0xf0 == 0x80 || code == 0xde || code == 0xdf:
		for range 2 * c.anyLen(code, 0x80) {
			c.skip(depth + 1)
		}
	default:
		c.bad = true
	}
}

// anyLen reads an array or map header whose fixed form starts at fix.
func (c *canonReader) anyLen(code, fix byte) int {
	c.next(1)
	var n int
	switch {
	case code&0xf0 == fix:
		n = int(code & 0x0f)
	case code == 0xdc || code == 0xde:
		n = int(binary.BigEndian.Uint16(c.next(2)))
	default:
		n = int(binary.BigEndian.Uint32(c.next(4)))
	}
	if c.bad || n > len(c.b) {
		c.bad = true
		return 0
	}
	return n
}

// TestCanonicalOp checks the fuzz test's own canonical-form checker: it accepts what Encode
// writes and refuses each longer or other-typed spelling of the same op.
func TestCanonicalOp(t *testing.T) {
	golden := encode(goldenOp())
	if !canonicalOp(golden) {
		t.Fatalf("canonicalOp refuses the golden op")
	}
	for name, b := range map[string][]byte{
		"seq as uint16":     withElem(3, mustHex("cd 0007")),
		"seq as int8":       withElem(3, mustHex("d0 07")),
		"node as bin":       withElem(1, append([]byte{0xc4, 16}, "stn-420323103201"...)),
		"node as str8":      withElem(1, append([]byte{0xd9, 16}, "stn-420323103201"...)),
		"author nil":        withElem(8, []byte{0xc0}),
		"wall as int64":     withElem(4, mustHex("d3 0000018bcfe56800")),
		"writes as array16": withElem(9, append(mustHex("dc 0002"), opElems(goldenOp())[9][1:]...)),
		"12 elements":       assemble(12, append(opElems(goldenOp()), []byte{0x00})...),
		"trailing byte":     append(golden, 0),
		"truncated":         golden[:len(golden)-1],
		"incarnation nil":   withElem(2, []byte{0xc0}),
		"logical as uint8":  withElem(5, mustHex("cc 03")),
	} {
		if canonicalOp(b) {
			t.Errorf("%s: canonicalOp accepts %x", name, b)
		}
	}
}

// TestDecodeOp_NonCanonicalSpellings: DecodeOp accepts other spellings of an op than the one
// Encode writes: nil for a string, bin for str, a wider integer form than needed. Each
// decodes to an op whose canonical encoding, and so content hash, differ from the bytes
// received. The replica hashes, chains and dedupes the bytes it received (node: raw :=
// in.Raw), so the same op arriving once re-encoded and once as received is raised as an
// equivocation, and "the canonical encoding is what is hashed" (Op's doc) does not hold for
// such input. DecodeOp could refuse an op of this version whose bytes are not its canonical
// encoding (compare with Encode of the result, for ops of exactly 11 elements).
func TestDecodeOp_NonCanonicalSpellings(t *testing.T) {
	for name, b := range map[string][]byte{
		"seq as uint16":       withElem(3, mustHex("cd 0007")),
		"seq as int8":         withElem(3, mustHex("d0 07")),
		"node as bin":         withElem(1, append([]byte{0xc4, 16}, "stn-420323103201"...)),
		"author nil":          withElem(8, []byte{0xc0}),
		"incarnation nil":     withElem(2, []byte{0xc0}),
		"seq -1 (neg fixint)": withElem(3, []byte{0xff}),
	} {
		if op, err := cases.DecodeOp(b); err == nil {
			t.Errorf("%s: accepted as %v, canonical hash %v, received hash %v", name, op.Dot, cases.ContentHash(op.Encode()), cases.ContentHash(b))
		}
	}
}

// TestDecodeValue_LengthBombs: values that declare more than they hold come back as Opaque,
// without allocating what they declare.
func TestDecodeValue_LengthBombs(t *testing.T) {
	for _, tc := range []struct {
		field string
		b     []byte
	}{
		{"petitioners", mustHex("dd 80000000 94 a1 61 a0 a0 a0")},
		{"petitioners", mustHex("dc 03e8 94 a1 61 a0 a0 a0")}, // 1000 persons, the limit, beyond the input
		{"petitioners", mustHex("91 94 db ffffffff 61")},
		{"petitioners", mustHex("91 dd 7fffffff a1 61")},
		{"respondent", mustHex("96 a4 756e6974 c6 ffffffff 61")},
		{"accused", mustHex("dd 80000000 a4 756e6974")},
		{"notes", mustHex("93 db ffffffff 61")},
		{"attachments", mustHex("dc ffff a1 61")},
		{"summary", mustHex("db ffffffff 61")},
		{"summary", mustHex("db 0003ffff 61")}, // within MaxValueBytes, beyond the input
		{"notes", mustHex("93 db 0003ffff 61")},
		{"received_at", mustHex("cf ff")},
	} {
		var v any
		bytesPer, allocsPer := allocated(20, func() { v = cases.DecodeValue(tc.field, tc.b) })
		if _, ok := v.(cases.Opaque); !ok {
			t.Errorf("DecodeValue(%s, %x) = %#v, want Opaque", tc.field, tc.b, v)
		}
		if bytesPer > bombMaxBytes || allocsPer > bombMaxAllocs {
			t.Errorf("DecodeValue(%s, %x) allocated %.0f bytes in %.0f allocations per call", tc.field, tc.b, bytesPer, allocsPer)
		}
	}
}
