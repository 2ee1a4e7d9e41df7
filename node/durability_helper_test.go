package node_test

// Helpers of the durability tests (durability_test.go): a seeded workload that drives a
// replica with local WriteBatch and replicated Apply batches, and a checker of what a
// replica must hold after a crash. Both use the public API only.

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

const (
	durCounty     = "420323" // the replica's region: cases are indexed into township/village scopes
	durStation    = "station"
	durRemote     = "remote" // the fake remote origin, and the peer name its batches come from
	durRemoteFeed = 64       // remote ops applied per replicated batch, at most
)

// durRegions are the regions cases are registered in: townships of the county. (A village
// code would exercise village scopes too, but its validation decodes the whole village table
// on first use, about 2 s per process under -race: too much for a test that starts 20.)
var durRegions = []string{"420323100", "420323101", "420323102", "420323103"}

// durWorkload drives a replica (main) with a seeded mix of local batches (registrations,
// edits, notes, tags, on local cases and on cases that arrived from the remote) and
// replicated batches: ops a second replica (remote) writes under its own origin, read back
// from its feed after main's checkpoint of it, and applied to main with the checkpoint.
// It rebuilds its state from the stores, so a restarted process continues where the last
// synced batch ended.
type durWorkload struct {
	rng    *rand.Rand
	main   *node.Replica
	remote *node.Replica

	known       []string // cases registered in main
	remoteCases []string // cases registered at remote
	nLocal      int      // registrations written by main (names the next local case)
	nRemote     int      // registrations written by remote
	nWrites     int      // makes text values distinct
}

func newDurWorkload(rng *rand.Rand, main, remote *node.Replica) (*durWorkload, error) {
	w := &durWorkload{rng: rng, main: main, remote: remote}
	err := scanFeed(main, func(e node.FeedEntry, op cases.Op) {
		if op.Kind != cases.KindRegister {
			return
		}
		w.known = append(w.known, op.Case)
		if op.Dot.Origin == main.Origin() {
			w.nLocal++
		}
	})
	if err != nil {
		return nil, err
	}
	err = scanFeed(remote, func(e node.FeedEntry, op cases.Op) {
		if op.Kind == cases.KindRegister {
			w.remoteCases = append(w.remoteCases, op.Case)
			w.nRemote++
		}
	})
	return w, err
}

// scanFeed calls f for every entry of r's feed, in order, with its op decoded.
func scanFeed(r *node.Replica, f func(node.FeedEntry, cases.Op)) error {
	var after uint64
	for {
		es, next, err := r.Feed(after, 512, "")
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		for _, e := range es {
			op, err := cases.DecodeOp(e.Raw)
			if err != nil {
				return fmt.Errorf("feed %d: %w", e.Pos, err)
			}
			f(e, op)
		}
		after = next
	}
}

// durStep is one batch: begin is called with the number of new ops just before the batch is
// handed to main (so a crash after it may or may not keep the batch); the step returns the
// dots main acknowledged and main's feed sequence after them.
func (w *durWorkload) step(ctx context.Context, begin func(n int)) (dots []crdt.Dot, feedSeq uint64, err error) {
	if w.rng.IntN(10) < 6 {
		return w.localStep(ctx, begin)
	}
	return w.remoteStep(ctx, begin)
}

func (w *durWorkload) localStep(ctx context.Context, begin func(n int)) ([]crdt.Dot, uint64, error) {
	n := 1 + w.rng.IntN(12)
	var chs []node.Change
	var newCases []string
	for range n {
		if len(w.known) == 0 || w.rng.IntN(4) == 0 {
			w.nLocal++
			id := fmt.Sprintf("L%05d", w.nLocal)
			chs = append(chs, w.register(id))
			newCases = append(newCases, id)
			continue
		}
		chs = append(chs, w.change(w.known[w.rng.IntN(len(w.known))]))
	}
	begin(len(chs))
	ops, errs, err := w.main.WriteBatch(ctx, chs, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("local batch: %w", err)
	}
	dots := make([]crdt.Dot, len(ops))
	for i := range ops {
		if errs[i] != nil {
			return nil, 0, fmt.Errorf("local change %d (%s %s) refused: %w", i, chs[i].Kind, chs[i].Case, errs[i])
		}
		dots[i] = ops[i].Dot
	}
	w.known = append(w.known, newCases...)
	return dots, w.main.Status().FeedSeq, nil
}

