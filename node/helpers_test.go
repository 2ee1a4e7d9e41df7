package node_test

// Shared helpers of the replica tests (apply_test.go, scope_test.go, import_test.go,
// chain_test.go). They drive replicas only through the public API: Open, Write, WriteBatch,
// Feed, Apply, Case, ... so that they keep working while the internals change.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
)

// Region codes used by the tests (2023 edition; checked in TestHelpers_RegionCodes).
const (
	testCounty   = "420323"       // 竹山县
	townA        = "420323100"    // 城关镇
	villageA     = "420323100201" // 城关镇 窑沟村委会
	villageA2    = "420323100211" // 城关镇 桥儿沟村委会
	townB        = "420323101"    // 溢水镇
	villageB     = "420323101219" // 溢水镇 花栎村委会
	townC        = "420323102"    // 麻家渡镇
	villageC     = "420323102200" // 麻家渡镇 店子街村委会
	otherCounty  = "420324"       // 竹溪县: outside a 竹山县 hub's scopes
	otherVillage = "420324100001" // 竹溪县 城关镇 西关社区居委会
	testBaseTime = int64(1767225600000)
)

// testClock is an injectable clock: every reading advances by one millisecond, so that
// stamps are distinct and deterministic within a replica.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Add(1)) }

// quietLogger drops the replica's log (equivocation warnings are expected in these tests).
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openTestReplica opens a replica on its own in-memory filesystem and closes it at the end
// of the test.
func openTestReplica(t testing.TB, id, region string) *node.Replica {
	t.Helper()
	return openTestReplicaFS(t, vfs.NewMem(), id, region)
}

// openTestReplicaFS opens (or reopens) the replica in "db" on fs with an injected clock.
func openTestReplicaFS(t testing.TB, fs vfs.FS, id, region string) *node.Replica {
	t.Helper()
	clk := &testClock{}
	clk.ms.Store(testBaseTime + 30*24*3600*1000)
	return openTestReplicaOpts(t, fs, node.Options{NodeID: id, Region: region, Now: clk.now})
}

// openTestReplicaOpts opens the replica in "db" on fs with opts and a quiet logger, and
// closes it at the end of the test.
func openTestReplicaOpts(t testing.TB, fs vfs.FS, opts node.Options) *node.Replica {
	t.Helper()
	opts.FS, opts.Logger = fs, quietLogger()
	r, err := node.Open("db", opts)
	if err != nil {
		t.Fatalf("open %s: %v", opts.NodeID, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// Shared with the protocol's tests (internal/casetest).
var (
	residentID   = casetest.ResidentID
	jsonString   = casetest.JSONString
	registration = casetest.Registration
	edit         = casetest.Edit
	note         = casetest.Note
	mustWrite    = casetest.MustWrite
	mustWriteAll = casetest.MustWriteAll
)

func jsonInt(v int64) json.RawMessage { return json.RawMessage(fmt.Sprint(v)) }

// readFeed returns every entry of r's feed after `after`, skipping ops from skipVia, read
// in pages of 7 (a page size that does not divide the test sizes, to exercise resumption).
func readFeed(t testing.TB, r *node.Replica, after uint64, skipVia string) (entries []node.FeedEntry, next uint64) {
	t.Helper()
	next = after
	for {
		page, n, err := r.Feed(next, 7, skipVia)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, page...)
		if n == next {
			return entries, next
		}
		next = n
	}
}

// incoming decodes feed entries into ops to apply elsewhere, the way sync does.
func incoming(t testing.TB, entries []node.FeedEntry) []node.Incoming {
	t.Helper()
	out := make([]node.Incoming, 0, len(entries))
	for _, e := range entries {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			t.Fatalf("decode feed %d: %v", e.Pos, err)
		}
		out = append(out, node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta})
	}
	return out
}

// link is one direction of a replication session: dst pulls src's feed from its checkpoint,
// never taking back the ops it sent (skipVia = dst's node id).
type link struct {
	src, dst *node.Replica
}

// pull moves everything new in src's feed to dst in one batch and returns what Apply did.
func (l link) pull(t testing.TB) node.Result {
	t.Helper()
	from := l.src.Origin().Node
	cp, err := l.dst.PeerCheckpoint(from)
	if err != nil {
		t.Fatal(err)
	}
	after := cp.Pos
	if cp.Epoch != l.src.Epoch() {
		after = 0
	}
	entries, next := readFeed(t, l.src, after, l.dst.Origin().Node)
	res, err := l.dst.Apply(context.Background(), node.Batch{
		From: from, Ops: incoming(t, entries), Heads: []node.SignedHead{l.src.Head()},
		Checkpoint: &node.Checkpoint{Epoch: l.src.Epoch(), Pos: next},
	})
	if err != nil {
		t.Fatalf("apply %s → %s: %v", from, l.dst.Origin().Node, err)
	}
	return res
}

