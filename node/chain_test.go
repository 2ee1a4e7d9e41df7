package node_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

// The chain tip of the local origin advances with each local op and hashes exactly the ops
// in the feed; a refused write does not move it.
func TestChain_TipAdvancesWithLocalOps(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	if seq, h := a.ChainTip(a.Origin()); seq != 0 || h != (cases.Hash{}) {
		t.Fatalf("tip of a new replica: %d %s", seq, h)
	}
	changes := []node.Change{
		registration("c1", villageA, "alice", 0),
		note("c1", "走访", "alice"),
		edit("c1", "category", "劳动社保", "alice"),
		registration("c2", villageB, "alice", 0),
	}
	var raws [][]byte
	for i, c := range changes {
		op := mustWrite(t, a, c)
		raws = append(raws, op.Encode())
		if op.Dot.Seq != uint64(i+1) || op.Dot.Origin != a.Origin() {
			t.Fatalf("op %d has dot %s", i, op.Dot)
		}
		seq, h := a.ChainTip(a.Origin())
		if seq != uint64(i+1) || h != chainHashOf(raws) {
			t.Fatalf("after %d ops the tip is %d %s, want %d %s", i+1, seq, h, i+1, chainHashOf(raws))
		}
	}
	if got := chainHashOf(opsOf(t, a, a.Origin())); got != chainHashOf(raws) {
		t.Fatalf("feed ops hash to %s, ops returned by Write to %s", got, chainHashOf(raws))
	}
	// A refused write (registering an existing case) leaves the tip alone.
	if _, err := a.Write(context.Background(), registration("c1", villageA, "alice", 0)); !errors.Is(err, cases.ErrInvalid) {
		t.Fatalf("second registration of c1: %v, want a validation error", err)
	}
	if seq, _ := a.ChainTip(a.Origin()); seq != uint64(len(changes)) {
		t.Fatalf("tip moved to %d by a refused write", seq)
	}
	// WriteBatch: the tip moves over the changes applied, skipping the refused one.
	_, errs, err := a.WriteBatch(context.Background(), []node.Change{
		note("c1", "一", "alice"), note("nope", "不存在", "alice"), note("c2", "二", "alice"),
	}, nil)
	if err != nil || errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("batch: %v %v", err, errs)
	}
	if seq, h := a.ChainTip(a.Origin()); seq != 6 || h != chainHashOf(opsOf(t, a, a.Origin())) {
		t.Fatalf("tip after the batch: %d %s", seq, h)
	}
}

// Head is signed with the node key; any replica holding the prefix verifies it; a wrong key
// or an altered head fails with ErrBadSignature; a validly signed head over other ops fails
// with ErrChainBroken.
func TestChain_HeadSignatureAndVerify(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	b := openTestReplica(t, "hub-b", testCounty)
	c := openTestReplica(t, "hub-c", testCounty)
	if h := a.Head(); h.Seq != 0 || h.Verify(a.PublicKey()) != nil {
		t.Fatalf("head of an empty origin: %+v", h)
	}
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	mustWrite(t, a, note("c1", "走访", "alice"))
	mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
	h := a.Head()
	seq, hash := a.ChainTip(a.Origin())
	if h.Origin != a.Origin() || h.Seq != 3 || h.Seq != seq || h.Hash != hash {
		t.Fatalf("head %+v, tip %d %s", h, seq, hash)
	}
	if err := h.Verify(a.PublicKey()); err != nil {
		t.Fatalf("own head: %v", err)
	}
	if err := a.VerifyHead(h, a.PublicKey()); err != nil {
		t.Fatalf("A verifying its own head: %v", err)
	}
	if err := c.VerifyHead(h, a.PublicKey()); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("replica without the ops: %v, want ErrNotFound", err)
	}
	link{a, b}.pull(t)
	if err := b.VerifyHead(h, a.PublicKey()); err != nil {
		t.Fatalf("B holding A's prefix: %v", err)
	}
	// More ops on A: B still verifies the older head (behind its tip), not the newer one.
	mustWrite(t, a, note("c1", "回访", "alice"))
	h4 := a.Head()
	if err := b.VerifyHead(h4, a.PublicKey()); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("head beyond B's prefix: %v, want ErrNotFound", err)
	}
	link{a, b}.pull(t)
	for _, hh := range []node.SignedHead{h, h4} {
		if err := b.VerifyHead(hh, a.PublicKey()); err != nil {
			t.Fatalf("head at %d: %v", hh.Seq, err)
		}
	}
	if err := b.VerifyHead(h, b.PublicKey()); !errors.Is(err, node.ErrBadSignature) {
		t.Fatalf("wrong key: %v, want ErrBadSignature", err)
	}
	if err := b.VerifyHead(h, nil); !errors.Is(err, node.ErrBadSignature) {
		t.Fatalf("no key: %v, want ErrBadSignature", err)
	}
	altered := h
	altered.Hash[5] ^= 1
	if err := b.VerifyHead(altered, a.PublicKey()); !errors.Is(err, node.ErrBadSignature) {
		t.Fatalf("altered hash, old signature: %v, want ErrBadSignature", err)
	}
	moved := h
	moved.Seq = 2
	if err := b.VerifyHead(moved, a.PublicKey()); !errors.Is(err, node.ErrBadSignature) {
		t.Fatalf("altered seq: %v, want ErrBadSignature", err)
	}
}

