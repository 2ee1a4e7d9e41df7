package sync

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// outStream is one stream this end sends: its whole feed (station) or one scope (hub).
type outStream struct {
	name      string
	epoch     string
	sent      uint64 // position after the last batch sent
	quiet     bool   // a caught-up frame was sent and nothing since
	readBatch func(after uint64, limit int) ([]outEntry, uint64, error)
}

type outEntry struct {
	pos uint64
	e   entry
}

// inflight is a batch sent and not yet acknowledged.
type inflight struct {
	seq    uint64
	stream *outStream
	to     uint64
	wire   int
	sentAt time.Time
}

// sender reads this end's streams after the peer's checkpoints and sends them in batches,
// keeping at most window unacknowledged; when all are caught up it waits for new ops.
func (s *session) sender(ctx context.Context) error {
	var (
		seq        uint64
		flight     []inflight
		wireTarget = startWireBatch
		ratio      = 3.0 // raw bytes per wire byte, learnt from each batch
		perEntry   = 300 // raw bytes per entry, learnt from each read
		// ackWait fires when batches are in flight and no ack has advanced for
		// timing.Ack: a batch lost on the way is never acked (see Timing.Ack).
		ackWait = newAckWatch(s.timing.Ack)
	)
	defer ackWait.stop()
	// The session was authenticated under this node's key: once the key is rotated
	// (node.KeyRotation; the commit wakes Notify), the session ends and the peer connects
	// again, learning the new key from the handshake.
	ownKey := s.r.PublicKey()
	// Acks are cumulative: ack n acknowledges every batch up to n, so a lost or late ack
	// is made good by the next one (receivers repeat their last ack with each ping).
	ack := func(n uint64) error {
		if n > seq {
			return failf(ErrCodeProtocol, "ack of batch %d, only %d sent", n, seq)
		}
		if len(flight) > 0 && flight[0].seq <= n {
			ackWait.progress()
		}
		for len(flight) > 0 && flight[0].seq <= n {
			f := flight[0]
			flight = flight[1:]
			s.stats.BatchesAckd.Add(1)
			if s.onAck != nil && (len(flight) == 0 || flight[0].seq > n || flight[0].stream != f.stream) {
				s.onAck(f.stream.name, node.Checkpoint{Epoch: f.stream.epoch, Pos: f.to})
			}
			switch rtt := s.now().Sub(f.sentAt); {
			case rtt < time.Second && f.wire >= wireTarget/2:
				wireTarget = min(wireTarget*2, maxRawBatch)
			case rtt > 4*time.Second:
				wireTarget = max(wireTarget/2, minWireBatch)
			}
		}
		return nil
	}
	for {
		for drained := false; !drained; {
			select {
			case n := <-s.acks:
				if err := ack(n); err != nil {
					return err
				}
			default:
				drained = true
			}
		}
		notify := s.r.Notify()
		if !bytes.Equal(s.r.PublicKey(), ownKey) {
			return failf(ErrCodeShutdown, "this node's key was rotated: connect again to meet the new key / 本节点已更换密钥，请重新连接")
		}
		progressed := false
		for _, st := range s.out {
			for len(flight) >= s.window {
				select {
				case n := <-s.acks:
					if err := ack(n); err != nil {
						return err
					}
				case <-ackWait.c(len(flight)):
					return ackWait.expired(flight[0].seq, s.peer)
				case <-ctx.Done():
					return nil
				}
			}
			rawBudget := min(int(float64(wireTarget)*ratio), maxRawBatch)
			limit := max(16, min(rawBudget/perEntry+1, MaxBatchEntries))
			got, next, err := st.readBatch(st.sent, limit)
			if err != nil {
				return failf(ErrCodeInternal, "read stream %q after %d: %v", st.name, st.sent, err)
			}
			if len(got) == 0 && next == st.sent {
				if !st.quiet {
					if err := s.send(ctx, encodeCaughtUp(st.name, st.sent)); err != nil {
						return err
					}
					st.quiet = true
				}
				continue
			}
			st.quiet = false
			progressed = true
			b, n, rawLen, err := buildBatch(s.r, s.signHeads, st, got, rawBudget)
			if err != nil {
				return err
			}
			if n < len(got) {
				next = got[n-1].pos
			}
			if n > 0 {
				perEntry = max(32, rawLen/n)
			}
			seq++
			b.Seq, b.To = seq, next
			frameBytes := encodeBatch(b)
			if len(b.Payload) > 0 {
				ratio = max(1, float64(rawLen)/float64(len(b.Payload)))
			}
			if err := s.send(ctx, frameBytes); err != nil {
				return err
			}
			st.sent = next
			if len(flight) == 0 {
				ackWait.progress() // the wait starts with the first batch in flight
			}
			flight = append(flight, inflight{seq: seq, stream: st, to: next, wire: len(frameBytes), sentAt: s.now()})
			s.stats.BatchesSent.Add(1)
			s.stats.OpsSent.Add(uint64(n))
		}
		if progressed {
			continue
		}
		s.stats.CaughtUp.Store(len(flight) == 0)
		select {
		case n := <-s.acks:
			if err := ack(n); err != nil {
				return err
			}
			s.stats.CaughtUp.Store(len(flight) == 0)
		case <-ackWait.c(len(flight)):
			return ackWait.expired(flight[0].seq, s.peer)
		case <-notify:
		case <-ctx.Done():
			return nil
		}
	}
}

