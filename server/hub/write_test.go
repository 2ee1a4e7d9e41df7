package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
)

// startTestCluster bootstraps three members (real TLS Raft, real HTTP) and joins the others.
func startTestCluster(t *testing.T, ctx context.Context, root string) []*testMember {
	t.Helper()
	return startTestClusterWith(t, ctx, root, nil)
}

// startTestClusterWith is startTestCluster with adjust, when set, changing member i's
// configuration.
func startTestClusterWith(t *testing.T, ctx context.Context, root string, adjust func(i int, cfg *hub.ClusterConfig)) []*testMember {
	t.Helper()
	var ms []*testMember
	for i, id := range []string{"m1", "m2", "m3"} {
		var a func(*hub.ClusterConfig)
		if adjust != nil {
			a = func(cfg *hub.ClusterConfig) { adjust(i, cfg) }
		}
		ms = append(ms, newTestMemberWith(t, root, id, clusterToken, a))
	}
	if err := ms[0].c.Bootstrap(ctx, "zs-hub", "420323", []hub.Peer{{ID: "m2", URL: ms[1].url}, {ID: "m3", URL: ms[2].url}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[1:] {
		if err := m.c.Join(ctx, []string{ms[0].url}); err != nil {
			t.Fatal(err)
		}
	}
	leaderOf(t, ms...)
	return ms
}

// The hub's own writes (county staff at the hub) get their seq and chain inside apply: made
// through the leader, through a follower (forwarded over HTTP), and after the leader changed,
// they form one gapless chain of the hub's origin on every member; a write that fails
// validation is refused with its field error on the member that asked, and writes nothing.
func TestMember_HubWritesChainInsideApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ms := startTestCluster(t, ctx, t.TempDir())
	leader := leaderOf(t, ms...)
	var follower *testMember
	for _, m := range ms {
		if m != leader {
			follower = m
		}
	}
	waitFor(t, "the members' URLs recorded", func() bool {
		for _, s := range follower.c.Status().Members {
			if s.URL == "" {
				return false
			}
		}
		return true
	})
	var seqs []uint64
	write := func(m *testMember, c node.Change) {
		t.Helper()
		op, err := m.c.Member().Write(ctx, c)
		if err != nil {
			t.Fatalf("write through %s: %v", m.id, err)
		}
		if op.Dot.Origin.Node != "zs-hub" {
			t.Fatalf("hub write has origin %v", op.Dot.Origin)
		}
		seqs = append(seqs, op.Dot.Seq)
	}
	write(leader, casetest.Registration("H-1", villA, "county1", 0))
	write(follower, casetest.Note("H-1", "县信访局已电话回访", "county1"))

	// A refusal answers with the field's error, through the follower too; nothing is written.
	before := follower.c.Member().Status().FeedSeq
	_, err := follower.c.Member().Write(ctx, casetest.Edit("H-1", "no_such_field", "x", "county1"))
	var fe *cases.FieldError
	if !errors.As(err, &fe) || fe.Field == "" {
		t.Fatalf("invalid write through a follower: %v, want a field error", err)
	}
	if got := follower.c.Member().Status().FeedSeq; got != before {
		t.Fatalf("a refused write moved the feed %d → %d", before, got)
	}

	// Leadership moves; the chain continues where the log left it.
	if err := leader.c.Raft().LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new leader", func() bool {
		for _, m := range ms {
			if m != leader && m.c.Raft().State() == raft.Leader {
				return true
			}
		}
		return false
	})
	write(leader, casetest.Note("H-1", "转交镇综治中心办理", "county1")) // the old leader now forwards
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("hub op seqs %v: want 1, 2, 3", seqs)
		}
	}
	identical(t, ms...)
	for _, m := range ms {
		_, hist, err := m.c.Member().Case("H-1")
		if err != nil || len(hist) != 3 {
			t.Fatalf("%s: case H-1 with %d ops, %v", m.id, len(hist), err)
		}
	}
}

func FuzzDecodeWrite(f *testing.F) {
	entry, err := hub.EncodeWrite(1767225600000, []node.Change{casetest.Note("H-1", "回访", "county1")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(entry)
	f.Add([]byte{0x94, 0x02, 0x02, 0x01, 0xc4, 0x02, '[', ']'})
	f.Fuzz(func(t *testing.T, data []byte) {
		at, changes, err := hub.DecodeWrite(data)
		if err != nil {
			return
		}
		again, err := hub.EncodeWrite(at, changes)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := hub.DecodeWrite(again); err != nil {
			t.Fatalf("a decoded write entry does not decode after re-encoding: %v", err)
		}
	})
}
