package hub_test

import (
	"context"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/internal/faultproxy"
	"github.com/fengqiao/fengqiao/server/hub"
)

// The leader's Raft traffic is cut off from both other members (a proxy sits on every
// member-to-member link, each way): the other two elect a leader and keep committing; the
// cut-off member commits nothing; once the links heal it follows the new leader, holds
// what was committed without it, and what it tried to write alone is nowhere.
func TestCluster_PartitionedLeaderHeals(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var mu gosync.Mutex
	proxies := map[[2]string]*faultproxy.Proxy{} // {from, to} → the proxy from dials to reach to
	via := func(from string) func(*hub.ClusterConfig) {
		return func(cfg *hub.ClusterConfig) {
			cfg.RaftAddressOf = addressOf(func(id raft.ServerID) (raft.ServerAddress, error) {
				mu.Lock()
				defer mu.Unlock()
				p, ok := proxies[[2]string{from, string(id)}]
				if !ok {
					return "", fmt.Errorf("no link from %s to %s", from, id)
				}
				return raft.ServerAddress(p.Addr()), nil
			})
		}
	}
	ms := []*testMember{newTestMemberWith(t, root, "m1", clusterToken, via("m1")),
		newTestMemberWith(t, root, "m2", clusterToken, via("m2")), newTestMemberWith(t, root, "m3", clusterToken, via("m3"))}
	mu.Lock()
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				p, err := faultproxy.New(b.raftAddr, faultproxy.Options{Raw: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = p.Close() })
				proxies[[2]string{a.id, b.id}] = p
			}
		}
	}
	mu.Unlock()
	cut := func(id string, blocked bool) {
		mu.Lock()
		defer mu.Unlock()
		for k, p := range proxies {
			if k[0] == id || k[1] == id {
				p.Block(blocked)
			}
		}
	}

	if err := ms[0].c.Bootstrap(ctx, "zs-hub", "420323", []hub.Peer{{ID: "m2", URL: ms[1].url}, {ID: "m3", URL: ms[2].url}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[1:] {
		if err := m.c.Join(ctx, []string{ms[0].url}); err != nil {
			t.Fatal(err)
		}
	}
	old := leaderOf(t, ms...)
	if err := old.c.Member().PutDoc(ctx, "note", "before", []byte("all three")); err != nil {
		t.Fatal(err)
	}
	identical(t, ms...)

	cut(old.id, true)
	var rest []*testMember
	for _, m := range ms {
		if m != old {
			rest = append(rest, m)
		}
	}
	var leader *testMember
	waitFor(t, "a new leader among the other two", func() bool {
		leader = nil
		for _, m := range rest {
			if m.c.Raft().State() == raft.Leader {
				leader = m
			}
		}
		return leader != nil
	})
	if err := leader.c.Member().PutDoc(ctx, "note", "during", []byte("two of three")); err != nil {
		t.Fatalf("the majority could not commit: %v", err)
	}
	// The cut-off member cannot commit anything on its own.
	alone, stop := context.WithTimeout(ctx, 2*time.Second)
	err := old.c.Member().PutDoc(alone, "note", "alone", []byte("never committed"))
	stop()
	if err == nil {
		t.Fatal("a member cut off from the others committed a write")
	}
	if _, err := old.c.Member().Doc("note", "during"); err == nil {
		t.Fatal("the cut-off member saw a write committed without it while cut off")
	}

	cut(old.id, false)
	identical(t, ms...)
	for _, m := range ms {
		if v, err := m.c.Member().Doc("note", "during"); err != nil || string(v) != "two of three" {
			t.Fatalf("%s after healing: %q %v", m.id, v, err)
		}
		if _, err := m.c.Member().Doc("note", "alone"); err == nil {
			t.Fatalf("%s holds the write the cut-off member tried alone", m.id)
		}
	}
	if st := old.c.Status(); st.State != "Follower" || st.Leader != leader.id {
		t.Fatalf("the healed member: %+v", st)
	}
}

type addressOf func(id raft.ServerID) (raft.ServerAddress, error)

func (f addressOf) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) { return f(id) }
