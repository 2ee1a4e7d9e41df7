package server

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// The case endpoints of the workflow (DESIGN.md, Stable interfaces): register, read, edit
// against the version read, transitions, notes, and lists by deadline, state and kind.
// Every handler asks authorize first, and writes as the author it returns.

// registerWorkflowRoutes adds the workflow's endpoints to mux.
func (s *station) registerWorkflowRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/cases", s.listWorkflowCases)
	mux.HandleFunc("GET /api/v1/cases/{id}", s.getWorkflowCase)
	mux.HandleFunc("POST /api/v1/cases", s.registerCase)
	mux.HandleFunc("PATCH /api/v1/cases/{id}", s.patchCase)
	mux.HandleFunc("POST /api/v1/cases/{id}/transitions", s.transitionCase)
	mux.HandleFunc("POST /api/v1/cases/{id}/notes", s.noteCase)
	mux.HandleFunc("GET /api/v1/metrics/rates", s.metricRates)
	mux.HandleFunc("GET /api/v1/config/{name}", s.getConfig)
	mux.HandleFunc("PUT /api/v1/config/{name}", s.putConfig)
}

// writeFailure answers a failed read or write: a *cases.FieldError with its 4xx, a replica
// that is not available with 503, a disk below its reserve (node.ErrDiskFull: nothing
// written) with 507, anything else with 500 (logged without personal data).
func (s *station) writeFailure(w http.ResponseWriter, what string, err error) {
	var fe *cases.FieldError
	switch {
	case errors.As(err, &fe):
		status := http.StatusBadRequest
		switch fe.Code {
		case "no_case":
			status = http.StatusNotFound
		case "illegal_transition", "state_conflict", "stale_state", "case_exists", "not_accepted_again", "stub", "already_served":
			status = http.StatusConflict
		}
		msg := fe.Zh + " / " + fe.En
		if fe.Rule != "" {
			msg += "（" + fe.Rule + "）"
		}
		writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: fe.Code, Message: msg, Field: fe.Field, Rule: fe.Rule, Related: fe.Related}})
	case errors.Is(err, cases.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", "请求无效 / invalid request: "+err.Error(), "")
	case errors.Is(err, node.ErrNotFound):
		writeError(w, http.StatusNotFound, "no_case", "案件不存在 / no such case", "id")
	case errors.Is(err, node.ErrDiskFull): // nothing written; writes go on once space returns
		writeError(w, http.StatusInsufficientStorage, "disk_full", err.Error(), "")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, node.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "暂时无法处理，请稍后重试 / not available now; try again", "")
	default:
		s.cfg.Logger.Error(what, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "内部错误 / internal error", "")
	}
}

// readBody reads a request body within the API's limit.
func (s *station) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "请求内容过大 / the body is too large", "")
		} else {
			writeError(w, http.StatusBadRequest, "bad_body", "无法读取请求内容 / could not read the body", "")
		}
		return nil, false
	}
	return b, true
}

// writer returns the configured writer, or answers that this node is read-only.
func (s *station) writer(w http.ResponseWriter) (Writer, bool) {
	if s.cfg.Writer == nil {
		writeError(w, http.StatusMethodNotAllowed, "read_only", "本节点只读 / this node's API is read-only", "")
		return nil, false
	}
	return s.cfg.Writer, true
}

// viewContext returns what views are computed with now: the calendar and definitions in
// force here.
func (s *station) viewContext() viewContext {
	vc := viewContext{now: s.cfg.Now(), cal: cases.DefaultCalendar(), nearDays: cases.DefaultMetrics().NearDueDays,
		collect: cases.DefaultMetrics().CollectiveSize}
	if wf := s.workflow(); wf != nil {
		if cal, doc, err := wf.Calendar(); err == nil {
			vc.cal, vc.calSrc = cal, doc.ID
		}
		if d, _, err := wf.MetricDefinitions(); err == nil {
			vc.nearDays, vc.collect = d.NearDueDays, d.CollectiveSize
		}
	}
	return vc
}

