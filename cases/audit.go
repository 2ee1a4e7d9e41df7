package cases

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fengqiao/fengqiao/internal/mp"
)

// Audited reads. Every view or export that shows a petitioner's identity fields or an
// accusation's content writes an AuditRecord (who and when are its op's author and stamp,
// where is its origin), appended to the node's audit trail and replicated to the hub. A
// redacted view shows none of them (masked numbers, a surname, no address, no accusation)
// and writes no record.

// AuditRecord is one audited read.
type AuditRecord struct {
	Action string   `json:"action"` // AuditView, AuditList or AuditExport
	Cases  []string `json:"cases"`  // the cases whose fields were shown
	Fields []string `json:"fields"` // which of IdentityFields were shown
	Detail string   `json:"detail,omitempty"`
}

// Audit actions.
const (
	AuditView   = "view"   // one case shown
	AuditList   = "list"   // a list of cases shown with their identity fields
	AuditExport = "export" // cases exported
)

// IdentityFields name what an audit record says was shown: a petitioner's name, resident ID,
// phone and address, the accused party, and an accusation's summary.
var IdentityFields = []string{"accused", "accusation_summary", "address", "id_number", "name", "phone"}

// Limits of an audit record.
const (
	MaxAuditCases  = 1000
	maxAuditDetail = 200
)

// Encode returns the record's canonical encoding: [action, [case...], [field...], detail].
func (a *AuditRecord) Encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(4)
		w.String(a.Action)
		w.ArrayLen(len(a.Cases))
		for _, c := range a.Cases {
			w.String(c)
		}
		w.ArrayLen(len(a.Fields))
		for _, f := range a.Fields {
			w.String(f)
		}
		w.String(a.Detail)
	})
}

// DecodeAuditRecord decodes a record from outside input (a replicated op), bounds-checked.
// It does not judge the values (a newer version may know more actions): Check does.
func DecodeAuditRecord(b []byte) (AuditRecord, error) {
	r := mp.NewReader(b)
	n := r.ExpectArray(4, 16)
	var a AuditRecord
	a.Action = r.String(MaxFieldName)
	k := r.ArrayLen(MaxAuditCases)
	for i := 0; i < k && r.Err() == nil; i++ {
		a.Cases = append(a.Cases, r.String(MaxIDLen))
	}
	k = r.ArrayLen(len(IdentityFields) * 2)
	for i := 0; i < k && r.Err() == nil; i++ {
		a.Fields = append(a.Fields, r.String(MaxFieldName))
	}
	a.Detail = r.String(4 * maxAuditDetail)
	for i := 4; i < n && r.Err() == nil; i++ {
		r.Skip()
	}
	if err := r.Err(); err != nil {
		return AuditRecord{}, fmt.Errorf("decode audit record: %w", err)
	}
	if r.Remaining() != 0 {
		return AuditRecord{}, fmt.Errorf("decode audit record: %d trailing bytes: %w", r.Remaining(), mp.ErrMalformed)
	}
	return a, nil
}

// Check validates a record a node is about to write.
func (a *AuditRecord) Check() *FieldError {
	switch {
	case a.Action != AuditView && a.Action != AuditList && a.Action != AuditExport:
		return fieldErr("action", "audit_action", "审计动作无效", "audit action must be view, list or export")
	case len(a.Cases) == 0 || len(a.Cases) > MaxAuditCases:
		return fieldErr("cases", "audit_cases", "审计记录须列出 1 到 1000 个案件", "an audit record names 1 to 1000 cases")
	case len(a.Fields) == 0 || len(a.Fields) > len(IdentityFields):
		return fieldErr("fields", "audit_fields", "审计记录须列出所显示的字段", "an audit record names the fields shown")
	case utf8.RuneCountInString(a.Detail) > maxAuditDetail || !utf8.ValidString(a.Detail):
		return fieldErr("detail", "audit_detail", "说明过长", "detail is too long")
	}
	for _, c := range a.Cases {
		if !ValidID(c) || IsPeopleDoc(c) {
			return fieldErr("cases", "case_id", "案件编号格式不正确", "not a case id")
		}
	}
	for _, f := range a.Fields {
		if !slices.Contains(IdentityFields, f) {
			return fieldErr("fields", "audit_field", "未知的身份字段“"+f+"”", "unknown identity field "+f)
		}
	}
	return nil
}

// IdentityShown returns which IdentityFields a full view of c shows, sorted (nil: none).
func IdentityShown(c *Case) []string {
	var out []string
	add := func(f string) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if r := c.Registers["petitioners"]; r != nil {
		for _, w := range r.Values() {
			ps, _ := DecodeValue("petitioners", w.Value).([]Person)
			for _, p := range ps {
				add("name")
				if p.IDNumber != "" {
					add("id_number")
				}
				if p.Phone != "" {
					add("phone")
				}
				if p.Address != "" {
					add("address")
				}
			}
		}
	}
	if c.Registers["accused"] != nil {
		add("accused")
	}
	if IsAccusation(c) && c.Registers["summary"] != nil {
		add("accusation_summary")
	}
	slices.Sort(out)
	return out
}

// MaskResidentID keeps a resident ID's first 6 (the county of registration) and last 4
// characters: 110105********002X.
func MaskResidentID(s string) string {
	if utf8.RuneCountInString(s) <= 10 {
		return strings.Repeat("*", utf8.RuneCountInString(s))
	}
	r := []rune(s)
	return string(r[:6]) + strings.Repeat("*", len(r)-10) + string(r[len(r)-4:])
}

// MaskPhone keeps a phone number's first 3 and last 4 digits: 138****8000.
func MaskPhone(s string) string {
	r := []rune(s)
	if len(r) <= 7 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-4:])
}

// MaskName keeps a name's first character (the surname): 王*.
func MaskName(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return ""
	}
	return string(r[:1]) + strings.Repeat("*", max(1, len(r)-1))
}

// Redacted is what a redacted view shows in place of hidden content.
const Redacted = "（已隐藏 / hidden）"

// RedactPersons returns petitioners with masked name, ID and phone and no address.
func RedactPersons(ps []Person) []Person {
	out := make([]Person, len(ps))
	for i, p := range ps {
		out[i] = Person{Name: MaskName(p.Name), IDNumber: MaskResidentID(p.IDNumber), Phone: MaskPhone(p.Phone)}
	}
	return out
}
