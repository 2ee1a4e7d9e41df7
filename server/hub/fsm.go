package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
)

// FSM is a hub member's raft.FSM: each committed entry is one batch applied to the member's
// replica, in one Pebble batch with the entry's index.
type FSM struct {
	r   *node.Replica
	log *slog.Logger
	// stopped is set when the member met an entry it cannot apply: it applies nothing more
	// (a member must never skip an entry and diverge), and says so in its status.
	stopped atomic.Pointer[error]
}

// NewFSM returns the state machine over r.
func NewFSM(r *node.Replica, log *slog.Logger) *FSM {
	if log == nil {
		log = slog.Default()
	}
	return &FSM{r: r, log: log}
}

// ApplyResult is what Apply returns to the proposer through raft's ApplyFuture.Response.
type ApplyResult struct {
	Result node.Result
	Index  uint64 // the entry's index: a follower read waits until its replica applied it
	Err    error  // the batch was refused (a broken chain, a forged origin): nothing applied
}

// Apply applies one committed entry. An entry the replica refuses (an integrity failure the
// proposer's checks missed) is refused identically on every member and is not an error of
// the state machine; an entry this member cannot read or apply at all stops it.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if err := f.stopped.Load(); err != nil {
		return ApplyResult{Index: l.Index, Err: *err}
	}
	b, err := DecodeEntry(l.Data)
	if err != nil {
		return f.stop(l.Index, err)
	}
	b.RaftIndex = l.Index
	res, err := f.r.Apply(context.Background(), b)
	switch {
	case err == nil:
		return ApplyResult{Result: res, Index: l.Index}
	case errors.Is(err, node.ErrChainBroken), errors.Is(err, node.ErrForgedOrigin), errors.Is(err, node.ErrBadSignature):
		// Deterministic refusals: every member refuses the same batch the same way. The
		// index is not recorded (nothing was written), so a replay refuses it again.
		return ApplyResult{Index: l.Index, Err: err}
	default:
		return f.stop(l.Index, err)
	}
}

func (f *FSM) stop(index uint64, err error) ApplyResult {
	err = fmt.Errorf("raft entry %d: %w", index, err)
	f.stopped.Store(&err)
	f.log.Error("hub member stopped applying: it met an entry it cannot apply; it must be upgraded or rebuilt", "index", index, "err", err)
	return ApplyResult{Index: index, Err: err}
}

// Stopped returns why the member stopped applying, or nil.
func (f *FSM) Stopped() error {
	if err := f.stopped.Load(); err != nil {
		return *err
	}
	return nil
}

// Snapshot is not built yet: it fails, so raft keeps the whole log (set
// SnapshotThreshold high until snapshots from Pebble checkpoints land).
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, errors.New("hub snapshots are not built yet")
}

// Restore is not built yet.
func (f *FSM) Restore(rc io.ReadCloser) error {
	_ = rc.Close()
	return errors.New("hub snapshots are not built yet")
}
