package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// WorkflowCaseList is the body of GET /api/v1/cases: one page, the cursor of the next
// (empty on the last page). A page may hold fewer cases than asked when filters the index
// cannot apply (kind, the exact deadline) leave some out; follow next to the end.
type WorkflowCaseList struct {
	Cases []WorkflowCaseJSON `json:"cases"`
	Next  string             `json:"next,omitempty"`
}

// listWorkflowCases serves GET /api/v1/cases?state=S&kind=K&region=PREFIX&due_within=7d&
// overdue=true&limit=N&cursor=C. due_within=N counts Beijing days: the cases whose next
// deadline's last day is at most N days away (overdue ones included); overdue=true keeps
// only those past it, overdue=false only those not. Deadlines are judged on the calendar in
// force here.
func (s *station) listWorkflowCases(w http.ResponseWriter, r *http.Request) {
	cl, ok := s.authorizeCaller(w, r, cases.PermRead, nil)
	if !ok {
		return
	}
	qs := r.URL.Query()
	vc := s.viewContext()
	q := node.Query{State: qs.Get("state"), Region: qs.Get("region")}
	kind := qs.Get("kind")
	if kind != "" && !slices.Contains(cases.Kinds(), kind) {
		writeError(w, http.StatusBadRequest, "bad_kind", "kind 应为 petition 或 dispute / kind must be petition or dispute", "kind")
		return
	}
	if q.State != "" && !slices.Contains(cases.Fields["state"].Enum, q.State) {
		writeError(w, http.StatusBadRequest, "bad_state", "state 不是已知的状态 / state is not a known state", "state")
		return
	}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit 应为 1 到 1000 / limit must be 1 to 1000", "limit")
			return
		}
		q.Limit = n
	}
	within := -1
	if v := qs.Get("due_within"); v != "" {
		n, ok := strings.CutSuffix(v, "d")
		d, err := strconv.Atoi(n)
		if !ok || err != nil || d < 0 || d > 3650 {
			writeError(w, http.StatusBadRequest, "bad_due_within", "due_within 应为天数，如 7d / due_within must be days, e.g. 7d", "due_within")
			return
		}
		within = d
		// The index holds a lower bound of each deadline: a superset, judged below.
		q.DueBefore = (cases.DateOf(vc.now) + cases.Date(d) + 1).Start().UnixMilli()
	}
	overdue := qs.Get("overdue")
	switch overdue {
	case "", "false":
	case "true":
		if q.DueBefore == 0 || vc.now.UnixMilli()+1 < q.DueBefore {
			q.DueBefore = vc.now.UnixMilli() + 1
		}
	default:
		writeError(w, http.StatusBadRequest, "bad_overdue", "overdue 应为 true 或 false / overdue must be true or false", "overdue")
		return
	}
	if v := qs.Get("cursor"); v != "" {
		c, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_cursor", "游标无效 / invalid cursor", "cursor")
			return
		}
		q.Cursor = c
	}
	page, err := s.cfg.Replica.List(q)
	if err != nil {
		if errors.Is(err, node.ErrBadCursor) {
			writeError(w, http.StatusBadRequest, "bad_cursor", "游标与查询不符 / the cursor belongs to another query", "cursor")
			return
		}
		s.writeFailure(w, "list cases", err)
		return
	}
	out := WorkflowCaseList{Cases: []WorkflowCaseJSON{}}
	var shown []*cases.Case
	for _, c := range page.Cases {
		if cases.IsConfigID(c.ID) || (kind != "" && c.String("kind") != kind && !(kind == cases.MatterPetition && c.String("kind") == "")) {
			continue
		}
		var hist []cases.Stored
		if flaggedClock(c) { // the hub's receipt times are in the history
			if _, hist, err = s.cfg.Replica.Case(c.ID); err != nil {
				s.writeFailure(w, "list cases", err)
				return
			}
		}
		cvc := vc
		cvc.stub = s.isStub(c.ID)
		v := workflowView(c, hist, cvc)
		if within >= 0 || overdue != "" {
			if v.Deadline == nil || (within >= 0 && v.Deadline.DaysLeft > within) ||
				(overdue == "true" && !v.Deadline.Overdue) || (overdue == "false" && v.Deadline.Overdue) {
				continue
			}
		}
		v.Notes = nil
		out.Cases = append(out.Cases, v)
		shown = append(shown, c)
	}
	// Cases outside the caller's scope are left out; identity is shown only with
	// ?identity=full to one who may see it, and then audited (audit_api.go).
	views := make([]*CaseJSON, len(out.Cases))
	for i := range out.Cases {
		views[i] = &out.Cases[i].CaseJSON
	}
	keep, err := s.reveal(r, cl, shown, views, qs.Get("identity") == "full", cases.AuditList)
	if err != nil {
		s.auditFailed(w, err)
		return
	}
	kept := out.Cases[:0]
	for i, v := range out.Cases {
		if keep[i] {
			kept = append(kept, v)
		}
	}
	out.Cases = kept
	if page.Next != nil {
		out.Next = base64.RawURLEncoding.EncodeToString(page.Next)
	}
	writeJSON(w, http.StatusOK, out)
}

// flaggedClock reports whether an event time of c was written by a flagged op.
func flaggedClock(c *cases.Case) bool {
	for f, r := range c.Registers {
		if strings.HasSuffix(f, "_at") || f == "extensions" || f == "hearings" {
			for _, w := range r.Values() {
				if w.Flagged {
					return true
				}
			}
		}
	}
	return false
}
