package sync

// Tests of the frame codec (frame.go) and of batch payloads (payload.go). The golden tests
// pin every frame type byte for byte: a peer built from docs/protocol.md must produce and
// read exactly these bytes, so a change to any of them must be deliberate (and, if it is
// incompatible, come with a new protocol version). The refusal tests feed malformed and
// hostile frames: each must be refused with ErrFrame, without a panic and without
// allocating what it declares.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// Fixed field values of the golden frames: recognizable byte patterns, not real keys.
const (
	keyHex   = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"                                                                 // 32 bytes
	nonceHex = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"                                                                 // 32 bytes
	sigHex   = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" // 64 bytes
	hashHex  = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"                                                                 // 32 bytes

	goldenEpoch = "0123456789abcdef" // node epochs are 16 hex digits
	hubEpoch    = "fedcba9876543210"
	goldenScope = "r420323100" // 城关镇's region scope
	goldenTime  = int64(1767225600000)
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// goldenHead is the signed head of the station batch golden.
func goldenHead() node.SignedHead {
	h := node.SignedHead{Origin: crdt.Origin{Node: "stA", Incarnation: 1}, Seq: 3, Sig: unhex(sigHex)}
	copy(h.Hash[:], unhex(hashHex))
	return h
}

// goldenNote is the op inside the station batch golden: a visit note on case C-1, the
// third op of stA (incarnation 1).
func goldenNote() cases.Op {
	op := cases.Op{
		Dot:    crdt.Dot{Origin: crdt.Origin{Node: "stA", Incarnation: 1}, Seq: 3},
		Stamp:  crdt.Timestamp{Wall: goldenTime},
		Case:   "C-1",
		Kind:   cases.KindNote,
		Author: "grid1",
		Writes: []cases.Write{{Field: "notes", Action: cases.Append,
			Value: cases.EncodeNote(cases.Note{Text: "走访", Kind: "visit", At: goldenTime})}},
	}
	op.Normalize()
	return op
}

// goldenNoteHex is goldenNote's canonical encoding (pinned in detail by cases.TestOp_Golden;
// here it is only the payload of a batch).
const goldenNoteHex = "9b01a37374410103cf0000019b76daa80000a3432d31a46e6f7465a567726964319193a56e6f7465730393a6e8b5b0e8aebfa57669736974cf0000019b76daa80090"

type goldenFrame struct {
	name   string
	encode func() []byte
	want   frame  // what decodeFrame must return
	hex    string // the exact bytes on the wire
}

func goldenFrames() []goldenFrame {
	key, nonce, sig := unhex(keyHex), unhex(nonceHex), unhex(sigHex)
	h := hello{Versions: []uint64{1, 2}, Node: "stA", Key: key, Nonce: nonce}
	ch := challenge{Version: 1, Hub: "hub1", Key: key, Nonce: nonce, Sig: sig, Streams: []string{goldenScope, "astA"}}
	pr := prove{Sig: sig, Checkpoints: []streamCheckpoint{{Stream: goldenScope, Epoch: hubEpoch, Pos: 300}, {Stream: "astA"}}}
	rd := ready{Epoch: goldenEpoch, Pos: 42, Window: 4}
	scopeBatch := &batchFrame{Seq: 1, Stream: goldenScope, Epoch: hubEpoch, To: 1000, Codec: codecNone, Count: 1, RawLen: 5,
		Payload: unhex("91a3432d31")}
	entryHex := "93" + goldenNoteHex + "0000" // [op, receivedAt 0, flags 0]
	stationBatch := &batchFrame{Seq: 2, Stream: "", Epoch: goldenEpoch, To: 3, Heads: []node.SignedHead{goldenHead()},
		Codec: codecNone, Count: 1, RawLen: uint64(len(entryHex) / 2), Payload: unhex(entryHex)}
	const msg = "no version / 版本"
	return []goldenFrame{
		{"hello", func() []byte { return encodeHello(h) }, frame{Code: codeHello, Hello: &h}, "" +
			"95" + // array of 5
			"01" + // code 1: hello
			"920102" + // versions [1, 2]
			"a3737441" + // node "stA"
			"c420" + keyHex + // key: bin8 of 32 bytes
			"c420" + nonceHex, // nonce: bin8 of 32 bytes
		},
		{"challenge", func() []byte { return encodeChallenge(ch) }, frame{Code: codeChallenge, Challenge: &ch}, "" +
			"97" + // array of 7
			"02" + // code 2: challenge
			"01" + // version 1
			"a468756231" + // hub "hub1"
			"c420" + keyHex + // hub key
			"c420" + nonceHex + // hub nonce
			"c440" + sigHex + // signature: bin8 of 64 bytes
			"92" + // 2 streams
			"aa72343230333233313030" + // "r420323100"
			"a461737441", // "astA"
		},
		{"prove", func() []byte { return encodeProve(pr) }, frame{Code: codeProve, Prove: &pr}, "" +
			"93" + // array of 3
			"03" + // code 3: prove
			"c440" + sigHex + // signature
			"92" + // 2 checkpoints
			"93" + "aa72343230333233313030" + "b0" + hex.EncodeToString([]byte(hubEpoch)) + "cd012c" + // ["r420323100", epoch, 300]
			"93" + "a461737441" + "a0" + "00", // ["astA", "", 0]: nothing held of that stream
		},
		{"ready", func() []byte { return encodeReady(rd) }, frame{Code: codeReady, Ready: &rd}, "" +
			"94" + // array of 4
			"04" + // code 4: ready
			"b0" + hex.EncodeToString([]byte(goldenEpoch)) + // epoch of the station's feed the hub holds
			"2a" + // position 42
			"04", // window 4
		},
		{"batch/scope", func() []byte { return encodeBatch(scopeBatch) }, frame{Code: codeBatch, Batch: scopeBatch}, "" +
			"9a" + // array of 10
			"05" + // code 5: batch
			"01" + // seq 1
			"aa72343230333233313030" + // stream "r420323100"
			"b0" + hex.EncodeToString([]byte(hubEpoch)) + // sender's epoch
			"cd03e8" + // to 1000
			"90" + // no heads
			"00" + // codec 0: none
			"01" + // 1 entry
			"05" + // 5 raw bytes
			"c405" + "91a3432d31", // payload: [["C-1"]]: case C-1 left the scope
		},
		{"batch/station", func() []byte { return encodeBatch(stationBatch) }, frame{Code: codeBatch, Batch: stationBatch}, "" +
			"9a" + // array of 10
			"05" + // code 5: batch
			"02" + // seq 2
			"a0" + // stream "": the station's whole feed
			"b0" + hex.EncodeToString([]byte(goldenEpoch)) + // sender's epoch
			"03" + // to 3
			"91" + // 1 head
			"95" + "a3737441" + "01" + "03" + "c420" + hashHex + "c440" + sigHex + // [node, incarnation, seq, hash, sig]
			"00" + // codec none
			"01" + // 1 entry
			"45" + // 69 raw bytes
			"c445" + entryHex, // payload: [[op, 0, 0]]
		},
		{"ack", func() []byte { return encodeAck(7) }, frame{Code: codeAck, N: 7}, "" +
			"92" + "06" + "07", // [6, seq 7]
		},
		{"caught-up", func() []byte { return encodeCaughtUp(goldenScope, 1000) }, frame{Code: codeCaughtUp, Text: goldenScope, N: 1000}, "" +
			"93" + "07" + "aa72343230333233313030" + "cd03e8", // [7, stream, pos 1000]
		},
		{"ping", func() []byte { return encodePing(codePing, goldenTime) }, frame{Code: codePing, T: goldenTime}, "" +
			"92" + "08" + "cf0000019b76daa800", // [8, ms 1767225600000 (non-negative ints are written as uints)]
		},
		{"pong", func() []byte { return encodePing(codePong, goldenTime) }, frame{Code: codePong, T: goldenTime}, "" +
			"92" + "09" + "cf0000019b76daa800", // [9, the ping's value echoed]
		},
		{"error", func() []byte { return encodeError(ErrCodeVersion, msg) }, frame{Code: codeError, N: ErrCodeVersion, Text: msg}, "" +
			"93" + "0a" + "02" + // [10, code 2: no version in common,
			"b3" + hex.EncodeToString([]byte(msg)), // message: fixstr of 19 bytes]
		},
	}
}

// Every frame type encodes to its golden bytes and decodes back to the same fields.
func TestFrame_Golden(t *testing.T) {
	note := goldenNote()
	if got := hex.EncodeToString(note.Encode()); got != goldenNoteHex {
		t.Fatalf("golden op encoding changed:\n got %s\nwant %s", got, goldenNoteHex)
	}
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			if got := hex.EncodeToString(g.encode()); got != g.hex {
				t.Fatalf("encoding changed:\n got %s\nwant %s", got, g.hex)
			}
			f, err := decodeFrame(unhex(g.hex))
			if err != nil {
				t.Fatalf("decodeFrame(golden): %v", err)
			}
			compareFrames(t, f, g.want)
		})
	}
}

