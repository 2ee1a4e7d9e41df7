package node

import (
	"errors"
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// The author rule: who may have written an op. Its decisions come from the authorization
// table (cases.AuthorMay, cases.MayManage); this file finds what they judge — the author's
// account and the case's regions as this batch knows them — for local writes (refused) and
// for ops a writer pushes (quarantined, with the reason).

// Quarantine reasons beside the writer rule's.
const (
	reasonWriter = "writer_out_of_scope"
	reasonAuthor = "author_" // + the table's refusal code
)

// writerRefusal judges an op a writer pushed on a case: "" when it may be applied, else
// why it is quarantined. The writer rule comes first (WriterRule); then, once the replica
// holds accounts, the author's right to have written it.
func (a *applier) writerRefusal(op *cases.Op) (string, error) {
	ok, err := a.mayWrite(op)
	if err != nil || !ok {
		return reasonWriter, err
	}
	enforced, err := a.peopleEnforced()
	if err != nil || !enforced {
		return "", err
	}
	t, err := a.touch(op.Case, op.Kind == cases.KindRegister)
	if err != nil {
		return "", err
	}
	regions, assignees := caseReach(t, op)
	if err := cases.AuthorMay(a.account(op.Author), op, regions, assignees); err != nil {
		return refusalReason(err), nil
	}
	return "", nil
}

// caseReach returns the regions and assignees an author's scope is judged against: the
// case's as this batch holds them, or for a case not registered yet those the op writes.
func caseReach(t *touched, op *cases.Op) (regions, assignees []string) {
	if t.existed || len(t.newPos) > 0 {
		return t.c.Strings("region"), t.c.Strings("assignee")
	}
	for _, w := range op.Writes {
		v, _ := cases.DecodeValue(w.Field, w.Value).(string)
		switch {
		case v == "" || w.Action != cases.Set:
		case w.Field == "region":
			regions = append(regions, v)
		case w.Field == "assignee":
			assignees = append(assignees, v)
		}
	}
	return regions, assignees
}

func refusalReason(err error) string {
	var r *cases.Refusal
	if errors.As(err, &r) {
		return reasonAuthor + r.Code
	}
	return reasonAuthor + "refused"
}

// peopleRefusal judges an op a writer pushed on a people document. A writer may change only
// accounts within its region, with roles a station admin may grant (a hub peer: any role),
// and create only accounts named after its own node ("<node>.<name>"; a hub peer's own ops
// any name), so two stations can never claim one id; it may append only to its own audit trail. Once the replica holds
// accounts the author is judged too: an account op needs an author who may manage that
// account (or is the first-run setup of the writer's own admin), an audit record an author
// that was an active account.
func (a *applier) peopleRefusal(op *cases.Op) (string, error) {
	origin := op.Dot.Origin.Node
	enforced, err := a.peopleEnforced()
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(op.Case, cases.AuditPrefix) {
		switch {
		case op.Case != cases.AuditDocID(origin) || op.Kind != cases.KindAudit:
			return reasonWriter, nil
		case enforced && !a.account(op.Author).Active(op.Stamp):
			return reasonAuthor + "unknown_author", nil
		}
		return "", nil
	}
	id := cases.AccountOfDoc(op.Case)
	if id == "" {
		return "", nil // a kind of document this version does not know: kept and passed on
	}
	if op.Kind != cases.KindAccount {
		return reasonWriter, nil
	}
	doc, err := a.peopleDoc(op.Case)
	if err != nil {
		return "", err
	}
	before := cases.AccountOf(doc)
	after := cases.AccountAfter(doc, op, cases.Meta{})
	if after == nil {
		return reasonWriter, nil
	}
	if before != nil && op.Author == id && len(op.Writes) == 1 && op.Writes[0].Field == "credential" {
		// One's own password, changed at any station one may sign in at.
		if enforced && !a.account(id).Active(op.Stamp) {
			return reasonAuthor + "revoked", nil
		}
		return "", nil
	}
	for _, acct := range []*cases.Account{before, after} {
		if acct == nil {
			continue
		}
		if len(acct.Regions) == 0 || slices.ContainsFunc(acct.Regions, func(r string) bool { return !a.rule.coversRegion(r) }) {
			return reasonWriter, nil
		}
		if !a.rule.AnyOrigin && slices.ContainsFunc(acct.Roles, func(r cases.Role) bool { return !stationGrantable(r) }) {
			return reasonWriter, nil
		}
	}
	if before == nil && !strings.HasPrefix(id, origin+".") && !(a.rule.AnyOrigin && origin == a.rule.Node) {
		return reasonWriter, nil // a county hub's own accounts are named as it likes
	}
	if op.Author == cases.SetupAuthor {
		if before != nil || !slices.Equal(after.Roles, []cases.Role{cases.SetupRole(after.Regions[0])}) {
			return reasonAuthor + "setup", nil
		}
		return "", nil
	}
	if !enforced {
		return "", nil
	}
	author := a.account(op.Author)
	switch {
	case author == nil:
		return reasonAuthor + "unknown_author", nil
	case !author.Active(op.Stamp):
		return reasonAuthor + "revoked", nil
	}
	judged := *author
	judged.Revoked = false // active when it wrote this op
	if err := cases.MayWriteAccount(&judged, op, before, after); err != nil {
		return refusalReason(err), nil
	}
	return "", nil
}

// coversRegion reports whether region lies within one of the writer's region scopes.
func (w *WriterRule) coversRegion(region string) bool {
	for _, s := range w.Scopes {
		if p, ok := strings.CutPrefix(s, "r"); ok && allDigits(p) && strings.HasPrefix(region, p) {
			return true
		}
	}
	return false
}

func stationGrantable(r cases.Role) bool {
	return slices.Contains((&cases.Account{Roles: []cases.Role{cases.RoleStationAdmin}}).Grantable(), r)
}

// localPeople validates a local change of a people document and stores its op.
func (a *applier) localPeople(ch *Change) (cases.Op, error) {
	doc, err := a.peopleDoc(ch.Case)
	if err != nil {
		return cases.Op{}, err
	}
	ws, observed, err := cases.PreparePeople(doc, ch.Kind, ch.Writes)
	if err != nil {
		return cases.Op{}, err
	}
	c := a.chain(a.r.origin)
	op := cases.Op{Dot: crdt.Dot{Origin: a.r.origin, Seq: c.Seq + 1}, Stamp: a.clock.Now(a.now), Case: ch.Case,
		Kind: ch.Kind, Author: ch.Author, Writes: ws, Observed: observed}
	if err := op.WellFormed(); err != nil {
		return cases.Op{}, &cases.FieldError{Field: "id", Code: "people_op", Zh: "操作格式不正确", En: err.Error()}
	}
	if err := a.localPeopleAuthor(&op, doc); err != nil {
		return cases.Op{}, err
	}
	if err := a.store(&op, op.Encode(), cases.Meta{}, ""); err != nil {
		return cases.Op{}, err
	}
	return op, nil
}

// localPeopleAuthor decides whether the author of a local people op may make it.
func (a *applier) localPeopleAuthor(op *cases.Op, doc *cases.Case) error {
	enforced, err := a.peopleEnforced()
	if err != nil {
		return err
	}
	if op.Kind == cases.KindAudit {
		switch {
		case op.Case != cases.AuditDocID(a.r.origin.Node):
			return forbidden("audit_trail", "只能写入本节点的审计记录", "a node writes only its own audit trail")
		case enforced && !a.account(op.Author).Active(crdt.Timestamp{}):
			return forbidden("unknown_author", "操作人不是有效账号", "the author is not an active account")
		}
		return nil
	}
	before := cases.AccountOf(doc)
	after := cases.AccountAfter(doc, op, cases.Meta{})
	hub := len(a.r.region) <= 6
	if before == nil && !hub && !strings.HasPrefix(after.ID, a.r.origin.Node+".") {
		return &cases.FieldError{Field: "id", Code: "account_prefix",
			Zh: "站点新建的账号须以“" + a.r.origin.Node + ".”开头", En: "accounts a station creates are named " + a.r.origin.Node + ".<name>"}
	}
	if op.Author == cases.SetupAuthor {
		switch {
		case enforced:
			return forbidden("setup_done", "本节点已有账号，不能再次初始化", "this node has accounts already: setup is done")
		case before != nil || !slices.Equal(after.Roles, []cases.Role{cases.SetupRole(a.r.region)}) ||
			!slices.Equal(after.Regions, []string{a.r.region}):
			return forbidden("setup", "初始化只能创建本节点的管理员", "setup creates only this node's own administrator")
		}
		return nil
	}
	if !enforced {
		return forbidden("setup_first", "请先初始化本节点的管理员账号", "create this node's administrator first (setup)")
	}
	return cases.MayWriteAccount(a.account(op.Author), op, before, after)
}

// localAuthorRefusal decides, once the replica holds accounts, whether the author of a local
// op on a case may make it (nil when the replica judges no authors yet).
func (a *applier) localAuthorRefusal(op *cases.Op, t *touched) error {
	enforced, err := a.peopleEnforced()
	if err != nil || !enforced {
		return err
	}
	regions, assignees := caseReach(t, op)
	return cases.AuthorMay(a.account(op.Author), op, regions, assignees)
}

func forbidden(code, zh, en string) error { return &cases.Refusal{Code: code, Zh: zh, En: en} }
