package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// Person is a petitioner or a party to a dispute. Every field of it is identity data:
// visible only in scope, never logged, masked in redacted exports.
type Person struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number,omitempty"` // 18-digit 公民身份号码
	Phone    string `json:"phone,omitempty"`
	Address  string `json:"address,omitempty"`
}

// Party is the person or unit a petition is about (被反映对象) or accuses (被检举控告对象).
type Party struct {
	Kind    string `json:"kind"`              // "person" or "unit"
	Name    string `json:"name"`              // 姓名 or 单位名称
	Code    string `json:"code,omitempty"`    // resident ID or 统一社会信用代码
	Address string `json:"address,omitempty"` //
	Region  string `json:"region,omitempty"`  // the unit's division code, if known
	Station string `json:"station,omitempty"` // the unit's own station, if it has one
}

// Note is one record of a case's timeline: a handling note, a visit, a call.
type Note struct {
	Text string `json:"text"`
	Kind string `json:"kind,omitempty"` // "note" (default), "visit", "call", "mediation"
	At   int64  `json:"at,omitempty"`   // when it happened, ms since epoch; 0 = when written
}

// File is an attachment's metadata; the bytes travel outside ops, addressed by hash.
type File struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	MIME   string `json:"mime,omitempty"`
}

var noteKinds = []string{"note", "visit", "call", "mediation"}

// Limits of local values, in characters.
const (
	maxString = 200
	maxText   = 20000
	maxTag    = 32
)

// Time bounds of a local TypeTime value: 2000-01-01 to 2100-01-01, in ms.
const (
	minTime = 946684800000
	maxTime = 4102444800000
)