// compareFrames reports every field of got that differs from want.
func compareFrames(t *testing.T, got, want frame) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i), wv.Field(i)
		if g.Kind() == reflect.Pointer {
			if g.IsNil() != w.IsNil() {
				t.Errorf("%s: got %v, want %v", name, g.Interface(), w.Interface())
				continue
			}
			if g.IsNil() {
				continue
			}
			g, w = g.Elem(), w.Elem()
			for j := range g.NumField() {
				if gf, wf := g.Field(j).Interface(), w.Field(j).Interface(); !reflect.DeepEqual(gf, wf) {
					t.Errorf("%s.%s: got %#v, want %#v", name, g.Type().Field(j).Name, gf, wf)
				}
			}
			continue
		}
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			t.Errorf("%s: got %#v, want %#v", name, g.Interface(), w.Interface())
		}
	}
}

// The golden batches' payloads open to their entries, as a receiver sees them.
func TestFrame_GoldenBatchPayloads(t *testing.T) {
	for _, g := range goldenFrames() {
		if g.want.Batch == nil {
			continue
		}
		f, err := decodeFrame(unhex(g.hex))
		if err != nil {
			t.Fatal(err)
		}
		entries, ops, err := openPayload(f.Batch)
		if err != nil {
			t.Fatalf("%s: openPayload: %v", g.name, err)
		}
		switch g.name {
		case "batch/scope":
			if len(entries) != 1 || entries[0].LeftCase != "C-1" || entries[0].Raw != nil || len(ops) != 0 {
				t.Errorf("%s: entries %+v, ops %d", g.name, entries, len(ops))
			}
		case "batch/station":
			if len(entries) != 1 || len(ops) != 1 || ops[0].Op.Dot != goldenNote().Dot ||
				!bytes.Equal(ops[0].Raw, unhex(goldenNoteHex)) || ops[0].Meta != (cases.Meta{}) {
				t.Errorf("%s: entries %+v, ops %+v", g.name, entries, ops)
			}
		}
	}
}

