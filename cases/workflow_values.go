package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fengqiao/fengqiao/cases/regions"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// The value types of the workflow's fields (workflow_fields.go): a yes/no, the list of
// extensions of handling, the list of hearings, and a 人民调解 agreement. Like every value they
// are validated from JSON in a local write (EncodeJSON), stored as canonical msgpack, and
// read back by DecodeValue; a replicated value that does not decode is Opaque.
const (
	TypeBool        Type = iota + 32 // true or false
	TypeExtensions                   // the extensions of handling granted (R22 Art 34), oldest first
	TypeHearings                     // the hearings held (听证), oldest first
	TypeAgreement                    // a 人民调解 agreement (调解协议书, MedL Art 28–31)
	TypeOrganRegion                  // the division code of an organ, at any tier (2, 4, 6, 9 or 12 digits)
)

var allLevels = []regions.Level{regions.Province, regions.City, regions.County, regions.Township, regions.Village}

// Extension is one extension of handling (延期, R22 Art 34): when it was approved, the days
// granted, who approved it with the role they held when they did, and the reason the
// petitioner is told.
type Extension struct {
	At           int64  `json:"at"`
	Days         int    `json:"days"`
	Approver     string `json:"approver"`
	ApproverRole Role   `json:"approver_role"`
	Reason       string `json:"reason"`
}

// HearingRecord is one hearing (听证): its first day (From, an instant on that day) and, once it is
// over, its last (Until; 0 while it lasts). Stage says whether it was held in ordinary
// handling (R22 Art 31(6)) or in 复核 (Art 36), where its days are not counted.
type HearingRecord struct {
	From  int64  `json:"from"`
	Until int64  `json:"until,omitempty"`
	Stage string `json:"stage"`
}

// Hearing stages.
const (
	StageHandling = "handling" // 办理中听证 (R22 Art 31(6))
	StageReReview = "rereview" // 复核听证 (R22 Art 36)
)

// MediationAgreement is a 人民调解 agreement (调解协议书). A written agreement takes effect when every
// party has signed, sealed or put a fingerprint on it, the mediator has signed it and the
// committee's seal is on it (MedL Art 29); an oral agreement takes effect when it is reached,
// recorded by the mediator (Art 30).
type MediationAgreement struct {
	Committee      string   `json:"committee"`       // 人民调解委员会
	Mediator       string   `json:"mediator"`        // 人民调解员
	At             int64    `json:"at,omitempty"`    // when it took effect; 0 = when recorded
	Oral           bool     `json:"oral,omitempty"`  // 口头协议
	PartiesSigned  []string `json:"parties_signed"`  // the parties who signed, sealed or put a fingerprint
	MediatorSigned bool     `json:"mediator_signed"` // 调解员签名
	Sealed         bool     `json:"sealed"`          // 加盖人民调解委员会印章
	Terms          string   `json:"terms"`           // the terms, with the manner and time of performance
}

// Limits of the workflow's list values.
const (
	maxExtensions = 30 // each at least a day, at most 30 days in total
	maxHearings   = 100
	maxParties    = 50
)

// encodeWorkflowJSON validates a JSON value of a workflow type and writes its encoding. ok is
// false for a type this file does not own.
func encodeWorkflowJSON(w *mp.Writer, spec *FieldSpec, raw json.RawMessage) (ok bool, err error) {
	f := spec.Name
	switch spec.Type {
	case TypeOrganRegion:
		s, ok := jsonString(raw)
		if !ok {
			return true, typeErr(f, "文本", "a string")
		}
		s = strings.TrimSpace(s)
		if err := ValidateRegion(f, s, allLevels...); err != nil {
			return true, err
		}
		w.String(s)
	case TypeBool:
		switch string(bytes.TrimSpace(raw)) {
		case "true":
			w.Bool(true)
		case "false":
			w.Bool(false)
		default:
			return true, typeErr(f, "是或否（true/false）", "true or false")
		}
	case TypeExtensions:
		var xs []Extension
		if err := decodeStrict(raw, &xs); err != nil {
			return true, typeErr(f, "延期记录列表", "a list of extensions {at, days, approver, approver_role, reason}")
		}
		if err := checkExtensions(f, xs); err != nil {
			return true, err
		}
		writeExtensions(w, xs)
	case TypeHearings:
		var hs []HearingRecord
		if err := decodeStrict(raw, &hs); err != nil {
			return true, typeErr(f, "听证记录列表", "a list of hearings {from, until, stage}")
		}
		if err := checkHearings(f, hs); err != nil {
			return true, err
		}
		writeHearings(w, hs)
	case TypeAgreement:
		var a MediationAgreement
		if err := decodeStrict(raw, &a); err != nil {
			return true, typeErr(f, "调解协议{committee,mediator,parties_signed,...}", "an agreement {committee, mediator, at, oral, parties_signed, mediator_signed, sealed, terms}")
		}
		if err := checkAgreement(f, &a); err != nil {
			return true, err
		}
		writeAgreement(w, a)
	default:
		return false, nil
	}
	return true, nil
}

