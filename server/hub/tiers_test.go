package hub_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/server/hub"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// serveSync mounts the sync protocol and enrollment on every member, over the member itself.
func serveSync(t *testing.T, ms []*testMember) []string {
	t.Helper()
	var urls []string
	for _, m := range ms {
		urls = append(urls, m.url)
	}
	for _, m := range ms {
		h := fsync.NewHub(fsync.HubConfig{Replica: m.c.Member(), Logger: quiet(), URLs: urls})
		mux := http.NewServeMux()
		mux.Handle("GET /sync", h)
		mux.Handle("POST /api/v1/enroll", h.EnrollHandler(""))
		var handler http.Handler = mux
		m.extra.Store(&handler)
	}
	return urls
}

// startCityAndCounty bootstraps a city hub (sy-hub, members c1–c3) and a county hub
// (zs-hub, k1–k3) under root, each three members with Raft over TLS, and waits for their
// leaders.
func startCityAndCounty(t *testing.T, ctx context.Context, root string) (city, county []*testMember) {
	t.Helper()
	city, county = make([]*testMember, 3), make([]*testMember, 3)
	for i := range 3 {
		city[i] = newTestMember(t, filepath.Join(root, "city"), []string{"c1", "c2", "c3"}[i], clusterToken)
		county[i] = newTestMember(t, filepath.Join(root, "county"), []string{"k1", "k2", "k3"}[i], clusterToken)
	}
	boot := func(ms []*testMember, hubID, region string) {
		if err := ms[0].c.Bootstrap(ctx, hubID, region, []hub.Peer{{ID: ms[1].id, URL: ms[1].url}, {ID: ms[2].id, URL: ms[2].url}}); err != nil {
			t.Fatal(err)
		}
		for _, m := range ms[1:] {
			if err := m.c.Join(ctx, []string{ms[0].url}); err != nil {
				t.Fatal(err)
			}
		}
		leaderOf(t, ms...)
	}
	boot(city, "sy-hub", "4203")
	boot(county, "zs-hub", "420323")
	return city, county
}

// A county hub and a city hub, each three members with Raft over TLS: the county's leader
// runs the uplink. A case the county registers reaches every city member; the city assigns
// it down to a station of the county (a write at the city, sequenced inside the city's
// apply) and the assignment reaches every county member, filed in that station's scope.
// When the county's leadership moves, the uplink resumes on the new leader from the
// replicated checkpoints: it sends only what is new.
func TestCluster_CityAssignsDownThroughCounty(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	city, county := startCityAndCounty(t, ctx, t.TempDir())
	cityURLs := serveSync(t, city)

	// The uplink, run by the county's leader (as the hub command does).
	runUplink := func() (u *fsync.Uplink, stop func()) {
		leader := leaderOf(t, county...)
		u, err := fsync.NewUplink(fsync.UplinkConfig{Replica: leader.c.Member(), Parent: cityURLs, Logger: quiet(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		uctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- u.Run(uctx) }()
		return u, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("uplink: %v", err)
			}
		}
	}
	_, stop := runUplink()

	kLeader := leaderOf(t, county...)
	if _, err := kLeader.c.Member().Write(ctx, casetest.Registration("K-1", villA, "county1", 0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the county's case on every city member", func() bool {
		for _, m := range city {
			if _, _, err := m.c.Member().Case("K-1"); err != nil {
				return false
			}
		}
		return true
	})
	cLeader := leaderOf(t, city...)
	if _, err := cLeader.c.Member().Write(ctx, casetest.Edit("K-1", "assignee", "zs-station-1", "city1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the city's assignment on every county member, in the station's scope", func() bool {
		for _, m := range county {
			scopes, err := m.c.Member().CaseScopes("K-1")
			if err != nil || !contains(scopes, "azs-station-1") {
				return false
			}
		}
		return true
	})

	// Leadership of the county moves: the uplink restarts on the new leader, resends
	// nothing acknowledged, and a new write still goes up.
	stop()
	if err := kLeader.c.Raft().LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new county leader", func() bool {
		l := leaderOf(t, county...)
		return l != kLeader
	})
	u, stop := runUplink()
	defer stop()
	if _, err := leaderOf(t, county...).c.Member().Write(ctx, casetest.Note("K-1", "已交办网格员", "county1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new note on every city member", func() bool {
		for _, m := range city {
			if _, hist, err := m.c.Member().Case("K-1"); err != nil || len(hist) != 3 {
				return false
			}
		}
		return true
	})
	if st := u.Stats(); st == nil {
		t.Fatal("the new leader's uplink has no session")
	} else if n := st.OpsSent.Load(); n != 1 {
		t.Fatalf("the new leader's uplink sent %d ops, want only the new note (nothing acknowledged again)", n)
	}
	identical(t, city...)
	identical(t, county...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
