package hub

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// EntryVersion is the newest format this build writes; it reads every version up to it. A
// newer entry is refused with ErrNewerEntry. Each entry carries the lowest version that can
// express it, so that members of an older build keep applying what they can read:
//
//	1: a batch; its writer rule is [node, scopes]
//	2: the writer rule may be [node, scopes, anyOrigin] (a county hub forwarding its
//	   stations' ops to its city hub)
//	3: a 13th element, the hub key's rotation [new private key, its link as a key chain of
//	   one] (node.KeyRotation)
const EntryVersion = 3

// maxKeyLinkBytes bounds the encoded link of a key rotation in an entry.
const maxKeyLinkBytes = 1024

// Entry kinds.
const (
	kindBatch = 1 // a batch a peer sent: node.Batch
)

// Limits on what an entry may declare (entries come from our own leader, but a log on disk
// is outside input all the same).
const (
	maxEntryOps    = 20000
	maxEntryScopes = 16
	maxEntryHeads  = 64
	maxEntryLeft   = 20000
	maxIDLen       = 128
	maxEntryDocs   = 64
	maxDocBytes    = 64 << 10
)

var (
	// ErrNewerEntry marks an entry written by a newer version: the member stops applying.
	ErrNewerEntry = errors.New("raft entry of a newer format")
	// ErrBadEntry marks an entry that does not decode.
	ErrBadEntry = errors.New("malformed raft entry")
)

// EncodeBatch encodes b as a log entry. The leader sets b.ReceivedAt before encoding, so
// that every member judges the ops' stamps against the same instant.
func EncodeBatch(b *node.Batch) []byte {
	return mp.Encode(func(w *mp.Writer) {
		n, version := 12, uint64(1)
		if b.Writer != nil && b.Writer.AnyOrigin {
			version = 2
		}
		if b.RotateKey != nil {
			n, version = 13, 3
		}
		w.ArrayLen(n)
		w.Uint(version)
		w.Uint(kindBatch)
		w.String(b.From)
		w.Int(b.ReceivedAt)
		w.Bool(b.StampReceipt)
		w.Bool(b.Partial)
		if b.Checkpoint != nil {
			w.ArrayLen(3)
			w.String(b.Stream)
			w.String(b.Checkpoint.Epoch)
			w.Uint(b.Checkpoint.Pos)
		} else {
			w.Nil()
		}
		if b.Writer != nil {
			w.ArrayLen(2 + btoi(b.Writer.AnyOrigin))
			w.String(b.Writer.Node)
			w.ArrayLen(len(b.Writer.Scopes))
			for _, s := range b.Writer.Scopes {
				w.String(s)
			}
			if b.Writer.AnyOrigin {
				w.Bool(true)
			}
		} else {
			w.Nil()
		}
		w.ArrayLen(len(b.Ops))
		for i := range b.Ops {
			in := &b.Ops[i]
			raw := in.Raw
			if raw == nil {
				raw = in.Op.Encode()
			}
			w.ArrayLen(3)
			w.Raw(raw)
			w.Int(in.Meta.ReceivedAt)
			var flags uint64
			if in.Meta.Flagged {
				flags |= 1
			}
			if in.Meta.Quarantined {
				flags |= 2
			}
			w.Uint(flags)
		}
		w.ArrayLen(len(b.Heads))
		for _, h := range b.Heads {
			node.WriteSignedHead(w, h)
		}
		w.ArrayLen(len(b.Left))
		for _, l := range b.Left {
			w.ArrayLen(2)
			w.String(l.Case)
			w.Uint(uint64(l.After))
		}
		// Documents written with the batch (enrollments); nil when none, which readers of
		// the first entries of version 1 (where this element was reserved) skip alike.
		if len(b.Docs) == 0 {
			w.Nil()
		} else {
			w.ArrayLen(len(b.Docs))
			for _, d := range b.Docs {
				w.ArrayLen(4)
				w.String(d.Kind)
				w.String(d.ID)
				if d.Value == nil {
					w.Nil()
				} else {
					w.Bin(d.Value)
				}
				w.Bool(d.IfAbsent)
			}
		}
		if b.RotateKey != nil {
			w.ArrayLen(2)
			w.Bin(b.RotateKey.Key)
			w.Bin(node.EncodeKeyChain([]node.KeyLink{b.RotateKey.Link}))
		}
	})
}

