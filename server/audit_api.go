package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// Audited reads and redaction. A case is shown in full — petitioners' names, resident IDs,
// phones and addresses, an accusation's accused party and content — only to a caller who
// may view identity fields on it, and only after an audit record of the view is written
// (fail closed: no record, no view). Everyone else, and anyone who asks for ?redact=1,
// gets the redacted view (cases.RedactPersons), which writes no record. Lists and exports
// are redacted unless asked for identity (?identity=full, ?redact=0).

// redactedHeader marks a response whose identity fields are masked.
const redactedHeader = "X-Fengqiao-Redacted"

// audit writes one audit record of what cl was shown.
func (s *station) audit(r *http.Request, cl *caller, rec cases.AuditRecord) error {
	ch := node.Change{Case: cases.AuditDocID(s.here().ID), Kind: cases.KindAudit, Author: cl.id(),
		Writes: []cases.LocalWrite{cases.AuditWrite(rec)}}
	_, err := s.cfg.Writer.Write(r.Context(), ch)
	return err
}

// fullFor decides whether c is shown to cl in full, and which identity fields that shows.
func (s *station) fullFor(cl *caller, c *cases.Case, want bool) (bool, []string) {
	shown := cases.IdentityShown(c)
	switch {
	case len(shown) == 0:
		return true, nil // nothing to hide, nothing to audit
	case !want || s.cfg.Writer == nil || !s.allowed(cl, cases.PermViewIdentity, c):
		return false, nil // a node that cannot write the record shows no identity
	}
	return true, shown
}

