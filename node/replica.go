package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/internal/pebblefs"

	"github.com/fengqiao/fengqiao/crdt"
)

// SchemaVersion is the version of the keyspace layout. Open refuses a store written by a
// newer layout. Version 2 stores a batch's scope entries and dot index entries as runs (one
// key per scope and per origin per batch; docs/architecture.md): a version 1 store reads the
// same (its entries are runs of one), and the first batch written to it marks it version 2,
// so that a build that knows only version 1 refuses it from then on.
const SchemaVersion = 2

// Sentinel errors.
var (
	ErrClosed       = errors.New("replica closed")
	ErrWrongNode    = errors.New("store belongs to another node")
	ErrNewerSchema  = errors.New("store written by a newer version")
	ErrNotFound     = errors.New("not found")
	ErrNoStore      = errors.New("no store here; initialize one with a node id")
	ErrBadCursor    = errors.New("cursor does not belong to this query")
	ErrChainBroken  = errors.New("hash chain mismatch")
	ErrBadSignature = errors.New("bad signature on chain head")
	ErrForgedOrigin = errors.New("op of another origin than its sender")
)

// Replica is a node's store. Its read methods are safe for concurrent use; writers (Apply,
// Write, WriteBatch) are serialized by applyMu, which is held across the Pebble commit on
// purpose: the replica has exactly one writer at a time, which is what makes the feed dense
// and the apply deterministic. Readers never take it.
type Replica struct {
	// Immutable after Open.
	opts   Options
	dir    string
	db     *pebble.DB
	origin crdt.Origin
	keys   atomic.Pointer[keyState] // the signing key and its rotations (keyrotation.go)
	epoch  string
	region string
	heads  *headCache // safe for concurrent use

	// applyMu serializes writers. The fields below are owned by the writer holding it.
	applyMu  sync.Mutex
	feedPos  uint64
	scopeSeq map[string]uint64
	chains   map[crdt.Origin]*chainState
	clock    *crdt.Clock
	closed   bool
	// raftApplied is the last Raft log index applied (a hub member's FSM), 0 elsewhere.
	raftApplied uint64
	// caseIDs filters the ids of the cases held (casefilter.go); nil until first used.
	caseIDs *caseFilter
	// schemaCurrent is set once the stored schema version is known to be SchemaVersion.
	schemaCurrent bool
	// batch is the writes of the apply in progress, its memory kept for the next one.
	batch sortedBatch

	// closeMu makes Close wait for reads in flight; readClosed is set under it when Close
	// begins. Readers hold it shared (see reading).
	closeMu    sync.RWMutex
	readClosed bool

	secretMu sync.Mutex // makes Secret's get-or-create atomic

	people peopleState   // the directory of accounts (accounts.go)
	wf     workflowCache // parsed configuration (workflow_config.go); safe for concurrent use

	// changed is closed and replaced after every commit (see Notify).
	changed atomic.Pointer[chan struct{}]

	// Published after each commit for lock-free status reads.
	stats struct {
		quarantined atomic.Uint64
		feedPos     atomic.Uint64
		caseCount   atomic.Uint64
		equivoc     atomic.Uint64
		pending     atomic.Uint64
	}
}

// Open opens (or, when dir holds no store, initializes) the replica in dir.
func Open(dir string, opts Options) (*Replica, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open replica: %w", err)
	}
	opts.ensureDefaults()
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.NodeID != "" && !storeExists(opts.FS, dir) {
		if err := createStore(dir, opts); err != nil {
			return nil, fmt.Errorf("create store %s: %w", dir, err)
		}
	}
	db, err := pebble.Open(dir, pebbleOptions(&opts))
	if err != nil {
		return nil, fmt.Errorf("open pebble %s: %w", dir, err)
	}
	r := &Replica{opts: opts, dir: dir, db: db, scopeSeq: map[string]uint64{}, chains: map[crdt.Origin]*chainState{},
		heads: newHeadCache(opts.HeadCacheSize)}
	ch := make(chan struct{})
	r.changed.Store(&ch)
	if err := r.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open replica %s: %w", dir, err)
	}
	return r, nil
}

