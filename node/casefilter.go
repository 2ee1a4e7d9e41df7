package node

import (
	"bytes"
	"hash/maphash"

	"github.com/cockroachdb/pebble/v2"
)

// caseFilter is a bloom filter, in memory, of the ids of the cases the store holds (about 10
// bits per case: 125 KB per 100,000 cases). Applying an op to a case whose head is not in the
// head cache asks it first: "absent" is certain (every case the store holds was added, and
// cases are never deleted), so a registration costs no Pebble read at all, where a lookup of
// a key that is not there still walks every level's filter blocks (BENCHMARKS.md, "Replica
// apply"). It is built on first use from the heads' keys, rebuilt twice as large when it
// fills, and only the writer holding applyMu uses it.
type caseFilter struct {
	bits []uint64
	n    int // ids added
	max  int // ids it was sized for
	seed maphash.Seed
}

const caseFilterHashes = 7

func newCaseFilter(max int) *caseFilter {
	words := (max*10 + 63) / 64
	return &caseFilter{bits: make([]uint64, words), max: max, seed: maphash.MakeSeed()}
}

func (f *caseFilter) probes(id []byte, fn func(bit uint64) bool) bool {
	h := maphash.Bytes(f.seed, id)
	h1, h2 := h&(1<<32-1), h>>32|1
	m := uint64(len(f.bits) * 64)
	for i := uint64(0); i < caseFilterHashes; i++ {
		if !fn((h1 + i*h2) % m) {
			return false
		}
	}
	return true
}

func (f *caseFilter) add(id []byte) {
	f.probes(id, func(b uint64) bool { f.bits[b/64] |= 1 << (b % 64); return true })
	f.n++
}

func (f *caseFilter) mayContain(id []byte) bool {
	return f.probes(id, func(b uint64) bool { return f.bits[b/64]&(1<<(b%64)) != 0 })
}

// mayHoldCase reports whether the store may hold case id; false is certain. Called by the
// writer holding applyMu.
func (r *Replica) mayHoldCase(id string) bool {
	if r.caseIDs == nil || r.caseIDs.n > r.caseIDs.max {
		f, err := r.buildCaseFilter()
		if err != nil {
			r.opts.Logger.Warn("case filter not built; reading heads instead", "err", err)
			return true
		}
		r.caseIDs = f
	}
	return r.caseIDs.mayContain([]byte(id))
}

// addCase records that the store now holds case id (after the commit that wrote its head).
func (r *Replica) addCase(id string) {
	if r.caseIDs != nil {
		r.caseIDs.add([]byte(id))
	}
}

// buildCaseFilter scans the heads' keys (c id 0), sized for twice the cases found.
func (r *Replica) buildCaseFilter() (*caseFilter, error) {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tCase}, UpperBound: []byte{tCase + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ids [][]byte
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[1:]
		if i := bytes.IndexByte(k, 0); i >= 0 {
			k = k[:i]
		}
		ids = append(ids, append([]byte(nil), k...))
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	f := newCaseFilter(max(2*len(ids), 1<<16))
	for _, id := range ids {
		f.add(id)
	}
	return f, nil
}
