package sync_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// exportBundleBytes exports r's bundle (a push at a station, a return at a hub when
// opts.Peer is one of its stations) into memory.
func exportBundleBytes(t testing.TB, r fsync.Replica, opts fsync.BundleOptions) ([]byte, fsync.BundleReport) {
	t.Helper()
	var buf bytes.Buffer
	rep, err := fsync.ExportBundle(context.Background(), r, &buf, opts)
	if err != nil {
		t.Fatalf("export bundle at %s: %v", r.Origin().Node, err)
	}
	if rep.Bytes != int64(buf.Len()) {
		t.Fatalf("export reported %d bytes, wrote %d", rep.Bytes, buf.Len())
	}
	return buf.Bytes(), rep
}

func hubImport(h *testHub, b []byte) (fsync.BundleReport, error) {
	return h.hub.ImportBundle(context.Background(), bytes.NewReader(b), int64(len(b)))
}

func stationImport(r *node.Replica, b []byte) (fsync.BundleReport, error) {
	return fsync.ImportBundle(context.Background(), r, bytes.NewReader(b), int64(len(b)), fsync.BundleOptions{Logger: quiet()})
}

// bundleBodyOffset is where a bundle's encrypted body starts: after magic, version, the
// header's length and the header.
func bundleBodyOffset(t testing.TB, b []byte) int {
	t.Helper()
	n, k := binary.Uvarint(b[9:])
	if k <= 0 {
		t.Fatal("bundle header length unreadable")
	}
	return 9 + k + int(n)
}

type replicaMark struct {
	feed uint64
	cps  map[string]node.Checkpoint
}

func markOf(t testing.TB, r *node.Replica, streams ...string) replicaMark {
	t.Helper()
	m := replicaMark{feed: r.Status().FeedSeq, cps: map[string]node.Checkpoint{}}
	for _, s := range streams {
		cp, err := r.PeerCheckpoint(s)
		if err != nil {
			t.Fatal(err)
		}
		m.cps[s] = cp
	}
	return m
}

func (m replicaMark) same(t testing.TB, r *node.Replica, what string) {
	t.Helper()
	if got := r.Status().FeedSeq; got != m.feed {
		t.Errorf("%s: %s's feed moved from %d to %d", what, r.Origin().Node, m.feed, got)
	}
	for s, want := range m.cps {
		if got, _ := r.PeerCheckpoint(s); got != want {
			t.Errorf("%s: %s's checkpoint of %q moved from %+v to %+v", what, r.Origin().Node, s, want, got)
		}
	}
}

