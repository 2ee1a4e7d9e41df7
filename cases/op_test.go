package cases_test

// Tests of the op codec: Encode, DecodeOp, ReadOp and PeekCase. DecodeOp reads outside input,
// so besides the round trip it must refuse every malformed or hostile encoding with an error,
// quickly and without allocating what a declared length asks for.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
	"pgregory.net/rapid"
)

// genValue draws the canonical encoding of one msgpack value: the values of the schema and,
// as a newer version might write, anything else this format allows (nested up to depth).
func genValue(t *rapid.T, label string, depth int) []byte {
	w := mp.NewWriter()
	kinds := 10
	if depth <= 0 {
		kinds = 8
	}
	switch rapid.IntRange(0, kinds-1).Draw(t, label+" kind") {
	case 0:
		return cases.EncodeString(rapid.String().Draw(t, label+" string"))
	case 1:
		return cases.EncodeInt(rapid.Int64().Draw(t, label+" int"))
	case 2:
		n := rapid.IntRange(0, 3).Draw(t, label+" persons")
		ps := make([]cases.Person, n)
		for i := range ps {
			ps[i] = cases.Person{Name: rapid.String().Draw(t, "name"), IDNumber: rapid.StringN(0, 18, 18).Draw(t, "id")}
		}
		return cases.EncodePersons(ps)
	case 3:
		return cases.EncodeNote(cases.Note{Text: rapid.String().Draw(t, "text"), Kind: "visit", At: rapid.Int64().Draw(t, "at")})
	case 4:
		return cases.EncodeParty(cases.Party{Kind: "unit", Name: rapid.String().Draw(t, "party")})
	case 5:
		return cases.EncodeDot(genDot(t, label+" dot"))
	case 6:
		w.Bin(rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, label+" bin"))
	case 7:
		switch rapid.IntRange(0, 3).Draw(t, label+" scalar") {
		case 0:
			w.Nil()
		case 1:
			w.Bool(rapid.Bool().Draw(t, label+" bool"))
		case 2:
			w.Uint(rapid.Uint64().Draw(t, label+" uint"))
		default: // float64
			w.Raw(append([]byte{0xcb}, rapid.SliceOfN(rapid.Byte(), 8, 8).Draw(t, label+" float")...))
		}
	case 8:
		n := rapid.IntRange(0, 17).Draw(t, label+" array len")
		w.ArrayLen(n)
		for i := range n {
			w.Raw(genValue(t, fmt.Sprintf("%s[%d]", label, i), depth-1))
		}
	default: // a map, which the schema never writes but a newer version might
		n := rapid.IntRange(0, 3).Draw(t, label+" map len")
		w.Raw([]byte{0x80 | byte(n)})
		for i := range n {
			w.String(fmt.Sprint("k", i))
			w.Raw(genValue(t, fmt.Sprintf("%s.k%d", label, i), depth-1))
		}
	}
	return slices.Clone(w.Bytes())
}

// genID draws an id as cases.ValidID allows: no spaces, control characters or '/'.
func genID() *rapid.Generator[string] {
	return rapid.StringMatching(`[A-Za-z0-9_.:-]{1,30}|[网格员站点竹山县]{1,8}[0-9]{0,4}`)
}

func genDot(t *rapid.T, label string) crdt.Dot {
	return crdt.Dot{
		Origin: crdt.Origin{
			Node:        genID().Draw(t, label+" node"),
			Incarnation: rapid.Uint32().Draw(t, label+" incarnation"),
		},
		Seq: rapid.Uint64Range(1, math.MaxUint64).Draw(t, label+" seq"),
	}
}

