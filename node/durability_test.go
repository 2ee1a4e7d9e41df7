package node_test

// Durability tests of the replica: "Apply is one atomic, synced Pebble batch ... an op
// acknowledged to a peer is never lost" (doc.go).
//
//   - TestDurability_SIGKILL runs the replica in a child process (this test binary again)
//     and kills it with SIGKILL at seeded random moments, then checks the store in-process.
//     A kill loses the process, not the page cache: it finds non-atomic batches and state
//     kept only in process memory (such as a WAL tail Pebble buffers when no sync is asked
//     for), not writes that reached the OS unsynced.
//   - TestDurability_PowerLoss runs the replica on Pebble's crash-simulating filesystem and
//     takes crash clones (synced data plus a random part of the unsynced data) at seeded
//     random filesystem operations, inside commits, flushes and compactions. It finds
//     missing fsyncs.
//
// Both check every recovered store with checkDurable (durability_helper_test.go);
// TestDurability_CheckerCatchesDamage shows that each of its checks fails on a replica
// that breaks it.
//
// How the tests were shown to fail (in a copy of the repository, node/apply.go changed):
//
//   - a.wb.Commit(pebble.Sync) → pebble.NoSync in commit: TestDurability_PowerLoss failed
//     for 20 of 20 seeds, at the first crash point after the first batches (crash 8 to 12;
//     the earlier ones land in the store's creation), with "acknowledged op ... is missing"
//     and "not at a batch boundary". TestDurability_SIGKILL failed for 5 of 5 seeds: 4 in
//     round 1 with "acknowledged op ... is missing" (without a sync request Pebble keeps
//     the WAL tail in its own buffer, which dies with the process), 1 in round 2 when the
//     child's Apply was refused with "hash chain mismatch": the remote store, NoSync too,
//     had lost ops the station held and wrote other ops under their dots.
//   - chain tips written by a second synced Set after the batch instead of in it:
//     TestDurability_PowerLoss failed for 10 of 10 seeds ("chain tip of ... is 0/..., the
//     feed holds 4 ops", and re-applying the feed applied those ops a second time), and
//     TestDurability_SIGKILL for 5 of 5 (4 with the same messages, in rounds 1 to 15; one
//     with the child's Apply refused: "hash chain mismatch").
//
// Seeds: FENGQIAO_DURABILITY_SEED repeats a run (each test logs its seed). It fixes the
// workload, the kill points (count of ACKs, delay) and the crash points (count of write
// operations, unsynced data kept); the OS scheduler and Pebble's background work can still
// move a kill or crash by an operation or two. FENGQIAO_DURABILITY_ROUNDS sets the SIGKILL
// rounds (default 20, 5 with -short), and FENGQIAO_DURABILITY_CRASHES the power-loss crash
// points (default 50, 15 with -short).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/crashtest"
	"github.com/fengqiao/fengqiao/node"
)

const durChildEnv = "FENGQIAO_DURABILITY_CHILD"

