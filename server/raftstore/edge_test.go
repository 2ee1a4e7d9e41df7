package raftstore

// Tests of our Store alone: what the conformance suite cannot ask of every implementation
// (ownership of slices, refused input, extreme indexes, use after Close, newer layouts and
// corrupt entries).

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

func openMem(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open("raft", Options{FS: fs, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// What GetLog and Get return is the caller's own: later writes do not change it, and
// changing it does not change the store. StoreLogs does not keep the caller's slices.
func TestStore_Copies(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	in := makeLog(1, 1)
	want := *makeLog(1, 1)
	if err := s.StoreLog(in); err != nil {
		t.Fatal(err)
	}
	in.Data[0]++ // the caller reuses its buffer
	var got raft.Log
	if err := s.GetLog(1, &got); err != nil {
		t.Fatal(err)
	}
	if d := diffLog(&got, &want); d != "" {
		t.Fatalf("stored entry changed with the caller's buffer: %s", d)
	}
	if err := s.StoreLog(makeLog(1, 2)); err != nil { // overwrite in place
		t.Fatal(err)
	}
	if d := diffLog(&got, &want); d != "" {
		t.Fatalf("an entry read earlier changed with a later write: %s", d)
	}
	got.Data = append(got.Data, 1) // appending to Data must not run into Extensions
	if !bytes.Equal(got.Extensions, want.Extensions) {
		t.Fatalf("extensions %q after appending to data", got.Extensions)
	}

	val := []byte("node-a")
	if err := s.Set([]byte("k"), val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X'
	v, err := s.Get([]byte("k"))
	if err != nil || string(v) != "node-a" {
		t.Fatalf("get = %q, %v", v, err)
	}
	v[0] = 'Y'
	if v, _ := s.Get([]byte("k")); string(v) != "node-a" {
		t.Fatalf("get = %q after changing an earlier result", v)
	}
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("empty")); err != nil || len(v) != 0 {
		t.Fatalf("get of an empty value = %q, %v", v, err)
	}
	if _, err := s.GetUint64([]byte("k")); err == nil {
		t.Fatal("get uint64 of a 6-byte value: no error")
	}
}

func TestStore_Refuses(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	if err := s.StoreLogs([]*raft.Log{makeLog(1, 1), nil}); err == nil {
		t.Error("stored a nil entry")
	}
	if err := s.StoreLog(&raft.Log{Index: 0, Term: 1}); err == nil {
		t.Error("stored index 0")
	}
	checkBounds(t, s, 0, 0)
	checkMissing(t, s, 1)
}

// Deleting up to the largest index (no end key above it) and from 0.
func TestStore_DeleteRangeExtremes(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	edge := []*raft.Log{makeLog(math.MaxUint64-1, 1), makeLog(math.MaxUint64, 1)}
	if err := s.StoreLogs(append(makeLogs(1, 5, 1), edge...)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, math.MaxUint64)
	checkLogs(t, s, edge)
	if err := s.DeleteRange(math.MaxUint64, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, math.MaxUint64-1)
	if err := s.DeleteRange(0, 2); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 3, math.MaxUint64-1)
	if err := s.DeleteRange(0, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 0, 0)
	checkMissing(t, s, 3, math.MaxUint64-1)
}

func TestStore_Close(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	var l raft.Log
	for name, err := range map[string]error{
		"first": func() error { _, err := s.FirstIndex(); return err }(),
		"last":  func() error { _, err := s.LastIndex(); return err }(),
		"get":   s.GetLog(1, &l),
		"store": s.StoreLog(makeLog(1, 1)),
		"del":   s.DeleteRange(1, 2),
		"set":   s.Set([]byte("k"), nil),
		"getkv": func() error { _, err := s.Get([]byte("k")); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after close: %v", name, err)
		}
	}
}

// A store written by a newer layout is refused, and an entry that does not decode is
// reported as such (never as a missing entry, which would make raft send a snapshot).
func TestStore_NewerAndCorrupt(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	if err := s.StoreLogs(makeLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := pebble.Open("raft", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	bad := encodeEntry(makeLog(2, 1))
	bad[0] = 9
	if err := db.Set(logKeyBytes(2), bad, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Set(logKeyBytes(3), encodeEntry(makeLog(4, 1)), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = openMem(t, fs)
	var l raft.Log
	if err := s.GetLog(2, &l); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("entry of format 9: %v", err)
	}
	if err := s.GetLog(3, &l); !errors.Is(err, ErrCorrupt) {
		t.Errorf("entry under the wrong index: %v", err)
	}
	s.Close()

	db, err = pebble.Open("raft", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(formatKey, []byte{0, 0, 0, 0, 0, 0, 0, storeFormat + 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open("raft", Options{FS: fs, Logger: quietLogger()}); !errors.Is(err, ErrNewerStore) {
		t.Fatalf("open a newer store: %v", err)
	}
}