// genOp draws a well-formed, normalized op with any content the format can carry.
func genOp(t *rapid.T) cases.Op {
	id := func(label string) string { return genID().Draw(t, label) }
	op := cases.Op{
		Dot:    genDot(t, "dot"),
		Stamp:  crdt.Timestamp{Wall: rapid.Int64().Draw(t, "wall"), Logical: rapid.Uint32().Draw(t, "logical")},
		Case:   id("case"),
		Kind:   cases.Kind(rapid.OneOf(rapid.SampledFrom([]string{"register", "edit", "transition", "note", "withdraw", "resolve"}), rapid.StringN(1, 20, cases.MaxFieldName)).Draw(t, "kind")),
		Author: id("author"),
	}
	for i := range rapid.IntRange(0, 6).Draw(t, "writes") {
		op.Writes = append(op.Writes, cases.Write{
			Field:  rapid.OneOf(rapid.SampledFrom(cases.FieldNames()), rapid.StringN(0, 20, cases.MaxFieldName)).Draw(t, "field"),
			Action: cases.Action(rapid.Uint8().Draw(t, "action")),
			Value:  genValue(t, fmt.Sprint("value ", i), 2),
		})
	}
	for i := range rapid.IntRange(0, 6).Draw(t, "observed") {
		d := genDot(t, fmt.Sprint("observed ", i))
		if d.Origin == op.Dot.Origin && d.Seq >= op.Dot.Seq {
			continue // an op observes only ops before it
		}
		op.Observed = append(op.Observed, d)
	}
	op.Normalize()
	// One value per register and one record per log in an op: keep the first of each.
	op.Writes = slices.CompactFunc(op.Writes, func(a, b cases.Write) bool {
		return a.Field == b.Field && a.Action == b.Action && (a.Action == cases.Set || a.Action == cases.Append || a.Action == cases.Withdraw)
	})
	return op
}

// sameOp reports whether two ops are equal, counting nil and empty slices as equal.
func sameOp(a, b cases.Op) bool {
	if a.Dot != b.Dot || a.Stamp != b.Stamp || a.Case != b.Case || a.Kind != b.Kind || a.Author != b.Author ||
		len(a.Writes) != len(b.Writes) || !slices.Equal(a.Observed, b.Observed) {
		return false
	}
	for i := range a.Writes {
		x, y := a.Writes[i], b.Writes[i]
		if x.Field != y.Field || x.Action != y.Action || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func TestOp_Property_RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		op := genOp(t)
		b := op.Encode()
		got, err := cases.DecodeOp(b)
		if err != nil {
			t.Fatalf("DecodeOp(Encode(%+v)): %v", op, err)
		}
		if !sameOp(got, op) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, op)
		}
		if again := got.Encode(); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b)
		}
		if cases.ContentHash(got.Encode()) != cases.ContentHash(b) {
			t.Fatalf("content hash changed by a round trip")
		}
		if id, err := cases.PeekCase(b); err != nil || id != op.Case {
			t.Fatalf("PeekCase = %q, %v; want %q", id, err, op.Case)
		}
		// Normalize is idempotent and keeps a normalized op's encoding.
		got.Normalize()
		if !bytes.Equal(got.Encode(), b) {
			t.Fatalf("Normalize changed a normalized op")
		}
		// ReadOp reads ops one after another from a stream.
		other := genOp(t)
		r := mp.NewReader(slices.Concat(b, other.Encode()))
		first, err1 := cases.ReadOp(r)
		second, err2 := cases.ReadOp(r)
		if err1 != nil || err2 != nil || !sameOp(first, op) || !sameOp(second, other) || r.Remaining() != 0 {
			t.Fatalf("ReadOp from a stream: %v, %v, %d bytes left", err1, err2, r.Remaining())
		}
	})
}

// goldenOp is the op of TestOp_Golden.
func goldenOp() cases.Op {
	op := cases.Op{
		Dot:    crdt.Dot{Origin: crdt.Origin{Node: "stn-420323103201", Incarnation: 2}, Seq: 7},
		Stamp:  crdt.Timestamp{Wall: 1700000000000, Logical: 3},
		Case:   "C-0001",
		Kind:   cases.KindEdit,
		Author: "u-li",
		Writes: []cases.Write{
			{Field: "tags", Action: cases.Add, Value: cases.EncodeString("水电")},
			{Field: "summary", Action: cases.Set, Value: cases.EncodeString("漏水")},
		},
		Observed: []crdt.Dot{
			{Origin: crdt.Origin{Node: "stn-420323103201", Incarnation: 2}, Seq: 5},
			{Origin: crdt.Origin{Node: "hub-4203", Incarnation: 1}, Seq: 300},
		},
	}
	op.Normalize()
	return op
}

