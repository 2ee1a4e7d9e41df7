package sync

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// Protocol versions. A hub accepts every version ever released (Versions); the two ends
// agree on the highest they share.
const ProtocolVersion = 1

// Versions lists every protocol version this build speaks, oldest first.
var Versions = []uint64{1}

// Frame codes: the first element of every frame's msgpack array.
const (
	codeHello     = 1
	codeChallenge = 2
	codeProve     = 3
	codeReady     = 4
	codeBatch     = 5
	codeAck       = 6
	codeCaughtUp  = 7
	codePing      = 8
	codePong      = 9
	codeError     = 10
)

// Limits on what a peer may declare. A frame beyond them is refused before anything is
// allocated for it.
const (
	MaxFrameBytes   = 4 << 20  // one websocket message
	MaxBatchRaw     = 16 << 20 // a batch's payload after decompression
	MaxBatchEntries = 20000
	maxIDLen        = 64
	maxStreamLen    = 2 * maxIDLen // "a" + a station id, "r" + a region code
	maxVersions     = 32
	maxStreams      = 64
	maxHeads        = 64
	maxMessage      = 1024
	nonceSize       = 32
)

// ErrFrame marks a frame that is malformed or breaks a limit.
var ErrFrame = errors.New("bad frame")

// hello opens a session: the dialing node says who it is and which versions it speaks.
type hello struct {
	Versions []uint64
	Node     string
	Key      ed25519.PublicKey
	Nonce    []byte
}

// challenge is the hub's answer: the version chosen, who it is, its own nonce, its
// signature over the transcript so far, and the streams (scopes) it will serve the node.
type challenge struct {
	Version uint64
	Hub     string
	Key     ed25519.PublicKey
	Nonce   []byte
	Sig     []byte
	Streams []string
}

// prove is the node's signature over the transcript, and where it stands in each stream.
type prove struct {
	Sig         []byte
	Checkpoints []streamCheckpoint
}

type streamCheckpoint struct {
	Stream string
	Epoch  string
	Pos    uint64
}

// ready ends the handshake: where the hub stands in the node's feed, and the window.
type ready struct {
	Epoch  string
	Pos    uint64
	Window uint64
}

// batchFrame carries ops of one stream. To is the stream position after the batch;
// Epoch the sender's feed epoch. Payload is the entries, compressed when Codec is 1.
type batchFrame struct {
	Seq     uint64
	Stream  string
	Epoch   string
	To      uint64
	Heads   []node.SignedHead
	Codec   uint64
	Count   uint64
	RawLen  uint64
	Payload []byte
}

// Error codes carried by error frames.
const (
	ErrCodeBadFrame    = 1  // malformed frame, or a limit broken
	ErrCodeVersion     = 2  // no protocol version in common
	ErrCodeUnknownNode = 3  // not enrolled at this hub
	ErrCodeRevoked     = 4  // enrollment revoked
	ErrCodeBadKey      = 5  // key or signature does not match the enrollment
	ErrCodeProtocol    = 6  // unexpected frame, or a batch out of sequence
	ErrCodeIntegrity   = 7  // chain broken, forged head or origin: nothing applied
	ErrCodeBusy        = 8  // too many sessions; try again later
	ErrCodeInternal    = 9  // the receiver failed to apply; try again later
	ErrCodeReplaced    = 10 // a newer session of the same node took over
	ErrCodeShutdown    = 11 // the peer is stopping
)

// RemoteError is an error frame received from the peer.
type RemoteError struct {
	Code    uint64
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("peer refused (code %d): %s", e.Code, e.Message)
}

// localError is an error this end reports to its peer in an error frame before closing.
type localError struct {
	code uint64
	err  error
}

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

func failf(code uint64, format string, args ...any) error {
	return &localError{code: code, err: fmt.Errorf(format, args...)}
}

func encodeHello(h hello) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(5)
		w.Uint(codeHello)
		w.ArrayLen(len(h.Versions))
		for _, v := range h.Versions {
			w.Uint(v)
		}
		w.String(h.Node)
		w.Bin(h.Key)
		w.Bin(h.Nonce)
	})
}

func encodeChallenge(c challenge) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(7)
		w.Uint(codeChallenge)
		w.Uint(c.Version)
		w.String(c.Hub)
		w.Bin(c.Key)
		w.Bin(c.Nonce)
		w.Bin(c.Sig)
		w.ArrayLen(len(c.Streams))
		for _, s := range c.Streams {
			w.String(s)
		}
	})
}

