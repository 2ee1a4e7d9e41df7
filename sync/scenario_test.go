package sync_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// syncOnce runs one session until both sides have caught up and everything sent is acked.
func syncOnce(t *testing.T, s *testStation) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	prev := s.st.Stats()
	go func() { done <- s.st.Connect(ctx, s.url) }()
	waitFor(t, 60*time.Second, "a session to catch up both ways", func() bool {
		st := s.st.Stats()
		select {
		case err := <-done:
			t.Fatalf("session ended early: %v", err)
		default:
		}
		return st != nil && st != prev && st.CaughtUp.Load() && st.PeerCaughtUp.Load()
	})
	cancel()
	<-done
}

// sameCases fails unless both replicas hold the same cases in the same state.
func sameCases(t *testing.T, a, b *node.Replica, ids []string) {
	t.Helper()
	for _, id := range ids {
		if sa, sb := caseState(t, a, id), caseState(t, b, id); sa != sb || sa == "" {
			t.Fatalf("case %s differs:\n%s: %s\n%s: %s", id, a.Origin().Node, sa, b.Origin().Node, sb)
		}
	}
}

// A station offline while it and the county each make thousands of edits to the same
// cases converges in one session; edits of one field made on both sides without seeing
// each other are visible conflicts on both replicas, never silently resolved.
func TestSync_OfflineEditsBothSidesConverge(t *testing.T) {
	edits := 10000 // each side
	if testing.Short() {
		edits = 1000
	}
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	var ids []string
	var regs []node.Change
	for i := range 200 {
		id := fmt.Sprintf("A-%04d", i)
		ids = append(ids, id)
		regs = append(regs, registration(id, villageA, "grid1"))
	}
	mustWriteAll(t, a.r, regs)
	regs = regs[:0]
	for i := range 200 {
		id := fmt.Sprintf("H-%04d", i)
		ids = append(ids, id)
		regs = append(regs, registration(id, villageA, "county1"))
	}
	mustWriteAll(t, h.r, regs)
	syncOnce(t, a)
	sameCases(t, a.r, h.r, ids)

	// Offline: both sides edit at random.
	rng := rand.New(rand.NewPCG(1, 2))
	fields := []string{"summary", "category", "handler_unit"}
	mk := func(author string) []node.Change {
		var out []node.Change
		for range edits {
			id := ids[rng.IntN(len(ids))]
			f := fields[rng.IntN(len(fields))]
			out = append(out, edit(id, f, fmt.Sprintf("%s-%d", author, rng.IntN(1000)), author))
		}
		return out
	}
	mustWriteAll(t, a.r, mk("grid1"))
	mustWriteAll(t, h.r, mk("county1"))
	// One field both sides certainly change: a guaranteed conflict.
	mustWrite(t, a.r, edit("A-0000", "summary", "站点的说法", "grid1"))
	mustWrite(t, h.r, edit("A-0000", "summary", "县里的说法", "county1"))

	syncOnce(t, a)
	syncOnce(t, a) // the station's second session sends what the first one's live stream did not
	sameCases(t, a.r, h.r, ids)
	for _, r := range []*node.Replica{a.r, h.r} {
		c, _, err := r.Case("A-0000")
		if err != nil {
			t.Fatal(err)
		}
		vals := c.Strings("summary")
		if !slices.Contains(c.Conflicts(), "summary") || !slices.Contains(vals, "站点的说法") || !slices.Contains(vals, "县里的说法") {
			t.Errorf("%s: concurrent summaries should both be visible as a conflict, got conflicts %v values %v",
				r.Origin().Node, c.Conflicts(), vals)
		}
	}
}

// A case transferred from one township's station to another's arrives there complete
// (its whole history) and leaves the first station a stub.
func TestSync_TransferArrivesCompleteAndLeavesStub(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	b := enrollStation(t, h, "stB", townB)
	mustWrite(t, a.r, registration("T-1", villageA, "grid1"))
	mustWrite(t, a.r, edit("T-1", "summary", "初次调解未成", "grid1"))
	mustWrite(t, a.r, edit("T-1", "category", "土地纠纷", "grid1"))
	syncOnce(t, a)

	mustWrite(t, h.r, edit("T-1", "region", villageB, "county1")) // the county transfers it
	syncOnce(t, b)
	syncOnce(t, a)
	if got, want := caseState(t, b.r, "T-1"), caseState(t, h.r, "T-1"); got != want {
		t.Fatalf("transferred case at the new station:\n%s\nhub:\n%s", got, want)
	}
	hb, _ := b.r.History("T-1")
	hh, _ := h.r.History("T-1")
	if len(hb) != len(hh) {
		t.Errorf("new station holds %d ops of the case, the hub %d: history incomplete", len(hb), len(hh))
	}
	if !a.r.IsLeft("T-1") {
		t.Error("the old station should keep the transferred case as a stub")
	}
	if b.r.IsLeft("T-1") {
		t.Error("the new station marks the case as left")
	}
}

// A station's op on a case it may not write (one the county registered in another
// township under the same id) is quarantined at the hub, listed, and does not block the
// station's later ops.
func TestSync_OutOfScopeWriteQuarantined(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, h.r, registration("DUP-1", villageB, "county1"))
	mustWrite(t, a.r, registration("DUP-1", villageA, "grid1")) // same id, another case
	mustWrite(t, a.r, registration("A-2", villageA, "grid1"))
	syncOnce(t, a)
	if caseState(t, h.r, "A-2") == "" {
		t.Fatal("the op after the quarantined one did not arrive")
	}
	q, err := h.r.Quarantined(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].Op.Case != "DUP-1" || q[0].Via != "stA" {
		t.Fatalf("quarantine: %+v, want the one op of stA on DUP-1", q)
	}
	c, _, _ := h.r.Case("DUP-1")
	if got := c.Strings("region"); len(got) != 1 || got[0] != villageB {
		t.Errorf("the quarantined op changed the county's case: region %v", got)
	}
}

// An op altered on the way, or a head with a forged signature, is refused with an
// integrity error naming the range, and nothing of the batch is applied.
func TestSync_AlteredOpAndForgedHeadRefused(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	op2 := mustWrite(t, a.r, edit("A-1", "summary", "原始内容", "grid1"))
	head, err := a.r.SignHeadAt(op2.Dot.Seq)
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := a.r.Feed(0, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	altered := op2
	altered.Writes = []cases.Write{{Field: "summary", Action: cases.Set, Value: cases.EncodeString("篡改内容")}}
	forged := head
	forged.Sig = append([]byte(nil), head.Sig...)
	forged.Sig[0] ^= 1

	for _, tc := range []struct {
		name string
		ops  [][]byte
		head node.SignedHead
	}{
		{"altered op", [][]byte{entries[0].Raw, altered.Encode()}, head},
		{"forged head", [][]byte{entries[0].Raw, entries[1].Raw}, forged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.r.Status().FeedSeq
			conn, err := fsync.DialRawForTest(context.Background(), a.st, h.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			frame := fsync.EncodeBatchForTest(1, "", a.r.Epoch(), 2, []node.SignedHead{tc.head}, tc.ops)
			if err := conn.WriteMessage(websocket.BinaryMessage, frame); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			err = fsync.ReadErrorFrameForTest(conn)
			if remoteCode(err) != fsync.ErrCodeIntegrity {
				t.Fatalf("got %v, want an integrity error", err)
			}
			if !contains(err.Error(), "stA") {
				t.Errorf("the error should name the station: %v", err)
			}
			if after := h.r.Status().FeedSeq; after != before {
				t.Errorf("hub feed moved from %d to %d", before, after)
			}
		})
	}
}
