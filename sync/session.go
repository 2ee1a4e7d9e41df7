package sync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

// Replica is what sync needs of the local store: a *node.Replica, or the Raft hub's
// wrapper around one (whose Apply goes through the log).
type Replica interface {
	Origin() crdt.Origin
	Epoch() string
	Region() string
	PublicKey() ed25519.PublicKey
	// KeyChain is the rotations of the node's key, oldest first (node.KeyLink).
	KeyChain() []node.KeyLink
	SessionSignature(transcript []byte) []byte
	SignHeadAt(seq uint64) (node.SignedHead, error)
	Apply(ctx context.Context, b node.Batch) (node.Result, error)
	Feed(after uint64, limit int, skipVia string) ([]node.FeedEntry, uint64, error)
	ScopeFeed(scope string, after uint64, limit int, skipVia string, stats *node.ReadStats) ([]node.ScopeEntry, uint64, error)
	ScopeSeq(scope string) uint64
	CaseScopes(id string) ([]string, error)
	PeerCheckpoint(peer string) (node.Checkpoint, error)
	Notify() <-chan struct{}
	Status() node.Status
	Doc(kind, id string) ([]byte, error)
	PutDoc(ctx context.Context, kind, id string, value []byte) error
	Docs(kind string, fn func(id string, value []byte) error) error
	Secret(name string, generate func() ([]byte, error)) ([]byte, error)
}

// Timing of a session's timers. The zero value of a field means its default.
type Timing struct {
	// Idle closes a session when nothing at all has arrived for this long (default 45s).
	// Every byte extends it, so a slow transfer that keeps progressing is never cut.
	Idle time.Duration
	// Ping is how often each side proves it is alive and repeats its last ack (default 15s).
	Ping time.Duration
	// Handshake bounds the whole handshake (default 20s).
	Handshake time.Duration
	// Ack ends a session when batches are in flight and no ack has advanced for this long
	// (default 3m). Over TCP a message is never lost inside a connection, but a middlebox
	// that drops one would otherwise stall the session for good once nothing new is sent
	// after it; the next session resumes from the receiver's checkpoint.
	Ack time.Duration
}

func (t Timing) withDefaults() Timing {
	if t.Idle <= 0 {
		t.Idle = 45 * time.Second
	}
	if t.Ping <= 0 {
		t.Ping = 15 * time.Second
	}
	if t.Handshake <= 0 {
		t.Handshake = 20 * time.Second
	}
	if t.Ack <= 0 {
		t.Ack = 3 * time.Minute
	}
	return t
}

// Batch sizing: a batch's compressed size adapts to the link between these bounds.
const (
	minWireBatch   = 8 << 10
	startWireBatch = 64 << 10
	maxRawBatch    = 3 << 20 // the adaptive budget's ceiling
	// maxRawPayload bounds a batch's payload whatever its entries: with the frame's own
	// fields and heads it stays below MaxFrameBytes even if nothing compresses.
	maxRawPayload = MaxFrameBytes - 64<<10
	// MaxWindow bounds the window either side may use; receivers make room for it.
	MaxWindow     = 64
	defaultWindow = 4
)

// SessionStats are a session's counters, safe to read while it runs.
type SessionStats struct {
	OpsSent, OpsReceived     atomic.Uint64
	BatchesSent, BatchesAckd atomic.Uint64
	BytesSent, BytesReceived atomic.Uint64 // websocket message payloads
	Duplicates, Pending      atomic.Uint64
	Quarantined              atomic.Uint64
	PeerCaughtUp             atomic.Bool // the peer said it had nothing more in any stream (and sent nothing since)
	CaughtUp                 atomic.Bool // we had nothing more to send, and all of it was acked
}

// session is one authenticated connection, after the handshake: both directions at once.
type session struct {
	conn    *websocket.Conn
	r       Replica
	log     *slog.Logger
	now     func() time.Time
	peer    string
	peerKey ed25519.PublicKey
	out     []*outStream
	window  int
	timing  Timing
	stats   *SessionStats

	recv      *receiver
	signHeads bool // station: sign a head at the end of each batch
	onAck     func(stream string, cp node.Checkpoint)
	// recvFrom is where each stream this end receives starts in this session: the
	// checkpoints it told the peer in the handshake. A batch must continue from there.
	recvFrom map[string]node.Checkpoint

	applied atomic.Uint64 // the last batch applied (and acked)
	sendq   chan []byte
	batches chan inBatch
	acks    chan uint64
}

