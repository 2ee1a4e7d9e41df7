package sync_test

// The workflow's replication rules over the real protocol (websockets on loopback, replicas
// on disk): an accusation never reaches the accused unit's station, one registered at that
// station goes up and leaves only a stub there, and configuration set at the hub reaches
// every station through the op log while a station cannot set it.

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// accusation is a registration of an accusation (检举控告) against the unit whose station is
// accusedStation, in region accusedRegion.
func accusation(id, region, author, accusedStation, accusedRegion string) node.Change {
	c := registration(id, region, author)
	party, _ := json.Marshal(cases.Party{Kind: "unit", Name: "城关镇人民政府", Region: accusedRegion, Station: accusedStation})
	c.Writes = append(c.Writes,
		cases.LocalWrite{Field: "matter_type", JSON: json.RawMessage(`"检举控告"`)},
		cases.LocalWrite{Field: "accused", JSON: party})
	return c
}

// inScope reports whether any entry of scope at r is an op of case id.
func inScope(t *testing.T, r *node.Replica, scope, id string) bool {
	t.Helper()
	entries, _, err := r.ScopeFeed(scope, 0, 1<<20, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Raw != nil {
			if c, err := cases.PeekCase(e.Raw); err == nil && c == id {
				return true
			}
		}
	}
	return false
}

// An accusation against 城关镇人民政府 about a village of 城关镇, registered at the county,
// never reaches 城关镇's station — not its region's stream, nor by assignment — while an
// ordinary petition of the same village does; assigning it to the accused's station is
// refused; it can be assigned to another township's station, which receives it.
func TestSync_AccusationNeverReachesTheAccused(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA) // 城关镇: the accused unit's own station
	b := enrollStation(t, h, "stB", townB)
	mustWrite(t, h.r, accusation("ACC-1", villageA, "county1", "stA", townA))
	mustWrite(t, h.r, registration("ORD-1", villageA, "county1"))
	if _, err := h.r.Write(t.Context(), edit("ACC-1", "assignee", "stA", "county1")); err == nil {
		t.Fatal("assigning the accusation to the accused unit's station was accepted")
	}
	mustWrite(t, h.r, node.Change{Case: "ACC-1", Author: "county1", To: cases.Assigned,
		Data: map[string]json.RawMessage{"handler_unit": json.RawMessage(`"溢水镇人民政府"`), "assignee": json.RawMessage(`"stB"`)}})
	syncOnce(t, a)
	syncOnce(t, b)
	if caseState(t, a.r, "ORD-1") == "" {
		t.Fatal("the ordinary petition of the same village did not reach 城关镇's station: the test shows nothing")
	}
	if caseState(t, a.r, "ACC-1") != "" {
		t.Fatal("the accusation reached the accused unit's station")
	}
	for _, s := range []string{node.ScopeOfRegion(townA), node.ScopeOfStation("stA")} {
		if inScope(t, h.r, s, "ACC-1") {
			t.Errorf("the hub indexed the accusation into %s", s)
		}
	}
	if got, want := caseState(t, b.r, "ACC-1"), caseState(t, h.r, "ACC-1"); got == "" || got != want {
		t.Errorf("the station it was assigned to holds %q, the hub %q", got, want)
	}
}

// An accusation registered at the accused unit's own station (a grid worker records what a
// villager says about the township) is kept there only as a stub from the moment it is
// written; its ops go up with the next sync, and the hub never streams it back.
func TestSync_AccusationAtTheAccusedStationLeavesAStub(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	op := mustWrite(t, a.r, accusation("ACC-2", villageA, "grid1", "stA", townA))
	if !a.r.IsLeft("ACC-2") {
		t.Fatal("the accusation is not a stub at the accused unit's station")
	}
	syncOnce(t, a)
	if !holds(t, h.r, op) {
		t.Fatal("the accusation did not go up to the hub")
	}
	mustWrite(t, h.r, edit("ACC-2", "summary", "县纪委监委已接收", "county1"))
	syncOnce(t, a)
	for _, s := range []string{node.ScopeOfRegion(townA), node.ScopeOfStation("stA")} {
		if inScope(t, h.r, s, "ACC-2") {
			t.Errorf("the hub indexed the accusation into %s", s)
		}
	}
	c, _, err := a.r.Case("ACC-2")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.String("summary"); strings.Contains(got, "县纪委监委") {
		t.Error("the hub's later edit reached the accused unit's station")
	}
	if !a.r.IsLeft("ACC-2") {
		t.Error("the stub was lifted by the sync")
	}
}

