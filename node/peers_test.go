package node_test

// Tests of what the replica offers the sync protocol beyond Apply and the feeds (peers.go):
// the writer rule and its quarantine, per-stream checkpoints, left-scope markers, small
// documents and secrets, heads signed behind the tip, change notification, and PeekDot.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

// stationRule is what the hub knows of station stA (township A): the rule its pushes are
// applied under.
func stationRule() *node.WriterRule {
	return &node.WriterRule{Node: "stA", Scopes: []string{node.ScopeOfRegion(townA), node.ScopeOfStation("stA")}}
}

// hubAndStation is a county hub and the township-A station stA that pushes to it. The hub
// holds these cases, all of which the station has pulled:
//
//	hb   registered in village B: never in stA's scope
//	hA   registered in village A: in stA's township now
//	mv   registered in village A, then moved to village B: was once in stA's scope
//	asg  registered in village B, assigned to stA: in stA's station scope now
//	ex   registered in village B, assigned to stA, then to stB: was once in stA's scope
type hubAndStation struct {
	hub, st *node.Replica
	pushed  uint64 // position in st's feed up to which its ops were pushed
}

func newHubAndStation(t *testing.T, hubFS vfs.FS) *hubAndStation {
	t.Helper()
	hub := openTestReplicaFS(t, hubFS, "hub", testCounty)
	st := openTestReplica(t, "stA", townA)
	mustWriteAll(t, hub, []node.Change{
		registration("hb", villageB, "hubclerk", 0),
		registration("hA", villageA, "hubclerk", 0),
		registration("mv", villageA, "hubclerk", 0),
		registration("asg", villageB, "hubclerk", 0),
		registration("ex", villageB, "hubclerk", 0),
	})
	mustWrite(t, hub, edit("mv", "region", villageB, "hubclerk"))
	mustWrite(t, hub, edit("asg", "assignee", "stA", "hubclerk"))
	mustWrite(t, hub, edit("ex", "assignee", "stA", "hubclerk"))
	mustWrite(t, hub, edit("ex", "assignee", "stB", "hubclerk"))
	link{hub, st}.pull(t)
	return &hubAndStation{hub: hub, st: st, pushed: st.Status().FeedSeq}
}

// push applies the station's own ops written since the last push to the hub, under the
// station's writer rule, with the station's head, the way a station's session does.
func (f *hubAndStation) push(t *testing.T) node.Result {
	t.Helper()
	entries, next := readFeed(t, f.st, f.pushed, f.hub.Origin().Node)
	res, err := f.hub.Apply(context.Background(), node.Batch{
		From: f.st.Origin().Node, Ops: incoming(t, entries), Heads: []node.SignedHead{f.st.Head()},
		Checkpoint: &node.Checkpoint{Epoch: f.st.Epoch(), Pos: next}, Writer: stationRule(),
	})
	if err != nil {
		t.Fatalf("push stA → hub: %v", err)
	}
	f.pushed = next
	return res
}

// noteDots returns the dots of the notes a folded case shows.
func noteDots(c *cases.Case) []crdt.Dot {
	var out []crdt.Dot
	if l := c.Logs["notes"]; l != nil {
		for _, e := range l.Entries() {
			out = append(out, e.Dot)
		}
	}
	return out
}

// historyHas reports whether r's history of case id holds the op d.
func historyHas(t testing.TB, r *node.Replica, id string, d crdt.Dot) bool {
	t.Helper()
	h, err := r.History(id)
	if err != nil {
		t.Fatalf("history of %s on %s: %v", id, r.Origin().Node, err)
	}
	return slices.ContainsFunc(h, func(s cases.Stored) bool { return s.Op.Dot == d })
}

// quarantinedDots lists what r holds in quarantine as "case dot via" strings, in feed order.
func quarantinedDots(t testing.TB, r *node.Replica) []string {
	t.Helper()
	q, err := r.Quarantined(0, 1000)
	if err != nil {
		t.Fatalf("quarantined on %s: %v", r.Origin().Node, err)
	}
	var out []string
	for _, e := range q {
		if !e.Meta.Quarantined {
			t.Fatalf("quarantined op %s on %s listed without Meta.Quarantined", e.Op.Dot, r.Origin().Node)
		}
		out = append(out, fmt.Sprintf("%s %s %s", e.Op.Case, e.Op.Dot, e.Via))
	}
	return out
}

// requireScopesLack fails if any of r's scopes holds op d.
func requireScopesLack(t testing.TB, r *node.Replica, d crdt.Dot, scopes ...string) {
	t.Helper()
	for _, s := range scopes {
		for _, it := range readScope(t, r, s, 0, 100, "", nil) {
			if it.Dot == d.String() {
				t.Fatalf("scope %s on %s holds quarantined op %s", s, r.Origin().Node, d)
			}
		}
	}
}

