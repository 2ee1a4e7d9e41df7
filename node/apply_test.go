package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// Replication between real replicas: ops written on A reach B through A's feed, DecodeOp and
// B.Apply, and B ends with the same cases.
func TestApply_ReplicatesCases(t *testing.T) {
	a := openTestReplica(t, "st-a", townA)
	b := openTestReplica(t, "hub-b", testCounty)
	var ids []string
	for i := range 6 {
		id := fmt.Sprintf("c%02d", i)
		ids = append(ids, id)
		mustWrite(t, a, registration(id, villageA, "alice", 0))
		mustWrite(t, a, note(id, fmt.Sprintf("走访第%d次", i), "alice"))
		if i%2 == 0 {
			mustWrite(t, a, edit(id, "category", "劳动社保", "alice"))
		}
		if i%3 == 0 {
			mustWrite(t, a, node.Change{Case: id, Author: "alice", To: cases.Accepted,
				Data: map[string]json.RawMessage{"notice_at": jsonInt(testBaseTime + 3600_000)}})
		}
	}
	res := link{a, b}.pull(t)
	wantOps := int(a.Status().FeedSeq)
	if res.Applied != wantOps || res.Duplicates != 0 || res.Pending != 0 || res.Equivocations != 0 {
		t.Fatalf("first pull: %+v, want %d applied and nothing else", res, wantOps)
	}
	requireSameCases(t, a, b, ids...)
	if got, want := b.Status().Cases, a.Status().Cases; got != want || got != uint64(len(ids)) {
		t.Fatalf("cases: B has %d, A has %d, want %d", got, want, len(ids))
	}
	if got, want := mustCase(t, b, "c00").State(), cases.Accepted; got != want {
		t.Fatalf("state of c00 on B: %s, want %s", got, want)
	}
	seqA, hashA := a.ChainTip(a.Origin())
	seqB, hashB := b.ChainTip(a.Origin())
	if seqA != uint64(wantOps) || seqB != seqA || hashB != hashA {
		t.Fatalf("chain of A: A holds %d %s, B holds %d %s", seqA, hashA, seqB, hashB)
	}

	// B's own write goes back to A; A's ops are not sent back to A.
	mustWrite(t, b, note("c01", "县里已阅", "hub-staff"))
	res = link{b, a}.pull(t)
	if res.Applied != 1 || res.Duplicates != 0 {
		t.Fatalf("pull B→A: %+v, want exactly B's one op applied (A's ops are never echoed)", res)
	}
	requireSameCases(t, a, b, ids...)
	if got := a.Status().FeedSeq; got != uint64(wantOps+1) {
		t.Fatalf("A's feed: %d, want %d", got, wantOps+1)
	}
	// Nothing new either way: a further exchange moves nothing.
	for range 2 {
		if res := (link{a, b}).pull(t); res != (node.Result{FeedSeq: b.Status().FeedSeq}) {
			t.Fatalf("idle pull A→B: %+v", res)
		}
		if res := (link{b, a}).pull(t); res != (node.Result{FeedSeq: a.Status().FeedSeq}) {
			t.Fatalf("idle pull B→A: %+v", res)
		}
	}
}

