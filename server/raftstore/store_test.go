package raftstore

// Conformance tests: the contract raft expects of a LogStore and a StableStore, checked the
// same way against our Store, against raft-wal (the store the design compares with) and
// against raft.InmemStore (raft's own reference) where they agree. Where they differ, the
// difference is named and our answer is checked against raft's source.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

type logStableStore interface {
	raft.LogStore
	raft.StableStore
}

// subject is one implementation under test.
type subject struct {
	name       string
	persistent bool // keeps its state across close and open
	gaps       bool // accepts gaps and middle deletions (raft-wal is a raft.MonotonicLogStore: it refuses them)
	// Known departures of the reference stores, checked for ours:
	staleHead     bool // GetLog below FirstIndex after a prefix deletion may still find the entry (raft-wal, until the segment goes)
	badNoopDelete bool // DeleteRange below the first index moves FirstIndex to max+1 (InmemStore.DeleteRange)
	tailReopenBug bool // after a suffix deletion, a reopened store fails GetLog (raft-wal v0.4.0, hashicorp/raft-wal#31, fixed by #33)
	open          func(t *testing.T) logStableStore
	close         func(s logStableStore) error
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSubject(t *testing.T, name string) subject {
	switch name {
	case "pebble":
		fs := vfs.NewMem()
		return subject{name: name, persistent: true, gaps: true,
			open: func(t *testing.T) logStableStore {
				s, err := Open("raft", Options{FS: fs, Logger: quietLogger()})
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			close: func(s logStableStore) error { return s.(*Store).Close() }}
	case "raft-wal":
		dir := t.TempDir()
		// raft-wal v0.4.0's Close leaves its bolt meta DB open (wal.go, WAL.Close), and a
		// second Open in the same process then blocks on bolt's file lock: we own the meta
		// DB so that we can close it.
		var meta *metadb.BoltMetaDB
		return subject{name: name, persistent: true, staleHead: true, tailReopenBug: true,
			open: func(t *testing.T) logStableStore {
				meta = &metadb.BoltMetaDB{}
				w, err := wal.Open(dir, wal.WithSegmentSize(1<<20), wal.WithMetaStore(meta))
				if err != nil {
					t.Fatal(err)
				}
				return w
			},
			close: func(s logStableStore) error { return errors.Join(s.(*wal.WAL).Close(), meta.Close()) }}
	case "inmem":
		s := raft.NewInmemStore()
		return subject{name: name, gaps: true, badNoopDelete: true,
			open:  func(*testing.T) logStableStore { return s },
			close: func(logStableStore) error { return nil }}
	}
	panic(name)
}

// forEach runs fn against each implementation, each in a fresh store.
func forEach(t *testing.T, fn func(t *testing.T, sub subject, s logStableStore)) {
	for _, name := range []string{"pebble", "raft-wal", "inmem"} {
		t.Run(name, func(t *testing.T) {
			sub := newSubject(t, name)
			s := sub.open(t)
			defer func() {
				if err := sub.close(s); err != nil {
					t.Errorf("close: %v", err)
				}
			}()
			fn(t, sub, s)
		})
	}
}

var cst = time.FixedZone("CST", 8*3600)

// makeLog builds the entry at index i in term; every field varies with i (nil and empty
// slices, all log types, zero and non-zero times before 1970 and far ahead).
func makeLog(i, term uint64) *raft.Log {
	rng := rand.New(rand.NewPCG(i, term))
	l := &raft.Log{Index: i, Term: term, Type: raft.LogType(i % 6)}
	if i%10 != 0 {
		l.Data = make([]byte, rng.IntN(300))
		for j := range l.Data {
			l.Data[j] = byte(rng.Uint32())
		}
	}
	if i%3 == 0 {
		l.Extensions = fmt.Appendf(nil, "ext-%d-%d", i, term)
	}
	switch {
	case i%4 == 0: // zero time
	case i%7 == 0:
		l.AppendedAt = time.Date(1900, 1, 2, 3, 4, 5, int(i), time.UTC)
	case i%11 == 0:
		l.AppendedAt = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, cst)
	default:
		l.AppendedAt = time.Unix(1_700_000_000+int64(i), int64(i*7919)%1e9).In(cst)
	}
	return l
}

func makeLogs(from, to, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, makeLog(i, term))
	}
	return ls
}