// A station's op on a case that never was in its scope (a hub's case in another township)
// is quarantined at the hub: counted, listed for a person with its dot, case and writer,
// never folded into the case nor indexed into any scope, while the station's ops after it,
// in the same batch and in later ones, are applied normally and its chain stays whole.
func TestWriterRule_QuarantinesOpOnCaseNeverInScope(t *testing.T) {
	f := newHubAndStation(t, vfs.NewMem())
	hub, st := f.hub, f.st
	hbBefore := digest(mustCase(t, hub, "hb"))
	feedBefore := hub.Status().FeedSeq

	mustWrite(t, st, registration("s1", villageA, "clerkA", 0))
	mustWrite(t, st, note("s1", "首次接待", "clerkA"))
	bad := mustWrite(t, st, note("hb", "越权补记", "clerkA"))
	mustWrite(t, st, note("s1", "回访", "clerkA"))
	res := f.push(t)
	if res.Applied != 3 || res.Quarantined != 1 || res.Pending != 0 || res.Duplicates != 0 || res.Equivocations != 0 {
		t.Fatalf("first push: %+v, want 3 applied and 1 quarantined", res)
	}
	if res.FeedSeq != feedBefore+4 {
		t.Fatalf("feed at %d after the push, want %d: a quarantined op is still kept in the feed", res.FeedSeq, feedBefore+4)
	}
	if s := hub.Status(); s.Quarantined != 1 || s.Pending != 0 {
		t.Fatalf("hub status %+v, want 1 quarantined and none pending", s)
	}

	// The hub's case is untouched.
	if got := digest(mustCase(t, hub, "hb")); got != hbBefore {
		t.Fatalf("hb changed by a quarantined op:\nbefore %s\nafter  %s", hbBefore, got)
	}
	if slices.Contains(noteDots(mustCase(t, hub, "hb")), bad.Dot) || historyHas(t, hub, "hb", bad.Dot) {
		t.Fatalf("quarantined note %s is in hb's fold or history", bad.Dot)
	}
	requireScopesLack(t, hub, bad.Dot, node.ScopeOfRegion(townB), node.ScopeOfRegion(villageB), node.ScopeOfRegion(townA))

	// It is listed for a person, with the record it is kept as in the feed.
	q, err := hub.Quarantined(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].Op.Dot != bad.Dot || q[0].Op.Case != "hb" || q[0].Via != "stA" || !q[0].Meta.Quarantined {
		t.Fatalf("Quarantined(0, 10) = %+v, want the note %s on hb via stA", q, bad.Dot)
	}
	page, _, err := hub.Feed(q[0].Pos-1, 1, "")
	if err != nil || len(page) != 1 || page[0].Pos != q[0].Pos || !bytes.Equal(page[0].Raw, bad.Encode()) || !page[0].Meta.Quarantined {
		t.Fatalf("feed entry at quarantined pos %d: %+v %v", q[0].Pos, page, err)
	}
	if rest, err := hub.Quarantined(q[0].Pos, 10); err != nil || len(rest) != 0 {
		t.Fatalf("Quarantined after the only one: %+v %v", rest, err)
	}

	// The ops around it are the station's case, whole.
	requireSameCases(t, hub, st, "s1")
	if n := len(noteDots(mustCase(t, hub, "s1"))); n != 2 {
		t.Fatalf("s1 shows %d notes at the hub, want 2 (the one after the quarantined op too)", n)
	}
	stOps := opsOf(t, st, st.Origin())
	if seq, h := hub.ChainTip(st.Origin()); seq != 4 || h != chainHashOf(stOps) {
		t.Fatalf("hub's chain of stA at %d %s, want 4 %s: the quarantined op must be chained", seq, h, chainHashOf(stOps))
	}

	// A later batch is not held behind it either, and a second offence is counted too.
	mustWrite(t, st, note("s1", "办结回访", "clerkA"))
	bad2 := mustWrite(t, st, edit("hb", "category", "劳动社保", "clerkA"))
	mustWrite(t, st, edit("s1", "category", "劳动社保", "clerkA"))
	res = f.push(t)
	if res.Applied != 2 || res.Quarantined != 1 || res.Pending != 0 {
		t.Fatalf("second push: %+v, want 2 applied and 1 quarantined", res)
	}
	if s := hub.Status(); s.Quarantined != 2 || s.Pending != 0 {
		t.Fatalf("hub status %+v, want 2 quarantined and none pending", s)
	}
	requireSameCases(t, hub, st, "s1")
	if got := digest(mustCase(t, hub, "hb")); got != hbBefore {
		t.Fatalf("hb changed by the second quarantined op:\n%s", got)
	}
	want := []string{"hb " + bad.Dot.String() + " stA", "hb " + bad2.Dot.String() + " stA"}
	if got := quarantinedDots(t, hub); !slices.Equal(got, want) {
		t.Fatalf("quarantined %v, want %v", got, want)
	}
	// Paging: one at a time, resuming after the last position returned.
	first, _ := hub.Quarantined(0, 1)
	second, _ := hub.Quarantined(first[0].Pos, 1)
	if len(first) != 1 || len(second) != 1 || first[0].Op.Dot != bad.Dot || second[0].Op.Dot != bad2.Dot {
		t.Fatalf("paged quarantine: %+v then %+v", first, second)
	}
	seq, h := hub.ChainTip(st.Origin())
	if wseq, wh := st.ChainTip(st.Origin()); seq != wseq || h != wh {
		t.Fatalf("hub's chain of stA %d %s, station's own %d %s", seq, h, wseq, wh)
	}
}

// A station may write a case that is in one of its scopes now, or ever was: a hub's case
// in its township, one moved away from it, one assigned to it, and one reassigned from it
// to another station. None of these is quarantined and the hub shows each write.
func TestWriterRule_CaseEverInScopeStaysWritable(t *testing.T) {
	f := newHubAndStation(t, vfs.NewMem())
	hub, st := f.hub, f.st
	if sc, err := hub.CaseScopes("mv"); err != nil || slices.Contains(sc, node.ScopeOfRegion(townA)) {
		t.Fatalf("mv's scopes at the hub %v %v: the move out of township A did not happen", sc, err)
	}
	if sc, err := hub.CaseScopes("ex"); err != nil || slices.Contains(sc, node.ScopeOfStation("stA")) {
		t.Fatalf("ex's scopes at the hub %v %v: the reassignment did not happen", sc, err)
	}
	ids := []string{"hA", "mv", "asg", "ex"}
	for _, id := range ids {
		mustWrite(t, st, note(id, "站点跟进", "clerkA"))
	}
	mustWrite(t, st, edit("mv", "category", "劳动社保", "clerkA"))
	res := f.push(t)
	if res.Applied != 5 || res.Quarantined != 0 || res.Pending != 0 {
		t.Fatalf("push: %+v, want all 5 applied", res)
	}
	if n := hub.Status().Quarantined; n != 0 {
		t.Fatalf("hub quarantined %d ops", n)
	}
	requireSameCases(t, hub, st, ids...)
	if got := writers(mustCase(t, hub, "mv"), "category"); !slices.Equal(got, []string{"clerkA"}) {
		t.Fatalf("mv's category written by %v at the hub, want the station's clerkA", got)
	}
}

