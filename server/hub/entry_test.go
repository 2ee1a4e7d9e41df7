package hub_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
)

func sampleBatch() node.Batch {
	op := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "stA", Incarnation: 7}, Seq: 1},
		Stamp: crdt.Timestamp{Wall: 1767225600000}, Case: "A-1", Kind: cases.KindNote, Author: "grid1",
		Writes: []cases.Write{{Field: "notes", Action: cases.Append, Value: cases.EncodeNote(cases.Note{Text: "走访"})}}}
	return node.Batch{From: "stA", ReceivedAt: 1767225600123, StampReceipt: true, Stream: "",
		Checkpoint: &node.Checkpoint{Epoch: "0123456789abcdef", Pos: 9},
		Writer:     &node.WriterRule{Node: "stA", Scopes: []string{"r420323100", "astA"}},
		Ops:        []node.Incoming{{Op: op, Raw: op.Encode(), Meta: cases.Meta{Flagged: true}}},
		Heads:      []node.SignedHead{{Origin: op.Dot.Origin, Seq: 1, Sig: make([]byte, 64)}},
		Left:       []node.LeftMarker{{Case: "B-2", After: 1}}}
}

// An entry carries everything of its batch that apply needs, and decodes to the same bytes.
func TestEntry_RoundTrip(t *testing.T) {
	b := sampleBatch()
	data := hub.EncodeBatch(&b)
	got, err := hub.DecodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if again := hub.EncodeBatch(&got); string(again) != string(data) {
		t.Fatalf("re-encoded entry differs:\n%x\n%x", again, data)
	}
	if got.From != "stA" || got.ReceivedAt != b.ReceivedAt || !got.StampReceipt || got.Checkpoint.Pos != 9 ||
		got.Writer.Node != "stA" || len(got.Writer.Scopes) != 2 || len(got.Ops) != 1 || !got.Ops[0].Meta.Flagged ||
		len(got.Heads) != 1 || got.Left[0].Case != "B-2" {
		t.Errorf("decoded %+v", got)
	}
}

// A county hub's batch at its city (a writer rule allowing any origin) travels as a version-2
// entry; a station's stays version 1, byte for byte what older members read.
func TestEntry_HubPeerRuleIsVersion2(t *testing.T) {
	b := sampleBatch()
	if v := hub.EncodeBatch(&b)[1]; v != 1 {
		t.Fatalf("a station's batch is written as version %d", v)
	}
	b.Writer.AnyOrigin = true
	data := hub.EncodeBatch(&b)
	if data[1] != 2 {
		t.Fatalf("a hub peer's batch is written as version %d", data[1])
	}
	got, err := hub.DecodeEntry(data)
	if err != nil || !got.Writer.AnyOrigin || got.Writer.Node != "stA" || len(got.Writer.Scopes) != 2 {
		t.Fatalf("decoded %+v, %v", got.Writer, err)
	}
}

func sampleRotation(t testing.TB) node.KeyRotation {
	t.Helper()
	_, old, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, next, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return node.NewKeyRotation("zs-hub", old, next, 1767225600123)
}

// A rotation of the hub key travels as a version-3 entry with its key; a batch without one
// keeps its older version.
func TestEntry_KeyRotationIsVersion3(t *testing.T) {
	rot := sampleRotation(t)
	b := node.Batch{From: "", ReceivedAt: 1767225600123, RotateKey: &rot}
	data := hub.EncodeBatch(&b)
	if data[1] != 3 {
		t.Fatalf("a key rotation is written as version %d", data[1])
	}
	got, err := hub.DecodeEntry(data)
	if err != nil || got.RotateKey == nil || !bytes.Equal(got.RotateKey.Key, rot.Key) || got.RotateKey.Link.Verify() != nil ||
		got.RotateKey.Link.At != rot.Link.At {
		t.Fatalf("decoded %+v, %v", got.RotateKey, err)
	}
	short := node.Batch{RotateKey: &node.KeyRotation{Key: make([]byte, 32), Link: rot.Link}}
	if _, err := hub.DecodeEntry(hub.EncodeBatch(&short)); !errors.Is(err, hub.ErrBadEntry) {
		t.Errorf("a rotation with a 32-byte key: %v, want ErrBadEntry", err)
	}
	plain := sampleBatch()
	thirteen := hub.EncodeBatch(&plain)
	thirteen[0]++ // 13 elements claimed by a version-1 entry
	if _, err := hub.DecodeEntry(thirteen); !errors.Is(err, hub.ErrBadEntry) {
		t.Errorf("13 elements in a version-1 entry: %v, want ErrBadEntry", err)
	}
}

// An entry of a newer format is refused as such (the member stops, never guesses); garbage
// and length bombs are refused without allocating what they declare.
func TestEntry_RefusesNewerAndMalformed(t *testing.T) {
	b := sampleBatch()
	data := hub.EncodeBatch(&b)
	newer := append([]byte(nil), data...)
	newer[1] = hub.EntryVersion + 1 // version, a positive fixint after the array header
	if _, err := hub.DecodeEntry(newer); !errors.Is(err, hub.ErrNewerEntry) {
		t.Errorf("newer entry: %v", err)
	}
	for name, in := range map[string][]byte{
		"empty":     {},
		"truncated": data[:len(data)/2],
		"bomb":      {0x9c, 0x01, 0x01, 0xa3, 's', 't', 'A', 0x00, 0xc3, 0xc2, 0xc0, 0xc0, 0xdd, 0x7f, 0xff, 0xff, 0xff},
		"trailing":  append(append([]byte(nil), data...), 0x00),
	} {
		if _, err := hub.DecodeEntry(in); !errors.Is(err, hub.ErrBadEntry) {
			t.Errorf("%s: %v, want ErrBadEntry", name, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	b := sampleBatch()
	f.Add(hub.EncodeBatch(&b))
	r := sampleRotation(f)
	rot := node.Batch{RotateKey: &r}
	f.Add(hub.EncodeBatch(&rot))
	f.Add([]byte{0x9c, 0x01, 0x01, 0xa3, 's', 't', 'A', 0x00, 0xc3, 0xc2, 0xc0, 0xc0, 0xdd, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := hub.DecodeEntry(data)
		if err != nil {
			return
		}
		if _, err := hub.DecodeEntry(hub.EncodeBatch(&got)); err != nil {
			t.Fatalf("a decoded entry does not decode after re-encoding: %v", err)
		}
	})
}

// A member that meets an entry it cannot read stops applying — it never skips an entry and
// diverges — and says why; the entries after it are not applied either.
func TestFSM_StopsAtAnEntryItCannotRead(t *testing.T) {
	r, err := node.Open("hub", node.Options{NodeID: "zs-hub", Region: "420323", FS: vfs.NewMem(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fsm := hub.NewFSM(r, quiet())
	b := sampleBatch()
	b.Writer, b.Heads, b.Left = nil, nil, nil
	data := hub.EncodeBatch(&b)
	newer := append([]byte(nil), data...)
	newer[1] = hub.EntryVersion + 1
	res := fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: newer}).(hub.ApplyResult)
	if !errors.Is(res.Err, hub.ErrNewerEntry) || !errors.Is(fsm.Stopped(), hub.ErrNewerEntry) {
		t.Fatalf("newer entry: result %v, stopped %v", res.Err, fsm.Stopped())
	}
	res = fsm.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: data}).(hub.ApplyResult)
	if res.Err == nil || r.Status().FeedSeq != 0 || r.RaftApplied() != 0 {
		t.Errorf("after stopping, entry 2 was applied: %v, feed %d", res.Err, r.Status().FeedSeq)
	}
}