// durOptions are the options of the replicas of the tests. A small memtable makes Pebble
// flush and compact during the test, so that crashes also land in those; the SIGKILL test
// keeps it larger because reads from sstables are slow under -race (Pebble records a stack
// trace per table reference in race builds).
func durOptions(id string, fs vfs.FS, memtable uint64) node.Options {
	return node.Options{NodeID: id, Region: durCounty, FS: fs, MemTableSize: memtable,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

const (
	sigkillMemtable   = 1 << 20
	powerLossMemtable = 64 << 10
)

// TestDurabilityChild is the child process of TestDurability_SIGKILL; it skips unless
// FENGQIAO_DURABILITY_CHILD names its directory. It opens the replica in dir/main (and the
// fake remote in dir/remote) and applies batches until it is killed, printing
//
//	START <feedSeq> <local chain seq>   once the stores are open
//	BEGIN <batch> <new ops>             before handing a batch to the replica
//	ACK <batch> <feedSeq> <dot>...      after the replica returned it
func TestDurabilityChild(t *testing.T) {
	dir := os.Getenv(durChildEnv)
	if dir == "" {
		t.Skip("the child of TestDurability_SIGKILL")
	}
	seed, _ := strconv.ParseUint(os.Getenv("FENGQIAO_DURABILITY_SEED"), 10, 64)
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "durability child: %v\n", err)
		os.Exit(3)
	}
	go func() { // the parent holds stdin open: if it dies, so does the child
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(4)
	}()
	main, err := node.Open(filepath.Join(dir, "main"), durOptions(durStation, nil, sigkillMemtable))
	if err != nil {
		fail(err)
	}
	remote, err := node.Open(filepath.Join(dir, "remote"), durOptions(durRemote, nil, sigkillMemtable))
	if err != nil {
		fail(err)
	}
	w, err := newDurWorkload(rand.New(rand.NewPCG(seed, 1)), main, remote)
	if err != nil {
		fail(err)
	}
	seq, _ := main.ChainTip(main.Origin())
	fmt.Fprintf(os.Stdout, "START %d %d\n", main.Status().FeedSeq, seq)
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	var line []byte
	for b := 1; time.Now().Before(deadline); b++ {
		dots, feedSeq, err := w.step(ctx, func(n int) { fmt.Fprintf(os.Stdout, "BEGIN %d %d\n", b, n) })
		if err != nil {
			fail(err)
		}
		line = fmt.Appendf(line[:0], "ACK %d %d", b, feedSeq)
		for _, d := range dots {
			line = append(append(line, ' '), d.String()...)
		}
		if _, err := os.Stdout.Write(append(line, '\n')); err != nil { // unbuffered: one write per line
			fail(err)
		}
	}
	fail(fmt.Errorf("not killed within 2 minutes"))
}

// sigkillRound is what the parent learned from one child's output.
type sigkillRound struct {
	started   bool
	startSeq  uint64
	lastBatch int    // last BEGIN
	inflight  int    // ops of the last BEGIN not yet acknowledged (0 if none)
	ackSeq    uint64 // feed sequence after the last ACK (startSeq before any)
	acks      int
	acked     []crdt.Dot
	problems  []string
}

func (s *sigkillRound) line(l string, wantStart uint64) {
	f := strings.Fields(l)
	if len(f) == 0 {
		return
	}
	num := func(i int) uint64 {
		if i >= len(f) {
			s.problems = append(s.problems, "short line: "+l)
			return 0
		}
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			s.problems = append(s.problems, "bad line: "+l)
		}
		return n
	}
	switch f[0] {
	case "START":
		s.started, s.startSeq, s.ackSeq = true, num(1), num(1)
		if s.startSeq != wantStart {
			s.problems = append(s.problems, fmt.Sprintf("restart: the child found feed %d, the store held %d after the last crash", s.startSeq, wantStart))
		}
	case "BEGIN":
		s.lastBatch, s.inflight = int(num(1)), int(num(2))
	case "ACK":
		b, seq := int(num(1)), num(2)
		if b != s.lastBatch || seq != s.ackSeq+uint64(s.inflight) || len(f)-3 != s.inflight {
			s.problems = append(s.problems, fmt.Sprintf("ACK %d at feed %d with %d dots after BEGIN %d of %d ops at feed %d", b, seq, len(f)-3, s.lastBatch, s.inflight, s.ackSeq))
		}
		for _, ds := range f[3:] {
			d, err := cases.ParseDot(ds)
			if err != nil {
				s.problems = append(s.problems, "bad dot in "+l)
			}
			s.acked = append(s.acked, d)
		}
		s.ackSeq, s.inflight = seq, 0
		s.acks++
	}
}

