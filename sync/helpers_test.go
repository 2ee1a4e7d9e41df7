package sync_test

// Shared helpers of the sync tests: real replicas on disk, a real hub behind an httptest
// server on loopback, stations enrolled through the HTTP endpoint, and waits on conditions
// with deadlines (never sleeps).

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

const (
	testCounty = "420323"       // 竹山县
	townA      = "420323100"    // 城关镇
	villageA   = "420323100201" // 城关镇 窑沟村委会
	townB      = "420323101"    // 溢水镇
	villageB   = "420323101219" // 溢水镇 花栎村委会
	baseTime   = int64(1767225600000)
)

func quiet() *slog.Logger {
	if os.Getenv("FENGQIAO_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Add(1)) }

func newClock() *testClock {
	c := &testClock{}
	c.ms.Store(baseTime + 30*24*3600*1000)
	return c
}

// openReplica opens a replica on disk in dir/name and closes it at the end of the test.
func openReplica(t testing.TB, dir, id, region string) *node.Replica {
	t.Helper()
	r, err := node.Open(filepath.Join(dir, id), node.Options{NodeID: id, Region: region, Now: newClock().now, Logger: quiet()})
	if err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// testHub is a hub replica served on loopback.
type testHub struct {
	r   *node.Replica
	hub *fsync.Hub
	srv *httptest.Server
}

func startHub(t testing.TB, id string) *testHub {
	t.Helper()
	return startHubWith(t, id, fsync.HubConfig{})
}

// startHubWith starts a hub with cfg (its Replica and Logger are filled in).
func startHubWith(t testing.TB, id string, cfg fsync.HubConfig) *testHub {
	t.Helper()
	return serveTestHub(t, openReplica(t, t.TempDir(), id, testCounty), cfg)
}

// serveTestHub serves the sync protocol and enrollment over r on loopback.
func serveTestHub(t testing.TB, r *node.Replica, cfg fsync.HubConfig) *testHub {
	t.Helper()
	cfg.Replica, cfg.Logger = r, quiet()
	h := fsync.NewHub(cfg)
	mux := http.NewServeMux()
	mux.Handle("/sync", h)
	mux.Handle("/api/v1/enroll", h.EnrollHandler(""))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testHub{r: r, hub: h, srv: srv}
}

// testStation is an enrolled station replica with its sync client.
type testStation struct {
	r   *node.Replica
	st  *fsync.Station
	url string
}

func enrollStation(t testing.TB, h *testHub, id, region string) *testStation {
	t.Helper()
	r := openReplica(t, t.TempDir(), id, region)
	if _, err := fsync.EnrollStation(context.Background(), r, h.srv.URL, region, ""); err != nil {
		t.Fatalf("enroll %s: %v", id, err)
	}
	st, err := fsync.NewStation(fsync.StationConfig{Replica: r, Logger: quiet(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &testStation{r: r, st: st, url: h.srv.URL}
}

// run keeps the station syncing until the test ends.
func (s *testStation) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.st.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Shared with the replica's tests (internal/casetest).
var (
	edit         = casetest.Edit
	mustWrite    = casetest.MustWrite
	mustWriteAll = casetest.MustWriteAll
)

// registration is a valid registration of case id in region, received at baseTime.
func registration(id, region, author string) node.Change {
	return casetest.Registration(id, region, author, baseTime)
}

// caseState renders a case as its fields' visible values (with conflicts) for comparison
// across replicas; "" when the replica does not hold it.
func caseState(t testing.TB, r *node.Replica, id string) string {
	t.Helper()
	c, _, err := r.Case(id)
	if err != nil {
		return ""
	}
	var fields []string
	for f := range c.Registers {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	out := ""
	for _, f := range fields {
		out += fmt.Sprintf("%s=%q;", f, c.Strings(f))
	}
	return out
}

// hasOp reports whether r holds the op named by dot d (as a case op, via its history).
func holds(t testing.TB, r *node.Replica, op cases.Op) bool {
	t.Helper()
	hist, err := r.History(op.Case)
	if err != nil {
		return false
	}
	for _, s := range hist {
		if s.Op.Dot == op.Dot {
			return true
		}
	}
	return false
}
