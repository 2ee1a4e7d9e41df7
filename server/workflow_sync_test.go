package server_test

// Repeat detection across tiers: two townships' stations each register the same
// petitioner's same matter, and neither can see the other's case; after both sync with the
// county hub over the real protocol, the hub's API flags the later one as a repeat of the
// earlier, and counts it in its metrics, while each station still counts none.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// syncedNode is an API node whose replica is also a sync peer.
type syncedNode struct {
	*apiNode
	st *fsync.Station
}

// newHubNode serves a hub replica's sync endpoint, enrollment and API on one server.
func newHubNode(t *testing.T) *apiNode {
	t.Helper()
	clk := &apiClock{}
	clk.set(time.Date(2026, 3, 2, 9, 0, 0, 0, cases.Shanghai))
	r, err := node.Open(filepath.Join(t.TempDir(), "hub"), node.Options{NodeID: "zs-hub", Region: "420323", Now: clk.now, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	h := fsync.NewHub(fsync.HubConfig{Replica: r, Logger: quietLog()})
	srv := httptest.NewServer(server.NewStationHandler(server.StationConfig{Replica: r, Writer: r, Now: clk.now, Role: "hub", CaseCode: "3200",
		Sync: h, Enroll: h.EnrollHandler(""), Logger: quietLog()}))
	t.Cleanup(srv.Close)
	return &apiNode{r: r, srv: srv, clk: clk}
}

// newSyncedStation enrolls a station of region at hub and serves its API.
func newSyncedStation(t *testing.T, hub *apiNode, id, region, code string) *syncedNode {
	t.Helper()
	clk := &apiClock{}
	clk.set(hub.clk.now())
	r, err := node.Open(filepath.Join(t.TempDir(), id), node.Options{NodeID: id, Region: region, Now: clk.now, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := fsync.EnrollStation(context.Background(), r, hub.srv.URL, region, ""); err != nil {
		t.Fatalf("enroll %s: %v", id, err)
	}
	st, err := fsync.NewStation(fsync.StationConfig{Replica: r, Logger: quietLog(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.NewStationHandler(server.StationConfig{Replica: r, Writer: r, Now: clk.now, CaseCode: code, Logger: quietLog()}))
	t.Cleanup(srv.Close)
	return &syncedNode{apiNode: &apiNode{r: r, srv: srv, clk: clk}, st: st}
}

// syncOnce connects the station until both directions are caught up, then disconnects.
func (s *syncedNode) syncOnce(t *testing.T, hub *apiNode) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	prev := s.st.Stats()
	go func() { done <- s.st.Connect(ctx, hub.srv.URL) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := s.st.Stats()
		if st != nil && st != prev && st.CaughtUp.Load() && st.PeerCaughtUp.Load() {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("session ended early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the session to catch up both ways")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestAPI_HubFindsRepeatsNoStationCanSee(t *testing.T) {
	hub := newHubNode(t)
	a := newSyncedStation(t, hub, "zs-chengguan", "420323100", "3204")
	b := newSyncedStation(t, hub, "zs-yishui", "420323101", "3205")
	ca := a.view(t, "POST", "/api/v1/cases", petition("", nil), http.StatusCreated)
	a.clk.add(time.Hour)
	b.clk.add(2 * time.Hour)
	cb := b.view(t, "POST", "/api/v1/cases", petition("", map[string]any{"region": "420323101219"}), http.StatusCreated)
	if len(ca.RepeatOf) != 0 || len(cb.RepeatOf) != 0 {
		t.Fatalf("before any sync a station saw a repeat: %v %v", ca.RepeatOf, cb.RepeatOf)
	}
	a.syncOnce(t, hub)
	b.syncOnce(t, hub)
	got := hub.view(t, "GET", "/api/v1/cases/"+cb.ID, nil, http.StatusOK)
	if !slices.Equal(got.RepeatOf, []string{ca.ID}) || !slices.ContainsFunc(got.FlagList, func(f server.FlagView) bool { return f.Code == cases.FlagRepeat && f.Computed }) {
		t.Fatalf("at the hub %s: repeat_of %v, flags %+v; want a computed repeat of %s", cb.ID, got.RepeatOf, got.FlagList, ca.ID)
	}
	if first := hub.view(t, "GET", "/api/v1/cases/"+ca.ID, nil, http.StatusOK); len(first.RepeatOf) != 0 {
		t.Errorf("the first petition is a repeat of %v", first.RepeatOf)
	}
	repeats := func(n *apiNode) []string {
		var m server.MetricsResponse
		n.call(t, "GET", "/api/v1/metrics/rates?from=2026-03-01&to=2026-04-01", nil, http.StatusOK, &m)
		for _, r := range m.Metrics {
			if r.Name == "repeat_petitions" {
				return r.NumeratorCases
			}
		}
		t.Fatal("no repeat_petitions metric")
		return nil
	}
	if got := repeats(hub); !slices.Equal(got, []string{cb.ID}) {
		t.Errorf("hub counts repeats %v, want %s", got, cb.ID)
	}
	if got := repeats(a.apiNode); len(got) != 0 {
		t.Errorf("a station counts repeats %v it cannot see", got)
	}
}
