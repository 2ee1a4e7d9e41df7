// Package mp reads and writes the subset of MessagePack that Fengqiao's own formats use (ops,
// case state, frames).
//
// Every reader here treats its input as hostile: each declared length is checked against the
// bytes left before anything is allocated, so a 14-byte input that declares a 2^31-element
// array is an error, not an out-of-memory kill. Writers produce one canonical encoding per
// value (always the shortest form, as msgpack/v5 writes it), which hashes and signatures
// rely on.
package mp

import (
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ErrMalformed marks input that is not a well-formed encoding of what was expected.
var ErrMalformed = errors.New("malformed msgpack")

// Reader decodes values from a byte slice, checking every declared length. It parses the
// bytes itself rather than through msgpack.Decoder: a Decoder allocates per use and trusts
// declared lengths, and the replica decodes several values per op on its hot path. Values
// returned by Bytes and Raw alias the input, which must not change while they are in use.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader returns a Reader over b. The Reader does not copy b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset makes the reader read b from the start, clearing any error.
func (rd *Reader) Reset(b []byte) { *rd = Reader{b: b} }

// Err returns the first error met, wrapped around ErrMalformed.
func (rd *Reader) Err() error { return rd.err }

// Remaining returns the number of unread bytes.
func (rd *Reader) Remaining() int { return len(rd.b) - rd.off }

// Failf records an error found by the caller's own checks (an out-of-range value, say).
func (rd *Reader) Failf(format string, args ...any) {
	if rd.err == nil {
		rd.err = fmt.Errorf("%w: %s (at byte %d)", ErrMalformed, fmt.Sprintf(format, args...), rd.off)
	}
}

// peek returns the next code byte without consuming it.
func (rd *Reader) peek() (byte, bool) {
	if rd.err != nil {
		return 0, false
	}
	if rd.off >= len(rd.b) {
		rd.Failf("unexpected end of input")
		return 0, false
	}
	return rd.b[rd.off], true
}

// take consumes n bytes, failing if fewer are left.
func (rd *Reader) take(n int) []byte {
	if rd.err != nil {
		return nil
	}
	if n < 0 || n > len(rd.b)-rd.off {
		rd.Failf("%d bytes declared, %d left", n, len(rd.b)-rd.off)
		return nil
	}
	out := rd.b[rd.off : rd.off+n : rd.off+n]
	rd.off += n
	return out
}

func (rd *Reader) be(n int) uint64 {
	b := rd.take(n)
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// ArrayLen reads an array header. The length must be at most max and at most the bytes left
// (every element takes at least one byte). Nil reads as 0.
func (rd *Reader) ArrayLen(max int) int {
	c, ok := rd.peek()
	if !ok {
		return 0
	}
	rd.off++
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
	case c == msgpcode.Array16:
		n = rd.be(2)
	case c == msgpcode.Array32:
		n = rd.be(4)
	case c == msgpcode.Nil:
		return 0
	default:
		rd.off--
		rd.Failf("want an array, got code 0x%02x", c)
		return 0
	}
	if rd.err != nil {
		return 0
	}
	if n > uint64(max) || n > uint64(rd.Remaining()) {
		rd.Failf("array of %d elements declared, %d allowed, %d bytes left", n, max, rd.Remaining())
		return 0
	}
	return int(n)
}

// ExpectArray reads an array header that must declare at least min elements; it returns the
// declared length so that newer encodings with extra trailing elements can be skipped.
func (rd *Reader) ExpectArray(min, max int) int {
	n := rd.ArrayLen(max)
	if rd.err == nil && n < min {
		rd.Failf("array of %d elements, want at least %d", n, min)
	}
	return n
}

// strOrBin reads a str or bin header and returns its payload (nil for nil).
func (rd *Reader) strOrBin(max int) []byte {
	c, ok := rd.peek()
	if !ok {
		return nil
	}
	rd.off++
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == msgpcode.Str8 || c == msgpcode.Bin8:
		n = rd.be(1)
	case c == msgpcode.Str16 || c == msgpcode.Bin16:
		n = rd.be(2)
	case c == msgpcode.Str32 || c == msgpcode.Bin32:
		n = rd.be(4)
	case c == msgpcode.Nil:
		return nil
	default:
		rd.off--
		rd.Failf("want a string, got code 0x%02x", c)
		return nil
	}
	if rd.err == nil && n > uint64(max) {
		rd.Failf("string of %d bytes declared, %d allowed", n, max)
		return nil
	}
	return rd.take(int(min(n, uint64(len(rd.b)))))
}

// String reads a str (or bin) of at most max bytes. Nil reads as "".
func (rd *Reader) String(max int) string { return string(rd.strOrBin(max)) }

