package cases

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/fengqiao/fengqiao/cases/regions"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// PreparePeople validates a local op on the people document doc (its fold so far; empty
// for a new account) strictly, as Prepare does for a case, and returns the op's writes,
// normalized, and the dots it observes (what is visible now of every field it writes).
// Account ops set fields (AccountFields); audit ops append one record. Every failure is a
// *FieldError.
func PreparePeople(doc *Case, kind Kind, in []LocalWrite) ([]Write, []crdt.Dot, error) {
	switch {
	case AccountOfDoc(doc.ID) != "":
		if kind != KindAccount {
			return nil, nil, fieldErr("kind", "people_kind", "账号只能以账号操作修改", "an account changes only by account ops")
		}
		if !ValidAccountID(AccountOfDoc(doc.ID)) {
			return nil, nil, fieldErr("id", "account_id", "账号格式不正确（不能含空格、“/”，不能以“@”开头）",
				"an account id has no spaces or '/' and does not start with '@'")
		}
		return prepareAccount(doc, in)
	case len(doc.ID) > len(AuditPrefix) && doc.ID[:len(AuditPrefix)] == AuditPrefix:
		if kind != KindAudit || len(in) != 1 || in[0].Field != fieldRecord || in[0].Action != Append {
			return nil, nil, fieldErr("record", "audit_write", "审计记录只能追加一条", "an audit op appends exactly one record")
		}
		var rec AuditRecord
		if err := strictJSON(in[0].JSON, &rec); err != nil {
			return nil, nil, fieldErr("record", "wrong_type", "审计记录格式不正确", "not an audit record: "+err.Error())
		}
		if ferr := rec.Check(); ferr != nil {
			return nil, nil, ferr.WithField("record")
		}
		return []Write{{Field: fieldRecord, Action: Append, Value: rec.Encode()}}, nil, nil
	}
	return nil, nil, fieldErr("id", "people_doc", "未知的文档类型", "unknown kind of people document")
}

func prepareAccount(doc *Case, in []LocalWrite) ([]Write, []crdt.Dot, error) {
	if len(in) == 0 {
		return nil, nil, fieldErr("", "empty", "没有要保存的内容", "nothing to write")
	}
	writes := make([]Write, 0, len(in))
	var observed []crdt.Dot
	for i, lw := range in {
		if !slices.Contains(AccountFields, lw.Field) {
			return nil, nil, fieldErr(lw.Field, "unknown_field", "账号没有“"+lw.Field+"”字段", "accounts have no field "+lw.Field)
		}
		if lw.Action != Set {
			return nil, nil, fieldErr(lw.Field, "wrong_action", "账号字段只能设置", "account fields are only set")
		}
		if slices.ContainsFunc(in[:i], func(p LocalWrite) bool { return p.Field == lw.Field }) {
			return nil, nil, fieldErr(lw.Field, "duplicate_field", "一次操作只能给“"+lw.Field+"”一个值",
				"one action writes one value to "+lw.Field)
		}
		v, ferr := accountValue(lw.Field, lw.JSON)
		if ferr != nil {
			return nil, nil, ferr
		}
		writes = append(writes, Write{Field: lw.Field, Action: Set, Value: v})
		observed = append(observed, doc.Observe(lw.Field)...)
	}
	if len(doc.Registers) == 0 {
		for _, f := range []string{fieldName, fieldRegion, fieldRoles, fieldCredential} {
			if !slices.ContainsFunc(in, func(lw LocalWrite) bool { return lw.Field == f }) {
				return nil, nil, fieldErr(f, "required", "新账号需要填写“"+f+"”", "a new account needs "+f)
			}
		}
	}
	op := Op{Writes: writes, Observed: observed}
	op.Normalize()
	return op.Writes, op.Observed, nil
}

