package node_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
)

func mustOK(t *testing.T, r *node.Replica, ch node.Change) cases.Op {
	t.Helper()
	op, err := r.Write(context.Background(), ch)
	if err != nil {
		t.Fatalf("write %s by %s: %v", ch.Case, ch.Author, err)
	}
	return op
}

// Accounts and audit trails are documents of the op log, not cases: lists, case counts and
// case reads leave them out, and the directory of accounts is rebuilt from the store.
func TestPeople_NotCasesAndDirectorySurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	r := openTestReplicaFS(t, fs, "hub", testCounty)
	mustOK(t, r, casetest.Account(cases.SetupAuthor, "admin", testCounty, cases.RoleCountyAdmin))
	mustOK(t, r, casetest.Account("admin", "wg.a", villageA, cases.RoleGridWorker))
	mustOK(t, r, casetest.Registration("zs-1", villageA, "wg.a", 0))
	mustOK(t, r, node.Change{Case: cases.AuditDocID("hub"), Kind: cases.KindAudit, Author: "wg.a",
		Writes: []cases.LocalWrite{cases.AuditWrite(cases.AuditRecord{Action: cases.AuditView, Cases: []string{"zs-1"}, Fields: []string{"name"}})}})
	if st := r.Status(); st.Cases != 1 || st.FeedSeq != 4 {
		t.Errorf("status %+v: want 1 case among 4 ops", st)
	}
	page, err := r.List(node.Query{})
	if err != nil || len(page.Cases) != 1 || page.Cases[0].ID != "zs-1" {
		t.Fatalf("list = %v, %v: want only the case", page.Cases, err)
	}
	if _, _, err := r.Case(cases.AccountDocID("wg.a")); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("an account read as a case: %v", err)
	}
	entries, _, err := r.Audit(node.AuditQuery{Case: "zs-1"})
	if err != nil || len(entries) != 1 || entries[0].Account != "wg.a" || entries[0].Node != "hub" {
		t.Fatalf("audit of zs-1 = %+v, %v", entries, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openTestReplicaFS(t, fs, "hub", testCounty)
	a, err := r.Account("wg.a")
	if err != nil || !slices.Equal(a.Roles, []cases.Role{cases.RoleGridWorker}) || !a.Credential.Verify(casetest.Password) {
		t.Fatalf("after reopen wg.a = %+v, %v", a, err)
	}
	if has, _ := r.HasAccounts(); !has {
		t.Error("the reopened replica holds no account")
	}
}

// An account's ops go to the scopes of the stations that must know it: its region's levels
// and the stations it names; one that moves leaves a last op in the old scope and brings
// its whole history to the new one.
func TestPeople_AccountsTravelToTheirScopes(t *testing.T) {
	r := openTestReplica(t, "hub", testCounty)
	mustOK(t, r, casetest.Account(cases.SetupAuthor, "admin", testCounty, cases.RoleCountyAdmin))
	mustOK(t, r, casetest.Account("admin", "wg.a", villageA, cases.RoleGridWorker))
	count := func(scope string) int {
		t.Helper()
		es, _, err := r.ScopeFeed(scope, 0, 100, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	if count(node.ScopeOfRegion(townA)) != 1 || count(node.ScopeOfRegion(villageA)) != 1 || count(node.ScopeOfRegion(townB)) != 0 {
		t.Fatalf("wg.a's creation in scopes: townA %d, villageA %d, townB %d", count(node.ScopeOfRegion(townA)),
			count(node.ScopeOfRegion(villageA)), count(node.ScopeOfRegion(townB)))
	}
	region := villageB
	mustOK(t, r, node.Change{Case: cases.AccountDocID("wg.a"), Kind: cases.KindAccount, Author: "admin",
		Writes: cases.AccountChange{Region: &region, Stations: []string{"zs-judge"}}.Writes()})
	if got := count(node.ScopeOfRegion(townA)); got != 2 {
		t.Errorf("the old township scope has %d ops of wg.a, want 2 (its move too)", got)
	}
	if got := count(node.ScopeOfRegion(townB)); got != 2 {
		t.Errorf("the new township scope has %d ops, want the whole history (2)", got)
	}
	if got := count(node.ScopeOfStation("zs-judge")); got != 2 {
		t.Errorf("a named station's scope has %d ops, want 2", got)
	}
	if count(node.ScopeOfRegion(testCounty)) != 0 {
		t.Error("the county admin (county region) was indexed into a station's scope")
	}
}

// Once a replica holds accounts, a local write whose author may not make it is refused per
// change (the others in the batch are written); before, nothing is judged, as benchmarks
// and imports need.
func TestPeople_LocalWritesJudgeTheAuthor(t *testing.T) {
	r := openTestReplica(t, "hub", testCounty)
	mustOK(t, r, casetest.Registration("zs-0", villageA, "import", 0)) // no accounts yet
	mustOK(t, r, casetest.Account(cases.SetupAuthor, "admin", testCounty, cases.RoleCountyAdmin))
	if _, err := r.Write(context.Background(), casetest.Account(cases.SetupAuthor, "admin2", testCounty, cases.RoleCountyAdmin)); !errors.Is(err, cases.ErrForbidden) {
		t.Errorf("a second setup: %v, want forbidden", err)
	}
	mustOK(t, r, casetest.Account("admin", "wg.a", villageA, cases.RoleGridWorker))
	mustOK(t, r, casetest.Account("admin", "head.a", townA, cases.RoleUnitHead))
	_, errs, err := r.WriteBatch(context.Background(), []node.Change{
		casetest.Registration("zs-1", villageA, "wg.a", 0),   // allowed
		casetest.Registration("zs-2", villageB, "wg.a", 0),   // another township
		casetest.Registration("zs-3", villageA, "head.a", 0), // a unit head registers nothing
		casetest.Registration("zs-4", villageA, "import", 0), // not an account
		casetest.Edit("zs-0", "category", "城乡建设", "wg.a"),    // in its scope
		casetest.Account("wg.a", "wg.x", villageA, cases.RoleGridWorker),
		casetest.Account("admin", "boss", villageA, cases.RoleCountyAdmin), // admins grant any role
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "out_of_scope", "no_permission", "unknown_author", "", "no_permission", ""}
	for i, e := range errs {
		var ref *cases.Refusal
		got := ""
		if errors.As(e, &ref) {
			got = ref.Code
		} else if e != nil {
			got = e.Error()
		}
		if got != want[i] {
			t.Errorf("change %d: %q, want %q", i, got, want[i])
		}
	}
	if _, _, err := r.Case("zs-2"); !errors.Is(err, node.ErrNotFound) {
		t.Error("a refused registration was written")
	}
	mustOK(t, r, casetest.Revoke("admin", "wg.a"))
	if _, err := r.Write(context.Background(), casetest.Edit("zs-1", "category", "劳动社保", "wg.a")); !errors.Is(err, cases.ErrForbidden) {
		t.Errorf("a revoked account writes: %v", err)
	}
}

// A station's replica names the accounts it makes after itself, and writes only its own
// audit trail; a writer (a station pushing to its hub) may not change accounts outside its
// region or append to another node's trail.
func TestPeople_StationAccountsAndWriterRule(t *testing.T) {
	st := openTestReplica(t, "stA", townA)
	if _, err := st.Write(context.Background(), casetest.Account(cases.SetupAuthor, "admin", townA, cases.RoleStationAdmin)); err == nil {
		t.Fatal("a station made an account not named after it")
	}
	mustOK(t, st, casetest.Account(cases.SetupAuthor, "stA.admin", townA, cases.RoleStationAdmin))
	if _, err := st.Write(context.Background(), node.Change{Case: cases.AuditDocID("stB"), Kind: cases.KindAudit, Author: "stA.admin",
		Writes: []cases.LocalWrite{cases.AuditWrite(cases.AuditRecord{Action: cases.AuditView, Cases: []string{"x"}, Fields: []string{"name"}})}}); err == nil {
		t.Error("a station wrote another node's audit trail")
	}

	hub := openTestReplica(t, "hub", testCounty)
	tamper := openTestReplica(t, "stB", townA)
	casetest.WriteUnchecked(t, tamper, casetest.Account(cases.SetupAuthor, "stB.far", townB, cases.RoleStationAdmin), testBaseTime)
	casetest.WriteUnchecked(t, tamper, casetest.Account(cases.SetupAuthor, "stA.admin2", townA, cases.RoleStationAdmin), testBaseTime+1)
	casetest.WriteUnchecked(t, tamper, casetest.Account(cases.SetupAuthor, "stB.boss", townA, cases.RoleCountyStaff), testBaseTime+2)
	casetest.WriteUnchecked(t, tamper, node.Change{Case: cases.AuditDocID("stA"), Kind: cases.KindAudit, Author: "x",
		Writes: []cases.LocalWrite{cases.AuditWrite(cases.AuditRecord{Action: cases.AuditView, Cases: []string{"x"}, Fields: []string{"name"}})}}, testBaseTime+3)
	casetest.WriteUnchecked(t, tamper, casetest.Account(cases.SetupAuthor, "stB.admin", townA, cases.RoleStationAdmin), testBaseTime+4)
	feed, _, err := tamper.Feed(0, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	b := node.Batch{From: "stB", Writer: &node.WriterRule{Node: "stB", Scopes: []string{node.ScopeOfRegion(townA), node.ScopeOfStation("stB")}}}
	for _, e := range feed {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		b.Ops = append(b.Ops, node.Incoming{Op: op, Raw: e.Raw})
	}
	res, err := hub.Apply(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Quarantined != 4 || res.Applied != 1 {
		t.Fatalf("result %+v: want 4 quarantined (outside the region, another's name, a role a station may not grant, another's trail) and its own admin applied", res)
	}
	q, _ := hub.Quarantined(0, 10)
	for _, op := range q {
		if op.Reason != "writer_out_of_scope" {
			t.Errorf("%s quarantined for %q", op.Op.Case, op.Reason)
		}
	}
	if a, err := hub.Account("stB.admin"); err != nil || !a.Has(cases.RoleStationAdmin) {
		t.Errorf("the station's own admin at the hub: %v, %v", a, err)
	}
}

// A county hub forwards its people documents to its city: its own accounts (any name, any
// role, within the county) and its stations' are taken there, and judged there once the
// city holds accounts.
func TestPeople_ACountyForwardsItsAccountsToItsCity(t *testing.T) {
	county := openTestReplica(t, "zs-hub", testCounty)
	mustOK(t, county, casetest.Account(cases.SetupAuthor, "admin", testCounty, cases.RoleCountyAdmin))
	mustOK(t, county, casetest.Account("admin", "wg.a", villageA, cases.RoleGridWorker))
	if _, err := county.Write(context.Background(), casetest.Account("admin", "far", otherVillage, cases.RoleGridWorker)); !errors.Is(err, cases.ErrForbidden) {
		t.Fatalf("a county admin made an account of another county: %v", err)
	}
	casetest.WriteUnchecked(t, county, casetest.Account("admin", "far", otherVillage, cases.RoleGridWorker), testBaseTime) // a tampered county
	city := openTestReplica(t, "sy-hub", "4203")
	mustOK(t, city, casetest.Account(cases.SetupAuthor, "city.admin", "4203", cases.RoleCountyAdmin))
	feed, _, err := county.Feed(0, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	b := node.Batch{From: "zs-hub", Writer: &node.WriterRule{Node: "zs-hub", Scopes: []string{node.ScopeOfRegion(testCounty), node.ScopeOfStation("zs-hub")}, AnyOrigin: true}}
	for _, e := range feed {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		b.Ops = append(b.Ops, node.Incoming{Op: op, Raw: e.Raw})
	}
	res, err := city.Apply(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := city.Account("wg.a"); err != nil {
		t.Errorf("the county's grid worker at the city: %v (result %+v)", err, res)
	}
	if _, err := city.Account("far"); err == nil {
		t.Error("an account outside the county was taken from it")
	}
}

// The first run makes only the node's own administrator: the admin role of its tier, in
// its own region.
func TestPeople_SetupMakesOnlyTheNodesOwnAdmin(t *testing.T) {
	st := openTestReplica(t, "stA", townA)
	for i, ch := range []node.Change{
		casetest.Account(cases.SetupAuthor, "stA.boss", townA, cases.RoleCountyAdmin),
		casetest.Account(cases.SetupAuthor, "stA.boss", villageA, cases.RoleStationAdmin),
		casetest.Account(cases.SetupAuthor, "stA.boss", townA, cases.RoleStationAdmin, cases.RoleGridWorker),
		casetest.Account("stA.nobody", "stA.boss", townA, cases.RoleStationAdmin),
	} {
		if _, err := st.Write(context.Background(), ch); !errors.Is(err, cases.ErrForbidden) {
			t.Errorf("setup %d: %v, want forbidden", i, err)
		}
	}
	if has, _ := st.HasAccounts(); has {
		t.Fatal("a refused setup made an account")
	}
	mustOK(t, st, casetest.Account(cases.SetupAuthor, "stA.admin", townA, cases.RoleStationAdmin))
}
