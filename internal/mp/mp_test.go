package mp_test

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"pgregory.net/rapid"

	"github.com/fengqiao/fengqiao/internal/mp"
)

// Values written by Writer read back through Reader, in every integer width.
func TestReader_ReadsWhatWriterWrites(t *testing.T) {
	ints := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxInt32, math.MaxInt64, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt64}
	w := mp.NewWriter()
	w.ArrayLen(len(ints) + 4)
	for _, v := range ints {
		w.Int(v)
	}
	w.Uint(math.MaxUint64)
	w.String("枫桥")
	w.Bin([]byte{0, 1, 2})
	w.Bool(true)
	r := mp.NewReader(w.Bytes())
	if n := r.ArrayLen(100); n != len(ints)+4 {
		t.Fatalf("array of %d", n)
	}
	for _, want := range ints {
		if got := r.Int(); got != want {
			t.Errorf("Int: %d, want %d", got, want)
		}
	}
	if got := r.Uint(); got != math.MaxUint64 {
		t.Errorf("Uint: %d", got)
	}
	if got := r.String(10); got != "枫桥" {
		t.Errorf("String: %q", got)
	}
	if got := r.Bytes(10); !bytes.Equal(got, []byte{0, 1, 2}) {
		t.Errorf("Bytes: %x", got)
	}
	if !r.Bool() || r.Err() != nil || r.Remaining() != 0 {
		t.Errorf("Bool/Err/Remaining: %v %d", r.Err(), r.Remaining())
	}
}

// Declared lengths beyond the input or the caller's limit are errors, found before anything
// is allocated.
func TestReader_RefusesLengthBombs(t *testing.T) {
	for name, in := range map[string][]byte{
		"array32 of 2^31":     {0xdd, 0x80, 0, 0, 0, 1, 2, 3},
		"array16 beyond":      {0xdc, 0xff, 0xff, 1},
		"str32 of 4 GB":       {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},
		"bin32 beyond":        {0xc6, 0, 0, 1, 0, 'a'},
		"map32 in skip":       {0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff},
		"deep nesting":        bytes.Repeat([]byte{0x91}, 100),
		"truncated uint64":    {0xcf, 1, 2},
		"ext type not used":   {0xd4, 1, 1},
		"empty":               {},
		"negative where uint": {0xff},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			r := mp.NewReader(in)
			switch name {
			case "map32 in skip", "deep nesting", "ext type not used":
				r.Skip()
			case "str32 of 4 GB":
				r.String(1 << 20)
			case "bin32 beyond":
				r.Bytes(1 << 20)
			case "truncated uint64", "negative where uint":
				r.Uint()
			case "empty":
				r.Int()
			default:
				r.ArrayLen(1 << 30)
			}
			if !errors.Is(r.Err(), mp.ErrMalformed) {
				t.Errorf("%s: err %v, want ErrMalformed", name, r.Err())
			}
		}
		runtime.ReadMemStats(&after)
		// Bytes, not allocation counts: -race adds allocations of its own; what matters is
		// that nothing near the declared size is allocated.
		if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 16<<10 {
			t.Errorf("%s: %d bytes allocated per decode", name, per)
		}
	}
	r := mp.NewReader([]byte{0x93, 1, 2, 3})
	if r.ArrayLen(2); r.Err() == nil {
		t.Errorf("an array over the caller's limit was accepted")
	}
}

// FuzzReader: whatever the input, the reader neither panics nor reads past it, and Raw
// returns exactly one value: msgpack/v5 skips the same bytes as one value.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0x93, 0x01, 0xa1, 'x', 0xc3})
	f.Add([]byte{0xdd, 0x80, 0, 0, 0})
	f.Add([]byte{0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x82, 0xa1, 'a', 1, 0xa1, 'b', 0x92, 0xcc, 0xff, 0xd0, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := mp.NewReader(in)
		raw := r.Raw()
		if r.Err() != nil {
			return
		}
		if len(raw) > len(in) || !bytes.Equal(raw, in[:len(raw)]) {
			t.Fatalf("Raw returned %x of %x", raw, in)
		}
		br := bytes.NewReader(raw)
		if err := msgpack.NewDecoder(br).Skip(); err != nil || br.Len() != 0 {
			t.Fatalf("our reader took %x as one value; msgpack/v5: %v, %d bytes left", raw, err, br.Len())
		}
	})
}

// TestWriter_Property_AsMsgpack: any sequence of writes produces byte for byte what
// msgpack/v5's Encoder writes for the same values (the encoding the stored formats, hashes
// and signatures were made with), at every boundary of every integer, string, bin and array
// width.
func TestWriter_Property_AsMsgpack(t *testing.T) {
	edges := []uint64{0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxInt64, math.MaxUint64}
	anyUint := rapid.OneOf(rapid.SampledFrom(edges), rapid.Uint64())
	anyInt := rapid.OneOf(rapid.SampledFrom([]int64{0, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64, 127, 128, math.MaxInt64}), rapid.Int64())
	anyLen := rapid.Custom(func(t *rapid.T) int { // a width boundary, give or take one
		n := rapid.SampledFrom([]int{0, 16, 32, 256, 65536}).Draw(t, "edge") + rapid.IntRange(-1, 1).Draw(t, "off")
		return max(n, 0)
	})
	rapid.Check(t, func(t *rapid.T) {
		w := mp.NewWriter()
		var want bytes.Buffer
		enc := msgpack.NewEncoder(&want)
		for range rapid.IntRange(1, 20).Draw(t, "writes") {
			switch rapid.IntRange(0, 7).Draw(t, "kind") {
			case 0:
				v := anyUint.Draw(t, "uint")
				w.Uint(v)
				_ = enc.EncodeUint(v)
			case 1:
				v := anyInt.Draw(t, "int")
				w.Int(v)
				_ = enc.EncodeInt(v)
			case 2:
				s := string(bytes.Repeat([]byte("x"), anyLen.Draw(t, "strlen")))
				w.String(s)
				_ = enc.EncodeString(s)
			case 3:
				var b []byte
				if !rapid.Bool().Draw(t, "nilbin") {
					b = make([]byte, anyLen.Draw(t, "binlen"))
				}
				w.Bin(b)
				_ = enc.EncodeBytes(b)
			case 4:
				n := anyLen.Draw(t, "arraylen")
				w.ArrayLen(n)
				_ = enc.EncodeArrayLen(n)
			case 5:
				v := rapid.Bool().Draw(t, "bool")
				w.Bool(v)
				_ = enc.EncodeBool(v)
			case 6:
				w.Nil()
				_ = enc.EncodeNil()
			case 7:
				raw := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "raw")
				w.Raw(raw)
				want.Write(raw)
			}
		}
		if !bytes.Equal(w.Bytes(), want.Bytes()) {
			t.Fatalf("Writer wrote\n%x\nmsgpack/v5 writes\n%x", w.Bytes(), want.Bytes())
		}
	})
}
