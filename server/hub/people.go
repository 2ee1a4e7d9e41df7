package hub

import (
	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// People: a member reads accounts and audit records from its own replica (every member
// holds the same, in log order); account changes, audit records, sessions and sign-in
// counters are written through the log (Write, PutDoc), so every member honours a session
// signed in at any other.

// Account returns account id as this member's replica holds it.
func (m *Member) Account(id string) (*cases.Account, error) { return m.fsm.Replica().Account(id) }

// Accounts calls fn with every account, in id order.
func (m *Member) Accounts(fn func(*cases.Account) error) error { return m.fsm.Replica().Accounts(fn) }

// HasAccounts reports whether the hub holds any account.
func (m *Member) HasAccounts() (bool, error) { return m.fsm.Replica().HasAccounts() }

// Audit returns the audit records matching q, newest first.
func (m *Member) Audit(q node.AuditQuery) ([]node.AuditEntry, uint64, error) {
	return m.fsm.Replica().Audit(q)
}
