package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

// scopeItem is what a scope feed entry says, in comparable form: the op's dot and case, or
// the case that left.
type scopeItem struct {
	Dot  string
	Case string
	Left bool
}

// readScope reads a whole scope feed after `after` in pages of limit, checking that the
// counter is dense and that next resumes exactly, and returns its items.
func readScope(t testing.TB, r *node.Replica, scope string, after uint64, limit int, skipVia string, stats *node.ReadStats) []scopeItem {
	t.Helper()
	var items []scopeItem
	next := after
	for {
		entries, n, err := r.ScopeFeed(scope, next, limit, skipVia, stats)
		if err != nil {
			t.Fatalf("scope %s after %d: %v", scope, next, err)
		}
		if len(entries) > limit {
			t.Fatalf("scope %s: %d entries for a limit of %d", scope, len(entries), limit)
		}
		for _, e := range entries {
			if skipVia == "" && e.N != next+1 {
				t.Fatalf("scope %s: entry N=%d after %d: not dense", scope, e.N, next)
			}
			next = e.N
			if e.LeftCase != "" {
				if e.Raw != nil {
					t.Fatalf("scope %s: left-scope marker %d carries an op", scope, e.N)
				}
				items = append(items, scopeItem{Case: e.LeftCase, Left: true})
				continue
			}
			op, err := cases.DecodeOp(e.Raw)
			if err != nil {
				t.Fatalf("scope %s entry %d: %v", scope, e.N, err)
			}
			if skipVia != "" && e.Via == skipVia {
				t.Fatalf("scope %s entry %d echoes an op from %s", scope, e.N, skipVia)
			}
			items = append(items, scopeItem{Dot: op.Dot.String(), Case: op.Case})
		}
		if n < next {
			t.Fatalf("scope %s: next %d behind the last entry %d", scope, n, next)
		}
		if n == next && len(entries) == 0 {
			if skipVia == "" && n != r.ScopeSeq(scope) && after <= r.ScopeSeq(scope) {
				t.Fatalf("scope %s: read to %d, ScopeSeq says %d", scope, n, r.ScopeSeq(scope))
			}
			return items
		}
		next = n
	}
}

// historyItems lists a case's ops as scope items, in arrival order.
func historyItems(t testing.TB, r *node.Replica, id string) []scopeItem {
	t.Helper()
	_, h, err := r.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	var out []scopeItem
	for _, s := range h {
		out = append(out, scopeItem{Dot: s.Op.Dot.String(), Case: id})
	}
	return out
}

func itemsOf(items []scopeItem, id string) []scopeItem {
	return slices.DeleteFunc(slices.Clone(items), func(it scopeItem) bool { return it.Case != id })
}

func requireItems(t testing.TB, what string, got, want []scopeItem) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\ngot  %v\nwant %v", what, got, want)
	}
}