func checkExtensions(f string, xs []Extension) *FieldError {
	if len(xs) > maxExtensions {
		return fieldErr(f, "too_many", "延期记录过多", fmt.Sprintf("at most %d extensions", maxExtensions))
	}
	for i := range xs {
		x := &xs[i]
		p := fmt.Sprintf("%s[%d]", f, i)
		x.Approver, x.Reason = strings.TrimSpace(x.Approver), strings.TrimSpace(x.Reason)
		switch {
		case x.At < minTime || x.At > maxTime:
			return fieldErr(p+".at", "time_range", "时间超出范围（2000年至2100年）", "time outside 2000–2100")
		case x.Days < 1 || x.Days > MaxExtensionDays:
			return fieldErr(p+".days", "bad_days", fmt.Sprintf("延期天数应为 1 到 %d", MaxExtensionDays), fmt.Sprintf("days must be 1 to %d", MaxExtensionDays))
		case utf8.RuneCountInString(x.Approver) > maxString || utf8.RuneCountInString(x.Reason) > maxText || len(x.ApproverRole) > 64:
			return fieldErr(p, "too_long", "内容过长", "too long")
		}
	}
	return nil
}

func checkHearings(f string, hs []HearingRecord) *FieldError {
	if len(hs) > maxHearings {
		return fieldErr(f, "too_many", "听证记录过多", fmt.Sprintf("at most %d hearings", maxHearings))
	}
	for i, h := range hs {
		p := fmt.Sprintf("%s[%d]", f, i)
		switch {
		case h.From < minTime || h.From > maxTime:
			return fieldErr(p+".from", "time_range", "时间超出范围（2000年至2100年）", "time outside 2000–2100")
		case h.Until != 0 && (h.Until < minTime || h.Until > maxTime):
			return fieldErr(p+".until", "time_range", "时间超出范围（2000年至2100年）", "time outside 2000–2100")
		case h.Until != 0 && h.Until < h.From:
			return fieldErr(p+".until", "until_before_from", "听证结束早于开始", "the hearing ends before it starts")
		case h.Stage != StageHandling && h.Stage != StageReReview:
			return fieldErr(p+".stage", "not_allowed", "听证阶段应为 handling（办理）或 rereview（复核）", `stage must be "handling" or "rereview"`)
		}
	}
	return nil
}

func checkAgreement(f string, a *MediationAgreement) *FieldError {
	a.Committee, a.Mediator, a.Terms = strings.TrimSpace(a.Committee), strings.TrimSpace(a.Mediator), strings.TrimSpace(a.Terms)
	switch {
	case a.Committee == "":
		return fieldErr(f+".committee", "required", "人民调解须在人民调解委员会主持下进行，请填写调解委员会（人民调解法第8条）",
			"a 人民调解 agreement is made under a mediation committee: name it (MedL Art 8)")
	case a.Mediator == "":
		return fieldErr(f+".mediator", "required", "请填写人民调解员", "name the mediator (MedL Art 13)")
	case utf8.RuneCountInString(a.Committee) > maxString || utf8.RuneCountInString(a.Mediator) > maxString || utf8.RuneCountInString(a.Terms) > maxText:
		return fieldErr(f, "too_long", "内容过长", "too long")
	case a.At != 0 && (a.At < minTime || a.At > maxTime):
		return fieldErr(f+".at", "time_range", "时间超出范围（2000年至2100年）", "time outside 2000–2100")
	case len(a.PartiesSigned) > maxParties:
		return fieldErr(f+".parties_signed", "too_many", "当事人过多", fmt.Sprintf("at most %d parties", maxParties))
	case a.Terms == "":
		return fieldErr(f+".terms", "required", "请写明协议内容及履行方式、时限（人民调解法第29条）", "state the terms, how and when they are performed (MedL Art 29)")
	}
	for i, p := range a.PartiesSigned {
		a.PartiesSigned[i] = strings.TrimSpace(p)
		if a.PartiesSigned[i] == "" || utf8.RuneCountInString(a.PartiesSigned[i]) > 50 {
			return fieldErr(fmt.Sprintf("%s.parties_signed[%d]", f, i), "required", "当事人姓名不能为空或过长", "a party's name is empty or too long")
		}
	}
	return nil
}