func TestDurability_SIGKILL(t *testing.T) {
	if os.Getenv(durChildEnv) != "" {
		t.Skip("in the child")
	}
	seed := durSeed()
	rounds := envInt("FENGQIAO_DURABILITY_ROUNDS", shortOr(20, 5))
	t.Logf("seed %d, %d rounds (FENGQIAO_DURABILITY_SEED=%d repeats it)", seed, rounds, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	ctx := context.Background()

	var acked []crdt.Dot           // every op acknowledged in any round
	var recovered []node.FeedEntry // the feed found after the last crash
	var remoteEpoch string
	for round := 1; round <= rounds; round++ {
		// Kill after a random number of acknowledged batches (0: during start-up), a random
		// time later: often inside the next batch's commit.
		killAfter := rng.IntN(25)
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		if killAfter == 0 { // from the start of the process: before, in or just after Open
			delay = time.Duration(rng.IntN(200)) * time.Millisecond
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), durChildEnv+"="+dir, "FENGQIAO_DURABILITY_SEED="+strconv.FormatUint(seed+uint64(round), 10))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var once sync.Once
		kill := func() { once.Do(func() { _ = cmd.Process.Kill() }) }
		if killAfter == 0 {
			time.AfterFunc(delay, kill)
		}
		st := sigkillRound{}
		killAt := killAfter
		for l := range lines {
			st.line(l, uint64(len(recovered)))
			if killAfter > 0 && st.acks == killAfter {
				time.AfterFunc(delay, kill)
				killAfter = -1
			}
		}
		kill()
		werr := cmd.Wait()
		_ = stdin.Close()
		if ee, ok := werr.(*exec.ExitError); !ok || ee.ExitCode() != -1 { // -1: killed by a signal
			t.Fatalf("round %d: child ended by itself (%v) after %d acks:\n%s", round, werr, st.acks, stderr.String())
		}
		for _, p := range st.problems {
			t.Errorf("round %d: %s", round, p)
		}
		acked = append(acked, st.acked...)

		// The crash left at most the batch in flight beyond the last ACK, whole or not at all.
		bounds := []uint64{uint64(len(recovered))}
		if st.started {
			bounds = []uint64{st.ackSeq, st.ackSeq + uint64(st.inflight)}
		}
		r, err := node.Open(filepath.Join(dir, "main"), durOptions(durStation, nil, sigkillMemtable))
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "remote")); err == nil && remoteEpoch == "" {
			if rm, err := node.Open(filepath.Join(dir, "remote"), durOptions(durRemote, nil, sigkillMemtable)); err == nil {
				remoteEpoch = rm.Epoch()
				_ = rm.Close()
			}
		}
		feed, problems := checkDurable(ctx, r, durWant{Acked: acked, Boundaries: bounds, StartsWith: recovered, RemoteEpoch: remoteEpoch})
		status := r.Status()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("round %d (killed %v after %s): %s", round, delay, killPoint(killAt), p)
		}
		if t.Failed() {
			t.Fatalf("round %d: stopping; seed %d", round, seed)
		}
		inflight := "none"
		switch {
		case st.inflight > 0 && status.FeedSeq == st.ackSeq:
			inflight = "lost"
		case st.inflight > 0:
			inflight = "kept"
		case !st.started:
			inflight = "killed before START"
		}
		t.Logf("round %2d: %3d acks, killed %v after %s; batch in flight: %s; feed %d, %d cases, %d ops acked so far",
			round, st.acks, delay, killPoint(killAt), inflight, status.FeedSeq, status.Cases, len(acked))
		recovered = feed
	}
	if len(acked) == 0 {
		t.Errorf("no batch was acknowledged in %d rounds", rounds)
	}
}

func killPoint(ack int) string {
	if ack == 0 {
		return "the child started"
	}
	return "ack " + strconv.Itoa(ack)
}

func shortOr(long, short int) int {
	if testing.Short() {
		return short
	}
	return long
}

