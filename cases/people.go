package cases

import (
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// People are documents in the same op log as cases: an account is the fold of the ops on
// the document "@account:<id>", and each node's audit trail is the document "@audit:<node>",
// whose ops each append one audit record. They travel like cases (scope streams, bundles,
// the hub's Raft log, with chains, signatures, dedupe and quarantine), but they are not
// cases: replicas keep them out of case lists and counts. Every id that starts with '@' is
// reserved for such documents; a case id never does.

// Document id prefixes.
const (
	PeoplePrefix  = "@"
	AccountPrefix = "@account:"
	AuditPrefix   = "@audit:"
)

// Kinds of the ops on people documents.
const (
	KindAccount Kind = "account" // creates or changes an account (fields below)
	KindAudit   Kind = "audit"   // appends one audit record to a node's trail
)

// SetupAuthor is the author of the one account a node without accounts creates for its own
// administrator (the first-run flow): there is nobody signed in yet to be the author.
const SetupAuthor = "@setup"

// IsPeopleDoc reports whether id names a people document rather than a case.
func IsPeopleDoc(id string) bool { return strings.HasPrefix(id, PeoplePrefix) }

// AccountDocID names the document of account id.
func AccountDocID(id string) string { return AccountPrefix + id }

// AuditDocID names the audit trail of node.
func AuditDocID(node string) string { return AuditPrefix + node }

// AccountOfDoc returns the account id of an account document ("" if doc is not one).
func AccountOfDoc(doc string) string {
	id, ok := strings.CutPrefix(doc, AccountPrefix)
	if !ok {
		return ""
	}
	return id
}

// MaxAccountID bounds an account id: its document id must stay a valid id.
const MaxAccountID = MaxIDLen - len(AccountPrefix)

// ValidAccountID reports whether s may name an account: a valid id that does not start with
// '@' (reserved) and fits in its document's id.
func ValidAccountID(s string) bool {
	return ValidID(s) && !IsPeopleDoc(s) && len(s) <= MaxAccountID
}

// The roles of the authorization table (Role and RoleUnitHead are declared with the
// extension rules, which need the unit head).
const (
	RoleGridWorker    Role = "grid_worker"    // 网格员
	RoleTownshipStaff Role = "township_staff" // 乡镇（街道）工作人员
	RoleCountyStaff   Role = "county_staff"   // 县级信访部门工作人员
	RoleLeader        Role = "leader"         // 包案领导
	RoleJudge         Role = "judge"          // 法官进网格的法官
	RoleMediator      Role = "mediator"       // 人民调解员
	RoleStationAdmin  Role = "station_admin"  // 站点管理员
	RoleCountyAdmin   Role = "county_admin"   // 县级系统管理员
)

// Roles lists every role, in the order the table shows them.
var Roles = []Role{RoleGridWorker, RoleTownshipStaff, RoleCountyStaff, RoleUnitHead, RoleLeader, RoleJudge,
	RoleMediator, RoleStationAdmin, RoleCountyAdmin}

// RoleLabels are the roles' names for people.
var RoleLabels = map[Role][2]string{
	RoleGridWorker:    {"网格员", "grid worker"},
	RoleTownshipStaff: {"乡镇工作人员", "township staff"},
	RoleCountyStaff:   {"县级工作人员", "county staff"},
	RoleUnitHead:      {"单位负责人", "unit head"},
	RoleLeader:        {"包案领导", "leader in charge"},
	RoleJudge:         {"法官", "embedded judge"},
	RoleMediator:      {"调解员", "mediator"},
	RoleStationAdmin:  {"站点管理员", "station admin"},
	RoleCountyAdmin:   {"县级管理员", "county admin"},
}

// KnownRole reports whether r is one of Roles.
func KnownRole(r Role) bool { return slices.Contains(Roles, r) }

// Account is an account as the fold of its document's ops. Fields a security decision reads
// are resolved to the restrictive side while their register is in conflict (two admins
// changed them offline, each unaware of the other): the roles held are those every visible
// value grants, the account is revoked if any visible value says so, and a case is in its
// scope only if it is in the scope of every visible region. Delivery to stations takes the
// union instead (Regions and Stations as listed), so that a conflict never hides an account
// from a station that must learn of a revocation.
type Account struct {
	ID       string
	Name     string
	Unit     string
	Regions  []string // visible values of region, sorted (one unless in conflict)
	Stations []string // stations it may also sign in at and whose assigned cases are in its scope
	Roles    []Role   // roles held: in every visible value of roles, sorted
	Revoked  bool
	// RevokedAt is the stamp of the (earliest visible) revocation: ops the account wrote
	// before it are judged as if it were not revoked.
	RevokedAt crdt.Timestamp
	// Credential is the display winner of the credential register, and CredentialDot the op
	// that wrote it: a session remembers the dot, so a password reset ends every session
	// signed in with the old password.
	Credential    Credential
	CredentialDot crdt.Dot
	Conflicts     []string // fields in conflict
}

// Has reports whether the account holds role r.
func (a *Account) Has(r Role) bool { return a != nil && slices.Contains(a.Roles, r) }

// Active reports whether the account may act at all at stamp t (the zero stamp: now).
func (a *Account) Active(t crdt.Timestamp) bool {
	if a == nil || !a.Revoked {
		return a != nil
	}
	return !t.IsZero() && t.Less(a.RevokedAt)
}

// Fields of an account document and of an audit trail.
const (
	fieldName       = "name"
	fieldUnit       = "unit"
	fieldRegion     = "region"
	fieldRoles      = "roles"
	fieldStations   = "stations"
	fieldRevoked    = "revoked"
	fieldCredential = "credential"
	fieldRecord     = "record"
)

// AccountFields are the fields an account op may write, in canonical order.
var AccountFields = []string{fieldCredential, fieldName, fieldRegion, fieldRevoked, fieldRoles, fieldStations, fieldUnit}

// Limits on account values.
const (
	maxNameRunes     = 50
	maxUnitRunes     = 100
	maxRolesPerAcct  = 16
	maxStationsPer   = 64
	maxCredentialLen = 512
)

// AccountOf returns the account that the folded document c holds, or nil when c holds no
// account (no op of it yet, or only writes this version cannot read).
func AccountOf(c *Case) *Account {
	id := AccountOfDoc(c.ID)
	if id == "" || len(c.Registers) == 0 {
		return nil
	}
	a := &Account{ID: id, Conflicts: c.Conflicts()}
	if w, ok := winner(c, fieldName); ok {
		a.Name = decodeString(w.Value)
	}
	if w, ok := winner(c, fieldUnit); ok {
		a.Unit = decodeString(w.Value)
	}
	for _, w := range values(c, fieldRegion) {
		if s := decodeString(w.Value); s != "" && !slices.Contains(a.Regions, s) {
			a.Regions = append(a.Regions, s)
		}
	}
	slices.Sort(a.Regions)
	for _, w := range values(c, fieldStations) {
		for _, s := range decodeStrings(w.Value, maxStationsPer) {
			if !slices.Contains(a.Stations, s) {
				a.Stations = append(a.Stations, s)
			}
		}
	}
	slices.Sort(a.Stations)
	for i, w := range values(c, fieldRoles) {
		var rs []Role
		for _, s := range decodeStrings(w.Value, maxRolesPerAcct) {
			if KnownRole(Role(s)) {
				rs = append(rs, Role(s))
			}
		}
		if i == 0 {
			a.Roles = rs
			continue
		}
		a.Roles = slices.DeleteFunc(a.Roles, func(r Role) bool { return !slices.Contains(rs, r) })
	}
	slices.Sort(a.Roles)
	a.Roles = slices.Compact(a.Roles)
	for _, w := range values(c, fieldRevoked) {
		if decodeBool(w.Value) && (!a.Revoked || w.Stamp.Less(a.RevokedAt)) {
			a.Revoked, a.RevokedAt = true, w.Stamp
		}
	}
	if w, ok := winner(c, fieldCredential); ok {
		if cred, err := DecodeCredential(w.Value); err == nil {
			a.Credential, a.CredentialDot = cred, w.Dot
		}
	}
	return a
}

func winner(c *Case, field string) (crdt.Write[[]byte], bool) {
	r := c.Registers[field]
	if r == nil {
		return crdt.Write[[]byte]{}, false
	}
	return r.Winner()
}

func values(c *Case, field string) []crdt.Write[[]byte] {
	if r := c.Registers[field]; r != nil {
		return r.Values()
	}
	return nil
}

func decodeString(b []byte) string {
	r := mp.NewReader(b)
	s := r.String(MaxValueBytes)
	if r.Err() != nil || r.Remaining() != 0 {
		return ""
	}
	return s
}

func decodeBool(b []byte) bool {
	r := mp.NewReader(b)
	v := r.Bool()
	return r.Err() == nil && r.Remaining() == 0 && v
}

// decodeStrings reads an array of at most max strings (nil if b is not one).
func decodeStrings(b []byte, max int) []string {
	r := mp.NewReader(b)
	n := r.ArrayLen(max)
	out := make([]string, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		out = append(out, r.String(MaxIDLen))
	}
	if r.Err() != nil || r.Remaining() != 0 {
		return nil
	}
	return out
}

func encodeStrings(ss []string) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(len(ss))
		for _, s := range ss {
			w.String(s)
		}
	})
}

// AccountJSON is an account as the API shows it: never its credential.
type AccountJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Unit      string   `json:"unit,omitempty"`
	Region    string   `json:"region"`
	Regions   []string `json:"regions,omitempty"` // all values while the region is in conflict
	Stations  []string `json:"stations,omitempty"`
	Roles     []Role   `json:"roles"`
	Revoked   bool     `json:"revoked,omitempty"`
	Conflicts []string `json:"conflicts,omitempty"`
}

// View returns the account as the API shows it.
func (a *Account) View() AccountJSON {
	v := AccountJSON{ID: a.ID, Name: a.Name, Unit: a.Unit, Stations: a.Stations, Roles: a.Roles, Revoked: a.Revoked,
		Conflicts: a.Conflicts}
	if v.Roles == nil {
		v.Roles = []Role{}
	}
	if len(a.Regions) > 0 {
		v.Region = a.Regions[0]
	}
	if len(a.Regions) > 1 {
		v.Regions = a.Regions
	}
	return v
}