// Concurrent offline edits of one field on A and B are a visible conflict on both replicas,
// with both writes, both authors and the same display winner; a later write on either side
// that observes both ends it everywhere.
func TestApply_ConcurrentEditsConflictAndResolve(t *testing.T) {
	for _, tc := range []struct {
		name     string
		resolver string // "a" or "b"
		kind     cases.Kind
	}{
		{"resolve on B", "b", cases.KindResolve},
		{"edit on A observing both", "a", cases.KindEdit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := openTestReplica(t, "st-a", testCounty)
			b := openTestReplica(t, "st-b", testCounty)
			mustWrite(t, a, registration("c1", villageA, "alice", 0))
			exchange(t, a, b)
			requireSameCases(t, a, b, "c1")

			// Offline on both sides.
			mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
			mustWrite(t, b, edit("c1", "category", "环境污染", "bob"))
			mustWrite(t, b, note("c1", "电话回访", "bob")) // unrelated: no conflict
			exchange(t, a, b)
			exchange(t, a, b)

			var winners []string
			for _, r := range []*node.Replica{a, b} {
				c := mustCase(t, r, "c1")
				if got := writers(c, "category"); !slices.Equal(got, []string{"alice", "bob"}) {
					t.Fatalf("%s: category writes by %v, want a conflict of alice and bob", r.Origin().Node, got)
				}
				var vals []string
				for _, w := range c.Registers["category"].Values() {
					vals = append(vals, cases.DecodeValue("category", w.Value).(string))
				}
				slices.Sort(vals)
				if !slices.Equal(vals, []string{"劳动社保", "环境污染"}) {
					t.Fatalf("%s: category values %v", r.Origin().Node, vals)
				}
				if got := c.Conflicts(); !slices.Equal(got, []string{"category"}) {
					t.Fatalf("%s: conflicts %v, want [category]", r.Origin().Node, got)
				}
				winners = append(winners, c.String("category"))
			}
			if winners[0] != winners[1] || winners[0] == "" {
				t.Fatalf("display winners differ: A shows %q, B shows %q", winners[0], winners[1])
			}
			requireSameCases(t, a, b, "c1")

			resolver := map[string]*node.Replica{"a": a, "b": b}[tc.resolver]
			mustWrite(t, resolver, node.Change{Case: "c1", Kind: tc.kind, Author: "carol",
				Writes: []cases.LocalWrite{{Field: "category", Action: cases.Set, JSON: jsonString("城乡建设")}}})
			exchange(t, a, b)
			for _, r := range []*node.Replica{a, b} {
				c := mustCase(t, r, "c1")
				if got := c.Conflicts(); len(got) != 0 {
					t.Fatalf("%s: conflicts %v after the resolve", r.Origin().Node, got)
				}
				if got := writers(c, "category"); !slices.Equal(got, []string{"carol"}) {
					t.Fatalf("%s: category written by %v, want carol alone", r.Origin().Node, got)
				}
				if got := c.String("category"); got != "城乡建设" {
					t.Fatalf("%s: category %q", r.Origin().Node, got)
				}
				if h, err := r.CaseHead("c1"); err != nil || len(h.Registers["category"].Values()) != 1 {
					t.Fatalf("%s: head of c1 still in conflict (%v)", r.Origin().Node, err)
				}
			}
			requireSameCases(t, a, b, "c1")
		})
	}
}

