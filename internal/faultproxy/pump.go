package faultproxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// maxHeader bounds the HTTP header block read in each direction before the frames start.
const maxHeader = 64 << 10

// readChunk is how much of a frame's payload is read at a time, so that memory grows with the
// bytes that arrive, not with the length a header declares.
const readChunk = 64 << 10

var (
	errHeaderTooLarge = errors.New("faultproxy: HTTP header block over 64 KiB")
	errTooLarge       = errors.New("faultproxy: frame or message over MaxPayload")
	errMalformed      = errors.New("faultproxy: malformed frame")
	errCut            = errors.New("faultproxy: connection cut")
	errClosed         = errors.New("faultproxy: connection closed")
)

// span locates one frame inside a message's bytes.
type span struct {
	start, hdr, size int // offset, header length, total length (header + payload)
}

// message is the raw bytes of a run of frames, forwarded as they were read.
type message struct {
	buf     []byte
	spans   []span
	payload int64
}

// pump forwards one direction of a connection, applying that direction's faults. Everything
// but busy belongs to the pump's goroutine.
type pump struct {
	c        *conn
	dir      Direction
	src, dst net.Conn
	br       *bufio.Reader
	rng      *rand.Rand
	st       *dirCounters
	held     *message  // a message Reorder holds back
	cur      *message  // data frames read so far of a message without its FIN frame
	pace     time.Time // when the throttled link is next free

	busy atomic.Bool // a frame is in flight: read in part or not yet written
}

func newPump(c *conn, dir Direction, src, dst net.Conn) *pump {
	return &pump{
		c: c, dir: dir, src: src, dst: dst,
		br:  bufio.NewReaderSize(src, 32<<10),
		rng: rand.New(rand.NewPCG(c.p.opts.Seed, c.id<<1|uint64(dir))),
		st:  &c.p.dir[dir],
	}
}

// run forwards until either side fails. A clean end of the sender's stream is passed on as a
// half close; anything else closes the whole connection.
func (pu *pump) run() {
	err := pu.serve()
	if errors.Is(err, io.EOF) {
		if pu.held != nil {
			m := pu.held
			pu.held = nil
			if pu.writeMessage(m) != nil {
				pu.c.close()
				return
			}
			pu.st.forwarded.Add(1)
		}
		if tc, ok := pu.dst.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
			return
		}
	}
	if errors.Is(err, errTooLarge) || errors.Is(err, errMalformed) || errors.Is(err, errHeaderTooLarge) {
		pu.c.p.violations.Add(1)
	}
	pu.c.close()
}

// serve passes the HTTP header block through, then frames when both sides agreed on a
// websocket upgrade, or raw bytes otherwise (a refused upgrade, a plain HTTP request).
func (pu *pump) serve() error {
	if pu.c.p.opts.Raw {
		return pu.raw()
	}
	hdr, err := pu.readHeader()
	if err != nil {
		return err
	}
	if err := pu.write(hdr, nil); err != nil {
		return err
	}
	if pu.dir == ServerToClient {
		ok := isUpgradeResponse(hdr)
		pu.c.verdict <- ok
		if !ok {
			return pu.raw()
		}
		return pu.frames()
	}
	if !isUpgradeRequest(hdr) {
		return pu.raw()
	}
	select {
	case ok := <-pu.c.verdict:
		if !ok {
			return pu.raw()
		}
	case <-pu.c.done:
		return errClosed
	}
	return pu.frames()
}

// readHeader reads up to and including the blank line that ends an HTTP header block.
func (pu *pump) readHeader() ([]byte, error) {
	var hdr []byte
	for {
		b, err := pu.br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && len(hdr) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		hdr = append(hdr, b)
		if b == '\n' && (bytes.HasSuffix(hdr, []byte("\r\n\r\n")) || bytes.HasSuffix(hdr, []byte("\n\n"))) {
			return hdr, nil
		}
		if len(hdr) >= maxHeader {
			return nil, errHeaderTooLarge
		}
	}
}

// headerHas reports whether the header block has a field name whose comma-separated value
// list contains token, case-insensitively.
func headerHas(hdr []byte, name, token string) bool {
	lines := bytes.Split(hdr, []byte("\n"))
	for _, l := range lines[1:] {
		k, v, ok := bytes.Cut(bytes.TrimRight(l, "\r"), []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) {
			continue
		}
		for _, t := range bytes.Split(v, []byte(",")) {
			if bytes.EqualFold(bytes.TrimSpace(t), []byte(token)) {
				return true
			}
		}
	}
	return false
}