func storeExists(fs vfs.FS, dir string) bool {
	desc, err := pebble.Peek(dir, fs)
	return err == nil && desc.Exists
}

// createStore makes a new store with its identity in a directory beside dir and renames it
// into place once everything is synced, so that a power cut during creation leaves either no
// store or a whole one, never a store that cannot be opened.
func createStore(dir string, opts Options) error {
	fs := opts.FS
	tmp := dir + ".creating"
	if err := fs.RemoveAll(tmp); err != nil {
		return err
	}
	if err := fs.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	db, err := pebble.Open(tmp, pebbleOptions(&opts))
	if err != nil {
		return err
	}
	r := &Replica{opts: opts, db: db}
	if err := r.initStore(); err != nil {
		_ = db.Close()
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if ls, err := fs.List(dir); err == nil {
		if len(ls) > 0 {
			return fmt.Errorf("%s exists, is not empty and holds no store", dir)
		}
		if err := fs.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := fs.Rename(tmp, dir); err != nil {
		return err
	}
	parent, err := fs.OpenDir(filepath.Dir(dir))
	if err != nil {
		return err
	}
	defer parent.Close()
	return parent.Sync()
}

// pebbleOptions are the Pebble settings of every replica; BENCHMARKS.md quotes them.
func pebbleOptions(o *Options) *pebble.Options {
	po := &pebble.Options{
		FS:                 pebblefs.Wrap(o.FS),
		CacheSize:          o.CacheSize,
		MemTableSize:       o.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		ErrorIfNotExists:   o.NodeID == "", // opening "the store's own" node: there must be one
		Logger:             pebbleLogger{o.Logger},
	}
	// Case text is repetitive (the same phrases, places and units), so zstd over larger blocks
	// pays: the bottom levels, where nearly all data ends up, use zstd and larger blocks
	// (BottomBlockSize); the upper levels stay fast.
	cs := pebble.DBCompressionGood
	switch o.Compression {
	case "balanced":
		cs = pebble.DBCompressionBalanced
	case "fastest":
		cs = pebble.DBCompressionFastest
	}
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return cs })
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = probedFilter // heads are probed by key (filter.go)
		if i >= len(po.Levels)-2 {
			po.Levels[i].BlockSize = o.BottomBlockSize
		}
	}
	// Tables written before probedFilter carry the plain bloom filter: still use it.
	po.Filters = map[string]pebble.FilterPolicy{bloom.FilterPolicy(10).Name(): bloom.FilterPolicy(10)}
	// A bulk load rewrites heads and appends index entries all over the keyspace, so every L0
	// file overlaps most of the bottom level: compacting 32 L0 files at once instead of 4
	// rewrites the bottom level (zstd) an eighth as often (BENCHMARKS.md, "Replica apply").
	// Only a bulk load piles up that many; reads then merge more files, and the head cache
	// spares the applier nearly all of its reads.
	po.L0CompactionThreshold = 32
	po.L0StopWritesThreshold = 96
	// No tombstone-density compactions: the state and deadline indexes delete an entry with
	// most transitions, which makes their blocks "tombstone-dense", and Pebble then compacts
	// each such L0 file into the bottom level alone — 25 of the 31 compactions of the
	// benchmark import, each rewriting the zstd level, defeating the threshold above. The
	// tombstones go with the next ordinary compaction (BENCHMARKS.md, "Replica apply").
	po.Experimental.TombstoneDenseCompactionThreshold = -1
	po.EnsureDefaults()
	return po
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}