// A station cannot take a case over by editing its region into its own township: the edit
// is judged against the case as the hub holds it, so it is quarantined, the case stays where
// it was, and the station's next op on the case is quarantined as well.
func TestWriterRule_RegionEditCannotPullCaseIntoScope(t *testing.T) {
	f := newHubAndStation(t, vfs.NewMem())
	hub, st := f.hub, f.st
	grab := mustWrite(t, st, edit("hb", "region", villageA, "clerkA"))
	after := mustWrite(t, st, note("hb", "已转本镇办理", "clerkA"))
	res := f.push(t)
	if res.Applied != 0 || res.Quarantined != 2 {
		t.Fatalf("push: %+v, want both ops quarantined", res)
	}
	if got := mustCase(t, hub, "hb").String("region"); got != villageB {
		t.Fatalf("hb's region at the hub is %s, want %s", got, villageB)
	}
	if sc, err := hub.CaseScopes("hb"); err != nil || !slices.Equal(sc, []string{node.ScopeOfRegion(townB), node.ScopeOfRegion(villageB)}) {
		t.Fatalf("hb's scopes %v %v, want township and village B only", sc, err)
	}
	requireScopesLack(t, hub, grab.Dot, node.ScopeOfRegion(townA), node.ScopeOfRegion(villageA))
	requireScopesLack(t, hub, after.Dot, node.ScopeOfRegion(townA), node.ScopeOfRegion(villageA), node.ScopeOfRegion(townB))
	want := []string{"hb " + grab.Dot.String() + " stA", "hb " + after.Dot.String() + " stA"}
	if got := quarantinedDots(t, hub); !slices.Equal(got, want) {
		t.Fatalf("quarantined %v, want %v", got, want)
	}
}

// A batch under a writer rule that carries an op of any other origin (another station's, or
// the hub's own) is refused whole: ErrForgedOrigin, nothing applied, no checkpoint, no
// chain, no wake-up of feed readers.
func TestWriterRule_ForgedOriginRefusesWholeBatch(t *testing.T) {
	f := newHubAndStation(t, vfs.NewMem())
	hub, st := f.hub, f.st
	stB := openTestReplica(t, "stB", townB)
	good := mustWrite(t, st, registration("s1", villageA, "clerkA", 0))
	other := mustWrite(t, stB, registration("b1", villageB, "clerkB", 0))
	hubs := mustWrite(t, hub, note("hb", "县级批示", "hubclerk"))
	before := hub.Status()
	cpBefore, _ := hub.PeerCheckpoint("stA")

	for _, tc := range []struct {
		name string
		ops  []cases.Op
	}{
		{"another station's op after its own", []cases.Op{good, other}},
		{"another station's op before its own", []cases.Op{other, good}},
		{"the hub's own op", []cases.Op{good, hubs}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []node.Incoming
			for _, op := range tc.ops {
				in = append(in, node.Incoming{Op: op})
			}
			wake := hub.Notify()
			res, err := hub.Apply(context.Background(), node.Batch{From: "stA", Ops: in, Writer: stationRule(),
				Checkpoint: &node.Checkpoint{Epoch: st.Epoch(), Pos: 99}})
			if !errors.Is(err, node.ErrForgedOrigin) {
				t.Fatalf("Apply: %+v %v, want ErrForgedOrigin", res, err)
			}
			if got := hub.Status(); got != before {
				t.Fatalf("status changed by a refused batch: %+v → %+v", before, got)
			}
			if _, _, err := hub.Case("s1"); !errors.Is(err, node.ErrNotFound) {
				t.Fatalf("stA's case s1 at the hub after a refused batch: %v", err)
			}
			if _, _, err := hub.Case("b1"); !errors.Is(err, node.ErrNotFound) {
				t.Fatalf("stB's case b1 at the hub after a refused batch: %v", err)
			}
			if seq, _ := hub.ChainTip(st.Origin()); seq != 0 {
				t.Fatalf("chain of stA at %d after a refused batch", seq)
			}
			if cp, _ := hub.PeerCheckpoint("stA"); cp != cpBefore {
				t.Fatalf("checkpoint moved by a refused batch: %+v", cp)
			}
			select {
			case <-wake:
				t.Fatal("a refused batch woke the feed readers")
			default:
			}
		})
	}
	// The station's own op alone is accepted.
	res, err := hub.Apply(context.Background(), node.Batch{From: "stA", Ops: []node.Incoming{{Op: good}}, Writer: stationRule()})
	if err != nil || res.Applied != 1 {
		t.Fatalf("the station's own op: %+v %v", res, err)
	}
}

// A quarantined op travels upward with Meta.Quarantined and stays quarantined at every
// replica above, whatever the order its ops arrive in: two city replicas, one pulling the
// hub's feed in one batch and one receiving it op by op in reverse, hold the same cases, the
// same quarantine and the same chain as the hub.
func TestWriterRule_QuarantineForwardedUpward(t *testing.T) {
	f := newHubAndStation(t, vfs.NewMem())
	hub, st := f.hub, f.st
	mustWrite(t, st, registration("s1", villageA, "clerkA", 0))
	bad := mustWrite(t, st, note("hb", "越权补记", "clerkA"))
	mustWrite(t, st, note("s1", "回访", "clerkA"))
	if res := f.push(t); res.Quarantined != 1 {
		t.Fatalf("push: %+v, want 1 quarantined", res)
	}
	ids := []string{"hb", "hA", "mv", "asg", "ex", "s1"}
	wantQ := []string{"hb " + bad.Dot.String() + " hub"}

	city1 := openTestReplica(t, "city1", "4203")
	if res := (link{hub, city1}).pull(t); res.Quarantined != 1 {
		t.Fatalf("city1 pull: %+v, want 1 quarantined", res)
	}

	city2 := openTestReplica(t, "city2", "4203")
	entries, _ := readFeed(t, hub, 0, "")
	in := incoming(t, entries)
	quarantined := 0
	for i := len(in) - 1; i >= 0; i-- {
		res, err := city2.Apply(context.Background(), node.Batch{From: "hub", Ops: in[i : i+1]})
		if err != nil {
			t.Fatalf("city2 op %d: %v", i, err)
		}
		quarantined += res.Quarantined
	}
	if quarantined != 1 {
		t.Fatalf("city2 quarantined %d ops over its batches, want 1", quarantined)
	}

	for _, city := range []*node.Replica{city1, city2} {
		name := city.Origin().Node
		if s := city.Status(); s.Quarantined != 1 || s.Pending != 0 || s.FeedSeq != hub.Status().FeedSeq {
			t.Fatalf("%s status %+v, want 1 quarantined, none pending, feed %d", name, s, hub.Status().FeedSeq)
		}
		if got := quarantinedDots(t, city); !slices.Equal(got, wantQ) {
			t.Fatalf("%s quarantined %v, want %v", name, got, wantQ)
		}
		requireSameCases(t, hub, city, ids...)
		if historyHas(t, city, "hb", bad.Dot) {
			t.Fatalf("%s folded the quarantined op into hb", name)
		}
		requireScopesLack(t, city, bad.Dot, node.ScopeOfRegion(testCounty), node.ScopeOfRegion(townB), node.ScopeOfRegion(villageB))
		hs, hh := hub.ChainTip(st.Origin())
		if cs, ch := city.ChainTip(st.Origin()); cs != hs || ch != hh {
			t.Fatalf("%s chain of stA %d %s, hub's %d %s", name, cs, ch, hs, hh)
		}
		if err := city.VerifyHead(st.Head(), st.PublicKey()); err != nil {
			t.Fatalf("%s: station's head over its quarantined op: %v", name, err)
		}
	}
}

