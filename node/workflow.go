package node

import (
	"crypto/sha256"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// What the replica does for the workflow (package cases holds the rules): the scopes of
// configuration documents and of accusations, the deadline a case is indexed under, the
// context of a local transition, the resident-ID index that repeat detection reads, and the
// stub an accusation leaves at the accused unit's own station.

// ScopeConfig names the scope of the configuration documents in force at this replica's
// region (the county's calendar and metric definitions, and its city's): every station of
// a hub streams it (sync's Enrollment.Scopes), so configuration set at the hub reaches its
// stations through the op log like any case.
const ScopeConfig = "g"

// workflowScopes adjusts the scopes derive computed from a case's region and assignees: a
// configuration document is in ScopeConfig when it was set for this replica's region or a
// region above it, and in no other scope; an accusation is never in a scope of the accused
// unit's stations, whatever its region or assignment (R22 Art 30(3), 46(5)).
func (r *Replica) workflowScopes(c *cases.Case, scopes []string) []string {
	if cases.IsConfigID(c.ID) {
		if _, region, ok := cases.ParseConfigID(c.ID); ok && strings.HasPrefix(r.region, region) {
			return []string{ScopeConfig}
		}
		return nil
	}
	stations, regions := cases.ExcludedScopes(c)
	if len(stations) == 0 && len(regions) == 0 {
		return scopes
	}
	return slices.DeleteFunc(scopes, func(s string) bool {
		return slices.ContainsFunc(stations, func(st string) bool { return s == ScopeOfStation(st) }) ||
			slices.ContainsFunc(regions, func(rg string) bool { return s == ScopeOfRegion(rg) })
	})
}

// caseDue is the instant (ms) a case is indexed under in the due index: a lower bound of its
// next duty deadline on any calendar (cases.DueBound), so the list of what falls due before
// an instant is a superset that readers judge exactly with the calendar in force. It needs
// no calendar, so a new calendar never leaves the index stale.
func (r *Replica) caseDue(c *cases.Case) int64 {
	return cases.DueBound(c, r.hubReceipt)
}

// hubReceipt returns when the first hub received the op with dot d (its committed record's
// Meta.ReceivedAt), or 0. Only flagged writes ask, which are rare; an op of the batch being
// applied is not committed yet and gives 0, which makes DueBound index the case at its
// lowest bound until its next change.
func (r *Replica) hubReceipt(d crdt.Dot) int64 {
	rec, err := r.recordByDot(d)
	if err != nil {
		return 0
	}
	return rec.Meta.ReceivedAt
}

// transition turns a local change with To into the writes of its transition op, judged at
// the batch's time (a hub's is its Raft entry's), at this replica's region, with the
// calendar in force here.
func (a *applier) transition(t *touched, ch *Change) ([]cases.LocalWrite, error) {
	cal, _, err := a.r.calendarAt(true)
	if err != nil {
		return nil, err
	}
	ctx := cases.TransitionContext{Now: time.UnixMilli(a.now), Region: a.r.region, Node: a.r.origin.Node, Calendar: cal}
	if cases.TransitionNeedsCase(t.c, ch.To) {
		h, err := a.r.history(t.id)
		if err != nil {
			return nil, err
		}
		ctx.Full = cases.Fold(t.id, h)
	}
	return cases.TransitionAt(t.c, ch.To, ch.Data, ctx)
}

// workflowStored is called for every op the batch folds into its case (t's head already
// holds it): it indexes the petitioners' resident IDs, and leaves a stub of an accusation
// written here that accuses this very station.
func (a *applier) workflowStored(op *cases.Op, t *touched, via string) {
	for _, w := range op.Writes {
		for _, id := range cases.ResidentIDsOfWrite(w) {
			a.wb.Set(residentKey(id, op.Case), nil, nil)
		}
		if w.Field == "case_no" && w.Action == cases.Set {
			if n, ok := cases.DecodeValue("case_no", w.Value).(string); ok && n != "" {
				a.wb.Set(indexKey("caseno", []byte(n), op.Case), nil, nil)
			}
		}
	}
	if via == "" && !cases.IsConfigID(op.Case) && slices.ContainsFunc(op.Writes, func(w cases.Write) bool { return w.Field == "accused" }) &&
		cases.AccusedAt(t.c, a.r.origin.Node) {
		// Registered (or named) at the accused unit's own station: it goes up to the hub
		// with the station's next sync and stays here only as a read-only stub.
		a.markLeft(op.Case, true)
	}
}

// residentKey indexes case id under a petitioner's resident ID, by its hash: the index
// finds a person's cases without holding the number itself in a key.
func residentKey(idNumber, caseID string) []byte {
	h := sha256.Sum256([]byte("rid\x00" + idNumber))
	return indexKey("rid", h[:8], caseID) // 64 bits: a collision only adds a candidate the caller drops
}

// CasesWithResident returns the ids of the cases that have, or had, a petitioner with
// resident ID idNumber, sorted. It is a candidate list: callers fold the cases and compare
// (cases.FindRepeats).
func (r *Replica) CasesWithResident(idNumber string) ([]string, error) {
	done, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	p := residentKey(idNumber, "")
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for it.First(); it.Valid(); it.Next() {
		out = append(out, string(it.Key()[len(p):]))
	}
	return out, it.Error()
}

// ScanCases calls fn with the id of every case the replica holds (configuration documents
// included), in id order, reading only the heads' keys; fn returning an error stops it.
func (r *Replica) ScanCases(fn func(id string) error) error {
	done, err := r.reading()
	if err != nil {
		return err
	}
	defer done()
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tCase}, UpperBound: []byte{tCase + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[1:]
		i := slices.Index(k, 0)
		if i < 0 || i != len(k)-1 {
			continue // not a head key (c id 0)
		}
		if err := fn(string(k[:i])); err != nil {
			return err
		}
	}
	return it.Error()
}

// CasesWithNumber returns the ids of the cases that were given case number n (canonical
// form), sorted: one, unless two stations were wrongly given one code.
func (r *Replica) CasesWithNumber(n string) ([]string, error) {
	done, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	p := indexKey("caseno", []byte(n), "")
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for it.First(); it.Valid(); it.Next() {
		out = append(out, string(it.Key()[len(p):]))
	}
	return out, it.Error()
}
