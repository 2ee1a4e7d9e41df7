package hub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/internal/dirs"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
	"github.com/fengqiao/fengqiao/server/raftstore"
)

const (
	county = "420323"
	townA  = "420323100"
	villA  = "420323100201"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// member is one hub member: its replica (the FSM's state), its raft log store, its raft.
type member struct {
	dir   string
	id    raft.ServerID
	addr  raft.ServerAddress
	fsm   *hub.FSM
	store *raftstore.Store
	trans *raft.InmemTransport
	raft  *raft.Raft
	snaps *raft.InmemSnapshotStore
}

func (m *member) start(t *testing.T, peers []*member, bootstrap *raft.Configuration) {
	t.Helper()
	var err error
	if m.fsm, err = hub.OpenFSM(filepath.Join(m.dir, "replica"), node.Options{Logger: quiet()}, quiet()); err != nil {
		t.Fatal(err)
	}
	if m.store, err = raftstore.Open(filepath.Join(m.dir, "raft"), raftstore.Options{Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	_, m.trans = raft.NewInmemTransport(m.addr)
	for _, o := range peers {
		if o != m && o.raft != nil {
			o.trans.Connect(m.addr, m.trans)
			m.trans.Connect(o.addr, o.trans)
		}
	}
	conf := raft.DefaultConfig()
	conf.LocalID = m.id
	conf.HeartbeatTimeout, conf.ElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
	conf.LeaderLeaseTimeout, conf.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
	conf.SnapshotThreshold, conf.SnapshotInterval = 1<<40, time.Hour // snapshots only when a test asks
	conf.TrailingLogs = 4
	conf.LogOutput = io.Discard
	if bootstrap != nil {
		if err := raft.BootstrapCluster(conf, m.store, m.store, m.snaps, m.trans, *bootstrap); err != nil {
			t.Fatal(err)
		}
	}
	if m.raft, err = raft.NewRaft(conf, m.fsm, m.store, m.store, m.snaps, m.trans); err != nil {
		t.Fatal(err)
	}
}

func (m *member) stop(t *testing.T, peers []*member) {
	t.Helper()
	if m.raft == nil {
		return
	}
	if err := m.raft.Shutdown().Error(); err != nil {
		t.Error(err)
	}
	m.raft = nil
	for _, o := range peers {
		if o != m {
			o.trans.Disconnect(m.addr)
		}
	}
	_ = m.trans.Close()
	_ = m.store.Close()
	_ = m.fsm.Close()
}

// registration is a valid registration of case id in village A by a grid worker.
func registration(id string) node.Change { return casetest.Registration(id, villA, "grid1", 0) }

// startCluster starts three members in root sharing one hub identity (a store made once and
// cloned into each, as a bootstrap will do) and bootstraps them.
func startCluster(t *testing.T, root string) []*member {
	t.Helper()
	seed, err := node.Open(filepath.Join(root, "seed"), node.Options{NodeID: "zs-hub", Region: county, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Close(); err != nil {
		t.Fatal(err)
	}
	var members []*member
	var servers []raft.Server
	for i := range 3 {
		m := &member{dir: filepath.Join(root, fmt.Sprint("m", i)), id: raft.ServerID(fmt.Sprint("m", i)),
			addr: raft.ServerAddress(fmt.Sprint("m", i)), snaps: raft.NewInmemSnapshotStore()}
		// The members share one identity, made once and cloned, as a bootstrap will do.
		if err := dirs.Copy(filepath.Join(root, "seed"), filepath.Join(m.dir, "replica")); err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
		servers = append(servers, raft.Server{ID: m.id, Address: m.addr})
	}
	conf := raft.Configuration{Servers: servers}
	for _, m := range members {
		m.start(t, members, &conf)
	}
	t.Cleanup(func() {
		for _, m := range members {
			m.stop(t, members)
		}
	})
	return members
}

// stationBatch reads up to limit ops of station st's feed after `after` as the batch its
// session would hand the hub (station townA's writer rule, a receipt time fixed by the
// position so that runs are repeatable); ok is false at the end of the feed.
func stationBatch(t *testing.T, st *node.Replica, after uint64, limit int) (b node.Batch, next uint64, ok bool) {
	t.Helper()
	feed, next, err := st.Feed(after, limit, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) == 0 {
		return node.Batch{}, next, false
	}
	id := st.Origin().Node
	b = node.Batch{From: id, StampReceipt: true, ReceivedAt: 1767225600000 + int64(next),
		Checkpoint: &node.Checkpoint{Epoch: st.Epoch(), Pos: next},
		Writer:     &node.WriterRule{Node: id, Scopes: []string{node.ScopeOfRegion(townA), node.ScopeOfStation(id)}}}
	for _, e := range feed {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		b.Ops = append(b.Ops, node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta})
	}
	return b, next, true
}

// waitLeader returns the member that leads, waiting for one until deadline.
func waitLeader(t *testing.T, members []*member, deadline time.Time) *member {
	t.Helper()
	for time.Now().Before(deadline) {
		for _, m := range members {
			if m.raft != nil && m.raft.State() == raft.Leader {
				return m
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no leader before the deadline")
	return nil
}

// The members of a hub fed the same entries hold the same bytes, whatever each did in
// between: every station batch applied once, a forged batch refused alike by all, and a
// member restarted from its stores (raft replays its whole log) applies nothing twice.
func TestFSM_MembersIdentical(t *testing.T) {
	root := t.TempDir()
	members := startCluster(t, root)

	// A station's ops, cut into batches as a session would.
	st, err := node.Open(filepath.Join(root, "stA"), node.Options{NodeID: "stA", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var changes []node.Change
	for i := range 120 {
		changes = append(changes, registration(fmt.Sprintf("A-%03d", i)))
	}
	if _, _, err := st.WriteBatch(context.Background(), changes, nil); err != nil {
		t.Fatal(err)
	}
	var entries [][]byte
	for after := uint64(0); ; {
		b, next, ok := stationBatch(t, st, after, 25)
		if !ok {
			break
		}
		last := b.Ops[len(b.Ops)-1].Op.Dot.Seq
		head, err := st.SignHeadAt(last)
		if err != nil {
			t.Fatal(err)
		}
		b.Heads = []node.SignedHead{head}
		// Before the second batch, the same batch with its last op altered on the way: its
		// signed head no longer matches, so every member refuses it whole.
		if len(entries) == 1 {
			bad := b
			bad.Ops = append([]node.Incoming(nil), b.Ops...)
			altered := bad.Ops[len(bad.Ops)-1]
			altered.Op.Author = "someone-else"
			altered.Raw = altered.Op.Encode()
			bad.Ops[len(bad.Ops)-1] = altered
			entries = append(entries, hub.EncodeBatch(&bad))
		}
		entries = append(entries, hub.EncodeBatch(&b))
		after = next
	}

	deadline := time.Now().Add(30 * time.Second)
	leader := func() *member { return waitLeader(t, members, deadline) }
	var lastIndex uint64
	refused := 0
	for i, data := range entries {
		f := leader().raft.Apply(data, 10*time.Second)
		if err := f.Error(); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		res := f.Response().(hub.ApplyResult)
		if res.Err != nil {
			if !errors.Is(res.Err, node.ErrChainBroken) {
				t.Fatalf("entry %d refused with %v, want only the altered one refused as a broken chain", i, res.Err)
			}
			refused++
			continue
		}
		lastIndex = res.Index
	}
	if refused != 1 {
		t.Fatalf("%d entries refused, want the one altered", refused)
	}
	waitApplied := func(what string) {
		t.Helper()
		for _, m := range members {
			for m.fsm.Replica().RaftApplied() < lastIndex {
				if time.Now().After(deadline) {
					t.Fatalf("%s: member %s applied up to %d, want %d", what, m.id, m.fsm.Replica().RaftApplied(), lastIndex)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	waitApplied("first run")
	digests := func() [][32]byte {
		var out [][32]byte
		for _, m := range members {
			d, err := m.fsm.Replica().KeyspaceDigest()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	d := digests()
	if d[0] != d[1] || d[1] != d[2] {
		t.Fatalf("members' keyspaces differ: %x %x %x", d[0][:6], d[1][:6], d[2][:6])
	}
	if got := members[0].fsm.Replica().Status().FeedSeq; got != 120 {
		t.Errorf("hub holds %d ops, want the station's 120 (the altered batch applied nothing)", got)
	}

	// Restart a follower: raft replays its log from the start; nothing is applied twice.
	var follower *member
	for _, m := range members {
		if m.raft.State() != raft.Leader {
			follower = m
			break
		}
	}
	follower.stop(t, members)
	follower.start(t, members, nil)
	waitApplied("after the restart")
	for follower.fsm.Replica().RaftApplied() < lastIndex || follower.raft.AppliedIndex() < lastIndex {
		if time.Now().After(deadline) {
			t.Fatal("the restarted follower did not replay its log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d2 := digests(); d2[0] != d2[1] || d2[1] != d2[2] || d2[0] != d[0] {
		t.Fatalf("after a restart the keyspaces changed or differ: %x %x %x (were %x)", d2[0][:6], d2[1][:6], d2[2][:6], d[0][:6])
	}
}