// The quarantine is durable: after Close and reopen the hub still counts and lists the op and
// still leaves it out of its case; the same op pushed again is a duplicate, not a new
// write, and the station's next ops are applied.
func TestWriterRule_QuarantineSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	f := newHubAndStation(t, fs)
	st := f.st
	mustWrite(t, st, registration("s1", villageA, "clerkA", 0))
	bad := mustWrite(t, st, note("hb", "越权补记", "clerkA"))
	if res := f.push(t); res.Quarantined != 1 || res.Applied != 1 {
		t.Fatalf("push: %+v", res)
	}
	hbBefore := digest(mustCase(t, f.hub, "hb"))
	wantQ := quarantinedDots(t, f.hub)
	tipSeq, tipHash := f.hub.ChainTip(st.Origin())
	if err := f.hub.Close(); err != nil {
		t.Fatal(err)
	}

	hub := openTestReplicaFS(t, fs, "hub", testCounty)
	f.hub = hub
	if n := hub.Status().Quarantined; n != 1 {
		t.Fatalf("quarantined %d after reopen, want 1", n)
	}
	if got := quarantinedDots(t, hub); !slices.Equal(got, wantQ) {
		t.Fatalf("quarantined %v after reopen, want %v", got, wantQ)
	}
	if got := digest(mustCase(t, hub, "hb")); got != hbBefore {
		t.Fatalf("hb after reopen:\n%s\nwant\n%s", got, hbBefore)
	}
	if s, h := hub.ChainTip(st.Origin()); s != tipSeq || h != tipHash {
		t.Fatalf("chain of stA after reopen %d %s, want %d %s", s, h, tipSeq, tipHash)
	}

	// Pushed again (a session resent after a break): a duplicate, still not folded.
	entries, _ := readFeed(t, st, 0, "hub")
	res, err := hub.Apply(context.Background(), node.Batch{From: "stA", Ops: incoming(t, entries), Writer: stationRule()})
	if err != nil || res.Duplicates != 2 || res.Applied != 0 || res.Quarantined != 0 {
		t.Fatalf("push again: %+v %v, want 2 duplicates", res, err)
	}
	if historyHas(t, hub, "hb", bad.Dot) || hub.Status().Quarantined != 1 {
		t.Fatalf("the resent quarantined op was folded or counted again (%+v)", hub.Status())
	}
	mustWrite(t, st, note("s1", "回访", "clerkA"))
	if res := f.push(t); res.Applied != 1 || res.Quarantined != 0 || res.Pending != 0 {
		t.Fatalf("push after reopen: %+v, want 1 applied", res)
	}
	requireSameCases(t, hub, st, "s1")
}

// A checkpoint of one stream of a peer's (a scope) is kept under StreamName(peer, stream),
// apart from the peer's whole-feed checkpoint and its other streams. Within an epoch it only
// moves forward; a new epoch replaces it; it survives reopen.
func TestCheckpoint_PerStream(t *testing.T) {
	if got := node.StreamName("hub1", ""); got != "hub1" {
		t.Fatalf("StreamName of the whole feed = %q", got)
	}
	if got := node.StreamName("hub1", "r420323100"); got != "hub1/r420323100" {
		t.Fatalf("StreamName of a scope = %q", got)
	}
	fs := vfs.NewMem()
	r := openTestReplicaFS(t, fs, "stA", townA)
	stream := node.StreamName("hub1", node.ScopeOfRegion(townA))
	other := node.StreamName("hub1", node.ScopeOfStation("stA"))
	apply := func(streamName string, cp node.Checkpoint) {
		t.Helper()
		if _, err := r.Apply(context.Background(), node.Batch{From: "hub1", Stream: streamName, Checkpoint: &cp, Partial: streamName != ""}); err != nil {
			t.Fatalf("apply checkpoint %+v of stream %q: %v", cp, streamName, err)
		}
	}
	check := func(what, name string, want node.Checkpoint) {
		t.Helper()
		if got, err := r.PeerCheckpoint(name); err != nil || got != want {
			t.Fatalf("%s: PeerCheckpoint(%q) = %+v %v, want %+v", what, name, got, err, want)
		}
	}

	apply(node.ScopeOfRegion(townA), node.Checkpoint{Epoch: "e1", Pos: 10})
	check("stream checkpoint stored", stream, node.Checkpoint{Epoch: "e1", Pos: 10})
	check("whole feed untouched by a stream", "hub1", node.Checkpoint{})
	check("other stream untouched", other, node.Checkpoint{})

	apply("", node.Checkpoint{Epoch: "e1", Pos: 3})
	apply(node.ScopeOfStation("stA"), node.Checkpoint{Epoch: "e1", Pos: 7})
	check("whole feed", "hub1", node.Checkpoint{Epoch: "e1", Pos: 3})
	check("other stream", other, node.Checkpoint{Epoch: "e1", Pos: 7})
	check("stream untouched by the others", stream, node.Checkpoint{Epoch: "e1", Pos: 10})

	apply(node.ScopeOfRegion(townA), node.Checkpoint{Epoch: "e1", Pos: 5})
	check("a lower position in the same epoch", stream, node.Checkpoint{Epoch: "e1", Pos: 10})
	apply(node.ScopeOfRegion(townA), node.Checkpoint{Epoch: "e1", Pos: 10})
	check("the same position", stream, node.Checkpoint{Epoch: "e1", Pos: 10})
	apply(node.ScopeOfRegion(townA), node.Checkpoint{Epoch: "e1", Pos: 12})
	check("a higher position", stream, node.Checkpoint{Epoch: "e1", Pos: 12})
	apply(node.ScopeOfRegion(townA), node.Checkpoint{Epoch: "e2", Pos: 2})
	check("a new epoch, even at a lower position", stream, node.Checkpoint{Epoch: "e2", Pos: 2})
	check("whole feed after the stream's new epoch", "hub1", node.Checkpoint{Epoch: "e1", Pos: 3})

	// With ops: the checkpoint commits with them.
	hub := openTestReplica(t, "hub1", testCounty)
	mustWrite(t, hub, registration("c1", villageA, "hubclerk", 0))
	entries, next := readFeed(t, hub, 0, "")
	if _, err := r.Apply(context.Background(), node.Batch{From: "hub1", Stream: node.ScopeOfRegion(townA), Partial: true,
		Ops: incoming(t, entries), Checkpoint: &node.Checkpoint{Epoch: "e2", Pos: next + 2}}); err != nil {
		t.Fatal(err)
	}
	check("with ops", stream, node.Checkpoint{Epoch: "e2", Pos: next + 2})
	mustCase(t, r, "c1")

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openTestReplicaFS(t, fs, "stA", townA)
	check("stream after reopen", stream, node.Checkpoint{Epoch: "e2", Pos: next + 2})
	check("other stream after reopen", other, node.Checkpoint{Epoch: "e1", Pos: 7})
	check("whole feed after reopen", "hub1", node.Checkpoint{Epoch: "e1", Pos: 3})
}