// A county hub indexes each case into the scopes of its township (9 digits) and village (12
// digits); a scope feed returns only that scope's ops and resumes exactly.
func TestScopeFeed_RegionScopes(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	mustWrite(t, hub, registration("v1", villageA, "alice", 0))
	mustWrite(t, hub, registration("v2", villageA2, "alice", 0))
	mustWrite(t, hub, registration("v3", villageB, "bob", 0))
	mustWrite(t, hub, registration("out", otherVillage, "carol", 0))
	mustWrite(t, hub, registration("t5", townC, "carol", 0)) // a township-level region code
	mustWrite(t, hub, note("v1", "走访", "alice"))
	mustWrite(t, hub, note("v3", "走访", "bob"))

	h := func(ids ...string) []scopeItem {
		var out []scopeItem
		for _, id := range ids {
			out = append(out, historyItems(t, hub, id)...)
		}
		return out
	}
	byFeed := func(items []scopeItem) []scopeItem { // feed order: by seq (one origin)
		slices.SortFunc(items, func(a, b scopeItem) int {
			da, _ := cases.ParseDot(a.Dot)
			db, _ := cases.ParseDot(b.Dot)
			return da.Compare(db)
		})
		return items
	}
	for scope, want := range map[string][]scopeItem{
		node.ScopeOfRegion(villageA):                            h("v1"),
		node.ScopeOfRegion(villageA2):                           h("v2"),
		node.ScopeOfRegion(townA):                               byFeed(h("v1", "v2")),
		node.ScopeOfRegion(villageB):                            h("v3"),
		node.ScopeOfRegion(townB):                               h("v3"),
		node.ScopeOfRegion(townC):                               h("t5"),
		node.ScopeOfRegion(testCounty):                          nil, // the hub's own region: it holds everything anyway
		node.ScopeOfRegion(otherVillage):                        nil, // not below the hub's region
		node.ScopeOfRegion(otherCounty[:6] + otherVillage[6:9]): nil,
		node.ScopeOfStation("st-x"):                             nil,
	} {
		for _, limit := range []int{1, 2, 1000} {
			requireItems(t, fmt.Sprintf("scope %s (limit %d)", scope, limit), readScope(t, hub, scope, 0, limit, "", nil), want)
		}
		if got := hub.ScopeSeq(scope); got != uint64(len(want)) {
			t.Fatalf("ScopeSeq(%s) = %d, want %d", scope, got, len(want))
		}
	}
	// Resuming after any returned N gives exactly the rest.
	scope := node.ScopeOfRegion(townA)
	all := readScope(t, hub, scope, 0, 1000, "", nil)
	for after := range uint64(len(all) + 1) {
		requireItems(t, fmt.Sprintf("resume after %d", after), readScope(t, hub, scope, after, 2, "", nil), all[after:])
	}
	if e, next, err := hub.ScopeFeed(scope, uint64(len(all)), 10, "", nil); err != nil || len(e) != 0 || next != uint64(len(all)) {
		t.Fatalf("read at the end: %v next %d %v", e, next, err)
	}

	// A township station indexes only the village level below it.
	st := openTestReplica(t, "st-a", townA)
	link{hub, st}.pull(t)
	requireItems(t, "station's village scope", readScope(t, st, node.ScopeOfRegion(villageA), 0, 10, "", nil), h("v1"))
	if n := st.ScopeSeq(node.ScopeOfRegion(townA)); n != 0 {
		t.Fatalf("a township station indexed its own township scope: %d entries", n)
	}
	if n := st.ScopeSeq(node.ScopeOfRegion(villageB)); n != 0 {
		t.Fatalf("a station of %s indexed %s: %d entries", townA, villageB, n)
	}
}

