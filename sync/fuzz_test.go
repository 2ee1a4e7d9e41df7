package sync

// Fuzz targets for the decoders of what a peer sends: frames and batch payloads. Seed
// corpora, every golden frame and the length and zip bombs among them, are committed in
// testdata/fuzz/<FuzzName>/ (TestFuzzSeeds_Committed checks they are all there). Run one
// with, for example:
//
//	go test -run '^$' -fuzz '^FuzzDecodeFrame$' -fuzztime 30s ./sync/
//
// and rewrite the seeds after a deliberate change of the goldens with
//
//	FENGQIAO_WRITE_FUZZ_SEEDS=1 go test -run '^TestFuzzSeeds_Committed$' ./sync/

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// FuzzDecodeFrame: decodeFrame never panics and refuses with ErrFrame only. A frame it
// accepts re-encodes to bytes that decode to the same frame and re-encode to the same bytes
// (the encoding is a fixed point); a fixed-shape frame (ready, ack, caught-up, ping, pong,
// error) whose fields are spelled canonically re-encodes to the input itself. A batch's
// payload can be opened without a panic.
func FuzzDecodeFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("refused without ErrFrame: %v", err)
			}
			return
		}
		enc := encodeFrame(fr)
		again, err := decodeFrame(enc)
		if err != nil {
			t.Fatalf("the re-encoded frame is refused: %v\n in %x\nout %x", err, data, enc)
		}
		if !reflect.DeepEqual(again, fr) {
			t.Fatalf("round trip changed the frame:\n%+v\n%+v", fr, again)
		}
		if enc2 := encodeFrame(again); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not a fixed point:\n%x\n%x", enc, enc2)
		}
		if canonicalSmallFrame(data) && !bytes.Equal(enc, data) {
			t.Fatalf("canonical frame re-encodes differently:\n in %x\nout %x", data, enc)
		}
		if fr.Batch != nil {
			if _, _, err := openPayload(fr.Batch); err != nil && !errors.Is(err, ErrFrame) {
				t.Fatalf("payload refused without ErrFrame: %v", err)
			}
		}
	})
}

// canonicalSmallFrame reports whether b is a fixed-shape frame whose array header and every
// element are spelled as the encoders spell them (shortest integers, str for strings). It
// says nothing of frames of other codes, and need not hold of malformed input.
func canonicalSmallFrame(b []byte) bool {
	shapes := map[uint64]string{codeReady: "usuu", codeAck: "uu", codeCaughtUp: "usu", codePing: "ui", codePong: "ui", codeError: "uus"}
	if len(b) < 2 || b[0]&0xf0 != 0x90 {
		return false
	}
	shape, ok := shapes[uint64(b[1])] // a code under 128 is one byte, 0x00-0x7f
	if !ok || int(b[0]&0x0f) != len(shape) {
		return false
	}
	rd := mp.NewReader(b[1:])
	for _, kind := range shape {
		start := len(b) - 1 - rd.Remaining()
		var want []byte
		switch kind {
		case 'u':
			v := rd.Uint()
			want = mp.Encode(func(w *mp.Writer) { w.Uint(v) })
		case 'i':
			v := rd.Int()
			want = mp.Encode(func(w *mp.Writer) { w.Int(v) })
		case 's':
			if !rd.NextIsString() {
				return false
			}
			v := rd.String(maxMessage)
			want = mp.Encode(func(w *mp.Writer) { w.String(v) })
		}
		if rd.Err() != nil || !bytes.Equal(b[1+start:len(b)-rd.Remaining()], want) {
			return false
		}
	}
	return rd.Remaining() == 0
}

// FuzzOpenPayload: for any payload, codec, count and raw length within the frame limits,
// openPayload never panics and refuses with ErrFrame only. What it accepts is Count entries;
// each op is one DecodeOp accepts, whose canonical encoding is its raw bytes (for an op of a
// newer version: the elements this one knows), with valid receipt metadata; each marker
// names a valid case; and the entries, encoded again, open to the same entries.
// exact makes an uncompressed payload's declared raw length its true length; a raw length
// beyond MaxBatchRaw wraps to one below 64 KiB.
func FuzzOpenPayload(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte, codec byte, count uint16, rawLen uint32, exact bool) {
		b := &batchFrame{Seq: 1, Codec: uint64(codec % 2), Count: uint64(count) % (MaxBatchEntries + 1),
			RawLen: uint64(rawLen), Payload: payload}
		if b.RawLen > MaxBatchRaw {
			// Wrap to a small length rather than spread over the limit: openPayload allocates
			// RawLen before decompressing, and at 16 MiB an exec the fuzzer's minimizer stalls.
			b.RawLen %= 1 << 16
		}
		if exact && b.Codec == codecNone {
			b.RawLen = uint64(len(payload))
		}
		entries, ops, err := openPayload(b)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("refused without ErrFrame: %v", err)
			}
			return
		}
		checkEntries(t, b.Count, entries, ops)
		raw := encodeEntries(entries)
		again, _, err := openPayload(&batchFrame{Seq: 1, Count: b.Count, RawLen: uint64(len(raw)), Payload: raw})
		if err != nil {
			t.Fatalf("re-encoded entries refused: %v", err)
		}
		if !reflect.DeepEqual(normalEntries(again), normalEntries(entries)) {
			t.Fatalf("entries changed by a round trip:\n%+v\n%+v", entries, again)
		}
	})
}