// Configuration set at the county hub — a calendar with 2027 — reaches a station through
// the sync protocol and is in force there; a station's own attempt to set the county's
// configuration is quarantined at the hub and changes nothing there.
func TestSync_ConfigurationReachesStations(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	text := strings.Replace(cases.DefaultCalendarText(), "version cn-2025-2026.1\nyears 2025 2026", "version zs-2027.1\nyears 2025 2026 2027", 1) +
		"holiday 2027-01-01 元旦\n"
	if err := cases.CheckConfig(cases.ConfigCalendar, text); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, h.r, node.Change{Case: cases.ConfigID(cases.ConfigCalendar, testCounty), Kind: cases.KindConfig, Author: "admin",
		Writes: []cases.LocalWrite{{Field: "config", JSON: jsonString(text)}}})
	if cal, doc, _ := h.r.Calendar(); cal.Version() != "zs-2027.1" || doc.ID != "cfg.calendar.420323" {
		t.Fatalf("at the hub: calendar %s from %q", cal.Version(), doc.ID)
	}
	if cal, _, _ := a.r.Calendar(); cal.Version() != cases.DefaultCalendar().Version() {
		t.Fatalf("before the sync the station uses %s", cal.Version())
	}
	syncOnce(t, a)
	cal, doc, err := a.r.Calendar()
	if err != nil || cal.Version() != "zs-2027.1" || doc.ID != "cfg.calendar.420323" {
		t.Fatalf("after the sync the station uses %s from %q (%v)", cal.Version(), doc.ID, err)
	}
	if !cal.Covers(cases.MakeDate(2027, 1, 1)) || cal.IsWorkingDay(cases.MakeDate(2027, 1, 1)) {
		t.Error("the station's calendar does not know 2027's 元旦")
	}

	// A station sets a calendar of its own for the county: quarantined at the hub.
	forged := strings.Replace(text, "zs-2027.1", "forged.1", 1)
	mustWrite(t, a.r, node.Change{Case: cases.ConfigID(cases.ConfigCalendar, testCounty), Kind: cases.KindConfig, Author: "grid1",
		Writes: []cases.LocalWrite{{Field: "config", JSON: jsonString(forged)}}})
	before := h.r.Status().Quarantined
	syncOnce(t, a)
	if got := h.r.Status().Quarantined; got != before+1 {
		t.Errorf("quarantined ops at the hub %d → %d, want one more", before, got)
	}
	if cal, _, _ := h.r.Calendar(); cal.Version() != "zs-2027.1" {
		t.Errorf("the station's write changed the hub's calendar to %s", cal.Version())
	}
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// Two offline moves of one case — the station forwards it while the county accepts it —
// become a conflict of the state on both sides after sync, shown with both values; no
// transition is taken until a person chooses one, and the choice reaches the station.
func TestSync_ConcurrentTransitionsBecomeAConflict(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("CT-1", villageA, "grid1"))
	syncOnce(t, a)
	mustWrite(t, a.r, node.Change{Case: "CT-1", Author: "grid1", To: cases.Forwarded,
		Data: map[string]json.RawMessage{"handler_unit": json.RawMessage(`"城关镇人民政府"`)}})
	mustWrite(t, h.r, node.Change{Case: "CT-1", Author: "county1", To: cases.Accepted,
		Data: map[string]json.RawMessage{"notice_at": json.RawMessage(`1767830400000`)}})
	syncOnce(t, a)
	for _, r := range []*node.Replica{a.r, h.r} {
		c, _, err := r.Case("CT-1")
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Strings("state"); len(got) != 2 || got[0] != "ACCEPTED" || got[1] != "FORWARDED" {
			t.Fatalf("%s: state %v, want the conflict of ACCEPTED and FORWARDED", r.Origin().Node, got)
		}
	}
	_, err := h.r.Write(t.Context(), node.Change{Case: "CT-1", Author: "county1", To: cases.Investigating,
		Data: map[string]json.RawMessage{"route": json.RawMessage(`"Art31(6)"`)}})
	var fe *cases.FieldError
	if !errors.As(err, &fe) || fe.Code != "state_conflict" {
		t.Fatalf("a transition while the state is in conflict: %v", err)
	}
	mustWrite(t, h.r, node.Change{Case: "CT-1", Author: "county1", Kind: cases.KindResolve,
		Writes: []cases.LocalWrite{{Field: "state", JSON: json.RawMessage(`"ACCEPTED"`)}}})
	syncOnce(t, a)
	c, _, _ := a.r.Case("CT-1")
	if c.State() != cases.Accepted || slices.Contains(c.Conflicts(), "state") {
		t.Errorf("at the station after the resolution: %s, conflicts %v", c.State(), c.Conflicts())
	}
}
