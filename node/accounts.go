package node

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fengqiao/fengqiao/cases"
)

// People on the replica. Accounts and audit trails are documents in the op log
// (cases.IsPeopleDoc): their ops take feed positions, dot index entries, chain links and
// history entries like a case's, but no head, no case count, no state or deadline index.
// An account's ops are indexed into the scopes of the stations that must know it (its
// region's levels below this replica's region, and the stations it names), so they travel
// down the scope streams; an audit trail is in no scope and travels only up, with its
// node's feed.
//
// The replica keeps a directory of accounts in memory (the fold of every account document),
// built on first use and updated after each commit. Once it holds an account the replica
// judges authors: a local write whose author may not make it is refused, and an op a writer
// pushes (WriterRule) whose author may not have written it is quarantined, inside Apply, so
// every member of a Raft hub decides alike. A replica with no account (tests, benchmarks,
// a station before its first run) judges no author.

// peopleState is the replica's directory of accounts.
type peopleState struct {
	mu       sync.RWMutex
	loaded   bool
	accounts map[string]*cases.Account // values are never modified once stored
	any      atomic.Bool               // the directory holds at least one account (once loaded)
	built    atomic.Bool               // loaded, read without the lock on the apply path
}

// ensurePeople builds the directory from the stored account documents if it is not built.
func (r *Replica) ensurePeople() error {
	p := &r.people
	if p.built.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loaded {
		return nil
	}
	accts := map[string]*cases.Account{}
	prefix := append([]byte{tHistory}, cases.AccountPrefix...)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	var ids []string
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[1:]
		id := string(k[:bytes.IndexByte(k, 0)])
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	for _, doc := range ids {
		h, err := r.history(doc)
		if err != nil {
			return fmt.Errorf("account %s: %w", doc, err)
		}
		if a := cases.AccountOf(cases.Fold(doc, h)); a != nil {
			accts[a.ID] = a
		}
	}
	p.accounts, p.loaded = accts, true
	p.any.Store(len(accts) > 0)
	p.built.Store(true)
	return nil
}

