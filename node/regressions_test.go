package node_test

// Regression tests for what a review of the replica found (each failed before its fix).

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

// A refused transition of a case that does not exist leaves no trace.
func TestWrite_RefusedChangeLeavesNoPhantomCase(t *testing.T) {
	r := openTestReplica(t, "s1", townA)
	if _, err := r.Write(context.Background(), node.Change{Case: "nope", Author: "u", To: cases.Accepted}); err == nil {
		t.Fatal("transition of a missing case accepted")
	}
	if _, err := r.CaseHead("nope"); err == nil {
		t.Errorf("a head exists for a case that has no op")
	}
	if st := r.Status(); st.Cases != 0 || st.FeedSeq != 0 {
		t.Errorf("status after a refused write: %+v", st)
	}
}

func mkop(node_ string, inc uint32, seq uint64, caseID string, writes ...cases.Write) cases.Op {
	op := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: node_, Incarnation: inc}, Seq: seq},
		Stamp: crdt.Timestamp{Wall: 1767225600000 + int64(seq)}, Case: caseID, Kind: cases.KindEdit, Author: "u", Writes: writes}
	op.Normalize()
	return op
}

// An op held after a gap, then delivered on a partial stream, then the gap filled: applied once.
func TestApply_PendingThenPartialAppliesOnce(t *testing.T) {
	r := openTestReplica(t, "hub", "")
	ctx := context.Background()
	mk := func(seq uint64) node.Incoming {
		return node.Incoming{Op: mkop("st", 7, seq, "c1", cases.Write{Field: "summary", Action: cases.Set, Value: cases.EncodeString("v" + string(rune('0'+seq)))})}
	}
	for _, b := range []node.Batch{
		{From: "p1", Ops: []node.Incoming{mk(1), mk(3)}},
		{From: "p2", Ops: []node.Incoming{mk(3)}, Partial: true},
		{From: "p1", Ops: []node.Incoming{mk(2)}},
	} {
		if _, err := r.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	h, err := r.History("c1")
	if err != nil {
		t.Fatal(err)
	}
	n3 := 0
	for _, s := range h {
		if s.Op.Dot.Seq == 3 {
			n3++
		}
	}
	if st := r.Status(); n3 != 1 || st.FeedSeq != 3 || st.Pending != 0 {
		t.Errorf("op 3 in history %d times; status %+v; want once, feed 3, nothing pending", n3, st)
	}
}

// Ids with a NUL would reach into another case's keys: refused by the decoder and by Apply.
func TestApply_RefusesIDsThatBreakKeys(t *testing.T) {
	r := openTestReplica(t, "s1", townA)
	ctx := context.Background()
	mustWrite(t, r, registration("c1", villageA, "u", 0))
	for _, evil := range []cases.Op{
		mkop("evil", 1, 1, "c1\x00x", cases.Write{Field: "summary", Action: cases.Set, Value: cases.EncodeString("INJECTED")}),
		mkop("a\x00b", 7, 1, "c9", cases.Write{Field: "summary", Action: cases.Set, Value: cases.EncodeString("x")}),
		mkop("evil", 1, 1, "c9 x", cases.Write{Field: "summary", Action: cases.Set, Value: cases.EncodeString("x")}),
	} {
		if _, err := cases.DecodeOp(evil.Encode()); err == nil {
			t.Errorf("DecodeOp accepted case %q origin %q", evil.Case, evil.Dot.Origin.Node)
		}
		if _, err := r.Apply(ctx, node.Batch{From: "p", Ops: []node.Incoming{{Op: evil}}}); err == nil {
			t.Errorf("Apply accepted case %q origin %q", evil.Case, evil.Dot.Origin.Node)
		}
	}
	if got := mustCase(t, r, "c1").String("summary"); got == "INJECTED" {
		t.Errorf("case c1 took a write of another case")
	}
}

// An assignee value that is not a station id names no scope.
func TestApply_InvalidAssigneeNamesNoScope(t *testing.T) {
	r := openTestReplica(t, "hub", testCounty)
	op := mkop("evil", 1, 1, "secret", cases.Write{Field: "assignee", Action: cases.Set, Value: cases.EncodeString("st1\x00zz")},
		cases.Write{Field: "region", Action: cases.Set, Value: cases.EncodeString(otherVillage)})
	if _, err := r.Apply(context.Background(), node.Batch{From: "p", Ops: []node.Incoming{{Op: op}}}); err != nil {
		t.Fatal(err)
	}
	es, _, err := r.ScopeFeed(node.ScopeOfStation("st1"), 0, 100, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 0 {
		t.Errorf("station st1's scope holds %d entries of case secret", len(es))
	}
}

// The same equivocating op re-sent is one alarm, not one per delivery.
func TestApply_EquivocationCountedOnce(t *testing.T) {
	r := openTestReplica(t, "hub", "")
	ctx := context.Background()
	a := mkop("st", 7, 1, "c1", cases.Write{Field: "summary", Action: cases.Set, Value: cases.EncodeString("A")})
	b := mkop("st", 7, 1, "c1", cases.Write{Field: "summary", Action: cases.Set, Value: cases.EncodeString("B")})
	if _, err := r.Apply(ctx, node.Batch{From: "p", Ops: []node.Incoming{{Op: a}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := r.Apply(ctx, node.Batch{From: "p", Ops: []node.Incoming{{Op: b}, {Op: b}}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Status().Equivocations; n != 1 {
		t.Errorf("one equivocating op re-delivered counts %d", n)
	}
}

// Reads after Close return ErrClosed instead of crashing the process.
func TestReplica_ReadAfterCloseIsAnError(t *testing.T) {
	r, err := node.Open("db", node.Options{NodeID: "s1", Region: townA, FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, r, registration("c1", villageA, "u", 0))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Case("c1"); !errors.Is(err, node.ErrClosed) {
		t.Errorf("Case after Close: %v, want ErrClosed", err)
	}
	if _, _, err := r.Feed(0, 10, ""); !errors.Is(err, node.ErrClosed) {
		t.Errorf("Feed after Close: %v, want ErrClosed", err)
	}
}
