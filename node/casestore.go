package node

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// How a case is stored. The source of truth is the case's history, its ops, found through
// the k table; Fold of it gives the whole case for reads. Beside it the replica keeps one
// small head per case (key c id 0; see cases.ApplyHead): the visible dots of every field and
// the values of the index fields. Applying an op reads and rewrites only the head, and its
// other keys are blind writes, so the cost of an op does not grow with the size of its case.

// summary is what the replica indexes a case under, derived from its head. There is no
// updated-at index to maintain: the feed is one (List reads it backwards).
type summary struct {
	state  string
	due    int64
	scopes []string // sorted
}

// touched is a case changed by the batch being applied.
type touched struct {
	id      string
	existed bool
	old     summary
	c       *cases.Case // the head
	stored  []byte      // the head's bytes as read
	cached  bool        // stored came from the head cache
	dirty   bool        // stored was rewritten by this batch
	newPos  []uint64    // feed positions of this batch's ops of the case, ascending
	// reindex says an op of this batch wrote an index field (cases.IndexFields): only then
	// can the case's scopes, state or deadline have changed.
	reindex bool
	// headChanged says an op of this batch may have changed the head (cases.ApplyHead): a
	// batch of notes leaves it as it was, and it is neither encoded nor rewritten.
	headChanged bool
}

// touch returns the batch's working head of case id, reading it once. likelyNew says the
// case is probably not in the store yet (a registration): a miss of the head cache then asks
// the bloom filters of every level first (DB.Get skips the bottom level's, and there a miss
// decompresses a data block: 100,000 registrations cost seconds).
func (a *applier) touch(id string, likelyNew bool) (*touched, error) {
	if t, ok := a.byID[id]; ok {
		return t, nil
	}
	t := &touched{id: id}
	v, hit := a.r.heads.get(id)
	t.cached = hit
	var err error
	switch {
	case hit && v == nil:
		err = ErrNotFound
	case !hit && !a.r.mayHoldCase(id):
		err = ErrNotFound // certain: the filter holds every case the store does
	case !hit && (likelyNew || a.via != "" && a.r.heads.complete()):
		// A peer's op on a case whose head is not cached, in a cache that has never evicted
		// (a hub's): almost always a new case, so let the bloom filters say so.
		v, err = a.r.getLikelyAbsent(caseKey(id))
	case !hit:
		v, err = a.r.get(caseKey(id))
	}
	switch {
	case err == nil:
		c, derr := cases.DecodeHead(id, v)
		if derr != nil {
			return nil, fmt.Errorf("case %s: %w", id, derr)
		}
		t.c, t.existed, t.old, t.stored = c, true, a.r.derive(c), v
	case errors.Is(err, ErrNotFound):
		t.c = cases.NewCase(id)
	default:
		return nil, err
	}
	a.byID[id] = t
	a.cases = append(a.cases, t)
	return t, nil
}

// applied reports whether the op named by d has been applied (before or in this batch). Inside
// its origin's contiguous prefix it answers from memory; between the prefix and the highest
// seq seen (ops applied past a gap, on a partial stream) it looks in the dot index.
func (a *applier) applied(d crdt.Dot) bool {
	if _, ok := a.seen[d]; ok {
		return true
	}
	c, ok := a.chains[d.Origin]
	if !ok {
		c = a.r.chains[d.Origin]
	}
	if c == nil {
		return false
	}
	if d.Seq <= c.Seq {
		return true
	}
	if d.Seq > c.MaxSeen {
		return false
	}
	_, err := a.r.recordByDot(d)
	return err == nil
}

// derive computes what a case is indexed under from its head.
func (r *Replica) derive(c *cases.Case) summary {
	var s summary
	for _, region := range c.Strings("region") {
		if !allDigits(region) {
			continue // a replicated op may carry anything; only a division code names a scope
		}
		for _, n := range regionLevels {
			if n > len(r.region) && n <= len(region) && region[:len(r.region)] == r.region {
				s.scopes = append(s.scopes, ScopeOfRegion(region[:n]))
			}
		}
	}
	for _, st := range c.Strings("assignee") {
		if cases.ValidID(st) {
			s.scopes = append(s.scopes, ScopeOfStation(st))
		}
	}
	s.scopes = r.workflowScopes(c, s.scopes) // configuration documents; accusations (workflow.go)
	slices.Sort(s.scopes)
	s.scopes = slices.Compact(s.scopes)
	s.state = string(c.State())
	s.due = r.caseDue(c)
	return s
}

// finishCase writes a touched case's head, indexes and scope entries.
func (a *applier) finishCase(t *touched) error {
	if !t.existed && len(t.newPos) == 0 {
		return nil // loaded for a change that was refused: nothing to write
	}
	ns := t.old
	if !t.existed || t.reindex {
		ns = a.r.derive(t.c)
	}
	for _, s := range ns.scopes {
		positions := t.newPos
		if t.existed && !slices.Contains(t.old.scopes, s) {
			// The case enters s: index its whole history so that it arrives complete.
			hist, err := a.r.historyPositions(t.id)
			if err != nil {
				return fmt.Errorf("history of %s: %w", t.id, err)
			}
			positions = append(hist, t.newPos...)
		}
		if !t.existed || !slices.Contains(t.old.scopes, s) {
			a.wb.Set(everKey(s, t.id), nil, nil) // a writer of s may write this case for good
		}
		for _, pos := range positions {
			a.addToScope(s, pos, "")
		}
	}
	for _, s := range t.old.scopes {
		if !slices.Contains(ns.scopes, s) {
			a.addToScope(s, 0, t.id)
		}
	}
	a.updateIndex("state", t.existed, []byte(t.old.state), []byte(ns.state), t.id)
	a.updateIndex("due", t.existed, optBE(t.old.due), optBE(ns.due), t.id)
	if !t.existed || t.headChanged {
		a.w.Reset()
		t.c.EncodeHead(a.w)
		if !t.existed || !bytes.Equal(a.w.Bytes(), t.stored) {
			a.wb.Set(caseKey(t.id), a.w.Bytes(), nil)
			t.stored = append([]byte(nil), a.w.Bytes()...)
			t.dirty = true
		}
	}
	if !t.existed {
		a.newCases++
	}
	return nil
}

func optBE(v int64) []byte {
	if v == 0 {
		return nil
	}
	return be64(nil, uint64(v))
}

func (a *applier) updateIndex(name string, existed bool, old, new []byte, id string) {
	if existed && string(old) == string(new) {
		return
	}
	if existed && old != nil {
		a.wb.Delete(indexKey(name, old, id), nil)
	}
	if new != nil {
		a.wb.Set(indexKey(name, new, id), nil, nil)
	}
}

// addToScope gives the next entry of scope s to the op at feed position pos, or to a marker
// that case leftCase left s. The batch's entries of a scope are consecutive in its counter and
// are written at commit as one run under the first of them (see encodeScopeEntry).
func (a *applier) addToScope(s string, pos uint64, leftCase string) {
	run, ok := a.scopes[s]
	if !ok {
		run = &scopeRun{n: a.r.scopeSeq[s]}
		a.scopes[s] = run
		a.scopeList = append(a.scopeList, s)
	}
	run.n++
	run.buf = appendScopeEntry(run.buf, run.openLeft, pos, leftCase)
	run.openLeft = leftCase != ""
}

// scopeRun is what a batch adds to one scope: its counter after the batch and the run of
// entries from the counter before it plus one.
type scopeRun struct {
	n        uint64
	buf      []byte
	openLeft bool // buf ends with a left-scope marker (terminated only if an entry follows)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
