package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/internal/pebblefs"
	"github.com/hashicorp/raft"
)

// storeFormat is the version of the keyspace layout, kept under tMeta "format". Open refuses
// a store written by a newer layout.
const storeFormat = 1

var formatKey = []byte{tMeta, 'f', 'o', 'r', 'm', 'a', 't'}

// Sentinel errors.
var (
	// ErrKeyNotFound is what Get and GetUint64 return for a key never set. Its message is
	// exactly "not found" and it is returned unwrapped: raft tests err.Error() == "not found"
	// (api.go HasExistingState and NewRaft, raft.go requestVote).
	ErrKeyNotFound = errors.New("not found")
	ErrClosed      = errors.New("raftstore: closed")
	ErrNewerStore  = errors.New("raftstore: store written by a newer version")
)

// Options configure a Store. The zero value of every field means the default.
type Options struct {
	// FS is the filesystem; nil means the real disk. Tests pass vfs.NewMem() or
	// vfs.NewCrashableMem().
	FS vfs.FS
	// Logger receives Pebble's events; nil means slog.Default().
	Logger *slog.Logger
	// CacheSize is Pebble's block cache in bytes. Default 8 MiB: raft reads the entries it
	// just wrote (to replicate and apply them), which the memtable still holds.
	CacheSize int64

	// memTableSize is Pebble's memtable size; 0 means 16 MiB. Tests make it small so that
	// flushes and compactions happen (and crash) during a short run.
	memTableSize uint64
}

func (o *Options) ensureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 8 << 20
	}
	if o.memTableSize == 0 {
		o.memTableSize = 16 << 20
	}
}

// Store is a raft.LogStore and raft.StableStore on Pebble. Its methods are safe for
// concurrent use (raft reads the log from its replication and snapshot goroutines while
// its main loop appends).
type Store struct {
	db *pebble.DB // immutable after Open

	// closeMu makes Close wait for calls in flight: every call holds it shared and checks
	// closed, which Close sets under the exclusive lock before closing the DB.
	closeMu sync.RWMutex
	closed  bool

	// writeMu serializes the log's writers (StoreLogs, DeleteRange) across their commit,
	// on purpose: the bounds a writer computes and publishes must follow the order of the
	// commits. raft has one appender, so it costs nothing.
	writeMu sync.Mutex

	// bounds are the first and last index in the log, 0 and 0 when it is empty. Published
	// by a writer holding writeMu after its commit succeeded; never held across I/O.
	bounds struct {
		sync.Mutex
		first, last uint64
	}
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens the store in dir, creating it when there is none.
func Open(dir string, opts Options) (*Store, error) {
	opts.ensureDefaults()
	db, err := pebble.Open(dir, pebbleOptions(&opts))
	if err != nil {
		return nil, fmt.Errorf("open raft store %s: %w", dir, err)
	}
	s := &Store{db: db}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open raft store %s: %w", dir, err)
	}
	return s, nil
}

func pebbleOptions(o *Options) *pebble.Options {
	po := &pebble.Options{
		FS:                 pebblefs.Wrap(o.FS),
		CacheSize:          o.CacheSize,
		MemTableSize:       o.memTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{o.Logger},
	}
	po.EnsureDefaults()
	return po
}

// load checks the layout version (writing it into a new store) and finds the log's bounds.
func (s *Store) load() error {
	v, closer, err := s.db.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		err = s.db.Set(formatKey, binary.BigEndian.AppendUint64(nil, storeFormat), pebble.Sync)
		if err != nil {
			return fmt.Errorf("write format: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read format: %w", err)
	default:
		f := uint64(math.MaxUint64)
		if len(v) == 8 {
			f = binary.BigEndian.Uint64(v)
		}
		_ = closer.Close()
		if f > storeFormat {
			return fmt.Errorf("%w: format %d, this build knows %d", ErrNewerStore, f, storeFormat)
		}
	}
	it, err := s.logIter()
	if err != nil {
		return err
	}
	defer it.Close()
	if it.First() {
		s.bounds.first = binary.BigEndian.Uint64(it.Key()[1:])
	}
	if it.Last() {
		s.bounds.last = binary.BigEndian.Uint64(it.Key()[1:])
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("find log bounds: %w", err)
	}
	return nil
}

func (s *Store) logIter() (*pebble.Iterator, error) {
	return s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tLog}, UpperBound: []byte{tLog + 1}})
}

// use marks a call in flight; the caller calls the returned func when done.
func (s *Store) use() (func(), error) {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return s.closeMu.RUnlock, nil
}

// Close waits for the calls in flight and closes the store. It is idempotent.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close raft store: %w", err)
	}
	return nil
}

func (s *Store) getBounds() (first, last uint64) {
	s.bounds.Lock()
	defer s.bounds.Unlock()
	return s.bounds.first, s.bounds.last
}

func (s *Store) setBounds(first, last uint64) {
	s.bounds.Lock()
	defer s.bounds.Unlock()
	s.bounds.first, s.bounds.last = first, last
}

// FirstIndex returns the first index in the log, 0 when it is empty.
func (s *Store) FirstIndex() (uint64, error) {
	done, err := s.use()
	if err != nil {
		return 0, err
	}
	defer done()
	first, _ := s.getBounds()
	return first, nil
}

// LastIndex returns the last index in the log, 0 when it is empty.
func (s *Store) LastIndex() (uint64, error) {
	done, err := s.use()
	if err != nil {
		return 0, err
	}
	defer done()
	_, last := s.getBounds()
	return last, nil
}