// accountValue validates one account field's JSON value and returns its encoding.
func accountValue(field string, raw json.RawMessage) ([]byte, *FieldError) {
	wrong := func(what string) *FieldError {
		return fieldErr(field, "wrong_type", "“"+field+"”应为"+what, field+" must be "+what)
	}
	switch field {
	case fieldName, fieldUnit:
		var s string
		if strictJSON(raw, &s) != nil {
			return nil, wrong("文本 / text")
		}
		limit := maxNameRunes
		if field == fieldUnit {
			limit = maxUnitRunes
		}
		if n := utf8.RuneCountInString(s); n > limit || field == fieldName && n == 0 || !printable(s) {
			return nil, fieldErr(field, "bad_text", fmt.Sprintf("“%s”须为 1 到 %d 个可见字符", field, limit),
				fmt.Sprintf("%s must be 1 to %d printable characters", field, limit))
		}
		return mp.Encode(func(w *mp.Writer) { w.String(s) }), nil
	case fieldRegion:
		var s string
		if strictJSON(raw, &s) != nil {
			return nil, wrong("区划代码 / a division code")
		}
		if !regions.Known(s) {
			return nil, fieldErr(field, "region_unknown", "不是有效的行政区划代码", "not a known division code")
		}
		return mp.Encode(func(w *mp.Writer) { w.String(s) }), nil
	case fieldRoles:
		var rs []Role
		if strictJSON(raw, &rs) != nil {
			return nil, wrong("角色列表 / a list of roles")
		}
		if len(rs) == 0 || len(rs) > maxRolesPerAcct {
			return nil, fieldErr(field, "roles_count", "至少需要一个角色", "an account needs at least one role")
		}
		ss := make([]string, 0, len(rs))
		for _, r := range rs {
			if !KnownRole(r) {
				return nil, fieldErr(field, "unknown_role", "未知角色“"+string(r)+"”", "unknown role "+string(r))
			}
			ss = append(ss, string(r))
		}
		slices.Sort(ss)
		return encodeStrings(slices.Compact(ss)), nil
	case fieldStations:
		var ss []string
		if strictJSON(raw, &ss) != nil {
			return nil, wrong("站点编号列表 / a list of station ids")
		}
		if len(ss) > maxStationsPer {
			return nil, fieldErr(field, "stations_count", fmt.Sprintf("最多 %d 个站点", maxStationsPer),
				fmt.Sprintf("at most %d stations", maxStationsPer))
		}
		for _, s := range ss {
			if !ValidID(s) || IsPeopleDoc(s) {
				return nil, fieldErr(field, "station_id", "站点编号格式不正确", "not a station id")
			}
		}
		slices.Sort(ss)
		return encodeStrings(slices.Compact(ss)), nil
	case fieldRevoked:
		var b bool
		if strictJSON(raw, &b) != nil {
			return nil, wrong("true 或 false / true or false")
		}
		return mp.Encode(func(w *mp.Writer) { w.Bool(b) }), nil
	case fieldCredential:
		var c Credential
		if strictJSON(raw, &c) != nil {
			return nil, wrong("凭据 / a credential")
		}
		if err := c.check(); err != nil {
			return nil, fieldErr(field, "bad_credential", "凭据无效", err.Error())
		}
		return c.Encode(), nil
	}
	return nil, fieldErr(field, "unknown_field", "未知字段", "unknown field "+field)
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func strictJSON(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return fmt.Errorf("no value")
	}
	return json.Unmarshal(raw, v)
}

// AccountChange is what an administrator asks of an account, as writes of its document;
// a nil field is left as it is.
type AccountChange struct {
	Name       *string
	Unit       *string
	Region     *string
	Roles      []Role
	Stations   []string
	Revoked    *bool
	Credential *Credential
}

// Writes returns the change as local writes of the account's document.
func (c AccountChange) Writes() []LocalWrite {
	var out []LocalWrite
	add := func(field string, v any) {
		b, _ := json.Marshal(v)
		out = append(out, LocalWrite{Field: field, Action: Set, JSON: b})
	}
	if c.Credential != nil {
		add(fieldCredential, c.Credential)
	}
	if c.Name != nil {
		add(fieldName, *c.Name)
	}
	if c.Region != nil {
		add(fieldRegion, *c.Region)
	}
	if c.Revoked != nil {
		add(fieldRevoked, *c.Revoked)
	}
	if c.Roles != nil {
		add(fieldRoles, c.Roles)
	}
	if c.Stations != nil {
		add(fieldStations, c.Stations)
	}
	if c.Unit != nil {
		add(fieldUnit, *c.Unit)
	}
	return out
}

// AuditWrite returns the local write of an audit record.
func AuditWrite(rec AuditRecord) LocalWrite {
	b, _ := json.Marshal(rec)
	return LocalWrite{Field: fieldRecord, Action: Append, JSON: b}
}

// AuditRecords returns the audit records an op appends (none if it is not an audit op or
// its record does not decode).
func AuditRecords(op *Op) []AuditRecord {
	if op.Kind != KindAudit {
		return nil
	}
	var out []AuditRecord
	for _, w := range op.Writes {
		if w.Field == fieldRecord && w.Action == Append {
			if rec, err := DecodeAuditRecord(w.Value); err == nil {
				out = append(out, rec)
			}
		}
	}
	return out
}

// AccountAfter returns the account doc would hold after op (doc is not changed).
func AccountAfter(doc *Case, op *Op, meta Meta) *Account {
	c := NewCase(doc.ID)
	for f, r := range doc.Registers {
		c.Registers[f] = r.Clone()
	}
	c.Apply(op, meta)
	return AccountOf(c)
}

// AccountRegions returns the regions an account op writes (nil when it writes none).
func AccountRegions(op *Op) []string {
	for _, w := range op.Writes {
		if w.Field == fieldRegion && w.Action == Set {
			if s := decodeString(w.Value); s != "" {
				return []string{s}
			}
		}
	}
	return nil
}