// TestOp_Golden pins the encoding of one op byte for byte: ops are hashed, chained and signed,
// so any change of the format (field order, integer widths, string forms) must be deliberate
// and come with a new op version.
func TestOp_Golden(t *testing.T) {
	const want = "" +
		"9b" + // array of 11
		"01" + // version 1
		"b073746e2d343230333233313033323031" + // node "stn-420323103201"
		"02" + // incarnation 2
		"07" + // seq 7
		"cf0000018bcfe56800" + // wall 1700000000000 (uint64: non-negative ints are written as uints)
		"03" + // logical 3
		"a6432d30303031" + // case "C-0001"
		"a465646974" + // kind "edit"
		"a4752d6c69" + // author "u-li"
		"92" + // 2 writes, sorted by field
		"93a773756d6d61727900a6e6bc8fe6b0b4" + // ["summary", 0 (set), "漏水"]
		"93a47461677301a6e6b0b4e794b5" + // ["tags", 1 (add), "水电"]
		"92" + // 2 observed dots, sorted by node
		"93a86875622d3432303301cd012c" + // ["hub-4203", 1, 300]
		"93b073746e2d3432303332333130333230310205" // ["stn-420323103201", 2, 5]
	op := goldenOp()
	if got := hex.EncodeToString(op.Encode()); got != want {
		t.Fatalf("encoding changed:\n got %s\nwant %s", got, want)
	}
	b, _ := hex.DecodeString(want)
	got, err := cases.DecodeOp(b)
	if err != nil || !sameOp(got, op) {
		t.Fatalf("DecodeOp(golden) = %+v, %v", got, err)
	}
	const wantHash = "0160015898427d08"
	if h := cases.ContentHash(b); h.String() != wantHash {
		t.Errorf("ContentHash = %v, want %v", h, wantHash)
	}
}

// opElems returns the canonical encodings of the 11 elements of op, to be tampered with.
func opElems(op cases.Op) [][]byte {
	one := func(f func(w *mp.Writer)) []byte {
		w := mp.NewWriter()
		f(w)
		return slices.Clone(w.Bytes())
	}
	dot := func(w *mp.Writer, d crdt.Dot) {
		w.ArrayLen(3)
		w.String(d.Origin.Node)
		w.Uint(uint64(d.Origin.Incarnation))
		w.Uint(d.Seq)
	}
	return [][]byte{
		one(func(w *mp.Writer) { w.Uint(1) }),
		one(func(w *mp.Writer) { w.String(op.Dot.Origin.Node) }),
		one(func(w *mp.Writer) { w.Uint(uint64(op.Dot.Origin.Incarnation)) }),
		one(func(w *mp.Writer) { w.Uint(op.Dot.Seq) }),
		one(func(w *mp.Writer) { w.Int(op.Stamp.Wall) }),
		one(func(w *mp.Writer) { w.Uint(uint64(op.Stamp.Logical)) }),
		one(func(w *mp.Writer) { w.String(op.Case) }),
		one(func(w *mp.Writer) { w.String(string(op.Kind)) }),
		one(func(w *mp.Writer) { w.String(op.Author) }),
		one(func(w *mp.Writer) {
			w.ArrayLen(len(op.Writes))
			for _, x := range op.Writes {
				w.ArrayLen(3)
				w.String(x.Field)
				w.Uint(uint64(x.Action))
				w.Raw(x.Value)
			}
		}),
		one(func(w *mp.Writer) {
			w.ArrayLen(len(op.Observed))
			for _, d := range op.Observed {
				dot(w, d)
			}
		}),
	}
}

// assemble writes an array header declaring n elements followed by elems.
func assemble(n int, elems ...[]byte) []byte {
	w := mp.NewWriter()
	w.ArrayLen(n)
	for _, e := range elems {
		w.Raw(e)
	}
	return slices.Clone(w.Bytes())
}

