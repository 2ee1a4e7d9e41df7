package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// What the replica offers its peers' protocol (sync/) beyond Apply and the feeds: who may
// write what, signed heads at any point of its own chain, session signatures, change
// notification, and small documents (enrollments, keys) kept beside the cases.

// WriterRule is what a hub knows of a station that pushes ops: its node id and the scopes
// it serves. A station may write a case it created, or one that is or ever was in one of
// its scopes; an op on any other case is quarantined — stored, chained and forwarded, but
// never folded into its case — and listed for a person (Quarantined). It never blocks the
// ops behind it. The check runs inside Apply, so every member of a Raft hub repeats it.
//
// A hub peer (AnyOrigin: a county hub pushing to its city hub) forwards the ops of its
// stations beside its own, so it may send ops of any origin but the receiving replica's
// own, and every op it sends, whatever its origin, is held to its scopes: it may write a
// case it or one of its stations registered (the registration came through it), or one
// that is or ever was in one of its scopes.
type WriterRule struct {
	Node      string
	Scopes    []string
	AnyOrigin bool
}

// Refuses reports whether an op of origin may not be sent under the rule at all, which
// refuses the whole batch (ErrForgedOrigin): for a station, any origin but its own; for a
// hub peer, the receiving replica's own origin (self), which no peer may send it. A nil
// rule refuses nothing.
func (w *WriterRule) Refuses(origin, self string) bool {
	switch {
	case w == nil:
		return false
	case w.AnyOrigin:
		return origin == self
	}
	return origin != w.Node
}

// Checks reports whether ops of origin are held to the rule (quarantined when their writer
// may not write the case): a station's own ops, and every op a hub peer sends.
func (w *WriterRule) Checks(origin string) bool {
	return w != nil && (w.AnyOrigin || origin == w.Node)
}

// StreamName names the checkpoint of one stream of a peer's: the peer's whole feed when
// stream is "", else one scope of it. Node ids never contain '/'.
func StreamName(peer, stream string) string {
	if stream == "" {
		return peer
	}
	return peer + "/" + stream
}

// mayWrite reports whether the batch's writer may write op's case (see WriterRule).
func (a *applier) mayWrite(op *cases.Op) (bool, error) {
	t, err := a.touch(op.Case, op.Kind == cases.KindRegister)
	if err != nil {
		return false, err
	}
	if !t.existed && t.c.Created == (crdt.Dot{}) {
		// Only a registration creates a case: any other op on a case the hub has never
		// seen would let a station claim an id another township is about to register.
		return op.Kind == cases.KindRegister, nil
	}
	if t.c.Created.Origin.Node == a.rule.Node {
		return true, nil
	}
	now := a.r.derive(t.c).scopes
	for _, s := range a.rule.Scopes {
		if slices.Contains(now, s) {
			return true, nil
		}
		if _, err := a.r.get(everKey(s, op.Case)); err == nil {
			return true, nil
		} else if !errors.Is(err, ErrNotFound) {
			return false, err
		}
	}
	if a.rule.AnyOrigin && t.c.Created != (crdt.Dot{}) {
		// A hub peer may write the cases its stations registered wherever they lie: their
		// registration came through it (in this batch, or recorded with it as via).
		if _, ok := a.seen[t.c.Created]; ok {
			return true, nil
		}
		rec, err := a.r.recordByDot(t.c.Created)
		if err == nil {
			return rec.Via == a.via, nil
		} else if !errors.Is(err, ErrNotFound) {
			return false, err
		}
	}
	return false, nil
}

// storeQuarantined keeps an op its writer had no right to write: in the feed (so that it
// is forwarded upward and its origin's chain stays whole) and listed for a person, but
// with no history entry, so no fold of its case ever sees it, and in no scope.
//
// reason says why (writer_out_of_scope, author_<refusal>; "" when an upstream replica
// quarantined it): stored after the case id and a NUL.
func (a *applier) storeQuarantined(op *cases.Op, raw []byte, meta cases.Meta, via, reason string) {
	pos := a.record(op, raw, meta, via)
	v := []byte(op.Case)
	if reason != "" {
		v = append(append(v, 0), reason...)
	}
	a.wb.Set(be64([]byte{tQuarant}, pos), v, nil)
	a.newQuar++
	a.res.Quarantined++
	a.r.opts.Logger.Warn("op quarantined: its writer or author may not write this", "dot", op.Dot.String(), "via", via, "reason", reason)
}

