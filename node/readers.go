package node

import (
	"crypto/ed25519"
	"fmt"

	"github.com/fengqiao/fengqiao/cases"
)

// The read methods below are safe for concurrent use with each other and with writers, and
// return ErrClosed once Close has begun; Close waits for the reads in flight.

// reading starts a read; done ends it.
func (r *Replica) reading() (done func(), err error) {
	r.closeMu.RLock()
	if r.readClosed {
		r.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return r.closeMu.RUnlock, nil
}

// History returns a case's ops in arrival order with what the replica knows of each.
func (r *Replica) History(id string) ([]cases.Stored, error) {
	done, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	return r.history(id)
}

// Case returns the case with id, folded from its full history (registers with their
// conflicts, sets, and the notes and attachment logs), and the history itself. It returns
// ErrNotFound when no op of the case is held, and for a people document, which is no case.
func (r *Replica) Case(id string) (*cases.Case, []cases.Stored, error) {
	if cases.IsPeopleDoc(id) {
		return nil, nil, fmt.Errorf("case %q: %w", id, ErrNotFound)
	}
	done, err := r.reading()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	return r.caseByID(id)
}

// CaseHead returns the stored head of a case: its index fields' values and every field's
// visible dots (see cases.ApplyHead). One key read.
func (r *Replica) CaseHead(id string) (*cases.Case, error) {
	done, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	return r.caseHead(id)
}

// List returns one page of cases matching q. Pages are cursor-based, so a page costs the
// same at the start and at the end of a long list.
func (r *Replica) List(q Query) (Page, error) {
	done, err := r.reading()
	if err != nil {
		return Page{}, err
	}
	defer done()
	return r.list(q)
}

// PeerCheckpoint returns how far into peer's feed this replica has applied (the zero
// Checkpoint when nothing yet).
func (r *Replica) PeerCheckpoint(peer string) (Checkpoint, error) {
	done, err := r.reading()
	if err != nil {
		return Checkpoint{}, err
	}
	defer done()
	return r.peerCheckpoint(peer)
}

// VerifyHead checks a signed head against the ops held: the signature with pub, then the
// chain hash at head.Seq recomputed from the stored ops. It fails with ErrChainBroken when
// the ops held differ from what the origin signed (an op dropped or altered), and with
// ErrNotFound when the prefix 1..head.Seq is not held contiguously yet.
func (r *Replica) VerifyHead(h SignedHead, pub ed25519.PublicKey) error {
	done, err := r.reading()
	if err != nil {
		return err
	}
	defer done()
	return r.verifyHead(h, pub)
}

// ScopeFeed returns up to limit entries of scope after position after, skipping ops that
// came from skipVia (never echo). Entries come in scope order; next is the checkpoint to
// resume from (it moves past skipped entries too). It reads only the scope's own index and
// the ops it names.
func (r *Replica) ScopeFeed(scope string, after uint64, limit int, skipVia string, stats *ReadStats) ([]ScopeEntry, uint64, error) {
	done, err := r.reading()
	if err != nil {
		return nil, after, err
	}
	defer done()
	return r.scopeFeed(scope, after, limit, skipVia, stats)
}

// Feed returns up to limit entries of the whole feed after position after, skipping ops
// that came from skipVia; next is the position to resume after. It is one sequential scan.
func (r *Replica) Feed(after uint64, limit int, skipVia string) ([]FeedEntry, uint64, error) {
	done, err := r.reading()
	if err != nil {
		return nil, after, err
	}
	defer done()
	return r.feed(after, limit, skipVia)
}

// ScopeSeq returns the current counter of a scope: how many entries it holds (0 after Close).
func (r *Replica) ScopeSeq(scope string) uint64 {
	done, err := r.reading()
	if err != nil {
		return 0
	}
	defer done()
	return r.scopeCount(scope)
}
