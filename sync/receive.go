package sync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"time"

	"github.com/fengqiao/fengqiao/node"
)

// inBatch is a batch received and decoded, waiting to be applied.
type inBatch struct {
	f   *batchFrame
	ops []node.Incoming
	// left-scope markers with their place among ops
	left []node.LeftMarker
	// caughtUp, instead of a batch, says the peer had nothing more in this stream.
	caughtUp string
}

// decode opens a batch's payload and checks its heads.
func (s *receiver) decode(f *batchFrame) (inBatch, error) {
	entries, ops, err := openPayload(f)
	if err != nil {
		return inBatch{}, &localError{code: ErrCodeBadFrame, err: err}
	}
	in := inBatch{f: f, ops: ops}
	n := 0
	for _, e := range entries {
		if e.Raw == nil {
			if !s.partial {
				return inBatch{}, failf(ErrCodeProtocol, "left-scope marker in a stream that has no scope")
			}
			in.left = append(in.left, node.LeftMarker{Case: e.LeftCase, After: n})
			continue
		}
		n++
	}
	if s.verify {
		kept := f.Heads[:0]
		for _, h := range f.Heads {
			if h.Origin.Node != s.peer {
				if s.forwards {
					// A hub peer forwards other origins' ops; it cannot sign their heads, and
					// this end does not hold their keys: the session vouches (docs/security.md).
					continue
				}
				return inBatch{}, failf(ErrCodeIntegrity, "%s sent a head of %s", s.peer, h.Origin)
			}
			if err := h.Verify(s.peerKey); err != nil {
				return inBatch{}, failf(ErrCodeIntegrity, "head from %s: %v", s.peer, err)
			}
			kept = append(kept, h)
		}
		f.Heads = kept
	} else {
		f.Heads = nil // a scoped stream's heads cannot be checked here: the session vouches
	}
	return in, nil
}

// receiver checks and applies what one peer sends, in a session or a bundle.
type receiver struct {
	r       Replica
	log     *slog.Logger
	now     func() time.Time
	peer    string
	peerKey ed25519.PublicKey
	streams map[string]bool  // streams the peer may send
	rule    *node.WriterRule // hub: what the station may write
	partial bool             // station: the hub's streams are scoped
	stamp   bool             // hub: stamp receipt time into ops
	verify  bool             // hub: heads must be the peer's own, signed by its key
	// forwards marks a hub peer (a county at its city): heads of origins other than the
	// peer's are dropped instead of refused; its own are verified as a station's.
	forwards bool
	// onClockAhead, when set (a hub), is told after each applied batch how far the newest
	// stamp of the peer's own ops lay ahead of the receipt time, in ms (negative: behind).
	onClockAhead func(ms int64)
}

// apply applies one decoded batch durably, with the peer's checkpoint.
func (s *receiver) apply(ctx context.Context, in inBatch) (node.Result, error) {
	b := node.Batch{From: s.peer, Ops: in.ops, Heads: in.f.Heads, Left: in.left,
		Checkpoint: &node.Checkpoint{Epoch: in.f.Epoch, Pos: in.f.To}, Stream: in.f.Stream,
		Partial: s.partial, Writer: s.rule, StampReceipt: s.stamp}
	if s.stamp {
		b.ReceivedAt = s.now().UnixMilli()
	}
	res, err := s.r.Apply(ctx, b)
	if err == nil {
		if s.onClockAhead != nil && b.ReceivedAt != 0 {
			s.reportClock(in.ops, b.ReceivedAt)
		}
		return res, nil
	}
	if errors.Is(err, node.ErrChainBroken) || errors.Is(err, node.ErrForgedOrigin) || errors.Is(err, node.ErrBadSignature) {
		first, lastDot := dotRange(in.ops)
		s.log.Error("integrity: batch refused, nothing applied", "peer", s.peer, "from", first, "to", lastDot, "err", err)
		return res, failf(ErrCodeIntegrity, "batch %d from %s (ops %s .. %s) refused: %v", in.f.Seq, s.peer, first, lastDot, err)
	}
	return res, failf(ErrCodeInternal, "apply batch %d from %s: %v", in.f.Seq, s.peer, err)
}

func dotRange(ops []node.Incoming) (first, last string) {
	if len(ops) == 0 {
		return "-", "-"
	}
	return ops[0].Op.Dot.String(), ops[len(ops)-1].Op.Dot.String()
}

// reportClock tells onClockAhead how far the latest stamp of the peer's own ops in a batch
// lay ahead of its receipt: a station's clock ahead of the hub's shows there at once (an op
// written offline long ago only looks old, so a clock behind cannot be told from one).
func (s *receiver) reportClock(ops []node.Incoming, receivedAt int64) {
	var newest int64
	found := false
	for _, o := range ops {
		if o.Op.Dot.Origin.Node == s.peer && (!found || o.Op.Stamp.Wall > newest) {
			newest, found = o.Op.Stamp.Wall, true
		}
	}
	if found {
		s.onClockAhead(newest - receivedAt)
	}
}
