package node

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
)

// history returns a case's ops in arrival order with what the replica knows of each.
func (r *Replica) history(id string) ([]cases.Stored, error) {
	positions, err := r.historyPositions(id)
	if err != nil {
		return nil, err
	}
	out := make([]cases.Stored, 0, len(positions))
	for _, pos := range positions {
		b, err := r.get(feedKey(pos))
		if err != nil {
			return nil, fmt.Errorf("history of %s at %d: %w", id, pos, err)
		}
		rec, op, err := decodeRecord(b)
		if err != nil {
			return nil, fmt.Errorf("history of %s at %d: %w", id, pos, err)
		}
		out = append(out, cases.Stored{Op: op, Meta: rec.Meta})
	}
	return out, nil
}

// caseByID returns the case with id, folded from its full history (registers with their
// conflicts, sets, and the notes and attachment logs), and the history itself. It returns
// ErrNotFound when no op of the case is held.
func (r *Replica) caseByID(id string) (*cases.Case, []cases.Stored, error) {
	h, err := r.history(id)
	if err != nil {
		return nil, nil, err
	}
	if len(h) == 0 {
		return nil, nil, fmt.Errorf("case %q: %w", id, ErrNotFound)
	}
	return cases.Fold(id, h), h, nil
}

// caseHead returns the stored head of a case: its index fields' values and every field's
// visible dots (see cases.ApplyHead). One key read.
func (r *Replica) caseHead(id string) (*cases.Case, error) {
	v, err := r.get(caseKey(id))
	if err != nil {
		return nil, fmt.Errorf("case %q: %w", id, err)
	}
	return cases.DecodeHead(id, v)
}

// Query selects cases for a list. State or DueBefore picks an index to scan; without
// either, cases come most recently changed first, read backwards from the feed (the feed is
// the updated-at index). Region filters what the scan yields.
type Query struct {
	State     string // exact state
	Region    string // region code prefix
	DueBefore int64  // ms: cases with a deadline before this (overdue or near-due), soonest first
	Limit     int    // default 50, at most 1000
	Cursor    []byte // from the previous page's Next
}

// Page is one page of a list.
type Page struct {
	Cases []*cases.Case
	Next  []byte // nil on the last page
}

// list returns one page of cases matching q. Pages are cursor-based, so a page costs the
// same at the start and at the end of a long list.
func (r *Replica) list(q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	if q.State == "" && q.DueBefore == 0 {
		return r.listRecent(q, limit)
	}
	var lower, upper []byte
	if q.State != "" {
		lower = append(indexPrefix("state"), q.State...)
		lower = append(lower, 0)
		upper = prefixEnd(lower)
	} else {
		lower = indexPrefix("due")
		upper = append(indexPrefix("due"), be64(nil, uint64(q.DueBefore))...)
	}
	opts := &pebble.IterOptions{LowerBound: lower, UpperBound: upper}
	if q.Cursor != nil {
		if bytes.Compare(q.Cursor, lower) < 0 || bytes.Compare(q.Cursor, upper) >= 0 {
			return Page{}, ErrBadCursor
		}
		opts.LowerBound = append(append([]byte(nil), q.Cursor...), 0)
	}
	it, err := r.db.NewIter(opts)
	if err != nil {
		return Page{}, err
	}
	defer it.Close()
	var page Page
	var lastK []byte
	for ok := it.First(); ok; ok = it.Next() {
		if len(page.Cases) == limit {
			page.Next = lastK
			break
		}
		k := it.Key()
		id := string(k[bytes.LastIndexByte(k, 0)+1:])
		c, err := r.listed(id, q)
		if err != nil {
			return Page{}, err
		}
		if c != nil {
			page.Cases = append(page.Cases, c)
			lastK = append(lastK[:0], k...)
		}
	}
	return page, it.Error()
}

// listRecent lists cases most recently changed first, reading the feed backwards and keeping
// each case's first (newest) appearance. The cursor is the feed position to continue below.
func (r *Replica) listRecent(q Query, limit int) (Page, error) {
	upper := []byte{tFeed + 1}
	if q.Cursor != nil {
		// The cursor is the feed key of the newest op of the first case not yet listed.
		if len(q.Cursor) != 9 || q.Cursor[0] != tFeed {
			return Page{}, ErrBadCursor
		}
		upper = feedKey(binary.BigEndian.Uint64(q.Cursor[1:]) + 1)
	}
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tFeed}, UpperBound: upper})
	if err != nil {
		return Page{}, err
	}
	defer it.Close()
	var page Page
	seen := map[string]bool{}
	for ok := it.Last(); ok; ok = it.Prev() {
		rec, err := parseRecord(it.Value())
		if err != nil {
			return Page{}, err
		}
		id, err := cases.PeekCase(rec.Raw)
		if err != nil {
			return Page{}, err
		}
		if seen[id] || cases.IsPeopleDoc(id) || r.newerThan(id, it.Key()) { // accounts, audit trails: not cases
			continue
		}
		seen[id] = true
		if len(page.Cases) == limit {
			page.Next = append([]byte(nil), it.Key()...)
			break
		}
		c, err := r.listed(id, q)
		if err != nil {
			return Page{}, err
		}
		if c != nil {
			page.Cases = append(page.Cases, c)
		}
	}
	return page, it.Error()
}

// newerThan reports whether case id has an op after feed key k: then an earlier page listed it.
func (r *Replica) newerThan(id string, k []byte) bool {
	p := historyPrefix(id)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return false
	}
	defer it.Close()
	if !it.Last() {
		return false
	}
	hk := it.Key()
	return bytes.Compare(hk[len(hk)-8:], k[1:]) > 0
}

// listed returns case id folded from its history if it matches q's filters, else nil.
func (r *Replica) listed(id string, q Query) (*cases.Case, error) {
	if q.Region != "" || q.State != "" {
		h, err := r.caseHead(id)
		if err != nil {
			return nil, err
		}
		if q.Region != "" && !hasRegionPrefix(h, q.Region) {
			return nil, nil
		}
		if q.State != "" && string(h.State()) != q.State {
			return nil, nil
		}
	}
	c, _, err := r.caseByID(id)
	return c, err
}

func hasRegionPrefix(c *cases.Case, prefix string) bool {
	for _, reg := range c.Strings("region") {
		if len(reg) >= len(prefix) && reg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