// load reads the identity and the writer state, initializing a new store.
func (r *Replica) load() error {
	node, err := r.getMeta("node")
	if errors.Is(err, ErrNotFound) {
		if r.opts.NodeID == "" {
			return ErrNoStore
		}
		if err := r.initStore(); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		node = []byte(r.opts.NodeID)
	} else if err != nil {
		return err
	}
	if r.opts.NodeID == "" {
		r.opts.NodeID = string(node)
	}
	if string(node) != r.opts.NodeID {
		return fmt.Errorf("%w: store is %q, asked for %q", ErrWrongNode, node, r.opts.NodeID)
	}
	schema, err := r.getMeta("schema")
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if v := binary.BigEndian.Uint64(schema); v > SchemaVersion {
		return fmt.Errorf("%w: schema %d, this build knows %d", ErrNewerSchema, v, SchemaVersion)
	}
	region, _ := r.getMeta("region")
	if r.opts.Region != "" && r.opts.Region != string(region) {
		return fmt.Errorf("store serves region %q, asked for %q (a region changes only by re-enrolling)", region, r.opts.Region)
	}
	r.region = string(region)
	if err := r.loadKeys(); err != nil {
		return err
	}
	epoch, err := r.getMeta("epoch")
	if err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	r.epoch = string(epoch)
	inc, err := r.getMeta("incarnation")
	if err != nil {
		return fmt.Errorf("incarnation: %w", err)
	}
	r.origin = crdt.Origin{Node: r.opts.NodeID, Incarnation: binary.BigEndian.Uint32(inc)}
	if r.opts.NewIncarnation {
		if err := r.mintIncarnation(); err != nil {
			return err
		}
	}
	var last crdt.Timestamp
	if b, err := r.getMeta("hlc"); err == nil && len(b) == 12 {
		last = crdt.Timestamp{Wall: int64(binary.BigEndian.Uint64(b)), Logical: binary.BigEndian.Uint32(b[8:])}
	}
	if now := r.opts.Now().UnixMilli(); last.Wall > now+r.opts.MaxSkew.Milliseconds() {
		// The clock was ahead when this reading was taken (and has been put right since):
		// carrying it on would stamp every later op that far ahead, flagged everywhere and
		// dated wrong. The HLC holds no reading beyond now + MaxSkew, its own neither.
		r.opts.Logger.Warn("the stored clock reading is far ahead of this machine's clock: dropped / 库中记录的时钟远超本机时钟，已舍弃",
			"stored", time.UnixMilli(last.Wall).UTC().Format(time.RFC3339), "now", time.UnixMilli(now).UTC().Format(time.RFC3339))
		last = crdt.Timestamp{}
	}
	r.clock = crdt.NewClock(last, r.opts.MaxSkew.Milliseconds())
	if b, err := r.getMeta("cases"); err == nil && len(b) == 8 {
		r.stats.caseCount.Store(binary.BigEndian.Uint64(b))
	}
	if b, err := r.getMeta("equivocations"); err == nil && len(b) == 8 {
		r.stats.equivoc.Store(binary.BigEndian.Uint64(b))
	}
	if b, err := r.getMeta("raft-applied"); err == nil && len(b) == 8 {
		r.raftApplied = binary.BigEndian.Uint64(b)
	}
	if b, err := r.getMeta("quarantined"); err == nil && len(b) == 8 {
		r.stats.quarantined.Store(binary.BigEndian.Uint64(b))
	}
	if b, err := r.getMeta("pending"); err == nil && len(b) == 8 {
		r.stats.pending.Store(binary.BigEndian.Uint64(b))
	}
	if err := r.loadFeedPos(); err != nil {
		return err
	}
	if err := r.loadScopes(); err != nil {
		return err
	}
	return r.loadChains()
}