// DecodeEntry decodes a log entry into the batch it carries. Every declared length is
// checked before anything is allocated; ops are decoded with cases.DecodeOp.
func DecodeEntry(data []byte) (node.Batch, error) {
	var b node.Batch
	rd := mp.NewReader(data)
	n := rd.ExpectArray(2, 64)
	version := rd.Uint()
	if rd.Err() == nil && version > EntryVersion {
		return b, fmt.Errorf("%w: version %d, this build reads up to %d", ErrNewerEntry, version, EntryVersion)
	}
	if kind := rd.Uint(); rd.Err() == nil && (kind != kindBatch || n != 12 && (n != 13 || version < 3)) {
		return b, fmt.Errorf("%w: kind %d with %d elements", ErrBadEntry, kind, n)
	}
	b.From = rd.String(maxIDLen)
	b.ReceivedAt = rd.Int()
	b.StampReceipt = rd.Bool()
	b.Partial = rd.Bool()
	if !rd.PeekNil() {
		rd.ExpectArray(3, 3)
		b.Stream = rd.String(maxIDLen)
		b.Checkpoint = &node.Checkpoint{Epoch: rd.String(maxIDLen), Pos: rd.Uint()}
	} else {
		rd.Skip()
	}
	if !rd.PeekNil() {
		n := rd.ExpectArray(2, 3)
		rule := &node.WriterRule{Node: rd.String(maxIDLen)}
		k := rd.ArrayLen(maxEntryScopes)
		for i := 0; i < k && rd.Err() == nil; i++ {
			rule.Scopes = append(rule.Scopes, rd.String(maxIDLen))
		}
		if n == 3 {
			rule.AnyOrigin = rd.Bool()
		}
		b.Writer = rule
	} else {
		rd.Skip()
	}
	k := rd.ArrayLen(maxEntryOps)
	if k > 0 && rd.Err() == nil {
		b.Ops = make([]node.Incoming, 0, min(k, rd.Remaining()/4))
	}
	for i := 0; i < k && rd.Err() == nil; i++ {
		rd.ExpectArray(3, 3)
		raw := bytes.Clone(rd.Raw())
		at := rd.Int()
		flags := rd.Uint()
		if rd.Err() != nil {
			break
		}
		op, err := cases.DecodeOp(raw)
		if err != nil {
			return node.Batch{}, fmt.Errorf("%w: op %d: %v", ErrBadEntry, i, err)
		}
		b.Ops = append(b.Ops, node.Incoming{Op: op, Raw: raw, Meta: cases.Meta{ReceivedAt: at, Flagged: flags&1 != 0, Quarantined: flags&2 != 0}})
	}
	k = rd.ArrayLen(maxEntryHeads)
	for i := 0; i < k && rd.Err() == nil; i++ {
		h := node.ReadSignedHead(rd, maxIDLen)
		h.Sig = bytes.Clone(h.Sig)
		b.Heads = append(b.Heads, h)
	}
	k = rd.ArrayLen(maxEntryLeft)
	for i := 0; i < k && rd.Err() == nil; i++ {
		rd.ExpectArray(2, 2)
		b.Left = append(b.Left, node.LeftMarker{Case: rd.String(maxIDLen), After: int(min(rd.Uint(), uint64(len(b.Ops))))})
	}
	if rd.PeekNil() {
		rd.Skip()
	} else {
		k = rd.ArrayLen(maxEntryDocs)
		for i := 0; i < k && rd.Err() == nil; i++ {
			rd.ExpectArray(4, 4)
			d := node.DocPut{Kind: rd.String(maxIDLen), ID: rd.String(maxIDLen)}
			if rd.PeekNil() {
				rd.Skip()
			} else {
				d.Value = bytes.Clone(rd.Bytes(maxDocBytes))
				if d.Value == nil {
					d.Value = []byte{}
				}
			}
			d.IfAbsent = rd.Bool()
			b.Docs = append(b.Docs, d)
		}
	}
	if n == 13 {
		rd.ExpectArray(2, 2)
		key := bytes.Clone(rd.Bytes(ed25519.PrivateKeySize))
		linkBytes := rd.Bytes(maxKeyLinkBytes)
		if rd.Err() == nil && len(key) != ed25519.PrivateKeySize {
			rd.Failf("key rotation with a key of %d bytes", len(key))
		}
		if rd.Err() == nil {
			links, err := node.DecodeKeyChain(linkBytes)
			if err != nil || len(links) != 1 {
				rd.Failf("key rotation with %d links (%v)", len(links), err)
			} else {
				b.RotateKey = &node.KeyRotation{Key: key, Link: links[0]}
			}
		}
	}
	if rd.Err() == nil && rd.Remaining() != 0 {
		rd.Failf("%d trailing bytes", rd.Remaining())
	}
	if err := rd.Err(); err != nil {
		return node.Batch{}, fmt.Errorf("%w: %v", ErrBadEntry, err)
	}
	return b, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// EntryOps reports how many ops a batch entry carries (benchmarks pace by it).
func EntryOps(data []byte) (int, error) {
	b, err := DecodeEntry(data)
	return len(b.Ops), err
}