// A write made against a stale view (Base naming only one side of a conflict) does not end
// the conflict: it overwrites what its author saw, and the unseen write stays visible.
func TestApply_StaleBaseKeepsConflict(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	b := openTestReplica(t, "st-b", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	exchange(t, a, b)
	opA := mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
	mustWrite(t, b, edit("c1", "category", "环境污染", "bob"))
	exchange(t, a, b)
	stale := edit("c1", "category", "城乡建设", "carol")
	stale.Base = append(stale.Base, opA.Dot)
	mustWrite(t, a, stale)
	exchange(t, a, b)
	for _, r := range []*node.Replica{a, b} {
		if got := writers(mustCase(t, r, "c1"), "category"); !slices.Equal(got, []string{"bob", "carol"}) {
			t.Fatalf("%s: category writers %v, want bob and carol still in conflict", r.Origin().Node, got)
		}
	}
	requireSameCases(t, a, b, "c1")
}

// Applying the same batch twice changes nothing.
func TestApply_SameBatchTwiceIsDuplicate(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	b := openTestReplica(t, "hub-b", testCounty)
	for i := range 4 {
		mustWrite(t, a, registration(fmt.Sprintf("c%d", i), villageA, "alice", 0))
		mustWrite(t, a, note(fmt.Sprintf("c%d", i), "已受理", "alice"))
	}
	entries, _ := readFeed(t, a, 0, "")
	batch := node.Batch{From: "st-a", Ops: incoming(t, entries)}
	first, err := b.Apply(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	before := digest(mustCase(t, b, "c2"))
	st := b.Status()
	second, err := b.Apply(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if first.Applied != len(entries) || second.Applied != 0 || second.Duplicates != len(entries) ||
		second.Equivocations != 0 || second.Pending != 0 || second.FeedSeq != first.FeedSeq {
		t.Fatalf("first %+v, second %+v: want the second to be all duplicates", first, second)
	}
	if got := b.Status(); got != st {
		t.Fatalf("status changed by a duplicate batch: %+v → %+v", st, got)
	}
	if got := digest(mustCase(t, b, "c2")); got != before {
		t.Fatalf("case changed by a duplicate batch:\n%s\n%s", before, got)
	}
	// Duplicates inside one batch count once.
	b2 := openTestReplica(t, "hub-c", testCounty)
	doubled := node.Batch{From: "st-a", Ops: append(slices.Clone(batch.Ops), batch.Ops...)}
	res, err := b2.Apply(context.Background(), doubled)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != len(entries) || res.Duplicates != len(entries) {
		t.Fatalf("a batch holding every op twice: %+v", res)
	}
	requireSameCases(t, b, b2, "c0", "c1", "c2", "c3")
}

// forge returns op with the same dot and different content (another author).
func forge(op cases.Op) node.Incoming {
	op.Author = "mallory"
	return node.Incoming{Op: op}
}

// The same dot with different content is an equivocation: counted, kept aside, not applied.
func TestApply_Equivocation(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
	entries, _ := readFeed(t, a, 0, "")
	ops := incoming(t, entries)

	t.Run("after the original", func(t *testing.T) {
		fs := vfs.NewMem()
		b := openTestReplicaFS(t, fs, "hub-b", testCounty)
		if _, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops}); err != nil {
			t.Fatal(err)
		}
		before, st := digest(mustCase(t, b, "c1")), b.Status()
		res, err := b.Apply(context.Background(), node.Batch{From: "st-x", Ops: []node.Incoming{forge(ops[1].Op)}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Equivocations != 1 || res.Applied != 0 || res.Duplicates != 0 || res.FeedSeq != st.FeedSeq {
			t.Fatalf("forged op: %+v, want one equivocation and nothing applied", res)
		}
		if got := digest(mustCase(t, b, "c1")); got != before {
			t.Fatalf("equivocation changed the case:\n%s\n%s", before, got)
		}
		if got := writers(mustCase(t, b, "c1"), "category"); !slices.Equal(got, []string{"alice"}) {
			t.Fatalf("category written by %v", got)
		}
		if got := b.Status().Equivocations; got != 1 {
			t.Fatalf("Status().Equivocations = %d, want 1", got)
		}
		// The count is durable.
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		b = openTestReplicaFS(t, fs, "hub-b", testCounty)
		if got := b.Status().Equivocations; got != 1 {
			t.Fatalf("after reopen, Status().Equivocations = %d, want 1", got)
		}
	})

	t.Run("in one batch", func(t *testing.T) {
		b := openTestReplica(t, "hub-b", testCounty)
		res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: []node.Incoming{ops[0], ops[1], forge(ops[1].Op)}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != 2 || res.Equivocations != 1 {
			t.Fatalf("%+v, want 2 applied and 1 equivocation", res)
		}
		if got := writers(mustCase(t, b, "c1"), "category"); !slices.Equal(got, []string{"alice"}) {
			t.Fatalf("category written by %v", got)
		}
		if got := b.Status().Equivocations; got != 1 {
			t.Fatalf("Status().Equivocations = %d, want 1", got)
		}
	})
}

// An equivocation must be caught even while the first version of the dot waits as pending
// behind a gap: DESIGN "Dedupe compares the op's content hash, not only its dot".
func TestApply_EquivocationOfPendingOp(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	mustWrite(t, a, note("c1", "走访", "alice"))
	mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
	entries, _ := readFeed(t, a, 0, "")
	ops := incoming(t, entries)
	b := openTestReplica(t, "hub-b", testCounty)
	apply := func(ins ...node.Incoming) node.Result {
		t.Helper()
		res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ins})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply(ops[0])
	if res := apply(ops[2]); res.Pending != 1 {
		t.Fatalf("op 3 after a gap: %+v, want pending", res)
	}
	res := apply(forge(ops[2].Op))
	if res.Equivocations != 1 || b.Status().Equivocations != 1 {
		t.Errorf("a different op under a pending dot: %+v, Status().Equivocations=%d; want it raised as an equivocation, not counted as a duplicate",
			res, b.Status().Equivocations)
	}
	// Whatever happened, the gap filling applies the first version held.
	if res := apply(ops[1]); res.Applied != 2 {
		t.Fatalf("gap filled: %+v, want 2 applied", res)
	}
	if got := writers(mustCase(t, b, "c1"), "category"); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("category written by %v, want alice", got)
	}
}

// Non-partial mode: ops of an origin after a gap are held pending and invisible; the op that
// fills the gap drains them in the same batch and the chain tip moves over all of them.
func TestApply_GapHeldPendingThenDrained(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	mustWrite(t, a, note("c1", "第一次走访", "alice"))
	mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
	mustWrite(t, a, note("c1", "第二次走访", "alice"))
	mustWrite(t, a, edit("c1", "handler_unit", "县住建局", "alice"))
	entries, _ := readFeed(t, a, 0, "")
	ops := incoming(t, entries)

	fs := vfs.NewMem()
	b := openTestReplicaFS(t, fs, "hub-b", testCounty)
	apply := func(ins ...node.Incoming) node.Result {
		t.Helper()
		res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ins})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	scope := node.ScopeOfRegion(villageA)
	if res := apply(ops[0], ops[1]); res.Applied != 2 {
		t.Fatalf("ops 1-2: %+v", res)
	}
	res := apply(ops[3], ops[4])
	if res.Pending != 2 || res.Applied != 0 || res.FeedSeq != 2 {
		t.Fatalf("ops 4-5 after a gap: %+v, want 2 pending, none applied", res)
	}
	if got := b.Status().Pending; got == 0 {
		t.Fatalf("Status().Pending = 0 with 2 ops held") // the exact count: TestApply_PendingCountsOps
	}
	c := mustCase(t, b, "c1")
	if c.String("handler_unit") != "" || c.Logs["notes"].Len() != 1 {
		t.Fatalf("pending ops are visible: handler_unit %q, %d notes", c.String("handler_unit"), c.Logs["notes"].Len())
	}
	if _, h, _ := b.Case("c1"); len(h) != 2 {
		t.Fatalf("history holds %d ops, want 2", len(h))
	}
	if got := b.ScopeSeq(scope); got != 2 {
		t.Fatalf("scope holds %d entries, want 2 (pending ops are not indexed)", got)
	}
	if seq, _ := b.ChainTip(a.Origin()); seq != 2 {
		t.Fatalf("chain tip %d, want 2", seq)
	}
	// Sending the pending ops again holds nothing twice.
	if res := apply(ops[3]); res.Pending != 0 || res.Applied != 0 || res.Duplicates != 1 {
		t.Fatalf("pending op again: %+v, want a duplicate", res)
	}
	// Pending ops survive a restart.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTestReplicaFS(t, fs, "hub-b", testCounty)
	if got := b.Status().Pending; got == 0 {
		t.Fatalf("after reopen, Status().Pending = 0 with 2 ops held")
	}

	res = apply(ops[2])
	if res.Applied != 3 || res.Pending != 0 || res.FeedSeq != 5 {
		t.Fatalf("gap filled: %+v, want op 3 and the 2 drained ops applied", res)
	}
	if got := b.Status().Pending; got != 0 {
		t.Fatalf("Status().Pending = %d after the drain", got)
	}
	seqA, hashA := a.ChainTip(a.Origin())
	if seq, hash := b.ChainTip(a.Origin()); seq != 5 || hash != hashA || seqA != 5 {
		t.Fatalf("chain tip on B %d %s, want 5 %s", seq, hash, hashA)
	}
	if got := b.ScopeSeq(scope); got != 5 {
		t.Fatalf("scope holds %d entries, want 5", got)
	}
	requireSameCases(t, a, b, "c1")
	if err := b.VerifyHead(a.Head(), a.PublicKey()); err != nil {
		t.Fatalf("head of A after the drain: %v", err)
	}
}