func encodeProve(p prove) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(3)
		w.Uint(codeProve)
		w.Bin(p.Sig)
		writeCheckpoints(w, p.Checkpoints)
	})
}

// writeCheckpoints writes [[stream, epoch, pos], ...]: in prove frames, bundle trailers and
// the hub's record of a station's bundle positions.
func writeCheckpoints(w *mp.Writer, cps []streamCheckpoint) {
	w.ArrayLen(len(cps))
	for _, c := range cps {
		w.ArrayLen(3)
		w.String(c.Stream)
		w.String(c.Epoch)
		w.Uint(c.Pos)
	}
}

// readCheckpoints reads what writeCheckpoints wrote, at most maxStreams of them.
func readCheckpoints(rd *mp.Reader) []streamCheckpoint {
	var cps []streamCheckpoint
	k := rd.ArrayLen(maxStreams)
	for i := 0; i < k && rd.Err() == nil; i++ {
		rd.ExpectArray(3, 3)
		cps = append(cps, streamCheckpoint{Stream: rd.String(maxStreamLen), Epoch: rd.String(maxIDLen), Pos: rd.Uint()})
	}
	return cps
}

func encodeReady(r ready) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(4)
		w.Uint(codeReady)
		w.String(r.Epoch)
		w.Uint(r.Pos)
		w.Uint(r.Window)
	})
}

func encodeBatch(b *batchFrame) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(10)
		w.Uint(codeBatch)
		w.Uint(b.Seq)
		w.String(b.Stream)
		w.String(b.Epoch)
		w.Uint(b.To)
		w.ArrayLen(len(b.Heads))
		for _, h := range b.Heads {
			node.WriteSignedHead(w, h)
		}
		w.Uint(b.Codec)
		w.Uint(b.Count)
		w.Uint(b.RawLen)
		w.Bin(b.Payload)
	})
}

func encodeAck(seq uint64) []byte {
	return mp.Encode(func(w *mp.Writer) { w.ArrayLen(2); w.Uint(codeAck); w.Uint(seq) })
}

func encodeCaughtUp(stream string, pos uint64) []byte {
	return mp.Encode(func(w *mp.Writer) { w.ArrayLen(3); w.Uint(codeCaughtUp); w.String(stream); w.Uint(pos) })
}

func encodePing(code uint64, t int64) []byte {
	return mp.Encode(func(w *mp.Writer) { w.ArrayLen(2); w.Uint(code); w.Int(t) })
}

func encodeError(code uint64, msg string) []byte {
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut-- // never split a character: the message stays valid UTF-8
		}
		msg = msg[:cut]
	}
	return mp.Encode(func(w *mp.Writer) { w.ArrayLen(3); w.Uint(codeError); w.Uint(code); w.String(msg) })
}

// frame is a decoded frame: exactly one of its pointers is set, or Code says which small
// frame it is (ack, caught-up, ping, pong, error) with its fields in the scalars.
type frame struct {
	Code      uint64
	Hello     *hello
	Challenge *challenge
	Prove     *prove
	Ready     *ready
	Batch     *batchFrame
	N         uint64 // ack: seq; caught-up: pos; error: code
	T         int64  // ping, pong
	Text      string // caught-up: stream; error: message
}