// Bytes reads a bin (or str) of at most max bytes. Nil reads as nil. The result aliases the
// input.
func (rd *Reader) Bytes(max int) []byte { return rd.strOrBin(max) }

// integer reads any msgpack integer as a sign and magnitude.
func (rd *Reader) integer() (neg bool, mag uint64) {
	c, ok := rd.peek()
	if !ok {
		return false, 0
	}
	rd.off++
	switch {
	case c <= 0x7f:
		return false, uint64(c)
	case c >= 0xe0:
		return true, uint64(-int64(int8(c)))
	case c == msgpcode.Uint8:
		return false, rd.be(1)
	case c == msgpcode.Uint16:
		return false, rd.be(2)
	case c == msgpcode.Uint32:
		return false, rd.be(4)
	case c == msgpcode.Uint64:
		return false, rd.be(8)
	case c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64:
		width := 1 << (c - msgpcode.Int8) // Int8..Int64 are consecutive codes: 1, 2, 4, 8 bytes
		v := rd.be(width)
		shift := 64 - 8*uint(width)
		x := int64(v<<shift) >> shift
		if x < 0 {
			return true, uint64(-x)
		}
		return false, uint64(x)
	}
	rd.off--
	rd.Failf("want an integer, got code 0x%02x", c)
	return false, 0
}

// Uint reads a non-negative integer.
func (rd *Reader) Uint() uint64 {
	neg, v := rd.integer()
	if neg && v != 0 {
		rd.Failf("negative value where an unsigned one is expected")
		return 0
	}
	return v
}

// Int reads a signed integer.
func (rd *Reader) Int() int64 {
	neg, v := rd.integer()
	if neg {
		if v > 1<<63 {
			rd.Failf("integer out of range")
			return 0
		}
		return -int64(v)
	}
	if v > 1<<63-1 {
		rd.Failf("integer out of range")
		return 0
	}
	return int64(v)
}

// Bool reads a boolean.
func (rd *Reader) Bool() bool {
	c, ok := rd.peek()
	if !ok {
		return false
	}
	switch c {
	case msgpcode.True:
		rd.off++
		return true
	case msgpcode.False:
		rd.off++
		return false
	}
	rd.Failf("want a boolean, got code 0x%02x", c)
	return false
}

// Raw reads one complete value of any type and returns its encoding (aliasing the input).
// Nesting depth and every declared length are checked.
func (rd *Reader) Raw() []byte {
	start := rd.off
	rd.skip(0)
	if rd.err != nil {
		return nil
	}
	return rd.b[start:rd.off:rd.off]
}

// Skip reads and discards one complete value.
func (rd *Reader) Skip() { rd.skip(0) }

const maxDepth = 32

func (rd *Reader) skip(depth int) {
	c, ok := rd.peek()
	if !ok {
		return
	}
	if depth > maxDepth {
		rd.Failf("nesting deeper than %d", maxDepth)
		return
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == msgpcode.Nil || c == msgpcode.True || c == msgpcode.False:
		rd.off++
	case (c >= 0x90 && c <= 0x9f) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n := rd.ArrayLen(rd.Remaining())
		for i := 0; i < n && rd.err == nil; i++ {
			rd.skip(depth + 1)
		}
	case (c >= 0x80 && c <= 0x8f) || c == msgpcode.Map16 || c == msgpcode.Map32:
		rd.off++
		var n uint64
		switch c {
		case msgpcode.Map16:
			n = rd.be(2)
		case msgpcode.Map32:
			n = rd.be(4)
		default:
			n = uint64(c & 0x0f)
		}
		if rd.err == nil && n > uint64(rd.Remaining()/2) {
			rd.Failf("map of %d entries declared, %d bytes left", n, rd.Remaining())
			return
		}
		for i := uint64(0); i < 2*n && rd.err == nil; i++ {
			rd.skip(depth + 1)
		}
	case (c >= 0xa0 && c <= 0xbf) || c == msgpcode.Str8 || c == msgpcode.Str16 || c == msgpcode.Str32 ||
		c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		rd.strOrBin(rd.Remaining())
	case c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 || c == msgpcode.Uint64 ||
		c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64:
		rd.integer()
	case c == msgpcode.Float:
		rd.off++
		rd.take(4)
	case c == msgpcode.Double:
		rd.off++
		rd.take(8)
	default:
		rd.Failf("code 0x%02x is not used by this format", c)
	}
}

// NextIsString reports whether the next value is a str.
func (rd *Reader) NextIsString() bool {
	c, ok := rd.peek()
	return ok && ((c >= 0xa0 && c <= 0xbf) || c == msgpcode.Str8 || c == msgpcode.Str16 || c == msgpcode.Str32)
}