// follows checks that a batch continues its stream in this session: in the epoch the stream
// started in (or, for its first batch, in a new epoch of the sender, which then starts
// again from zero) and past the position the previous batch of the session reached, or the
// checkpoint this end gave in the handshake. A correct sender never breaks this: each of its
// batches starts where the receiver's checkpoint or its own previous batch left off, so a
// batch that does not is a copy of one from another session (a replay) and is refused,
// applying nothing. at and moved are the reader's state, updated here.
func (s *session) follows(b *batchFrame, at map[string]node.Checkpoint, moved map[string]bool) error {
	cur, known := at[b.Stream]
	switch {
	case known && cur.Epoch == b.Epoch && b.To <= cur.Pos:
		s.log.Error("integrity: batch of another session refused, nothing applied", "peer", s.peer, "stream", b.Stream,
			"batch", b.Seq, "epoch", b.Epoch, "to", b.To, "session_at", cur.Pos)
		return failf(ErrCodeIntegrity, "batch %d of stream %q from %s ends at %d, but this session is already at %d: a batch of another session / 重放的批次",
			b.Seq, b.Stream, s.peer, b.To, cur.Pos)
	case moved[b.Stream] && cur.Epoch != b.Epoch:
		s.log.Error("integrity: batch of another epoch refused, nothing applied", "peer", s.peer, "stream", b.Stream,
			"batch", b.Seq, "epoch", b.Epoch, "session_epoch", cur.Epoch)
		return failf(ErrCodeIntegrity, "batch %d of stream %q from %s is of epoch %s, this session's is %s: a batch of another session / 重放的批次",
			b.Seq, b.Stream, s.peer, b.Epoch, cur.Epoch)
	}
	at[b.Stream], moved[b.Stream] = node.Checkpoint{Epoch: b.Epoch, Pos: b.To}, true
	return nil
}

// run drives the session until ctx ends or either side fails. It returns why it ended.
func (s *session) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.sendq = make(chan []byte, 2*s.window+8)
	s.batches = make(chan inBatch, MaxWindow+maxStreams+1) // room for any peer's window
	s.acks = make(chan uint64, 2*MaxWindow+8)
	done := make(chan struct{}, 4)
	spawn := func(f func(context.Context) error) {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := f(ctx); err != nil {
				cancel(err)
			}
		}()
	}
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); s.writer(ctx, cancel) }()
	spawn(s.reader)
	spawn(s.applier)
	spawn(s.sender)
	<-ctx.Done()
	<-writerDone // it has sent the error frame, if any, and the close
	_ = s.conn.Close()
	for range 3 {
		<-done
	}
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// writer owns the connection's writes. When the session ends it sends an error frame for
// a local failure, then a close.
func (s *session) writer(ctx context.Context, fail context.CancelCauseFunc) {
	ping := time.NewTicker(s.timing.Ping)
	defer ping.Stop()
	for {
		var err error
		select {
		case b := <-s.sendq:
			err = s.write(b)
		case <-ping.C:
			err = s.write(encodePing(codePing, s.now().UnixMilli()))
			if n := s.applied.Load(); n > 0 && err == nil {
				err = s.write(encodeAck(n)) // the last ack again: a lost one must not stall the peer's window
			}
		case <-ctx.Done():
			var le *localError
			switch err := context.Cause(ctx); {
			case errors.As(err, &le):
				_ = s.write(encodeError(le.code, le.Error()))
			case errors.Is(err, context.Canceled):
				_ = s.write(encodeError(ErrCodeShutdown, "shutting down / 正在停止"))
			}
			_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		}
		if err != nil {
			fail(fmt.Errorf("write to %s: %w", s.peer, err)) // the session ends; nothing more can be sent
			return
		}
	}
}

func (s *session) write(b []byte) error {
	// A deadline for the whole message, generous enough for a slow link: the idle timeout
	// plus the time to send it at 1 KB/s.
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timing.Idle + time.Duration(len(b))*time.Millisecond))
	if err := s.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return err
	}
	s.stats.BytesSent.Add(uint64(len(b)))
	return nil
}

