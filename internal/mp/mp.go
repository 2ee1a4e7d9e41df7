// Package mp reads and writes the subset of MessagePack that Fengqiao's own formats use (ops,
// case state, frames), over github.com/vmihailenco/msgpack/v5.
//
// Every reader here treats its input as hostile: each declared length is checked against the
// bytes left before anything is allocated, so a 14-byte input that declares a 2^31-element
// array is an error, not an out-of-memory kill. Writers produce one canonical encoding per
// value (msgpack/v5 always picks the shortest form), which hashes and signatures rely on.
package mp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ErrMalformed marks input that is not a well-formed encoding of what was expected.
var ErrMalformed = errors.New("malformed msgpack")

// Reader decodes values from a byte slice, checking every declared length.
type Reader struct {
	r   bytes.Reader
	dec *msgpack.Decoder
	err error
}

// NewReader returns a Reader over b. The Reader does not copy b.
func NewReader(b []byte) *Reader {
	rd := &Reader{}
	rd.r.Reset(b)
	rd.dec = msgpack.NewDecoder(&rd.r)
	return rd
}

// Reset makes the reader read b from the start, clearing any error.
func (rd *Reader) Reset(b []byte) {
	rd.r.Reset(b)
	rd.dec.Reset(&rd.r)
	rd.err = nil
}

// Err returns the first error met, wrapped around ErrMalformed.
func (rd *Reader) Err() error { return rd.err }

// Remaining returns the number of unread bytes.
func (rd *Reader) Remaining() int { return rd.r.Len() }