// withElem returns the golden op's encoding with element i replaced by raw.
func withElem(i int, raw []byte) []byte {
	es := opElems(goldenOp())
	es[i] = raw
	return assemble(len(es), es...)
}

// encode returns op's encoding (Encode has a pointer receiver).
func encode(op cases.Op) []byte { return op.Encode() }

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestOpElems_MatchEncode(t *testing.T) {
	// The tampering helpers start from the real encoding.
	op := goldenOp()
	if got := assemble(11, opElems(op)...); !bytes.Equal(got, op.Encode()) {
		t.Fatalf("opElems does not reproduce Encode:\n got %x\nwant %x", got, op.Encode())
	}
}

func TestDecodeOp_Rejects(t *testing.T) {
	golden := encode(goldenOp())
	swapped := goldenOp()
	swapped.Writes[0], swapped.Writes[1] = swapped.Writes[1], swapped.Writes[0]
	dupWrite := goldenOp()
	dupWrite.Writes = append(dupWrite.Writes, dupWrite.Writes[1])
	swappedObs := goldenOp()
	swappedObs.Observed[0], swappedObs.Observed[1] = swappedObs.Observed[1], swappedObs.Observed[0]
	dupObs := goldenOp()
	dupObs.Observed = append(dupObs.Observed, dupObs.Observed[1])
	zeroObs := goldenOp()
	zeroObs.Observed = append([]crdt.Dot{{Origin: crdt.Origin{Node: "a"}}}, zeroObs.Observed...)
	noNodeObs := goldenOp()
	noNodeObs.Observed = append([]crdt.Dot{{Seq: 1}}, noNodeObs.Observed...)
	bigValue := goldenOp()
	bigValue.Writes[0].Value = cases.EncodeString(strings.Repeat("x", cases.MaxValueBytes))
	es := opElems(goldenOp())
	tooMany := slices.Clone(es)
	for range 64 - 11 + 1 {
		tooMany = append(tooMany, []byte{0x00})
	}
	deep := append(bytes.Repeat([]byte{0x91}, 40), 0x00)
	write := func(field string, action uint64, value []byte) []byte {
		w := mp.NewWriter()
		w.ArrayLen(1)
		w.ArrayLen(3)
		w.String(field)
		w.Uint(action)
		w.Raw(value)
		return slices.Clone(w.Bytes())
	}

	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty input", nil},
		{"not an array", []byte{0x01}},
		{"trailing byte", append(slices.Clone(golden), 0x00)},
		{"trailing op", slices.Concat(golden, golden)},
		{"version 0", withElem(0, []byte{0x00})},
		{"version 2", withElem(0, []byte{0x02})},
		{"version as string", withElem(0, cases.EncodeString("1"))},
		{"no origin node", withElem(1, cases.EncodeString(""))},
		{"node longer than MaxIDLen", withElem(1, cases.EncodeString(strings.Repeat("n", cases.MaxIDLen+1)))},
		{"incarnation beyond 32 bits", withElem(2, cases.EncodeInt(1<<32))},
		{"zero seq", withElem(3, []byte{0x00})},
		{"negative wall as string", withElem(4, cases.EncodeString("-1"))},
		{"logical beyond 32 bits", withElem(5, cases.EncodeInt(1<<32))},
		{"empty case", withElem(6, cases.EncodeString(""))},
		{"case longer than MaxIDLen", withElem(6, cases.EncodeString(strings.Repeat("c", cases.MaxIDLen+1)))},
		{"empty kind", withElem(7, cases.EncodeString(""))},
		{"kind longer than MaxFieldName", withElem(7, cases.EncodeString(strings.Repeat("k", cases.MaxFieldName+1)))},
		{"author longer than MaxIDLen", withElem(8, cases.EncodeString(strings.Repeat("u", cases.MaxIDLen+1)))},
		{"writes out of order", encode(swapped)},
		{"duplicate write", encode(dupWrite)},
		{"observed out of order", encode(swappedObs)},
		{"duplicate observed dot", encode(dupObs)},
		{"observed dot with seq 0", encode(zeroObs)},
		{"observed dot without node", encode(noNodeObs)},
		{"write of 2 elements", withElem(9, mustHex("91 92 a4"+hex.EncodeToString([]byte("tags"))+"01"))},
		{"write of 4 elements", withElem(9, mustHex("91 94 a4"+hex.EncodeToString([]byte("tags"))+"01 00 00"))},
		{"field name longer than MaxFieldName", withElem(9, write(strings.Repeat("f", cases.MaxFieldName+1), 0, []byte{0x00}))},
		{"action beyond 8 bits", withElem(9, write("summary", 256, []byte{0x00}))},
		{"value beyond MaxValueBytes", encode(bigValue)},
		{"value with an extension type", withElem(9, write("summary", 0, mustHex("d4 01 00")))},
		{"value nested deeper than the limit", withElem(9, write("summary", 0, deep))},
		{"value 0xc1 (never used)", withElem(9, write("summary", 0, []byte{0xc1}))},
		{"observed dot of 2 elements", withElem(10, mustHex("91 92 a1 61 01"))},
		{"more than MaxWrites writes", withElem(9, append(mustHex("dc 0101"), bytes.Repeat(mustHex("93 a1 61 00 00"), 257)...))},
		{"fewer than 11 elements", assemble(10, es[:10]...)},
		{"more than 64 elements", assemble(len(tooMany), tooMany...)},
		{"header declares 11, holds 10", assemble(11, es[:10]...)},
		{"longer than MaxOpBytes", append(slices.Clone(golden), make([]byte, cases.MaxOpBytes)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := cases.DecodeOp(tc.b)
			if err == nil {
				t.Fatalf("DecodeOp accepted it: %+v", op)
			}
			if !errors.Is(err, mp.ErrMalformed) {
				t.Errorf("error %v does not wrap mp.ErrMalformed", err)
			}
		})
	}
}