// initStore writes a new identity: key pair, incarnation, feed epoch, schema version.
func (r *Replica) initStore() error {
	if r.opts.Region == "" {
		r.opts.Logger.Warn("initializing a replica with no region: it serves every region")
	}
	id := r.opts.Identity
	if id == nil {
		made, err := NewIdentity(r.opts.NodeID, r.opts.Region)
		if err != nil {
			return err
		}
		id = &made
	}
	b := r.db.NewBatch()
	defer b.Close()
	_ = b.Set(metaKey("key"), id.Key, nil)
	_ = b.Set(metaKey("region"), []byte(id.Region), nil)
	_ = b.Set(metaKey("schema"), be64(nil, SchemaVersion), nil)
	_ = b.Set(metaKey("epoch"), []byte(id.Epoch), nil)
	_ = b.Set(metaKey("incarnation"), binary.BigEndian.AppendUint32(nil, id.Incarnation), nil)
	_ = b.Set(metaKey("node"), []byte(r.opts.NodeID), nil) // last: its presence means "initialized"
	return b.Commit(pebble.Sync)
}

// mintIncarnation gives the node a new incarnation (and its feed a new epoch, since a
// restored feed may disagree with what peers saw).
func (r *Replica) mintIncarnation() error {
	inc := randomIncarnation()
	for inc == r.origin.Incarnation {
		inc = randomIncarnation()
	}
	epoch := newEpoch()
	b := r.db.NewBatch()
	defer b.Close()
	_ = b.Set(metaKey("incarnation"), binary.BigEndian.AppendUint32(nil, inc), nil)
	_ = b.Set(metaKey("epoch"), []byte(epoch), nil)
	// A restored store may lack ops it had received, and ops its old life wrote after the
	// backup (a hub does not send a station what came from it on a stream it resumes):
	// forget how far it had read its peers' streams, so they are sent again from the start.
	_ = b.DeleteRange([]byte{tPeer}, []byte{tPeer + 1}, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("mint incarnation: %w", err)
	}
	r.opts.Logger.Info("new incarnation", "node", r.origin.Node, "old", r.origin.Incarnation, "new", inc)
	r.origin.Incarnation = inc
	r.epoch = epoch
	return nil
}

func randomIncarnation() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (r *Replica) getMeta(name string) ([]byte, error) { return r.get(metaKey(name)) }

// get returns a copy of the value at key, or ErrNotFound.
// getLikelyAbsent is get for a key that is probably not there (the head of a case a peer
// registers, an op not held yet): it consults the bottom level's bloom filters too, which
// DB.Get skips (there a miss would decompress a data block per lookup: 100,000 new cases
// cost seconds of a hub's apply; see BENCHMARKS.md, bench sync).
func (r *Replica) getLikelyAbsent(key []byte) ([]byte, error) {
	it, err := r.db.NewIter(&pebble.IterOptions{UseL6Filters: true})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.SeekPrefixGE(key) || !bytes.Equal(it.Key(), key) {
		if err := it.Error(); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), v...), nil
}

func (r *Replica) get(key []byte) ([]byte, error) {
	v, closer, err := r.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, nil
}

func (r *Replica) loadFeedPos() error {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tFeed}, UpperBound: []byte{tFeed + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	if it.Last() {
		r.feedPos = binary.BigEndian.Uint64(it.Key()[1:])
	}
	r.stats.feedPos.Store(r.feedPos)
	return it.Error()
}

func (r *Replica) loadScopes() error {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tScopeSeq}, UpperBound: []byte{tScopeSeq + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		r.scopeSeq[string(it.Key()[1:])] = binary.BigEndian.Uint64(it.Value())
	}
	return it.Error()
}

// Close closes the store. It is idempotent.
func (r *Replica) Close() error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	defer r.notifyChanged() // wake feed waiters: their next read says ErrClosed
	r.closeMu.Lock()
	r.readClosed = true
	r.closeMu.Unlock()
	err := r.db.Close()
	r.heads.close() // only writers use it, and they hold applyMu
	return err
}

// Origin returns the origin this replica writes its own ops under.
func (r *Replica) Origin() crdt.Origin { return r.origin }

// PublicKey returns the node's Ed25519 public key.
func (r *Replica) PublicKey() ed25519.PublicKey { return r.signingKey().Public().(ed25519.PublicKey) }

