package node

import (
	"fmt"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// Learning a receipt time late. A station stamps its ops with its own clock and judges them
// by it, so a station whose clock is far ahead does not see that its own ops are in the
// future; the first hub to receive them does, against its receipt time (Meta.ReceivedAt),
// and flags them, and every replica below it shows the other value of a conflict first.
// For the writing station to agree, the hub sends such an op back to it (receiptEcho; the
// one exception to "never echo" besides a station's own ops sent to a new store), and the
// station takes the receipt time into its record (learnReceipt), so its display, lists and
// deadlines follow the same judgement as everyone else's.

// receiptEcho reports whether an op that came from peer goes back to it in a scope stream:
// peer's own op, which this replica flagged against the receipt time it stamped.
func receiptEcho(rec record, peer string) bool {
	if !rec.Meta.Flagged || rec.Meta.ReceivedAt == 0 {
		return false
	}
	d, err := cases.PeekDot(rec.Raw)
	return err == nil && d.Origin.Node == peer
}

// learnReceipt records the receipt time meta carries into stored, an op this replica holds
// without one, and the flag that time gives it; if the flag changed, the case's head takes it
// and the case is derived again (its state or deadline shown may change).
func (a *applier) learnReceipt(op *cases.Op, stored record, meta cases.Meta) error {
	if meta.ReceivedAt == 0 || stored.Meta.ReceivedAt != 0 {
		return nil
	}
	pos, err := a.r.dotPos(op.Dot)
	if err != nil {
		return fmt.Errorf("receipt time of %s: %w", op.Dot, err)
	}
	learnt := stored.Meta
	learnt.ReceivedAt = meta.ReceivedAt
	learnt.Flagged = crdt.IsFarFuture(op.Stamp, learnt.ReceivedAt, a.r.opts.MaxSkew.Milliseconds())
	a.wb.Set(feedKey(pos), appendRecord(nil, record{Via: stored.Via, Meta: learnt, Raw: stored.Raw}), nil)
	a.res.ReceiptsLearnt++
	if learnt.Flagged == stored.Meta.Flagged || learnt.Quarantined || cases.IsPeopleDoc(op.Case) {
		return nil
	}
	t, err := a.touch(op.Case, false)
	if err != nil {
		return fmt.Errorf("receipt time of %s: %w", op.Dot, err)
	}
	if t.c.ReflagHead(op, learnt) {
		t.headChanged, t.reindex = true, true
	}
	return nil
}