// diffLog names the first field of got that differs from want ("" when none). Empty and
// nil slices are equal; times are compared as instants.
func diffLog(got, want *raft.Log) string {
	switch {
	case got.Index != want.Index:
		return fmt.Sprintf("index %d, want %d", got.Index, want.Index)
	case got.Term != want.Term:
		return fmt.Sprintf("term %d, want %d", got.Term, want.Term)
	case got.Type != want.Type:
		return fmt.Sprintf("type %v, want %v", got.Type, want.Type)
	case !bytes.Equal(got.Data, want.Data):
		return fmt.Sprintf("data %d bytes, want %d", len(got.Data), len(want.Data))
	case !bytes.Equal(got.Extensions, want.Extensions):
		return fmt.Sprintf("extensions %q, want %q", got.Extensions, want.Extensions)
	case !got.AppendedAt.Equal(want.AppendedAt) || got.AppendedAt.IsZero() != want.AppendedAt.IsZero():
		return fmt.Sprintf("appended at %v, want %v", got.AppendedAt, want.AppendedAt)
	}
	return ""
}

func checkBounds(t *testing.T, s raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if f != first || l != last {
		t.Fatalf("first, last = %d, %d; want %d, %d", f, l, first, last)
	}
}

// checkLogs checks that from..to hold exactly want's entries.
func checkLogs(t *testing.T, s raft.LogStore, want []*raft.Log) {
	t.Helper()
	var got raft.Log
	for _, w := range want {
		got = raft.Log{Index: 999, Data: []byte("stale"), Extensions: []byte("stale"), AppendedAt: time.Now()}
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatalf("get log %d: %v", w.Index, err)
		}
		if d := diffLog(&got, w); d != "" {
			t.Fatalf("log %d: %s", w.Index, d)
		}
	}
}

func checkMissing(t *testing.T, s raft.LogStore, indexes ...uint64) {
	t.Helper()
	for _, i := range indexes {
		var l raft.Log
		// raft compares with == (replication.go), so it must be the sentinel itself.
		if err := s.GetLog(i, &l); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("get log %d: %v, want raft.ErrLogNotFound itself", i, err)
		}
	}
}

// storeInBatches stores logs as StoreLog calls and StoreLogs batches of varying sizes.
func storeInBatches(t *testing.T, s raft.LogStore, logs []*raft.Log) {
	t.Helper()
	for i, n := 0, 1; i < len(logs); n = n%17 + 3 {
		j := min(i+n, len(logs))
		var err error
		if j-i == 1 {
			err = s.StoreLog(logs[i])
		} else {
			err = s.StoreLogs(logs[i:j])
		}
		if err != nil {
			t.Fatalf("store %d-%d: %v", logs[i].Index, logs[j-1].Index, err)
		}
		i = j
	}
}

func TestConformance_Empty(t *testing.T) {
	forEach(t, func(t *testing.T, sub subject, s logStableStore) {
		checkBounds(t, s, 0, 0)
		checkMissing(t, s, 0, 1, 2, math.MaxUint64)
		if err := s.StoreLogs(nil); err != nil {
			t.Fatalf("store no logs: %v", err)
		}
		checkBounds(t, s, 0, 0)
		if err := s.DeleteRange(1, 10); err != nil {
			t.Fatalf("delete from an empty log: %v", err)
		}
		checkBounds(t, s, 0, 0)
	})
}

func TestConformance_RoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, sub subject, s logStableStore) {
		want := makeLogs(1, 100, 3)
		storeInBatches(t, s, want)
		checkBounds(t, s, 1, 100)
		checkLogs(t, s, want)
		checkMissing(t, s, 0, 101)
	})
}