// Account returns the account id as this replica holds it (ErrNotFound when it holds none).
func (r *Replica) Account(id string) (*cases.Account, error) {
	done, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	if err := r.ensurePeople(); err != nil {
		return nil, err
	}
	r.people.mu.RLock()
	a := r.people.accounts[id]
	r.people.mu.RUnlock()
	if a == nil {
		return nil, fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	return a, nil
}

// Accounts calls fn with every account the replica holds, in id order.
func (r *Replica) Accounts(fn func(*cases.Account) error) error {
	done, err := r.reading()
	if err != nil {
		return err
	}
	defer done()
	if err := r.ensurePeople(); err != nil {
		return err
	}
	r.people.mu.RLock()
	list := make([]*cases.Account, 0, len(r.people.accounts))
	for _, a := range r.people.accounts {
		list = append(list, a)
	}
	r.people.mu.RUnlock()
	slices.SortFunc(list, func(a, b *cases.Account) int { return strings.Compare(a.ID, b.ID) })
	for _, a := range list {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// HasAccounts reports whether the replica holds any account: then it judges authors, and
// the API asks people to sign in.
func (r *Replica) HasAccounts() (bool, error) {
	done, err := r.reading()
	if err != nil {
		return false, err
	}
	defer done()
	if err := r.ensurePeople(); err != nil {
		return false, err
	}
	return r.people.any.Load(), nil
}

// peopleBatch is what a batch being applied changed of the people documents.
type peopleBatch struct {
	docs     map[string]*cases.Case    // folded account documents touched, as of this batch
	accounts map[string]*cases.Account // their accounts after the batch (nil: none)
	order    []string                  // account ids in first-touch order
	pos      map[string][]uint64       // this batch's feed positions of each document
}

// peopleEnforced reports whether authors are judged in this batch: the replica or the batch
// holds an account.
func (a *applier) peopleEnforced() (bool, error) {
	if err := a.r.ensurePeople(); err != nil {
		return false, err
	}
	if a.r.people.any.Load() {
		return true, nil
	}
	return a.people != nil && slices.ContainsFunc(a.people.order, func(id string) bool { return a.people.accounts[id] != nil }), nil
}

// account returns account id as of this batch (nil when there is none).
func (a *applier) account(id string) *cases.Account {
	if a.people != nil {
		if acct, ok := a.people.accounts[id]; ok {
			return acct
		}
	}
	a.r.people.mu.RLock()
	defer a.r.people.mu.RUnlock()
	return a.r.people.accounts[id]
}

// peopleDoc returns the batch's fold of the account document doc (empty if it is new).
func (a *applier) peopleDoc(doc string) (*cases.Case, error) {
	if a.people == nil {
		a.people = &peopleBatch{docs: map[string]*cases.Case{}, accounts: map[string]*cases.Account{}, pos: map[string][]uint64{}}
	}
	if c, ok := a.people.docs[doc]; ok {
		return c, nil
	}
	h, err := a.r.history(doc)
	if err != nil {
		return nil, fmt.Errorf("account document %s: %w", doc, err)
	}
	c := cases.Fold(doc, h)
	a.people.docs[doc] = c
	return c, nil
}

// storePeople stores an op of a people document (see store), judging a writer's op first.
func (a *applier) storePeople(op *cases.Op, raw []byte, meta cases.Meta, via string) error {
	if err := a.r.ensurePeople(); err != nil {
		return err
	}
	if !meta.Quarantined && a.rule.Checks(op.Dot.Origin.Node) {
		reason, err := a.peopleRefusal(op)
		if err != nil {
			return err
		}
		meta.Quarantined = reason != ""
		if meta.Quarantined {
			a.storeQuarantined(op, raw, meta, via, reason)
			return nil
		}
	}
	if meta.Quarantined {
		a.storeQuarantined(op, raw, meta, via, "")
		return nil
	}
	pos := a.record(op, raw, meta, via)
	a.wb.Set(historyKey(op.Case, pos), nil, nil)
	a.res.Applied++
	switch {
	case cases.AccountOfDoc(op.Case) != "":
		return a.applyAccount(op, meta, pos)
	case op.Kind == cases.KindAudit:
		a.indexAudit(op, pos)
	}
	return nil
}

// applyAccount folds an account op into the batch's directory and indexes it into the
// scopes of the stations that hold or must now hold the account.
func (a *applier) applyAccount(op *cases.Op, meta cases.Meta, pos uint64) error {
	doc, err := a.peopleDoc(op.Case)
	if err != nil {
		return err
	}
	id := cases.AccountOfDoc(op.Case)
	before := cases.AccountOf(doc)
	doc.Apply(op, meta)
	after := cases.AccountOf(doc)
	pb := a.people
	if _, ok := pb.accounts[id]; !ok {
		pb.order = append(pb.order, id)
	}
	pb.accounts[id] = after
	pb.pos[op.Case] = append(pb.pos[op.Case], pos)
	oldScopes, newScopes := a.r.accountScopes(before), a.r.accountScopes(after)
	for _, s := range newScopes {
		positions := []uint64{pos}
		if !slices.Contains(oldScopes, s) {
			// The account enters s: its whole history goes there, so it arrives complete.
			hist, err := a.r.historyPositions(op.Case)
			if err != nil {
				return fmt.Errorf("history of %s: %w", op.Case, err)
			}
			positions = append(hist, pb.pos[op.Case]...)
		}
		for _, p := range positions {
			a.addToScope(s, p, "")
		}
	}
	for _, s := range oldScopes {
		if !slices.Contains(newScopes, s) {
			a.addToScope(s, pos, "") // stations there learn it moved (and may no longer sign it in)
		}
	}
	return nil
}

// accountScopes are the scopes an account is delivered to: its regions' levels below this
// replica's region (so the stations of its region and those above it, within the county,
// learn it), and the stations it names.
func (r *Replica) accountScopes(acct *cases.Account) []string {
	if acct == nil {
		return nil
	}
	var out []string
	for _, region := range acct.Regions {
		if !allDigits(region) {
			continue
		}
		for _, n := range regionLevels {
			if n > len(r.region) && n <= len(region) && region[:len(r.region)] == r.region {
				out = append(out, ScopeOfRegion(region[:n]))
			}
		}
	}
	for _, st := range acct.Stations {
		out = append(out, ScopeOfStation(st))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// publishPeople makes the batch's accounts the replica's, after its commit.
func (a *applier) publishPeople() {
	if a.people == nil || len(a.people.order) == 0 {
		return
	}
	p := &a.r.people
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.loaded {
		return // the next ensurePeople reads them from the store
	}
	for _, id := range a.people.order {
		if acct := a.people.accounts[id]; acct != nil {
			p.accounts[id] = acct
		} else {
			delete(p.accounts, id)
		}
	}
	p.any.Store(len(p.accounts) > 0)
}