// The handshake signatures cover "fengqiao sync session v1\x00", the signer's role and a
// NUL, then SHA-256 of the hello frame's bytes and SHA-256 of the challenge frame's bytes
// (for the hub: the challenge encoded with its signature field nil, 0xc0).
func TestHandshake_Transcript(t *testing.T) {
	var helloBytes, chBytes []byte
	for _, g := range goldenFrames() {
		switch g.name {
		case "hello":
			helloBytes = unhex(g.hex)
		case "challenge":
			chBytes = unhex(g.hex)
		}
	}
	hs, cs := sha256.Sum256(helloBytes), sha256.Sum256(chBytes)
	want := append(append([]byte("node\x00"), hs[:]...), cs[:]...)
	if got := transcript("node", helloBytes, chBytes); !bytes.Equal(got, want) {
		t.Errorf("transcript:\n got %x\nwant %x", got, want)
	}
	if got := node.SessionMessage([]byte("x")); string(got) != "fengqiao sync session v1\x00x" {
		t.Errorf("SessionMessage prefix: %q", got)
	}

	// The hub signs the challenge with Sig nil; the station re-encodes what it received with
	// Sig nil to check it. Pin that unsigned form, since a peer must produce it exactly.
	const unsignedHex = "97" + "02" + "01" + "a468756231" + "c420" + keyHex + "c420" + nonceHex +
		"c0" + // signature: nil while signing
		"92" + "aa72343230333233313030" + "a461737441"
	f, err := decodeFrame(chBytes)
	if err != nil {
		t.Fatal(err)
	}
	unsigned := *f.Challenge
	unsigned.Sig = nil
	if got := hex.EncodeToString(encodeChallenge(unsigned)); got != unsignedHex {
		t.Errorf("unsigned challenge:\n got %s\nwant %s", got, unsignedHex)
	}

	// Round trip of both signatures as hub.serve and Station.handshake make and check them.
	hubPub, hubKey, _ := ed25519.GenerateKey(rand.Reader)
	stPub, stKey, _ := ed25519.GenerateKey(rand.Reader)
	ch := unsigned
	ch.Key = hubPub
	ch.Sig = ed25519.Sign(hubKey, node.SessionMessage(transcript("hub", helloBytes, encodeChallenge(ch))))
	wire := encodeChallenge(ch)
	got, err := decodeFrame(wire)
	if err != nil {
		t.Fatal(err)
	}
	check := *got.Challenge
	check.Sig = nil
	if !ed25519.Verify(hubPub, node.SessionMessage(transcript("hub", helloBytes, encodeChallenge(check))), got.Challenge.Sig) {
		t.Error("the hub's signature does not verify the way the station checks it")
	}
	proof := ed25519.Sign(stKey, node.SessionMessage(transcript("node", helloBytes, wire)))
	if !ed25519.Verify(stPub, node.SessionMessage(transcript("node", helloBytes, wire)), proof) {
		t.Error("the station's proof does not verify")
	}
	// Neither signature stands for the other: the roles differ.
	if ed25519.Verify(hubPub, node.SessionMessage(transcript("node", helloBytes, encodeChallenge(check))), got.Challenge.Sig) {
		t.Error("the hub's signature verifies under the node role")
	}
}

func TestHighestShared(t *testing.T) {
	for _, c := range []struct {
		theirs, ours []uint64
		want         uint64
		ok           bool
	}{
		{[]uint64{1}, []uint64{1}, 1, true},
		{[]uint64{1, 2, 3}, []uint64{1, 2}, 2, true},
		{[]uint64{3, 1}, []uint64{1, 2, 3}, 3, true},
		{[]uint64{2}, []uint64{1}, 0, false},
		{nil, []uint64{1}, 0, false},
		{[]uint64{0}, []uint64{0, 1}, 0, false}, // 0 is never a version
	} {
		if v, ok := highestShared(c.theirs, c.ours); v != c.want || ok != c.ok {
			t.Errorf("highestShared(%v, %v) = %d, %v; want %d, %v", c.theirs, c.ours, v, ok, c.want, c.ok)
		}
	}
}

// Frames with values at the edges of their types and limits round-trip.
func TestFrame_RoundTripEdges(t *testing.T) {
	maxID := strings.Repeat("x", maxIDLen)
	maxStream := strings.Repeat("a", maxStreamLen)
	versions := make([]uint64, maxVersions)
	for i := range versions {
		versions[i] = uint64(i + 1)
	}
	streams := make([]string, maxStreams)
	cps := make([]streamCheckpoint, maxStreams)
	for i := range streams {
		streams[i] = fmt.Sprintf("%s%09d", maxStream[:maxStreamLen-9], i)
		cps[i] = streamCheckpoint{Stream: streams[i], Epoch: maxID, Pos: 1<<64 - 1}
	}
	heads := make([]node.SignedHead, maxHeads)
	for i := range heads {
		heads[i] = goldenHead()
		heads[i].Origin = crdt.Origin{Node: maxID, Incarnation: 1<<32 - 1}
		heads[i].Seq = uint64(i) << 40
	}
	key, nonce, sig := unhex(keyHex), unhex(nonceHex), unhex(sigHex)
	msg := strings.Repeat("错", maxMessage/3) + "e" // 1024 bytes
	for _, f := range []frame{
		{Code: codeHello, Hello: &hello{Versions: versions, Node: maxID, Key: key, Nonce: nonce}},
		{Code: codeChallenge, Challenge: &challenge{Version: 1<<64 - 1, Hub: maxID, Key: key, Nonce: nonce, Sig: sig, Streams: streams}},
		{Code: codeChallenge, Challenge: &challenge{Version: 1, Hub: "h", Key: key, Nonce: nonce, Sig: sig}},
		{Code: codeProve, Prove: &prove{Sig: sig, Checkpoints: cps}},
		{Code: codeProve, Prove: &prove{Sig: sig}},
		{Code: codeReady, Ready: &ready{Epoch: maxID, Pos: 1<<64 - 1, Window: 0}},
		{Code: codeBatch, Batch: &batchFrame{Seq: 1<<64 - 1, Stream: maxStream, Epoch: maxID, To: 1<<64 - 1, Heads: heads,
			Codec: codecZstd, Count: MaxBatchEntries, RawLen: MaxBatchRaw, Payload: bytes.Repeat([]byte{0xab}, 70000)}},
		{Code: codeBatch, Batch: &batchFrame{Seq: 1}},
		{Code: codeAck, N: 1<<64 - 1},
		{Code: codeAck},
		{Code: codeCaughtUp, Text: maxStream, N: 1<<64 - 1},
		{Code: codeCaughtUp},
		{Code: codePing, T: -1 << 63},
		{Code: codePing, T: -33},
		{Code: codePong, T: 1<<63 - 1},
		{Code: codeError, N: ErrCodeShutdown, Text: msg},
		{Code: codeError, N: 1<<64 - 1},
	} {
		b := encodeFrame(f)
		got, err := decodeFrame(b)
		if err != nil {
			t.Errorf("frame %d: decodeFrame(encode): %v\n%x", f.Code, err, b[:min(len(b), 64)])
			continue
		}
		compareFrames(t, got, f)
		if again := encodeFrame(got); !bytes.Equal(again, b) {
			t.Errorf("frame %d: re-encoding differs", f.Code)
		}
	}
}