// PeekNil reports whether the next value is nil.
func (rd *Reader) PeekNil() bool {
	c, ok := rd.peek()
	return ok && c == msgpcode.Nil
}

// Writer encodes values canonically into a growing buffer: every value in its shortest form,
// byte for byte what msgpack/v5's Encoder writes (TestWriter_Property_AsMsgpack), appended
// directly rather than through the Encoder's buffered writer and interface calls, since the
// replica encodes several values per op on its hot path.
type Writer struct {
	buf []byte
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer { return &Writer{} }

// Reset empties the writer, keeping its buffer.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// Bytes returns the encoding so far. It aliases the writer's buffer until the next write.
func (w *Writer) Bytes() []byte { return w.buf }

// Len returns the number of bytes written.
func (w *Writer) Len() int { return len(w.buf) }

// code1, code2 and code4 append a type code followed by a big-endian length or number.
func (w *Writer) code1(c byte, v uint8) { w.buf = append(w.buf, c, v) }
func (w *Writer) code2(c byte, v uint16) {
	w.buf = append(w.buf, c, byte(v>>8), byte(v))
}
func (w *Writer) code4(c byte, v uint32) {
	w.buf = append(w.buf, c, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
func (w *Writer) code8(c byte, v uint64) {
	w.buf = append(w.buf, c, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// ArrayLen writes an array header.
func (w *Writer) ArrayLen(n int) {
	switch {
	case n < 16:
		w.buf = append(w.buf, msgpcode.FixedArrayLow|byte(n))
	case n <= 0xffff:
		w.code2(msgpcode.Array16, uint16(n))
	default:
		w.code4(msgpcode.Array32, uint32(n))
	}
}

// String writes a str.
func (w *Writer) String(s string) {
	switch n := len(s); {
	case n < 32:
		w.buf = append(w.buf, msgpcode.FixedStrLow|byte(n))
	case n < 256:
		w.code1(msgpcode.Str8, uint8(n))
	case n <= 0xffff:
		w.code2(msgpcode.Str16, uint16(n))
	default:
		w.code4(msgpcode.Str32, uint32(n))
	}
	w.buf = append(w.buf, s...)
}

// Bin writes a bin (nil for a nil slice, as msgpack/v5 does).
func (w *Writer) Bin(b []byte) {
	switch n := len(b); {
	case b == nil:
		w.Nil()
		return
	case n < 256:
		w.code1(msgpcode.Bin8, uint8(n))
	case n <= 0xffff:
		w.code2(msgpcode.Bin16, uint16(n))
	default:
		w.code4(msgpcode.Bin32, uint32(n))
	}
	w.buf = append(w.buf, b...)
}

// Uint writes an unsigned integer in its shortest form.
func (w *Writer) Uint(v uint64) {
	switch {
	case v <= 0x7f:
		w.buf = append(w.buf, byte(v))
	case v <= 0xff:
		w.code1(msgpcode.Uint8, uint8(v))
	case v <= 0xffff:
		w.code2(msgpcode.Uint16, uint16(v))
	case v <= 0xffffffff:
		w.code4(msgpcode.Uint32, uint32(v))
	default:
		w.code8(msgpcode.Uint64, v)
	}
}

// Int writes a signed integer in its shortest form.
func (w *Writer) Int(v int64) {
	switch {
	case v >= 0:
		w.Uint(uint64(v))
	case v >= -32:
		w.buf = append(w.buf, byte(v))
	case v >= -128:
		w.code1(msgpcode.Int8, uint8(v))
	case v >= -32768:
		w.code2(msgpcode.Int16, uint16(v))
	case v >= -1<<31:
		w.code4(msgpcode.Int32, uint32(v))
	default:
		w.code8(msgpcode.Int64, uint64(v))
	}
}

// Bool writes a boolean.
func (w *Writer) Bool(v bool) {
	if v {
		w.buf = append(w.buf, msgpcode.True)
	} else {
		w.buf = append(w.buf, msgpcode.False)
	}
}

// Nil writes nil.
func (w *Writer) Nil() { w.buf = append(w.buf, msgpcode.Nil) }

// Raw appends an already encoded value.
func (w *Writer) Raw(b []byte) { w.buf = append(w.buf, b...) }

var writers = sync.Pool{New: func() any { return NewWriter() }}

// Encode runs fill on a pooled Writer and returns a copy of what it wrote: the way to encode
// one value without allocating an encoder each time.
func Encode(fill func(w *Writer)) []byte {
	w := writers.Get().(*Writer)
	w.Reset()
	fill(w)
	out := append([]byte(nil), w.Bytes()...)
	writers.Put(w)
	return out
}