func (w *durWorkload) remoteStep(ctx context.Context, begin func(n int)) ([]crdt.Dot, uint64, error) {
	n := 1 + w.rng.IntN(8)
	var chs []node.Change
	for range n {
		if len(w.remoteCases) == 0 || w.rng.IntN(3) == 0 {
			w.nRemote++
			id := fmt.Sprintf("R%05d", w.nRemote)
			chs = append(chs, w.register(id))
			w.remoteCases = append(w.remoteCases, id)
			continue
		}
		chs = append(chs, w.change(w.remoteCases[w.rng.IntN(len(w.remoteCases))]))
	}
	if _, errs, err := w.remote.WriteBatch(ctx, chs, nil); err != nil {
		return nil, 0, fmt.Errorf("remote batch: %w", err)
	} else if err := firstErr(errs); err != nil {
		return nil, 0, fmt.Errorf("remote change refused: %w", err)
	}
	cp, err := w.main.PeerCheckpoint(durRemote)
	if err != nil {
		return nil, 0, err
	}
	if cp.Epoch != w.remote.Epoch() {
		cp.Pos = 0
	}
	es, next, err := w.remote.Feed(cp.Pos, durRemoteFeed, "")
	if err != nil {
		return nil, 0, err
	}
	b := node.Batch{From: durRemote, Checkpoint: &node.Checkpoint{Epoch: w.remote.Epoch(), Pos: next},
		Heads: []node.SignedHead{w.remote.Head()}}
	dots := make([]crdt.Dot, len(es))
	var registered []string
	for i, e := range es {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			return nil, 0, err
		}
		b.Ops = append(b.Ops, node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta})
		dots[i] = op.Dot
		if op.Kind == cases.KindRegister {
			registered = append(registered, op.Case)
		}
	}
	begin(len(b.Ops))
	res, err := w.main.Apply(ctx, b)
	if err != nil {
		return nil, 0, fmt.Errorf("replicated batch: %w", err)
	}
	if res.Applied != len(b.Ops) || res.Duplicates+res.Pending+res.Equivocations != 0 {
		return nil, 0, fmt.Errorf("replicated batch of %d new ops: %+v", len(b.Ops), res)
	}
	w.known = append(w.known, registered...)
	return dots, res.FeedSeq, nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// register returns a valid registration of case id.
func (w *durWorkload) register(id string) node.Change {
	w.nWrites++
	first17 := fmt.Sprintf("%s19%02d0%d1%d%03d", durCounty, 50+w.rng.IntN(50), 1+w.rng.IntN(9), w.rng.IntN(3), w.rng.IntN(1000))
	c, _ := cases.ResidentIDCheck(first17)
	person := cases.Person{Name: "张" + strconv.Itoa(w.nWrites), IDNumber: first17 + string(c),
		Phone: fmt.Sprintf("138%08d", w.rng.IntN(1e8)), Address: "宝丰镇" + strconv.Itoa(w.rng.IntN(100)) + "号"}
	kind := cases.MatterPetition
	if w.rng.IntN(3) == 0 {
		kind = cases.MatterDispute
	}
	set := func(f string, v any) cases.LocalWrite {
		return cases.LocalWrite{Field: f, Action: cases.Set, JSON: jsonOf(v)}
	}
	return node.Change{Case: id, Kind: cases.KindRegister, Author: "grid-worker-1", Writes: []cases.LocalWrite{
		set("kind", kind),
		set("region", durRegions[w.rng.IntN(len(durRegions))]),
		set("petitioners", []cases.Person{person}),
		set("summary", fmt.Sprintf("诉求 %d: 宅基地边界纠纷，请求调解。", w.nWrites)),
		set("registered_at", 1_700_000_000_000+int64(w.nWrites)*60_000),
		{Field: "tags", Action: cases.Add, JSON: jsonOf("土地")},
	}}
}

