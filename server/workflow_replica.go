package server

import (
	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// WorkflowReplica is what the workflow's endpoints read beyond Replica: the resident-ID
// and case-number indexes, every case held (for metrics), the configuration in force, and
// stubs. *node.Replica implements it, and so does a hub member (server/hub), reading its
// own replica. A Replica that does not is served without repeat detection, lookup by
// number or metrics, on the built-in calendar.
type WorkflowReplica interface {
	CasesWithResident(idNumber string) ([]string, error)
	CasesWithNumber(number string) ([]string, error)
	ScanCases(fn func(id string) error) error
	Calendar() (*cases.Calendar, node.ConfigDoc, error)
	MetricDefinitions() (*cases.MetricDefinitions, node.ConfigDoc, error)
	IsLeft(id string) bool
}

var _ WorkflowReplica = (*node.Replica)(nil)

// workflow returns the replica's workflow reads, or nil.
func (s *station) workflow() WorkflowReplica {
	w, _ := s.cfg.Replica.(WorkflowReplica)
	return w
}