// TestDecodeOp_EveryTruncationFails: every proper prefix of an encoding is an error.
func TestDecodeOp_EveryTruncationFails(t *testing.T) {
	b := encode(goldenOp())
	for n := range len(b) {
		if op, err := cases.DecodeOp(b[:n]); err == nil {
			t.Errorf("DecodeOp of the first %d of %d bytes = %+v", n, len(b), op)
		}
	}
}

// TestDecodeOp_NewerVersionElements: an op of a newer version that appends elements to the
// op array (up to 64) decodes; the extra elements, of any type, are skipped.
func TestDecodeOp_NewerVersionElements(t *testing.T) {
	op := goldenOp()
	es := opElems(op)
	extra := [][]byte{
		{0x2a},
		cases.EncodeString("a field of version 2"),
		mustHex("93 01 a1 78 81 a1 6b 92 c0 c3"), // [1, "x", {"k": [nil, true]}]
		mustHex("c4 03 010203"),                  // bin
	}
	for n := 1; n <= len(extra); n++ {
		b := assemble(11+n, slices.Concat(es, extra[:n])...)
		got, err := cases.DecodeOp(b)
		if err != nil {
			t.Fatalf("%d extra elements: %v", n, err)
		}
		if !sameOp(got, op) {
			t.Fatalf("%d extra elements: got %+v, want %+v", n, got, op)
		}
		if id, err := cases.PeekCase(b); err != nil || id != op.Case {
			t.Fatalf("PeekCase = %q, %v", id, err)
		}
	}
	// Up to 64 elements in all.
	filler := slices.Clone(es)
	for len(filler) < 64 {
		filler = append(filler, []byte{0xc0})
	}
	if _, err := cases.DecodeOp(assemble(64, filler...)); err != nil {
		t.Errorf("64 elements: %v", err)
	}
	// An extra element is still checked: a length bomb inside it is an error.
	if _, err := cases.DecodeOp(assemble(12, slices.Concat(es, [][]byte{mustHex("dd 7fffffff 00")})...)); err == nil {
		t.Errorf("a length bomb in an extra element was accepted")
	}
}

