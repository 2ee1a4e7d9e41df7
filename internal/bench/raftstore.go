package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"github.com/fengqiao/fengqiao/server/raftstore"
)

// RaftStoreConfig configures the raftstore benchmark. Zero fields mean the defaults.
type RaftStoreConfig struct {
	// Dir is a scratch directory on the disk to measure; empty: a temporary one (on
	// $TMPDIR), removed after. Result.Filesystem names what it was.
	Dir        string
	EntryBytes int // payload of each entry; default 1024
	// LatencyCalls is the number of timed StoreLogs calls for each batch size (1 and 64
	// entries), after LatencyCalls/10 untimed ones; default 2000.
	LatencyCalls int
	// ThroughputEntries is the number of entries written in 64-entry batches for the
	// throughput figure; default 256,000 (250 MiB of payload at 1 KiB).
	ThroughputEntries int
	// Reads is the number of GetLog calls, each of a random entry among the last
	// ReadWindow written; defaults 200,000 and 4096.
	Reads      int
	ReadWindow int
	// Stores names the stores to measure, in order: "pebble" (server/raftstore), "raft-wal";
	// default both.
	Stores []string
}

// RaftStoreResult holds the figures of the raftstore benchmark. JSON names are stable.
type RaftStoreResult struct {
	Scenario   string             `json:"scenario"`
	Machine    Machine            `json:"machine"`
	Dir        string             `json:"dir"`
	Filesystem string             `json:"filesystem"` // of Dir, from /proc/mounts ("" where unknown)
	EntryBytes int                `json:"entry_bytes"`
	Stores     []RaftStoreFigures `json:"stores"`
	Skipped    []string           `json:"skipped,omitempty"` // stores not measured, and why
}

// RaftStoreFigures are one store's figures.
type RaftStoreFigures struct {
	Store    string `json:"store"`
	Settings string `json:"settings"`
	// Single-writer StoreLogs latency (each call durable before it returns).
	StoreLogs1  Latency `json:"store_logs_1"`
	StoreLogs64 Latency `json:"store_logs_64"`
	// Entries per second written in 64-entry StoreLogs calls by one writer.
	ThroughputEntries       int     `json:"throughput_entries"`
	ThroughputSeconds       float64 `json:"throughput_seconds"`
	ThroughputEntriesPerSec float64 `json:"throughput_entries_per_sec"`
	ThroughputMiBPerSec     float64 `json:"throughput_mib_per_sec"`
	// GetLog calls per second by one reader, of random entries among the most recent.
	Reads          int     `json:"reads"`
	ReadWindow     int     `json:"read_window"`
	GetLogPerSec   float64 `json:"get_log_per_sec"`
	GetLogMeanNano float64 `json:"get_log_mean_ns"`
	DiskBytes      int64   `json:"disk_bytes"` // the store's directory after the run
}

