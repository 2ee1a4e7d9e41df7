package raftstore

// TestRaft_Cluster runs hashicorp/raft itself on the Store: three members on
// raft.NewInmemTransport, each with a Store (on its own in-memory filesystem) as LogStore
// and StableStore. It elects a leader, applies 1,000 commands, compacts the logs through
// snapshots (DeleteRange of a prefix), stops a follower, compacts the leader's log past the
// follower's last entry (so the leader's GetLog must answer raft.ErrLogNotFound and raft
// sends a snapshot), restarts the follower from its store, and waits until the three FSMs
// hold the same state. Every wait is on a condition with a deadline.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// counterFSM applies commands numbered 1, 2, 3...: each advances n and folds the command
// into a hash. A command at or below n is a repeat (an Apply retried after a lost
// leadership may commit twice) and changes nothing, so the FSM is deterministic.
type counterFSM struct {
	mu      sync.Mutex
	n       uint64
	hash    uint64
	changed chan struct{} // closed and replaced on every change
}

func newCounterFSM() *counterFSM { return &counterFSM{changed: make(chan struct{})} }

func (f *counterFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) != 8 {
		return nil
	}
	seq := binary.BigEndian.Uint64(l.Data)
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq != f.n+1 {
		return nil
	}
	h := fnv.New64a()
	h.Write(binary.BigEndian.AppendUint64(nil, f.hash))
	h.Write(l.Data)
	f.n, f.hash = seq, h.Sum64()
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

// state returns the FSM's state and a channel closed at its next change.
func (f *counterFSM) state() (n, hash uint64, changed <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.hash, f.changed
}

type counterSnapshot struct{ n, hash uint64 }

func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	n, hash, _ := f.state()
	return counterSnapshot{n, hash}, nil
}

func (f *counterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.hash = binary.BigEndian.Uint64(b[:]), binary.BigEndian.Uint64(b[8:])
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

func (s counterSnapshot) Persist(sink raft.SnapshotSink) error {
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, s.n), s.hash)
	if _, err := sink.Write(b); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (counterSnapshot) Release() {}

// member is one raft server; fs and snaps outlive a restart.
type member struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	fs    vfs.FS
	snaps *raft.InmemSnapshotStore
	store *Store
	trans *raft.InmemTransport
	fsm   *counterFSM
	raft  *raft.Raft
}

type cluster struct {
	t       *testing.T
	members []*member
	obs     chan raft.Observation // leader changes of every member: a wake-up, never data
}

func raftConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold = 1 << 30 // snapshots only when the test asks
	c.SnapshotInterval = time.Hour
	c.TrailingLogs = 50
	c.LogOutput = io.Discard
	return c
}

