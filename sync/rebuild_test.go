package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// feedDots fails on any dot a replica's feed holds twice and returns the dots it holds.
func feedDots(t *testing.T, r *node.Replica) map[crdt.Dot]bool {
	t.Helper()
	seen := map[crdt.Dot]bool{}
	for after := uint64(0); ; {
		es, next, err := r.Feed(after, 1000, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			d, err := cases.PeekDot(e.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if seen[d] {
				t.Fatalf("%s holds %s twice", r.Origin().Node, d)
			}
			seen[d] = true
		}
		if len(es) == 0 || next == after {
			return seen
		}
		after = next
	}
}

// The drill "rebuild a whole county hub from its city hub" (docs/recovery.md): the county's
// store is lost with every case of its stations and its own writes. A fresh county store
// under the same hub id (a new key and incarnation: nothing of the old identity survives)
// enrolls again at the city, and its uplink brings back from the city every case of the
// county with its whole history — the old county's own writes included, since they came
// from it. Its station enrolls again and sends what it wrote while the county was down,
// which reaches the city; the rebuilt county writes under a new incarnation, so a write of the
// old life that never reached the city (lost with the disks) is never contradicted by a new
// one at the same sequence; no replica holds an op twice.
func TestRecovery_CountyRebuiltFromItsCity(t *testing.T) {
	ctx := context.Background()
	city := startHubIn(t, "city", testCity)
	old := startHubIn(t, "C1", countyC1)
	if _, err := fsync.EnrollHub(ctx, old.r, city.srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	up := startUplink(t, old, city)
	st := enrollStation(t, old, "stA", townA)
	var ids []string
	for i := range 3 {
		ids = append(ids, fmt.Sprintf("A-%d", i))
		mustWrite(t, st.r, registration(ids[i], villageA, "grid1"))
	}
	countyOp := mustWrite(t, old.r, registration("C-1", villageA, "county1"))
	ids = append(ids, "C-1")
	syncOnce(t, st)
	mustWrite(t, old.r, edit("A-0", "summary", "县里补充：已转县住建局核实。", "county1"))
	syncOnce(t, st)
	waitFor(t, 30*time.Second, "the old county settled with the city", func() bool { return settled(t, up, old, city) })
	if err := up.stop(); err != nil {
		t.Fatal(err)
	}
	oldOrigin := old.r.Origin()
	// The county's last write reached its station but never the city: the county's copy is
	// lost with the disks, the station's stays (a station relays no other origin's ops, so
	// it stays there only: docs/recovery.md).
	lost := mustWrite(t, old.r, edit("C-1", "summary", "县里最后一次修改（未上报市里）。", "county1"))
	syncOnce(t, st)
	if !holds(t, st.r, lost) {
		t.Fatal("the station lacks the county's last write")
	}

	// The county's disks are gone. Meanwhile the station goes on working offline.
	later := mustWrite(t, st.r, registration("A-9", villageA, "grid1"))
	ids = append(ids, "A-9")

	rebuilt := startHubIn(t, "C1", countyC1) // a fresh store: new key, new incarnation
	if rebuilt.r.Origin() == oldOrigin {
		t.Fatalf("the rebuilt county reuses the old origin %v", oldOrigin)
	}
	if _, err := fsync.EnrollHub(ctx, rebuilt.r, city.srv.URL, ""); err != nil {
		t.Fatalf("the rebuilt county enrolls again at its city: %v", err)
	}
	up = startUplink(t, rebuilt, city)
	waitFor(t, 30*time.Second, "the rebuilt county settled with the city", func() bool { return settled(t, up, rebuilt, city) })
	sameCases(t, rebuilt.r, city.r, ids[:4])
	if !holds(t, rebuilt.r, countyOp) {
		t.Fatalf("the rebuilt county lacks the old county's own write %s", countyOp.Dot)
	}

	// The station enrolls again (the county's key changed) and sends what it wrote offline.
	if _, err := fsync.EnrollStation(ctx, st.r, rebuilt.srv.URL, townA, ""); err != nil {
		t.Fatalf("the station enrolls again at the rebuilt county: %v", err)
	}
	again, err := fsync.NewStation(fsync.StationConfig{Replica: st.r, Logger: quiet(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st.st, st.url = again, rebuilt.srv.URL
	syncOnce(t, st)
	mine := mustWrite(t, rebuilt.r, edit("C-1", "summary", "重建后县里补充。", "county1"))
	if mine.Dot.Origin == oldOrigin {
		t.Fatalf("the rebuilt county writes under the old origin %v", oldOrigin)
	}
	waitFor(t, 30*time.Second, "the station's offline write and the rebuilt county's at the city", func() bool {
		return holds(t, city.r, later) && holds(t, city.r, mine) && settled(t, up, rebuilt, city)
	})
	for _, r := range []*node.Replica{city.r, st.r} {
		if n := r.Status().Equivocations; n != 0 {
			t.Fatalf("%s saw %d equivocations: the rebuilt county reused a sequence of its old life", r.Origin().Node, n)
		}
	}
	syncOnce(t, st)
	sameCases(t, rebuilt.r, city.r, ids)
	// The county's lost write survives at the station, beside the rebuilt county's newer
	// one: a visible conflict there, not silently dropped (the hubs never had it).
	sameCases(t, st.r, rebuilt.r, ids[:3])
	sameCases(t, st.r, rebuilt.r, ids[4:])
	c, _, err := st.r.Case("C-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Conflicts()) == 0 {
		t.Fatal("case C-1 at the station shows no conflict: want the lost write beside the new one")
	}
	for _, r := range []*node.Replica{city.r, rebuilt.r, st.r} {
		feedDots(t, r)
	}
}