// GetLog reads the entry at index into log, setting every field. It returns
// raft.ErrLogNotFound itself, unwrapped, when there is no such entry: raft compares with ==
// (replication.go: `err == ErrLogNotFound` sends the follower a snapshot instead).
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	if first, last := s.getBounds(); first == 0 || index < first || index > last {
		return raft.ErrLogNotFound
	}
	var k [logKeyLen]byte
	logKey(k[:], index)
	v, closer, err := s.db.Get(k[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound // in a gap: raft may leave one after installing a snapshot
	}
	if err != nil {
		return fmt.Errorf("get log %d: %w", index, err)
	}
	defer closer.Close()
	if err := decodeEntry(v, index, log); err != nil {
		return fmt.Errorf("get log %d: %w", index, err)
	}
	return nil
}

// StoreLog stores one entry, durably, before it returns.
func (s *Store) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

// StoreLogs stores the entries as one synced Pebble batch: when it returns nil every entry
// is durable, and after a crash either all of them are in the store or none is. Entries
// need not follow the last index (raft may leave a gap after installing a snapshot); an
// entry at an index already present replaces it. Index 0 is refused (0 means "no entry").
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	size := 12 // batch header
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for i, l := range logs {
		if l == nil {
			return fmt.Errorf("store logs: entry %d of %d is nil", i, len(logs))
		}
		if l.Index == 0 {
			return fmt.Errorf("store logs: entry %d of %d has index 0", i, len(logs))
		}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
		size += 1 + 2*binary.MaxVarintLen32 + logKeyLen + entryLen(l)
	}
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	for _, l := range logs {
		op := b.SetDeferred(logKeyLen, entryLen(l))
		logKey(op.Key, l.Index)
		putEntry(op.Value, l)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("store logs %d-%d: %w", lo, hi, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store logs %d-%d: %w", lo, hi, err)
	}
	first, last := s.getBounds()
	if first == 0 || lo < first {
		first = lo
	}
	s.setBounds(first, max(last, hi))
	return nil
}

// DeleteRange deletes the entries from min to max inclusive with one synced range
// deletion. raft deletes a prefix (log compaction after a snapshot) or a suffix (a
// follower's conflicting entries); a range in the middle is deleted too, leaving a gap.
func (s *Store) DeleteRange(from, to uint64) error {
	if from > to {
		return nil
	}
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	first, last := s.getBounds()
	if first == 0 || to < first || from > last {
		return nil
	}
	lo, hi := max(from, first), min(to, last)
	// The new bounds, read before the commit: no other writer runs while we hold writeMu.
	newFirst, newLast := first, last
	if lo == first {
		if newFirst, err = s.seekFirstAfter(hi); err != nil {
			return fmt.Errorf("delete logs %d-%d: %w", from, to, err)
		}
		if newFirst == 0 {
			newLast = 0
		}
	} else if hi == last {
		if newLast, err = s.seekLastBefore(lo); err != nil {
			return fmt.Errorf("delete logs %d-%d: %w", from, to, err)
		}
	}
	end := []byte{tLog + 1}
	if hi < math.MaxUint64 {
		end = logKeyBytes(hi + 1)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(logKeyBytes(lo), end, nil); err != nil {
		return fmt.Errorf("delete logs %d-%d: %w", from, to, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("delete logs %d-%d: %w", from, to, err)
	}
	s.setBounds(newFirst, newLast)
	return nil
}

// seekFirstAfter returns the first index above i, 0 when there is none.
func (s *Store) seekFirstAfter(i uint64) (uint64, error) {
	if i == math.MaxUint64 {
		return 0, nil
	}
	it, err := s.logIter()
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if it.SeekGE(logKeyBytes(i + 1)) {
		return binary.BigEndian.Uint64(it.Key()[1:]), nil
	}
	return 0, it.Error()
}

// seekLastBefore returns the last index below i, 0 when there is none.
func (s *Store) seekLastBefore(i uint64) (uint64, error) {
	it, err := s.logIter()
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if it.SeekLT(logKeyBytes(i)) {
		return binary.BigEndian.Uint64(it.Key()[1:]), nil
	}
	return 0, it.Error()
}

// Set stores val under key, durably, before it returns.
func (s *Store) Set(key, val []byte) error {
	done, err := s.use()
	if err != nil {
		return err
	}
	defer done()
	if err := s.db.Set(stableKey(key), val, pebble.Sync); err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	return nil
}

// Get returns a copy of the value under key, or (nil, ErrKeyNotFound) when it was never
// set: raft takes an error whose message is "not found" to mean "not set yet".
func (s *Store) Get(key []byte) ([]byte, error) {
	done, err := s.use()
	if err != nil {
		return nil, err
	}
	defer done()
	v, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	defer closer.Close()
	return append(make([]byte, 0, len(v)), v...), nil
}

// SetUint64 stores val under key as 8 bytes big-endian (as raft-boltdb does), durably,
// before it returns. Set and SetUint64 share one keyspace; raft uses distinct keys for them.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value SetUint64 stored under key, or (0, ErrKeyNotFound) when it
// was never set (raft-boltdb's answer; raft accepts it, see ErrKeyNotFound).
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("get uint64 %q: value of %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble", "db", "raft")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "db", "raft")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "db", "raft")
	panic(fmt.Sprintf(format, args...))
}