// encodeFrame encodes a decoded frame with the encoder of its type.
func encodeFrame(f frame) []byte {
	switch f.Code {
	case codeHello:
		return encodeHello(*f.Hello)
	case codeChallenge:
		return encodeChallenge(*f.Challenge)
	case codeProve:
		return encodeProve(*f.Prove)
	case codeReady:
		return encodeReady(*f.Ready)
	case codeBatch:
		return encodeBatch(f.Batch)
	case codeAck:
		return encodeAck(f.N)
	case codeCaughtUp:
		return encodeCaughtUp(f.Text, f.N)
	case codePing, codePong:
		return encodePing(f.Code, f.T)
	case codeError:
		return encodeError(f.N, f.Text)
	}
	panic(fmt.Sprintf("no encoder for frame code %d", f.Code))
}

// testOps returns n well-formed ops of station stA on a few cases: notes, edits, and a
// registration, as a station's feed would hold them.
func testOps(t testing.TB, n int) [][]byte {
	t.Helper()
	origin := crdt.Origin{Node: "stA", Incarnation: 1}
	var out [][]byte
	for i := range n {
		id := fmt.Sprintf("C-%03d", i%7)
		op := cases.Op{
			Dot:    crdt.Dot{Origin: origin, Seq: uint64(i + 1)},
			Stamp:  crdt.Timestamp{Wall: goldenTime + int64(i)*1000, Logical: uint32(i % 3)},
			Case:   id,
			Author: "grid1",
		}
		switch i % 3 {
		case 0:
			op.Kind = cases.KindRegister
			op.Writes = []cases.Write{
				{Field: "summary", Action: cases.Set, Value: cases.EncodeString(fmt.Sprintf("反映邻居建房占用公共通道影响出行，请求依法处理。（%d）", i))},
				{Field: "region", Action: cases.Set, Value: cases.EncodeString("420323100201")},
				{Field: "registered_at", Action: cases.Set, Value: cases.EncodeInt(goldenTime)},
			}
		case 1:
			op.Kind = cases.KindNote
			op.Writes = []cases.Write{{Field: "notes", Action: cases.Append,
				Value: cases.EncodeNote(cases.Note{Text: fmt.Sprintf("第%d次走访，当事人表示理解。", i), Kind: "visit", At: goldenTime})}}
		default:
			op.Kind = cases.KindEdit
			op.Writes = []cases.Write{{Field: "summary", Action: cases.Set, Value: cases.EncodeString("站点修改")}}
			op.Observed = []crdt.Dot{{Origin: origin, Seq: uint64(i - 1)}}
		}
		op.Normalize()
		if err := op.WellFormed(); err != nil {
			t.Fatalf("test op %d: %v", i, err)
		}
		out = append(out, op.Encode())
	}
	return out
}

// testEntries returns entries of n ops with assorted receipt metadata, and a left-scope
// marker after every fifth op when markers is set.
func testEntries(t testing.TB, n int, markers bool) []entry {
	var es []entry
	for i, raw := range testOps(t, n) {
		es = append(es, entry{Raw: raw, Meta: cases.Meta{ReceivedAt: goldenTime * int64(i%2), Flagged: i%4 == 1, Quarantined: i%5 == 2}})
		if markers && i%5 == 4 {
			es = append(es, entry{LeftCase: fmt.Sprintf("C-%03d", i%7)})
		}
	}
	return es
}

func encodeEntries(es []entry) []byte {
	return mp.Encode(func(w *mp.Writer) {
		for _, e := range es {
			appendEntry(w, e)
		}
	})
}

// Batches carrying ops and left-scope markers survive the wire with either codec: the frame
// decodes, the payload opens to the same entries, and the ops decode to the ones sent.
func TestBatch_PayloadRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name    string
		n       int
		markers bool
		codec   int // -1: let sealPayload choose
	}{
		{"none/ops", 5, false, codecNone},
		{"none/markers", 12, true, codecNone},
		{"zstd/ops", 40, false, codecZstd},
		{"zstd/markers", 40, true, codecZstd},
		{"sealed/one", 1, false, -1},
		{"sealed/many", 200, true, -1},
		{"empty", 0, false, codecNone},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := testEntries(t, c.n, c.markers)
			raw := encodeEntries(es)
			b := &batchFrame{Seq: 9, Stream: goldenScope, Epoch: hubEpoch, To: uint64(len(es))}
			switch c.codec {
			case codecNone:
				b.Codec, b.Count, b.RawLen, b.Payload = codecNone, uint64(len(es)), uint64(len(raw)), raw
			case codecZstd:
				b.Codec, b.Count, b.RawLen, b.Payload = codecZstd, uint64(len(es)), uint64(len(raw)), zstdEncoder().EncodeAll(raw, nil)
			default:
				sealPayload(b, raw, len(es))
				wantCodec := uint64(codecZstd)
				if c.n == 1 {
					wantCodec = codecNone // one op does not compress
				}
				if b.Codec != wantCodec || b.Count != uint64(len(es)) || b.RawLen != uint64(len(raw)) {
					t.Fatalf("sealPayload: codec %d, count %d, raw %d; want codec %d, count %d, raw %d",
						b.Codec, b.Count, b.RawLen, wantCodec, len(es), len(raw))
				}
				if b.Codec == codecZstd && len(b.Payload) >= len(raw) {
					t.Fatalf("compressed payload of %d bytes for %d raw", len(b.Payload), len(raw))
				}
			}
			f, err := decodeFrame(encodeBatch(b))
			if err != nil {
				t.Fatal(err)
			}
			compareFrames(t, f, frame{Code: codeBatch, Batch: b})
			got, ops, err := openPayload(f.Batch)
			if err != nil {
				t.Fatalf("openPayload: %v", err)
			}
			if len(got) != len(es) {
				t.Fatalf("%d entries, want %d", len(got), len(es))
			}
			k := 0
			for i, e := range es {
				g := got[i]
				if !bytes.Equal(g.Raw, e.Raw) || (g.Raw == nil) != (e.Raw == nil) || g.Meta != e.Meta || g.LeftCase != e.LeftCase {
					t.Fatalf("entry %d: got %+v, want %+v", i, g, e)
				}
				if e.Raw == nil {
					continue
				}
				in := ops[k]
				k++
				if !bytes.Equal(in.Raw, e.Raw) || !bytes.Equal(in.Op.Encode(), e.Raw) || in.Meta != e.Meta {
					t.Fatalf("op of entry %d: %+v", i, in)
				}
			}
			if k != len(ops) {
				t.Fatalf("%d ops returned, %d in the entries", len(ops), k)
			}
		})
	}
}

