package hub

import (
	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// The workflow's reads (server.WorkflowReplica) at a hub member, from its own replica.

func (m *Member) CasesWithResident(idNumber string) ([]string, error) {
	return m.fsm.Replica().CasesWithResident(idNumber)
}
func (m *Member) CasesWithNumber(n string) ([]string, error) {
	return m.fsm.Replica().CasesWithNumber(n)
}
func (m *Member) ScanCases(fn func(id string) error) error { return m.fsm.Replica().ScanCases(fn) }
func (m *Member) Calendar() (*cases.Calendar, node.ConfigDoc, error) {
	return m.fsm.Replica().Calendar()
}
func (m *Member) MetricDefinitions() (*cases.MetricDefinitions, node.ConfigDoc, error) {
	return m.fsm.Replica().MetricDefinitions()
}
func (m *Member) IsLeft(id string) bool { return m.fsm.Replica().IsLeft(id) }