// change returns a valid edit, note or tag on existing case id.
func (w *durWorkload) change(id string) node.Change {
	w.nWrites++
	set := func(f string, v any) []cases.LocalWrite {
		return []cases.LocalWrite{{Field: f, Action: cases.Set, JSON: jsonOf(v)}}
	}
	switch w.rng.IntN(6) {
	case 0:
		return node.Change{Case: id, Kind: cases.KindEdit, Author: "clerk", Writes: set("category", "土地"+strconv.Itoa(w.nWrites%7))}
	case 1:
		return node.Change{Case: id, Kind: cases.KindEdit, Author: "clerk", Writes: set("people_count", 1+w.rng.IntN(30))}
	case 2:
		return node.Change{Case: id, Kind: cases.KindEdit, Author: "clerk",
			Writes: append(set("summary", fmt.Sprintf("补充材料 %d", w.nWrites)), set("handler_unit", "司法所")...)}
	case 3:
		return node.Change{Case: id, Kind: cases.KindEdit, Author: "clerk",
			Writes: []cases.LocalWrite{{Field: "tags", Action: cases.Add, JSON: jsonOf("t" + strconv.Itoa(w.rng.IntN(5)))}}}
	default:
		note := cases.Note{Text: fmt.Sprintf("走访记录 %d：当事人情绪稳定。", w.nWrites), Kind: "visit"}
		return node.Change{Case: id, Kind: cases.KindNote, Author: "grid-worker-2",
			Writes: []cases.LocalWrite{{Field: "notes", Action: cases.Append, JSON: jsonOf(note)}}}
	}
}

// durView is what the checker reads of a replica (*node.Replica implements it). The
// checker's own test wraps a replica to break one answer at a time.
type durView interface {
	Status() node.Status
	Origin() crdt.Origin
	Feed(after uint64, limit int, skipVia string) ([]node.FeedEntry, uint64, error)
	Case(id string) (*cases.Case, []cases.Stored, error)
	ChainTip(o crdt.Origin) (uint64, cases.Hash)
	Head() node.SignedHead
	PublicKey() ed25519.PublicKey
	VerifyHead(h node.SignedHead, pub ed25519.PublicKey) error
	PeerCheckpoint(peer string) (node.Checkpoint, error)
	ScopeFeed(scope string, after uint64, limit int, skipVia string, stats *node.ReadStats) ([]node.ScopeEntry, uint64, error)
	ScopeSeq(scope string) uint64
	Apply(ctx context.Context, b node.Batch) (node.Result, error)
}

var _ durView = (*node.Replica)(nil)

// durWant is what a recovered replica must hold beyond its own consistency.
type durWant struct {
	Acked       []crdt.Dot       // acknowledged ops: each must be present
	Boundaries  []uint64         // if set, the feed must end at one of these (batch boundaries)
	StartsWith  []node.FeedEntry // the feed must begin with exactly these (what was recovered before)
	PrefixOf    []node.FeedEntry // the feed must be exactly a prefix of these (the uncrashed original)
	RemoteEpoch string           // if set, the remote checkpoint must name it
}