// A case the hub marks as having left a station's stream is a stub at the station (IsLeft)
// until an op of it arrives on a stream again; within one batch, the marker's place among
// the ops decides: before the case's op it is undone by it, after it it stands.
func TestLeftMarkers(t *testing.T) {
	hub := openTestReplica(t, "hub", testCounty)
	fs := vfs.NewMem()
	st := openTestReplicaFS(t, fs, "stA", townA)
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		mustWrite(t, hub, registration(id, villageA, "hubclerk", 0))
	}
	mustWrite(t, hub, note("c1", "走访", "hubclerk"))
	pos := uint64(0)
	// newOps returns the hub's ops of case id after feed position pos.
	newOps := func(id string) []node.Incoming {
		t.Helper()
		entries, _ := readFeed(t, hub, pos, "")
		var out []node.Incoming
		for _, in := range incoming(t, entries) {
			if in.Op.Case == id {
				out = append(out, in)
			}
		}
		return out
	}
	apply := func(what string, ops []node.Incoming, left ...node.LeftMarker) {
		t.Helper()
		if _, err := st.Apply(context.Background(), node.Batch{From: "hub", Stream: node.ScopeOfRegion(townA), Partial: true, Ops: ops, Left: left}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	requireLeft := func(what string, want map[string]bool) {
		t.Helper()
		for id, w := range want {
			if got := st.IsLeft(id); got != w {
				t.Fatalf("%s: IsLeft(%s) = %v, want %v", what, id, got, w)
			}
		}
	}
	requireLeft("before any marker", map[string]bool{"c1": false, "c2": false, "c3": false, "c4": false})

	c1 := newOps("c1")
	if len(c1) != 2 {
		t.Fatalf("c1 has %d ops at the hub", len(c1))
	}
	apply("c1 then its marker", c1, node.LeftMarker{Case: "c1", After: len(c1)})
	requireLeft("after c1's marker", map[string]bool{"c1": true, "c2": false})
	mustCase(t, st, "c1") // a stub still holds the case

	// The marker is durable.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openTestReplicaFS(t, fs, "stA", townA)
	requireLeft("after reopen", map[string]bool{"c1": true})

	// An op of another case does not bring c1 back; an op of c1 does.
	apply("an op of c2", newOps("c2"))
	requireLeft("after an op of c2", map[string]bool{"c1": true, "c2": false})
	pos = hub.Status().FeedSeq
	mustWrite(t, hub, note("c1", "回到本镇", "hubclerk"))
	back := newOps("c1")
	if len(back) != 1 {
		t.Fatalf("new ops of c1: %d", len(back))
	}
	apply("a new op of c1", back)
	requireLeft("after c1 came back", map[string]bool{"c1": false})
	if n := len(noteDots(mustCase(t, st, "c1"))); n != 2 {
		t.Fatalf("c1 shows %d notes at the station, want 2", n)
	}

	// Marker before the op in the same batch: the op undoes it. After: it stands.
	pos = 0
	apply("marker before c3's op", newOps("c3"), node.LeftMarker{Case: "c3", After: 0})
	requireLeft("marker before the op", map[string]bool{"c3": false})
	apply("marker after c4's op", newOps("c4"), node.LeftMarker{Case: "c4", After: 1})
	requireLeft("marker after the op", map[string]bool{"c4": true, "c3": false})

	// Several markers among several ops, in one batch: each is judged at its place.
	pos = hub.Status().FeedSeq
	mustWrite(t, hub, note("c1", "第二次走访", "hubclerk"))
	mustWrite(t, hub, note("c2", "第二次走访", "hubclerk"))
	entries, _ := readFeed(t, hub, pos, "")
	ops := incoming(t, entries) // [c1, c2]
	apply("mixed", ops,
		node.LeftMarker{Case: "c2", After: 0}, // undone by c2's op at index 1
		node.LeftMarker{Case: "c1", After: 1}, // after c1's op: stands
		node.LeftMarker{Case: "c3", After: 2}, // after every op: stands
	)
	requireLeft("mixed batch", map[string]bool{"c1": true, "c2": false, "c3": true, "c4": true})
}

// Small documents round-trip: PutDoc stores, Doc reads a copy, Docs lists one kind in id
// order (not a kind that shares its prefix), nil deletes, a missing one is ErrNotFound, and
// they survive reopen.
func TestDocs_RoundTrip(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	r := openTestReplicaFS(t, fs, "hub", testCounty)
	put := func(kind, id string, v []byte) {
		t.Helper()
		if err := r.PutDoc(ctx, kind, id, v); err != nil {
			t.Fatalf("PutDoc %s %s: %v", kind, id, err)
		}
	}
	list := func(kind string) []string {
		t.Helper()
		var out []string
		if err := r.Docs(kind, func(id string, v []byte) error {
			out = append(out, id+"="+string(v))
			return nil
		}); err != nil {
			t.Fatalf("Docs %s: %v", kind, err)
		}
		return out
	}
	put("enroll", "st-b", []byte("B"))
	put("enroll", "st-a", []byte("A"))
	put("enroll", "st-c", []byte("C"))
	put("enrol", "st-x", []byte("X"))   // a kind that is a prefix of another
	put("enrollx", "st-y", []byte("Y")) // a kind that extends another
	if got, want := list("enroll"), []string{"st-a=A", "st-b=B", "st-c=C"}; !slices.Equal(got, want) {
		t.Fatalf("Docs(enroll) = %v, want %v", got, want)
	}
	if got := list("enrol"); !slices.Equal(got, []string{"st-x=X"}) {
		t.Fatalf("Docs(enrol) = %v", got)
	}
	if got := list("none"); len(got) != 0 {
		t.Fatalf("Docs of an empty kind = %v", got)
	}
	v, err := r.Doc("enroll", "st-a")
	if err != nil || string(v) != "A" {
		t.Fatalf("Doc(enroll, st-a) = %q %v", v, err)
	}
	v[0] = 'Z'
	if v, _ := r.Doc("enroll", "st-a"); string(v) != "A" {
		t.Fatalf("changing a returned document changed the store: %q", v)
	}
	if _, err := r.Doc("enroll", "st-z"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("Doc of a missing id: %v, want ErrNotFound", err)
	}
	if _, err := r.Doc("enrol", "st-a"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("Doc under a prefix kind: %v, want ErrNotFound", err)
	}

	put("enroll", "st-a", []byte("A2"))
	put("enroll", "st-b", nil)
	if _, err := r.Doc("enroll", "st-b"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("Doc after PutDoc(nil): %v, want ErrNotFound", err)
	}
	put("enroll", "st-q", nil) // deleting a missing document is no error
	if got, want := list("enroll"), []string{"st-a=A2", "st-c=C"}; !slices.Equal(got, want) {
		t.Fatalf("Docs(enroll) after overwrite and delete = %v, want %v", got, want)
	}

	// fn's error stops the listing and is returned.
	stop := errors.New("stop")
	var seen []string
	if err := r.Docs("enroll", func(id string, _ []byte) error { seen = append(seen, id); return stop }); !errors.Is(err, stop) || len(seen) != 1 {
		t.Fatalf("Docs with a failing fn: %v after %v", err, seen)
	}
	// A cancelled context stores nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.PutDoc(cctx, "enroll", "st-d", []byte("D")); err == nil {
		t.Fatal("PutDoc with a cancelled context succeeded")
	}
	if _, err := r.Doc("enroll", "st-d"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("PutDoc with a cancelled context stored it: %v", err)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.PutDoc(ctx, "enroll", "st-e", []byte("E")); !errors.Is(err, node.ErrClosed) {
		t.Fatalf("PutDoc after Close: %v, want ErrClosed", err)
	}
	if _, err := r.Doc("enroll", "st-a"); !errors.Is(err, node.ErrClosed) {
		t.Fatalf("Doc after Close: %v, want ErrClosed", err)
	}
	r = openTestReplicaFS(t, fs, "hub", testCounty)
	if got, want := list("enroll"), []string{"st-a=A2", "st-c=C"}; !slices.Equal(got, want) {
		t.Fatalf("Docs(enroll) after reopen = %v, want %v", got, want)
	}
}

// Secret makes a node's secret once: the generator runs once, even when many callers ask at
// the same time and across reopen, and every caller gets the same bytes; a failed generation
// stores nothing and is retried next time.
func TestSecret_GeneratedOnce(t *testing.T) {
	fs := vfs.NewMem()
	r := openTestReplicaFS(t, fs, "stA", townA)
	var calls atomic.Int32
	gen := func() ([]byte, error) {
		n := calls.Add(1)
		return []byte(fmt.Sprintf("secret-%d", n)), nil
	}
	s1, err := r.Secret("age", gen)
	if err != nil || len(s1) == 0 {
		t.Fatalf("Secret: %q %v", s1, err)
	}
	s2, err := r.Secret("age", gen)
	if err != nil || !bytes.Equal(s1, s2) || calls.Load() != 1 {
		t.Fatalf("second Secret: %q %v (first %q), generator called %d times", s2, err, s1, calls.Load())
	}

	// Many callers at once: one generation, one answer.
	calls.Store(0)
	var wg sync.WaitGroup
	got := make([][]byte, 16)
	errs := make([]error, len(got))
	for i := range got {
		wg.Go(func() { got[i], errs[i] = r.Secret("session", gen) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("concurrent Secret %d: %q %v, caller 0 got %q", i, got[i], errs[i], got[0])
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("generator called %d times by concurrent callers", n)
	}

	// A failed generation stores nothing.
	boom := errors.New("no entropy")
	if _, err := r.Secret("k3", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("Secret with a failing generator: %v", err)
	}
	k3, err := r.Secret("k3", func() ([]byte, error) { return []byte("k3"), nil })
	if err != nil || string(k3) != "k3" {
		t.Fatalf("Secret after a failed generation: %q %v", k3, err)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openTestReplicaFS(t, fs, "stA", townA)
	never := func() ([]byte, error) {
		t.Error("generator called again after reopen")
		return []byte("other"), nil
	}
	for name, want := range map[string][]byte{"age": s1, "session": got[0], "k3": []byte("k3")} {
		if v, err := r.Secret(name, never); err != nil || !bytes.Equal(v, want) {
			t.Fatalf("Secret(%s) after reopen: %q %v, want %q", name, v, err, want)
		}
	}
}

// SignHeadAt signs the node's chain at any seq up to its tip, on both sides of a chain mark:
// the head verifies with the node's key, hashes exactly the first k ops, and is accepted with
// a batch of those ops (alone, or among all of them, or window by window as a session sends
// them); an altered hash is refused with ErrChainBroken, and a seq past the tip is an error.
func TestSignHeadAt_MatchesChain(t *testing.T) {
	ctx := context.Background()
	src := openTestReplica(t, "stA", townA)
	changes := []node.Change{registration("p0", villageA, "clerkA", 0)}
	for i := range 99 {
		changes = append(changes, note("p0", fmt.Sprintf("第%d次走访", i+1), "clerkA"))
	}
	mustWriteAll(t, src, changes)
	entries, _ := readFeed(t, src, 0, "")
	ops := incoming(t, entries)
	raws := opsOf(t, src, src.Origin())
	if len(ops) != 100 || len(raws) != 100 {
		t.Fatalf("%d ops written, want 100", len(ops))
	}
	ks := []uint64{1, 63, 64, 65, 100}
	heads := make([]node.SignedHead, len(ks))

	for i, k := range ks {
		h, err := src.SignHeadAt(k)
		if err != nil {
			t.Fatalf("SignHeadAt(%d): %v", k, err)
		}
		heads[i] = h
		if h.Origin != src.Origin() || h.Seq != k {
			t.Fatalf("SignHeadAt(%d) = %s at %d", k, h.Origin, h.Seq)
		}
		if err := h.Verify(src.PublicKey()); err != nil {
			t.Fatalf("SignHeadAt(%d) does not verify: %v", k, err)
		}
		if want := chainHashOf(raws[:k]); h.Hash != want {
			t.Fatalf("SignHeadAt(%d) hash %s, want %s", k, h.Hash, want)
		}
		if err := src.VerifyHead(h, src.PublicKey()); err != nil {
			t.Fatalf("VerifyHead(SignHeadAt(%d)) on its own replica: %v", k, err)
		}

		dst := openTestReplica(t, fmt.Sprintf("hub%d", k), testCounty)
		res, err := dst.Apply(ctx, node.Batch{From: "stA", Ops: ops[:k], Heads: []node.SignedHead{h}})
		if err != nil || res.Applied != int(k) {
			t.Fatalf("first %d ops with their head: %+v %v", k, res, err)
		}
		if seq, hash := dst.ChainTip(src.Origin()); seq != k || hash != h.Hash {
			t.Fatalf("after the first %d ops: chain at %d %s, want %d %s", k, seq, hash, k, h.Hash)
		}

		forged := h
		forged.Hash[0] ^= 1
		if err := forged.Verify(src.PublicKey()); !errors.Is(err, node.ErrBadSignature) {
			t.Fatalf("a head with an altered hash verifies: %v", err)
		}
		dst2 := openTestReplica(t, fmt.Sprintf("hubx%d", k), testCounty)
		if _, err := dst2.Apply(ctx, node.Batch{From: "stA", Ops: ops[:k], Heads: []node.SignedHead{forged}}); !errors.Is(err, node.ErrChainBroken) {
			t.Fatalf("first %d ops with an altered head: %v, want ErrChainBroken", k, err)
		}
		if s := dst2.Status(); s.FeedSeq != 0 || s.Cases != 0 {
			t.Fatalf("a refused batch left %+v", s)
		}
	}
	if head := src.Head(); head.Hash != heads[len(heads)-1].Hash || head.Seq != 100 {
		t.Fatalf("SignHeadAt(tip) %s differs from Head %d %s", heads[len(heads)-1].Hash, head.Seq, head.Hash)
	}
	if h, err := src.SignHeadAt(101); err == nil {
		t.Fatalf("SignHeadAt past the tip signed %+v", h)
	}

	// All heads with all ops in one batch: the heads behind the end are checked against the
	// marks and ops of the batch itself.
	all := openTestReplica(t, "hub-all", testCounty)
	if res, err := all.Apply(ctx, node.Batch{From: "stA", Ops: ops, Heads: heads}); err != nil || res.Applied != 100 {
		t.Fatalf("all ops with all heads: %+v %v", res, err)
	}
	for i, k := range ks {
		bad := slices.Clone(heads)
		bad[i].Hash[31] ^= 0x80
		r := openTestReplica(t, fmt.Sprintf("hub-all-bad%d", k), testCounty)
		if _, err := r.Apply(ctx, node.Batch{From: "stA", Ops: ops, Heads: bad}); !errors.Is(err, node.ErrChainBroken) {
			t.Fatalf("all ops with the head at %d altered: %v, want ErrChainBroken", k, err)
		}
	}

	// Window by window, each with the head where it ends.
	win := openTestReplica(t, "hub-win", testCounty)
	from := uint64(0)
	for i, k := range ks {
		if _, err := win.Apply(ctx, node.Batch{From: "stA", Ops: ops[from:k], Heads: heads[i : i+1]}); err != nil {
			t.Fatalf("window %d..%d: %v", from+1, k, err)
		}
		from = k
	}
	requireSameCases(t, src, win, "p0")
	if seq, hash := win.ChainTip(src.Origin()); seq != 100 || hash != heads[len(heads)-1].Hash {
		t.Fatalf("windowed chain at %d %s", seq, hash)
	}
}

// Heads signed behind the tip while the node keeps writing (a session signs where its batch
// ends while clerks write) hash exactly the ops up to their seq.
func TestSignHeadAt_WhileWriting(t *testing.T) {
	src := openTestReplica(t, "stA", townA)
	mustWrite(t, src, registration("p0", villageA, "clerkA", 0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 150 {
			if _, err := src.Write(context.Background(), note("p0", fmt.Sprintf("第%d次走访", i+1), "clerkA")); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
		}
	}()
	var heads []node.SignedHead
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		tip := src.Head().Seq
		for _, k := range []uint64{tip, tip / 2, max(tip, 1) - 1, tip/64*64 + 1} {
			if k == 0 || k > tip {
				continue
			}
			h, err := src.SignHeadAt(k)
			if err != nil {
				t.Fatalf("SignHeadAt(%d) with the tip at least %d: %v", k, tip, err)
			}
			heads = append(heads, h)
		}
	}
	if len(heads) == 0 {
		t.Fatal("no head signed while writing")
	}
	raws := opsOf(t, src, src.Origin())
	if len(raws) != 151 {
		t.Fatalf("%d ops written, want 151", len(raws))
	}
	for _, h := range heads {
		if want := chainHashOf(raws[:h.Seq]); h.Hash != want || h.Verify(src.PublicKey()) != nil {
			t.Fatalf("head at %d signed while writing: hash %s, want %s", h.Seq, h.Hash, want)
		}
	}
}

// Notify's channel is closed when the next commit (a local write or an applied batch) is
// durable, and at Close, so a caught-up feed reader wakes without polling; a channel taken
// after a commit waits for the next one.
func TestNotify_ClosedByCommitAndClose(t *testing.T) {
	const bound = 5 * time.Second
	r := openTestReplica(t, "hub", testCounty)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := r.Notify()
	if closed(ch) {
		t.Fatal("Notify's channel is closed before any commit")
	}
	woke := make(chan uint64)
	go func() {
		<-ch
		woke <- r.Status().FeedSeq
	}()
	mustWrite(t, r, registration("c1", villageA, "clerk", 0))
	select {
	case seq := <-woke:
		if seq < 1 {
			t.Fatalf("woken before the write was visible: feed at %d", seq)
		}
	case <-time.After(bound):
		t.Fatal("a reader waiting on Notify was not woken by a write")
	}

	ch2 := r.Notify()
	if closed(ch2) {
		t.Fatal("a channel taken after the commit is already closed")
	}
	// An applied batch from a peer is a commit too.
	peer := openTestReplica(t, "stA", townA)
	mustWrite(t, peer, registration("s1", villageA, "clerkA", 0))
	link{peer, r}.pull(t)
	select {
	case <-ch2:
	case <-time.After(bound):
		t.Fatal("Notify's channel not closed by an applied batch")
	}

	ch3 := r.Notify()
	if closed(ch3) {
		t.Fatal("a channel taken after the batch is already closed")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch3:
	case <-time.After(bound):
		t.Fatal("Notify's channel not closed by Close")
	}
	if _, _, err := r.Feed(0, 10, ""); !errors.Is(err, node.ErrClosed) {
		t.Fatalf("Feed after the wake-up by Close: %v, want ErrClosed", err)
	}
}

// PeekDot reads the same dot as a full DecodeOp, for ops of several origins (local and
// replicated, quarantined too) as the feed returns them, and refuses what is not an op.
func TestPeekDot_MatchesDecodeOp(t *testing.T) {
	f := newHubAndStation(t, vfs.NewMem())
	mustWrite(t, f.st, registration("s1", villageA, "clerkA", 0))
	mustWrite(t, f.st, note("hb", "越权补记", "clerkA"))
	f.push(t)
	city := openTestReplica(t, "city", "4203")
	link{f.hub, city}.pull(t)
	mustWrite(t, city, note("s1", "市级督办", "cityclerk"))

	entries, _ := readFeed(t, city, 0, "")
	origins := map[crdt.Origin]bool{}
	for _, e := range entries {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			t.Fatalf("decode feed %d: %v", e.Pos, err)
		}
		d, err := cases.PeekDot(e.Raw)
		if err != nil || d != op.Dot {
			t.Fatalf("PeekDot of feed %d = %s %v, DecodeOp says %s", e.Pos, d, err, op.Dot)
		}
		origins[d.Origin] = true
	}
	if len(origins) != 3 {
		t.Fatalf("feed holds ops of %d origins, want 3 (hub, stA, city)", len(origins))
	}
	for _, b := range [][]byte{nil, {}, {0xc0}, {0x91, 0x01}, []byte("not an op")} {
		if d, err := cases.PeekDot(b); err == nil {
			t.Fatalf("PeekDot(%x) = %s, want an error", b, d)
		}
	}
}

// An op that creates nothing (a note, an edit) on a case the hub does not hold yet is not
// the station's own creation: whether stB's registration of the case reaches the hub before
// or after stA's ops on it, those ops are quarantined, and stA gains no scope over the case.
func TestWriterRule_OpOnCaseUnknownToHubIsNotCreation(t *testing.T) {
	ctx := context.Background()
	stA := openTestReplica(t, "stA", townA)
	stB := openTestReplica(t, "stB", townB)
	reg := mustWrite(t, stA, registration("own", villageA, "clerkA", 0))
	n := mustWrite(t, stA, note("own", "抢先补记", "clerkA"))
	e := mustWrite(t, stA, edit("own", "region", villageA2, "clerkA"))
	n.Case, e.Case = "x1", "x2" // cases stA never held: registered by stB, in township B
	fromA := node.Batch{From: "stA", Writer: stationRule(), Ops: []node.Incoming{{Op: reg}, {Op: n}, {Op: e}}}
	fromB := node.Batch{From: "stB", Writer: &node.WriterRule{Node: "stB", Scopes: []string{node.ScopeOfRegion(townB)}},
		Ops: []node.Incoming{{Op: mustWrite(t, stB, registration("x1", villageB, "clerkB", 0))},
			{Op: mustWrite(t, stB, registration("x2", villageB, "clerkB", 0))}}}

	for _, order := range []string{"stB first", "stA first"} {
		t.Run(order, func(t *testing.T) {
			hub := openTestReplica(t, "hub", testCounty)
			batches := []node.Batch{fromB, fromA}
			if order == "stA first" {
				batches = []node.Batch{fromA, fromB}
			}
			for _, b := range batches {
				if _, err := hub.Apply(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"x1 " + n.Dot.String() + " stA", "x2 " + e.Dot.String() + " stA"}
			if got := quarantinedDots(t, hub); !slices.Equal(got, want) {
				t.Errorf("quarantined %v, want stA's two ops %v", got, want)
			}
			for _, id := range []string{"x1", "x2"} {
				c := mustCase(t, hub, id)
				if c.Creator != "clerkB" || c.String("region") != villageB {
					t.Errorf("%s at the hub: created by %q, region %v; want stB's registration in %s",
						id, c.Creator, c.Strings("region"), villageB)
				}
			}
			if historyHas(t, hub, "x1", n.Dot) || historyHas(t, hub, "x2", e.Dot) {
				t.Errorf("stA's ops folded into stB's cases")
			}
			if sc, _ := hub.CaseScopes("x2"); !slices.Equal(sc, []string{node.ScopeOfRegion(townB), node.ScopeOfRegion(villageB)}) {
				t.Errorf("x2's scopes at the hub %v, want township and village B only", sc)
			}
		})
	}
}