// A station's push bundle brings the hub every case as the station has it, the hub's
// return bundle brings the station what is in its scope and the receipt of its ops;
// importing either again changes nothing, and a session afterwards has nothing to move.
func TestBundle_PushAndReturnThenSessionMovesNothing(t *testing.T) {
	ctx := context.Background()
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)

	var ids []string
	var changes []node.Change
	for i := range 100 {
		id := fmt.Sprintf("A-%03d", i)
		ids = append(ids, id)
		changes = append(changes, registration(id, villageA, "grid1"))
	}
	for i := range 200 {
		changes = append(changes, edit(ids[i%100], "summary", fmt.Sprintf("第%d次补充：当事人补充了材料。", i), "grid1"))
	}
	mustWriteAll(t, a.r, changes)
	if got := a.r.Status().FeedSeq; got != 300 {
		t.Fatalf("station feed holds %d ops, want 300", got)
	}

	push, rep := exportBundleBytes(t, a.r, fsync.BundleOptions{})
	if rep.Kind != fsync.BundlePush || rep.From != "stA" || rep.To != "hub1" || rep.Ops != 300 ||
		len(rep.Ranges) != 1 || rep.Ranges[0] != (fsync.BundleRange{Stream: "", From: 0, To: 300}) {
		t.Fatalf("push export: %+v", rep)
	}
	hdr, err := fsync.ReadBundleHeader(bytes.NewReader(push), int64(len(push)))
	if err != nil || hdr.Kind != fsync.BundlePush || hdr.Ops != 300 || hdr.Epoch != a.r.Epoch() {
		t.Fatalf("header: %+v, %v", hdr, err)
	}
	if bytes.Contains(push, []byte("张三")) || bytes.Contains(push, []byte("A-001")) {
		t.Error("personal data or case ids in the clear in the bundle")
	}

	got, err := hubImport(h, push)
	if err != nil {
		t.Fatalf("hub import: %v", err)
	}
	if got.Applied != 300 || got.Ops != 300 || got.Quarantined != 0 || got.Batches == 0 {
		t.Fatalf("hub import: %+v", got)
	}
	for _, id := range ids {
		if s, hs := caseState(t, a.r, id), caseState(t, h.r, id); s == "" || s != hs {
			t.Fatalf("case %s differs:\nstation %s\nhub     %s", id, s, hs)
		}
	}
	hubMark := markOf(t, h.r, "stA")
	if cp := hubMark.cps["stA"]; cp.Pos != 300 || cp.Epoch != a.r.Epoch() {
		t.Fatalf("hub's checkpoint of the station after the push: %+v", cp)
	}
	again, err := hubImport(h, push)
	if err != nil || again.Applied != 0 || again.Duplicates != 300 {
		t.Fatalf("second import of the push: %+v, %v", again, err)
	}
	hubMark.same(t, h.r, "second import of the push")

	// The hub answers: one case in the station's township, one in another.
	mustWrite(t, h.r, registration("H-in", villageA, "county1"))
	mustWrite(t, h.r, registration("H-out", villageB, "county1"))
	var ret bytes.Buffer
	rrep, err := h.hub.ExportBundle(ctx, &ret, "stA")
	if err != nil {
		t.Fatalf("return export: %v", err)
	}
	if rrep.Kind != fsync.BundleReturn || rrep.To != "stA" || rrep.Ops != 1 || len(rrep.Ranges) != 3 { // r, a and g (configuration)
		t.Fatalf("return export: %+v", rrep)
	}
	scopeStreams := []string{node.StreamName("hub1", node.ScopeOfRegion(townA)), node.StreamName("hub1", node.ScopeOfStation("stA"))}
	srep, err := stationImport(a.r, ret.Bytes())
	if err != nil {
		t.Fatalf("station import: %v", err)
	}
	if srep.Applied != 1 || srep.Receipt != (node.Checkpoint{Epoch: a.r.Epoch(), Pos: 300}) {
		t.Fatalf("station import: %+v", srep)
	}
	if s, hs := caseState(t, a.r, "H-in"), caseState(t, h.r, "H-in"); s == "" || s != hs {
		t.Errorf("in-scope case at the station %q, at the hub %q", s, hs)
	}
	if caseState(t, a.r, "H-out") != "" {
		t.Error("a case of another township reached the station")
	}
	stMark := markOf(t, a.r, scopeStreams...)
	if stMark.cps[scopeStreams[0]].Pos == 0 {
		t.Error("the station's checkpoint of its township's stream did not move")
	}
	again, err = stationImport(a.r, ret.Bytes())
	if err != nil || again.Applied != 0 || again.Duplicates != 1 {
		t.Fatalf("second import of the return: %+v, %v", again, err)
	}
	stMark.same(t, a.r, "second import of the return")

	// The receipt is the station's acked position: the next push carries no op.
	st2, err := fsync.NewStation(fsync.StationConfig{Replica: a.r, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if acked := st2.Status().Acked; acked.Pos != 300 || acked.Epoch != a.r.Epoch() {
		t.Errorf("acked position after the return bundle: %+v, want 300", acked)
	}
	push2, rep2 := exportBundleBytes(t, a.r, fsync.BundleOptions{Peer: "hub1"})
	if rep2.Ops != 0 || rep2.Ranges[0].From != 300 {
		t.Errorf("second push: %+v, want no ops after 300", rep2)
	}
	if got, err := hubImport(h, push2); err != nil || got.Applied != 0 {
		t.Fatalf("import of the empty push: %+v, %v", got, err)
	}
	// It told the hub where the station stands: the next return carries nothing either.
	if _, rrep2 := exportBundleBytes(t, h.r, fsync.BundleOptions{Peer: "stA"}); rrep2.Ops != 0 || rrep2.Kind != fsync.BundleReturn {
		t.Errorf("second return: %+v, want no ops", rrep2)
	}

	// A session now finds both ends caught up.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.st.Connect(sctx, h.srv.URL) }()
	waitFor(t, 20*time.Second, "session after the bundles to catch up", func() bool {
		s := a.st.Stats()
		return s != nil && s.CaughtUp.Load() && s.PeerCaughtUp.Load() && a.st.Status().Connected
	})
	if s := a.st.Stats(); s.OpsSent.Load() != 0 || s.OpsReceived.Load() != 0 {
		t.Errorf("session after the bundles moved ops: sent %d, received %d", s.OpsSent.Load(), s.OpsReceived.Load())
	}
	cancel()
	<-done
}

func wantRefused(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, fsync.ErrBundle) {
		t.Errorf("%s: want a refusal (ErrBundle), got %v", what, err)
	}
}