// TestDecodeOp_KeepsWhatThisVersionDoesNotKnow: unknown kinds, fields and actions decode and
// re-encode unchanged (Check, not DecodeOp, judges them).
func TestDecodeOp_KeepsWhatThisVersionDoesNotKnow(t *testing.T) {
	op := goldenOp()
	op.Kind = "merge-cases"
	op.Writes = append(op.Writes,
		cases.Write{Field: "future_field", Action: cases.Set, Value: mustHex("82 a1 61 01 a1 62 c3")},
		cases.Write{Field: "summary", Action: 200, Value: cases.EncodeString("?")},
	)
	op.Normalize()
	b := op.Encode()
	got, err := cases.DecodeOp(b)
	if err != nil || !sameOp(got, op) || !bytes.Equal(got.Encode(), b) {
		t.Fatalf("DecodeOp = %+v, %v", got, err)
	}
}

// allocated returns the heap bytes and allocations per call of f, averaged over runs.
func allocated(runs int, f func()) (bytesPer, allocsPer float64) {
	f()
	allocsPer = testing.AllocsPerRun(runs, f)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs), allocsPer
}

// Bounds on what decoding a small hostile input may allocate: the decoder's own state and
// an error message, nothing proportional to a declared length.
const (
	bombMaxBytes  = 4 << 10
	bombMaxAllocs = 40
)

// bomb is a small input declaring far more than it holds.
type bomb struct {
	name string
	b    []byte
}

// opBombs are hostile ops: each is a valid op up to one element that declares a huge length.
func opBombs() []bomb {
	es := opElems(goldenOp())
	upTo := func(i int, raw string) []byte { // elements before i, then raw, then nothing
		return assemble(11, append(slices.Clone(es[:i]), mustHex(raw))...)
	}
	inValue := func(raw string) []byte {
		return upTo(9, "91 93 a7"+hex.EncodeToString([]byte("summary"))+"00"+raw)
	}
	return []bomb{
		{"14 bytes declaring an array of 2^31", mustHex("dd 80000000 000000000000000000")},
		{"array of 2^32-1", mustHex("dd ffffffff 01")},
		{"array16 of 65535", mustHex("dc ffff 01 02 03")},
		{"node str32 of 4 GB", upTo(1, "db ffffffff 6162636465666768")},
		{"node bin32 of 4 GB", upTo(1, "c6 ffffffff 6162636465666768")},
		{"node str16 of 64 KB", upTo(1, "da ffff 61")},
		{"node str8 within MaxIDLen, beyond the input", upTo(1, "d9 80 61")},
		{"case str32 of 2 GB", upTo(6, "db 80000000 61")},
		{"kind str8 beyond input", upTo(7, "d9 ff 61")},
		{"author str32 of 4 GB", upTo(8, "db ffffffff")},
		{"writes array of 2^31", upTo(9, "dd 80000000 93 a1 61 00 00")},
		{"writes array16 of 65535", upTo(9, "dc ffff 93 a1 61 00 00")},
		{"write of 2^31 elements", upTo(9, "91 dd 80000000 a1 61 00 00")},
		{"field str32 of 4 GB", upTo(9, "91 93 db ffffffff 61")},
		{"value array of 2^31", inValue("dd 80000000 00 00 00")},
		{"value map of 2^31", inValue("df 80000000 00 00 00")},
		{"value map16 of 65535", inValue("de ffff a1 61 00")},
		{"value str32 of 4 GB", inValue("db ffffffff 61")},
		{"value bin32 of 4 GB", inValue("c6 ffffffff 61")},
		{"value ext32 of 4 GB", inValue("c9 ffffffff 01 61")},
		{"value nested arrays each declaring 2^31", inValue(strings.Repeat("dd 7fffffff ", 20) + "00")},
		{"value nested arrays each declaring what is left", inValue(strings.Repeat("dc 0040 ", 20) + "00")},
		{"value nested 100,000 deep", inValue(strings.Repeat("91", 100_000) + "00")},
		{"value nested maps 100,000 deep", inValue(strings.Repeat("81 00", 100_000) + "00")},
		{"observed array of 2^31", upTo(10, "dd 80000000 93 a1 61 01 01")},
		{"observed array of MaxObserved, beyond the input", upTo(10, "dc 1000 93 a1 61 01 01")},
		{"writes array of MaxWrites, beyond the input", upTo(9, "dc 0100 93 a1 61 00 00")},
		{"observed dot of 2^31 elements", upTo(10, "91 dd 80000000 a1 61 01 01")},
		{"observed node str32 of 4 GB", upTo(10, "91 93 db ffffffff 61 01 01")},
		{"extra element array of 2^31", assemble(12, append(slices.Clone(es), mustHex("dd 80000000 00"))...)},
	}
}

