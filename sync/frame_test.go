package sync

import (
	"encoding/hex"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

func pattern(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func TestScratchPrint(t *testing.T) {
	key, nonce, sig, hash := pattern(0, 32), pattern(0x20, 32), pattern(0x40, 64), pattern(0x80, 32)
	var h node.SignedHead
	h.Origin = crdt.Origin{Node: "stA", Incarnation: 1}
	h.Seq = 3
	copy(h.Hash[:], hash)
	h.Sig = sig
	op := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "stA", Incarnation: 1}, Seq: 3},
		Stamp: crdt.Timestamp{Wall: 1767225600000}, Case: "C-1", Kind: cases.KindNote, Author: "grid1",
		Writes: []cases.Write{{Field: "notes", Action: cases.Append, Value: cases.EncodeNote(cases.Note{Text: "走访", Kind: "visit", At: 1767225600000})}}}
	t.Logf("op %x", op.Encode())
	for _, b := range [][]byte{
		encodeHello(hello{Versions: []uint64{1, 2}, Node: "stA", Key: key, Nonce: nonce}),
		encodeChallenge(challenge{Version: 1, Hub: "hub1", Key: key, Nonce: nonce, Sig: sig, Streams: []string{"r420323100", "astA"}}),
		encodeChallenge(challenge{Version: 1, Hub: "hub1", Key: key, Nonce: nonce, Streams: []string{"r420323100", "astA"}}),
		encodeProve(prove{Sig: sig, Checkpoints: []streamCheckpoint{{"r420323100", "0123456789abcdef", 300}, {"astA", "", 0}}}),
		encodeReady(ready{Epoch: "0123456789abcdef", Pos: 42, Window: 4}),
		encodeBatch(&batchFrame{Seq: 1, Stream: "r420323100", Epoch: "fedcba9876543210", To: 1000, Codec: 0, Count: 1, RawLen: 5, Payload: []byte{0x91, 0xa3, 'C', '-', '1'}}),
		encodeBatch(&batchFrame{Seq: 2, Stream: "", Epoch: "0123456789abcdef", To: 3, Heads: []node.SignedHead{h}, Codec: 0, Count: 0, RawLen: 0}),
		encodeAck(7),
		encodeCaughtUp("r420323100", 1000),
		encodePing(codePing, 1767225600000),
		encodePing(codePong, -1),
		encodeError(ErrCodeVersion, "no version / 版本"),
	} {
		t.Logf("%d %s", len(b), hex.EncodeToString(b))
	}
}