// A bundle cut short or changed in any byte is refused whole.
func TestBundle_DamagedIsRefused(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	for i := range 20 {
		mustWrite(t, a.r, registration(fmt.Sprintf("A-%03d", i), villageA, "grid1"))
	}
	push, _ := exportBundleBytes(t, a.r, fsync.BundleOptions{})
	body := bundleBodyOffset(t, push)
	n := len(push)
	mark := markOf(t, h.r, "stA")

	for _, l := range []int{0, 1, 8, 9, 10, body - 1, body, body + 1, body + 100, n / 2, n - 65, n - 64, n - 63, n - 1} {
		_, err := hubImport(h, push[:l])
		wantRefused(t, fmt.Sprintf("truncated to %d of %d bytes", l, n), err)
	}
	for i := range body {
		for _, x := range []byte{0x01, 0xff} {
			c := bytes.Clone(push)
			c[i] ^= x
			_, err := hubImport(h, c)
			wantRefused(t, fmt.Sprintf("header byte %d ^ %#x", i, x), err)
		}
	}
	for _, i := range []int{body, body + 50, (body + n - 64) / 2, n - 65, n - 64, n - 30, n - 1} {
		c := bytes.Clone(push)
		c[i] ^= 0x01
		_, err := hubImport(h, c)
		wantRefused(t, fmt.Sprintf("byte %d of %d flipped", i, n), err)
	}
	c := bytes.Clone(push)
	c[8] = 2
	if _, err := hubImport(h, c); !errors.Is(err, fsync.ErrBundle) || !strings.Contains(err.Error(), "version") {
		t.Errorf("unknown format version: %v", err)
	}
	mark.same(t, h.r, "damaged bundles")

	if got, err := hubImport(h, push); err != nil || got.Applied != 20 {
		t.Fatalf("the undamaged bundle: %+v, %v", got, err)
	}
}

