package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// Apply applies a batch in one synced Pebble batch. It returns only after the batch is
// durable; an error means nothing of the batch was applied.
func (r *Replica) Apply(ctx context.Context, b Batch) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if r.closed {
		return Result{}, ErrClosed
	}
	if b.RaftIndex != 0 && b.RaftIndex <= r.raftApplied {
		return Result{FeedSeq: r.feedPos, AlreadyApplied: true}, nil
	}
	if b.RaftIndex == 0 {
		if err := r.checkSpace(); err != nil {
			return Result{}, err
		}
	}
	a := r.newApplier(b.From, b.ReceivedAt)
	a.rule = b.Writer
	a.raftIndex = b.RaftIndex
	defer a.close()
	left := b.Left
	for i := range b.Ops {
		for len(left) > 0 && left[0].After <= i {
			a.markLeft(left[0].Case, true)
			left = left[1:]
		}
		if err := a.add(&b.Ops[i], b.Partial, b.StampReceipt); err != nil {
			return Result{}, fmt.Errorf("apply op %d of batch from %q: %w", i, b.From, err)
		}
		if b.Partial {
			a.markLeft(b.Ops[i].Op.Case, false)
		}
	}
	for _, l := range left {
		a.markLeft(l.Case, true)
	}
	if err := a.checkHeads(b.Heads); err != nil {
		return Result{}, fmt.Errorf("apply batch from %q: %w", b.From, err)
	}
	if err := a.putDocs(b.Docs); err != nil {
		return Result{}, fmt.Errorf("apply batch from %q: %w", b.From, err)
	}
	if b.RotateKey != nil {
		if err := a.rotateKey(b.RotateKey); err != nil {
			return Result{}, fmt.Errorf("apply batch from %q: %w", b.From, err)
		}
	}
	if b.Checkpoint != nil && b.From != "" {
		// A checkpoint only moves forward within an epoch: an old bundle imported again, or
		// a window resent after a break, must not make the next session resend more.
		name := StreamName(b.From, b.Stream)
		cur, err := r.peerCheckpoint(name)
		if err != nil {
			return Result{}, fmt.Errorf("apply batch from %q: checkpoint: %w", b.From, err)
		}
		if cur.Epoch != b.Checkpoint.Epoch || cur.Pos < b.Checkpoint.Pos {
			a.wb.Set(peerKey(name), encodeCheckpoint(*b.Checkpoint), nil)
		}
	}
	if err := a.commit(); err != nil {
		return Result{}, fmt.Errorf("apply batch from %q: %w", b.From, err)
	}
	return a.res, nil
}

// applier holds the state of one batch being applied. Nothing of the replica changes until
// commit succeeds: chains and counters are copied on first touch and published after.
type applier struct {
	r    *Replica
	wb   *sortedBatch // committed in key order (sortedbatch.go)
	via  string
	rule *WriterRule
	// raftIndex is the Raft entry being applied (0: not a Raft apply).
	raftIndex uint64
	now       int64
	res       Result
	feed      uint64
	cases     []*touched
	byID      map[string]*touched

	seen         map[crdt.Dot][]byte     // raw of each op stored by this batch
	marks        map[crdt.Dot]cases.Hash // chain marks written by this batch
	pendingIn    map[crdt.Dot][]byte     // records held pending by this batch
	chains       map[crdt.Origin]*chainState
	chainList    []crdt.Origin // first-touch order: no map order reaches the keyspace
	scopes       map[string]*scopeRun
	scopeList    []string
	dotRuns      []dotRun            // the dot index entries of this batch, as runs
	dotOpen      map[crdt.Origin]int // the run of each origin that its next seq extends
	newCases     uint64
	newEq        uint64
	newQuar      uint64
	left         map[string]bool // cases marked (true) or unmarked (false) as left, this batch
	leftList     []string
	pendingDelta int64           // ops held minus ops released by this batch
	newKeys      *keyState       // a key rotation of this batch, published on commit
	eqSeen       map[string]bool // equivocation keys written by this batch
	buf          []byte
	w            *mp.Writer
	clock        crdt.Clock      // the replica's clock as this batch advances it; published on commit
	wf           applierWorkflow // the workflow's state of the batch (casenumber.go)

	// people is what this batch changed of the accounts (accounts.go); nil when nothing.
	people *peopleBatch
}