// reveal decides, for each case of a response and its view, whether cl sees it in full:
// a case cl may not read is dropped (ok false at its index); a view is left in full only
// when identity asks for it and cl may view identity on that case, and then one audit
// record of action names every case so shown before anything is sent (fail closed);
// every other view is redacted. It returns which views remain.
func (s *station) reveal(r *http.Request, cl *caller, cs []*cases.Case, views []*CaseJSON, identity bool, action string) ([]bool, error) {
	keep := make([]bool, len(cs))
	var rec cases.AuditRecord
	for i, c := range cs {
		if !s.allowed(cl, cases.PermRead, c) {
			continue
		}
		keep[i] = true
		full, fields := s.fullFor(cl, c, identity)
		if !full {
			redactCase(views[i], c)
			continue
		}
		if len(fields) > 0 {
			rec.Cases = append(rec.Cases, c.ID)
			for _, f := range fields {
				if !slices.Contains(rec.Fields, f) {
					rec.Fields = append(rec.Fields, f)
				}
			}
		}
	}
	if len(rec.Cases) > 0 {
		rec.Action = action
		slices.Sort(rec.Fields)
		if err := s.audit(r, cl, rec); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

func (s *station) auditFailed(w http.ResponseWriter, err error) {
	s.cfg.Logger.Error("audit record not written: identity not shown", "err", err)
	writeError(w, http.StatusServiceUnavailable, "audit_failed", "无法记录查阅，未显示身份信息 / the read could not be audited, so nothing was shown", "")
}

// viewPage turns a page of cases into their plain views for cl (the export's shape):
// cases outside cl's scope left out, identity shown and audited as reveal decides.
func (s *station) viewPage(r *http.Request, cl *caller, list []*cases.Case, identity bool, action string) ([]CaseJSON, error) {
	// A stub (a case that moved on, or an accusation of this unit) is not this node's to
	// hand out: the ops are kept, but no list of full cases carries them.
	list = slices.DeleteFunc(slices.Clone(list), func(c *cases.Case) bool { return s.isStub(c.ID) })
	views := make([]CaseJSON, len(list))
	ptrs := make([]*CaseJSON, len(list))
	for i, c := range list {
		views[i] = CaseView(c, nil)
		ptrs[i] = &views[i]
	}
	keep, err := s.reveal(r, cl, list, ptrs, identity, action)
	if err != nil {
		return nil, err
	}
	out := make([]CaseJSON, 0, len(list))
	for i := range views {
		if keep[i] {
			out = append(out, views[i])
		}
	}
	return out, nil
}

// redactCase masks the identity fields of a case view.
func redactCase(v *CaseJSON, c *cases.Case) {
	accusation := cases.IsAccusation(c)
	hide := func(field string, val any) any {
		switch {
		case field == "petitioners":
			ps, _ := val.([]cases.Person)
			return cases.RedactPersons(ps)
		case field == "accused", field == "summary" && accusation:
			return cases.Redacted
		}
		return val
	}
	for f, val := range v.Fields {
		v.Fields[f] = hide(f, val)
	}
	for f, vs := range v.Conflicts {
		for i := range vs {
			vs[i].Value = hide(f, vs[i].Value)
		}
	}
}

func truthy(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b || v == "full"
}

// AuditEntryJSON is one audit record as GET /api/v1/audit shows it.
type AuditEntryJSON struct {
	Pos        uint64   `json:"pos"`
	Node       string   `json:"node"`
	Account    string   `json:"account"`
	At         string   `json:"at"` // the node's clock, Asia/Shanghai
	ReceivedAt string   `json:"received_at,omitempty"`
	Action     string   `json:"action"`
	Cases      []string `json:"cases"`
	Fields     []string `json:"fields"`
	Detail     string   `json:"detail,omitempty"`
}

// listAudit serves GET /api/v1/audit?case=ID&account=ID&before=POS&limit=N: the audit
// records this node holds (a hub: its stations' too), newest first.
func (s *station) listAudit(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, false) {
		return
	}
	if _, ok := s.authorize(w, r, cases.PermAudit, nil); !ok {
		return
	}
	q := node.AuditQuery{Case: r.URL.Query().Get("case"), Account: r.URL.Query().Get("account"), Limit: 100}
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_before", "before 须为非负整数 / before must be a non-negative integer", "before")
			return
		}
		q.Before = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit 须为 1–1000 / limit must be 1–1000", "limit")
			return
		}
		q.Limit = n
	}
	entries, next, err := s.auth.people.Audit(q)
	if err != nil {
		s.cfg.Logger.Error("list audit", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "读取审计记录失败 / could not read the audit records", "")
		return
	}
	out := struct {
		Records []AuditEntryJSON `json:"records"`
		Next    string           `json:"next,omitempty"`
	}{Records: make([]AuditEntryJSON, 0, len(entries))}
	for _, e := range entries {
		v := AuditEntryJSON{Pos: e.Pos, Node: e.Node, Account: e.Account, At: time.UnixMilli(e.Stamp).In(Shanghai).Format(time.RFC3339),
			Action: e.Record.Action, Cases: e.Record.Cases, Fields: e.Record.Fields, Detail: e.Record.Detail}
		if e.ReceivedAt != 0 {
			v.ReceivedAt = time.UnixMilli(e.ReceivedAt).In(Shanghai).Format(time.RFC3339)
		}
		out.Records = append(out.Records, v)
	}
	if next != 0 {
		out.Next = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// export serves GET /api/v1/export?state=S&region=PREFIX&redact=0&format=xlsx: every case
// in the caller's scope as JSON lines, or (format=xlsx) as a ledger workbook, redacted unless
// redact=0 and the caller may see identity (each page of full cases audited before it is
// sent).
func (s *station) export(w http.ResponseWriter, r *http.Request) {
	cl, ok := s.authorizeCaller(w, r, cases.PermExport, nil)
	if !ok {
		return
	}
	qs := r.URL.Query()
	identity := qs.Get("redact") != "" && !truthy(qs.Get("redact"))
	q := node.Query{State: qs.Get("state"), Region: qs.Get("region"), Limit: 1000}
	var book *ledger
	switch qs.Get("format") {
	case "", "jsonl":
	case "xlsx":
		var err error
		if book, err = newLedger(); err != nil {
			s.writeFailure(w, "ledger", err)
			return
		}
		defer book.close()
	default:
		writeError(w, http.StatusBadRequest, "bad_format", "format 应为 jsonl 或 xlsx / format must be jsonl or xlsx", "format")
		return
	}
	started := false
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		page, err := s.cfg.Replica.List(q)
		if err == nil {
			var views []CaseJSON
			if views, err = s.viewPage(r, cl, page.Cases, identity, cases.AuditExport); err == nil {
				if book != nil {
					err = book.add(views)
				} else {
					if !started {
						w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
						if !identity {
							w.Header().Set(redactedHeader, "true")
						}
						started = true
					}
					for _, v := range views {
						if enc.Encode(v) != nil {
							return
						}
					}
				}
			}
		}
		if err != nil {
			if !started {
				s.auditFailed(w, err)
			} else {
				s.cfg.Logger.Error("export stopped", "err", err)
			}
			return
		}
		if page.Next == nil {
			break
		}
		q.Cursor = page.Next
	}
	if book != nil {
		if err := book.send(w, s.cfg.Replica.Status().Node, s.cfg.Now(), !identity); err != nil {
			s.cfg.Logger.Error("ledger export stopped", "err", err)
		}
		return
	}
	if !started {
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	}
}