func TestDurability_PowerLoss(t *testing.T) {
	if os.Getenv(durChildEnv) != "" {
		t.Skip("in the child")
	}
	seed := durSeed()
	crashes := envInt("FENGQIAO_DURABILITY_CRASHES", shortOr(50, 15))
	t.Logf("seed %d, %d crash points (FENGQIAO_DURABILITY_SEED=%d repeats it)", seed, crashes, seed)
	ctx := context.Background()

	mem := vfs.NewCrashableMem()
	cr := crashtest.New(mem, seed, 10, crashes)
	cr.Armed.Store(true) // from the start: the first crash points land in the store's creation
	r, err := node.Open("db", durOptions(durStation, cr.FS(), powerLossMemtable))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	remote, err := node.Open("remote", durOptions(durRemote, vfs.NewMem(), powerLossMemtable))
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	w, err := newDurWorkload(rand.New(rand.NewPCG(seed, 1)), r, remote)
	if err != nil {
		t.Fatal(err)
	}

	ends := []uint64{0}  // ends[k]: the feed sequence after batch k
	dotsUpTo := []int{0} // dotsUpTo[k]: acknowledged ops in batches 1..k
	var acked []crdt.Dot // in batch order
	var original []node.FeedEntry
	checked := 0
	for k := 1; checked < crashes && k <= 20000; k++ {
		cr.Started.Store(int64(k))
		dots, seq, err := w.step(ctx, func(int) {})
		if err != nil {
			t.Fatalf("batch %d: %v", k, err)
		}
		cr.Acked.Store(int64(k))
		ends = append(ends, seq)
		acked = append(acked, dots...)
		dotsUpTo = append(dotsUpTo, len(acked))

		points := cr.Take()
		if len(points) == 0 {
			continue
		}
		es, _, err := r.Feed(uint64(len(original)), 1<<30, "")
		if err != nil {
			t.Fatal(err)
		}
		original = append(original, es...)
		for _, p := range points {
			checked++
			cl, err := node.Open("db", durOptions(durStation, p.FS, powerLossMemtable))
			if err != nil {
				t.Fatalf("crash %d at %s, %d%% of unsynced data kept: open: %v", p.N, p.Op, p.Unsynced, err)
			}
			want := durWant{Acked: acked[:dotsUpTo[p.Acked]], Boundaries: ends[p.Acked : p.Started+1],
				PrefixOf: original, RemoteEpoch: remote.Epoch()}
			_, problems := checkDurable(ctx, cl, want)
			got := cl.Status().FeedSeq
			if err := cl.Close(); err != nil {
				t.Errorf("crash %d: close clone: %v", p.N, err)
			}
			for _, pr := range problems {
				t.Errorf("crash %d at %s, batches acked %d, begun %d, %d%% of unsynced data kept: %s", p.N, p.Op, p.Acked, p.Started, p.Unsynced, pr)
			}
			if t.Failed() {
				t.Fatalf("stopping at crash %d; seed %d", p.N, seed)
			}
			t.Logf("crash %2d at %-28s batches acked %3d begun %3d, %3d%% unsynced kept: recovered feed %d of %d",
				p.N, p.Op, p.Acked, p.Started, p.Unsynced, got, ends[len(ends)-1])
		}
	}
	cr.Armed.Store(false)
	if checked < crashes {
		t.Errorf("only %d of %d crash points were reached", checked, crashes)
	}
}

// damaged is a replica that breaks one answer, to show checkDurable notices.
type damaged struct {
	*node.Replica
	status      func(node.Status) node.Status
	dropFeed    uint64 // feed position to hide
	dropHistory bool   // hide the last op of each case's history (Case)
	tipBehind   bool   // report the local chain tip one op behind
	lieApply    bool   // report a re-applied op as new (its dot index lost)
	dropScope   bool   // hide the first entry of every scope
	cpBehind    bool   // report the remote checkpoint one op behind
}

func (d *damaged) Status() node.Status {
	st := d.Replica.Status()
	if d.status != nil {
		st = d.status(st)
	}
	return st
}

func (d *damaged) Feed(after uint64, limit int, skipVia string) ([]node.FeedEntry, uint64, error) {
	es, next, err := d.Replica.Feed(after, limit, skipVia)
	if d.dropFeed != 0 {
		es = slices.DeleteFunc(es, func(e node.FeedEntry) bool { return e.Pos == d.dropFeed })
	}
	return es, next, err
}

func (d *damaged) Case(id string) (*cases.Case, []cases.Stored, error) {
	c, h, err := d.Replica.Case(id)
	if d.dropHistory && len(h) > 1 {
		h = h[:len(h)-1]
		c = cases.Fold(id, h)
	}
	return c, h, err
}

func (d *damaged) ChainTip(o crdt.Origin) (uint64, cases.Hash) {
	seq, h := d.Replica.ChainTip(o)
	if d.tipBehind && o == d.Origin() {
		seq--
	}
	return seq, h
}

func (d *damaged) Apply(ctx context.Context, b node.Batch) (node.Result, error) {
	res, err := d.Replica.Apply(ctx, b)
	if d.lieApply && res.Duplicates > 0 {
		res.Duplicates--
		res.Applied++
	}
	return res, err
}