// expectFrameErr asserts that f refuses its input with ErrFrame and does not panic.
func expectFrameErr(t *testing.T, name string, f func() error) {
	t.Helper()
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		err = f()
	}()
	if !errors.Is(err, ErrFrame) {
		t.Errorf("%s: err = %v, want ErrFrame", name, err)
	}
}

// goldenBytes returns the golden frame named name.
func goldenBytes(t testing.TB, name string) []byte {
	t.Helper()
	for _, g := range goldenFrames() {
		if g.name == name {
			return unhex(g.hex)
		}
	}
	t.Fatalf("no golden frame %s", name)
	return nil
}

// splice returns the golden frame named name with old replaced by new (exactly once).
func splice(t *testing.T, name, old, new string) []byte {
	t.Helper()
	for _, g := range goldenFrames() {
		if g.name == name {
			if strings.Count(g.hex, old) != 1 {
				t.Fatalf("splice %s: %q occurs %d times", name, old, strings.Count(g.hex, old))
			}
			return unhex(strings.Replace(g.hex, old, new, 1))
		}
	}
	t.Fatalf("no golden frame %s", name)
	return nil
}

// batchHex encodes a batch frame, for refusal cases that need a field out of bounds.
func batchHex(b batchFrame) []byte {
	if b.Seq == 0 {
		b.Seq = 1
	}
	return encodeBatch(&b)
}

