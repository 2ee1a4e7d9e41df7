package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
)

// A station and its hub, both writing, converge both ways; the hub's ops reach the station
// only when they are in its scope; nothing is echoed back.
func TestSync_StationAndHubConverge(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)

	var mine []string
	for i := range 20 {
		id := fmt.Sprintf("A-%03d", i)
		mustWrite(t, a.r, registration(id, villageA, "grid1"))
		mine = append(mine, id)
	}
	mustWrite(t, h.r, registration("H-in", villageA, "county1"))  // in stA's scope
	mustWrite(t, h.r, registration("H-out", villageB, "county1")) // another township's
	a.run(t)

	waitFor(t, 20*time.Second, "station's cases at the hub and the hub's in-scope case at the station", func() bool {
		for _, id := range mine {
			if caseState(t, h.r, id) == "" {
				return false
			}
		}
		return caseState(t, a.r, "H-in") != ""
	})
	for _, id := range append(mine, "H-in") {
		if got, want := caseState(t, a.r, id), caseState(t, h.r, id); got != want {
			t.Errorf("case %s differs:\nstation %s\nhub     %s", id, got, want)
		}
	}
	if caseState(t, a.r, "H-out") != "" {
		t.Error("a case of another township reached the station")
	}

	// Live streaming after catch-up, both ways.
	mustWrite(t, a.r, edit("A-001", "summary", "站点修改", "grid1"))
	mustWrite(t, h.r, edit("H-in", "summary", "县里修改", "county1"))
	waitFor(t, 20*time.Second, "live edits both ways", func() bool {
		return caseState(t, h.r, "A-001") == caseState(t, a.r, "A-001") &&
			caseState(t, h.r, "H-in") == caseState(t, a.r, "H-in") &&
			contains(caseState(t, a.r, "H-in"), "县里修改") && contains(caseState(t, h.r, "A-001"), "站点修改")
	})

	// Never echo: the hub's feed holds each station op once, and the station's feed holds
	// the hub's op once (no op came back to where it was written).
	if st := a.r.Status(); st.FeedSeq != 20+1+1+1 {
		t.Errorf("station feed has %d ops, want 23 (21 own + 2 from the hub)", st.FeedSeq)
	}
	waitFor(t, 10*time.Second, "station's acked position", func() bool {
		return a.st.Status().Acked.Pos >= 21
	})
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// Reconnecting costs only what changed: an idle reconnect moves no ops.
func TestSync_ReconnectResumesFromCheckpoint(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	for i := range 50 {
		mustWrite(t, a.r, registration(fmt.Sprintf("A-%03d", i), villageA, "grid1"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.st.Connect(ctx, h.srv.URL) }()
	waitFor(t, 20*time.Second, "first sync", func() bool { return h.r.Status().Cases == 50 && a.st.Status().Acked.Pos == 50 })
	cancel()
	<-done

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	first := a.st.Stats()
	go func() { done <- a.st.Connect(ctx, h.srv.URL) }()
	waitFor(t, 10*time.Second, "second session to catch up", func() bool {
		s := a.st.Stats()
		return s != nil && s != first && s.CaughtUp.Load() && s.PeerCaughtUp.Load()
	})
	if s := a.st.Stats(); s.OpsSent.Load() != 0 || s.OpsReceived.Load() != 0 {
		t.Errorf("idle reconnect moved ops: sent %d, received %d", s.OpsSent.Load(), s.OpsReceived.Load())
	}
	cancel()
	<-done
	_ = node.Checkpoint{}
}