// A store restored from a copy without a new incarnation forks its origin's history: the
// fork's head is signed with the right key but names other ops, so a replica holding the
// original prefix reports ErrChainBroken, and the fork's op is an equivocation. With
// NewIncarnation the restored store writes under a new origin and nothing collides.
func TestChain_ForkedOriginIsChainBroken(t *testing.T) {
	fsA := vfs.NewMem()
	a := openTestReplicaFS(t, fsA, "st-a", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	fsFork, fsNew := vfs.NewMem(), vfs.NewMem()
	for _, dst := range []vfs.FS{fsFork, fsNew} {
		if _, err := vfs.Clone(fsA, dst, "db", "db"); err != nil {
			t.Fatal(err)
		}
	}
	a = openTestReplicaFS(t, fsA, "st-a", testCounty)
	fork := openTestReplicaFS(t, fsFork, "st-a", testCounty)
	if fork.Origin() != a.Origin() || !fork.PublicKey().Equal(a.PublicKey()) {
		t.Fatal("the copy should share origin and key")
	}
	mustWrite(t, a, edit("c1", "category", "劳动社保", "alice"))
	forged := mustWrite(t, fork, edit("c1", "category", "环境污染", "alice"))

	b := openTestReplica(t, "hub-b", testCounty)
	link{a, b}.pull(t)
	forkHead := fork.Head()
	if err := forkHead.Verify(a.PublicKey()); err != nil {
		t.Fatalf("the fork signs with A's key: %v", err)
	}
	if err := b.VerifyHead(forkHead, a.PublicKey()); !errors.Is(err, node.ErrChainBroken) {
		t.Fatalf("fork's head on B: %v, want ErrChainBroken", err)
	}
	if err := b.VerifyHead(a.Head(), a.PublicKey()); err != nil {
		t.Fatalf("A's head on B: %v", err)
	}
	// Sent with its head, the fork's batch is refused whole; sent bare, its op is an
	// equivocation.
	in := node.Incoming{Op: forged}
	if _, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: []node.Incoming{in}, Heads: []node.SignedHead{forkHead}}); !errors.Is(err, node.ErrChainBroken) {
		t.Fatalf("fork's batch with its head: %v, want ErrChainBroken", err)
	}
	res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: []node.Incoming{in}})
	if err != nil || res.Equivocations != 1 {
		t.Fatalf("fork's op: %+v %v, want an equivocation", res, err)
	}
	if got := writers(mustCase(t, b, "c1"), "category"); len(got) != 1 || mustCase(t, b, "c1").String("category") != "劳动社保" {
		t.Fatalf("the fork's write reached the case: %v", got)
	}

	restored := openTestReplicaOpts(t, fsNew, node.Options{NodeID: "st-a", Region: testCounty, NewIncarnation: true})
	if restored.Origin() == a.Origin() || restored.Origin().Node != "st-a" || restored.Epoch() == a.Epoch() {
		t.Fatalf("restored with NewIncarnation: origin %s epoch %s, A is %s %s", restored.Origin(), restored.Epoch(), a.Origin(), a.Epoch())
	}
	link{a, restored}.pull(t) // the restored station catches up on what it lost, then edits
	op := mustWrite(t, restored, edit("c1", "category", "城乡建设", "alice"))
	if op.Dot.Seq != 1 {
		t.Fatalf("first op of the new incarnation has seq %d", op.Dot.Seq)
	}
	link{restored, b}.pull(t)
	if err := b.VerifyHead(restored.Head(), restored.PublicKey()); err != nil {
		t.Fatalf("new incarnation's head: %v", err)
	}
	if got := mustCase(t, b, "c1").String("category"); got != "城乡建设" {
		t.Fatalf("category %q after the new incarnation's edit", got)
	}
}