// EncodeJSON validates a JSON value given for field in a local write and returns its
// canonical encoding. For a Set field the JSON is one element; for a Log field one record.
// The error names the field and says what is wrong in Chinese and English.
func EncodeJSON(field string, raw json.RawMessage) ([]byte, error) {
	spec, ok := Fields[field]
	if !ok {
		return nil, fieldErr(field, "unknown_field", "未知字段“"+field+"”", "unknown field "+field)
	}
	var err error
	b := mp.Encode(func(w *mp.Writer) { err = encodeJSON(w, spec, raw) })
	if err != nil {
		return nil, err
	}
	return b, nil
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// jsonString decodes a JSON string. Plain strings (no escapes) are read directly: a
// registration carries a dozen of them and json.Unmarshal costs more than the rest of the
// validation.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		body := raw[1 : len(raw)-1]
		if bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, '"') < 0 && utf8.Valid(body) {
			for _, c := range body {
				if c < 0x20 {
					return "", false
				}
			}
			return string(body), true
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func typeErr(field, wantZh, wantEn string) *FieldError {
	return fieldErr(field, "wrong_type", "“"+field+"”应为"+wantZh, field+" must be "+wantEn)
}

func encodeJSON(w *mp.Writer, spec *FieldSpec, raw json.RawMessage) error {
	f := spec.Name
	switch spec.Type {
	case TypeString, TypeText, TypeEnum, TypeRegion, TypeNode, TypeTags:
		s, ok := jsonString(raw)
		if !ok {
			return typeErr(f, "文本", "a string")
		}
		s = strings.TrimSpace(s)
		if err := checkString(spec, s); err != nil {
			return err
		}
		w.String(s)
	case TypeInt, TypeTime:
		v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil {
			return typeErr(f, "整数", "an integer")
		}
		if err := checkInt(spec, v); err != nil {
			return err
		}
		w.Int(v)
	case TypePersons:
		var ps []Person
		if err := decodeStrict(raw, &ps); err != nil {
			return typeErr(f, "人员列表", "a list of persons {name, id_number, phone, address}")
		}
		if len(ps) == 0 {
			return fieldErr(f, "required", "至少填写一名信访人/当事人", "at least one person is required")
		}
		if len(ps) > spec.Max {
			return fieldErr(f, "too_many", fmt.Sprintf("人员不能超过%d名", spec.Max), fmt.Sprintf("at most %d persons", spec.Max))
		}
		for i := range ps {
			if err := checkPerson(fmt.Sprintf("%s[%d]", f, i), &ps[i]); err != nil {
				return err
			}
		}
		writePersons(w, ps)
	case TypeParty:
		var p Party
		if err := decodeStrict(raw, &p); err != nil {
			return typeErr(f, "对象{kind,name,...}", "an object {kind, name, code, address, region, station}")
		}
		if err := checkParty(f, &p); err != nil {
			return err
		}
		writeParty(w, p)
	case TypeNotes:
		var n Note
		if err := decodeStrict(raw, &n); err != nil {
			return typeErr(f, "记录{text,kind,at}", "a note {text, kind, at}")
		}
		if err := checkNote(f, &n); err != nil {
			return err
		}
		writeNote(w, n)
	case TypeFiles:
		var a File
		if err := decodeStrict(raw, &a); err != nil {
			return typeErr(f, "附件{name,sha256,size,mime}", "an attachment {name, sha256, size, mime}")
		}
		if err := checkFile(f, &a); err != nil {
			return err
		}
		writeFile(w, a)
	default:
		if ok, err := encodeWorkflowJSON(w, spec, raw); ok {
			return err
		}
		return fieldErr(f, "not_writable", "该字段不能直接写入", "this field cannot be written directly")
	}
	return nil
}

func checkString(spec *FieldSpec, s string) *FieldError {
	f := spec.Name
	if !utf8.ValidString(s) {
		return fieldErr(f, "encoding", "含有无效字符", "contains invalid characters")
	}
	n := utf8.RuneCountInString(s)
	max := spec.Max
	switch {
	case max > 0 && spec.Type != TypeTags:
	case spec.Type == TypeText:
		max = maxText
	case spec.Type == TypeTags:
		max = maxTag
	default:
		max = maxString
	}
	if n > max {
		return fieldErr(f, "too_long", fmt.Sprintf("不能超过%d个字", max), fmt.Sprintf("at most %d characters", max))
	}
	switch spec.Type {
	case TypeEnum:
		if !slices.Contains(spec.Enum, s) {
			return fieldErr(f, "not_allowed", "“"+s+"”不是允许的值："+strings.Join(spec.Enum, "、"),
				fmt.Sprintf("%q is not one of %s", s, strings.Join(spec.Enum, ", ")))
		}
	case TypeRegion:
		if err := ValidateRegion(f, s); err != nil {
			return err
		}
	case TypeNode:
		if s == "" || len(s) > MaxIDLen || strings.ContainsAny(s, " /\t\n") {
			return fieldErr(f, "node_id", "站点编号格式不正确", "not a valid station id")
		}
	case TypeTags, TypeString:
		if s == "" && spec.Type == TypeTags {
			return fieldErr(f, "required", "标签不能为空", "a tag cannot be empty")
		}
		if spec.Enum != nil && !slices.Contains(spec.Enum, s) { // a set of fixed values (flags)
			return fieldErr(f, "not_allowed", "“"+s+"”不是允许的值："+strings.Join(spec.Enum, "、"),
				fmt.Sprintf("%q is not one of %s", s, strings.Join(spec.Enum, ", ")))
		}
	}
	return nil
}

func checkInt(spec *FieldSpec, v int64) *FieldError {
	if spec.Type == TypeTime && (v < minTime || v > maxTime) {
		return fieldErr(spec.Name, "time_range", "时间超出范围（2000年至2100年）", "time outside 2000–2100")
	}
	if spec.Type == TypeInt && (v < 0 || v > 1_000_000) {
		return fieldErr(spec.Name, "int_range", "数值超出范围", "number out of range")
	}
	return nil
}

func checkPerson(f string, p *Person) *FieldError {
	p.Name, p.IDNumber, p.Phone, p.Address = strings.TrimSpace(p.Name), strings.TrimSpace(p.IDNumber), strings.TrimSpace(p.Phone), strings.TrimSpace(p.Address)
	if p.Name == "" {
		return fieldErr(f+".name", "required", "请填写姓名", "name is required")
	}
	if utf8.RuneCountInString(p.Name) > 50 || utf8.RuneCountInString(p.Address) > maxString {
		return fieldErr(f, "too_long", "姓名或地址过长", "name or address too long")
	}
	if p.IDNumber != "" {
		if err := ValidateResidentID(f+".id_number", p.IDNumber); err != nil {
			return err
		}
	}
	if p.Phone != "" {
		if err := ValidatePhone(f+".phone", p.Phone); err != nil {
			return err
		}
	}
	return nil
}

func checkParty(f string, p *Party) *FieldError {
	if p.Kind != "person" && p.Kind != "unit" {
		return fieldErr(f+".kind", "not_allowed", "对象类型应为 person（个人）或 unit（单位）", `kind must be "person" or "unit"`)
	}
	if strings.TrimSpace(p.Name) == "" {
		return fieldErr(f+".name", "required", "请填写名称", "name is required")
	}
	if utf8.RuneCountInString(p.Name) > maxString || utf8.RuneCountInString(p.Address) > maxString || len(p.Code) > 64 || len(p.Station) > MaxIDLen {
		return fieldErr(f, "too_long", "内容过长", "too long")
	}
	if p.Kind == "person" && p.Code != "" {
		if err := ValidateResidentID(f+".code", p.Code); err != nil {
			return err
		}
	}
	if p.Region != "" { // a unit's division code, at any tier (a county bureau's is the county's)
		if err := ValidateRegion(f+".region", p.Region, allLevels...); err != nil {
			return err
		}
	}
	return nil
}

func checkNote(f string, n *Note) *FieldError {
	n.Text = strings.TrimSpace(n.Text)
	if n.Text == "" {
		return fieldErr(f+".text", "required", "记录内容不能为空", "note text is required")
	}
	if utf8.RuneCountInString(n.Text) > maxText {
		return fieldErr(f+".text", "too_long", fmt.Sprintf("不能超过%d个字", maxText), fmt.Sprintf("at most %d characters", maxText))
	}
	if n.Kind == "" {
		n.Kind = "note"
	}
	if !slices.Contains(noteKinds, n.Kind) {
		return fieldErr(f+".kind", "not_allowed", "记录类型不正确", "kind must be one of "+strings.Join(noteKinds, ", "))
	}
	if n.At != 0 && (n.At < minTime || n.At > maxTime) {
		return fieldErr(f+".at", "time_range", "时间超出范围", "time out of range")
	}
	return nil
}

func checkFile(f string, a *File) *FieldError {
	if strings.TrimSpace(a.Name) == "" || utf8.RuneCountInString(a.Name) > maxString {
		return fieldErr(f+".name", "required", "请填写文件名", "file name is required")
	}
	if len(a.SHA256) != 64 || strings.Trim(a.SHA256, "0123456789abcdef") != "" {
		return fieldErr(f+".sha256", "format", "文件摘要应为64位小写十六进制", "sha256 must be 64 lowercase hex digits")
	}
	if a.Size < 0 || a.Size > 1<<34 {
		return fieldErr(f+".size", "int_range", "文件大小不正确", "size out of range")
	}
	return nil
}

func writePersons(w *mp.Writer, ps []Person) {
	w.ArrayLen(len(ps))
	for _, p := range ps {
		w.ArrayLen(4)
		w.String(p.Name)
		w.String(p.IDNumber)
		w.String(p.Phone)
		w.String(p.Address)
	}
}

func writeParty(w *mp.Writer, p Party) {
	w.ArrayLen(6)
	w.String(p.Kind)
	w.String(p.Name)
	w.String(p.Code)
	w.String(p.Address)
	w.String(p.Region)
	w.String(p.Station)
}

func writeNote(w *mp.Writer, n Note) {
	w.ArrayLen(3)
	w.String(n.Text)
	w.String(n.Kind)
	w.Int(n.At)
}

func writeFile(w *mp.Writer, a File) {
	w.ArrayLen(4)
	w.String(a.Name)
	w.String(a.SHA256)
	w.Int(a.Size)
	w.String(a.MIME)
}

// EncodeDot returns the canonical encoding of a dot, the value of a Withdraw write.
func EncodeDot(d crdt.Dot) []byte {
	return mp.Encode(func(w *mp.Writer) { writeDot(w, d) })
}

// DecodeDot decodes the value of a Withdraw write.
func DecodeDot(b []byte) (crdt.Dot, error) {
	r := mp.NewReader(b)
	d := readDot(r)
	return d, r.Err()
}

// Encode helpers for callers that build values from Go types (import, tests, the demo).
// They do not validate: pass the result through the same checks as EncodeJSON when the
// value comes from a person.

// EncodeString returns the canonical encoding of a string value.
func EncodeString(s string) []byte {
	return mp.Encode(func(w *mp.Writer) { w.String(s) })
}

// EncodeInt returns the canonical encoding of an integer or time value.
func EncodeInt(v int64) []byte {
	return mp.Encode(func(w *mp.Writer) { w.Int(v) })
}

// EncodePersons returns the canonical encoding of a list of persons.
func EncodePersons(ps []Person) []byte {
	return mp.Encode(func(w *mp.Writer) { writePersons(w, ps) })
}

// EncodeNote returns the canonical encoding of a note.
func EncodeNote(n Note) []byte {
	return mp.Encode(func(w *mp.Writer) { writeNote(w, n) })
}

// EncodeParty returns the canonical encoding of a party.
func EncodeParty(p Party) []byte {
	return mp.Encode(func(w *mp.Writer) { writeParty(w, p) })
}