// TestDecodeOp_LengthBombs: inputs of a few bytes that declare arrays, maps and strings of
// gigabytes are errors, at once, and allocate nothing proportional to what they declare
// (msgpack/v5 alone would allocate the declared length and be killed by the OOM killer).
func TestDecodeOp_LengthBombs(t *testing.T) {
	for _, tc := range opBombs() {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			bytesPer, allocsPer := allocated(20, func() { _, err = cases.DecodeOp(tc.b) })
			if err == nil {
				t.Fatalf("DecodeOp(%x) accepted", tc.b)
			}
			if !errors.Is(err, mp.ErrMalformed) {
				t.Errorf("error %v does not wrap mp.ErrMalformed", err)
			}
			if bytesPer > bombMaxBytes || allocsPer > bombMaxAllocs {
				t.Errorf("DecodeOp of %d bytes allocated %.0f bytes in %.0f allocations per call", len(tc.b), bytesPer, allocsPer)
			}
			t.Logf("%d bytes in, %.0f bytes / %.0f allocs per call: %v", len(tc.b), bytesPer, allocsPer, err)
		})
	}
}

// TestPeekCase_Bombs: PeekCase reads only up to the case id: it refuses the bombs before it
// and reads the case id of ops whose bomb lies after it.
func TestPeekCase_Bombs(t *testing.T) {
	before := map[string]bool{
		"14 bytes declaring an array of 2^31": true, "array of 2^32-1": true, "array16 of 65535": true,
		"node str32 of 4 GB": true, "node bin32 of 4 GB": true, "node str16 of 64 KB": true,
		"node str8 within MaxIDLen, beyond the input": true, "case str32 of 2 GB": true,
	}
	for _, tc := range opBombs() {
		id, err := cases.PeekCase(tc.b)
		if before[tc.name] && err == nil {
			t.Errorf("%s: PeekCase = %q", tc.name, id)
		}
		if !before[tc.name] && (err != nil || id != goldenOp().Case) {
			t.Errorf("%s: PeekCase = %q, %v; want %q", tc.name, id, err, goldenOp().Case)
		}
	}
}

// TestDecodeOp_AllocationIsProportional: an input whose declared lengths all fit the bytes
// left can make the decoder allocate only a bounded multiple of its size.
func TestDecodeOp_AllocationIsProportional(t *testing.T) {
	es := opElems(goldenOp())
	// The most observed dots the op limit allows, each as small as a dot can be.
	w := mp.NewWriter()
	w.ArrayLen(cases.MaxObserved)
	for i := range cases.MaxObserved {
		w.Raw(mustHex("93 a1 61 00"))
		w.Uint(uint64(i + 1))
	}
	many := assemble(11, append(slices.Clone(es[:10]), slices.Clone(w.Bytes()))...)
	// A value of an array of 60,000 nils.
	wide := withElem(9, mustHex("91 93 a7"+hex.EncodeToString([]byte("summary"))+"00 dc ea60"+strings.Repeat("c0", 60000)))
	for _, tc := range []bomb{{"4096 observed dots", many}, {"array of 60,000 nils", wide}} {
		var err error
		bytesPer, _ := allocated(5, func() { _, err = cases.DecodeOp(tc.b) })
		ratio := bytesPer / float64(len(tc.b))
		t.Logf("%s: %d bytes in, %.0f bytes allocated (%.1f×), err %v", tc.name, len(tc.b), bytesPer, ratio, err)
		if ratio > 64 {
			t.Errorf("%s: allocated %.1f× the input", tc.name, ratio)
		}
	}
}