// A case whose region is edited to another township enters the new scopes with its whole
// history and leaves a left-scope marker in the old ones; moving to another village of the
// same township re-indexes only the village scopes.
func TestScopeFeed_CaseEntersAndLeaves(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	mustWrite(t, hub, registration("c1", villageA, "alice", 0))
	mustWrite(t, hub, note("c1", "走访", "alice"))
	mustWrite(t, hub, registration("c2", villageA, "alice", 0))
	mustWrite(t, hub, edit("c1", "category", "劳动社保", "alice"))
	oldVillage, oldTown := hub.ScopeSeq(node.ScopeOfRegion(villageA)), hub.ScopeSeq(node.ScopeOfRegion(townA))

	mustWrite(t, hub, edit("c1", "region", villageB, "alice")) // to another township
	for _, s := range []string{node.ScopeOfRegion(villageB), node.ScopeOfRegion(townB)} {
		requireItems(t, "new scope "+s, readScope(t, hub, s, 0, 3, "", nil), historyItems(t, hub, "c1"))
	}
	for s, after := range map[string]uint64{node.ScopeOfRegion(villageA): oldVillage, node.ScopeOfRegion(townA): oldTown} {
		requireItems(t, "old scope "+s, readScope(t, hub, s, after, 3, "", nil), []scopeItem{{Case: "c1", Left: true}})
	}
	// Later ops of c1 go to its new scopes only.
	mustWrite(t, hub, note("c1", "转溢水镇办理", "bob"))
	if n := hub.ScopeSeq(node.ScopeOfRegion(villageA)); n != oldVillage+1 {
		t.Fatalf("old village scope grew to %d after the case left", n)
	}
	requireItems(t, "new village scope after another op", readScope(t, hub, node.ScopeOfRegion(villageB), 0, 3, "", nil), historyItems(t, hub, "c1"))

	// Within one township: the township scope just gets the op.
	townBefore := readScope(t, hub, node.ScopeOfRegion(townA), 0, 100, "", nil)
	villageBefore := hub.ScopeSeq(node.ScopeOfRegion(villageA))
	op := mustWrite(t, hub, edit("c2", "region", villageA2, "alice"))
	requireItems(t, "township scope", readScope(t, hub, node.ScopeOfRegion(townA), 0, 100, "", nil),
		append(townBefore, scopeItem{Dot: op.Dot.String(), Case: "c2"}))
	requireItems(t, "old village", readScope(t, hub, node.ScopeOfRegion(villageA), villageBefore, 100, "", nil), []scopeItem{{Case: "c2", Left: true}})
	requireItems(t, "new village", readScope(t, hub, node.ScopeOfRegion(villageA2), 0, 100, "", nil), historyItems(t, hub, "c2"))

	// Coming back: the whole history again (a station that dropped the case gets it whole).
	back := hub.ScopeSeq(node.ScopeOfRegion(villageA))
	mustWrite(t, hub, edit("c1", "region", villageA, "carol"))
	requireItems(t, "back in the old village", readScope(t, hub, node.ScopeOfRegion(villageA), back, 100, "", nil), historyItems(t, hub, "c1"))
}

