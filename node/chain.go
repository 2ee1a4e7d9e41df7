package node

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// chainState is what the replica holds of one origin's hash chain: the contiguous prefix
// 1..Seq with the chain hash at Seq, and the highest seq stored or pending beyond it.
type chainState struct {
	Seq     uint64
	Hash    cases.Hash
	MaxSeen uint64 // > Seq when ops beyond a gap are held (pending or, on a partial stream, applied)
}

func (c *chainState) extend(raw []byte) {
	c.Hash = cases.ChainHash(c.Hash, raw)
	c.Seq++
	if c.MaxSeen < c.Seq {
		c.MaxSeen = c.Seq
	}
}

func encodeTip(c *chainState) []byte {
	b := be64(nil, c.Seq)
	b = append(b, c.Hash[:]...)
	return be64(b, c.MaxSeen)
}

func (r *Replica) loadChains() error {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tChainTip}, UpperBound: []byte{tChainTip + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		o, err := parseOriginKey(it.Key())
		if err != nil {
			return err
		}
		v := it.Value()
		if len(v) != 48 {
			return fmt.Errorf("chain tip of %s: corrupt", o)
		}
		c := &chainState{Seq: binary.BigEndian.Uint64(v), MaxSeen: binary.BigEndian.Uint64(v[40:])}
		copy(c.Hash[:], v[8:40])
		r.chains[o] = c
	}
	return it.Error()
}

func parseOriginKey(k []byte) (crdt.Origin, error) {
	if len(k) < 6 {
		return crdt.Origin{}, errors.New("short origin key")
	}
	for i := 1; i < len(k); i++ {
		if k[i] == 0 {
			if len(k) < i+5 {
				break
			}
			return crdt.Origin{Node: string(k[1:i]), Incarnation: binary.BigEndian.Uint32(k[i+1 : i+5])}, nil
		}
	}
	return crdt.Origin{}, errors.New("corrupt origin key")
}

// SignedHead is an origin's signature over its chain hash at seq: "my ops 1..Seq hash to
// Hash". Heads travel with the ops (per batch or bundle, not per op).
type SignedHead struct {
	Origin crdt.Origin
	Seq    uint64
	Hash   cases.Hash
	Sig    []byte // Ed25519 over headMessage
}

// headMessage is what a head's signature covers; the prefix keeps it from ever meaning
// anything else.
func headMessage(o crdt.Origin, seq uint64, h cases.Hash) []byte {
	b := []byte("fengqiao chain head v1\x00")
	b = append(b, o.Node...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, o.Incarnation)
	b = be64(b, seq)
	return append(b, h[:]...)
}

// Verify checks the head's signature with the origin's public key.
func (h SignedHead) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, headMessage(h.Origin, h.Seq, h.Hash), h.Sig) {
		return fmt.Errorf("%w: %s at %d", ErrBadSignature, h.Origin, h.Seq)
	}
	return nil
}

// Head returns this node's signed chain head over every op it has written.
func (r *Replica) Head() SignedHead {
	r.applyMu.Lock()
	c := r.chains[r.origin]
	var h SignedHead
	h.Origin = r.origin
	if c != nil {
		h.Seq, h.Hash = c.Seq, c.Hash
	}
	r.applyMu.Unlock()
	h.Sig = ed25519.Sign(r.signingKey(), headMessage(h.Origin, h.Seq, h.Hash))
	return h
}

// ChainTip returns the contiguous prefix held of origin o and its chain hash.
func (r *Replica) ChainTip(o crdt.Origin) (seq uint64, hash cases.Hash) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if c := r.chains[o]; c != nil {
		return c.Seq, c.Hash
	}
	return 0, cases.Hash{}
}

// verifyHead checks a signed head against the ops held: the signature with pub, then the
// chain hash at head.Seq recomputed from the stored ops. It fails with ErrChainBroken when
// the ops held differ from what the origin signed (an op dropped or altered), and with
// ErrNotFound when the prefix 1..head.Seq is not held contiguously yet.
func (r *Replica) verifyHead(h SignedHead, pub ed25519.PublicKey) error {
	if err := h.Verify(pub); err != nil {
		return err
	}
	got, err := r.hashAt(h.Origin, h.Seq, nil, nil)
	if err != nil {
		return err
	}
	if got != h.Hash {
		return fmt.Errorf("%w: %s ops 1..%d hash to %s, head says %s", ErrChainBroken, h.Origin, h.Seq, got, h.Hash)
	}
	return nil
}