// loadCase reads case ref: an id, or a case number (in any spelling ParseCaseNumber takes).
func (s *station) loadCase(ref string) (*cases.Case, []cases.Stored, error) {
	c, hist, err := s.cfg.Replica.Case(ref)
	if err == nil || !errors.Is(err, node.ErrNotFound) {
		return c, hist, err
	}
	n, perr := cases.ParseCaseNumber(ref)
	wf := s.workflow()
	if perr != nil || wf == nil {
		return nil, nil, err
	}
	ids, lerr := wf.CasesWithNumber(n.String())
	switch {
	case lerr != nil:
		return nil, nil, lerr
	case len(ids) == 0:
		return nil, nil, err
	case len(ids) > 1:
		return nil, nil, &cases.FieldError{Field: "id", Code: "ambiguous_number", Zh: "该编号对应多个案件，请用案件ID查询：" + strings.Join(ids, "、"),
			En: "this number names several cases; use the id: " + strings.Join(ids, ", ")}
	}
	return s.cfg.Replica.Case(ids[0])
}

// isStub reports whether only a stub of case id is kept here.
func (s *station) isStub(id string) bool {
	wf := s.workflow()
	return wf != nil && wf.IsLeft(id)
}

// repeatsOf returns the other cases this node holds of c's petitioners and matter.
func (s *station) repeatsOf(c *cases.Case) (cases.RepeatFinding, error) {
	wf := s.workflow()
	if wf == nil {
		return cases.RepeatFinding{}, nil
	}
	var cands []*cases.Case
	seen := map[string]bool{c.ID: true}
	for _, rid := range cases.ResidentIDs(c) {
		ids, err := wf.CasesWithResident(rid)
		if err != nil {
			return cases.RepeatFinding{}, err
		}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			o, _, err := s.cfg.Replica.Case(id)
			if err != nil {
				if errors.Is(err, node.ErrNotFound) {
					continue
				}
				return cases.RepeatFinding{}, err
			}
			cands = append(cands, o)
		}
	}
	return cases.FindRepeats(c, cands), nil
}

// respond answers with the workflow view of case id as it is now, as cl may see it:
// redacted, or (when full) in full with the read audited first. A write answers redacted
// (full false): the author sees what they wrote by reading the case, which is audited.
func (s *station) respond(w http.ResponseWriter, r *http.Request, cl *caller, status int, id string, full bool) {
	c, hist, err := s.cfg.Replica.Case(id)
	if err != nil {
		s.writeFailure(w, "read case after write", err)
		return
	}
	vc := s.viewContext()
	vc.stub = s.isStub(id)
	if !vc.stub {
		f, err := s.repeatsOf(c)
		if err != nil {
			s.writeFailure(w, "repeats", err)
			return
		}
		vc.repeatOf = f.Earlier
	}
	v := workflowView(c, hist, vc)
	keep, err := s.reveal(r, cl, []*cases.Case{c}, []*CaseJSON{&v.CaseJSON}, full, cases.AuditView)
	if err != nil {
		s.auditFailed(w, err)
		return
	}
	if !keep[0] {
		writeError(w, http.StatusForbidden, "out_of_scope", "该案件不在您的辖区 / the case is outside your scope", "")
		return
	}
	if !full || len(cases.IdentityShown(c)) > 0 && !s.allowed(cl, cases.PermViewIdentity, c) {
		w.Header().Set(redactedHeader, "true")
	}
	writeJSON(w, status, v)
}

// answerWrite answers a write with the case as it is now, redacted: its author sees the
// full case by reading it, which is audited.
func (s *station) answerWrite(w http.ResponseWriter, r *http.Request, status int, id string) {
	cl, aerr := s.identify(r) // it succeeded in authorize before the write
	if aerr != nil {
		aerr.write(w)
		return
	}
	s.respond(w, r, cl, status, id, false)
}

// getWorkflowCase serves GET /api/v1/cases/{id}[?redact=1]: who asks is checked before the
// case's existence is told.
func (s *station) getWorkflowCase(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	c, _, err := s.loadCase(r.PathValue("id"))
	if err != nil {
		s.writeFailure(w, "read case", err)
		return
	}
	cl, ok := s.authorizeCaller(w, r, cases.PermRead, c)
	if !ok {
		return
	}
	s.respond(w, r, cl, http.StatusOK, c.ID, !truthy(r.URL.Query().Get("redact")))
}