// Apply refuses a whole batch whose heads do not hash the ops: nothing of it is applied.
func TestApply_RefusesBatchWithBadHead(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	b := openTestReplica(t, "hub-b", testCounty)
	for i := range 3 {
		mustWrite(t, a, registration(fmt.Sprintf("c%d", i), villageA, "alice", 0))
	}
	entries, next := readFeed(t, a, 0, "")
	ops := incoming(t, entries)
	good := a.Head()
	for _, tc := range []struct {
		name string
		head func() node.SignedHead
		ops  []node.Incoming
	}{
		{"wrong hash", func() node.SignedHead { h := good; h.Hash[0] ^= 1; return h }, ops},
		{"hash of fewer ops", func() node.SignedHead { h := good; h.Seq = 2; return h }, ops},
		{"an op altered in transit", func() node.SignedHead { return good }, func() []node.Incoming {
			alt := append([]node.Incoming(nil), ops...)
			op := alt[2].Op
			op.Author = "mallory"
			alt[2] = node.Incoming{Op: op}
			return alt
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: tc.ops, Heads: []node.SignedHead{tc.head()},
				Checkpoint: &node.Checkpoint{Epoch: a.Epoch(), Pos: next}})
			if !errors.Is(err, node.ErrChainBroken) {
				t.Fatalf("Apply: %v, want ErrChainBroken", err)
			}
			if st := b.Status(); st.FeedSeq != 0 || st.Cases != 0 || st.Pending != 0 {
				t.Fatalf("refused batch left %+v", st)
			}
			if seq, _ := b.ChainTip(a.Origin()); seq != 0 {
				t.Fatalf("chain tip %d after a refused batch", seq)
			}
			if _, _, err := b.Case("c0"); !errors.Is(err, node.ErrNotFound) {
				t.Fatalf("case c0 after a refused batch: %v", err)
			}
			if all, _ := readFeed(t, b, 0, ""); len(all) != 0 {
				t.Fatalf("feed holds %d entries", len(all))
			}
			if n := b.ScopeSeq(node.ScopeOfRegion(villageA)); n != 0 {
				t.Fatalf("scope holds %d entries", n)
			}
			if cp, _ := b.PeerCheckpoint("st-a"); cp != (node.Checkpoint{}) {
				t.Fatalf("checkpoint %+v stored by a refused batch", cp)
			}
		})
	}
	res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops, Heads: []node.SignedHead{good}})
	if err != nil || res.Applied != 3 {
		t.Fatalf("the good batch: %+v %v", res, err)
	}
	if err := b.VerifyHead(good, a.PublicKey()); err != nil {
		t.Fatal(err)
	}
}