// hashAt recomputes origin o's chain hash at seq from the nearest mark at or below it.
// extraOps and extraMarks supply raw ops and marks not yet committed (the batch being
// applied).
func (r *Replica) hashAt(o crdt.Origin, seq uint64, extraOps map[crdt.Dot][]byte, extraMarks map[crdt.Dot]cases.Hash) (cases.Hash, error) {
	var h cases.Hash
	if seq == 0 {
		return h, nil
	}
	mark := seq / chainMarkEvery * chainMarkEvery
	if mark > 0 {
		md := crdt.Dot{Origin: o, Seq: mark}
		if mh, ok := extraMarks[md]; ok {
			h = mh
		} else {
			v, err := r.get(dotKey(nil, tChainMark, md))
			if err != nil {
				return h, fmt.Errorf("chain mark %s at %d: %w", o, mark, err)
			}
			copy(h[:], v)
		}
	}
	for s := mark + 1; s <= seq; s++ {
		d := crdt.Dot{Origin: o, Seq: s}
		raw, ok := extraOps[d]
		if !ok {
			rec, err := r.recordByDot(d)
			if err != nil {
				return h, fmt.Errorf("chain of %s at %d: %w", o, s, err)
			}
			raw = rec.Raw
		}
		h = cases.ChainHash(h, raw)
	}
	return h, nil
}

// The dot index. The ops of one origin that a batch stores with consecutive seqs are indexed
// by one run: key o node 0 inc seq, value the feed position of seq as a uvarint, then for
// seq+1, ... each position minus the previous one minus 1 (a batch stores them in seq order,
// so positions grow; a local batch's are consecutive, all zeros). A run of one is exactly the
// single position the index held before runs.
type dotRun struct {
	first   crdt.Dot
	last    uint64 // seq of the last op in the run
	lastPos uint64
	pos     []byte
}

// indexDot adds the op d, stored at feed position pos, to the batch's dot index runs.
func (a *applier) indexDot(d crdt.Dot, pos uint64) {
	if i, ok := a.dotOpen[d.Origin]; ok && a.dotRuns[i].last+1 == d.Seq && a.dotRuns[i].lastPos < pos {
		run := &a.dotRuns[i]
		run.pos = binary.AppendUvarint(run.pos, pos-run.lastPos-1)
		run.last, run.lastPos = d.Seq, pos
		return
	}
	a.dotOpen[d.Origin] = len(a.dotRuns)
	a.dotRuns = append(a.dotRuns, dotRun{first: d, last: d.Seq, lastPos: pos, pos: binary.AppendUvarint(nil, pos)})
}

// dotPos returns the feed position of the op named by d, or ErrNotFound: the entry of d in
// the run that starts at or before it.
func (r *Replica) dotPos(d crdt.Dot) (uint64, error) {
	if d.Seq == 0 || d.Seq == 1<<64-1 {
		return 0, ErrNotFound
	}
	lo := originKey(nil, tDot, d.Origin)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: dotKey(nil, tDot, crdt.Dot{Origin: d.Origin, Seq: d.Seq + 1})})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return 0, err
		}
		return 0, ErrNotFound
	}
	k, v := it.Key(), it.Value()
	if len(k) != len(lo)+8 {
		return 0, fmt.Errorf("dot index of %s: corrupt key", d)
	}
	var pos uint64
	for i, skip := 0, d.Seq-binary.BigEndian.Uint64(k[len(lo):]); ; i, skip = i+1, skip-1 {
		x, n := binary.Uvarint(v)
		if n == 0 {
			return 0, ErrNotFound // the run ends before d
		}
		if i == 0 {
			pos = x
		} else {
			pos += x + 1
		}
		if n < 0 || pos == 0 || pos < x {
			return 0, fmt.Errorf("dot index of %s: corrupt", d)
		}
		if skip == 0 {
			return pos, nil
		}
		v = v[n:]
	}
}

// recordByDot reads the stored record of the op named by d.
func (r *Replica) recordByDot(d crdt.Dot) (record, error) {
	pos, err := r.dotPos(d)
	if err != nil {
		return record{}, err
	}
	b, err := r.get(feedKey(pos))
	if err != nil {
		return record{}, fmt.Errorf("feed %d for %s: %w", pos, d, err)
	}
	return parseRecord(b)
}

// WriteSignedHead writes h as [node, incarnation, seq, hash, sig]: the form heads travel in
// (sync frames, bundles, the hub's Raft entries).
func WriteSignedHead(w *mp.Writer, h SignedHead) {
	w.ArrayLen(5)
	w.String(h.Origin.Node)
	w.Uint(uint64(h.Origin.Incarnation))
	w.Uint(h.Seq)
	w.Bin(h.Hash[:])
	w.Bin(h.Sig)
}

// ReadSignedHead reads what WriteSignedHead wrote, checking every length; the signature
// aliases rd's input. Errors are left in rd.
func ReadSignedHead(rd *mp.Reader, maxNodeLen int) SignedHead {
	var h SignedHead
	rd.ExpectArray(5, 5)
	h.Origin.Node = rd.String(maxNodeLen)
	inc := rd.Uint()
	if inc > 1<<32-1 {
		rd.Failf("incarnation %d out of range", inc)
	}
	h.Origin.Incarnation = uint32(inc)
	h.Seq = rd.Uint()
	if hb := rd.Bytes(32); len(hb) == 32 {
		copy(h.Hash[:], hb)
	} else if rd.Err() == nil {
		rd.Failf("head hash of %d bytes", len(hb))
	}
	h.Sig = rd.Bytes(ed25519.SignatureSize)
	return h
}