// decodeFrame decodes one frame from outside. It checks every declared length against the
// bytes present and the limits above before allocating; byte slices in the result alias b.
func decodeFrame(b []byte) (frame, error) {
	var f frame
	if len(b) > MaxFrameBytes {
		return f, fmt.Errorf("%w: %d bytes, limit %d", ErrFrame, len(b), MaxFrameBytes)
	}
	rd := mp.NewReader(b)
	n := rd.ExpectArray(2, 10)
	f.Code = rd.Uint()
	if rd.Err() != nil {
		return f, fmt.Errorf("%w: %v", ErrFrame, rd.Err())
	}
	want := map[uint64]int{codeHello: 5, codeChallenge: 7, codeProve: 3, codeReady: 4, codeBatch: 10,
		codeAck: 2, codeCaughtUp: 3, codePing: 2, codePong: 2, codeError: 3}[f.Code]
	if want == 0 {
		return f, fmt.Errorf("%w: unknown frame code %d", ErrFrame, f.Code)
	}
	if n != want {
		return f, fmt.Errorf("%w: frame %d has %d elements, want %d", ErrFrame, f.Code, n, want)
	}
	switch f.Code {
	case codeHello:
		h := &hello{}
		k := rd.ArrayLen(maxVersions)
		for i := 0; i < k && rd.Err() == nil; i++ {
			h.Versions = append(h.Versions, rd.Uint())
		}
		h.Node = rd.String(maxIDLen)
		h.Key = rd.Bytes(ed25519.PublicKeySize)
		h.Nonce = rd.Bytes(nonceSize)
		f.Hello = h
	case codeChallenge:
		c := &challenge{}
		c.Version = rd.Uint()
		c.Hub = rd.String(maxIDLen)
		c.Key = rd.Bytes(ed25519.PublicKeySize)
		c.Nonce = rd.Bytes(nonceSize)
		c.Sig = rd.Bytes(ed25519.SignatureSize)
		k := rd.ArrayLen(maxStreams)
		for i := 0; i < k && rd.Err() == nil; i++ {
			c.Streams = append(c.Streams, rd.String(maxStreamLen))
		}
		f.Challenge = c
	case codeProve:
		p := &prove{Sig: rd.Bytes(ed25519.SignatureSize)}
		p.Checkpoints = readCheckpoints(rd)
		f.Prove = p
	case codeReady:
		f.Ready = &ready{Epoch: rd.String(maxIDLen), Pos: rd.Uint(), Window: rd.Uint()}
	case codeBatch:
		f.Batch = decodeBatchFrame(rd)
	case codeAck, codePing, codePong:
		if f.Code == codeAck {
			f.N = rd.Uint()
		} else {
			f.T = rd.Int()
		}
	case codeCaughtUp:
		f.Text = rd.String(maxStreamLen)
		f.N = rd.Uint()
	case codeError:
		f.N = rd.Uint()
		f.Text = rd.String(maxMessage)
	}
	if rd.Err() == nil && rd.Remaining() != 0 {
		rd.Failf("%d trailing bytes", rd.Remaining())
	}
	if err := rd.Err(); err != nil {
		return frame{}, fmt.Errorf("%w: frame %d: %v", ErrFrame, f.Code, err)
	}
	if err := f.check(); err != nil {
		return frame{}, fmt.Errorf("%w: frame %d: %v", ErrFrame, f.Code, err)
	}
	return f, nil
}

func decodeBatchFrame(rd *mp.Reader) *batchFrame {
	b := &batchFrame{Seq: rd.Uint(), Stream: rd.String(maxStreamLen), Epoch: rd.String(maxIDLen), To: rd.Uint()}
	k := rd.ArrayLen(maxHeads)
	for i := 0; i < k && rd.Err() == nil; i++ {
		b.Heads = append(b.Heads, node.ReadSignedHead(rd, maxIDLen))
	}
	b.Codec = rd.Uint()
	b.Count = rd.Uint()
	b.RawLen = rd.Uint()
	b.Payload = rd.Bytes(MaxFrameBytes)
	return b
}

// check applies the rules a well-formed frame's fields follow beyond their encoding.
func (f *frame) check() error {
	switch {
	case f.Hello != nil:
		h := f.Hello
		if !cases.ValidID(h.Node) || len(h.Key) != ed25519.PublicKeySize || len(h.Nonce) != nonceSize {
			return errors.New("hello: bad node id, key or nonce")
		}
	case f.Challenge != nil:
		c := f.Challenge
		if !cases.ValidID(c.Hub) || len(c.Key) != ed25519.PublicKeySize || len(c.Nonce) != nonceSize || len(c.Sig) != ed25519.SignatureSize {
			return errors.New("challenge: bad hub id, key, nonce or signature")
		}
	case f.Prove != nil:
		if len(f.Prove.Sig) != ed25519.SignatureSize {
			return errors.New("prove: bad signature")
		}
	case f.Batch != nil:
		b := f.Batch
		if b.Seq == 0 || b.Codec > codecZstd || b.Count > MaxBatchEntries || b.RawLen > MaxBatchRaw {
			return fmt.Errorf("batch: seq %d, codec %d, %d entries, %d raw bytes out of bounds", b.Seq, b.Codec, b.Count, b.RawLen)
		}
		for _, h := range b.Heads {
			if !cases.ValidID(h.Origin.Node) || len(h.Sig) != ed25519.SignatureSize {
				return errors.New("batch: bad head")
			}
		}
	}
	return nil
}
