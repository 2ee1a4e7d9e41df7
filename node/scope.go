package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
)

// Scopes. A case is in the scope of every region prefix of its region code at the county
// (6 digits), township (9) and village (12) levels below the replica's own region, and in the
// scope of each station it is assigned to. A field in conflict means the union: a case whose
// region is disputed is in the scopes of every region named.
//
// Scope names: "r" + digits for regions, "a" + station id for assignments.
var regionLevels = []int{6, 9, 12}

// ScopeOfRegion names the scope of a division code.
func ScopeOfRegion(code string) string { return "r" + code }

// ScopeOfStation names the scope of cases assigned to a station.
func ScopeOfStation(id string) string { return "a" + id }

// A scope entry is the feed position of an op in the scope, or a left-scope marker:
//
//	uvarint pos (≥ 1)        an op
//	0x00 case id             the case left the scope
//
// The entries one batch adds to a scope are consecutive in its counter and are stored as one
// run: key s scope 0 n, value the entries n, n+1, ... concatenated. A marker followed by
// another entry ends with 0x00 (ids never hold NUL); one that ends the run does not, so a run
// of one entry is exactly the entry.
func appendScopeEntry(b []byte, afterLeft bool, pos uint64, leftCase string) []byte {
	if afterLeft {
		b = append(b, 0)
	}
	if leftCase != "" {
		b = append(b, 0)
		return append(b, leftCase...)
	}
	return binary.AppendUvarint(b, pos)
}

// nextScopeEntry parses the first entry of a run: the position of an op (leftCase "") or a
// marker, and the rest of the run.
func nextScopeEntry(v []byte) (pos uint64, leftCase string, rest []byte, err error) {
	if len(v) > 0 && v[0] == 0 {
		v = v[1:]
		end := bytes.IndexByte(v, 0)
		if end < 0 {
			return 0, string(v), nil, nil
		}
		if end == 0 {
			return 0, "", nil, errors.New("corrupt scope entry: empty case id")
		}
		return 0, string(v[:end]), v[end+1:], nil
	}
	pos, n := binary.Uvarint(v)
	if n <= 0 || pos == 0 {
		return 0, "", nil, errors.New("corrupt scope entry")
	}
	return pos, "", v[n:], nil
}

// historyPositions returns the feed positions of a case's committed ops, ascending.
func (r *Replica) historyPositions(id string) ([]uint64, error) {
	p := historyPrefix(id)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []uint64
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		out = append(out, binary.BigEndian.Uint64(k[len(k)-8:]))
	}
	return out, it.Error()
}

// ScopeEntry is one entry of a scope feed: an op of a case in the scope, or a marker that a
// case left it (Op nil, LeftCase set).
type ScopeEntry struct {
	N        uint64 // position in the scope's counter: the checkpoint to resume after
	Pos      uint64 // position in the replica's feed
	Via      string // the peer the op came from ("" for local)
	Raw      []byte // canonical op bytes
	Meta     cases.Meta
	LeftCase string
}

// ReadStats counts keys read by a feed reader, so tests can show that a scope's catch-up
// reads keys in proportion to the scope, not to the store.
type ReadStats struct {
	KeysRead int
}

// scopeFeed returns up to limit entries of scope after position after, skipping ops that
// came from skipVia (never echo) but for its own ops flagged here (receiptEcho). Entries
// come in scope order; next is the checkpoint to resume from (it moves past skipped entries
// too). It reads only the scope's own index and the ops it names.
func (r *Replica) scopeFeed(scope string, after uint64, limit int, skipVia string, stats *ReadStats) (entries []ScopeEntry, next uint64, err error) {
	p := scopePrefix(scope)
	next = after
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, next, err
	}
	defer it.Close()
	// The run holding entry after+1 starts at or before it.
	if !it.SeekLT(scopeKey(scope, after+2)) {
		it.First()
	}
	for ; it.Valid() && len(entries) < limit; it.Next() {
		if stats != nil {
			stats.KeysRead++
		}
		k, v := it.Key(), it.Value()
		if len(k) != len(p)+8 {
			return nil, next, fmt.Errorf("scope %s: corrupt key", scope)
		}
		n := binary.BigEndian.Uint64(k[len(p):])
		for ; len(v) > 0 && len(entries) < limit; n++ {
			pos, left, rest, err := nextScopeEntry(v)
			if err != nil {
				return nil, next, fmt.Errorf("scope %s entry %d: %w", scope, n, err)
			}
			v = rest
			if n <= after {
				continue
			}
			next = n
			e := ScopeEntry{N: n}
			if left != "" {
				e.LeftCase = left
				entries = append(entries, e)
				continue
			}
			b, err := r.get(feedKey(pos))
			if stats != nil {
				stats.KeysRead++
			}
			if err != nil {
				return nil, next, fmt.Errorf("scope %s entry %d → feed %d: %w", scope, e.N, pos, err)
			}
			rec, err := parseRecord(b)
			if err != nil {
				return nil, next, err
			}
			if skipVia != "" && rec.Via == skipVia && !receiptEcho(rec, skipVia) {
				continue
			}
			e.Pos, e.Via, e.Raw, e.Meta = pos, rec.Via, rec.Raw, rec.Meta
			entries = append(entries, e)
		}
	}
	return entries, next, it.Error()
}

// scopeSeq returns the current counter of a scope: how many entries it holds.
func (r *Replica) scopeCount(scope string) uint64 {
	v, err := r.get(scopeSeqKey(scope))
	if err != nil || len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// FeedEntry is one entry of the replica's whole feed.
type FeedEntry struct {
	Pos  uint64
	Via  string
	Raw  []byte
	Meta cases.Meta
}

// feed returns up to limit entries of the whole feed after position after, skipping ops
// that came from skipVia; next is the position to resume after. It is one sequential scan.
func (r *Replica) feed(after uint64, limit int, skipVia string) (entries []FeedEntry, next uint64, err error) {
	next = after
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: feedKey(after + 1), UpperBound: []byte{tFeed + 1}})
	if err != nil {
		return nil, next, err
	}
	defer it.Close()
	for it.First(); it.Valid() && len(entries) < limit; it.Next() {
		next = binary.BigEndian.Uint64(it.Key()[1:])
		rec, err := parseRecord(it.Value())
		if err != nil {
			return nil, next, fmt.Errorf("feed %d: %w", next, err)
		}
		if skipVia != "" && rec.Via == skipVia {
			continue
		}
		entries = append(entries, FeedEntry{Pos: next, Via: rec.Via, Raw: append([]byte(nil), rec.Raw...), Meta: rec.Meta})
	}
	return entries, next, it.Error()
}