// refusedFrames are malformed or hostile frames that decodeFrame must refuse.
func refusedFrames(t *testing.T) map[string][]byte {
	key, nonce := unhex(keyHex), unhex(nonceHex)
	long := func(n int) string { return strings.Repeat("x", n) }
	bombPad := unhex("000000000000000000") // 9 bytes after the 5-byte header: a 14-byte frame
	return map[string][]byte{
		"empty":                       {},
		"nil":                         unhex("c0"),
		"not an array":                unhex("06"),
		"map":                         unhex("8106" + "07"),
		"array of 1":                  unhex("9106"),
		"array of 11":                 unhex("9b" + "06" + strings.Repeat("00", 10)),
		"unknown code 0":              unhex("920000"),
		"unknown code 11":             unhex("920b00"),
		"unknown code 99":             unhex("926300"),
		"unknown code 2^64-1":         unhex("92cfffffffffffffffff00"),
		"negative code":               unhex("92ff00"),
		"code is a string":            unhex("92a10600"),
		"ack of 3 elements":           unhex("93060707"),
		"hello of 4 elements":         unhex("9401920102a3737441c420" + keyHex),
		"batch of 9 elements":         unhex("9905" + strings.Repeat("00", 8)),
		"ack trailing byte":           unhex("92060700"),
		"golden trailing bytes":       append(goldenBytes(t, "ready"), 0xc0),
		"two frames in one":           append(goldenBytes(t, "ack"), goldenBytes(t, "ack")...),
		"truncated":                   splice(t, "challenge", "a461737441", "a4617374"),
		"ack negative":                unhex("9206ff"),
		"ack of a string":             unhex("9206a137"),
		"ping beyond int64":           unhex("9208cf8000000000000000"),
		"hello with 31-byte key":      encodeHello(hello{Versions: []uint64{1}, Node: "stA", Key: key[:31], Nonce: nonce}),
		"hello with 33-byte key":      encodeHello(hello{Versions: []uint64{1}, Node: "stA", Key: append(bytes.Clone(key), 0), Nonce: nonce}),
		"hello with no key":           encodeHello(hello{Versions: []uint64{1}, Node: "stA", Nonce: nonce}),
		"hello with short nonce":      encodeHello(hello{Versions: []uint64{1}, Node: "stA", Key: key, Nonce: nonce[:16]}),
		"hello with 33 versions":      encodeHello(hello{Versions: make([]uint64, maxVersions+1), Node: "stA", Key: key, Nonce: nonce}),
		"hello with empty node":       encodeHello(hello{Versions: []uint64{1}, Node: "", Key: key, Nonce: nonce}),
		"hello with space in id":      encodeHello(hello{Versions: []uint64{1}, Node: "st A", Key: key, Nonce: nonce}),
		"hello with slash in id":      encodeHello(hello{Versions: []uint64{1}, Node: "st/A", Key: key, Nonce: nonce}),
		"hello with 65-byte id":       encodeHello(hello{Versions: []uint64{1}, Node: long(maxIDLen + 1), Key: key, Nonce: nonce}),
		"hello versions string":       splice(t, "hello", "920102", "a20102"),
		"challenge 63-byte sig":       splice(t, "challenge", "c440"+sigHex, "c43f"+sigHex[:126]),
		"challenge without sig":       splice(t, "challenge", "c440"+sigHex, "c0"),
		"challenge 65 streams":        encodeChallenge(challenge{Version: 1, Hub: "hub1", Key: key, Nonce: nonce, Sig: unhex(sigHex), Streams: make([]string, maxStreams+1)}),
		"challenge bad hub":           splice(t, "challenge", "a468756231", "a0"),
		"prove 63-byte sig":           splice(t, "prove", "c440"+sigHex, "c43f"+sigHex[:126]),
		"prove checkpoint of 2":       splice(t, "prove", "93a461737441a000", "92a461737441a0"),
		"prove 65 checkpoints":        encodeProve(prove{Sig: unhex(sigHex), Checkpoints: make([]streamCheckpoint, maxStreams+1)}),
		"ready 65-byte epoch":         encodeReady(ready{Epoch: long(maxIDLen + 1)}),
		"batch seq 0":                 splice(t, "batch/scope", "9a0501", "9a0500"),
		"batch codec 2":               batchHex(batchFrame{Codec: 2}),
		"batch count over limit":      batchHex(batchFrame{Count: MaxBatchEntries + 1}),
		"batch raw over limit":        batchHex(batchFrame{RawLen: MaxBatchRaw + 1}),
		"batch 65 heads":              batchHex(batchFrame{Heads: make([]node.SignedHead, maxHeads+1)}),
		"batch head 31-byte hash":     splice(t, "batch/station", "c420"+hashHex, "c41f"+hashHex[:62]),
		"batch head 33-byte hash":     splice(t, "batch/station", "c420"+hashHex, "c421"+hashHex+"00"),
		"batch head 63-byte sig":      splice(t, "batch/station", "c440"+sigHex+"00", "c43f"+sigHex[:126]+"00"),
		"batch head bad origin":       splice(t, "batch/station", "95a3737441", "95a3737420"),
		"batch head incarnation 2^32": splice(t, "batch/station", "95a37374410103", "95a3737441"+"cf0000000100000000"+"03"),
		"batch head of 4":             splice(t, "batch/station", "95a3737441", "94a3737441"),
		"batch stream of 129 bytes":   batchHex(batchFrame{Stream: long(maxStreamLen + 1)}),
		"batch epoch of 65 bytes":     batchHex(batchFrame{Epoch: long(maxIDLen + 1)}),
		"caught-up stream 129 bytes":  encodeCaughtUp(long(maxStreamLen+1), 1),
		"challenge stream 129 bytes":  encodeChallenge(challenge{Version: 1, Hub: "hub1", Key: key, Nonce: nonce, Sig: unhex(sigHex), Streams: []string{long(maxStreamLen + 1)}}),
		"prove stream 129 bytes":      encodeProve(prove{Sig: unhex(sigHex), Checkpoints: []streamCheckpoint{{Stream: long(maxStreamLen + 1)}}}),
		"prove epoch 65 bytes":        encodeProve(prove{Sig: unhex(sigHex), Checkpoints: []streamCheckpoint{{Stream: "astA", Epoch: long(maxIDLen + 1)}}}),
		"error message over 1024":     unhex("930a01da0401" + strings.Repeat("78", maxMessage+1)),
		"over MaxFrameBytes":          append(unhex("920607"), make([]byte, MaxFrameBytes)...),

		// Length bombs: a few bytes declaring 2^31 (or 2^32-1) of something.
		"bomb: frame array32 of 2^31":      append(unhex("dd80000000"), bombPad...),
		"bomb: frame array32 of 10":        append(unhex("dd0000000a"), bombPad...),
		"bomb: frame array16 of 65535":     unhex("dcffff06"),
		"bomb: hello versions 2^31":        append(unhex("9501dd80000000"), bombPad...),
		"bomb: hello node str32 4 GiB":     unhex("950190dbffffffff" + "00"),
		"bomb: hello key bin32 4 GiB":      unhex("950190a3737441c6ffffffff"),
		"bomb: challenge streams 2^31":     unhex("970201a468756231c420" + keyHex + "c420" + nonceHex + "c440" + sigHex + "dd80000000"),
		"bomb: prove checkpoints 2^31":     unhex("9303c440" + sigHex + "dd80000000" + "00"),
		"bomb: batch heads 2^31":           unhex("9a0501a0a000dd80000000" + "000000"),
		"bomb: batch payload bin32 4 GiB":  unhex("9a0501a0a00090000000" + "c6ffffffff" + "00"),
		"bomb: batch payload bin32 4 MiB+": unhex("9a0501a0a00090000000" + "c6" + "00400001" + "00"),
		"bomb: error message str32 4 GiB":  unhex("930a01dbffffffff"),
		"bomb: head array32 2^31":          unhex("9a0501a0a00091dd80000000" + "000000"),
	}
}

// Malformed and hostile frames are refused with ErrFrame, without a panic.
func TestFrame_Refused(t *testing.T) {
	for name, b := range refusedFrames(t) {
		expectFrameErr(t, name, func() error { _, err := decodeFrame(b); return err })
	}
}

// allocated returns the bytes allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A frame declaring 2^31 elements (or a 4 GiB string) fails at once, allocating nothing of
// what it declares. Bytes are bounded rather than counted: -race allocates on its own.
func TestFrame_LengthBombsDoNotAllocate(t *testing.T) {
	bombs := refusedFrames(t)
	for name, b := range bombs {
		if !strings.HasPrefix(name, "bomb:") {
			continue
		}
		const runs = 10
		var err error
		n := allocated(func() {
			for range runs {
				_, err = decodeFrame(b)
			}
		})
		if !errors.Is(err, ErrFrame) {
			t.Errorf("%s: err = %v, want ErrFrame", name, err)
		}
		if n > 1<<20 {
			t.Errorf("%s: %d bytes allocated in %d decodes, want under 1 MiB in all", name, n, runs)
		}
	}
	if b := bombs["bomb: frame array32 of 2^31"]; len(b) != 14 {
		t.Errorf("the frame bomb is %d bytes, want 14", len(b))
	}
}

// batchOf returns a batch carrying payload with the given codec, count and raw length.
func batchOf(codec, count uint64, rawLen int, payload []byte) *batchFrame {
	return &batchFrame{Seq: 1, Codec: codec, Count: count, RawLen: uint64(rawLen), Payload: payload}
}