// A region in conflict (two concurrent values) puts the case in the scopes of both; the
// resolve takes it out of the losing one.
func TestScopeFeed_RegionConflictUnion(t *testing.T) {
	a := openTestReplica(t, "hub-a", testCounty)
	b := openTestReplica(t, "hub-b", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	exchange(t, a, b)
	mustWrite(t, a, edit("c1", "region", villageB, "alice"))
	mustWrite(t, b, edit("c1", "region", villageC, "bob"))
	exchange(t, a, b)
	exchange(t, a, b)
	for _, r := range []*node.Replica{a, b} {
		c := mustCase(t, r, "c1")
		if got := c.Strings("region"); !slices.Equal(got, []string{villageB, villageC}) {
			t.Fatalf("%s: region values %v, want a conflict", r.Origin().Node, got)
		}
		hist := historyItems(t, r, "c1")
		for _, s := range []string{node.ScopeOfRegion(villageB), node.ScopeOfRegion(townB), node.ScopeOfRegion(villageC), node.ScopeOfRegion(townC)} {
			got := readScope(t, r, s, 0, 100, "", nil)
			if !sameSet(got, hist) {
				t.Fatalf("%s: scope %s holds %v, want c1's whole history %v", r.Origin().Node, s, got, hist)
			}
		}
		if got := readScope(t, r, node.ScopeOfRegion(villageA), 0, 100, "", nil); got[len(got)-1] != (scopeItem{Case: "c1", Left: true}) {
			t.Fatalf("%s: old scope ends with %v, want a left marker", r.Origin().Node, got[len(got)-1])
		}
	}
	mustWrite(t, a, node.Change{Case: "c1", Kind: cases.KindResolve, Author: "carol",
		Writes: []cases.LocalWrite{{Field: "region", Action: cases.Set, JSON: jsonString(villageB)}}})
	exchange(t, a, b)
	for _, r := range []*node.Replica{a, b} {
		for _, s := range []string{node.ScopeOfRegion(villageC), node.ScopeOfRegion(townC)} {
			got := readScope(t, r, s, 0, 100, "", nil)
			if got[len(got)-1] != (scopeItem{Case: "c1", Left: true}) {
				t.Fatalf("%s: scope %s ends with %v after the resolve, want a left marker", r.Origin().Node, s, got[len(got)-1])
			}
		}
		got := readScope(t, r, node.ScopeOfRegion(villageB), 0, 100, "", nil)
		if !sameSet(got, historyItems(t, r, "c1")) {
			t.Fatalf("%s: scope of the winning region %v", r.Origin().Node, got)
		}
	}
}

// sameSet reports whether a and b hold the same items, ignoring order and repeats.
func sameSet(a, b []scopeItem) bool {
	key := func(it scopeItem) string { return fmt.Sprint(it) }
	sa, sb := map[string]bool{}, map[string]bool{}
	for _, it := range a {
		sa[key(it)] = true
	}
	for _, it := range b {
		sb[key(it)] = true
	}
	if len(sa) != len(sb) {
		return false
	}
	for k := range sa {
		if !sb[k] {
			return false
		}
	}
	return true
}

// Assigning a case to a station adds it, with its whole history, to the station's scope;
// re-assigning leaves a marker there.
func TestScopeFeed_Assignee(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	mustWrite(t, hub, registration("c1", villageA, "alice", 0))
	mustWrite(t, hub, note("c1", "走访", "alice"))
	mustWrite(t, hub, registration("c2", villageA, "alice", 0))
	st7, st8 := node.ScopeOfStation("st-7"), node.ScopeOfStation("st-8")
	if n := hub.ScopeSeq(st7); n != 0 {
		t.Fatalf("station scope before any assignment: %d", n)
	}
	mustWrite(t, hub, edit("c1", "assignee", "st-7", "alice"))
	requireItems(t, "assigned", readScope(t, hub, st7, 0, 2, "", nil), historyItems(t, hub, "c1"))
	// The assignment does not take the case out of its region scopes.
	requireItems(t, "region scope keeps it", itemsOf(readScope(t, hub, node.ScopeOfRegion(villageA), 0, 100, "", nil), "c1"), historyItems(t, hub, "c1"))
	mustWrite(t, hub, note("c1", "站点已接收", "st7-user"))
	requireItems(t, "after a note", readScope(t, hub, st7, 0, 2, "", nil), historyItems(t, hub, "c1"))
	// A transition carrying an assignee assigns too.
	mustWrite(t, hub, node.Change{Case: "c2", Author: "alice", To: cases.Assigned,
		Data: map[string]json.RawMessage{"assignee": jsonString("st-7"), "handler_unit": jsonString("镇综治中心")}})
	requireItems(t, "assigned by a transition", itemsOf(readScope(t, hub, st7, 0, 100, "", nil), "c2"), historyItems(t, hub, "c2"))

	before := hub.ScopeSeq(st7)
	mustWrite(t, hub, edit("c1", "assignee", "st-8", "alice"))
	requireItems(t, "re-assigned: old station", readScope(t, hub, st7, before, 100, "", nil), []scopeItem{{Case: "c1", Left: true}})
	requireItems(t, "re-assigned: new station", readScope(t, hub, st8, 0, 100, "", nil), historyItems(t, hub, "c1"))

	// The scope feed at a station that received it (partial stream) works the same way.
	st := openTestReplica(t, "st-8", villageB)
	entries, _, err := hub.ScopeFeed(st8, 0, 100, "st-8", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ins []node.Incoming
	for _, e := range entries {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta})
	}
	if _, err := st.Apply(context.Background(), node.Batch{From: "hub", Ops: ins, Partial: true}); err != nil {
		t.Fatal(err)
	}
	requireSameCases(t, hub, st, "c1")
	requireItems(t, "station's own scope", readScope(t, st, st8, 0, 100, "", nil), historyItems(t, hub, "c1"))
}

// syntheticOrigin writes registrations as a station would have, for building large stores
// quickly: ops made directly (not through Write) and applied as a replicated stream.
type syntheticOrigin struct {
	o   crdt.Origin
	seq uint64
}

