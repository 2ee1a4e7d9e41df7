// Package crashtest is test support for power-loss tests: it takes crash clones of Pebble's
// crash-simulating filesystem (vfs.NewCrashableMem) at seeded random write operations of the
// store under test — inside commits, flushes, compactions and store creation — and, on
// request, at the WAL sync of one chosen call (a torn batch). Each clone keeps the synced
// data and a random share of the unsynced, as a power cut would.
//
// It is an errorfs injector that never injects an error. Tests read the clones with Take and
// check them against what had been acknowledged (Acked) and begun (Started) when each was
// taken.
package crashtest

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// Point is one crash clone and what the test had seen when it was taken.
type Point struct {
	N        int        // clone number, from 1
	FS       *vfs.MemFS // the filesystem as the power cut left it
	Acked    int        // calls returned before the clone: each must be in it
	Started  int        // calls begun: none after this one may be in it
	Op       string     // the write operation it was taken at
	Unsynced int        // percent of the unsynced data kept
}

// Crasher takes the clones. Tests set Armed, Acked, Started and Tear as they go.
type Crasher struct {
	Armed   atomic.Bool
	Acked   atomic.Int64
	Started atomic.Int64
	// Tear, when not 0, is the call to crash at its WAL sync, keeping 0, 50 and 100 % of
	// the unsynced data: a batch caught half written.
	Tear atomic.Int64

	mem     *vfs.MemFS
	mu      sync.Mutex
	rng     *rand.Rand
	seed    uint64
	ops     int
	next    int
	spacing int
	taken   int
	random  int
	max     int
	points  []Point
}

// New returns a crasher over mem taking up to max clones at random write operations, one
// every 1 to spacing operations, reproducibly for seed.
func New(mem *vfs.MemFS, seed uint64, spacing, max int) *Crasher {
	c := &Crasher{mem: mem, rng: rand.New(rand.NewPCG(seed, 2)), seed: seed, spacing: spacing, max: max}
	c.next = 1 + c.rng.IntN(spacing)
	return c
}

// FS returns the filesystem the store under test must run on.
func (c *Crasher) FS() vfs.FS { return crashFS{errorfs.Wrap(c.mem, c), c} }

// MaybeError is the injector: it takes clones and never returns an error.
func (c *Crasher) MaybeError(op errorfs.Op) error {
	if !c.Armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops++
	acked, started := int(c.Acked.Load()), int(c.Started.Load()) // read before the clone
	isSync := op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo
	if t := c.Tear.Load(); t != 0 && int(t) == started && acked < started && isSync && strings.HasSuffix(op.Path, ".log") {
		c.Tear.Store(0)
		for _, pct := range []int{0, 50, 100} {
			c.clone(op, pct, acked, started)
		}
	}
	if c.ops < c.next || c.random >= c.max {
		return nil
	}
	c.next = c.ops + 1 + c.rng.IntN(c.spacing)
	c.random++
	c.clone(op, c.rng.IntN(101), acked, started)
	return nil
}

func (c *Crasher) clone(op errorfs.Op, pct, acked, started int) {
	c.taken++
	fs := c.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(c.seed, uint64(c.taken)))})
	c.points = append(c.points, Point{N: c.taken, FS: fs, Acked: acked, Started: started,
		Op: fmt.Sprintf("write op %d (%s %s)", c.ops, opName(op.Kind), filepath.Base(op.Path)), Unsynced: pct})
}

func (c *Crasher) String() string { return "crasher" }

// RandomTaken returns how many clones were taken at random points so far.
func (c *Crasher) RandomTaken() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.random
}

// Take returns the clones taken since the last call.
func (c *Crasher) Take() []Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.points
	c.points = nil
	return p
}

// crashFS is errorfs with the crasher as injector, also on recycled files:
// errorfs.FS.ReuseForWrite returns the file unwrapped, so without this the WAL's writes and
// syncs would stop being crash points once Pebble recycles its first log.
type crashFS struct {
	*errorfs.FS
	c *Crasher
}

func (fs crashFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil {
		return nil, err
	}
	return errorfs.WrapFile(f, namedInjector{fs.c, newname}), nil
}

// namedInjector names the file of the ops of a file errorfs.WrapFile wrapped (it leaves
// their path empty).
type namedInjector struct {
	c    *Crasher
	name string
}

func (n namedInjector) String() string { return n.c.String() }

func (n namedInjector) MaybeError(op errorfs.Op) error {
	if op.Path == "" {
		op.Path = n.name
	}
	return n.c.MaybeError(op)
}

func opName(k errorfs.OpKind) string {
	switch k {
	case errorfs.OpCreate:
		return "create"
	case errorfs.OpLink:
		return "link"
	case errorfs.OpRemove, errorfs.OpRemoveAll:
		return "remove"
	case errorfs.OpRename:
		return "rename"
	case errorfs.OpReuseForWrite:
		return "reuse"
	case errorfs.OpMkdirAll:
		return "mkdir"
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt:
		return "write"
	case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		return "sync"
	case errorfs.OpFileClose:
		return "close"
	}
	return "op" + strconv.Itoa(int(k))
}
