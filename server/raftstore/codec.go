package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/raft"
)

// Tables: the first byte of every key. Upper case, so that they can never meet node's
// tables (all lower case) should the log and the replica one day share a Pebble DB.
const (
	tLog    = 'L' // L index (8 bytes big-endian)    → entry (encodeEntry)
	tStable = 'S' // S key                           → value, as raft gave it
	tMeta   = 'M' // M name                          → store metadata ("format")
)

// logKeyLen is the length of a log key: the table byte and the index.
const logKeyLen = 1 + 8

// entryFormat is the version of the entry encoding, the first byte of every value in tLog.
// A store meeting an entry of another format refuses it (ErrUnknownFormat) rather than guess.
//
// Format 1:
//
//	byte    1
//	uvarint Index (also in the key; the two must agree)
//	uvarint Term
//	byte    Type
//	uvarint len(Data)       Data
//	uvarint len(Extensions) Extensions
//	byte    0: AppendedAt is the zero time; 1: it follows as
//	varint  Unix seconds (zig-zag)
//	uvarint nanoseconds within the second (< 1e9)
//
// AppendedAt keeps its instant to the nanosecond; its location and monotonic reading are not
// kept (it is returned in UTC), which is all raft uses it for (the age of the oldest entry).
const entryFormat = 1

// Sentinel errors of the entry codec.
var (
	ErrCorrupt       = errors.New("raftstore: corrupt log entry")
	ErrUnknownFormat = errors.New("raftstore: log entry of an unknown format")
)

func logKey(dst []byte, index uint64) {
	dst[0] = tLog
	binary.BigEndian.PutUint64(dst[1:], index)
}

func logKeyBytes(index uint64) []byte {
	k := make([]byte, logKeyLen)
	logKey(k, index)
	return k
}

func stableKey(key []byte) []byte {
	k := make([]byte, 0, 1+len(key))
	return append(append(k, tStable), key...)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// entryLen is the exact length of l's encoding.
func entryLen(l *raft.Log) int {
	n := 1 + uvarintLen(l.Index) + uvarintLen(l.Term) + 1 +
		uvarintLen(uint64(len(l.Data))) + len(l.Data) +
		uvarintLen(uint64(len(l.Extensions))) + len(l.Extensions) + 1
	if !l.AppendedAt.IsZero() {
		n += uvarintLen(zigzag(l.AppendedAt.Unix())) + uvarintLen(uint64(l.AppendedAt.Nanosecond()))
	}
	return n
}

// putEntry encodes l into dst, which must be exactly entryLen(l) bytes long (the caller
// encodes straight into a Pebble batch).
func putEntry(dst []byte, l *raft.Log) {
	dst[0] = entryFormat
	n := 1
	n += binary.PutUvarint(dst[n:], l.Index)
	n += binary.PutUvarint(dst[n:], l.Term)
	dst[n] = byte(l.Type)
	n++
	n += binary.PutUvarint(dst[n:], uint64(len(l.Data)))
	n += copy(dst[n:], l.Data)
	n += binary.PutUvarint(dst[n:], uint64(len(l.Extensions)))
	n += copy(dst[n:], l.Extensions)
	if l.AppendedAt.IsZero() {
		dst[n] = 0
		n++
	} else {
		dst[n] = 1
		n++
		n += binary.PutUvarint(dst[n:], zigzag(l.AppendedAt.Unix()))
		n += binary.PutUvarint(dst[n:], uint64(l.AppendedAt.Nanosecond()))
	}
	if n != len(dst) {
		panic(fmt.Sprintf("raftstore: entry of %d bytes encoded into %d", n, len(dst)))
	}
}

// encodeEntry returns l's encoding in a new slice.
func encodeEntry(l *raft.Log) []byte {
	b := make([]byte, entryLen(l))
	putEntry(b, l)
	return b
}

// decodeEntry decodes b, the value stored under index, into l. It copies what it keeps (b
// may belong to Pebble), sets every field of l, and checks every declared length against
// the bytes remaining before allocating.
func decodeEntry(b []byte, index uint64, l *raft.Log) error {
	d := decoder{b: b}
	if f := d.byte(); d.err == nil && f != entryFormat {
		return fmt.Errorf("%w: format %d, this build reads %d", ErrUnknownFormat, f, entryFormat)
	}
	idx := d.uvarint()
	term := d.uvarint()
	typ := d.byte()
	dataLen := d.length()
	dataAt := d.off
	d.skip(dataLen)
	extLen := d.length()
	extAt := d.off
	d.skip(extLen)
	var at time.Time
	switch d.byte() {
	case 0:
	case 1:
		sec := d.uvarint()
		nsec := d.uvarint()
		if d.err == nil && nsec >= 1e9 {
			d.fail("nanoseconds %d out of range", nsec)
		}
		if d.err == nil {
			at = time.Unix(unzigzag(sec), int64(nsec)).UTC()
		}
	default:
		d.fail("bad time flag")
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d trailing bytes", len(b)-d.off)
	}
	if d.err == nil && idx != index {
		d.fail("entry says index %d", idx)
	}
	if d.err != nil {
		return d.err
	}
	// One allocation for Data and Extensions; each keeps its own capacity so that an append
	// to Data never overwrites Extensions.
	var buf []byte
	if dataLen+extLen > 0 {
		buf = make([]byte, dataLen+extLen)
		copy(buf, b[dataAt:dataAt+dataLen])
		copy(buf[dataLen:], b[extAt:extAt+extLen])
	}
	*l = raft.Log{Index: idx, Term: term, Type: raft.LogType(typ), AppendedAt: at}
	if dataLen > 0 {
		l.Data = buf[:dataLen:dataLen]
	}
	if extLen > 0 {
		l.Extensions = buf[dataLen:]
	}
	return nil
}

// decoder reads an entry; the first error sticks and later reads return zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrCorrupt, fmt.Sprintf(format, args...), d.off)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// length reads a declared length and checks it against the bytes remaining.
func (d *decoder) length() int {
	v := d.uvarint()
	if d.err != nil {
		return 0
	}
	if v > uint64(len(d.b)-d.off) || v > math.MaxInt32 {
		d.fail("length %d, %d bytes remain", v, len(d.b)-d.off)
		return 0
	}
	return int(v)
}

func (d *decoder) skip(n int) {
	if d.err == nil {
		d.off += n
	}
}