// Status().Pending counts the ops held pending ("ops waiting for a gap in their origin to
// fill"), not the width of the gap before them, and not ops a partial stream applied.
func TestApply_PendingCountsOps(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	for i := range 4 {
		mustWrite(t, a, note("c1", fmt.Sprintf("记录%d", i), "alice"))
	}
	entries, _ := readFeed(t, a, 0, "")
	ops := incoming(t, entries)
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partial=%v", partial), func(t *testing.T) {
			b := openTestReplica(t, "hub-b", testCounty)
			if _, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: []node.Incoming{ops[0]}}); err != nil {
				t.Fatal(err)
			}
			// seq 5 after a gap 2..4
			res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: []node.Incoming{ops[4]}, Partial: partial})
			if err != nil {
				t.Fatal(err)
			}
			want := 1 // held
			if partial {
				want = 0 // applied
			}
			if res.Pending != want {
				t.Fatalf("%+v, want %d pending", res, want)
			}
			if got := b.Status().Pending; got != uint64(want) {
				t.Errorf("Status().Pending = %d with %d op(s) held (seq 5 after a gap 2..4, partial=%v); want %d",
					got, want, partial, want)
			}
		})
	}
}

// Partial mode (a scoped stream): ops after a gap are applied at once; the chain tip stays
// at the contiguous prefix and extends over them when the gap fills.
func TestApply_PartialAppliesAfterGap(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0)) // 1
	mustWrite(t, a, registration("c2", villageB, "alice", 0))
	mustWrite(t, a, note("c2", "不在本站范围", "alice")) // 3
	mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
	mustWrite(t, a, note("c1", "已走访", "alice")) // 5
	entries, _ := readFeed(t, a, 0, "")
	ops := incoming(t, entries)
	b := openTestReplica(t, "st-b", townA)
	res, err := b.Apply(context.Background(), node.Batch{From: "hub", Ops: []node.Incoming{ops[0], ops[3], ops[4]}, Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 3 || res.Pending != 0 {
		t.Fatalf("partial batch: %+v, want 3 applied", res)
	}
	if got := mustCase(t, b, "c1").String("category"); got != "劳动社保" {
		t.Fatalf("op after the gap not visible: category %q", got)
	}
	if seq, _ := b.ChainTip(a.Origin()); seq != 1 {
		t.Fatalf("chain tip %d, want 1 (the contiguous prefix)", seq)
	}
	requireSameCases(t, a, b, "c1")
	// The gap fills later (a non-partial stream): the tip extends over every op.
	res, err = b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 2 || res.Duplicates != 3 {
		t.Fatalf("full stream: %+v, want 2 applied and 3 duplicates", res)
	}
	seqA, hashA := a.ChainTip(a.Origin())
	if seq, hash := b.ChainTip(a.Origin()); seq != seqA || hash != hashA {
		t.Fatalf("chain tip %d %s, want %d %s", seq, hash, seqA, hashA)
	}
	requireSameCases(t, a, b, "c1", "c2")
}

// Never echo: Feed(..., skipVia) omits the ops that came from that peer, and next still
// moves past them so that a reader never loops on them.
func TestFeed_NeverEcho(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	b := openTestReplica(t, "hub-b", testCounty)
	for i := range 5 {
		mustWrite(t, a, registration(fmt.Sprintf("a%d", i), villageA, "alice", 0))
	}
	link{a, b}.pull(t) // B's feed 1..5: from st-a

	all, next := readFeed(t, b, 0, "st-a")
	if len(all) != 0 || next != 5 {
		t.Fatalf("B's feed for st-a holding only st-a's ops: %d entries, next %d; want none, next 5", len(all), next)
	}
	page, next, err := b.Feed(0, 2, "st-a")
	if err != nil || len(page) != 0 || next != 5 {
		t.Fatalf("page of 2 for st-a: %d entries, next %d, %v; want none, next 5", len(page), next, err)
	}

	mustWrite(t, b, note("a1", "县里批示", "hub-staff")) // 6
	link{a, b}.pull(t)                               // nothing new
	mustWrite(t, a, registration("a5", villageA, "alice", 0))
	link{a, b}.pull(t)                               // 7: from st-a
	mustWrite(t, b, note("a5", "县里批示", "hub-staff")) // 8

	all, next = readFeed(t, b, 0, "st-a")
	var pos []uint64
	for _, e := range all {
		pos = append(pos, e.Pos)
		if e.Via == "st-a" {
			t.Fatalf("feed for st-a holds an op that came from st-a at %d", e.Pos)
		}
	}
	if !slices.Equal(pos, []uint64{6, 8}) || next != 8 {
		t.Fatalf("feed for st-a: positions %v next %d, want [6 8] next 8", pos, next)
	}
	page, next, err = b.Feed(6, 1, "st-a")
	if err != nil || len(page) != 1 || page[0].Pos != 8 || next != 8 {
		t.Fatalf("Feed(6, 1): %d entries, next %d, %v; want position 8", len(page), next, err)
	}
	// Another peer gets everything.
	if all, _ := readFeed(t, b, 0, "st-c"); len(all) != 8 {
		t.Fatalf("feed for st-c: %d entries, want 8", len(all))
	}
	// And the scope feed does the same.
	sc, n, err := b.ScopeFeed(node.ScopeOfRegion(villageA), 0, 100, "st-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	var scPos []string
	for _, e := range sc {
		scPos = append(scPos, fmt.Sprintf("%d(via %q)", e.Pos, e.Via))
	}
	if len(sc) != 2 || sc[0].Pos != 6 || sc[1].Pos != 8 || n != b.ScopeSeq(node.ScopeOfRegion(villageA)) {
		t.Fatalf("scope feed for st-a: positions %v next %d, want [6 8] and the scope's end", scPos, n)
	}
}

// Batch.Checkpoint is stored with the batch: present after it, durable, and absent when the
// batch is refused.
func TestApply_CheckpointStoredWithBatch(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	fs := vfs.NewMem()
	b := openTestReplicaFS(t, fs, "hub-b", testCounty)
	if cp, err := b.PeerCheckpoint("st-a"); err != nil || cp != (node.Checkpoint{}) {
		t.Fatalf("checkpoint before any batch: %+v %v", cp, err)
	}
	for i := range 3 {
		mustWrite(t, a, registration(fmt.Sprintf("c%d", i), villageA, "alice", 0))
	}
	link{a, b}.pull(t)
	want := node.Checkpoint{Epoch: a.Epoch(), Pos: 3}
	if cp, err := b.PeerCheckpoint("st-a"); err != nil || cp != want {
		t.Fatalf("checkpoint %+v %v, want %+v", cp, err, want)
	}

	// A refused batch leaves the checkpoint (and everything else) where it was.
	mustWrite(t, a, note("c0", "走访", "alice"))
	entries, next := readFeed(t, a, 3, "")
	bad := a.Head()
	bad.Hash[0] ^= 0xff
	st := b.Status()
	_, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: incoming(t, entries), Heads: []node.SignedHead{bad},
		Checkpoint: &node.Checkpoint{Epoch: a.Epoch(), Pos: next}})
	if !errors.Is(err, node.ErrChainBroken) {
		t.Fatalf("batch with a wrong head: %v, want ErrChainBroken", err)
	}
	if cp, _ := b.PeerCheckpoint("st-a"); cp != want {
		t.Fatalf("checkpoint moved by a refused batch: %+v", cp)
	}
	if got := b.Status(); got != st {
		t.Fatalf("status changed by a refused batch: %+v → %+v", st, got)
	}

	link{a, b}.pull(t)
	want.Pos = 4
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTestReplicaFS(t, fs, "hub-b", testCounty)
	if cp, err := b.PeerCheckpoint("st-a"); err != nil || cp != want {
		t.Fatalf("checkpoint after reopen %+v %v, want %+v", cp, err, want)
	}
	if got := b.Status().FeedSeq; got != 4 {
		t.Fatalf("feed %d after reopen, want 4", got)
	}
	// Checkpoints are per peer, and a batch without From stores none.
	if _, err := b.Apply(context.Background(), node.Batch{Checkpoint: &node.Checkpoint{Epoch: "x", Pos: 9}}); err != nil {
		t.Fatal(err)
	}
	if cp, _ := b.PeerCheckpoint(""); cp != (node.Checkpoint{}) {
		t.Fatalf("checkpoint stored for an anonymous batch: %+v", cp)
	}
	if cp, _ := b.PeerCheckpoint("st-z"); cp != (node.Checkpoint{}) {
		t.Fatalf("checkpoint of an unknown peer: %+v", cp)
	}
}
