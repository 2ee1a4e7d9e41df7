package sync_test

// Tampering: an op altered inside a station's own store, an old batch replayed into a new
// session, an op under a forged origin, an origin that equivocates. Each is refused or kept
// aside, reported with the station and the range, and nothing wrong is applied.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// enrollStationIn is enrollStation with the store at dir (so the test can reopen it).
func enrollStationIn(t *testing.T, h *testHub, dir, id, region string) *testStation {
	t.Helper()
	r, err := node.Open(dir, node.Options{NodeID: id, Region: region, Now: newClock().now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsync.EnrollStation(context.Background(), r, h.srv.URL, region, ""); err != nil {
		t.Fatalf("enroll %s: %v", id, err)
	}
	return reopenStation(t, h, r)
}

func reopenStation(t *testing.T, h *testHub, r *node.Replica) *testStation {
	t.Helper()
	st, err := fsync.NewStation(fsync.StationConfig{Replica: r, Logger: quiet(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &testStation{r: r, st: st, url: h.srv.URL}
}

func openStore(t *testing.T, dir string) *node.Replica {
	t.Helper()
	r, err := node.Open(dir, node.Options{Now: newClock().now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// editFeedRecord rewrites, in the closed store at dir, the first occurrence of old in the feed
// record at pos with new (same length), straight in Pebble, as someone with the laptop's disk
// could.
func editFeedRecord(t *testing.T, dir string, pos uint64, old, new []byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := binary.BigEndian.AppendUint64([]byte{'f'}, pos)
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatalf("feed record %d: %v", pos, err)
	}
	rec := bytes.Clone(v)
	closer.Close()
	i := bytes.Index(rec, old)
	if i < 0 {
		t.Fatalf("feed record %d does not hold %q", pos, old)
	}
	copy(rec[i:], new)
	if err := db.Set(key, rec, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// syncExpectingError runs one session and returns the error it ended with.
func syncExpectingError(t *testing.T, s *testStation) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return s.st.Connect(ctx, s.url)
}

// An op edited in the station's own Pebble store after it was written (its author changed,
// the bytes still a valid op) no longer matches the station's signed chain: the hub refuses
// the batch holding it with an integrity error naming the station and the range, applies
// nothing of it, and keeps what earlier sessions brought.
func TestTamper_OpEditedInStationStoreIsRefused(t *testing.T) {
	h := startHub(t, "hub1")
	dir := filepath.Join(t.TempDir(), "stA")
	a := enrollStationIn(t, h, dir, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	syncOnce(t, a)
	before := h.r.Status().FeedSeq
	mustWrite(t, a.r, edit("A-1", "summary", "原始内容", "grid1"))
	mustWrite(t, a.r, edit("A-1", "category", "邻里纠纷", "grid7"))
	third := a.r.Status().FeedSeq
	if err := a.r.Close(); err != nil {
		t.Fatal(err)
	}
	editFeedRecord(t, dir, third, []byte("grid7"), []byte("grid9"))

	r := openStore(t, dir)
	t.Cleanup(func() { _ = r.Close() })
	a = reopenStation(t, h, r)
	err := syncExpectingError(t, a)
	if remoteCode(err) != fsync.ErrCodeIntegrity && !contains(err.Error(), "integrity") {
		t.Fatalf("session with the edited op ended with %v, want an integrity error", err)
	}
	if !contains(err.Error(), "stA") {
		t.Errorf("the error should name the station: %v", err)
	}
	if after := h.r.Status().FeedSeq; after != before {
		t.Errorf("the hub applied %d ops of the refused batch", after-before)
	}
	c, _, _ := h.r.Case("A-1")
	if got := c.Strings("summary"); len(got) != 1 || got[0] == "原始内容" {
		t.Errorf("an op of the refused batch reached the hub's case: summary %v", got)
	}
}

// A batch the station sent in an earlier session, sent again (byte for byte the same kind of
// frame, with its genuine signed head) as the first batch of a new session, does not continue
// that session's position: the hub refuses it with an integrity error and applies nothing.
func TestTamper_OldBatchReplayedIntoNewSessionIsRefused(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	op2 := mustWrite(t, a.r, edit("A-1", "summary", "第一次", "grid1"))
	syncOnce(t, a)
	head, err := a.r.SignHeadAt(op2.Dot.Seq)
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := a.r.Feed(0, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	old := fsync.EncodeBatchForTest(1, "", a.r.Epoch(), 2, []node.SignedHead{head}, [][]byte{entries[0].Raw, entries[1].Raw})
	cpBefore, _ := h.r.PeerCheckpoint("stA")
	before := h.r.Status()

	conn, err := fsync.DialRawForTest(context.Background(), a.st, h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.BinaryMessage, old); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	err = fsync.ReadErrorFrameForTest(conn)
	if remoteCode(err) != fsync.ErrCodeIntegrity {
		t.Fatalf("replayed batch: got %v, want an integrity error", err)
	}
	if !contains(err.Error(), "another session") || !contains(err.Error(), "stA") {
		t.Errorf("the error should say the batch is of another session and name the station: %v", err)
	}
	after := h.r.Status()
	cpAfter, _ := h.r.PeerCheckpoint("stA")
	if after.FeedSeq != before.FeedSeq || cpAfter != cpBefore {
		t.Errorf("the replay changed the hub: feed %d → %d, checkpoint %+v → %+v", before.FeedSeq, after.FeedSeq, cpBefore, cpAfter)
	}
	// The station's own next session goes on as if nothing happened.
	mustWrite(t, a.r, edit("A-1", "summary", "第二次", "grid1"))
	syncOnce(t, a)
	if c, _, _ := h.r.Case("A-1"); c.Strings("summary")[0] != "第二次" {
		t.Errorf("after the replay the station's next write did not arrive: %v", c.Strings("summary"))
	}
}

// A station that sends an op under another station's origin is refused with an integrity
// error naming it and the range; nothing of the batch is applied.
func TestTamper_ForgedOriginRefused(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	b := enrollStation(t, h, "stB", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	syncOnce(t, a)
	// stB's own op, in the station's name, as stA could forge it (it holds no stB key, so
	// it sends no head for it).
	forged := cases.Op{Dot: crdt.Dot{Origin: b.r.Origin(), Seq: 1}, Stamp: crdt.Timestamp{Wall: baseTime + 1000}, Case: "A-1", Kind: cases.KindEdit, Author: "grid1",
		Writes: []cases.Write{{Field: "summary", Action: cases.Set, Value: cases.EncodeString("冒名修改")}}}
	before := h.r.Status().FeedSeq
	cp, _ := h.r.PeerCheckpoint("stA")
	conn, err := fsync.DialRawForTest(context.Background(), a.st, h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame := fsync.EncodeBatchForTest(1, "", a.r.Epoch(), cp.Pos+1, nil, [][]byte{forged.Encode()})
	if err := conn.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	err = fsync.ReadErrorFrameForTest(conn)
	if remoteCode(err) != fsync.ErrCodeIntegrity || !contains(err.Error(), "stA") || !contains(err.Error(), "stB") {
		t.Fatalf("forged origin: got %v, want an integrity error naming stA and the op of stB", err)
	}
	if after := h.r.Status().FeedSeq; after != before {
		t.Errorf("the hub applied %d ops of the forged batch", after-before)
	}
}

// A station restored from an old copy of its disk without a new incarnation writes new ops
// under seqs it had already used: the same dots with other bytes. The hub never applies
// them over the ops it holds; it refuses the batch with an integrity error naming the
// station and the range, and the case keeps the original op.
//
// The fork shows once the station writes past the position the hub holds of it (here the
// second op after the restore): an op at a position the hub already acknowledged is not
// sent again, so the first forked op alone would go unnoticed until then (see
// docs/reliability.md).
func TestTamper_EquivocatingOriginRefused(t *testing.T) {
	h := startHub(t, "hub1")
	dir := filepath.Join(t.TempDir(), "stA")
	a := enrollStationIn(t, h, dir, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	syncOnce(t, a)
	if err := a.r.Close(); err != nil {
		t.Fatal(err)
	}
	backup := dir + ".backup"
	copyDir(t, dir, backup)
	r := openStore(t, dir)
	a = reopenStation(t, h, r)
	mustWrite(t, a.r, edit("A-1", "summary", "原来的第二条", "grid1"))
	syncOnce(t, a)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// The old copy, opened as if it were the station (the mistake NewIncarnation prevents).
	r = openStore(t, backup)
	t.Cleanup(func() { _ = r.Close() })
	a = reopenStation(t, h, r)
	op := mustWrite(t, a.r, edit("A-1", "summary", "同一序号的另一条", "grid1"))
	mustWrite(t, a.r, edit("A-1", "category", "土地纠纷", "grid1"))
	err := syncExpectingError(t, a)
	if err == nil || !contains(err.Error(), "stA") {
		t.Fatalf("the equivocating station's session ended with %v, want an error naming it", err)
	}
	if remoteCode(err) != fsync.ErrCodeIntegrity {
		t.Errorf("want an integrity error, got %v", err)
	}
	c, _, _ := h.r.Case("A-1")
	if got := c.Strings("summary"); len(got) != 1 || got[0] != "原来的第二条" {
		t.Errorf("the hub's case shows %v after the equivocating op %s, want only the original", got, op.Dot)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)         {}
func (quietPebble) Errorf(string, ...any)        {}
func (quietPebble) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
