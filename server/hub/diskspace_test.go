package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/server/hub"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// fakeDisk is the free space a member's disk reports (ClusterConfig.DiskFree); the process
// reads the real disk's.
type fakeDisk struct{ free atomic.Uint64 }

func (d *fakeDisk) read(string) (uint64, error) { return d.free.Load(), nil }

const (
	plentyFree = 1 << 40
	lowFree    = 10 << 20 // below the test members' reserve (4 × 8 MiB memtables + 16 MiB)
)

// serveHub makes every member serve what a hub process serves over it: the station API with
// /readyz and /api/v1/status, the sync protocol and enrollment.
func serveHub(t *testing.T, ms []*testMember) {
	t.Helper()
	var urls []string
	for _, m := range ms {
		urls = append(urls, m.url)
	}
	for _, m := range ms {
		mem, c := m.c.Member(), m.c
		hs := fsync.NewHub(fsync.HubConfig{Replica: mem, Logger: quiet(), URLs: urls})
		var h http.Handler = server.NewStationHandler(server.StationConfig{Replica: mem, Writer: mem, Role: "hub", CaseCode: "3200",
			Logger: quiet(), Sync: hs, Enroll: hs.EnrollHandler(""), Raft: func() any { return c.Status() }, Ready: c.Serving})
		m.extra.Store(&h)
	}
}

// getJSON GETs path at m and decodes its body into out.
func getJSON(t *testing.T, m *testMember, path string, out any) int {
	t.Helper()
	resp, err := http.Get(m.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("GET %s at %s: %v: %s", path, m.id, err, raw)
	}
	return resp.StatusCode
}

// statusDisk reads the member's /api/v1/status: its raft.disk, and that the fields operators
// read are still there.
func statusDisk(t *testing.T, m *testMember) hub.DiskStatus {
	t.Helper()
	var st struct {
		Node string `json:"node"`
		Raft struct {
			Member string          `json:"member"`
			Disk   *hub.DiskStatus `json:"disk"`
		} `json:"raft"`
	}
	if code := getJSON(t, m, "/api/v1/status", &st); code != http.StatusOK || st.Node != "zs-hub" || st.Raft.Member != m.id || st.Raft.Disk == nil {
		t.Fatalf("status of %s: %d %+v", m.id, code, st)
	}
	return *st.Raft.Disk
}