func (s *syntheticOrigin) register(id, region string) node.Incoming {
	s.seq++
	op := cases.Op{
		Dot: crdt.Dot{Origin: s.o, Seq: s.seq}, Stamp: crdt.Timestamp{Wall: testBaseTime + int64(s.seq)},
		Case: id, Kind: cases.KindRegister, Author: "gen",
		Writes: []cases.Write{
			{Field: "kind", Action: cases.Set, Value: cases.EncodeString(cases.MatterPetition)},
			{Field: "region", Action: cases.Set, Value: cases.EncodeString(region)},
			{Field: "state", Action: cases.Set, Value: cases.EncodeString(string(cases.Registered))},
			{Field: "summary", Action: cases.Set, Value: cases.EncodeString("反映问题")},
		},
	}
	op.Normalize()
	return node.Incoming{Op: op}
}

func (s *syntheticOrigin) note(id string) node.Incoming {
	s.seq++
	op := cases.Op{
		Dot: crdt.Dot{Origin: s.o, Seq: s.seq}, Stamp: crdt.Timestamp{Wall: testBaseTime + int64(s.seq)},
		Case: id, Kind: cases.KindNote, Author: "gen",
		Writes: []cases.Write{{Field: "notes", Action: cases.Append, Value: cases.EncodeNote(cases.Note{Text: "走访", Kind: "note"})}},
	}
	return node.Incoming{Op: op}
}

func applyAll(t testing.TB, r *node.Replica, from string, ins []node.Incoming) {
	t.Helper()
	for len(ins) > 0 {
		n := min(len(ins), 2000)
		res, err := r.Apply(context.Background(), node.Batch{From: from, Ops: ins[:n]})
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != n {
			t.Fatalf("applied %d of %d", res.Applied, n)
		}
		ins = ins[n:]
	}
}

// KEY TEST (DESIGN, Replication: "A test shows keys read are proportional to the scope's
// size"). Reading one scope's feed touches keys in proportion to that scope, not to the
// store: the same when every other scope grows tenfold.
func TestScopeFeed_ReadsProportionalToScope(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	var others []string // villages of other townships
	for _, tw := range regions.Children(testCounty) {
		if tw.Code == townA {
			continue
		}
		for _, v := range regions.Children(tw.Code) {
			others = append(others, v.Code)
		}
	}
	const (
		scopes   = 39 // other village scopes
		perScope = 50 // cases per scope
		target   = 50 // cases in the scope read
	)
	if len(others) < scopes {
		t.Fatalf("only %d villages", len(others))
	}
	others = others[:scopes]
	gen := &syntheticOrigin{o: crdt.Origin{Node: "st-gen", Incarnation: 1}}
	rng := rand.New(rand.NewPCG(1, 2))
	// 50 target cases among 1,950 others, interleaved so that the target's ops are spread
	// over the whole feed.
	var ins []node.Incoming
	var targetIDs []string
	order := rng.Perm(target + scopes*perScope)
	for _, k := range order {
		if k < target {
			id := fmt.Sprintf("t%03d", k)
			targetIDs = append(targetIDs, id)
			ins = append(ins, gen.register(id, villageA))
		} else {
			k -= target
			ins = append(ins, gen.register(fmt.Sprintf("o%02d-%04d", k%scopes, k/scopes), others[k%scopes]))
		}
	}
	applyAll(t, hub, "st-gen", ins)
	for _, id := range targetIDs { // a second op per target case, written at the hub
		mustWrite(t, hub, note(id, "县里已阅", "hub-staff"))
	}

	scope := node.ScopeOfRegion(villageA)
	read := func() (items []scopeItem, keys int) {
		var st node.ReadStats
		items = readScope(t, hub, scope, 0, 16, "", &st)
		return items, st.KeysRead
	}
	items, keys := read()
	if len(items) != 2*target {
		t.Fatalf("scope holds %d entries, want %d", len(items), 2*target)
	}
	seen := map[string]int{}
	for _, it := range items {
		if it.Case[0] != 't' || it.Left {
			t.Fatalf("scope %s holds %v", scope, it)
		}
		seen[it.Case]++
	}
	for _, id := range targetIDs {
		if seen[id] != 2 {
			t.Fatalf("case %s appears %d times in its scope, want 2", id, seen[id])
		}
	}
	total := hub.Status().FeedSeq
	limit := 2*len(items) + 8 // the index entry and the op of each entry, plus a little per read
	t.Logf("scope of %d entries in a feed of %d ops: %d keys read (bound %d)", len(items), total, keys, limit)
	if keys > limit {
		t.Fatalf("reading a scope of %d entries read %d keys; want at most %d (the feed holds %d ops)", len(items), keys, limit, total)
	}
	if uint64(keys)*10 > total {
		t.Fatalf("reading a scope of %d entries read %d keys, not far below the %d ops held", len(items), keys, total)
	}
	// Another small scope: the same proportion.
	var st node.ReadStats
	other := readScope(t, hub, node.ScopeOfRegion(others[7]), 0, 16, "", &st)
	if len(other) != perScope || st.KeysRead > 2*len(other)+8 {
		t.Fatalf("scope %s: %d entries, %d keys read", others[7], len(other), st.KeysRead)
	}

	// Every other scope grows tenfold (new cases and notes on the old ones); the read of the
	// target scope costs the same.
	ins = ins[:0]
	for k := range 9 * scopes * perScope {
		if k%3 == 0 {
			ins = append(ins, gen.register(fmt.Sprintf("g%02d-%05d", k%scopes, k/scopes), others[k%scopes]))
		} else {
			ins = append(ins, gen.note(fmt.Sprintf("o%02d-%04d", k%scopes, (k/scopes)%perScope)))
		}
	}
	applyAll(t, hub, "st-gen", ins)
	grown := hub.Status().FeedSeq
	if grown < 9*total {
		t.Fatalf("feed grew from %d to %d only", total, grown)
	}
	items2, keys2 := read()
	requireItems(t, "target scope after the growth", items2, items)
	t.Logf("after the other scopes grew tenfold (feed of %d ops): %d keys read", grown, keys2)
	if keys2 != keys {
		t.Fatalf("keys read grew from %d to %d when other scopes grew tenfold", keys, keys2)
	}
	if n := hub.ScopeSeq(node.ScopeOfRegion(others[7])); n != 10*perScope {
		t.Fatalf("other scope holds %d entries, want %d", n, 10*perScope)
	}
}