// ackWatch measures, on the monotonic clock (a station's injectable clock may jump), how
// long the oldest batch in flight has gone without an ack advancing.
type ackWatch struct {
	limit time.Duration
	timer *time.Timer
	since time.Time
}

func newAckWatch(limit time.Duration) *ackWatch {
	t := time.NewTimer(limit)
	t.Stop()
	return &ackWatch{limit: limit, timer: t}
}

// progress restarts the wait: an ack advanced, or a batch went out with none in flight.
func (w *ackWatch) progress() {
	w.since = time.Now()
	w.timer.Reset(w.limit)
}

// c is the channel to wait on: nil (never ready) with nothing in flight.
func (w *ackWatch) c(inFlight int) <-chan time.Time {
	if inFlight == 0 {
		return nil
	}
	return w.timer.C
}

func (w *ackWatch) expired(seq uint64, peer string) error {
	return fmt.Errorf("no ack from %s for batch %d in %s: a frame was lost on the way; the next session resumes from the checkpoint",
		peer, seq, time.Since(w.since).Round(time.Second))
}

func (w *ackWatch) stop() { w.timer.Stop() }

// buildBatch encodes entries of got into a batch of at most rawBudget raw bytes (at least
// one entry), with the signed head of this node's chain where the batch ends.
func buildBatch(r Replica, signHeads bool, st *outStream, got []outEntry, rawBudget int) (*batchFrame, int, int, error) {
	w := mp.NewWriter()
	n := 0
	var headSeq uint64
	own := r.Origin()
	for _, oe := range got {
		if n > 0 && (w.Len() >= rawBudget || w.Len()+len(oe.e.Raw)+len(oe.e.LeftCase)+16 > maxRawPayload) {
			break
		}
		if oe.e.Raw != nil && signHeads {
			d, err := cases.PeekDot(oe.e.Raw)
			if err != nil {
				return nil, 0, 0, failf(ErrCodeInternal, "stored op at %d: %v", oe.pos, err)
			}
			if d.Origin == own && d.Seq > headSeq {
				headSeq = d.Seq
			}
		}
		appendEntry(w, oe.e)
		n++
	}
	b := &batchFrame{Stream: st.name, Epoch: st.epoch}
	if headSeq > 0 {
		h, err := r.SignHeadAt(headSeq)
		if err != nil {
			return nil, 0, 0, failf(ErrCodeInternal, "%v", err)
		}
		b.Heads = []node.SignedHead{h}
	}
	raw := w.Bytes()
	sealPayload(b, raw, n)
	return b, n, len(raw), nil
}