// Epoch returns the feed's epoch: a peer whose checkpoint names another epoch starts over.
func (r *Replica) Epoch() string { return r.epoch }

// Region returns the division code the node serves.
func (r *Replica) Region() string { return r.region }

// Status is a snapshot of the replica's counters.
type Status struct {
	Node          string `json:"node"`
	Incarnation   uint32 `json:"incarnation"`
	Region        string `json:"region"`
	Epoch         string `json:"epoch"`
	FeedSeq       uint64 `json:"feed_seq"` // ops in the feed (= ops applied)
	Cases         uint64 `json:"cases"`
	Pending       uint64 `json:"pending_ops"` // ops waiting for a gap in their origin to fill
	Equivocations uint64 `json:"equivocations"`
	Quarantined   uint64 `json:"quarantined_ops"` // ops kept aside for a person (see WriterRule)
}

// Status returns the replica's counters without blocking writers.
func (r *Replica) Status() Status {
	return Status{
		Node: r.origin.Node, Incarnation: r.origin.Incarnation, Region: r.region, Epoch: r.epoch,
		FeedSeq: r.stats.feedPos.Load(), Cases: r.stats.caseCount.Load(),
		Pending: r.stats.pending.Load(), Equivocations: r.stats.equivoc.Load(),
		Quarantined: r.stats.quarantined.Load(),
	}
}

// PebbleMetrics returns Pebble's metrics report, for benchmarks and operators.
func (r *Replica) PebbleMetrics() string {
	done, err := r.reading()
	if err != nil {
		return err.Error()
	}
	defer done()
	return r.db.Metrics().String()
}

// Compact flushes and compacts the whole store, so that its size on disk reflects what it
// holds. Benchmarks and operators use it; the replica never needs it.
func (r *Replica) Compact(ctx context.Context) error {
	done, err := r.reading()
	if err != nil {
		return err
	}
	defer done()
	if err := r.db.Flush(); err != nil {
		return err
	}
	return r.db.Compact(ctx, []byte{0}, []byte{0xff, 0xff}, true)
}

// PebbleOptionsSummary names the Pebble settings in use, for benchmark reports.
func (r *Replica) PebbleOptionsSummary() string {
	comp := map[string]string{"": "DBCompressionGood (MinLZ L0-L4, zstd-1 L5, zstd-3 L6)", "good": "DBCompressionGood (MinLZ L0-L4, zstd-1 L5, zstd-3 L6)",
		"balanced": "DBCompressionBalanced (MinLZ L0-L4, zstd-1 L5-L6)", "fastest": "DBCompressionFastest (MinLZ everywhere)"}[r.opts.Compression]
	return fmt.Sprintf("pebble v2 FormatNewest; memtable %d MiB; block cache %d MiB; compression %s; %d KiB blocks on L5-L6; bloom 10 bits/key on all levels, over the keys of probed tables only; L0 compaction at 32 files, stop at 96; no tombstone-density compactions; every commit synced; head cache %d MiB (off the Go heap)",
		r.opts.MemTableSize>>20, r.opts.CacheSize>>20, comp, r.opts.BottomBlockSize>>10, r.opts.HeadCacheSize>>20)
}

// DebugTableSizes sums key and value bytes per table (first key byte), uncompressed: where the
// store's bytes go. For benchmarks.
func (r *Replica) DebugTableSizes() map[string]int64 {
	out := map[string]int64{}
	done, err := r.reading()
	if err != nil {
		return out
	}
	defer done()
	it, err := r.db.NewIter(nil)
	if err != nil {
		return out
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := string(it.Key()[:1])
		out[k] += int64(len(it.Key()) + len(it.Value()))
		out[k+"#"]++
	}
	return out
}

// scanMeta calls fn with each meta entry whose name starts with prefix.
func (r *Replica) scanMeta(prefix string, fn func(name, value []byte) error) error {
	p := metaKey(prefix)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key()[1:], it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}
