package node

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// Options configure a replica. The zero value of every field but NodeID (and Region, at
// init) means the default.
type Options struct {
	// NodeID names this node (a station or hub member). It must not contain NUL, '/' or
	// whitespace. Required to initialize a store; empty means "the store's own" afterwards.
	NodeID string
	// Region is the division code this node serves (6 digits for a county hub, 9 for a
	// township station, 12 for a village station; "" for a node above provinces). Cases are
	// indexed into the scopes of the regions below it. Required at init; on an existing store
	// it must match or be empty.
	Region string
	// FS is the filesystem; nil means the real disk. Tests pass vfs.NewMem() or
	// vfs.NewCrashableMem().
	FS vfs.FS
	// Now is the clock; nil means time.Now. Tests skew it.
	Now func() time.Time
	// MaxSkew is how far ahead of Now a remote stamp may be before it is flagged. Default 5m.
	MaxSkew time.Duration
	// CacheSize is Pebble's block cache in bytes. Default 16 MiB: the head cache, not the block
	// cache, is what spares the applier its reads (compactions keep moving heads to new
	// blocks, which start cold).
	CacheSize int64
	// HeadCacheSize is the size of the in-memory cache of case heads, in bytes, held outside
	// the Go heap and resident only as it fills. Default 44 MiB (nearly every head of the 100,000-case
	// benchmark workload; a station's few thousand cases use a few MiB); negative disables it.
	HeadCacheSize int
	// MemTableSize is Pebble's memtable size in bytes. Default 8 MiB (its memory is better
	// spent on the head cache; see BENCHMARKS.md).
	MemTableSize uint64
	// BottomBlockSize is the block size of the two bottom levels, where nearly all data ends
	// up. Default 32 KiB: case text is repetitive and compresses better in larger blocks, but
	// every head read that misses the caches decompresses one (see BENCHMARKS.md).
	BottomBlockSize int
	// Compression is the block compression of the store: "good" (default: zstd level 3 on
	// the bottom level, where nearly all data ends up — the least disk, for stations),
	// "balanced" (zstd level 1 there: less CPU per op, for hubs that apply every station's
	// ops) or "fastest" (no zstd anywhere).
	Compression string
	// Identity, when set, is the identity a new store is created with (a hub member joining
	// its cluster); NodeID and Region must then be empty or equal to its own. Nil: a new
	// store makes its own. It is ignored when the store exists.
	Identity *Identity
	// NewIncarnation mints a new incarnation on open: use it when the store was restored from
	// a backup or a disk image, so that no sequence number of the old life is reused.
	NewIncarnation bool
	// MinFreeBytes is the free disk space a local write (WriteBatch, and Apply of a batch
	// that is not a Raft entry) leaves untouched: below it the write is refused with
	// ErrDiskFull before Pebble could meet a full disk, which it treats as fatal. Default
	// 4 × MemTableSize + 16 MiB (room for the WAL, a flush and a compaction); negative: no
	// check. A Raft entry is never refused here: every member must apply the same entries.
	MinFreeBytes int64
	// Logger receives the replica's own events; nil means slog.Default(). Nothing personal
	// is ever logged.
	Logger *slog.Logger
}

func (o *Options) validate() error {
	switch o.Compression {
	case "", "good", "balanced", "fastest":
	default:
		return fmt.Errorf("compression %q: want good, balanced or fastest", o.Compression)
	}
	if id := o.Identity; id != nil {
		if (o.NodeID != "" && o.NodeID != id.Node) || (o.Region != "" && o.Region != id.Region) {
			return fmt.Errorf("identity of %s (region %s) given with node %q, region %q", id.Node, id.Region, o.NodeID, o.Region)
		}
		o.NodeID, o.Region = id.Node, id.Region
	}
	if o.NodeID != "" {
		if err := validID("node id", o.NodeID); err != nil {
			return err
		}
	}
	for _, c := range o.Region {
		if c < '0' || c > '9' {
			return fmt.Errorf("region %q: digits only", o.Region)
		}
	}
	return nil
}

func validID(what, s string) error {
	if !cases.ValidID(s) {
		return fmt.Errorf("%s %q: 1 to %d bytes, no spaces, control characters or '/'", what, s, cases.MaxIDLen)
	}
	return nil
}

func (o *Options) ensureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = crdt.DefaultMaxSkew * time.Millisecond
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 16 << 20
	}
	if o.BottomBlockSize <= 0 {
		o.BottomBlockSize = 32 << 10
	}
	if o.HeadCacheSize == 0 {
		o.HeadCacheSize = 44 << 20 // the 100,000-case workload's heads, with the peak RSS ≤ 128 MiB (BENCHMARKS.md)
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 8 << 20
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = 4*int64(o.MemTableSize) + 16<<20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// HubDefaults are the store settings of a hub member: a server that applies every
// station's ops, so it holds every case head in memory (about 40 MiB per 100,000 cases) and
// spends less CPU on compression than a station (see BENCHMARKS.md, bench sync).
func HubDefaults() Options {
	return Options{CacheSize: 64 << 20, HeadCacheSize: 128 << 20, MemTableSize: 64 << 20, Compression: "balanced"}
}