func isUpgradeRequest(hdr []byte) bool { return headerHas(hdr, "Upgrade", "websocket") }

func isUpgradeResponse(hdr []byte) bool {
	status, _, _ := bytes.Cut(hdr, []byte("\n"))
	f := bytes.Fields(status)
	return len(f) >= 2 && bytes.HasPrefix(f[0], []byte("HTTP/1.")) && string(f[1]) == "101" &&
		headerHas(hdr, "Upgrade", "websocket")
}

// raw copies bytes unparsed and unfaulted, but throttled and cuttable.
func (pu *pump) raw() error {
	buf := make([]byte, 32<<10)
	for {
		n, err := pu.br.Read(buf)
		if n > 0 {
			if werr := pu.write(buf[:n], nil); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

// frames forwards websocket frames: control frames at once, data frames as whole messages
// through the faults.
func (pu *pump) frames() error {
	for {
		if err := pu.await(); err != nil {
			return err
		}
		fh, err := pu.readFrameHeader()
		if err != nil {
			return err
		}
		if fh.control {
			// Forwarded at once, even between the fragments of a data message.
			m := &message{}
			if err := pu.readPayload(m, fh); err != nil {
				return err
			}
			if err := pu.writeMessage(m); err != nil {
				return err
			}
			pu.st.control.Add(1)
			continue
		}
		if pu.cur == nil {
			pu.cur = &message{}
		}
		if pu.cur.payload+fh.n > pu.c.p.opts.MaxPayload {
			return errTooLarge
		}
		if err := pu.readPayload(pu.cur, fh); err != nil {
			return err
		}
		if !fh.fin {
			continue
		}
		m := pu.cur
		pu.cur = nil
		if err := pu.message(m); err != nil {
			return err
		}
	}
}

// await blocks until the next frame's first byte arrives. With no message partly read, the
// pump is idle meanwhile; with a message held back, it waits at most ReorderWindow and then
// sends the held message alone.
func (pu *pump) await() error {
	for {
		if pu.cur == nil {
			pu.busy.Store(false)
			if pu.c.cutting.Load() && pu.c.idle() {
				pu.c.close()
				return errCut
			}
		}
		if pu.held != nil {
			pu.src.SetReadDeadline(time.Now().Add(pu.c.p.opts.ReorderWindow))
		}
		_, err := pu.br.Peek(1)
		if pu.held != nil {
			pu.src.SetReadDeadline(time.Time{})
		}
		switch {
		case err == nil:
			pu.busy.Store(true)
			return nil
		case pu.held != nil && errors.Is(err, os.ErrDeadlineExceeded):
			m := pu.held
			pu.held = nil
			pu.busy.Store(true)
			if err := pu.writeMessage(m); err != nil {
				return err
			}
			pu.st.forwarded.Add(1)
		case errors.Is(err, io.EOF) && pu.cur != nil:
			return io.ErrUnexpectedEOF
		default:
			return err
		}
	}
}

// frameHeader is a parsed frame header and its raw bytes.
type frameHeader struct {
	raw          [14]byte
	hl           int   // header length
	n            int64 // declared payload length
	fin, control bool
}

// readFrameHeader reads and checks one frame header. It rejects a declared length over
// MaxPayload before anything is allocated for the payload.
func (pu *pump) readFrameHeader() (frameHeader, error) {
	var fh frameHeader
	h := fh.raw[:]
	if _, err := io.ReadFull(pu.br, h[:2]); err != nil {
		return fh, err
	}
	fh.fin = h[0]&0x80 != 0
	fh.control = h[0]&0x08 != 0
	masked := h[1]&0x80 != 0
	fh.n, fh.hl = int64(h[1]&0x7f), 2
	switch fh.n {
	case 126:
		if _, err := io.ReadFull(pu.br, h[2:4]); err != nil {
			return fh, eofMid(err)
		}
		fh.n, fh.hl = int64(binary.BigEndian.Uint16(h[2:4])), 4
	case 127:
		if _, err := io.ReadFull(pu.br, h[2:10]); err != nil {
			return fh, eofMid(err)
		}
		u := binary.BigEndian.Uint64(h[2:10])
		if u>>63 != 0 {
			return fh, errMalformed
		}
		fh.n, fh.hl = int64(u), 10
	}
	if masked {
		if _, err := io.ReadFull(pu.br, h[fh.hl:fh.hl+4]); err != nil {
			return fh, eofMid(err)
		}
		fh.hl += 4
	}
	if fh.control && (fh.n > 125 || !fh.fin) {
		return fh, errMalformed
	}
	if fh.n > pu.c.p.opts.MaxPayload {
		return fh, errTooLarge
	}
	return fh, nil
}

// readPayload appends the frame (header and payload) to m. Memory grows with the bytes that
// arrive, a chunk at a time, not with the declared length.
func (pu *pump) readPayload(m *message, fh frameHeader) error {
	start := len(m.buf)
	m.buf = append(m.buf, fh.raw[:fh.hl]...)
	for left := fh.n; left > 0; {
		k := int(min(left, readChunk))
		l := len(m.buf)
		m.buf = slices.Grow(m.buf, k)[:l+k]
		if _, err := io.ReadFull(pu.br, m.buf[l:]); err != nil {
			return eofMid(err)
		}
		left -= int64(k)
	}
	m.spans = append(m.spans, span{start: start, hdr: fh.hl, size: fh.hl + int(fh.n)})
	m.payload += fh.n
	return nil
}

func eofMid(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// message applies the direction's faults to a whole data message.
func (pu *pump) message(m *message) error {
	f := *pu.c.p.faults[pu.dir].Load()
	pu.st.messages.Add(1)
	// Draw every number each time, so that the sequence does not depend on which faults fire.
	drop, dup, reorder := pu.rng.Float64(), pu.rng.Float64(), pu.rng.Float64()
	var delay time.Duration
	if f.Delay > 0 {
		delay = time.Duration(pu.rng.Int64N(int64(f.Delay) + 1))
	}
	held := pu.held
	switch {
	case drop < f.Drop:
		pu.st.dropped.Add(1)
		m = nil
	case held == nil && reorder < f.Reorder:
		pu.st.reordered.Add(1)
		pu.held = m
		return nil
	}
	pu.held = nil
	if m == nil && held == nil {
		return nil
	}
	if err := pu.sleep(delay); err != nil {
		return err
	}
	if m != nil {
		if err := pu.writeMessage(m); err != nil {
			return err
		}
		pu.st.forwarded.Add(1)
		if dup < f.Duplicate {
			pu.st.duplicated.Add(1)
			if err := pu.writeMessage(m); err != nil {
				return err
			}
		}
	}
	if held != nil {
		if err := pu.writeMessage(held); err != nil {
			return err
		}
		pu.st.forwarded.Add(1)
	}
	return nil
}

// sleep waits d, returning early (nil) when the connection is to be cut, so that the cut
// happens on the message that waited.
func (pu *pump) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-pu.c.cutCh:
		return nil
	case <-pu.c.done:
		return errClosed
	}
}

func (pu *pump) writeMessage(m *message) error { return pu.write(m.buf, m.spans) }

// write writes buf, whose frames spans locates, at the direction's bandwidth. Once the
// connection is to be cut, it writes only up to the middle of the frame at hand and closes
// the connection.
func (pu *pump) write(buf []byte, spans []span) error {
	for off := 0; off < len(buf); {
		if pu.c.cutting.Load() {
			return pu.truncate(buf, spans, off)
		}
		n := len(buf) - off
		bw := pu.c.p.faults[pu.dir].Load().Bandwidth
		if bw > 0 {
			n = min(n, max(bw/20, 64), 16<<10)
			if wait := time.Until(pu.pace); wait > 0 {
				if err := pu.sleep(wait); err != nil {
					return err
				}
				if pu.c.cutting.Load() {
					continue
				}
			}
		}
		w, err := pu.dst.Write(buf[off : off+n])
		pu.st.bytes.Add(int64(w))
		off += w
		if err != nil {
			return err
		}
		if bw > 0 {
			pu.pace = later(pu.pace, time.Now()).Add(time.Duration(int64(n) * int64(time.Second) / int64(bw)))
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// truncate writes buf[off:] only up to a point strictly inside the frame at off (past its
// header when it has a payload), then closes the connection.
func (pu *pump) truncate(buf []byte, spans []span, off int) error {
	cut := off
	for _, s := range spans {
		end := s.start + s.size
		if end <= off {
			continue
		}
		mid := s.start + s.hdr + (s.size-s.hdr)/2
		cut = max(min(max(mid, off+1), end-1), off)
		break
	}
	if cut > off {
		w, _ := pu.dst.Write(buf[off:cut])
		pu.st.bytes.Add(int64(w))
	}
	pu.c.close()
	return errCut
}