// raft truncates both ends: a prefix after a snapshot (snapshot.go compactLogsWithTrailing),
// a suffix when a follower's entries conflict with the leader's (raft.go appendEntries),
// which it then overwrites in a new term; and everything (api.go RecoverCluster).
func TestConformance_Truncate(t *testing.T) {
	forEach(t, func(t *testing.T, sub subject, s logStableStore) {
		logs := makeLogs(1, 100, 1)
		storeInBatches(t, s, logs)

		if err := s.DeleteRange(1, 30); err != nil { // prefix
			t.Fatal(err)
		}
		checkBounds(t, s, 31, 100)
		if !sub.staleHead {
			checkMissing(t, s, 1, 30)
		}
		checkLogs(t, s, logs[30:])

		if err := s.DeleteRange(81, 100); err != nil { // suffix
			t.Fatal(err)
		}
		checkBounds(t, s, 31, 80)
		checkMissing(t, s, 81, 100)
		checkLogs(t, s, logs[30:80])

		rewrite := makeLogs(81, 90, 2) // the new leader's entries
		if err := s.StoreLogs(rewrite); err != nil {
			t.Fatal(err)
		}
		checkBounds(t, s, 31, 90)
		checkLogs(t, s, append(append([]*raft.Log(nil), logs[30:80]...), rewrite...))

		if err := s.DeleteRange(50, 40); err != nil { // empty range: nothing
			t.Fatal(err)
		}
		checkBounds(t, s, 31, 90)
		if !sub.badNoopDelete {
			if err := s.DeleteRange(1, 10); err != nil { // below the log: nothing
				t.Fatal(err)
			}
			checkBounds(t, s, 31, 90)
		}

		if err := s.DeleteRange(31, 90); err != nil { // everything
			t.Fatal(err)
		}
		checkBounds(t, s, 0, 0)
		if !sub.staleHead {
			checkMissing(t, s, 31, 60, 90)
		}

		again := makeLogs(200, 210, 3) // an empty log starts anywhere (after a restore)
		if err := s.StoreLogs(again); err != nil {
			t.Fatal(err)
		}
		checkBounds(t, s, 200, 210)
		checkLogs(t, s, again)
	})
}

func TestConformance_Reopen(t *testing.T) {
	forEach(t, func(t *testing.T, sub subject, s logStableStore) {
		if !sub.persistent {
			t.Skip("keeps nothing across a close")
		}
		logs := makeLogs(1, 100, 4)
		storeInBatches(t, s, logs)
		if err := s.DeleteRange(1, 10); err != nil {
			t.Fatal(err)
		}
		last := uint64(100)
		if !sub.tailReopenBug {
			if err := s.DeleteRange(91, 100); err != nil {
				t.Fatal(err)
			}
			last = 90
		}
		if err := s.SetUint64([]byte("CurrentTerm"), 4); err != nil {
			t.Fatal(err)
		}
		if err := s.Set([]byte("LastVoteCand"), []byte("node-b")); err != nil {
			t.Fatal(err)
		}
		if err := sub.close(s); err != nil {
			t.Fatal(err)
		}
		s2 := sub.open(t)
		defer sub.close(s2)
		checkBounds(t, s2, 11, last)
		checkLogs(t, s2, logs[10:last])
		if !sub.staleHead {
			checkMissing(t, s2, 10)
		}
		checkMissing(t, s2, last+1)
		if v, err := s2.GetUint64([]byte("CurrentTerm")); err != nil || v != 4 {
			t.Fatalf("CurrentTerm = %d, %v after reopen", v, err)
		}
		if v, err := s2.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-b" {
			t.Fatalf("LastVoteCand = %q, %v after reopen", v, err)
		}
		if err := s2.StoreLogs(makeLogs(last+1, last+5, 5)); err != nil { // appends where it left off
			t.Fatal(err)
		}
		checkBounds(t, s2, 11, last+5)
	})
}

// raftAcceptsMissing reports whether raft reads err, from Get or GetUint64 of a key never
// set, as "not set yet": it accepts nil or an error whose message is exactly "not found"
// (api.go HasExistingState and NewRaft, raft.go requestVote: err.Error() != "not found").
func raftAcceptsMissing(err error) bool { return err == nil || err.Error() == "not found" }

