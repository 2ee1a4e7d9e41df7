package cases

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The authorization table: which role holds which permission, and in which scope. It is
// the one source of every decision — the API's (server.authorize), the replica's local
// writes and the hub's check of replicated ops (node, inside apply) — and docs/security.md
// shows it (a test keeps the two equal).
//
// Scopes:
//   - ScopeCase: the action concerns one case, which must be in the account's scope: each
//     of its regions (any, while the region is in conflict) lies within the account's
//     region, or it is assigned to a station the account is attached to.
//   - ScopeNode: the action concerns the node (an import, an export, an enrollment, the
//     configuration), which the account must be allowed to sign in at.
//   - ScopeAccounts: the action concerns accounts whose region lies within the account's
//     region, with only the roles it may grant (Grantable).

// Scope says what a permission is checked against.
type Scope string

// Scopes of the table.
const (
	ScopeCase     Scope = "case"
	ScopeNode     Scope = "node"
	ScopeAccounts Scope = "accounts"
)

// PermAudit lets a person browse the audit records of identity reads (at the hub).
const PermAudit Permission = "audit"

// Permissions lists every permission, in the order the table shows them.
var Permissions = []Permission{PermRead, PermRegister, PermEdit, PermAccept, PermAssign, PermHandle, PermExtend,
	PermServeOpinion, PermClose, PermResolveConflict, PermViewIdentity, PermExport, PermImport, PermEnroll,
	PermManageAccounts, PermConfigure, PermAudit}

// PermissionScope gives each permission its scope.
var PermissionScope = map[Permission]Scope{
	PermRead: ScopeCase, PermRegister: ScopeCase, PermEdit: ScopeCase, PermAccept: ScopeCase, PermAssign: ScopeCase,
	PermHandle: ScopeCase, PermExtend: ScopeCase, PermServeOpinion: ScopeCase, PermClose: ScopeCase,
	PermResolveConflict: ScopeCase, PermViewIdentity: ScopeCase, PermExport: ScopeNode, PermImport: ScopeNode,
	PermEnroll: ScopeNode, PermManageAccounts: ScopeAccounts, PermConfigure: ScopeNode, PermAudit: ScopeNode,
}

// caseWork is what every role that handles cases may do to a case in its scope.
var caseWork = []Permission{PermRead, PermEdit, PermHandle, PermViewIdentity}

// roleTable is the table itself. Admins manage people and the node, not cases: they read
// cases in their scope with identity fields masked.
var roleTable = map[Role][]Permission{
	RoleGridWorker: append(slices.Clone(caseWork), PermRegister),
	RoleTownshipStaff: append(slices.Clone(caseWork), PermRegister, PermAccept, PermAssign, PermServeOpinion, PermClose,
		PermResolveConflict, PermExport, PermImport),
	RoleCountyStaff: append(slices.Clone(caseWork), PermRegister, PermAccept, PermAssign, PermServeOpinion, PermClose,
		PermResolveConflict, PermExport, PermImport),
	RoleUnitHead: append(slices.Clone(caseWork), PermAccept, PermAssign, PermExtend, PermServeOpinion, PermClose,
		PermResolveConflict, PermExport),
	RoleLeader:       append(slices.Clone(caseWork), PermAssign, PermClose, PermAudit),
	RoleJudge:        slices.Clone(caseWork),
	RoleMediator:     append(slices.Clone(caseWork), PermRegister),
	RoleStationAdmin: {PermRead, PermExport, PermImport, PermManageAccounts},
	RoleCountyAdmin:  {PermRead, PermExport, PermImport, PermEnroll, PermManageAccounts, PermConfigure, PermAudit},
}

// grantable is who may give which roles to accounts in their region.
var grantable = map[Role][]Role{
	RoleCountyAdmin:  Roles,
	RoleStationAdmin: {RoleGridWorker, RoleTownshipStaff, RoleMediator, RoleStationAdmin},
}

// RoleHas reports whether role r holds permission p in the table.
func RoleHas(r Role, p Permission) bool { return slices.Contains(roleTable[r], p) }

// ErrForbidden marks a refusal by the authorization table. A *Refusal is also ErrInvalid,
// so a replica reports it per change like any validation failure.
var ErrForbidden = errors.New("forbidden")

// Refusal says why the table refused an action, for people (Zh, En) and programs (Code).
type Refusal struct {
	Code string // no_permission, out_of_scope, revoked, not_grantable, unknown_author
	Zh   string
	En   string
}

func (e *Refusal) Error() string { return e.Code + ": " + e.En }