// Latency summarizes timed calls.
type Latency struct {
	Calls      int     `json:"calls"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	MeanMicros float64 `json:"mean_us"`
	MaxMicros  float64 `json:"max_us"`
}

type raftLogStore interface {
	raft.LogStore
	io.Closer
}

// RaftStore measures raft log stores on real disk, in the same run: our Pebble store
// (server/raftstore) and hashicorp/raft-wal. raft-boltdb is not measured: it is not a
// dependency of this module (Skipped says so). Each store gets a fresh directory; the
// figures are, in order: StoreLogs latency of 1-entry and 64-entry batches, throughput of
// 64-entry batches, then GetLog throughput on recent entries.
func RaftStore(ctx context.Context, cfg RaftStoreConfig) (RaftStoreResult, error) {
	cfg.defaults()
	res := RaftStoreResult{Scenario: "raftstore", Machine: ThisMachine(), EntryBytes: cfg.EntryBytes,
		Skipped: []string{"raft-boltdb: not a dependency of this module"}}
	dir, cleanup, err := scratchDir(cfg.Dir, "fengqiao-bench-raftstore-")
	if err != nil {
		return res, err
	}
	defer cleanup()
	res.Dir, res.Filesystem = dir, filesystemOf(dir)
	for _, name := range cfg.Stores {
		figs, err := benchRaftStore(ctx, name, filepath.Join(dir, name), cfg)
		if err != nil {
			return res, fmt.Errorf("raftstore bench %s: %w", name, err)
		}
		res.Stores = append(res.Stores, figs)
	}
	return res, nil
}

func (c *RaftStoreConfig) defaults() {
	if c.EntryBytes <= 0 {
		c.EntryBytes = 1024
	}
	if c.LatencyCalls <= 0 {
		c.LatencyCalls = 2000
	}
	if c.ThroughputEntries <= 0 {
		c.ThroughputEntries = 256_000
	}
	if c.Reads <= 0 {
		c.Reads = 200_000
	}
	if c.ReadWindow <= 0 {
		c.ReadWindow = 4096
	}
	if len(c.Stores) == 0 {
		c.Stores = []string{"pebble", "raft-wal"}
	}
}

// openRaftLogStore opens the named store in dir.
func openRaftLogStore(name, dir string) (raftLogStore, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	switch name {
	case "pebble":
		s, err := raftstore.Open(dir, raftstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		return s, "server/raftstore defaults: pebble v2 FormatNewest, memtable 16 MiB, block cache 8 MiB; one batch per call committed with pebble.Sync", err
	case "raft-wal":
		meta := &metadb.BoltMetaDB{} // ours to close: WAL.Close leaves it open
		w, err := wal.Open(dir, wal.WithMetaStore(meta))
		if err != nil {
			return nil, "", err
		}
		return walCloser{w, meta}, "raft-wal v0.4.0 defaults: 64 MiB segments, fsync per call", nil
	}
	return nil, "", fmt.Errorf("unknown store %q (want pebble or raft-wal)", name)
}

type walCloser struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

func (w walCloser) Close() error { return errors.Join(w.WAL.Close(), w.meta.Close()) }

func benchRaftStore(ctx context.Context, name, dir string, cfg RaftStoreConfig) (RaftStoreFigures, error) {
	figs := RaftStoreFigures{Store: name, ThroughputEntries: cfg.ThroughputEntries, Reads: cfg.Reads, ReadWindow: cfg.ReadWindow}
	s, settings, err := openRaftLogStore(name, dir)
	if err != nil {
		return figs, err
	}
	defer s.Close()
	figs.Settings = settings
	w := newRaftWriter(s, cfg.EntryBytes)

	if figs.StoreLogs1, err = w.latency(ctx, 1, cfg.LatencyCalls); err != nil {
		return figs, err
	}
	if figs.StoreLogs64, err = w.latency(ctx, 64, cfg.LatencyCalls); err != nil {
		return figs, err
	}

	calls := (cfg.ThroughputEntries + 63) / 64
	start := time.Now()
	for i := range calls {
		if i%64 == 0 && ctx.Err() != nil {
			return figs, ctx.Err()
		}
		if err := w.store(w.batch(64)); err != nil {
			return figs, err
		}
	}
	el := time.Since(start).Seconds()
	figs.ThroughputEntries = calls * 64
	figs.ThroughputSeconds = el
	figs.ThroughputEntriesPerSec = float64(figs.ThroughputEntries) / el
	figs.ThroughputMiBPerSec = float64(figs.ThroughputEntries*cfg.EntryBytes) / el / (1 << 20)

	last := w.next - 1
	window := min(uint64(cfg.ReadWindow), last)
	rng := rand.New(rand.NewPCG(3, 4))
	var l raft.Log
	start = time.Now()
	for i := range cfg.Reads {
		if i%4096 == 0 && ctx.Err() != nil {
			return figs, ctx.Err()
		}
		idx := last - rng.Uint64N(window)
		if err := s.GetLog(idx, &l); err != nil {
			return figs, fmt.Errorf("get log %d: %w", idx, err)
		}
		if l.Index != idx || len(l.Data) != cfg.EntryBytes {
			return figs, fmt.Errorf("get log %d: entry %d of %d bytes", idx, l.Index, len(l.Data))
		}
	}
	el = time.Since(start).Seconds()
	figs.GetLogPerSec = float64(cfg.Reads) / el
	figs.GetLogMeanNano = el * 1e9 / float64(cfg.Reads)
	if err := s.Close(); err != nil {
		return figs, err
	}
	figs.DiskBytes = DirSize(dir)
	return figs, nil
}

// raftWriter appends entries at the next index, as raft's leader does. Payloads are random
// (compression gains nothing) and drawn from a pool made up front: both stores copy what
// they are given, so building entries costs the timed loops next to nothing.
type raftWriter struct {
	s    raft.LogStore
	next uint64
	pool [][]byte
	logs []*raft.Log
}

func newRaftWriter(s raft.LogStore, entryBytes int) *raftWriter {
	w := &raftWriter{s: s, next: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 256 {
		d := make([]byte, entryBytes)
		for i := range d {
			d[i] = byte(rng.Uint32())
		}
		w.pool = append(w.pool, d)
	}
	return w
}

// batch returns the next n entries.
func (w *raftWriter) batch(n int) []*raft.Log {
	logs := make([]*raft.Log, n)
	now := time.Now()
	for i := range logs {
		logs[i] = &raft.Log{Index: w.next, Term: 1, Type: raft.LogCommand, Data: w.pool[w.next%uint64(len(w.pool))], AppendedAt: now}
		w.next++
	}
	return logs
}

func (w *raftWriter) store(logs []*raft.Log) error {
	if err := w.s.StoreLogs(logs); err != nil {
		return fmt.Errorf("store logs %d-%d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
}

// latency times calls StoreLogs calls of n entries (after calls/10 untimed ones).
func (w *raftWriter) latency(ctx context.Context, n, calls int) (Latency, error) {
	for range calls / 10 {
		if err := w.store(w.batch(n)); err != nil {
			return Latency{}, err
		}
	}
	ds := make([]time.Duration, 0, calls)
	for i := range calls {
		if i%64 == 0 && ctx.Err() != nil {
			return Latency{}, ctx.Err()
		}
		logs := w.batch(n)
		start := time.Now()
		if err := w.store(logs); err != nil {
			return Latency{}, err
		}
		ds = append(ds, time.Since(start))
	}
	return summarize(ds), nil
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return Latency{Calls: len(ds), P50Micros: us(ds[len(ds)/2]), P99Micros: us(ds[min(len(ds)-1, len(ds)*99/100)]),
		MeanMicros: us(sum / time.Duration(len(ds))), MaxMicros: us(ds[len(ds)-1])}
}

// filesystemOf returns the type of the filesystem dir is on, from /proc/mounts (Linux);
// "" where it cannot tell.
func filesystemOf(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		abs = p
	}
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, fstype := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 3 {
			continue
		}
		mp := fs[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, fstype = mp, fs[2]
		}
	}
	return fstype
}