// caseCode is the station code of the case numbers this node issues: the one configured, or
// one made from the node's id and incarnation (a reinstalled node gets another).
func (s *station) caseCode() string {
	if s.cfg.CaseCode != "" {
		return s.cfg.CaseCode
	}
	st := s.cfg.Replica.Status()
	h := fnv.New32a()
	h.Write([]byte(st.Node + "/" + strconv.FormatUint(uint64(st.Incarnation), 10)))
	return strconv.FormatUint(uint64(100000+h.Sum32()%900000), 10)
}

func (s *station) registerCase(w http.ResponseWriter, r *http.Request) {
	wr, ok := s.writer(w)
	if !ok {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	id, writes, fe := decodeRegistration(body)
	if fe != nil {
		s.writeFailure(w, "register", fe)
		return
	}
	now := s.cfg.Now().UnixMilli()
	has := func(f string) bool {
		return slices.ContainsFunc(writes, func(w cases.LocalWrite) bool { return w.Field == f })
	}
	if !has("registered_at") {
		writes = append(writes, cases.LocalWrite{Field: "registered_at", JSON: cases.JSONOf(now)})
	}
	draft := slices.ContainsFunc(writes, func(w cases.LocalWrite) bool {
		return w.Field == "state" && strings.Contains(string(w.JSON), string(cases.Captured))
	})
	if !has("received_at") && !draft {
		writes = append(writes, cases.LocalWrite{Field: "received_at", JSON: cases.JSONOf(now)})
	}
	previewID := id
	if previewID == "" {
		previewID = "new"
	}
	preview, err := cases.Preview(previewID, writes)
	if err != nil {
		s.writeFailure(w, "register", err)
		return
	}
	author, ok := s.authorize(w, r, cases.PermRegister, preview)
	if !ok {
		return
	}
	if fe := cases.CheckJurisdiction(s.cfg.Replica.Status().Region, preview.String("region")); fe != nil {
		s.writeFailure(w, "register", fe)
		return
	}
	f, err := s.repeatsOf(preview)
	if err != nil {
		s.writeFailure(w, "repeats", err)
		return
	}
	if f.Final != "" {
		number := ""
		if o, _, err := s.cfg.Replica.Case(f.Final); err == nil {
			number = o.String("case_no")
		}
		if fe := cases.CheckNotConcluded(preview, f, number); fe != nil {
			s.writeFailure(w, "register", fe)
			return
		}
	}
	if len(f.Earlier) > 0 { // seen here: recorded with the registration, for every tier to count
		writes = append(writes, cases.LocalWrite{Field: "flags", Action: cases.Add, JSON: cases.JSONOf(cases.FlagRepeat)})
		if !has("related_case") {
			writes = append(writes, cases.LocalWrite{Field: "related_case", JSON: cases.JSONOf(f.Earlier[len(f.Earlier)-1])})
		}
	}
	ch := node.Change{Case: id, Kind: cases.KindRegister, Author: author, Writes: writes}
	if !has("case_no") {
		ch.CaseCode = s.caseCode()
	}
	op, err := wr.Write(r.Context(), ch)
	if err != nil {
		s.writeFailure(w, "register", err)
		return
	}
	w.Header().Set("Location", "/api/v1/cases/"+op.Case)
	s.answerWrite(w, r, http.StatusCreated, op.Case)
}

// loadForWrite reads the case a write names and refuses a stub.
// loadForWrite reads the case a write names, once it knows who asks (so that nobody learns
// whether a case exists before being identified).
func (s *station) loadForWrite(w http.ResponseWriter, r *http.Request) (*cases.Case, bool) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return nil, false
	}
	c, _, err := s.loadCase(r.PathValue("id"))
	if err != nil {
		s.writeFailure(w, "read case", err)
		return nil, false
	}
	return c, true
}