// Unwrap makes a Refusal both ErrForbidden and ErrInvalid.
func (e *Refusal) Unwrap() []error { return []error{ErrForbidden, ErrInvalid} }

func refuse(code, zh, en string) *Refusal { return &Refusal{Code: code, Zh: zh, En: en} }

// Holds reports whether the account holds permission p through any of its roles (it says
// nothing of scope).
func (a *Account) Holds(p Permission) bool {
	if a == nil {
		return false
	}
	for _, r := range a.Roles {
		if RoleHas(r, p) {
			return true
		}
	}
	return false
}

// Covers reports whether region lies within the account's region: within every visible
// value of it (a region in conflict means the narrower reading).
func (a *Account) Covers(region string) bool {
	if a == nil || len(a.Regions) == 0 || !allDigitsString(region) {
		return false
	}
	for _, r := range a.Regions {
		if !strings.HasPrefix(region, r) {
			return false
		}
	}
	return true
}

// CoversCase reports whether a case with these regions and assignees is in the account's
// scope: one of its regions within the account's, or it is assigned to one of the
// account's stations.
func (a *Account) CoversCase(regions, assignees []string) bool {
	if slices.ContainsFunc(regions, a.Covers) {
		return true
	}
	return a != nil && slices.ContainsFunc(assignees, func(s string) bool { return slices.Contains(a.Stations, s) })
}

// InScope reports whether case c is in the account's scope, and, for a case that accuses a
// unit, that the account is not of that unit (reports on a unit never reach it).
func (a *Account) InScope(c *Case) bool {
	if c == nil || a == nil {
		return false
	}
	if p, ok := DecodeValue("accused", valueOf(c, "accused")).(Party); ok && p.Kind == "unit" {
		if a.Unit != "" && p.Name == a.Unit || p.Station != "" && slices.Contains(a.Stations, p.Station) {
			return false
		}
	}
	return a.CoversCase(c.Strings("region"), c.Strings("assignee"))
}

func valueOf(c *Case, field string) []byte {
	v, _ := c.Value(field)
	return v
}

// MaySignInAt reports whether the account may sign in at a node serving region (with id
// node): the account is active and its region and the node's lie one within the other, or
// the node is one of the account's stations.
func (a *Account) MaySignInAt(node, region string) bool {
	if a == nil || a.Revoked {
		return false
	}
	if slices.Contains(a.Stations, node) {
		return true
	}
	for _, r := range a.Regions {
		if !strings.HasPrefix(region, r) && !strings.HasPrefix(r, region) {
			return false
		}
	}
	return len(a.Regions) > 0
}

// Node is where an action is taken: the node's id and the region it serves.
type Node struct {
	ID, Region string
}

// Allowed decides whether the account may use permission p at node at: on case c for a
// permission of ScopeCase (c nil asks whether it may at all, as a list does before
// filtering each case); for a permission of ScopeNode the node's whole region must lie
// within the account's (or the node be one of its stations). Accounts' scope is MayManage's.
func Allowed(a *Account, p Permission, c *Case, at Node) error {
	switch {
	case a == nil:
		return refuse("unknown_author", "操作人不是本系统的账号", "the author is not an account")
	case a.Revoked:
		return refuse("revoked", "该账号已停用", "the account has been revoked")
	case !a.Holds(p):
		return refuse("no_permission", fmt.Sprintf("您的角色没有“%s”权限", permissionZh[p]),
			fmt.Sprintf("none of your roles holds the %q permission", p))
	case c != nil && PermissionScope[p] == ScopeCase && !a.InScope(c):
		return refuse("out_of_scope", "该案件不在您的辖区内", "the case is outside your scope")
	case PermissionScope[p] == ScopeNode && at != (Node{}) && !a.Covers(at.Region) && !slices.Contains(a.Stations, at.ID):
		return refuse("out_of_scope", "本节点的辖区超出您的辖区", "this node serves more than your region")
	}
	return nil
}