// A head older than the end of its batch is checked against the chain as it was at its
// seq, including across the chain marks kept every so many ops; heads of ops not held yet
// wait for the gap to fill.
func TestApply_HeadsBehindAndBeyondTheBatch(t *testing.T) {
	a := openTestReplica(t, "st-a", testCounty)
	mustWrite(t, a, registration("c1", villageA, "alice", 0))
	var heads []node.SignedHead // heads[i] is A's head at seq i+1
	heads = append(heads, a.Head())
	var changes []node.Change
	for i := range 150 {
		changes = append(changes, note("c1", fmt.Sprintf("记录%d", i), "alice"))
	}
	for _, c := range changes {
		mustWrite(t, a, c)
		heads = append(heads, a.Head())
	}
	entries, _ := readFeed(t, a, 0, "")
	ops := incoming(t, entries)
	if len(ops) != 151 {
		t.Fatalf("%d ops", len(ops))
	}

	t.Run("later batch", func(t *testing.T) {
		// The marks at 64 and 128 are committed before the heads are checked.
		b := openTestReplica(t, "hub-b", testCounty)
		if _, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops[:140]}); err != nil {
			t.Fatal(err)
		}
		for _, seq := range []int{1, 63, 64, 65, 100, 128, 129, 140} {
			if err := b.VerifyHead(heads[seq-1], a.PublicKey()); err != nil {
				t.Fatalf("VerifyHead at %d: %v", seq, err)
			}
		}
		res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops[140:],
			Heads: []node.SignedHead{heads[0], heads[63], heads[99], heads[129], heads[145], heads[150]}})
		if err != nil || res.Applied != 11 {
			t.Fatalf("batch 141..151 with heads behind it: %+v %v", res, err)
		}
	})

	t.Run("same batch", func(t *testing.T) {
		// One batch from a new origin carrying a head in the middle of it, past a chain mark.
		for _, seq := range []int{10, 64, 65, 100, 150} {
			b := openTestReplica(t, "hub-b", testCounty)
			_, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops, Heads: []node.SignedHead{heads[seq-1], heads[150]}})
			if err != nil {
				t.Errorf("one batch of 151 ops with a head at %d: %v", seq, err)
				continue
			}
			if err := b.VerifyHead(heads[seq-1], a.PublicKey()); err != nil {
				t.Errorf("VerifyHead at %d: %v", seq, err)
			}
		}
	})

	t.Run("beyond the prefix", func(t *testing.T) {
		// A head beyond what is held contiguously is not judged (and not refused); once the
		// gap fills the chain verifies.
		b := openTestReplica(t, "hub-b", testCounty)
		res, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops[:5], Heads: []node.SignedHead{heads[150]}})
		if err != nil || res.Applied != 5 {
			t.Fatalf("%+v %v", res, err)
		}
		bogus := heads[150]
		bogus.Hash[0] ^= 1
		if _, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops[10:20], Heads: []node.SignedHead{bogus}}); err != nil {
			t.Fatalf("pending ops with a head beyond the prefix: %v", err)
		}
		if _, err := b.Apply(context.Background(), node.Batch{From: "st-a", Ops: ops[5:10], Heads: []node.SignedHead{heads[19]}}); err != nil {
			t.Fatalf("gap filled with the head at 20: %v", err)
		}
		if seq, _ := b.ChainTip(a.Origin()); seq != 20 {
			t.Fatalf("tip %d, want 20", seq)
		}
		if err := b.VerifyHead(heads[19], a.PublicKey()); err != nil {
			t.Fatal(err)
		}
	})
}

// Heads of several origins travel in one batch (a hub forwarding its stations' ops).
func TestApply_HeadsOfSeveralOrigins(t *testing.T) {
	s1 := openTestReplica(t, "st-1", townA)
	s2 := openTestReplica(t, "st-2", townB)
	hub := openTestReplica(t, "hub", testCounty)
	city := openTestReplica(t, "city", "4203")
	mustWrite(t, s1, registration("c1", villageA, "alice", 0))
	mustWrite(t, s2, registration("c2", villageB, "bob", 0))
	link{s1, hub}.pull(t)
	link{s2, hub}.pull(t)
	mustWrite(t, hub, note("c1", "县里批示", "hub-staff"))
	entries, _ := readFeed(t, hub, 0, "city")
	heads := []node.SignedHead{s1.Head(), s2.Head(), hub.Head()}
	res, err := city.Apply(context.Background(), node.Batch{From: "hub", Ops: incoming(t, entries), Heads: heads})
	if err != nil || res.Applied != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	for i, r := range []*node.Replica{s1, s2, hub} {
		if err := city.VerifyHead(heads[i], r.PublicKey()); err != nil {
			t.Fatalf("head of %s: %v", r.Origin(), err)
		}
		seq, h := city.ChainTip(r.Origin())
		wseq, wh := r.ChainTip(r.Origin())
		if seq != wseq || h != wh {
			t.Fatalf("tip of %s: %d %s, want %d %s", r.Origin(), seq, h, wseq, wh)
		}
	}
	var unknown crdt.Origin
	unknown.Node = "nobody"
	if seq, h := city.ChainTip(unknown); seq != 0 || h != (cases.Hash{}) {
		t.Fatalf("tip of an unknown origin: %d %s", seq, h)
	}
}