// Bundles for another node, from a node not known (or no longer), of the wrong kind for
// the node importing them, or encrypted to another key, are refused and nothing applied.
func TestBundle_WrongPeersAreRefused(t *testing.T) {
	ctx := context.Background()
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	for i := range 10 {
		mustWrite(t, a.r, registration(fmt.Sprintf("A-%03d", i), villageA, "grid1"))
	}
	mustWrite(t, h.r, registration("H-in", villageA, "county1"))
	push, _ := exportBundleBytes(t, a.r, fsync.BundleOptions{})
	ret, _ := exportBundleBytes(t, h.r, fsync.BundleOptions{Peer: "stA"})
	hubMark := markOf(t, h.r, "stA")
	stMark := markOf(t, a.r, node.StreamName("hub1", node.ScopeOfRegion(townA)))

	_, err := stationImport(a.r, push)
	wantRefused(t, "a push bundle imported at a station", err)
	_, err = hubImport(h, ret)
	wantRefused(t, "a return bundle imported at a hub", err)

	// Another hub: the bundle is not addressed to it.
	h2 := startHub(t, "hub2")
	_, err = hubImport(h2, push)
	wantRefused(t, "a bundle addressed to another hub", err)
	markOf(t, h2.r, "stA").same(t, h2.r, "bundle for another hub")
	if h2.r.Status().FeedSeq != 0 {
		t.Error("the other hub applied ops")
	}

	// A hub of the same name with other keys (a rebuilt machine, say), where stA is
	// enrolled too: the header says it is for it and the signature holds, but the body is
	// encrypted to the first hub.
	hx := startHub(t, "hub1")
	if _, err := fsync.EnrollStation(ctx, a.r, hx.srv.URL, townA, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := fsync.EnrollStation(ctx, a.r, h.srv.URL, townA, ""); err != nil {
		t.Fatal(err)
	}
	_, err = hubImport(hx, push)
	wantRefused(t, "a bundle encrypted to another key", err)
	if err != nil && !strings.Contains(err.Error(), "decrypt") {
		t.Errorf("want a decryption failure, got %v", err)
	}
	if hx.r.Status().FeedSeq != 0 {
		t.Error("the hub of the other key applied ops")
	}
	// Its return bundle for stA claims to come from stA's hub, but is not signed by it.
	forged, _ := exportBundleBytes(t, hx.r, fsync.BundleOptions{Peer: "stA"})
	_, err = stationImport(a.r, forged)
	wantRefused(t, "a return bundle signed by another key than the hub's", err)

	// A station the hub never enrolled.
	b := enrollStation(t, hx, "stB", townB)
	mustWrite(t, b.r, registration("B-001", villageB, "grid2"))
	pushB, _ := exportBundleBytes(t, b.r, fsync.BundleOptions{})
	_, err = hubImport(h, pushB)
	wantRefused(t, "a bundle from a station not enrolled", err)

	// A revoked station.
	if err := h.hub.Revoke(ctx, "stA"); err != nil {
		t.Fatal(err)
	}
	_, err = hubImport(h, push)
	wantRefused(t, "a bundle from a revoked station", err)
	var buf bytes.Buffer
	_, err = h.hub.ExportBundle(ctx, &buf, "stA")
	wantRefused(t, "a return bundle for a revoked station", err)

	hubMark.same(t, h.r, "refused bundles at the hub")
	stMark.same(t, a.r, "refused bundles at the station")
	if a.r.Status().FeedSeq != 10 {
		t.Errorf("station feed holds %d ops, want its own 10", a.r.Status().FeedSeq)
	}
}

// An op on a case the station may not write is kept aside at the hub; the ops after it in
// the same bundle are applied.
func TestBundle_OpOutsideTheStationsRightsIsQuarantined(t *testing.T) {
	ctx := context.Background()
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)

	// The station comes to hold a case of another township (not through its hub's scope
	// streams, which would never send it), and edits it.
	mustWrite(t, h.r, registration("H-out", villageB, "county1"))
	got, _, err := h.r.Feed(0, 10, "")
	if err != nil || len(got) != 1 {
		t.Fatalf("hub feed: %d entries, %v", len(got), err)
	}
	op, err := cases.DecodeOp(got[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.r.Apply(ctx, node.Batch{From: "hub1", Ops: []node.Incoming{{Op: op, Raw: got[0].Raw, Meta: got[0].Meta}}, Partial: true}); err != nil {
		t.Fatal(err)
	}
	hubOut := caseState(t, h.r, "H-out")

	mustWrite(t, a.r, registration("A-001", villageA, "grid1"))
	mustWrite(t, a.r, edit("H-out", "summary", "站点越权修改", "grid1"))
	mustWrite(t, a.r, registration("A-002", villageA, "grid1"))
	mustWrite(t, a.r, edit("A-001", "summary", "站点补充说明", "grid1"))

	push, rep := exportBundleBytes(t, a.r, fsync.BundleOptions{})
	if rep.Ops != 4 {
		t.Fatalf("push holds %d ops, want the station's 4", rep.Ops)
	}
	imp, err := hubImport(h, push)
	if err != nil {
		t.Fatalf("hub import: %v", err)
	}
	if imp.Quarantined != 1 || imp.Applied != 3 {
		t.Fatalf("hub import: %+v, want 1 quarantined and 3 applied", imp)
	}
	if st := h.r.Status(); st.Quarantined != 1 {
		t.Errorf("hub lists %d quarantined ops, want 1", st.Quarantined)
	}
	if got := caseState(t, h.r, "H-out"); got != hubOut {
		t.Errorf("the quarantined edit reached the case:\nbefore %s\nafter  %s", hubOut, got)
	}
	for _, id := range []string{"A-001", "A-002"} {
		if s, hs := caseState(t, a.r, id), caseState(t, h.r, id); s == "" || s != hs {
			t.Errorf("case %s after the quarantined op differs:\nstation %s\nhub     %s", id, s, hs)
		}
	}
	if again, err := hubImport(h, push); err != nil || again.Applied != 0 || again.Quarantined != 0 {
		t.Errorf("second import: %+v, %v", again, err)
	}
	if st := h.r.Status(); st.Quarantined != 1 {
		t.Errorf("after a second import the hub lists %d quarantined ops, want 1", st.Quarantined)
	}
}

// bundleSeedHeader encodes a bundle's beginning by hand: magic, version, header and room
// for a body and a signature.
func bundleSeedHeader(version byte, fields func(w *mp.Writer)) []byte {
	hb := mp.Encode(fields)
	b := append([]byte("FQBUNDLE"), version)
	b = binary.AppendUvarint(b, uint64(len(hb)))
	b = append(b, hb...)
	return append(b, make([]byte, 80)...)
}

func FuzzReadBundleHeader(f *testing.F) {
	valid := func(w *mp.Writer) {
		w.ArrayLen(7)
		w.String("push")
		w.String("stA")
		w.String("hub1")
		w.Int(baseTime)
		w.String("epoch1")
		w.ArrayLen(1)
		w.ArrayLen(3)
		w.String("")
		w.Uint(0)
		w.Uint(300)
		w.Uint(300)
	}
	ret := func(w *mp.Writer) {
		w.ArrayLen(7)
		w.String("return")
		w.String("hub1")
		w.String("stA")
		w.Int(baseTime)
		w.String("epoch2")
		w.ArrayLen(2)
		for _, s := range []string{"r420323100", "astA"} {
			w.ArrayLen(3)
			w.String(s)
			w.Uint(0)
			w.Uint(7)
		}
		w.Uint(5)
	}
	f.Add(bundleSeedHeader(1, valid))
	f.Add(bundleSeedHeader(1, ret))
	f.Add(bundleSeedHeader(2, valid))
	f.Add(bundleSeedHeader(1, func(w *mp.Writer) { w.ArrayLen(7); w.String("push") }))
	f.Add([]byte("FQBUNDLE\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add([]byte("FQBUNDLE\x01\x80\x80\x04"))
	f.Add([]byte("FQBUNDLE"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, size := range []int64{int64(len(b)), int64(len(b)) + 100} {
			hdr, err := fsync.ReadBundleHeader(bytes.NewReader(b), size)
			if err != nil {
				if !errors.Is(err, fsync.ErrBundle) {
					t.Fatalf("error not marked as a refused bundle: %v", err)
				}
				continue
			}
			if hdr.Kind != fsync.BundlePush && hdr.Kind != fsync.BundleReturn || !cases.ValidID(hdr.From) || !cases.ValidID(hdr.To) {
				t.Fatalf("accepted header %+v", hdr)
			}
			for _, r := range hdr.Ranges {
				if r.From > r.To {
					t.Fatalf("accepted range %+v", r)
				}
			}
		}
	})
}

// A long bundle shows its progress: the export hears the ops read batch by batch up to the
// whole bundle, the import hears the ops applied against the header's total.
func TestBundle_ProgressReachesTheWholeBundle(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	var changes []node.Change
	for i := range 8000 {
		changes = append(changes, registration(fmt.Sprintf("A-%04d", i), villageA, "grid1"))
	}
	mustWriteAll(t, a.r, changes)
	type step struct{ done, total int }
	var exported, imported []step
	push, rep := exportBundleBytes(t, a.r, fsync.BundleOptions{Progress: func(done, total int) { exported = append(exported, step{done, total}) }})
	if len(exported) < 2 || exported[len(exported)-1].done != rep.Ops || rep.Ops != 8000 {
		t.Fatalf("export progress %v for a bundle of %d ops: want several steps ending at the whole", exported, rep.Ops)
	}
	_, err := fsync.ImportBundle(context.Background(), h.r, bytes.NewReader(push), int64(len(push)),
		fsync.BundleOptions{Logger: quiet(), Progress: func(done, total int) { imported = append(imported, step{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(imported) != len(exported) || imported[len(imported)-1] != (step{8000, 8000}) || imported[0].total != 8000 {
		t.Errorf("import progress %v, want one step per batch (%d) ending at 8000 of 8000", imported, len(exported))
	}
}