// List by state pages with cursors and covers every matching case exactly once.
func TestList_StatePages(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	var changes []node.Change
	for i := range 28 {
		region := villageA
		if i%3 == 0 {
			region = villageB
		}
		changes = append(changes, registration(fmt.Sprintf("c%02d", i), region, "alice", 0))
	}
	mustWriteAll(t, hub, changes)
	accepted := map[string]bool{}
	for i := 0; i < 28; i += 6 {
		id := fmt.Sprintf("c%02d", i)
		accepted[id] = true
		mustWrite(t, hub, node.Change{Case: id, Author: "alice", To: cases.Accepted,
			Data: map[string]json.RawMessage{"notice_at": jsonInt(testBaseTime + 3600_000)}})
	}
	list := func(q node.Query) []string {
		t.Helper()
		var ids []string
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("pages never end")
			}
			p, err := hub.List(q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Cases) > q.Limit {
				t.Fatalf("page of %d for a limit of %d", len(p.Cases), q.Limit)
			}
			for _, c := range p.Cases {
				ids = append(ids, c.ID)
			}
			if p.Next == nil {
				return ids
			}
			q.Cursor = p.Next
		}
	}
	for _, tc := range []struct {
		q    node.Query
		want func(id string, i int) bool
	}{
		{node.Query{State: "REGISTERED"}, func(id string, i int) bool { return !accepted[id] }},
		{node.Query{State: "ACCEPTED"}, func(id string, i int) bool { return accepted[id] }},
		{node.Query{State: "REGISTERED", Region: townB}, func(id string, i int) bool { return !accepted[id] && i%3 == 0 }},
		{node.Query{State: "CLOSED"}, func(string, int) bool { return false }},
	} {
		var want []string
		for i := range 28 {
			if id := fmt.Sprintf("c%02d", i); tc.want(id, i) {
				want = append(want, id)
			}
		}
		for _, limit := range []int{1, 4, 5, 1000} {
			q := tc.q
			q.Limit = limit
			got := list(q)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("List(%+v): %v, want %v", q, got, want)
			}
			for _, id := range got {
				if s := mustCase(t, hub, id).State(); string(s) != tc.q.State {
					t.Fatalf("List(%+v) returned %s in state %s", q, id, s)
				}
			}
		}
	}
	p, err := hub.List(node.Query{State: "REGISTERED", Limit: 2})
	if err != nil || p.Next == nil {
		t.Fatal(err)
	}
	if _, err := hub.List(node.Query{State: "ACCEPTED", Cursor: p.Next}); err == nil {
		t.Fatal("a cursor of another query was accepted")
	}
}