// Grantable returns the roles the account may give to others.
func (a *Account) Grantable() []Role {
	var out []Role
	for _, r := range a.Roles {
		for _, g := range grantable[r] {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// MayManage decides whether admin may change account before (nil: create it) into after: it
// must hold PermManageAccounts, and every region of both lie within its own, and every role
// either holds be one it may grant.
func MayManage(admin *Account, before, after *Account) error {
	if err := Allowed(admin, PermManageAccounts, nil, Node{}); err != nil {
		return err
	}
	can := admin.Grantable()
	for _, acct := range []*Account{before, after} {
		if acct == nil {
			continue
		}
		if len(acct.Regions) == 0 || slices.ContainsFunc(acct.Regions, func(r string) bool { return !admin.Covers(r) }) {
			return refuse("out_of_scope", "该账号不在您管理的辖区内", "the account's region is outside yours")
		}
		for _, r := range acct.Roles {
			if !slices.Contains(can, r) {
				return refuse("not_grantable", fmt.Sprintf("您不能授予或管理“%s”角色", RoleLabels[r][0]),
					fmt.Sprintf("you may not grant or manage the role %s", r))
			}
		}
	}
	return nil
}

// MayWriteAccount decides whether author may make account op op, which changes before
// (nil: creates) into after: anyone active may change their own password; everything else
// is MayManage's.
func MayWriteAccount(author *Account, op *Op, before, after *Account) error {
	own := author != nil && before != nil && author.ID == before.ID && len(op.Writes) == 1 && op.Writes[0].Field == fieldCredential
	if own {
		if author.Revoked {
			return refuse("revoked", "该账号已停用", "the account has been revoked")
		}
		return nil
	}
	return MayManage(author, before, after)
}

// SetupRole is the role of the first account a node creates for itself: a hub (a 4- or
// 6-digit region) makes its county admin, a station its station admin.
func SetupRole(nodeRegion string) Role {
	if len(nodeRegion) <= 6 {
		return RoleCountyAdmin
	}
	return RoleStationAdmin
}

var permissionZh = map[Permission]string{
	PermRead: "查看案件", PermRegister: "登记", PermEdit: "编辑", PermAccept: "受理", PermAssign: "交办转送",
	PermHandle: "办理", PermExtend: "批准延期", PermServeOpinion: "出具处理意见", PermClose: "办结",
	PermResolveConflict: "处理冲突", PermViewIdentity: "查看身份信息", PermExport: "导出", PermImport: "导入",
	PermEnroll: "站点登记", PermManageAccounts: "管理账号", PermConfigure: "配置", PermAudit: "查看审计记录",
}

// PermissionZh names a permission for people.
func PermissionZh(p Permission) string { return permissionZh[p] }

// assignFields are the fields whose change moves a case to other hands.
var assignFields = []string{"assignee", "handler_unit"}

// OpPermissions returns the permissions the author of op must hold on its case: by the op's
// kind, and PermAssign besides for an edit that moves the case (assignee, handling unit).
// An op of a kind this version does not know needs PermEdit.
func OpPermissions(op *Op) []Permission {
	switch op.Kind {
	case KindRegister:
		return []Permission{PermRegister}
	case KindResolve:
		return []Permission{PermResolveConflict}
	case KindAccount:
		return []Permission{PermManageAccounts}
	case KindTransition:
		for _, w := range op.Writes {
			if w.Field == "state" && w.Action == Set {
				if s, ok := DecodeValue("state", w.Value).(string); ok {
					return []Permission{TransitionPermission(State(s))}
				}
			}
		}
		return []Permission{PermHandle}
	}
	if slices.ContainsFunc(op.Writes, func(w Write) bool { return slices.Contains(assignFields, w.Field) }) {
		return []Permission{PermEdit, PermAssign}
	}
	return []Permission{PermEdit}
}

// AuthorMay decides whether author may have written op on a case with these regions and
// assignees (for a registration, those the op writes): judged at the op's stamp, so that an
// account revoked since may still have written it before. A Refusal says why not.
func AuthorMay(author *Account, op *Op, regions, assignees []string) error {
	if author == nil {
		return refuse("unknown_author", "操作人不是本系统的账号", "the author is not an account")
	}
	if !author.Active(op.Stamp) {
		return refuse("revoked", "操作人的账号在此操作之前已停用", "the author's account was revoked before this op")
	}
	for _, p := range OpPermissions(op) {
		if !author.Holds(p) {
			return refuse("no_permission", fmt.Sprintf("操作人的角色没有“%s”权限", permissionZh[p]),
				fmt.Sprintf("none of the author's roles holds the %q permission", p))
		}
	}
	if !author.CoversCase(regions, assignees) {
		return refuse("out_of_scope", "该案件不在操作人的辖区内", "the case is outside the author's scope")
	}
	return nil
}

func allDigitsString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RoleTableMarkdown renders the table as docs/security.md shows it: a row per permission
// with its scope, a column per role, ✓ where the role holds it.
func RoleTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| permission | scope |")
	for _, r := range Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|---|")
	for range Roles {
		b.WriteString(":-:|")
	}
	b.WriteString("\n")
	for _, p := range Permissions {
		b.WriteString("| " + string(p) + " " + permissionZh[p] + " | " + string(PermissionScope[p]) + " |")
		for _, r := range Roles {
			if RoleHas(r, p) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("   |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