// checkDurable checks a replica after a crash and returns its feed and what is wrong (nil
// when nothing). It checks that:
//
//   - the feed is dense, 1..Status().FeedSeq, every entry a well-formed op, each dot once;
//   - each op is complete: its feed entry, its case's history entry (the history Case
//     returns, which is History, holds the case's ops of the feed in feed order), its dot index (re-applying every op of the feed is a
//     duplicate, not a new op), and its scope entries (each scope's feed is dense, counted by
//     ScopeSeq, and names exactly the ops of the cases in the scope);
//   - the counters agree: Status().Cases is the number of distinct cases, nothing is pending
//     or an equivocation; each origin's ops are seqs 1..n and its chain tip is (n, the chain
//     hash of those ops); the local origin's head verifies; the remote checkpoint is the
//     number of remote ops applied;
//   - want: the acknowledged ops are present, the feed ends at a batch boundary, and it
//     extends what was recovered before / is a prefix of the original's feed.
//
// The re-apply check writes to the store (chain tips, the clock, all to the same values).
func checkDurable(ctx context.Context, r durView, want durWant) (feed []node.FeedEntry, problems []string) {
	bad := func(format string, args ...any) {
		if len(problems) < 30 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	st := r.Status()

	// The feed: dense, decodable, one entry per dot.
	var after uint64
	for {
		es, next, err := r.Feed(after, 1000, "")
		if err != nil {
			bad("feed after %d: %v", after, err)
			break
		}
		if len(es) == 0 {
			break
		}
		feed = append(feed, es...)
		after = next
	}
	for i, e := range feed {
		if e.Pos != uint64(i+1) {
			bad("feed is not dense: entry %d is at position %d", i+1, e.Pos)
			break
		}
	}
	if uint64(len(feed)) != st.FeedSeq {
		bad("Status().FeedSeq = %d, feed holds %d entries", st.FeedSeq, len(feed))
	}
	ops := make([]cases.Op, len(feed))
	byDot := map[crdt.Dot]int{}
	caseOps := map[string][]int{} // case → indexes into feed, in feed order
	var caseIDs []string
	byOrigin := map[crdt.Origin][]int{}
	var origins []crdt.Origin
	for i, e := range feed {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			bad("feed %d: %v", e.Pos, err)
			continue
		}
		ops[i] = op
		if j, dup := byDot[op.Dot]; dup {
			bad("dot %s at feed %d and %d", op.Dot, feed[j].Pos, e.Pos)
		}
		byDot[op.Dot] = i
		if _, ok := caseOps[op.Case]; !ok {
			caseIDs = append(caseIDs, op.Case)
		}
		caseOps[op.Case] = append(caseOps[op.Case], i)
		if _, ok := byOrigin[op.Dot.Origin]; !ok {
			origins = append(origins, op.Dot.Origin)
		}
		byOrigin[op.Dot.Origin] = append(byOrigin[op.Dot.Origin], i)
	}

	// What was promised.
	for _, d := range want.Acked {
		if _, ok := byDot[d]; !ok {
			bad("acknowledged op %s is missing (feed holds %d ops)", d, len(feed))
		}
	}
	if want.Boundaries != nil && !slices.Contains(want.Boundaries, st.FeedSeq) {
		bad("feed ends at %d, not at a batch boundary %v: a batch is half there", st.FeedSeq, want.Boundaries)
	}
	if len(feed) < len(want.StartsWith) {
		bad("feed holds %d entries, %d were recovered before", len(feed), len(want.StartsWith))
	}
	for i := range min(len(feed), len(want.StartsWith)) {
		if !sameEntry(feed[i], want.StartsWith[i]) {
			bad("feed %d differs from what was recovered before", i+1)
			break
		}
	}
	if want.PrefixOf != nil {
		if len(feed) > len(want.PrefixOf) {
			bad("feed holds %d entries, the original only %d", len(feed), len(want.PrefixOf))
		}
		for i := range min(len(feed), len(want.PrefixOf)) {
			if !sameEntry(feed[i], want.PrefixOf[i]) {
				bad("feed %d differs from the original's", i+1)
				break
			}
		}
	}

	// Each case: history, fold, count.
	regionsOf := map[string][]string{}
	for _, id := range caseIDs {
		c, h, err := r.Case(id) // h is History(id)
		if err != nil {
			bad("case %s: %v", id, err)
			continue
		}
		if !c.Exists() {
			bad("case %s has ops but no registration", id)
		}
		regionsOf[id] = c.Strings("region")
		idx := caseOps[id]
		if len(h) != len(idx) {
			bad("history of %s holds %d ops, the feed %d", id, len(h), len(idx))
		}
		for k := range min(len(h), len(idx)) {
			if h[k].Op.Dot != ops[idx[k]].Dot {
				bad("history of %s, op %d: %s, feed has %s", id, k, h[k].Op.Dot, ops[idx[k]].Dot)
				break
			}
		}
	}
	if st.Cases != uint64(len(caseIDs)) {
		bad("Status().Cases = %d, the feed names %d cases", st.Cases, len(caseIDs))
	}
	if st.Pending != 0 || st.Equivocations != 0 {
		bad("pending %d, equivocations %d: want none", st.Pending, st.Equivocations)
	}

	// Each origin: dense seqs, chain tip.
	local := r.Origin()
	if _, ok := byOrigin[local]; !ok {
		origins = append(origins, local)
	}
	var remoteOps uint64
	for _, o := range origins {
		idx := byOrigin[o]
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ops[a].Dot.Seq, ops[b].Dot.Seq) })
		var h cases.Hash
		for k, i := range idx {
			if ops[i].Dot.Seq != uint64(k+1) {
				bad("origin %s: op %d has seq %d (a gap)", o, k+1, ops[i].Dot.Seq)
				break
			}
			h = cases.ChainHash(h, feed[i].Raw)
		}
		seq, tip := r.ChainTip(o)
		if seq != uint64(len(idx)) || tip != h {
			bad("chain tip of %s is %d/%s, the feed holds %d ops hashing to %s", o, seq, tip, len(idx), h)
		}
		if o.Node == durRemote {
			remoteOps += uint64(len(idx))
		}
	}
	if err := r.VerifyHead(r.Head(), r.PublicKey()); err != nil {
		bad("local head: %v", err)
	}
	if cp, err := r.PeerCheckpoint(durRemote); err != nil {
		bad("remote checkpoint: %v", err)
	} else if cp.Pos != remoteOps || (remoteOps > 0 && want.RemoteEpoch != "" && cp.Epoch != want.RemoteEpoch) {
		bad("remote checkpoint %d in epoch %q, %d remote ops applied (epoch %q)", cp.Pos, cp.Epoch, remoteOps, want.RemoteEpoch)
	}

	// Scopes: every op of a case is in each scope of the case's region, exactly once.
	wantScope := map[string][]uint64{}
	for _, id := range caseIDs {
		for _, reg := range regionsOf[id] {
			for _, n := range []int{6, 9, 12} {
				if n > len(st.Region) && n <= len(reg) && strings.HasPrefix(reg, st.Region) {
					s := node.ScopeOfRegion(reg[:n])
					for _, i := range caseOps[id] {
						wantScope[s] = append(wantScope[s], feed[i].Pos)
					}
				}
			}
		}
	}
	scopes := make([]string, 0, len(wantScope))
	for s := range wantScope {
		scopes = append(scopes, s)
	}
	slices.Sort(scopes)
	for _, s := range scopes {
		var got []uint64
		var after, n uint64
		for {
			es, next, err := r.ScopeFeed(s, after, 1000, "", nil)
			if err != nil {
				bad("scope %s: %v", s, err)
				break
			}
			if len(es) == 0 {
				break
			}
			for _, e := range es {
				n++
				if e.N != n {
					bad("scope %s is not dense: entry %d at %d", s, n, e.N)
				}
				if e.LeftCase != "" {
					bad("scope %s: case %s left it", s, e.LeftCase)
					continue
				}
				got = append(got, e.Pos)
			}
			after = next
		}
		if seq := r.ScopeSeq(s); seq != n {
			bad("scope %s: ScopeSeq %d, %d entries", s, seq, n)
		}
		w := wantScope[s]
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			bad("scope %s holds %d ops, its cases have %d in the feed", s, len(got), len(w))
		}
	}

	// The dot index: every op applied again is a duplicate.
	for lo := 0; lo < len(feed); lo += 256 {
		hi := min(lo+256, len(feed))
		b := node.Batch{}
		for i := lo; i < hi; i++ {
			b.Ops = append(b.Ops, node.Incoming{Op: ops[i], Raw: feed[i].Raw, Meta: feed[i].Meta})
		}
		res, err := r.Apply(ctx, b)
		if err != nil {
			bad("re-apply feed %d..%d: %v", lo+1, hi, err)
			break
		}
		if res.Duplicates != hi-lo || res.Applied+res.Pending+res.Equivocations != 0 {
			bad("re-apply feed %d..%d: %+v, want %d duplicates (a dot index entry is missing)", lo+1, hi, res, hi-lo)
			break
		}
	}
	if got := r.Status().FeedSeq; got != st.FeedSeq {
		bad("re-applying the feed moved it from %d to %d", st.FeedSeq, got)
	}
	return feed, problems
}

func sameEntry(a, b node.FeedEntry) bool {
	return a.Pos == b.Pos && a.Via == b.Via && a.Meta == b.Meta && string(a.Raw) == string(b.Raw)
}

// durSeed returns the test's seed: $FENGQIAO_DURABILITY_SEED, or a fresh one.
func durSeed() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("FENGQIAO_DURABILITY_SEED"), 10, 64); err == nil {
		return s
	}
	return rand.Uint64() >> 1
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