func (s *station) refuseStub(w http.ResponseWriter, c *cases.Case) bool {
	if s.isStub(c.ID) {
		s.writeFailure(w, "write", &cases.FieldError{Field: "id", Code: "stub", Zh: "本站只保留该案件的存根，不能修改",
			En: "only a stub of this case is kept here; it takes no writes"})
		return true
	}
	return false
}

// caseWrite is a write to an existing case, its preliminaries done: the case and the
// request's body.
type caseWrite struct {
	c    *cases.Case
	body []byte
}

// beginWrite does what every write to an existing case does first: it needs a writer, asks
// who it is, reads the case, refuses a stub, and reads the body. On a failure it has
// answered and ok is false. Permissions are the handler's to check, with the case.
func (s *station) beginWrite(w http.ResponseWriter, r *http.Request) (cw caseWrite, ok bool) {
	if _, ok = s.writer(w); !ok { // a read-only node
		return cw, false
	}
	if cw.c, ok = s.loadForWrite(w, r); !ok {
		return cw, false
	}
	if cw.body, ok = s.readBody(w, r); !ok {
		return cw, false
	}
	return cw, true
}

// commit writes ch and answers with the case, or with why it failed.
func (s *station) commit(w http.ResponseWriter, r *http.Request, what string, ch node.Change, status int) {
	if _, err := s.cfg.Writer.Write(r.Context(), ch); err != nil {
		s.writeFailure(w, what, err)
		return
	}
	s.answerWrite(w, r, status, ch.Case)
}

func (s *station) patchCase(w http.ResponseWriter, r *http.Request) {
	cw, ok := s.beginWrite(w, r)
	if !ok {
		return
	}
	author, ok := s.authorize(w, r, cases.PermEdit, cw.c)
	if !ok || s.refuseStub(w, cw.c) {
		return
	}
	writes, base, fe := decodePatch(cw.body)
	if fe != nil {
		s.writeFailure(w, "edit", fe)
		return
	}
	kind := cases.KindEdit
	conflicts := cw.c.Conflicts()
	if slices.ContainsFunc(writes, func(lw cases.LocalWrite) bool { return lw.Action == cases.Set && slices.Contains(conflicts, lw.Field) }) {
		// Writing a field in conflict against a version that saw its values resolves it.
		if _, ok := s.authorize(w, r, cases.PermResolveConflict, cw.c); !ok {
			return
		}
		kind = cases.KindResolve
	}
	s.commit(w, r, "edit", node.Change{Case: cw.c.ID, Kind: kind, Author: author, Writes: writes, Base: base}, http.StatusOK)
}

func (s *station) transitionCase(w http.ResponseWriter, r *http.Request) {
	cw, ok := s.beginWrite(w, r)
	if !ok {
		return
	}
	t, fe := decodeTransition(cw.body)
	if fe != nil {
		s.writeFailure(w, "transition", fe)
		return
	}
	var author string
	for _, p := range cases.TransitionPermissions(cw.c.State(), t.To) {
		if author, ok = s.authorize(w, r, p, cw.c); !ok {
			return
		}
	}
	if s.refuseStub(w, cw.c) {
		return
	}
	if t.State != "" && t.State != cw.c.State() {
		s.writeFailure(w, "transition", &cases.FieldError{Field: "state", Code: "stale_state",
			Zh: "案件状态已变为“" + string(cw.c.State()) + "”，请刷新后再办理", En: "the case is now " + string(cw.c.State()) + ", not " + string(t.State) + "; reload it"})
		return
	}
	s.commit(w, r, "transition", node.Change{Case: cw.c.ID, Author: author, To: t.To, Data: t.Data}, http.StatusOK)
}

func (s *station) noteCase(w http.ResponseWriter, r *http.Request) {
	cw, ok := s.beginWrite(w, r)
	if !ok {
		return
	}
	author, ok := s.authorize(w, r, cases.PermEdit, cw.c)
	if !ok || s.refuseStub(w, cw.c) {
		return
	}
	writes, fe := decodeNote(cw.body)
	if fe != nil {
		s.writeFailure(w, "note", fe)
		return
	}
	s.commit(w, r, "note", node.Change{Case: cw.c.ID, Kind: cases.KindNote, Author: author, Writes: writes}, http.StatusCreated)
}