// QuarantinedOp is an op kept aside for a person.
type QuarantinedOp struct {
	Pos  uint64
	Via  string
	Op   cases.Op
	Meta cases.Meta
	// Reason is why it was kept aside: writer_out_of_scope (the writer rule), author_<code>
	// (its author may not have written it; the code is the authorization table's refusal),
	// as the replica that decided it said (one that took it quarantined from upstream says
	// writer_out_of_scope).
	Reason string
}

// Quarantined lists up to limit quarantined ops after feed position after, in feed order.
func (r *Replica) Quarantined(after uint64, limit int) ([]QuarantinedOp, error) {
	done, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: be64([]byte{tQuarant}, after+1), UpperBound: []byte{tQuarant + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []QuarantinedOp
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		pos := binary.BigEndian.Uint64(it.Key()[1:])
		b, err := r.get(feedKey(pos))
		if err != nil {
			return nil, fmt.Errorf("quarantined op at %d: %w", pos, err)
		}
		rec, op, err := decodeRecord(b)
		if err != nil {
			return nil, fmt.Errorf("quarantined op at %d: %w", pos, err)
		}
		q := QuarantinedOp{Pos: pos, Via: rec.Via, Op: op, Meta: rec.Meta}
		q.Reason = reasonWriter // the only reason before authors were judged
		if v := it.Value(); bytes.IndexByte(v, 0) >= 0 {
			q.Reason = string(v[bytes.IndexByte(v, 0)+1:])
		}
		out = append(out, q)
	}
	return out, it.Error()
}

// Notify returns a channel that is closed at the next commit (or at Close): a feed reader
// that has caught up waits on it instead of polling.
func (r *Replica) Notify() <-chan struct{} { return *r.changed.Load() }

func (r *Replica) notifyChanged() {
	ch := make(chan struct{})
	close(*r.changed.Swap(&ch))
}

// SignHeadAt signs this node's chain head at seq (at most its tip), so that a batch of its
// ops can carry a head that ends exactly where the batch does.
func (r *Replica) SignHeadAt(seq uint64) (SignedHead, error) {
	done, err := r.reading()
	if err != nil {
		return SignedHead{}, err
	}
	defer done()
	r.applyMu.Lock()
	c := r.chains[r.origin]
	var tip uint64
	var tipHash cases.Hash
	if c != nil {
		tip, tipHash = c.Seq, c.Hash
	}
	r.applyMu.Unlock()
	if seq > tip {
		return SignedHead{}, fmt.Errorf("sign head at %d: chain of %s ends at %d", seq, r.origin, tip)
	}
	h := SignedHead{Origin: r.origin, Seq: seq, Hash: tipHash}
	if seq < tip {
		if h.Hash, err = r.hashAt(r.origin, seq, nil, nil); err != nil {
			return SignedHead{}, fmt.Errorf("sign head at %d: %w", seq, err)
		}
	}
	h.Sig = ed25519.Sign(r.signingKey(), headMessage(h.Origin, h.Seq, h.Hash))
	return h, nil
}

// SessionSignature signs a sync session's transcript with the node's key. The fixed prefix
// keeps such a signature from ever being taken for a chain head.
func (r *Replica) SessionSignature(transcript []byte) []byte {
	return ed25519.Sign(r.signingKey(), SessionMessage(transcript))
}

// SessionMessage is what a session signature covers.
func SessionMessage(transcript []byte) []byte {
	return append([]byte("fengqiao sync session v1\x00"), transcript...)
}

// Doc returns the small document kind/id (ErrNotFound when there is none).
func (r *Replica) Doc(kind, id string) ([]byte, error) {
	done, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	v, err := r.get(docKey(kind, id))
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), v...), nil
}

