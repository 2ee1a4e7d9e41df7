package node

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// sortedBatch collects the writes of one apply and hands them to Pebble in key order when
// the batch commits. Pebble inserts a batch into its memtable (a skiplist) one key after
// another, and an insert next to the previous one reuses its search path: in key order the
// batch's feed records, which are consecutive, cost almost nothing each, and its other keys
// (heads, history, indexes, scattered over the whole store) about half what they cost in
// arrival order (BENCHMARKS.md, "Replica apply"). The memtable was the largest single cost
// of applying an op.
//
// The order of a batch's writes changes nothing of what it stores: a Pebble batch is applied
// atomically, and of several writes of one key the last one wins. Of equal keys the sort
// keeps the arrival order, and build keeps only the last write of each key, so the keys and values committed are
// those of the writes in arrival order, on every replica alike.
type sortedBatch struct {
	buf   []byte       // the keys and values, in arrival order
	ents  []batchEntry // one per write, in arrival order
	order []sortKey    // build's sort of ents
}

type batchEntry struct {
	off       uint32 // key at buf[off:off+klen], value right after it
	klen, vln uint32
	del       bool
}

// sortKey is what build sorts: the key's first 16 bytes as two big-endian words (zero-padded:
// nearly every comparison ends there) and the entry's index in arrival order.
type sortKey struct {
	p0, p1 uint64
	i      uint32
}

func (b *sortedBatch) key(i uint32) []byte {
	e := b.ents[i]
	return b.buf[e.off : e.off+e.klen]
}

// Set records that key is to hold value. Both are copied.
func (b *sortedBatch) Set(key, value []byte, _ *pebble.WriteOptions) {
	b.add(key, value, false)
}

// Delete records that key is to be deleted.
func (b *sortedBatch) Delete(key []byte, _ *pebble.WriteOptions) {
	b.add(key, nil, true)
}

func (b *sortedBatch) add(key, value []byte, del bool) {
	b.ents = append(b.ents, batchEntry{off: uint32(len(b.buf)), klen: uint32(len(key)), vln: uint32(len(value)), del: del})
	b.buf = append(append(b.buf, key...), value...)
}

// Len is the number of writes recorded.
func (b *sortedBatch) Len() int { return len(b.ents) }

// build returns a Pebble batch of db holding the recorded writes in key order, the last
// write of each key only.
func (b *sortedBatch) build(db *pebble.DB) *pebble.Batch {
	b.order = b.order[:0]
	for i := range b.ents {
		var p [16]byte
		copy(p[:], b.key(uint32(i)))
		b.order = append(b.order, sortKey{binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint64(p[8:]), uint32(i)})
	}
	// Of equal keys the one written last sorts last, and is the one kept below.
	slices.SortFunc(b.order, func(x, y sortKey) int {
		if x.p0 != y.p0 {
			return cmp.Compare(x.p0, y.p0)
		}
		if x.p1 != y.p1 {
			return cmp.Compare(x.p1, y.p1)
		}
		if c := bytes.Compare(b.key(x.i), b.key(y.i)); c != 0 {
			return c
		}
		return cmp.Compare(x.i, y.i)
	})
	pb := db.NewBatchWithSize(len(b.buf) + 16*len(b.ents))
	for j, o := range b.order {
		k := b.key(o.i)
		if j+1 < len(b.order) && bytes.Equal(k, b.key(b.order[j+1].i)) {
			continue // written again later in the batch: that write is the one that counts
		}
		if e := b.ents[o.i]; e.del {
			_ = pb.Delete(k, nil)
		} else {
			_ = pb.Set(k, b.buf[e.off+e.klen:e.off+e.klen+e.vln], nil)
		}
	}
	return pb
}

// reset empties the batch, keeping its memory for the next one unless it grew large.
func (b *sortedBatch) reset() {
	if cap(b.buf) > 16<<20 {
		*b = sortedBatch{}
		return
	}
	b.buf, b.ents, b.order = b.buf[:0], b.ents[:0], b.order[:0]
}
