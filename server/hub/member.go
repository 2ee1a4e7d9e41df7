package hub

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/fengqiao/fengqiao/cases"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/sync"
)

var _ sync.Replica = (*Member)(nil)

// Member is one hub member as the sync protocol sees it (it implements sync.Replica): reads
// come from the member's own replica; every write — a station's batch, an enrollment, a
// hub secret — becomes a Raft entry, acknowledged only once committed and applied here, so a
// station's ack means the batch is on a quorum's disks and readable from this member.
type Member struct {
	fsm  *FSM
	raft *raft.Raft
	opts MemberOptions
}

// MemberOptions configure a Member.
type MemberOptions struct {
	// Now stamps the receipt time into the entries this member proposes (the FSM reads no
	// clock). Default time.Now.
	Now func() time.Time
	// Forward hands an entry to the leader when this member is not it, and returns what the
	// leader's apply returned. Nil: a follower waits for leadership to come to it or fails.
	Forward func(ctx context.Context, entry []byte) (ApplyResult, error)
	// ApplyTimeout bounds one raft.Apply. Default 10s.
	ApplyTimeout time.Duration
	// ID names the member in its errors (its Raft server id).
	ID string
	// DiskFree, when set, reads the free bytes of the disk holding the member's Raft log and
	// replica; below MinFreeBytes (negative: no check) the member proposes nothing and
	// answers node.ErrDiskFull (diskspace.go). Nil: no check.
	DiskFree     func() (uint64, error)
	MinFreeBytes int64
}

// NewMember returns the member over fsm and its raft server.
func NewMember(fsm *FSM, r *raft.Raft, opts MemberOptions) *Member {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ApplyTimeout <= 0 {
		opts.ApplyTimeout = 10 * time.Second
	}
	return &Member{fsm: fsm, raft: r, opts: opts}
}

// ErrNotLeader is returned by Propose on a member that is not the leader.
var ErrNotLeader = errors.New("not the hub's raft leader")

// Propose commits an entry through this member, which must be the leader, and returns what
// applying it did. It retries nothing: callers retry on ErrNotLeader. A leader whose disk
// is below its reserve refuses with an error wrapping node.ErrDiskFull and hands its
// leadership to another member.
func (m *Member) Propose(ctx context.Context, entry []byte) (ApplyResult, error) {
	if m.raft.State() != raft.Leader {
		return ApplyResult{}, ErrNotLeader
	}
	if err := m.checkDisk(); err != nil {
		// A transfer already under way answers an error here, and so does a cluster of one:
		// the refusal stands either way.
		_ = m.raft.LeadershipTransfer()
		return ApplyResult{}, err
	}
	f := m.raft.Apply(entry, m.opts.ApplyTimeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return ApplyResult{}, ErrNotLeader
		}
		return ApplyResult{}, fmt.Errorf("raft apply: %w", err)
	}
	res, ok := f.Response().(ApplyResult)
	if !ok {
		return ApplyResult{}, fmt.Errorf("raft apply: unexpected response %T", f.Response())
	}
	return res, nil
}

