package hub_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
)

// A follower that was down while the leader snapshotted and truncated its log past the
// follower's last entry catches up by snapshot: raft streams the leader's Pebble checkpoint,
// the follower swaps it in for its replica, then applies the entries after it. All members
// end byte-identical.
func TestFSM_SnapshotCatchesUpAFollower(t *testing.T) {
	root := t.TempDir()
	members := startCluster(t, root)
	st, err := node.Open(filepath.Join(root, "stA"), node.Options{NodeID: "stA", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(60 * time.Second)
	leader := func() *member { return waitLeader(t, members, deadline) }
	var after, last uint64
	propose := func(n int) {
		t.Helper()
		for range n {
			if _, err := st.Write(t.Context(), registration(fmt.Sprintf("A-%04d", st.Status().FeedSeq))); err != nil {
				t.Fatal(err)
			}
			b, next, _ := stationBatch(t, st, after, 100)
			after = next
			f := leader().raft.Apply(hub.EncodeBatch(&b), 10*time.Second)
			if err := f.Error(); err != nil {
				t.Fatal(err)
			}
			if res := f.Response().(hub.ApplyResult); res.Err != nil {
				t.Fatal(res.Err)
			} else {
				last = res.Index
			}
		}
	}
	propose(20)
	var follower *member
	for _, m := range members {
		if m.raft.State() != raft.Leader {
			follower = m
			break
		}
	}
	stoppedAt := follower.raft.LastIndex()
	follower.stop(t, members)
	propose(30)
	// The leader snapshots and, keeping only 4 trailing entries, truncates its log past
	// where the follower stopped.
	l := leader()
	if err := l.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	propose(5)
	first, err := l.store.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first <= stoppedAt+1 {
		t.Fatalf("the leader's log starts at %d, the follower stopped at %d: it could catch up from the log", first, stoppedAt)
	}
	follower.start(t, members, nil)
	for follower.fsm.Replica().RaftApplied() < last {
		if time.Now().After(deadline) {
			t.Fatalf("the follower applied up to %d, want %d", follower.fsm.Replica().RaftApplied(), last)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var want [32]byte
	for i, m := range members {
		for m.fsm.Replica().RaftApplied() < last {
			if time.Now().After(deadline) {
				t.Fatalf("member %s behind", m.id)
			}
			time.Sleep(5 * time.Millisecond)
		}
		d, err := m.fsm.Replica().KeyspaceDigest()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = d
		} else if d != want {
			t.Errorf("member %s differs after the snapshot install", m.id)
		}
	}
	if snaps, err := follower.snaps.List(); err != nil || len(snaps) == 0 {
		t.Errorf("the follower received no snapshot (%v)", err)
	}
	if got := follower.fsm.Replica().Status().FeedSeq; got != 55 {
		t.Errorf("the follower holds %d ops, want 55", got)
	}
}