func (rd *Reader) fail(what string, err error) {
	if rd.err == nil {
		rd.err = fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
}

// Failf records an error found by the caller's own checks (an out-of-range value, say).
func (rd *Reader) Failf(format string, args ...any) {
	if rd.err == nil {
		rd.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

// ArrayLen reads an array header. The length must be at most max and at most the bytes left
// (every element takes at least one byte). Nil reads as 0.
func (rd *Reader) ArrayLen(max int) int {
	if rd.err != nil {
		return 0
	}
	n, err := rd.dec.DecodeArrayLen()
	if err != nil {
		rd.fail("array header", err)
		return 0
	}
	if n < 0 {
		return 0
	}
	if n > max || n > rd.r.Len() {
		rd.Failf("array of %d elements declared, %d allowed, %d bytes left", n, max, rd.r.Len())
		return 0
	}
	return n
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

// bytesLen peeks at a str or bin header and checks its length.
func (rd *Reader) checkLen(max int) bool {
	if rd.err != nil {
		return false
	}
	c, err := rd.dec.PeekCode()
	if err != nil {
		rd.fail("peek", err)
		return false
	}
	var n int
	b := rd.r.Len()
	switch {
	case msgpcode.IsFixedString(c):
		n = int(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8 || c == msgpcode.Bin8:
		n = rd.peekUint(1)
	case c == msgpcode.Str16 || c == msgpcode.Bin16:
		n = rd.peekUint(2)
	case c == msgpcode.Str32 || c == msgpcode.Bin32:
		n = rd.peekUint(4)
	case c == msgpcode.Nil:
		return true
	default:
		rd.Failf("want str or bin, got code 0x%02x", c)
		return false
	}
	if n > max || n > b {
		rd.Failf("string of %d bytes declared, %d allowed, %d bytes left", n, max, b)
		return false
	}
	return true
}

func (rd *Reader) peekUint(width int) int {
	off := int(rd.r.Size()) - rd.r.Len() + 1
	var buf [4]byte
	if _, err := rd.r.ReadAt(buf[:width], int64(off)); err != nil {
		return 1 << 62
	}
	n := 0
	for i := 0; i < width; i++ {
		n = n<<8 | int(buf[i])
	}
	return n
}

// String reads a str (or bin) of at most max bytes. Nil reads as "".
func (rd *Reader) String(max int) string {
	if !rd.checkLen(max) {
		return ""
	}
	s, err := rd.dec.DecodeString()
	if err != nil {
		rd.fail("string", err)
	}
	return s
}

// Bytes reads a bin (or str) of at most max bytes. Nil reads as nil.
func (rd *Reader) Bytes(max int) []byte {
	if !rd.checkLen(max) {
		return nil
	}
	b, err := rd.dec.DecodeBytes()
	if err != nil {
		rd.fail("bytes", err)
	}
	return b
}

// Uint reads an unsigned integer.
func (rd *Reader) Uint() uint64 {
	if rd.err != nil {
		return 0
	}
	v, err := rd.dec.DecodeUint64()
	if err != nil {
		rd.fail("uint", err)
	}
	return v
}

// Int reads a signed integer.
func (rd *Reader) Int() int64 {
	if rd.err != nil {
		return 0
	}
	v, err := rd.dec.DecodeInt64()
	if err != nil {
		rd.fail("int", err)
	}
	return v
}

// Bool reads a boolean.
func (rd *Reader) Bool() bool {
	if rd.err != nil {
		return false
	}
	v, err := rd.dec.DecodeBool()
	if err != nil {
		rd.fail("bool", err)
	}
	return v
}

// Raw reads one complete value of any type and returns its encoding (sharing the input).
// Nesting depth and every declared length are checked.
func (rd *Reader) Raw() []byte {
	if rd.err != nil {
		return nil
	}
	start := int(rd.r.Size()) - rd.r.Len()
	rd.skip(0)
	if rd.err != nil {
		return nil
	}
	end := int(rd.r.Size()) - rd.r.Len()
	buf := make([]byte, end-start)
	_, _ = rd.r.ReadAt(buf, int64(start))
	return buf
}

// Skip reads and discards one complete value.
func (rd *Reader) Skip() { rd.skip(0) }

const maxDepth = 32

func (rd *Reader) skip(depth int) {
	if rd.err != nil {
		return
	}
	if depth > maxDepth {
		rd.Failf("nesting deeper than %d", maxDepth)
		return
	}
	c, err := rd.dec.PeekCode()
	if err != nil {
		rd.fail("peek", err)
		return
	}
	switch {
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n := rd.ArrayLen(rd.r.Len())
		for i := 0; i < n && rd.err == nil; i++ {
			rd.skip(depth + 1)
		}
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := rd.dec.DecodeMapLen()
		if err != nil {
			rd.fail("map header", err)
			return
		}
		if n > rd.r.Len()/2 {
			rd.Failf("map of %d entries declared, %d bytes left", n, rd.r.Len())
			return
		}
		for i := 0; i < 2*n && rd.err == nil; i++ {
			rd.skip(depth + 1)
		}
	case msgpcode.IsString(c) || msgpcode.IsBin(c):
		if rd.checkLen(rd.r.Len()) {
			if _, err := rd.dec.DecodeBytes(); err != nil {
				rd.fail("bytes", err)
			}
		}
	case msgpcode.IsExt(c):
		rd.Failf("extension types are not used")
	default:
		if err := rd.dec.Skip(); err != nil {
			rd.fail("scalar", err)
		}
	}
}

// Writer encodes values canonically into a growing buffer.
type Writer struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	w := &Writer{}
	w.enc = msgpack.NewEncoder(&w.buf)
	return w
}

// Reset empties the writer, keeping its buffer.
func (w *Writer) Reset() { w.buf.Reset() }

// Bytes returns the encoding so far. It aliases the writer's buffer until the next write.
func (w *Writer) Bytes() []byte { return w.buf.Bytes() }

// Len returns the number of bytes written.
func (w *Writer) Len() int { return w.buf.Len() }

// ArrayLen writes an array header. Writes to a bytes.Buffer cannot fail, so the encoder's
// errors are ignored throughout.
func (w *Writer) ArrayLen(n int) { _ = w.enc.EncodeArrayLen(n) }

// String writes a str.
func (w *Writer) String(s string) { _ = w.enc.EncodeString(s) }

// Bytes writes a bin.
func (w *Writer) Bin(b []byte) { _ = w.enc.EncodeBytes(b) }

// Uint writes an unsigned integer in its shortest form.
func (w *Writer) Uint(v uint64) { _ = w.enc.EncodeUint(v) }

// Int writes a signed integer in its shortest form.
func (w *Writer) Int(v int64) { _ = w.enc.EncodeInt(v) }

// Bool writes a boolean.
func (w *Writer) Bool(v bool) { _ = w.enc.EncodeBool(v) }

// Nil writes nil.
func (w *Writer) Nil() { _ = w.enc.EncodeNil() }

// Raw appends an already encoded value.
func (w *Writer) Raw(b []byte) { w.buf.Write(b) }

// NextIsString reports whether the next value is a str.
func (rd *Reader) NextIsString() bool {
	if rd.err != nil {
		return false
	}
	c, err := rd.dec.PeekCode()
	return err == nil && msgpcode.IsString(c)
}

// PeekNil reports whether the next value is nil.
func (rd *Reader) PeekNil() bool {
	if rd.err != nil {
		return false
	}
	c, err := rd.dec.PeekCode()
	return err == nil && c == msgpcode.Nil
}
