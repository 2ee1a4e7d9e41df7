package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/crdt"
)

func openInternalTestReplica(t *testing.T, region string) *Replica {
	t.Helper()
	r, err := Open("db", Options{NodeID: "st-a", Region: region, FS: vfs.NewMem(), Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// A run of scope entries parses back into the same entries; a run of one entry is the
// single entry stores held before runs, so those stores read the same.
func TestScopeRunEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 2000; iter++ {
		type entry struct {
			pos  uint64
			left string
		}
		var want []entry
		var b []byte
		open := false
		for n := 1 + rng.IntN(6); n > 0; n-- {
			e := entry{pos: 1 + rng.Uint64N(1<<40)}
			if rng.IntN(3) == 0 {
				e = entry{left: fmt.Sprintf("c%d", rng.IntN(1000))}
			}
			b = appendScopeEntry(b, open, e.pos, e.left)
			open = e.left != ""
			want = append(want, e)
		}
		var got []entry
		for v := b; len(v) > 0; {
			pos, left, rest, err := nextScopeEntry(v)
			if err != nil {
				t.Fatalf("%x: %v", b, err)
			}
			got = append(got, entry{pos, left})
			v = rest
		}
		if !slices.Equal(got, want) {
			t.Fatalf("run %x: got %v, want %v", b, got, want)
		}
	}
	if got := appendScopeEntry(nil, false, 300, ""); !bytes.Equal(got, []byte{0xac, 0x02}) {
		t.Fatalf("single op entry %x", got)
	}
	if got := appendScopeEntry(nil, false, 0, "c1"); !bytes.Equal(got, []byte("\x00c1")) {
		t.Fatalf("single marker entry %x", got)
	}
}

// A scope read with a small limit resumes inside a run and returns every entry once, in
// counter order, the same as one read of everything.
func TestScopeFeedResumesInsideRuns(t *testing.T) {
	r := openInternalTestReplica(t, "")
	ctx := context.Background()
	for b := 0; b < 3; b++ {
		var chs []Change
		for i := 0; i < 40; i++ {
			chs = append(chs, registration(fmt.Sprintf("c%d-%d", b, i), "420323100201"))
		}
		if _, errs, err := r.WriteBatch(ctx, chs, nil); err != nil || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
			t.Fatalf("batch %d: %v %v", b, err, errs)
		}
	}
	scope := ScopeOfRegion("420323")
	all, next, err := r.scopeFeed(scope, 0, 1000, "", nil)
	if err != nil || len(all) != 120 || next != 120 {
		t.Fatalf("whole scope: %d entries, next %d, %v", len(all), next, err)
	}
	for i, e := range all {
		if e.N != uint64(i+1) || e.Pos == 0 {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	for _, limit := range []int{1, 7, 39, 40, 41} {
		var got []ScopeEntry
		after := uint64(0)
		for {
			es, nx, err := r.scopeFeed(scope, after, limit, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) == 0 {
				break
			}
			got = append(got, es...)
			after = nx
		}
		if len(got) != len(all) {
			t.Fatalf("limit %d: %d entries", limit, len(got))
		}
		for i := range got {
			if got[i].N != all[i].N || got[i].Pos != all[i].Pos {
				t.Fatalf("limit %d entry %d: %+v, want %+v", limit, i, got[i], all[i])
			}
		}
	}
}

// The dot index finds every indexed op through runs that interleave origins and have gaps,
// and nothing else.
func TestDotIndexRuns(t *testing.T) {
	r := openInternalTestReplica(t, "")
	a := r.newApplier("peer", 1)
	o1, o2 := crdt.Origin{Node: "x", Incarnation: 1}, crdt.Origin{Node: "x", Incarnation: 2}
	want := map[crdt.Dot]uint64{}
	pos := uint64(100)
	add := func(o crdt.Origin, seq uint64) {
		pos++
		d := crdt.Dot{Origin: o, Seq: seq}
		a.indexDot(d, pos)
		want[d] = pos
	}
	for s := uint64(1); s <= 5; s++ {
		add(o1, s)
		add(o2, s*2)
	}
	for s := uint64(9); s <= 200; s++ {
		add(o1, s)
	}
	if err := a.commit(); err != nil {
		t.Fatal(err)
	}
	a.close()
	if len(a.dotRuns) != 2+5 {
		t.Fatalf("%d runs, want 7", len(a.dotRuns))
	}
	for _, o := range []crdt.Origin{o1, o2, {Node: "y", Incarnation: 1}} {
		for s := uint64(0); s <= 210; s++ {
			d := crdt.Dot{Origin: o, Seq: s}
			got, err := r.dotPos(d)
			if w, ok := want[d]; ok {
				if err != nil || got != w {
					t.Fatalf("%s: %d %v, want %d", d, got, err, w)
				}
			} else if err != ErrNotFound {
				t.Fatalf("%s: %d %v, want not found", d, got, err)
			}
		}
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// registration is a valid registration of case id in region, as the workload writes one.
func registration(id, region string) Change {
	line := `{"kind": "create", "case": {"id": "` + id + `", "region": "` + region + `", "petitioner": {"name": "黎玉海", "id_number": "420325195109283863", "phone": "18790228645"}, "category": "涉法涉诉", "channel": "走访", "summary": "反映拖欠农民工工资近半年未予支付。", "state": "REGISTERED", "registered_at": 1767225600000, "handler_unit": "县自然资源和规划局", "tags": ["重复访"]}}`
	ch, err := workloadChange([]byte(line), "import")
	if err != nil {
		panic(err)
	}
	return ch
}

// The case filter never says "absent" of a case the store holds: across batches, a reopen
// (built from the heads' keys) and a rebuild when it fills, registering an existing case is
// refused and every case stays readable.
func TestCaseFilterHasNoFalseNegatives(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *Replica {
		r, err := Open("db", Options{NodeID: "st-a", Region: "", FS: fs, Logger: slogDiscard(), HeadCacheSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ctx := context.Background()
	r := open()
	var ids []string
	register := func(r *Replica, n int) {
		var chs []Change
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("c%04d", len(ids))
			ids = append(ids, id)
			chs = append(chs, registration(id, "420323100201"))
		}
		if _, errs, err := r.WriteBatch(ctx, chs, nil); err != nil || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
			t.Fatalf("register: %v %v", err, errs)
		}
	}
	refused := func(r *Replica) {
		t.Helper()
		for _, id := range ids {
			if _, err := r.Write(ctx, registration(id, "420323100201")); err == nil {
				t.Fatalf("registering existing case %s again was accepted", id)
			}
		}
	}
	register(r, 50)
	register(r, 50)
	refused(r)
	r.Close()
	r = open()
	defer func() { r.Close() }()
	refused(r)
	r.applyMu.Lock()
	r.caseIDs.max = r.caseIDs.n - 1 // full: the next use rebuilds it from the store
	r.applyMu.Unlock()
	register(r, 30)
	refused(r)
	if r.caseIDs.max < 1<<16 {
		t.Fatalf("filter not rebuilt: max %d", r.caseIDs.max)
	}
}

// A version 1 store (entries one per key) is read as it is, and the first batch written to
// it marks it version 2, so that an older build refuses it from then on.
func TestSchemaMarkedByFirstBatch(t *testing.T) {
	fs := vfs.NewMem()
	r, err := Open("db", Options{NodeID: "st-a", FS: fs, Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Write as version 1 did: one scope entry per key.
	if err := r.db.Set(metaKey("schema"), be64(nil, 1), nil); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r, err = Open("db", Options{FS: fs, Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Write(ctx, registration("c1", "420323100201")); err != nil {
		t.Fatal(err)
	}
	v, err := r.getMeta("schema")
	if err != nil || len(v) != 8 || v[7] != SchemaVersion {
		t.Fatalf("schema after the first batch: %x %v", v, err)
	}
}
