package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// Change is a local user action: the writes one person asks for on one case.
type Change struct {
	Case   string
	Kind   cases.Kind
	Author string
	Writes []cases.LocalWrite
	// To and Data make the change a workflow transition (Kind is then KindTransition and
	// Writes must be empty): the writes come from cases.Transition against the case's state.
	To   cases.State
	Data map[string]json.RawMessage
	// Base is what the author saw (dots from a GET); nil means observe what is visible now.
	Base []crdt.Dot
	// CaseCode, on a registration, asks for the next case number of this station code
	// (cases.CaseNumber), issued inside the batch (casenumber.go); with no Case, the case's
	// id is made from it.
	CaseCode string `json:",omitempty"`
}

// Write validates a local change strictly, turns it into an op under this replica's origin
// and applies it durably. A validation failure is a *cases.FieldError (errors.Is
// cases.ErrInvalid) and nothing is written.
func (r *Replica) Write(ctx context.Context, c Change) (cases.Op, error) {
	ops, errs, err := r.WriteBatch(ctx, []Change{c}, nil)
	if err != nil {
		return cases.Op{}, err
	}
	if errs[0] != nil {
		return cases.Op{}, errs[0]
	}
	return ops[0], nil
}

// Progress is stored atomically with a WriteBatch: a meta key and its value (an importer's
// position in its file), so that a crash never leaves the position and the ops apart.
type Progress struct {
	Key   string
	Value []byte
}

// WriteBatch applies many local changes in one synced batch, each validated against the case
// as the earlier changes of the batch left it. A change that fails validation is reported in
// errs at its index and skipped; the others are applied. err is set only when the batch as a
// whole failed, and then nothing was applied.
func (r *Replica) WriteBatch(ctx context.Context, changes []Change, progress *Progress) (ops []cases.Op, errs []error, err error) {
	return r.writeBatch(ctx, changes, progress, 0, 0)
}

// WriteBatchAt is WriteBatch for a hub member applying a Raft entry of its hub's own
// writes: the time is the one the leader stamped into the entry (the replica reads no clock),
// and raftIndex is stored in the same batch; an entry at or below the stored index writes
// nothing and returns ErrAlreadyApplied. The ops' seqs and chain hashes are assigned here,
// inside apply, so that a change of leader can never fork or gap the hub's chain.
func (r *Replica) WriteBatchAt(ctx context.Context, changes []Change, now int64, raftIndex uint64) (ops []cases.Op, errs []error, err error) {
	if now == 0 || raftIndex == 0 {
		return nil, nil, errors.New("write batch at: a time and a raft index are required")
	}
	return r.writeBatch(ctx, changes, nil, now, raftIndex)
}

// ErrAlreadyApplied says a Raft entry at or below the replica's applied index was skipped.
var ErrAlreadyApplied = errors.New("raft entry already applied")

func (r *Replica) writeBatch(ctx context.Context, changes []Change, progress *Progress, now int64, raftIndex uint64) (ops []cases.Op, errs []error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if r.closed {
		return nil, nil, ErrClosed
	}
	if raftIndex != 0 && raftIndex <= r.raftApplied {
		return nil, nil, ErrAlreadyApplied
	}
	if raftIndex == 0 {
		if err := r.checkSpace(); err != nil {
			return nil, nil, err
		}
	}
	a := r.newApplier("", now)
	a.raftIndex = raftIndex
	defer a.close()
	ops = make([]cases.Op, len(changes))
	errs = make([]error, len(changes))
	for i := range changes {
		op, err := a.local(&changes[i])
		if err != nil {
			if !errors.Is(err, cases.ErrInvalid) {
				return nil, nil, fmt.Errorf("write change %d (case %q): %w", i, changes[i].Case, err)
			}
			errs[i] = err
			continue
		}
		ops[i] = op
	}
	if progress != nil {
		a.wb.Set(metaKey(progress.Key), progress.Value, nil)
	}
	if err := a.commit(); err != nil {
		return nil, nil, fmt.Errorf("write batch: %w", err)
	}
	return ops, errs, nil
}

// local validates one change against the batch's view of its case and stores its op.
func (a *applier) local(ch *Change) (cases.Op, error) {
	writes, numKey, numSeq, err := a.numbered(ch)
	if err != nil {
		return cases.Op{}, err
	}
	if err := validID("case id", ch.Case); err != nil {
		return cases.Op{}, &cases.FieldError{Field: "id", Code: "case_id", Zh: "案件编号格式不正确", En: err.Error()}
	}
	if err := validID("author", ch.Author); err != nil {
		return cases.Op{}, &cases.FieldError{Field: "author", Code: "author", Zh: "操作人格式不正确", En: err.Error()}
	}
	if cases.IsPeopleDoc(ch.Case) {
		return a.localPeople(ch) // accounts and audit records (accounts_rules.go)
	}
	t, err := a.touch(ch.Case, ch.Kind == cases.KindRegister)
	if err != nil {
		return cases.Op{}, err
	}
	kind := ch.Kind
	if ch.To != "" {
		if len(writes) != 0 {
			return cases.Op{}, &cases.FieldError{Field: "state", Code: "transition_writes", Zh: "流转不能同时修改其他字段", En: "a transition carries only its own data"}
		}
		if writes, err = a.transition(t, ch); err != nil {
			return cases.Op{}, err
		}
		kind = cases.KindTransition
	}
	if slices.ContainsFunc(writes, func(w cases.LocalWrite) bool { return w.Action == cases.Withdraw }) {
		if err := a.loadLogs(t); err != nil {
			return cases.Op{}, err
		}
	}
	ws, observed, err := cases.Prepare(t.c, kind, writes, ch.Base)
	if err != nil {
		if !t.existed && len(t.newPos) == 0 {
			a.untouch(t)
		}
		return cases.Op{}, err
	}
	c := a.chain(a.r.origin)
	op := cases.Op{
		Dot:      crdt.Dot{Origin: a.r.origin, Seq: c.Seq + 1},
		Stamp:    a.clock.Now(a.now),
		Case:     ch.Case,
		Kind:     kind,
		Author:   ch.Author,
		Writes:   ws,
		Observed: observed,
	}
	if err := op.WellFormed(); err != nil {
		// Only a base naming dots this replica has not written yet can do this.
		return cases.Op{}, &cases.FieldError{Field: "base", Code: "base", Zh: "所依据的版本无效", En: err.Error()}
	}
	if err := a.localAuthorRefusal(&op, t); err != nil { // once the replica holds accounts
		if !t.existed && len(t.newPos) == 0 {
			a.untouch(t)
		}
		return cases.Op{}, err
	}
	if err := a.store(&op, op.Encode(), cases.Meta{}, ""); err != nil {
		return cases.Op{}, err
	}
	if numKey != "" {
		a.keepCaseNumber(numKey, numSeq)
	}
	return op, nil
}

// loadLogs puts the logs of t's case (which heads leave out) into its head, from the
// committed history, so that a withdrawal can name a record that exists.
func (a *applier) loadLogs(t *touched) error {
	h, err := a.r.history(t.id)
	if err != nil {
		return err
	}
	full := cases.Fold(t.id, h)
	for f, l := range full.Logs {
		t.c.Logs[f] = l
	}
	return nil
}

// untouch forgets a case the batch loaded but did not change (a refused registration).
func (a *applier) untouch(t *touched) {
	delete(a.byID, t.id)
	a.cases = slices.DeleteFunc(a.cases, func(x *touched) bool { return x == t })
}