func writeExtensions(w *mp.Writer, xs []Extension) {
	w.ArrayLen(len(xs))
	for _, x := range xs {
		w.ArrayLen(5)
		w.Int(x.At)
		w.Int(int64(x.Days))
		w.String(x.Approver)
		w.String(string(x.ApproverRole))
		w.String(x.Reason)
	}
}

func readExtensions(r *mp.Reader) []Extension {
	n := r.ArrayLen(1000)
	xs := make([]Extension, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		m := r.ExpectArray(5, 32)
		x := Extension{At: r.Int(), Days: int(clampInt(r.Int())), Approver: r.String(4096), ApproverRole: Role(r.String(64)), Reason: r.String(MaxValueBytes)}
		for j := 5; j < m; j++ {
			r.Skip()
		}
		xs = append(xs, x)
	}
	return xs
}

func writeHearings(w *mp.Writer, hs []HearingRecord) {
	w.ArrayLen(len(hs))
	for _, h := range hs {
		w.ArrayLen(3)
		w.Int(h.From)
		w.Int(h.Until)
		w.String(h.Stage)
	}
}

func readHearings(r *mp.Reader) []HearingRecord {
	n := r.ArrayLen(1000)
	hs := make([]HearingRecord, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		m := r.ExpectArray(3, 32)
		h := HearingRecord{From: r.Int(), Until: r.Int(), Stage: r.String(32)}
		for j := 3; j < m; j++ {
			r.Skip()
		}
		hs = append(hs, h)
	}
	return hs
}

func writeAgreement(w *mp.Writer, a MediationAgreement) {
	w.ArrayLen(8)
	w.String(a.Committee)
	w.String(a.Mediator)
	w.Int(a.At)
	w.Bool(a.Oral)
	w.ArrayLen(len(a.PartiesSigned))
	for _, p := range a.PartiesSigned {
		w.String(p)
	}
	w.Bool(a.MediatorSigned)
	w.Bool(a.Sealed)
	w.String(a.Terms)
}

func readAgreement(r *mp.Reader) MediationAgreement {
	m := r.ExpectArray(8, 32)
	a := MediationAgreement{Committee: r.String(4096), Mediator: r.String(4096), At: r.Int(), Oral: r.Bool()}
	n := r.ArrayLen(1000)
	for i := 0; i < n && r.Err() == nil; i++ {
		a.PartiesSigned = append(a.PartiesSigned, r.String(1024))
	}
	a.MediatorSigned, a.Sealed, a.Terms = r.Bool(), r.Bool(), r.String(MaxValueBytes)
	for j := 8; j < m; j++ {
		r.Skip()
	}
	return a
}

func clampInt(v int64) int64 { return max(min(v, 1<<31-1), -(1 << 31)) }

// readWorkflowValue reads a value of a workflow type; ok is false for another type.
func readWorkflowValue(r *mp.Reader, t Type) (v any, ok bool) {
	switch t {
	case TypeOrganRegion:
		return r.String(MaxValueBytes), true
	case TypeBool:
		return r.Bool(), true
	case TypeExtensions:
		return readExtensions(r), true
	case TypeHearings:
		return readHearings(r), true
	case TypeAgreement:
		return readAgreement(r), true
	}
	return nil, false
}

// checkWorkflowStored re-validates a stored workflow value with the rules of local writes.
func checkWorkflowStored(spec *FieldSpec, v any) *FieldError {
	switch x := v.(type) {
	case string:
		if spec.Type == TypeOrganRegion {
			return ValidateRegion(spec.Name, x, allLevels...)
		}
	case []Extension:
		return checkExtensions(spec.Name, slices.Clone(x))
	case []HearingRecord:
		return checkHearings(spec.Name, x)
	case MediationAgreement:
		return checkAgreement(spec.Name, &x)
	}
	return nil
}

// JSONOf returns v as JSON for a local write (the workflow builds its writes from Go
// values): the encoding never fails for the types of this package.
func JSONOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("cases: JSONOf: " + err.Error()) // only a type with a channel or func could do this
	}
	return b
}

// EncodeBool returns the canonical encoding of a yes/no value.
func EncodeBool(v bool) []byte { return mp.Encode(func(w *mp.Writer) { w.Bool(v) }) }

// EncodeExtensions returns the canonical encoding of a list of extensions.
func EncodeExtensions(xs []Extension) []byte {
	return mp.Encode(func(w *mp.Writer) { writeExtensions(w, xs) })
}

// EncodeHearings returns the canonical encoding of a list of hearings.
func EncodeHearings(hs []HearingRecord) []byte {
	return mp.Encode(func(w *mp.Writer) { writeHearings(w, hs) })
}

// EncodeAgreement returns the canonical encoding of a mediation agreement.
func EncodeAgreement(a MediationAgreement) []byte {
	return mp.Encode(func(w *mp.Writer) { writeAgreement(w, a) })
}