// start opens m's store and starts its raft server, connected to every other member.
func (c *cluster) start(m *member, bootstrap *raft.Configuration) {
	t := c.t
	var err error
	if m.store, err = Open("raft", Options{FS: m.fs, Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	_, m.trans = raft.NewInmemTransport(m.addr)
	for _, o := range c.members {
		if o != m && o.raft != nil {
			o.trans.Connect(m.addr, m.trans)
			m.trans.Connect(o.addr, o.trans)
		}
	}
	conf := raftConfig(m.id)
	if bootstrap != nil {
		if err := raft.BootstrapCluster(conf, m.store, m.store, m.snaps, m.trans, *bootstrap); err != nil {
			t.Fatal(err)
		}
	}
	m.fsm = newCounterFSM()
	if m.raft, err = raft.NewRaft(conf, m.fsm, m.store, m.store, m.snaps, m.trans); err != nil {
		t.Fatal(err)
	}
	m.raft.RegisterObserver(raft.NewObserver(c.obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
}

// stop shuts m's raft server down, disconnects it and closes its store.
func (c *cluster) stop(m *member) {
	if m.raft == nil {
		return
	}
	if err := m.raft.Shutdown().Error(); err != nil {
		c.t.Errorf("shutdown %s: %v", m.id, err)
	}
	m.raft = nil
	for _, o := range c.members {
		if o != m {
			o.trans.Disconnect(m.addr)
		}
	}
	_ = m.trans.Close()
	if err := m.store.Close(); err != nil {
		c.t.Errorf("close store of %s: %v", m.id, err)
	}
}

// leader waits until a running member is the leader.
func (c *cluster) leader(deadline time.Time) *member {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		for _, m := range c.members {
			if m.raft != nil && m.raft.State() == raft.Leader {
				return m
			}
		}
		select {
		case <-c.obs:
		case <-timer.C:
			c.t.Fatal("no leader before the deadline")
		}
	}
}

// apply applies command seq through the leader, retrying when leadership moves.
func (c *cluster) apply(seq uint64, deadline time.Time) {
	data := binary.BigEndian.AppendUint64(nil, seq)
	for {
		err := c.leader(deadline).raft.Apply(data, time.Until(deadline)).Error()
		switch {
		case err == nil:
			return
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			if time.Now().After(deadline) {
				c.t.Fatalf("apply %d: %v", seq, err)
			}
		default:
			c.t.Fatalf("apply %d: %v", seq, err)
		}
	}
}

// waitFSM waits until m's FSM holds n commands.
func waitFSM(t *testing.T, m *member, n uint64, deadline time.Time) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		got, _, changed := m.fsm.state()
		if got == n {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("%s: FSM at %d commands, want %d, at the deadline", m.id, got, n)
		}
	}
}

func TestRaft_Cluster(t *testing.T) {
	deadline := time.Now().Add(2 * time.Minute)
	c := &cluster{t: t, obs: make(chan raft.Observation, 64)}
	var conf raft.Configuration
	for i := range 3 {
		id := raft.ServerID("m" + strconv.Itoa(i+1))
		m := &member{id: id, addr: raft.ServerAddress(id), fs: vfs.NewMem(), snaps: raft.NewInmemSnapshotStore()}
		c.members = append(c.members, m)
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: id, Address: m.addr})
	}
	defer func() {
		for _, m := range c.members {
			c.stop(m)
		}
	}()
	for _, m := range c.members {
		c.start(m, &conf)
	}

	const total = 1000
	seq := uint64(0)
	for ; seq < total/2; seq++ {
		c.apply(seq+1, deadline)
	}
	// Snapshot every member: raft compacts each log (a DeleteRange of a prefix).
	for _, m := range c.members {
		waitFSM(t, m, seq, deadline)
		if err := m.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot %s: %v", m.id, err)
		}
		if first, _ := m.store.FirstIndex(); first <= 1 {
			t.Fatalf("%s: first index %d after a snapshot: the log was not compacted", m.id, first)
		}
	}

	// Stop a follower; the others go on, and the leader compacts past its last entry.
	var follower *member
	for _, m := range c.members {
		if m != c.leader(deadline) {
			follower = m
			break
		}
	}
	c.stop(follower)
	fs := follower.fs
	s, err := Open("raft", Options{FS: fs, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	stoppedAt, _ := s.LastIndex()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for ; seq < total; seq++ {
		c.apply(seq+1, deadline)
	}
	leader := c.leader(deadline)
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot %s: %v", leader.id, err)
	}
	if first, _ := leader.store.FirstIndex(); first <= stoppedAt+1 {
		t.Fatalf("leader's first index %d, the follower stopped at %d: it could catch up from the log", first, stoppedAt)
	}

	// Restart the follower from its store: it catches up through a snapshot, then the log.
	c.start(follower, nil)
	c.apply(seq+1, deadline) // one more, committed with the restarted member in the cluster
	seq++
	want := make(map[raft.ServerID]uint64)
	for _, m := range c.members {
		waitFSM(t, m, seq, deadline)
		_, h, _ := m.fsm.state()
		want[m.id] = h
	}
	for _, m := range c.members {
		if want[m.id] != want[c.members[0].id] {
			t.Fatalf("FSM hashes differ: %v", want)
		}
	}
	snapIndex, _ := strconv.ParseUint(follower.raft.Stats()["last_snapshot_index"], 10, 64)
	if snapIndex <= stoppedAt {
		t.Errorf("restarted follower's last snapshot is at %d, it stopped at %d: no snapshot was installed", snapIndex, stoppedAt)
	}
	for _, m := range c.members {
		first, _ := m.store.FirstIndex()
		last, _ := m.store.LastIndex()
		var l raft.Log
		if err := m.store.GetLog(last, &l); err != nil || first == 0 || first > last {
			t.Errorf("%s: log %d-%d, last entry: %v", m.id, first, last, err)
		}
		t.Logf("%s: log %d-%d, FSM at %d commands", m.id, first, last, seq)
	}
	// raft compacts after installing a snapshot from its last index before the snapshot
	// (raft.go installSnapshot → compactLogs), so the follower may keep its old entries
	// below a gap: GetLog in the gap must be raft.ErrLogNotFound itself.
	if first, _ := follower.store.FirstIndex(); first <= stoppedAt {
		var l raft.Log
		if err := follower.store.GetLog(stoppedAt+1, &l); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Errorf("follower: get log %d in the gap: %v", stoppedAt+1, err)
		}
		t.Logf("raft left a gap in the follower's log after %d", stoppedAt)
	}
	t.Logf("follower %s stopped at index %d, caught up through a snapshot at %d", follower.id, stoppedAt, snapIndex)
}