// none returns a batch carrying payload uncompressed, its raw length declared truly.
func none(count uint64, payload []byte) *batchFrame {
	return batchOf(codecNone, count, len(payload), payload)
}

// refusedPayloads are batches whose payloads lie about their size or count, or carry
// malformed entries: openPayload must refuse each.
func refusedPayloads(t testing.TB) map[string]*batchFrame {
	t.Helper()
	ops := testOps(t, 3)
	good := encodeEntries([]entry{{Raw: ops[0]}, {LeftCase: "C-000"}, {Raw: ops[1]}})
	z := zstdEncoder().EncodeAll(good, nil)
	one := encodeEntries([]entry{{Raw: ops[0]}})
	entryOf := func(parts ...string) []byte { return unhex(strings.Join(parts, "")) }
	opHex := hex.EncodeToString(ops[0])

	// The op with its seq written as uint8 instead of a fixint: the same op, not canonical.
	nonCanonical := bytes.Replace(ops[0], unhex("a373744101"+"01"), unhex("a373744101"+"cc01"), 1)
	if bytes.Equal(nonCanonical, ops[0]) {
		t.Fatal("test op does not start as expected")
	}
	if _, err := cases.DecodeOp(nonCanonical); err == nil {
		t.Fatal("DecodeOp accepts the non-canonical op")
	}
	seq0 := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "stA", Incarnation: 1}}, Case: "C-1", Kind: cases.KindNote, Author: "grid1"}

	return map[string]*batchFrame{
		"zstd smaller than declared":   batchOf(codecZstd, 3, len(good)+1, z),
		"zstd larger than declared":    batchOf(codecZstd, 3, len(good)-1, z),
		"zstd declared 0":              batchOf(codecZstd, 3, 0, z),
		"zstd garbage":                 batchOf(codecZstd, 1, 10, []byte("not zstd at all")),
		"zstd truncated":               batchOf(codecZstd, 3, len(good), z[:len(z)-4]),
		"none smaller than declared":   batchOf(codecNone, 3, len(good)+1, good),
		"none larger than declared":    batchOf(codecNone, 3, len(good)-1, good),
		"count beyond what fits":       batchOf(codecNone, MaxBatchEntries, len(one), one),
		"count one more than present":  batchOf(codecNone, 2, len(one), one),
		"count one fewer than present": batchOf(codecNone, 2, len(good), good),
		"count 0 with entries":         batchOf(codecNone, 0, len(one), one),
		"count 1 of nothing":           batchOf(codecNone, 1, 0, nil),
		"non-canonical op":             none(1, entryOf("93", hex.EncodeToString(nonCanonical), "0000")),
		"op with seq 0":                none(1, entryOf("93", hex.EncodeToString(seq0.Encode()), "0000")),
		"op truncated":                 none(1, entryOf("93", opHex[:len(opHex)-2], "0000")),
		"op is a string":               none(1, entryOf("93", "a3434431", "0000")),
		"flags 4":                      none(1, entryOf("93", opHex, "00", "04")),
		"flags negative":               none(1, entryOf("93", opHex, "00", "ff")),
		"received at negative":         none(1, entryOf("93", opHex, "ff", "00")),
		"received at a string":         none(1, entryOf("93", opHex, "a130", "00")),
		"entry of 2":                   none(1, entryOf("92", opHex, "00")),
		"entry of 4":                   none(1, entryOf("94", opHex, "000000")),
		"entry of 0":                   none(1, entryOf("90")),
		"entry not an array":           none(1, entryOf("00")),
		"marker with empty id":         none(1, entryOf("91", "a0")),
		"marker with nil id":           none(1, entryOf("91", "c0")),
		"marker with space in id":      none(1, entryOf("91", "a3432031")),
		"marker with 257-byte id":      none(1, entryOf("91", "da0101", strings.Repeat("78", 257))),
		"marker id an int":             none(1, entryOf("91", "01")),
		"bomb: entry array32 2^31":     none(1, entryOf("dd80000000", "000000000000000000")),
		"bomb: marker str32 4 GiB":     none(1, entryOf("91", "dbffffffff", "00")),
		"bomb: op array32 2^31":        none(1, entryOf("93", "dd80000000", "0000", "000000")),
	}
}

// Payloads that lie about their size or count, or carry malformed entries, are refused;
// the bombs among them without allocating what they declare.
func TestPayload_Refused(t *testing.T) {
	for name, b := range refusedPayloads(t) {
		expectFrameErr(t, name, func() error { _, _, err := openPayload(b); return err })
		if strings.HasPrefix(name, "bomb:") {
			if n := allocated(func() { _, _, _ = openPayload(b) }); n > 1<<20 {
				t.Errorf("%s: %d bytes allocated", name, n)
			}
		}
	}
	// The payloads the cases above spoil open when intact, so each fails for the reason its
	// name says.
	ops := testOps(t, 3)
	good := encodeEntries([]entry{{Raw: ops[0]}, {LeftCase: "C-000"}, {Raw: ops[1]}})
	if _, _, err := openPayload(batchOf(codecZstd, 3, len(good), zstdEncoder().EncodeAll(good, nil))); err != nil {
		t.Errorf("good zstd payload: %v", err)
	}
	if _, _, err := openPayload(none(3, good)); err != nil {
		t.Errorf("good payload: %v", err)
	}
	if _, _, err := openPayload(none(1, unhex("93"+hex.EncodeToString(ops[0])+"ff03"))); err == nil {
		t.Error("a good entry with receivedAt -1 opens") // the bytes above, each spoilt once
	} else if _, _, err := openPayload(none(1, unhex("93"+hex.EncodeToString(ops[0])+"0003"))); err != nil {
		t.Errorf("good entry with flags 3: %v", err)
	}
}