// Docs calls fn for every document of kind, in id order.
func (r *Replica) Docs(kind string, fn func(id string, value []byte) error) error {
	done, err := r.reading()
	if err != nil {
		return err
	}
	defer done()
	p := docKey(kind, "")
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(string(it.Key()[len(p):]), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// PutDoc stores (value non-nil) or deletes (nil) the document kind/id, synced.
func (r *Replica) PutDoc(ctx context.Context, kind, id string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if r.closed {
		return ErrClosed
	}
	var err error
	if value == nil {
		err = r.db.Delete(docKey(kind, id), pebble.Sync)
	} else {
		err = r.db.Set(docKey(kind, id), value, pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("put %s %s: %w", kind, id, err)
	}
	return nil
}

// Secret returns the node's secret called name, made by generate and stored on first use
// (a bundle encryption identity, for example). It never leaves the store otherwise.
func (r *Replica) Secret(name string, generate func() ([]byte, error)) ([]byte, error) {
	v, err := r.Doc("secret", name)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return v, err
	}
	r.secretMu.Lock()
	defer r.secretMu.Unlock()
	if v, err := r.Doc("secret", name); err == nil || !errors.Is(err, ErrNotFound) {
		return v, err
	}
	v, err = generate()
	if err != nil {
		return nil, fmt.Errorf("generate secret %s: %w", name, err)
	}
	return v, r.PutDoc(context.Background(), "secret", name, v)
}

// LeftMarker says a case left the scope of a stream, after the first After ops of a batch.
type LeftMarker struct {
	Case  string
	After int
}

// markLeft records, for commit, that case id is (left) or is no longer (!left) a stub. Only
// a case the batch's peer marked is ever unmarked, so an op on any other case costs nothing.
func (a *applier) markLeft(id string, left bool) {
	if !left && a.left[id] == false {
		if _, ok := a.left[id]; !ok {
			if _, err := a.r.get(docKey("left", id)); err != nil {
				return
			}
		}
	}
	if a.left == nil {
		a.left = map[string]bool{}
	}
	if _, ok := a.left[id]; !ok {
		a.leftList = append(a.leftList, id)
	}
	a.left[id] = left
}

// IsLeft reports whether case id left this replica's scope: the station keeps it as a
// read-only stub, its personal fields hidden (see server).
func (r *Replica) IsLeft(id string) bool {
	_, err := r.Doc("left", id)
	return err == nil
}

// CaseScopes returns the scopes case id is in now (sorted), from its head.
func (r *Replica) CaseScopes(id string) ([]string, error) {
	c, err := r.CaseHead(id)
	if err != nil {
		return nil, err
	}
	return r.derive(c).scopes, nil
}

// RaftApplied returns the index of the last Raft log entry applied to this replica (0 for a
// replica that is no Raft member's state machine).
func (r *Replica) RaftApplied() uint64 {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	return r.raftApplied
}

// KeyspaceDigest returns a SHA-256 over every key and value of the store, in key order:
// replicas fed the same batches have the same digest (a Raft hub's members must).
func (r *Replica) KeyspaceDigest() ([32]byte, error) {
	var sum [32]byte
	done, err := r.reading()
	if err != nil {
		return sum, err
	}
	defer done()
	it, err := r.db.NewIter(nil)
	if err != nil {
		return sum, err
	}
	defer it.Close()
	h := sha256.New()
	for it.First(); it.Valid(); it.Next() {
		h.Write(binary.AppendUvarint(nil, uint64(len(it.Key()))))
		h.Write(it.Key())
		v := it.Value()
		h.Write(binary.AppendUvarint(nil, uint64(len(v))))
		h.Write(v)
	}
	if err := it.Error(); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// Checkpoint writes a consistent copy of the store into dir (which must not exist), as of
// a batch boundary: writers wait while it is taken. Files are hard-linked where the
// filesystem allows, so it is cheap. A hub member's snapshot is one.
func (r *Replica) Checkpoint(dir string) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if err := r.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint into %s: %w", dir, err)
	}
	return nil
}

// DocPut writes (Value non-nil) or deletes (nil) the document Kind/ID within a batch; with
// IfAbsent it writes only when there is none (the first of two members' generated secrets
// wins, on every member alike).
type DocPut struct {
	Kind, ID string
	Value    []byte
	IfAbsent bool
}

func (a *applier) putDocs(docs []DocPut) error {
	for _, d := range docs {
		key := docKey(d.Kind, d.ID)
		if d.IfAbsent {
			if _, err := a.r.get(key); err == nil {
				continue
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if d.Value == nil {
			a.wb.Delete(key, nil)
		} else {
			a.wb.Set(key, d.Value, nil)
		}
	}
	return nil
}