// exchange syncs a and b both ways.
func exchange(t testing.TB, a, b *node.Replica) {
	t.Helper()
	link{a, b}.pull(t)
	link{b, a}.pull(t)
}

// mustCase returns the folded case id.
func mustCase(t testing.TB, r *node.Replica, id string) *cases.Case {
	t.Helper()
	c, _, err := r.Case(id)
	if err != nil {
		t.Fatalf("case %s on %s: %v", id, r.Origin().Node, err)
	}
	return c
}

// digest renders a folded case canonically: every register's visible writes (dot, stamp,
// author, flag, value), set elements and log entries. Two replicas hold the same case when
// their digests are equal.
func digest(c *cases.Case) string {
	var b strings.Builder
	fmt.Fprintf(&b, "case %s created %s by %s updated %v\n", c.ID, c.Created, c.Creator, c.Updated)
	for _, f := range sortedNames(c.Registers) {
		for _, w := range c.Registers[f].Values() {
			fmt.Fprintf(&b, "reg %s %s %v %s %v %v\n", f, w.Dot, w.Stamp, w.Author, w.Flagged, cases.DecodeValue(f, w.Value))
		}
	}
	for _, f := range sortedNames(c.Sets) {
		fmt.Fprintf(&b, "set %s %q\n", f, c.Sets[f].Elems())
	}
	for _, f := range sortedNames(c.Logs) {
		for _, e := range c.Logs[f].Entries() {
			fmt.Fprintf(&b, "log %s %+v\n", f, e)
		}
	}
	for _, fl := range c.Flags {
		fmt.Fprintf(&b, "flag %+v\n", fl)
	}
	return b.String()
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// requireSameCases fails unless a and b hold the same cases, field for field.
func requireSameCases(t testing.TB, a, b *node.Replica, ids ...string) {
	t.Helper()
	for _, id := range ids {
		da, db := digest(mustCase(t, a, id)), digest(mustCase(t, b, id))
		if da != db {
			t.Fatalf("case %s differs:\n%s:\n%s\n%s:\n%s", id, a.Origin().Node, da, b.Origin().Node, db)
		}
	}
}

// writers returns the authors of the visible writes of a register, sorted.
func writers(c *cases.Case, field string) []string {
	var out []string
	if r := c.Registers[field]; r != nil {
		for _, w := range r.Values() {
			out = append(out, w.Author)
		}
	}
	slices.Sort(out)
	return out
}

// chainHashOf recomputes an origin's chain hash over raw ops in seq order.
func chainHashOf(raws [][]byte) cases.Hash {
	var h cases.Hash
	for _, r := range raws {
		h = cases.ChainHash(h, r)
	}
	return h
}

// opsOf returns the ops of origin o in r's feed, in seq order, as raw bytes.
func opsOf(t testing.TB, r *node.Replica, o crdt.Origin) [][]byte {
	t.Helper()
	entries, _ := readFeed(t, r, 0, "")
	var out [][]byte
	for _, in := range incoming(t, entries) {
		if in.Op.Dot.Origin == o {
			out = append(out, in.Raw)
		}
	}
	return out
}

func TestHelpers_RegionCodes(t *testing.T) {
	for code, want := range map[string]regions.Level{
		testCounty: regions.County, townA: regions.Township, villageA: regions.Village,
		villageA2: regions.Village, townB: regions.Township, villageB: regions.Village,
		townC: regions.Township, villageC: regions.Village, otherCounty: regions.County,
		otherVillage: regions.Village,
	} {
		r, ok := regions.Lookup(code)
		if !ok || r.Level != want {
			t.Errorf("region %s: got %+v %v, want a %s", code, r, ok, want)
		}
	}
	for _, v := range []string{villageA, villageA2, villageB, villageC, otherVillage} {
		if _, ok := regions.Lookup(v[:9]); !ok {
			t.Errorf("township of %s unknown", v)
		}
	}
	if err := cases.ValidateResidentID("id", residentID(villageA, 42)); err != nil {
		t.Errorf("residentID: %v", err)
	}
}