// A member whose disk is below its reserve proposes nothing: the hub's writes (Go and HTTP
// API), an enrollment and a station's push through it are refused with the disk-full error
// and nothing of them is applied on any member, the station keeping its ops unacknowledged;
// it reports not ready, and its status shows the disk. The other members go on committing.
// Once space returns, the same member and the same station session go on with no restart,
// and the members end byte-identical. A leader below its reserve refuses forwarded entries
// and hands its leadership on, so that the hub goes on; a snapshot whose copy would eat the
// reserve fails and succeeds once space returns.
func TestCluster_MemberBelowDiskReserveRefusesToPropose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	root := t.TempDir()
	disks := []*fakeDisk{{}, {}, {}}
	for _, d := range disks {
		d.free.Store(plentyFree)
	}
	ms := startTestClusterWith(t, ctx, root, func(i int, cfg *hub.ClusterConfig) { cfg.DiskFree = disks[i].read })
	serveHub(t, ms)
	leader := leaderOf(t, ms...)
	waitFor(t, "the members' URLs recorded", func() bool {
		for _, m := range ms {
			for _, s := range m.c.Status().Members {
				if s.URL == "" {
					return false
				}
			}
		}
		return true
	})
	st, err := node.Open(filepath.Join(root, "stA"), node.Options{NodeID: "stA", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := fsync.EnrollStation(ctx, st, leader.url, townA, ""); err != nil {
		t.Fatal(err)
	}
	var changes []node.Change
	for i := range 20 {
		changes = append(changes, registration(fmt.Sprintf("A-%03d", i)))
	}
	if _, _, err := st.WriteBatch(ctx, changes, nil); err != nil {
		t.Fatal(err)
	}
	identical(t, ms...)

	var low, other *testMember
	var lowDisk *fakeDisk
	for i, m := range ms {
		switch {
		case m == leader:
		case low == nil:
			low, lowDisk = m, disks[i]
		default:
			other = m
		}
	}
	if d := statusDisk(t, low); d.Refusing || d.FreeBytes != plentyFree || d.ReserveBytes <= lowFree {
		t.Fatalf("disk before: %+v", d)
	}
	lowDisk.free.Store(lowFree)
	feed := leader.c.Member().Status().FeedSeq

	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, node.ErrDiskFull) || !strings.Contains(err.Error(), "磁盘空间不足") {
			t.Fatalf("%s through the member below its reserve: %v, want the disk-full error", what, err)
		}
	}
	_, err = low.c.Member().Write(ctx, casetest.Registration("H-1", villA, "county1", 0))
	refused("a hub write", err)
	_, _, err = low.c.Member().WriteBatch(ctx, []node.Change{casetest.Registration("H-2", villA, "county1", 0)})
	refused("a hub batch", err)
	var body server.ErrorBody
	reg := map[string]any{"kind": "petition", "region": villA, "summary": "反映征地补偿款未足额发放到户", "category": "征地拆迁",
		"petitioners": []cases.Person{{Name: "李四", IDNumber: casetest.ResidentID("420323", 3)}}}
	apiCall(t, low, "POST", "/api/v1/cases", reg, http.StatusInsufficientStorage, &body)
	if body.Error.Code != "disk_full" || !strings.Contains(body.Error.Message, "the disk is nearly full") {
		t.Fatalf("API write through the member below its reserve: %+v", body.Error)
	}
	stB, err := node.Open(filepath.Join(root, "stB"), node.Options{NodeID: "stB", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer stB.Close()
	if _, err := fsync.EnrollStation(ctx, stB, low.url, townA, ""); err == nil || !strings.Contains(err.Error(), "the disk is nearly full") {
		t.Fatalf("enrollment through the member below its reserve: %v", err)
	}
	client, err := fsync.NewStation(fsync.StationConfig{Replica: st, URLs: []string{low.url}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	err = client.Connect(ctx, low.url)
	var re *fsync.RemoteError
	if !errors.As(err, &re) || re.Code != fsync.ErrCodeInternal || !strings.Contains(re.Message, "the disk is nearly full") {
		t.Fatalf("a station's push through the member below its reserve: %v, want error 9 (try again later) with the disk-full message", err)
	}
	if got := client.Status().Acked.Pos; got != 0 {
		t.Fatalf("the hub acknowledged the station up to %d on a full disk", got)
	}
	var ready server.ErrorBody
	if code := getJSON(t, low, "/readyz", &ready); code != http.StatusServiceUnavailable || !strings.Contains(ready.Error.Message, "the disk is nearly full") {
		t.Fatalf("/readyz of the member below its reserve: %d %+v", code, ready.Error)
	}
	if d := statusDisk(t, low); !d.Refusing || d.FreeBytes != lowFree {
		t.Fatalf("status disk of the member below its reserve: %+v", d)
	}
	if code := getJSON(t, other, "/readyz", &map[string]any{}); code != http.StatusOK {
		t.Fatalf("/readyz of a member with space: %d", code)
	}

	// The others go on; nothing refused was applied anywhere.
	for _, m := range []*testMember{leader, other} {
		if _, err := m.c.Member().Write(ctx, casetest.Registration("H-"+m.id, villA, "county1", 0)); err != nil {
			t.Fatalf("write through %s, which has space: %v", m.id, err)
		}
	}
	identical(t, ms...)
	// A member's op count follows its commit (identical compares the stores): wait for it.
	waitFor(t, "every member at the two writes with space, and no more", func() bool {
		for _, m := range ms {
			if m.c.Member().Status().FeedSeq != feed+2 {
				return false
			}
		}
		return true
	})
	for _, m := range ms {
		for _, id := range []string{"H-1", "H-2", "A-000"} {
			if _, _, err := m.c.Member().Case(id); !errors.Is(err, node.ErrNotFound) {
				t.Fatalf("%s holds %s, refused on a full disk: %v", m.id, id, err)
			}
		}
	}

	// Space returns: the same member takes writes and the station's push, no restart.
	lowDisk.free.Store(plentyFree)
	if _, err := low.c.Member().Write(ctx, casetest.Registration("H-1", villA, "county1", 0)); err != nil {
		t.Fatalf("write once space returned: %v", err)
	}
	syncUntilCaughtUp(t, client, low.url)
	// The station's feed holds its 20 ops and what it received from the hub since: the hub
	// acknowledges all of it.
	if got, want := client.Status().Acked.Pos, st.Status().FeedSeq; got != want || want < 20 {
		t.Fatalf("the hub acknowledged the station up to %d once space returned, want its whole feed (%d)", got, want)
	}
	if code := getJSON(t, low, "/readyz", &map[string]any{}); code != http.StatusOK {
		t.Fatalf("/readyz once space returned: %d", code)
	}
	identical(t, ms...)

	// A leader below its reserve refuses what is forwarded to it and hands its leadership on.
	leader = leaderOf(t, ms...)
	for i, m := range ms {
		if m == leader {
			disks[i].free.Store(lowFree)
		} else {
			other = m
		}
	}
	if _, err := other.c.Member().Write(ctx, casetest.Registration("H-5", villA, "county1", 0)); err != nil {
		t.Fatalf("write through %s while the leader's disk is below its reserve: %v", other.id, err)
	}
	waitFor(t, "the leader below its reserve to step down", func() bool { return leader.c.Raft().State() != raft.Leader })
	_, err = leader.c.Member().Write(ctx, casetest.Registration("H-6", villA, "county1", 0))
	refused("a write at the old leader", err)

	// A snapshot whose copy would leave the disk below the reserve fails; nothing changes,
	// and it is taken once space returns.
	for i, m := range ms {
		if m == leader {
			disks[i].free.Store(plentyFree)
		}
	}
	reserve := statusDisk(t, other).ReserveBytes
	otherDisk := disks[0]
	for i, m := range ms {
		if m == other {
			otherDisk = disks[i]
		}
	}
	otherDisk.free.Store(uint64(reserve) + 1)
	if _, err := other.c.Member().Write(ctx, casetest.Registration("H-7", villA, "county1", 0)); err != nil {
		t.Fatalf("write just above the reserve: %v", err)
	}
	if err := other.c.Raft().Snapshot().Error(); err == nil || !strings.Contains(err.Error(), "the disk is nearly full") {
		t.Fatalf("snapshot that would eat the reserve: %v, want refused for lack of space", err)
	}
	if left, _ := filepath.Glob(filepath.Join(other.dir, "replica.snap-*")); len(left) != 0 {
		t.Fatalf("a refused snapshot left %v", left)
	}
	otherDisk.free.Store(plentyFree)
	if err := other.c.Raft().Snapshot().Error(); err != nil {
		t.Fatalf("snapshot once space returned: %v", err)
	}
	identical(t, ms...)
	for _, m := range ms {
		for _, id := range []string{"H-1", "H-5", "H-7", "A-019"} {
			if _, _, err := m.c.Member().Case(id); err != nil {
				t.Fatalf("%s lacks %s: %v", m.id, id, err)
			}
		}
		if _, _, err := m.c.Member().Case("H-6"); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("%s holds H-6, refused at the full leader: %v", m.id, err)
		}
	}
}