// List without a filter returns the most recently changed cases first, each once, across
// pages.
func TestList_RecentFirst(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	for i := range 10 {
		mustWrite(t, hub, registration(fmt.Sprintf("c%d", i), villageA, "alice", 0))
	}
	mustWrite(t, hub, note("c3", "走访", "alice"))
	mustWrite(t, hub, edit("c7", "category", "劳动社保", "alice"))
	mustWrite(t, hub, note("c7", "回访", "alice"))
	want := []string{"c7", "c3", "c9", "c8", "c6", "c5", "c4", "c2", "c1", "c0"}
	for _, limit := range []int{1000, 1, 3, 4} {
		var got []string
		q := node.Query{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pages never end")
			}
			p, err := hub.List(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Cases {
				got = append(got, c.ID)
			}
			if p.Next == nil {
				break
			}
			q.Cursor = p.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(Limit %d) pages: %v, want %v", limit, got, want)
		}
	}
}

// DueBefore lists the cases with a deadline before the given time, soonest first.
func TestList_DueBefore(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	const day = int64(24 * 3600 * 1000)
	received := map[string]int64{}
	for i, d := range []int64{5, 1, 9, 3, 7, 2, 8} { // received on day d: due on day d+15
		id := fmt.Sprintf("c%d", i)
		received[id] = testBaseTime + d*day
		mustWrite(t, hub, registration(id, villageA, "alice", received[id]))
	}
	// c2 accepted on day 10: due 60 days later. c6 closed: no deadline.
	mustWrite(t, hub, node.Change{Case: "c2", Author: "alice", To: cases.Accepted,
		Data: map[string]json.RawMessage{"notice_at": jsonInt(testBaseTime + 10*day)}})
	mustWrite(t, hub, node.Change{Case: "c6", Author: "alice", To: cases.NotAccepted,
		Data: map[string]json.RawMessage{"refusal": jsonString("不予受理")}})
	mustWrite(t, hub, node.Change{Case: "c6", Author: "alice", To: cases.Closed,
		Data: map[string]json.RawMessage{"close_reason": jsonString("不予受理")}})

	for _, tc := range []struct {
		before int64 // day
		want   []string
	}{
		{100, []string{"c1", "c5", "c3", "c0", "c4", "c2"}}, // due 16, 17, 18, 20, 22, 70
		{20, []string{"c1", "c5", "c3"}},                    // strictly before day 20
		{16, nil},
	} {
		for _, limit := range []int{1000, 2} {
			var got []string
			var dues []int64
			q := node.Query{DueBefore: testBaseTime + tc.before*day, Limit: limit}
			for {
				p, err := hub.List(q)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range p.Cases {
					got = append(got, c.ID)
					dl, ok := cases.NextDeadline(c)
					if !ok {
						t.Fatalf("%s listed without a deadline", c.ID)
					}
					dues = append(dues, dl.At)
				}
				if p.Next == nil {
					break
				}
				q.Cursor = p.Next
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("DueBefore day %d (limit %d): %v, want %v", tc.before, limit, got, tc.want)
			}
			if !slices.IsSorted(dues) {
				t.Fatalf("deadlines not ascending: %v", dues)
			}
		}
	}
}