func (r *Replica) newApplier(via string, now int64) *applier {
	r.batch.reset() // empty already, unless an apply panicked
	if now == 0 {
		now = r.opts.Now().UnixMilli()
	}
	return &applier{
		r: r, wb: &r.batch, via: via, now: now, feed: r.feedPos,
		byID: map[string]*touched{}, seen: map[crdt.Dot][]byte{}, pendingIn: map[crdt.Dot][]byte{}, marks: map[crdt.Dot]cases.Hash{},
		chains: map[crdt.Origin]*chainState{}, scopes: map[string]*scopeRun{}, dotOpen: map[crdt.Origin]int{}, w: mp.NewWriter(),
		clock: *r.clock, eqSeen: map[string]bool{},
	}
}

func (a *applier) close() { a.wb.reset() }

// chain returns the batch's copy of origin o's chain state.
func (a *applier) chain(o crdt.Origin) *chainState {
	if c, ok := a.chains[o]; ok {
		return c
	}
	c := &chainState{}
	if cur := a.r.chains[o]; cur != nil {
		*c = *cur
	}
	a.chains[o] = c
	a.chainList = append(a.chainList, o)
	return c
}

// add applies one incoming op, or holds it, or recognizes it as a duplicate.
func (a *applier) add(in *Incoming, partial, stamp bool) error {
	op := &in.Op
	if err := op.WellFormed(); err != nil {
		return err // sync decodes with cases.DecodeOp, which refuses these; this is a backstop
	}
	if a.rule.Refuses(op.Dot.Origin.Node, a.r.origin.Node) {
		return fmt.Errorf("%w: %s sent op %s", ErrForgedOrigin, a.rule.Node, op.Dot)
	}
	raw := in.Raw
	if raw == nil {
		raw = op.Encode()
	}
	meta := in.Meta
	if meta.ReceivedAt == 0 && stamp {
		meta.ReceivedAt = a.now
	}
	far := a.clock.Observe(op.Stamp, a.now)
	if meta.ReceivedAt != 0 {
		meta.Flagged = crdt.IsFarFuture(op.Stamp, meta.ReceivedAt, a.r.opts.MaxSkew.Milliseconds())
	} else {
		meta.Flagged = meta.Flagged || far
	}
	d := op.Dot
	c := a.chain(d.Origin)

	if prev, ok := a.seen[d]; ok {
		a.duplicate(d, prev, raw, meta)
		return nil
	}
	if d.Seq <= c.MaxSeen || partial {
		stored, err := a.r.recordByDot(d)
		switch {
		case err == nil:
			if bytes.Equal(stored.Raw, raw) {
				if err := a.learnReceipt(op, stored, meta); err != nil {
					return err
				}
			}
			a.duplicate(d, stored.Raw, raw, meta)
			if d.Seq == c.Seq+1 {
				a.extend(d.Origin, c, stored.Raw)
				return a.drain(d.Origin)
			}
			return nil
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
	var held []byte
	if d.Seq > c.Seq+1 && d.Seq <= c.MaxSeen {
		// Only a seq between the contiguous prefix and the highest seen can be held pending.
		var err error
		if held, err = a.heldPending(d); err != nil {
			return err
		}
	}
	if held != nil {
		rec, err := parseRecord(held)
		if err != nil {
			return fmt.Errorf("pending %s: %w", d, err)
		}
		if !bytes.Equal(rec.Raw, raw) || d.Seq > c.Seq+1 && !partial {
			a.duplicate(d, rec.Raw, raw, meta) // still waiting, or an equivocation
			return nil
		}
		// Held after a gap on a full stream, now delivered where it may be applied (a partial
		// stream, or the gap filled): release it rather than store it twice.
		a.release(d)
	} else if d.Seq > c.Seq+1 && !partial {
		a.buf = appendRecord(a.buf[:0], record{Via: a.via, Meta: meta, Raw: raw})
		a.wb.Set(dotKey(nil, tPending, d), a.buf, nil)
		a.pendingIn[d] = append([]byte(nil), a.buf...)
		if d.Seq > c.MaxSeen {
			c.MaxSeen = d.Seq
		}
		a.res.Pending++
		a.pendingDelta++
		return nil
	}
	if err := a.store(op, raw, meta, a.via); err != nil {
		return err
	}
	return a.drain(d.Origin)
}

// release deletes the pending record of d: its op is being stored.
func (a *applier) release(d crdt.Dot) {
	a.wb.Delete(dotKey(nil, tPending, d), nil)
	delete(a.pendingIn, d)
	a.pendingDelta--
}

// heldPending returns the record of the op held pending under d, or nil.
func (a *applier) heldPending(d crdt.Dot) ([]byte, error) {
	if rec, ok := a.pendingIn[d]; ok {
		return rec, nil
	}
	v, err := a.r.get(dotKey(nil, tPending, d))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return v, err
}

// duplicate handles an op whose dot is already held: the same content is a duplicate; other
// content under the same dot is an equivocation, kept for review and never applied.
func (a *applier) duplicate(d crdt.Dot, stored, raw []byte, meta cases.Meta) {
	if bytes.Equal(stored, raw) {
		a.res.Duplicates++
		return
	}
	h := cases.ContentHash(raw)
	key := append(dotKey(nil, tEquivoc, d), h[:]...)
	a.res.Equivocations++
	if _, err := a.r.get(key); err == nil || a.eqSeen[string(key)] {
		return // known already: a re-sent copy is not a new alarm
	}
	a.eqSeen[string(key)] = true
	a.wb.Set(key, appendRecord(nil, record{Via: a.via, Meta: meta, Raw: raw}), nil)
	a.newEq++
	a.r.opts.Logger.Warn("equivocation: same dot, different content", "dot", d.String(), "via", a.via)
}

// store writes an op's record, dot index and history entry, extends its chain when it is
// next, and folds it into its case.
func (a *applier) store(op *cases.Op, raw []byte, meta cases.Meta, via string) error {
	if cases.IsPeopleDoc(op.Case) {
		return a.storePeople(op, raw, meta, via) // accounts and audit trails (accounts.go)
	}
	reason := ""
	if !meta.Quarantined && a.rule.Checks(op.Dot.Origin.Node) {
		var err error
		if reason, err = a.writerRefusal(op); err != nil { // writer rule, then author rule
			return err
		}
		meta.Quarantined = reason != ""
	}
	if meta.Quarantined {
		a.storeQuarantined(op, raw, meta, via, reason)
		return nil
	}
	pos := a.record(op, raw, meta, via)
	a.wb.Set(historyKey(op.Case, pos), nil, nil)
	if via != "" {
		for _, v := range cases.Check(op) {
			// Authentic but breaking a rule of this version: applied, and listed for a person.
			a.wb.Set(indexKey("flag", []byte(op.Case), op.Dot.String()+" "+v.Field+" "+v.Code), nil, nil)
		}
	}
	t, err := a.touch(op.Case, op.Kind == cases.KindRegister)
	if err != nil {
		return err
	}
	if t.c.ApplyHead(op, meta, a.applied) {
		t.headChanged = true
	}
	t.newPos = append(t.newPos, pos)
	a.workflowStored(op, t, via) // resident-ID index, accusation stubs (workflow.go)
	if !t.reindex {
		t.reindex = slices.ContainsFunc(op.Writes, func(w cases.Write) bool { return cases.IsIndexField(w.Field) })
	}
	a.res.Applied++
	return nil
}

// record gives an op the next feed position and writes what every held op has, applied or
// quarantined: its feed record and dot index, its place in its origin's chain.
func (a *applier) record(op *cases.Op, raw []byte, meta cases.Meta, via string) uint64 {
	a.feed++
	pos := a.feed
	a.buf = appendRecord(a.buf[:0], record{Via: via, Meta: meta, Raw: raw})
	a.wb.Set(feedKey(pos), a.buf, nil)
	a.indexDot(op.Dot, pos)
	c := a.chain(op.Dot.Origin)
	if op.Dot.Seq == c.Seq+1 {
		a.extend(op.Dot.Origin, c, raw)
	} else if op.Dot.Seq > c.MaxSeen {
		c.MaxSeen = op.Dot.Seq
	}
	a.seen[op.Dot] = raw
	return pos
}

// drain applies ops of origin o that were waiting for the gap now filled, and extends the
// chain over ops a partial stream delivered earlier.
func (a *applier) drain(o crdt.Origin) error {
	c := a.chain(o)
	for c.MaxSeen > c.Seq {
		next := crdt.Dot{Origin: o, Seq: c.Seq + 1}
		recBytes, ok := a.pendingIn[next]
		if !ok {
			v, err := a.r.get(dotKey(nil, tPending, next))
			if err == nil {
				recBytes, ok = v, true
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if ok {
			rec, op, err := decodeRecord(recBytes)
			if err != nil {
				return fmt.Errorf("pending %s: %w", next, err)
			}
			a.release(next)
			if err := a.store(&op, rec.Raw, rec.Meta, rec.Via); err != nil {
				return err
			}
			continue
		}
		if raw, ok := a.seen[next]; ok {
			a.extend(o, c, raw)
			continue
		}
		rec, err := a.r.recordByDot(next)
		if errors.Is(err, ErrNotFound) {
			return nil // still a gap
		}
		if err != nil {
			return err
		}
		a.extend(o, c, rec.Raw)
	}
	return nil
}

// extend grows origin o's chain by the op whose bytes are raw, keeping a mark every
// chainMarkEvery ops.
func (a *applier) extend(o crdt.Origin, c *chainState, raw []byte) {
	c.extend(raw)
	if c.Seq%chainMarkEvery == 0 {
		d := crdt.Dot{Origin: o, Seq: c.Seq}
		a.wb.Set(dotKey(nil, tChainMark, d), c.Hash[:], nil)
		a.marks[d] = c.Hash
	}
}

// checkHeads verifies the hash of every head whose prefix is now held, and stores the heads.
func (a *applier) checkHeads(heads []SignedHead) error {
	for _, h := range heads {
		c := a.chain(h.Origin)
		if h.Seq == 0 {
			continue
		}
		if h.Seq > c.Seq {
			// Not held contiguously yet: kept (to forward, and to verify when the gap fills).
			a.wb.Set(dotKey(nil, tHead, crdt.Dot{Origin: h.Origin, Seq: h.Seq}), append(h.Hash[:], h.Sig...), nil)
			continue
		}
		var got cases.Hash
		if h.Seq == c.Seq {
			got = c.Hash
		} else {
			var err error
			if got, err = a.r.hashAt(h.Origin, h.Seq, a.seen, a.marks); err != nil {
				return err
			}
		}
		if got != h.Hash {
			return fmt.Errorf("%w: %s ops 1..%d hash to %s, signed head says %s", ErrChainBroken, h.Origin, h.Seq, got, h.Hash)
		}
		a.wb.Set(dotKey(nil, tHead, crdt.Dot{Origin: h.Origin, Seq: h.Seq}), append(h.Hash[:], h.Sig...), nil)
	}
	return nil
}

// commit writes the per-case results, counters and chain tips, then commits synced and
// publishes the new writer state.
func (a *applier) commit() error {
	for _, t := range a.cases {
		if err := a.finishCase(t); err != nil {
			return err
		}
	}
	for _, s := range a.scopeList {
		run := a.scopes[s]
		a.wb.Set(scopeKey(s, a.r.scopeSeq[s]+1), run.buf, nil)
		a.wb.Set(scopeSeqKey(s), be64(nil, run.n), nil)
	}
	for _, d := range a.dotRuns {
		a.wb.Set(dotKey(nil, tDot, d.first), d.pos, nil)
	}
	for _, id := range a.leftList {
		if a.left[id] {
			a.wb.Set(docKey("left", id), nil, nil)
		} else {
			a.wb.Delete(docKey("left", id), nil)
		}
	}
	for _, o := range a.chainList {
		a.wb.Set(originKey(nil, tChainTip, o), encodeTip(a.chains[o]), nil)
	}
	if a.raftIndex != 0 {
		a.wb.Set(metaKey("raft-applied"), be64(nil, a.raftIndex), nil)
	}
	if !a.r.schemaCurrent {
		// The layout this build writes (runs) is newer than a version 1 store's: say so in
		// the batch that first writes it.
		if v, err := a.r.getMeta("schema"); err == nil && len(v) == 8 && binary.BigEndian.Uint64(v) < SchemaVersion {
			a.wb.Set(metaKey("schema"), be64(nil, SchemaVersion), nil)
		}
	}
	last := a.clock.Last()
	a.wb.Set(metaKey("hlc"), binary.BigEndian.AppendUint32(be64(nil, uint64(last.Wall)), last.Logical), nil)
	cases := a.r.stats.caseCount.Load() + a.newCases
	a.wb.Set(metaKey("cases"), be64(nil, cases), nil)
	if a.newEq > 0 {
		a.wb.Set(metaKey("equivocations"), be64(nil, a.r.stats.equivoc.Load()+a.newEq), nil)
	}
	if a.newQuar > 0 {
		a.wb.Set(metaKey("quarantined"), be64(nil, a.r.stats.quarantined.Load()+a.newQuar), nil)
	}
	pending := uint64(int64(a.r.stats.pending.Load()) + a.pendingDelta)
	if a.pendingDelta != 0 {
		a.wb.Set(metaKey("pending"), be64(nil, pending), nil)
	}
	pb := a.wb.build(a.r.db)
	defer pb.Close()
	if err := pb.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	r := a.r
	r.schemaCurrent = true
	*r.clock = a.clock
	for _, t := range a.cases {
		if t.dirty && !t.existed {
			r.addCase(t.id)
		}
		if t.dirty || !t.cached {
			r.heads.put(t.id, t.stored) // an unchanged head read from the cache is there already
		}
	}
	r.feedPos = a.feed
	for _, s := range a.scopeList {
		r.scopeSeq[s] = a.scopes[s].n
	}
	for _, o := range a.chainList {
		r.chains[o] = a.chains[o]
	}
	r.stats.pending.Store(pending)
	r.stats.feedPos.Store(a.feed)
	r.stats.caseCount.Store(cases)
	r.stats.equivoc.Add(a.newEq)
	r.stats.quarantined.Add(a.newQuar)
	if a.raftIndex != 0 {
		r.raftApplied = a.raftIndex
	}
	a.publishPeople()
	if a.newKeys != nil {
		r.keys.Store(a.newKeys)
	}
	r.notifyChanged()
	a.res.FeedSeq = a.feed
	return nil
}

func encodeCheckpoint(c Checkpoint) []byte {
	b := binary.AppendUvarint(nil, c.Pos)
	return append(b, c.Epoch...)
}

func decodeCheckpoint(b []byte) (Checkpoint, error) {
	pos, n := binary.Uvarint(b)
	if n <= 0 {
		return Checkpoint{}, errors.New("corrupt checkpoint")
	}
	return Checkpoint{Pos: pos, Epoch: string(b[n:])}, nil
}

// peerCheckpoint returns how far into peer's feed this replica has applied (the zero
// Checkpoint when nothing yet).
func (r *Replica) peerCheckpoint(peer string) (Checkpoint, error) {
	v, err := r.get(peerKey(peer))
	if errors.Is(err, ErrNotFound) {
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, err
	}
	return decodeCheckpoint(v)
}