func TestConformance_Stable(t *testing.T) {
	forEach(t, func(t *testing.T, sub subject, s logStableStore) {
		v, err := s.Get([]byte("LastVoteCand"))
		if !raftAcceptsMissing(err) || len(v) != 0 {
			t.Fatalf("get of a missing key = %q, %v", v, err)
		}
		n, err := s.GetUint64([]byte("CurrentTerm"))
		if !raftAcceptsMissing(err) || n != 0 {
			t.Fatalf("get uint64 of a missing key = %d, %v", n, err)
		}
		if sub.name == "pebble" && (!errors.Is(err, ErrKeyNotFound) || err != ErrKeyNotFound) { //nolint:errorlint
			t.Fatalf("ours: get uint64 of a missing key: %v, want ErrKeyNotFound unwrapped", err)
		}

		for _, kv := range []struct{ k, v string }{{"LastVoteCand", "node-a"}, {"LastVoteCand", "node-bb"}, {"other", "x"}} {
			if err := s.Set([]byte(kv.k), []byte(kv.v)); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get([]byte(kv.k)); err != nil || string(got) != kv.v {
				t.Fatalf("get %s = %q, %v; want %q", kv.k, got, err, kv.v)
			}
		}
		for _, x := range []uint64{0, 1, 7, math.MaxUint64, 3} {
			if err := s.SetUint64([]byte("CurrentTerm"), x); err != nil {
				t.Fatal(err)
			}
			if got, err := s.GetUint64([]byte("CurrentTerm")); err != nil || got != x {
				t.Fatalf("get uint64 = %d, %v; want %d", got, err, x)
			}
		}
		if got, err := s.Get([]byte("LastVoteCand")); err != nil || string(got) != "node-bb" {
			t.Fatalf("LastVoteCand = %q, %v after setting other keys", got, err)
		}
	})
}

// raft's own reading of a fresh store: HasExistingState must say "no state" without an
// error (so a missing CurrentTerm is read as raft wants), and "state" once a term is set.
func TestConformance_HasExistingState(t *testing.T) {
	forEach(t, func(t *testing.T, sub subject, s logStableStore) {
		snaps := raft.NewInmemSnapshotStore()
		if has, err := raft.HasExistingState(s, s, snaps); err != nil || has {
			t.Fatalf("fresh store: has state %v, %v", has, err)
		}
		if err := s.SetUint64([]byte("CurrentTerm"), 1); err != nil {
			t.Fatal(err)
		}
		if has, err := raft.HasExistingState(s, s, snaps); err != nil || !has {
			t.Fatalf("after a term: has state %v, %v", has, err)
		}
	})
}

// raft.LogStore: "the logs stored may not be contiguous with previous logs" — after
// installing a snapshot, raft keeps trailing entries and appends after the snapshot's
// index. raft-wal refuses gaps (it declares itself monotonic, so raft deletes the whole log
// there instead); ours and InmemStore accept them. First and last index are then the first
// and last entries present (as raft-boltdb answers: a cursor's First and Last).
func TestStore_Gaps(t *testing.T) {
	forEach(t, func(t *testing.T, sub subject, s logStableStore) {
		if !sub.gaps {
			if err := s.StoreLogs(makeLogs(1, 10, 1)); err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(makeLogs(20, 25, 2)); err == nil {
				t.Fatalf("%s accepted a gap", sub.name)
			}
			t.Skip("refuses gaps")
		}
		low, high := makeLogs(1, 10, 1), makeLogs(20, 25, 2)
		if err := s.StoreLogs(low); err != nil {
			t.Fatal(err)
		}
		if err := s.StoreLogs(high); err != nil {
			t.Fatal(err)
		}
		checkBounds(t, s, 1, 25)
		checkMissing(t, s, 11, 15, 19, 26)
		checkLogs(t, s, append(append([]*raft.Log(nil), low...), high...))

		if err := s.DeleteRange(4, 6); err != nil { // a middle range: a second gap
			t.Fatal(err)
		}
		checkBounds(t, s, 1, 25)
		checkMissing(t, s, 4, 5, 6)
		checkLogs(t, s, low[6:])

		if err := s.DeleteRange(1, 10); err != nil { // the prefix up to the gap
			t.Fatal(err)
		}
		if sub.name == "inmem" {
			// InmemStore says max+1 (11), an index it does not hold; raft copes (oldestLog
			// retries, compaction deletes a range) but it is not "the first index written".
			checkBounds(t, s, 11, 25)
			return
		}
		checkBounds(t, s, 20, 25)
		if err := s.DeleteRange(24, 30); err != nil {
			t.Fatal(err)
		}
		checkBounds(t, s, 20, 23)
	})
}