func (d *damaged) ScopeFeed(scope string, after uint64, limit int, skipVia string, stats *node.ReadStats) ([]node.ScopeEntry, uint64, error) {
	es, next, err := d.Replica.ScopeFeed(scope, after, limit, skipVia, stats)
	if d.dropScope && after == 0 && len(es) > 0 {
		es = es[1:]
	}
	return es, next, err
}

func (d *damaged) PeerCheckpoint(peer string) (node.Checkpoint, error) {
	cp, err := d.Replica.PeerCheckpoint(peer)
	if d.cpBehind && cp.Pos > 0 {
		cp.Pos--
	}
	return cp, err
}

// TestDurability_CheckerCatchesDamage shows that the checks of the durability tests can
// fail: each replica below breaks one property, and checkDurable must say so.
func TestDurability_CheckerCatchesDamage(t *testing.T) {
	ctx := context.Background()
	r, err := node.Open("db", durOptions(durStation, vfs.NewMem(), powerLossMemtable))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	remote, err := node.Open("remote", durOptions(durRemote, vfs.NewMem(), powerLossMemtable))
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	w, err := newDurWorkload(rand.New(rand.NewPCG(7, 7)), r, remote)
	if err != nil {
		t.Fatal(err)
	}
	var acked []crdt.Dot
	ends := []uint64{0}
	for k := 0; k < 40; k++ {
		dots, seq, err := w.step(ctx, func(int) {})
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, dots...)
		ends = append(ends, seq)
	}
	good := durWant{Acked: acked, Boundaries: ends, RemoteEpoch: remote.Epoch()}
	feed, problems := checkDurable(ctx, r, good)
	if len(problems) != 0 {
		t.Fatalf("the undamaged replica fails: %q", problems)
	}
	if cp, _ := r.PeerCheckpoint(durRemote); cp.Pos == 0 {
		t.Fatal("the workload applied no remote batch")
	}
	lastLocal, _ := r.ChainTip(r.Origin())
	changed := slices.Clone(feed)
	changed[3].Raw = append(slices.Clone(changed[3].Raw[:len(changed[3].Raw)-1]), changed[3].Raw[len(changed[3].Raw)-1]^1)

	for _, tc := range []struct {
		name string
		view durView
		want durWant
		says string
	}{
		{"acknowledged op lost", r, durWant{Acked: append(slices.Clone(acked), crdt.Dot{Origin: r.Origin(), Seq: lastLocal + 1})}, "acknowledged op"},
		{"half a batch", r, durWant{Boundaries: ends[:len(ends)-1]}, "not at a batch boundary"},
		{"recovered ops gone", r, durWant{StartsWith: append(slices.Clone(feed), feed[0])}, "recovered before"},
		{"recovered op changed", r, durWant{StartsWith: changed}, "differs from what was recovered before"},
		{"not the original's prefix", r, durWant{PrefixOf: changed}, "differs from the original"},
		{"longer than the original", r, durWant{PrefixOf: feed[:len(feed)-1]}, "the original only"},
		{"feed gap", &damaged{Replica: r, dropFeed: 5}, good, "not dense"},
		{"feed counter", &damaged{Replica: r, status: func(s node.Status) node.Status { s.FeedSeq++; return s }}, good, "Status().FeedSeq"},
		{"history entry lost", &damaged{Replica: r, dropHistory: true}, good, "history of"},
		{"case counter", &damaged{Replica: r, status: func(s node.Status) node.Status { s.Cases--; return s }}, good, "Status().Cases"},
		{"pending op", &damaged{Replica: r, status: func(s node.Status) node.Status { s.Pending++; return s }}, good, "pending"},
		{"chain tip behind", &damaged{Replica: r, tipBehind: true}, good, "chain tip"},
		{"dot index lost", &damaged{Replica: r, lieApply: true}, good, "dot index"},
		{"scope entry lost", &damaged{Replica: r, dropScope: true}, good, "scope"},
		{"checkpoint behind", &damaged{Replica: r, cpBehind: true}, good, "remote checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := checkDurable(ctx, tc.view, tc.want)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.says) }) {
				t.Errorf("checkDurable said %q, want a problem containing %q", problems, tc.says)
			}
		})
	}
}
