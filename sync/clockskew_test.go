package sync_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

const threeYears = 3 * 365 * 24 * time.Hour

// enrollStationClock is enrollStation with the station's clock.
func enrollStationClock(t *testing.T, h *testHub, id, region string, now func() time.Time) *testStation {
	t.Helper()
	r, err := node.Open(filepath.Join(t.TempDir(), id), node.Options{NodeID: id, Region: region, Now: now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if _, err := fsync.EnrollStation(context.Background(), r, h.srv.URL, region, ""); err != nil {
		t.Fatalf("enroll %s: %v", id, err)
	}
	st, err := fsync.NewStation(fsync.StationConfig{Replica: r, Logger: quiet(), Now: now, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &testStation{r: r, st: st, url: h.srv.URL}
}

// A station whose clock is three years ahead and a station with a correct clock edit the
// same field without seeing each other. After sync both values stay visible as a conflict on
// every replica; at the hub and at every station downstream of it the display winner is the
// correct clock's value, never the one stamped three years ahead (the hub flagged it against
// its receipt time, and the flag travels with the op). The hub reports the fast station's
// clock as ahead by about three years, and the correct one's not at all.
//
// The fast station itself agrees: the hub sends its flagged ops back to it with their receipt
// time (node/receipt.go), and it shows the correct clock's value first too, in the case view
// and in lists (which read the head).
func TestSkew_FutureClockNeverWinsOverACorrectClock(t *testing.T) {
	h := startHub(t, "hub1")
	// The hub stamps receipts with the real clock (HubConfig.Now's default).
	fast := enrollStationClock(t, h, "stFast", townA, func() time.Time { return time.Now().Add(threeYears) })
	good := enrollStationClock(t, h, "stGood", townA, time.Now)
	other := enrollStationClock(t, h, "stOther", townA, time.Now)

	mustWrite(t, good.r, registration("K-1", villageA, "grid-good"))
	syncOnce(t, good)
	syncOnce(t, fast)
	// Offline, both edit the category.
	mustWrite(t, fast.r, edit("K-1", "category", "快钟站点的分类", "grid-fast"))
	mustWrite(t, good.r, edit("K-1", "category", "正确时钟的分类", "grid-good"))
	// And the state, concurrently: lists filter it by the case's head, not its history.
	mustWrite(t, fast.r, node.Change{Case: "K-1", Author: "grid-fast", To: cases.Forwarded,
		Data: map[string]json.RawMessage{"handler_unit": json.RawMessage(`"城关镇人民政府"`)}})
	mustWrite(t, h.r, node.Change{Case: "K-1", Author: "county1", To: cases.Accepted,
		Data: map[string]json.RawMessage{"notice_at": json.RawMessage(`1767830400000`)}})
	syncOnce(t, fast)
	syncOnce(t, good)
	syncOnce(t, other)
	syncOnce(t, fast)

	for _, r := range []*node.Replica{h.r, good.r, other.r, fast.r} {
		c, _, err := r.Case("K-1")
		if err != nil {
			t.Fatalf("%s: %v", r.Origin().Node, err)
		}
		if vals := c.Strings("category"); !slices.Contains(c.Conflicts(), "category") || len(vals) != 2 {
			t.Errorf("%s: the two categories should be a visible conflict, got %v", r.Origin().Node, vals)
		}
		// The writing station too: the hub sent its flagged op back with the receipt time.
		win, _ := c.Registers["category"].Winner()
		if got := cases.DecodeValue("category", win.Value); got != "正确时钟的分类" {
			t.Errorf("%s: the display winner is %v, want the correct clock's value", r.Origin().Node, got)
		}
		for state, want := range map[cases.State]int{cases.Accepted: 1, cases.Forwarded: 0} {
			page, err := r.List(node.Query{State: string(state), Limit: 10})
			if err != nil || len(page.Cases) != want {
				t.Errorf("%s: the list of %s cases holds %d, want %d (%v)", r.Origin().Node, state, len(page.Cases), want, err)
			}
		}
	}
	ahead := h.hub.ClockAhead()
	if ms := ahead["stFast"]; ms < int64(threeYears/time.Millisecond)-60_000 || ms > int64(threeYears/time.Millisecond)+60_000 {
		t.Errorf("the hub reports stFast's clock ahead by %d ms, want about three years (%v)", ms, ahead)
	}
	if ms, ok := ahead["stGood"]; ok {
		t.Errorf("the hub reports the correct station's clock ahead by %d ms", ms)
	}
}
