package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// stationInfo returns what the hub knows of station id.
func stationInfo(t *testing.T, h *testHub, id string) fsync.StationInfo {
	t.Helper()
	sts, err := h.hub.Stations()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.Station == id {
			return s
		}
	}
	t.Fatalf("station %s not listed", id)
	return fsync.StationInfo{}
}

// The hub tells how much each station has still to take from it: unknown before any
// session, 0 once the station is caught up (its own ops, which are never sent back to it,
// included), the number of new entries in its scope while it is away, and 0 again after it
// reconnects.
func TestHub_PendingOpsPerStation(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	if p := stationInfo(t, h, "stA").PendingOps; p != nil {
		t.Fatalf("pending ops %d known before any session", *p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.st.Run(ctx) }()
	pendingIs := func(want uint64) func() bool {
		return func() bool { p := stationInfo(t, h, "stA").PendingOps; return p != nil && *p == want }
	}
	waitFor(t, 10*time.Second, "stA caught up, nothing pending", pendingIs(0))
	cancel()
	<-done

	// The county registers five cases in stA's township while stA is away.
	for i := range 5 {
		mustWrite(t, h.r, registration(fmt.Sprintf("H-%d", i), villageA, "county1"))
	}
	if p := stationInfo(t, h, "stA").PendingOps; p == nil || *p != 5 {
		t.Fatalf("pending ops while away = %v, want 5", p)
	}
	a.run(t)
	waitFor(t, 10*time.Second, "stA caught up again", pendingIs(0))
	waitFor(t, 10*time.Second, "the five cases at stA", func() bool { _, _, err := a.r.Case("H-4"); return err == nil })
}

// An ack lost with its session (the hub applied the station's last batch, the link broke
// before the ack arrived) is made good at the next session from the position the hub says
// it holds, even when the station has nothing new to send: nothing stays pending.
func TestStation_LostAckIsMadeGoodByTheNextSession(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	mustWrite(t, a.r, registration("A-2", villageA, "grid1"))
	syncOnce(t, a)
	if got := a.st.Status().Acked.Pos; got != a.r.Status().FeedSeq {
		t.Fatalf("acked %d of %d after a full session", got, a.r.Status().FeedSeq)
	}
	// As if the last ack had been lost: the station knows only the first op acknowledged.
	if err := fsync.SetAckedForTest(a.r, "hub1", node.Checkpoint{Epoch: a.r.Epoch(), Pos: 1}); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, a)
	if got, want := a.st.Status().Acked.Pos, a.r.Status().FeedSeq; got != want {
		t.Fatalf("after the next session the station counts %d of %d ops acknowledged: the hub held them all", got, want)
	}
}