// send queues a frame for the writer.
func (s *session) send(ctx context.Context, b []byte) error {
	select {
	case s.sendq <- b:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// readFrame reads one message, extending the read deadline as its bytes arrive: a slow
// transfer that keeps progressing is never cut by the idle timeout.
func readFrame(conn *websocket.Conn, idle time.Duration, buf []byte) ([]byte, error) {
	_ = conn.SetReadDeadline(time.Now().Add(idle))
	mt, rd, err := conn.NextReader()
	if err != nil {
		return nil, err
	}
	if mt != websocket.BinaryMessage {
		return nil, failf(ErrCodeBadFrame, "text message where frames are binary")
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				return nil, failf(ErrCodeBadFrame, "frame over %d bytes", MaxFrameBytes)
			}
			return nil, err
		}
	}
}

func (s *session) reader(ctx context.Context) error {
	var last uint64
	at, moved := maps.Clone(s.recvFrom), map[string]bool{}
	if at == nil {
		at = map[string]node.Checkpoint{}
	}
	for {
		b, err := readFrame(s.conn, s.timing.Idle, nil)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read from %s: %w", s.peer, err)
		}
		s.stats.BytesReceived.Add(uint64(len(b)))
		f, err := decodeFrame(b)
		if err != nil {
			return &localError{code: ErrCodeBadFrame, err: err}
		}
		switch f.Code {
		case codeBatch:
			switch {
			case f.Batch.Seq <= last:
				continue // a copy of a batch already taken
			case f.Batch.Seq != last+1:
				return failf(ErrCodeProtocol, "batch %d after batch %d", f.Batch.Seq, last)
			case !s.recv.streams[f.Batch.Stream]:
				return failf(ErrCodeProtocol, "batch of stream %q, which this session does not carry", f.Batch.Stream)
			}
			if err := s.follows(f.Batch, at, moved); err != nil {
				return err
			}
			last = f.Batch.Seq
			in, err := s.recv.decode(f.Batch)
			if err != nil {
				return err
			}
			select {
			case s.batches <- in:
			default:
				return failf(ErrCodeProtocol, "more than %d batches unacknowledged", MaxWindow)
			}
		case codeAck:
			select {
			case s.acks <- f.N:
			default:
				return failf(ErrCodeProtocol, "acks for batches never sent")
			}
		case codeCaughtUp:
			if !s.recv.streams[f.Text] {
				return failf(ErrCodeProtocol, "caught up in stream %q, which this session does not carry", f.Text)
			}
			// In line with the batches: caught up means once they are applied.
			select {
			case s.batches <- inBatch{caughtUp: f.Text}:
			default:
				return failf(ErrCodeProtocol, "more than %d frames unacknowledged", MaxWindow)
			}
		case codePing:
			if err := s.send(ctx, encodePing(codePong, f.T)); err != nil {
				return err
			}
		case codePong:
		case codeError:
			return &RemoteError{Code: f.N, Message: f.Text}
		default:
			return failf(ErrCodeProtocol, "frame %d during a session", f.Code)
		}
	}
}

// applier applies received batches in order and acknowledges each once it is durable.
func (s *session) applier(ctx context.Context) error {
	quiet := map[string]bool{} // streams the peer said were caught up, since their last batch
	for {
		var in inBatch
		select {
		case in = <-s.batches:
		case <-ctx.Done():
			return nil
		}
		if in.f == nil {
			quiet[in.caughtUp] = true
			all := true
			for st := range s.recv.streams {
				all = all && quiet[st]
			}
			s.stats.PeerCaughtUp.Store(all)
			continue
		}
		quiet[in.f.Stream] = false
		s.stats.PeerCaughtUp.Store(false)
		res, err := s.recv.apply(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.stats.OpsReceived.Add(uint64(res.Applied))
		s.stats.Duplicates.Add(uint64(res.Duplicates))
		s.stats.Pending.Add(uint64(res.Pending))
		s.stats.Quarantined.Add(uint64(res.Quarantined))
		s.applied.Store(in.f.Seq)
		if err := s.send(ctx, encodeAck(in.f.Seq)); err != nil {
			return err
		}
	}
}