// zipBomb returns 64 MiB of zeros compressed, with the frame's content size declared in its
// header (as EncodeAll writes it) or not (as a streaming encoder writes it).
func zipBomb(t testing.TB, declared bool) []byte {
	zeros := make([]byte, 64<<20)
	if declared {
		return zstdEncoder().EncodeAll(zeros, nil)
	}
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(zeros); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A payload of a few KB that decompresses to 64 MiB is refused without decompressing it all:
// what is allocated stays within twice MaxBatchRaw, whatever RawLen declares.
func TestPayload_ZipBomb(t *testing.T) {
	for _, declared := range []bool{true, false} {
		bomb := zipBomb(t, declared)
		for _, rawLen := range []int{16, 64 << 10, MaxBatchRaw} {
			t.Run(fmt.Sprintf("declared=%v/rawLen=%d", declared, rawLen), func(t *testing.T) {
				if len(bomb) > 64<<10 {
					t.Fatalf("bomb of %d bytes", len(bomb))
				}
				b := batchOf(codecZstd, 1, rawLen, bomb)
				var err error
				n := allocated(func() { _, _, err = openPayload(b) })
				if !errors.Is(err, ErrFrame) {
					t.Fatalf("err = %v, want ErrFrame", err)
				}
				if n > 2*MaxBatchRaw {
					t.Errorf("%d MiB allocated to refuse a zip bomb, want at most %d MiB", n>>20, 2*MaxBatchRaw>>20)
				}
			})
		}
	}
}

// The longest station id enrollment accepts (maxIDLen bytes) names a scope, "a" + id, one
// byte longer than an id, that the challenge, prove, batch and caught-up frames must carry.
func TestFrame_LongestStationScope(t *testing.T) {
	e := &Enrollment{Station: strings.Repeat("s", maxIDLen), Region: "420323100"}
	if !cases.ValidID(e.Station) {
		t.Fatal("not a valid id")
	}
	scopes := e.Scopes()
	key, nonce, sig := unhex(keyHex), unhex(nonceHex), unhex(sigHex)
	for name, b := range map[string][]byte{
		"challenge": encodeChallenge(challenge{Version: 1, Hub: "hub1", Key: key, Nonce: nonce, Sig: sig, Streams: scopes}),
		"prove":     encodeProve(prove{Sig: sig, Checkpoints: []streamCheckpoint{{Stream: scopes[1]}}}),
		"batch":     encodeBatch(&batchFrame{Seq: 1, Stream: scopes[1]}),
		"caught-up": encodeCaughtUp(scopes[1], 1),
	} {
		if _, err := decodeFrame(b); err != nil {
			t.Errorf("%s naming scope %q (%d bytes): %v", name, scopes[1], len(scopes[1]), err)
		}
	}
}

// An error message longer than maxMessage is cut to fit; the cut must not split a UTF-8
// sequence, since messages are often Chinese and msgpack strs are UTF-8.
func TestFrame_ErrorMessageCutOnRune(t *testing.T) {
	msg := strings.Repeat("x", maxMessage-1) + "协议版本不兼容"
	f, err := decodeFrame(encodeError(ErrCodeVersion, msg))
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.ValidString(f.Text) || len(f.Text) > maxMessage || !strings.HasPrefix(msg, f.Text) {
		t.Errorf("message cut to %d bytes, valid UTF-8 %v", len(f.Text), utf8.ValidString(f.Text))
	}
}

// originOnly is a Replica that knows only who it is: enough for buildBatch without heads.
type originOnly struct{ Replica }

func (originOnly) Origin() crdt.Origin { return crdt.Origin{Node: "hub1", Incarnation: 1} }

// opOfSize returns a well-formed op of exactly size encoded bytes (at most MaxOpBytes),
// carrying incompressible values in fields of a newer version, as DecodeOp accepts them.
func opOfSize(t testing.TB, seq uint64, size int) []byte {
	t.Helper()
	noise := make([]byte, cases.MaxValueBytes)
	op := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "stA", Incarnation: 1}, Seq: seq},
		Stamp: crdt.Timestamp{Wall: goldenTime}, Case: "C-big", Kind: cases.KindEdit, Author: "grid1"}
	for i := range 4 {
		_, _ = rand.Read(noise)
		v := mp.Encode(func(w *mp.Writer) { w.Bin(noise[:cases.MaxValueBytes-5]) }) // bin32: 5-byte header
		op.Writes = append(op.Writes, cases.Write{Field: fmt.Sprintf("x%d", i), Action: cases.Set, Value: v})
	}
	over := len(op.Encode()) - size
	last := &op.Writes[3]
	last.Value = mp.Encode(func(w *mp.Writer) { w.Bin(noise[:cases.MaxValueBytes-5-over]) })
	b := op.Encode()
	if len(b) != size {
		t.Fatalf("op of %d bytes, want %d", len(b), size)
	}
	if _, err := cases.DecodeOp(b); err != nil {
		t.Fatalf("op of %d bytes: %v", size, err)
	}
	return b
}

// A batch built at the largest raw budget fits in one frame even when nothing compresses,
// as maxRawBatch promises, whatever the size of the (valid) ops read.
func TestBuildBatch_FitsInFrame(t *testing.T) {
	// Three ops that leave the payload one byte short of the budget (3 bytes of entry
	// framing each), then one of the largest size an op may have.
	sizes := []int{cases.MaxOpBytes, cases.MaxOpBytes, cases.MaxOpBytes - 10, cases.MaxOpBytes}
	var got []outEntry
	for i, size := range sizes {
		got = append(got, outEntry{pos: uint64(i + 1), e: entry{Raw: opOfSize(t, uint64(i+1), size)}})
	}
	b, n, rawLen, err := buildBatch(originOnly{}, false, &outStream{epoch: goldenEpoch}, got, maxRawBatch)
	if err != nil {
		t.Fatal(err)
	}
	b.Seq, b.To = 1, got[n-1].pos
	if wire := len(encodeBatch(b)); wire > MaxFrameBytes {
		t.Errorf("batch of %d entries, %d raw bytes, codec %d: a frame of %d bytes, limit %d", n, rawLen, b.Codec, wire, MaxFrameBytes)
	}
}