// normalEntries drops the distinction between nil and empty raw bytes, which only a
// marker's absence of an op makes.
func normalEntries(es []entry) []entry {
	out := make([]entry, len(es))
	for i, e := range es {
		out[i] = entry{Raw: append([]byte(nil), e.Raw...), Meta: e.Meta, LeftCase: e.LeftCase}
	}
	return out
}

func checkEntries(t *testing.T, count uint64, entries []entry, ops []node.Incoming) {
	t.Helper()
	if uint64(len(entries)) != count {
		t.Fatalf("%d entries, %d declared", len(entries), count)
	}
	k := 0
	for i, e := range entries {
		if e.Raw == nil {
			if !cases.ValidID(e.LeftCase) {
				t.Fatalf("entry %d: marker of %q", i, e.LeftCase)
			}
			continue
		}
		if e.Meta.ReceivedAt < 0 {
			t.Fatalf("entry %d: received at %d", i, e.Meta.ReceivedAt)
		}
		if k >= len(ops) {
			t.Fatalf("entry %d: more op entries than ops", i)
		}
		in := ops[k]
		k++
		if !bytes.Equal(in.Raw, e.Raw) || in.Meta != e.Meta {
			t.Fatalf("entry %d: op %x %+v, entry %x %+v", i, in.Raw, in.Meta, e.Raw, e.Meta)
		}
		enc := in.Op.Encode()
		if e.Raw[0] == 0x9b { // 11 elements: this version's op, canonical
			if !bytes.Equal(enc, e.Raw) {
				t.Fatalf("entry %d: op re-encodes differently:\n in %x\nout %x", i, e.Raw, enc)
			}
		} else if hb := 1 + 2*btoi(e.Raw[0] == 0xdc); len(e.Raw) <= hb || !bytes.HasPrefix(e.Raw[hb:], enc[1:]) {
			t.Fatalf("entry %d: op of a newer version does not begin with its known elements:\n in %x\nout %x", i, e.Raw, enc)
		}
		if got, err := cases.DecodeOp(enc); err != nil || !bytes.Equal(got.Encode(), enc) {
			t.Fatalf("entry %d: re-encoded op: %v", i, err)
		}
	}
	if k != len(ops) {
		t.Fatalf("%d ops for %d op entries", len(ops), k)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// seedName turns a test case's name into a corpus file name.
func seedName(prefix, name string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '^':
			b.WriteString("_pow_")
		case c == '+':
			b.WriteString("_plus")
		default:
			if !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		}
	}
	return strings.Trim(b.String(), "_")
}

// fuzzSeeds returns the seed corpora: file name to values, per fuzz target.
func fuzzSeeds(t *testing.T) map[string]map[string][]any {
	frames := map[string][]any{}
	for _, g := range goldenFrames() {
		frames[seedName("golden_", g.name)] = []any{unhex(g.hex)}
	}
	for name, b := range refusedFrames(t) {
		if len(b) > 64<<10 {
			continue // the frame over MaxFrameBytes: 4 MiB, refused by its length alone
		}
		prefix := "refused_"
		if strings.HasPrefix(name, "bomb:") {
			prefix = ""
		}
		frames[seedName(prefix, name)] = []any{b}
	}

	payloads := map[string][]any{}
	add := func(name string, b *batchFrame, exact bool) {
		payloads[name] = []any{b.Payload, byte(b.Codec), uint16(b.Count), uint32(b.RawLen), exact}
	}
	for _, g := range goldenFrames() {
		if g.want.Batch != nil {
			add(seedName("golden_", g.name), g.want.Batch, true)
		}
	}
	for _, c := range []struct {
		name    string
		n       int
		markers bool
	}{{"ops", 4, false}, {"markers", 11, true}} {
		es := testEntries(t, c.n, c.markers)
		raw := encodeEntries(es)
		add("none_"+c.name, none(uint64(len(es)), raw), true)
		add("zstd_"+c.name, batchOf(codecZstd, uint64(len(es)), len(raw), zstdEncoder().EncodeAll(raw, nil)), false)
	}
	for name, b := range refusedPayloads(t) {
		prefix := "refused_"
		if strings.HasPrefix(name, "bomb:") {
			prefix = ""
		}
		add(seedName(prefix, name), b, false)
	}
	add("bomb_zip_64_mib_declared", batchOf(codecZstd, 1, 64<<10, zipBomb(t, true)), false)
	add("bomb_zip_64_mib_streamed", batchOf(codecZstd, 1, 64<<10, zipBomb(t, false)), false)
	return map[string]map[string][]any{"FuzzDecodeFrame": frames, "FuzzOpenPayload": payloads}
}

// marshalSeed writes values in the "go test fuzz v1" corpus file format.
func marshalSeed(vals []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return b.Bytes()
}

// The committed seed corpora hold every golden frame, every refused frame and payload (the
// bombs among them) and sample payloads of both codecs, exactly as built here.
func TestFuzzSeeds_Committed(t *testing.T) {
	write := os.Getenv("FENGQIAO_WRITE_FUZZ_SEEDS") != ""
	for target, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		names := make([]string, 0, len(seeds))
		for name := range seeds {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			want := marshalSeed(seeds[name])
			path := filepath.Join(dir, name)
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("seed %s/%s: %v (rewrite the seeds: see fuzz_test.go)", target, name, err)
				continue
			}
			if vals := seeds[name]; len(vals) > 1 && vals[1] == byte(codecZstd) {
				continue // compressed: the bytes depend on the zstd encoder's version
			}
			if !bytes.Equal(got, want) {
				t.Errorf("seed %s/%s differs from what the tests build (rewrite the seeds: see fuzz_test.go)", target, name)
			}
		}
	}
}