// propose commits entry through the leader, wherever it is, retrying while leadership moves,
// then waits until this member's replica has applied it (read your writes). It proposes
// nothing while this member's own disk is below its reserve; a leader's refusal for lack
// of space is retried for up to ApplyTimeout, while that leader hands its leadership on.
func (m *Member) propose(ctx context.Context, entry []byte) (ApplyResult, error) {
	if err := m.checkDisk(); err != nil {
		return ApplyResult{}, err
	}
	backoff := 10 * time.Millisecond
	var leaderFull time.Time // when the leader first refused for lack of space
	for {
		res, err := m.Propose(ctx, entry)
		if errors.Is(err, ErrNotLeader) && m.opts.Forward != nil {
			res, err = m.opts.Forward(ctx, entry)
		}
		if err == nil {
			return res, m.waitApplied(ctx, res.Index)
		}
		if errors.Is(err, node.ErrDiskFull) {
			if own := m.checkDisk(); own != nil {
				return ApplyResult{}, own
			}
			if leaderFull.IsZero() {
				leaderFull = time.Now()
			} else if time.Since(leaderFull) > m.opts.ApplyTimeout {
				return ApplyResult{}, err
			}
		} else if !errors.Is(err, ErrNotLeader) {
			return ApplyResult{}, err
		}
		select {
		case <-ctx.Done():
			if !leaderFull.IsZero() && errors.Is(err, node.ErrDiskFull) {
				return ApplyResult{}, err
			}
			return ApplyResult{}, fmt.Errorf("no hub leader: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// waitApplied waits until this member's replica has applied the entry at index.
func (m *Member) waitApplied(ctx context.Context, index uint64) error {
	for {
		r := m.fsm.Replica()
		changed := r.Notify()
		if r.RaftApplied() >= index {
			return nil
		}
		if err := m.fsm.Stopped(); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // an entry refused on apply moves no replica
			if m.raft.AppliedIndex() >= index {
				return nil
			}
		}
	}
}

// Apply commits b through the hub's log; the batch is stamped with this member's receipt
// time. The result is the local replica's view once it has applied the entry.
func (m *Member) Apply(ctx context.Context, b node.Batch) (node.Result, error) {
	if b.ReceivedAt == 0 {
		b.ReceivedAt = m.opts.Now().UnixMilli()
	}
	res, err := m.propose(ctx, EncodeBatch(&b))
	if err != nil {
		return node.Result{}, err
	}
	return res.Result, res.Err
}

// PutDoc commits a document write through the hub's log.
func (m *Member) PutDoc(ctx context.Context, kind, id string, value []byte) error {
	_, err := m.Apply(ctx, node.Batch{Docs: []node.DocPut{{Kind: kind, ID: id, Value: value}}})
	return err
}

// Secret returns the hub's secret called name: one for the whole hub, made by the first
// member that needs it (the first committed wins, on every member alike).
func (m *Member) Secret(name string, generate func() ([]byte, error)) ([]byte, error) {
	if v, err := m.Doc("secret", name); err == nil || !errors.Is(err, node.ErrNotFound) {
		return v, err
	}
	v, err := generate()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.ApplyTimeout)
	defer cancel()
	if _, err := m.Apply(ctx, node.Batch{Docs: []node.DocPut{{Kind: "secret", ID: name, Value: v, IfAbsent: true}}}); err != nil {
		return nil, err
	}
	return m.Doc("secret", name)
}

// Reads: the member's own replica.

func (m *Member) Origin() crdt.Origin          { return m.fsm.Replica().Origin() }
func (m *Member) Epoch() string                { return m.fsm.Replica().Epoch() }
func (m *Member) Region() string               { return m.fsm.Replica().Region() }
func (m *Member) PublicKey() ed25519.PublicKey { return m.fsm.Replica().PublicKey() }
func (m *Member) KeyChain() []node.KeyLink     { return m.fsm.Replica().KeyChain() }
func (m *Member) SessionSignature(transcript []byte) []byte {
	return m.fsm.Replica().SessionSignature(transcript)
}
func (m *Member) SignHeadAt(seq uint64) (node.SignedHead, error) {
	return m.fsm.Replica().SignHeadAt(seq)
}
func (m *Member) Feed(after uint64, limit int, skipVia string) ([]node.FeedEntry, uint64, error) {
	return m.fsm.Replica().Feed(after, limit, skipVia)
}
func (m *Member) ScopeFeed(scope string, after uint64, limit int, skipVia string, stats *node.ReadStats) ([]node.ScopeEntry, uint64, error) {
	return m.fsm.Replica().ScopeFeed(scope, after, limit, skipVia, stats)
}
func (m *Member) ScopeSeq(scope string) uint64           { return m.fsm.Replica().ScopeSeq(scope) }
func (m *Member) CaseScopes(id string) ([]string, error) { return m.fsm.Replica().CaseScopes(id) }
func (m *Member) PeerCheckpoint(peer string) (node.Checkpoint, error) {
	return m.fsm.Replica().PeerCheckpoint(peer)
}
func (m *Member) Notify() <-chan struct{} { return m.fsm.Replica().Notify() }
func (m *Member) Status() node.Status     { return m.fsm.Replica().Status() }

// Doc reads a document (an enrollment, a secret) from this member's replica. A miss on a
// member that is behind what it knows is committed (a station enrolled through another
// member a moment ago) waits, briefly, for its replica to apply that much and looks again.
func (m *Member) Doc(kind, id string) ([]byte, error) {
	v, err := m.fsm.Replica().Doc(kind, id)
	if err == nil || !errors.Is(err, node.ErrNotFound) {
		return v, err
	}
	// A follower holds entries before it learns they are committed (the leader tells it
	// within raft's CommitTimeout, 50–100 ms): wait for what it holds, not only for what it
	// knows is committed.
	if last := m.raft.LastIndex(); m.raft.AppliedIndex() < last {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if m.waitApplied(ctx, last) == nil {
			return m.fsm.Replica().Doc(kind, id)
		}
	}
	return v, err
}
func (m *Member) Docs(kind string, fn func(id string, value []byte) error) error {
	return m.fsm.Replica().Docs(kind, fn)
}
func (m *Member) Case(id string) (*cases.Case, []cases.Stored, error) {
	return m.fsm.Replica().Case(id)
}
func (m *Member) List(q node.Query) (node.Page, error) { return m.fsm.Replica().List(q) }
func (m *Member) Quarantined(after uint64, limit int) ([]node.QuarantinedOp, error) {
	return m.fsm.Replica().Quarantined(after, limit)
}

// KeyspaceDigest hashes the member's replicated keyspace (members compare it).
func (m *Member) KeyspaceDigest() ([32]byte, error) { return m.fsm.Replica().KeyspaceDigest() }
