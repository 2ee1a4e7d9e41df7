package node

import (
	"encoding/binary"

	"github.com/fengqiao/fengqiao/crdt"
)

// Tables: the first byte of every key.
const (
	tMeta    = 'm' // m name                        → meta values (identity, epoch, counters)
	tFeed    = 'f' // f pos                         → op record (via, meta, canonical op)
	tDot     = 'o' // o node 0 inc seq              → pos
	tHistory = 'k' // k case 0 pos                  → (empty) the case's ops in arrival order
	tCase    = 'c' // c case 0                      → case summary (casestore.go)
	//                 c case 0 'r' field          → one register's state (cases.EncodeRegister)
	//                 c case 0 's' field          → one set's state (cases.EncodeSet)
	tScope     = 's' // s scope 0 n                   → scope entry (pos, or a left-scope marker)
	tScopeSeq  = 'n' // n scope                       → the scope's counter
	tIndex     = 'x' // x name 0 value 0 case         → (empty) secondary indexes
	tChainTip  = 't' // t node 0 inc                  → chain tip (seq, hash)
	tChainMark = 'g' // g node 0 inc seq              → chain hash at seq, every chainMarkEvery ops
	tHead      = 'h' // h node 0 inc seq              → signed head
	tPending   = 'p' // p node 0 inc seq              → op record waiting for a gap to fill
	tEquivoc   = 'q' // q node 0 inc seq hash         → op record of an equivocation
	tPeer      = 'r' // r peer                        → checkpoint of what we applied from peer
	tEver      = 'e' // e scope 0 case                → (empty) the case was once in scope
	tQuarant   = 'z' // z pos                         → why the op at feed pos is quarantined
	tDoc       = 'd' // d kind 0 id                   → small documents (enrollments, keys, acks)
)

// chainMarkEvery is how often a chain hash is kept beside the tip, so verifying a head
// behind the tip recomputes at most this many ops.
const chainMarkEvery = 64

func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func originKey(b []byte, t byte, o crdt.Origin) []byte {
	b = append(b, t)
	b = append(b, o.Node...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, o.Incarnation)
}

func dotKey(b []byte, t byte, d crdt.Dot) []byte { return be64(originKey(b, t, d.Origin), d.Seq) }

func feedKey(pos uint64) []byte { return be64([]byte{tFeed}, pos) }

func caseKey(id string) []byte {
	b := append([]byte{tCase}, id...)
	return append(b, 0)
}

func historyPrefix(id string) []byte {
	b := append([]byte{tHistory}, id...)
	return append(b, 0)
}

func historyKey(id string, pos uint64) []byte { return be64(historyPrefix(id), pos) }

func scopePrefix(scope string) []byte {
	b := append([]byte{tScope}, scope...)
	return append(b, 0)
}

func scopeKey(scope string, n uint64) []byte { return be64(scopePrefix(scope), n) }

func scopeSeqKey(scope string) []byte { return append([]byte{tScopeSeq}, scope...) }

func everKey(scope, id string) []byte {
	b := append([]byte{tEver}, scope...)
	b = append(b, 0)
	return append(b, id...)
}

func docKey(kind, id string) []byte {
	b := append([]byte{tDoc}, kind...)
	b = append(b, 0)
	return append(b, id...)
}

func metaKey(name string) []byte { return append([]byte{tMeta}, name...) }

func peerKey(peer string) []byte { return append([]byte{tPeer}, peer...) }

func indexPrefix(name string) []byte {
	b := append([]byte{tIndex}, name...)
	return append(b, 0)
}

func indexKey(name string, value []byte, id string) []byte {
	b := append(indexPrefix(name), value...)
	b = append(b, 0)
	return append(b, id...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
