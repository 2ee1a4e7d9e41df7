package node

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
)

// Audit records are ops of the audit trails (cases.AuditDocID); the replica indexes each
// applied one, in the secondary index table, by arrival, by case and by account, so the hub
// can browse them newest first without scanning the feed:
//
//	x audit 0 pos                 → (empty)
//	x audit-case 0 case 0 pos     → (empty)
//	x audit-by 0 account 0 pos    → (empty)
const (
	auditAll  = "audit"
	auditCase = "audit-case"
	auditBy   = "audit-by"
)

func auditKey(index, value string, pos uint64) []byte {
	b := indexPrefix(index)
	if value != "" {
		b = append(append(b, value...), 0)
	}
	return be64(b, pos)
}

// indexAudit indexes the audit op at feed position pos.
func (a *applier) indexAudit(op *cases.Op, pos uint64) {
	recs := cases.AuditRecords(op)
	if len(recs) == 0 {
		return
	}
	a.wb.Set(auditKey(auditAll, "", pos), nil, nil)
	a.wb.Set(auditKey(auditBy, op.Author, pos), nil, nil)
	var seen []string
	for _, rec := range recs {
		for _, c := range rec.Cases {
			if cases.ValidID(c) && !contains(seen, c) {
				seen = append(seen, c)
				a.wb.Set(auditKey(auditCase, c, pos), nil, nil)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// AuditQuery selects audit records: of one case, or by one account, or all; newest first,
// before feed position Before (0: from the newest).
type AuditQuery struct {
	Case    string
	Account string
	Before  uint64
	Limit   int // default 100, at most 1000
}

// AuditEntry is one audit record with who wrote it, where and when.
type AuditEntry struct {
	Pos        uint64 // feed position at this replica (the cursor)
	Node       string // where the read happened (the op's origin)
	Account    string // who read (the op's author)
	Stamp      int64  // when, by the node's clock (ms)
	ReceivedAt int64  // when the first hub received it (ms; 0 before)
	Record     cases.AuditRecord
}

// Audit returns audit records matching q, newest first; next is the Before of the next page
// (0 on the last).
func (r *Replica) Audit(q AuditQuery) (entries []AuditEntry, next uint64, err error) {
	done, err := r.reading()
	if err != nil {
		return nil, 0, err
	}
	defer done()
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	index, value := auditAll, ""
	switch {
	case q.Case != "":
		index, value = auditCase, q.Case
	case q.Account != "":
		index, value = auditBy, q.Account
	}
	lower := auditKey(index, value, 0)
	lower = lower[:len(lower)-8]
	upper := prefixEnd(lower)
	if q.Before != 0 {
		upper = auditKey(index, value, q.Before)
	}
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	for ok := it.Last(); ok; ok = it.Prev() {
		k := it.Key()
		if len(k) < len(lower)+8 {
			continue
		}
		pos := binary.BigEndian.Uint64(k[len(k)-8:])
		if len(entries) == limit {
			return entries, entries[len(entries)-1].Pos, nil
		}
		b, err := r.get(feedKey(pos))
		if err != nil {
			return nil, 0, fmt.Errorf("audit record at %d: %w", pos, err)
		}
		rec, op, err := decodeRecord(b)
		if err != nil {
			return nil, 0, fmt.Errorf("audit record at %d: %w", pos, err)
		}
		for _, ar := range cases.AuditRecords(&op) {
			if q.Account != "" && op.Author != q.Account {
				continue
			}
			entries = append(entries, AuditEntry{Pos: pos, Node: op.Dot.Origin.Node, Account: op.Author, Stamp: op.Stamp.Wall,
				ReceivedAt: rec.Meta.ReceivedAt, Record: ar})
		}
	}
	return entries, 0, it.Error()
}
