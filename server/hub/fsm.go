package hub

import (
	"context"
	"errors"
	"fmt"
	"github.com/fengqiao/fengqiao/cases"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
)

// FSM is a hub member's raft.FSM: each committed entry is one batch applied to the member's
// replica, in one Pebble batch with the entry's index.
type FSM struct {
	log *slog.Logger
	// dir and opts reopen the replica after a snapshot is restored (OpenFSM); without them
	// (NewFSM) the FSM takes no snapshots.
	dir  string
	opts node.Options
	// diskFree, when set (a Cluster sets it before raft starts), reads the free space of the
	// member's disk: a snapshot that would leave less than the reserve is refused.
	diskFree func() (uint64, error)

	mu sync.RWMutex // guards r, which Restore replaces
	r  *node.Replica
	// stopped is set when the member met an entry it cannot apply: it applies nothing more
	// (a member must never skip an entry and diverge), and says so in its status.
	stopped atomic.Pointer[error]
}

// NewFSM returns the state machine over r; it cannot take or restore snapshots.
func NewFSM(r *node.Replica, log *slog.Logger) *FSM {
	if log == nil {
		log = slog.Default()
	}
	return &FSM{r: r, log: log}
}

// OpenFSM opens (or creates, when opts.NodeID is set) the replica in dir on the real disk and
// returns its state machine, which snapshots it through Pebble checkpoints and replaces it
// when raft restores a snapshot.
func OpenFSM(dir string, opts node.Options, log *slog.Logger) (*FSM, error) {
	if opts.FS != nil {
		return nil, errors.New("hub FSM: snapshots need the real disk (Options.FS nil)")
	}
	r, err := node.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	f := NewFSM(r, log)
	f.dir, f.opts = dir, opts
	f.opts.NodeID, f.opts.Region, f.opts.NewIncarnation, f.opts.Identity = "", "", false, nil // reopen what is there
	return f, nil
}

// Replica returns the member's replica as of now (Restore replaces it).
func (f *FSM) Replica() *node.Replica {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.r
}

// Close closes the replica.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r.Close()
}

// ApplyResult is what Apply returns to the proposer through raft's ApplyFuture.Response.
type ApplyResult struct {
	Result node.Result
	Index  uint64 // the entry's index: a follower read waits until its replica applied it
	Err    error  // the batch was refused (a broken chain, a forged origin): nothing applied
	// Ops and ChangeErrs answer an entry of the hub's own writes, one of each per change: the
	// op made, or why the change was refused (a *cases.FieldError).
	Ops        []cases.Op
	ChangeErrs []error
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
	kind, err := entryKind(l.Data)
	if err != nil {
		return f.stop(l.Index, err)
	}
	if kind == kindWrite {
		return f.applyWrite(l.Index, l.Data)
	}
	b, err := DecodeEntry(l.Data)
	if err != nil {
		return f.stop(l.Index, err)
	}
	b.RaftIndex = l.Index
	res, err := f.Replica().Apply(context.Background(), b)
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
