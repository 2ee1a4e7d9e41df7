package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/faultproxy"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// Through a link that drops, duplicates, delays and reorders whole websocket messages and
// is cut mid-frame, while both sides keep writing, a station and its hub converge once the
// link heals: every op on both sides, each exactly once, the same case states.
func TestSync_ConvergesThroughFaultyLink(t *testing.T) {
	// Lost frames are found by timers: make them short.
	fast := fsync.Timing{Ping: 100 * time.Millisecond, Handshake: time.Second, Ack: 2 * time.Second}
	h := startHubWith(t, "hub1", fsync.HubConfig{Timing: fast})
	a := enrollStation(t, h, "stA", townA)
	target := h.srv.Listener.Addr().String()
	proxy, err := faultproxy.New(target, faultproxy.Options{Seed: 42, ReorderWindow: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	st, err := fsync.NewStation(fsync.StationConfig{Replica: a.r, URLs: []string{"http://" + proxy.Addr()}, Logger: quiet(),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timing: fast})
	if err != nil {
		t.Fatal(err)
	}
	bad := faultproxy.Faults{Drop: 0.1, Duplicate: 0.1, Reorder: 0.1, Delay: 3 * time.Millisecond}
	proxy.SetFaults(faultproxy.ClientToServer, bad)
	proxy.SetFaults(faultproxy.ServerToClient, bad)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = st.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var ids []string
	var stationOps, hubOps int
	for round := range 10 {
		var regs []node.Change
		for i := range 30 {
			id := fmt.Sprintf("A-%02d-%02d", round, i)
			ids = append(ids, id)
			regs = append(regs, registration(id, villageA, "grid1"), edit(id, "summary", fmt.Sprintf("第%d轮", round), "grid1"))
		}
		mustWriteAll(t, a.r, regs)
		stationOps += len(regs)
		hid := fmt.Sprintf("H-%02d", round)
		ids = append(ids, hid)
		mustWrite(t, h.r, registration(hid, villageA, "county1"))
		mustWrite(t, h.r, edit(hid, "category", "县里归类", "county1"))
		hubOps += 2
		if round%3 == 1 {
			proxy.CutAll()
		}
		// Let the bad link carry this round (sessions break and resume) before the next.
		last := ids[len(ids)-2]
		waitFor(t, 30*time.Second, "the round to cross the bad link", func() bool {
			return contains(caseState(t, h.r, last), fmt.Sprintf("第%d轮", round))
		})
	}

	// Heal, and wait for both sides to hold everything.
	proxy.SetFaults(faultproxy.ClientToServer, faultproxy.Faults{})
	proxy.SetFaults(faultproxy.ServerToClient, faultproxy.Faults{})
	waitFor(t, 60*time.Second, "convergence after the link heals", func() bool {
		return h.r.Status().FeedSeq == uint64(stationOps+hubOps) && a.r.Status().FeedSeq == uint64(stationOps+hubOps)
	})
	sameCases(t, a.r, h.r, ids)
	if s := proxy.Stats(); s.Dir[0].Dropped+s.Dir[1].Dropped == 0 || s.Dir[0].Duplicated+s.Dir[1].Duplicated == 0 {
		t.Errorf("the link was not faulty enough to prove anything: %+v", s)
	} else {
		t.Logf("proxy: %d connections, c→s %+v, s→c %+v", s.Accepted, s.Dir[0], s.Dir[1])
	}
	if p := h.r.Status().Pending; p != 0 {
		t.Errorf("hub holds %d ops pending after convergence", p)
	}
}
