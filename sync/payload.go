package sync

import (
	"fmt"
	gosync "sync"

	"github.com/klauspost/compress/zstd"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// A batch's payload is a msgpack sequence of Count entries, then compressed (Codec 1,
// zstd) when that saves bytes:
//
//	[op, receivedAt, flags]   an op: its canonical encoding inline, what the sender knew of it
//	[caseID]                  the case left the stream's scope
//
// flags: bit 0 the op's stamp was flagged as far-future, bit 1 the op is quarantined.

const (
	codecNone = 0
	codecZstd = 1
)

// entry is one element of a batch.
type entry struct {
	Raw      []byte // canonical op; nil for a left-scope marker
	Meta     cases.Meta
	LeftCase string
}

func appendEntry(w *mp.Writer, e entry) {
	if e.Raw == nil {
		w.ArrayLen(1)
		w.String(e.LeftCase)
		return
	}
	w.ArrayLen(3)
	w.Raw(e.Raw)
	w.Int(e.Meta.ReceivedAt)
	var flags uint64
	if e.Meta.Flagged {
		flags |= 1
	}
	if e.Meta.Quarantined {
		flags |= 2
	}
	w.Uint(flags)
}

var (
	encoderOnce gosync.Once
	encoder     *zstd.Encoder
	decoderPool = gosync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxBatchRaw),
			zstd.WithDecodeAllCapLimit(true), // never grow past the capacity the declared size gave
			zstd.WithDecoderMaxWindow(MaxBatchRaw))
		if err != nil {
			panic(err) // only bad options fail, and these are constant
		}
		return d
	}}
)

func zstdEncoder() *zstd.Encoder {
	encoderOnce.Do(func() {
		var err error
		// A 2 MiB window: batches are at most 4 MiB raw, and the default 8 MiB window costs a
		// station 16 MiB of history buffers for almost no gain on the wire (BENCHMARKS.md).
		encoder, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(2<<20))
		if err != nil {
			panic(err)
		}
	})
	return encoder
}

// sealPayload fills b's payload from the encoded entries raw (count of them).
func sealPayload(b *batchFrame, raw []byte, count int) {
	b.Count, b.RawLen = uint64(count), uint64(len(raw))
	z := zstdEncoder().EncodeAll(raw, make([]byte, 0, len(raw)/3))
	if len(z) < len(raw) {
		b.Codec, b.Payload = codecZstd, z
	} else {
		b.Codec, b.Payload = codecNone, raw
	}
}

// openPayload decompresses and decodes a batch's entries, checking the declared sizes.
// Every op is decoded with cases.DecodeOp, which refuses anything not canonical.
func openPayload(b *batchFrame) ([]entry, []node.Incoming, error) {
	raw := b.Payload
	if b.Codec == codecZstd {
		d := decoderPool.Get().(*zstd.Decoder)
		// Capacity is what the payload declares, but no more than a generous ratio of the bytes
		// that actually came: a 60-byte frame cannot make us set aside 16 MiB.
		out, err := d.DecodeAll(b.Payload, make([]byte, 0, min(b.RawLen, 64*uint64(len(b.Payload))+4096)))
		decoderPool.Put(d)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: decompress: %v", ErrFrame, err)
		}
		raw = out
	}
	if uint64(len(raw)) != b.RawLen {
		return nil, nil, fmt.Errorf("%w: payload is %d bytes, declared %d", ErrFrame, len(raw), b.RawLen)
	}
	// Each entry takes at least 2 bytes: a count beyond that is a lie, caught before the
	// slices below are sized by it.
	if b.Count > uint64(len(raw))/2+1 {
		return nil, nil, fmt.Errorf("%w: %d entries declared in %d bytes", ErrFrame, b.Count, len(raw))
	}
	entries := make([]entry, 0, b.Count)
	var ops []node.Incoming
	rd := mp.NewReader(raw)
	for i := uint64(0); i < b.Count; i++ {
		n := rd.ExpectArray(1, 3)
		if rd.Err() != nil {
			break
		}
		if n == 1 {
			id := rd.String(maxIDLen * 4)
			if rd.Err() == nil && !cases.ValidID(id) {
				rd.Failf("left-scope marker names no valid case")
			}
			entries = append(entries, entry{LeftCase: id})
			continue
		}
		if n != 3 {
			rd.Failf("entry of %d elements", n)
			break
		}
		opRaw := rd.Raw()
		at := rd.Int()
		flags := rd.Uint()
		if rd.Err() != nil {
			break
		}
		op, err := cases.DecodeOp(opRaw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d: %v", ErrFrame, i, err)
		}
		if flags > 3 || at < 0 {
			rd.Failf("entry %d: flags %d, received at %d", i, flags, at)
			break
		}
		meta := cases.Meta{ReceivedAt: at, Flagged: flags&1 != 0, Quarantined: flags&2 != 0}
		entries = append(entries, entry{Raw: opRaw, Meta: meta})
		ops = append(ops, node.Incoming{Op: op, Raw: opRaw, Meta: meta})
	}
	if rd.Err() == nil && rd.Remaining() != 0 {
		rd.Failf("%d bytes after the last entry", rd.Remaining())
	}
	if err := rd.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: payload: %v", ErrFrame, err)
	}
	return entries, ops, nil
}
