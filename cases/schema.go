package cases

import "slices"

// Type is the type of a field's value.
type Type uint8

const (
	TypeString  Type = iota + 1 // short text (≤ 200 characters)
	TypeText                    // long text (≤ 20,000 characters)
	TypeInt                     // integer
	TypeTime                    // instant, milliseconds since the Unix epoch (shown in Asia/Shanghai)
	TypeEnum                    // one of the spec's values
	TypeRegion                  // 12-digit (or 9-digit) statistical division code
	TypePersons                 // list of persons (petitioners)
	TypeParty                   // a person or a unit (respondent, accused)
	TypeTags                    // add-wins set of short strings
	TypeNotes                   // append-only log of notes
	TypeFiles                   // append-only log of attachment metadata
	TypeNode                    // a station or hub id
)

// Shape is the CRDT a field is stored in.
type Shape uint8

const (
	ShapeRegister Shape = iota // multi-value register: conflicts are visible
	ShapeSet                   // add-wins set
	ShapeLog                   // append-only log
)

// Shape returns the CRDT shape of values of type t.
func (t Type) Shape() Shape {
	switch t {
	case TypeTags:
		return ShapeSet
	case TypeNotes, TypeFiles:
		return ShapeLog
	}
	return ShapeRegister
}

// FieldSpec describes one field of the case document.
type FieldSpec struct {
	Name  string
	Type  Type
	Zh    string   // label shown to people
	En    string   // English label
	Enum  []string // allowed values of a TypeEnum field
	Max   int      // maximum length in characters for strings, elements for lists; 0 = type default
	Group string   // "identity" for petitioners' personal data (audited, masked); "" otherwise
}

// Kinds of matter.
const (
	MatterPetition = "petition" // 信访事项
	MatterDispute  = "dispute"  // 矛盾纠纷
)

// Channels of a petition (R22 Art 17) and where a dispute came from.
var channels = []string{"走访", "书信", "电话", "网络", "传真", "电子邮件", "排查发现", "上级交办", "部门转来", "其他"}

// Outcomes of a 信访处理意见书 (R22 Art 32).
var outcomes = []string{"支持", "解释说明", "不予支持"}

// Matter types (R22 Art 29–31).
var matterTypes = []string{"建议意见", "检举控告", "申诉求决", "反映情况"}

// Fields is the schema of the case document, by name. Fields not listed here are kept as
// opaque bytes when they arrive in replicated ops and refused in local writes.
var Fields = indexFields(append([]FieldSpec{
	{Name: "kind", Type: TypeEnum, Zh: "类别", En: "Kind", Enum: []string{MatterPetition, MatterDispute}},
	{Name: "region", Type: TypeRegion, Zh: "所属区划", En: "Region"},
	{Name: "petitioners", Type: TypePersons, Zh: "信访人/当事人", En: "Petitioners", Max: 50, Group: "identity"},
	{Name: "people_count", Type: TypeInt, Zh: "人数", En: "Number of people"},
	{Name: "category", Type: TypeString, Zh: "内容分类", En: "Category"},
	{Name: "channel", Type: TypeEnum, Zh: "信访形式", En: "Channel", Enum: channels},
	{Name: "matter_type", Type: TypeEnum, Zh: "事项类型", En: "Matter type", Enum: matterTypes},
	{Name: "summary", Type: TypeText, Zh: "诉求及事实理由", En: "Request, facts and reasons"},
	{Name: "respondent", Type: TypeParty, Zh: "被反映对象", En: "Respondent"},
	{Name: "accused", Type: TypeParty, Zh: "被检举控告对象", En: "Accused", Group: "accusation"},
	{Name: "handler_unit", Type: TypeString, Zh: "办理单位", En: "Handling unit"},
	{Name: "assignee", Type: TypeNode, Zh: "承办站点", En: "Assigned station"},
	{Name: "tags", Type: TypeTags, Zh: "标签", En: "Tags", Max: 32},
	{Name: "state", Type: TypeEnum, Zh: "状态", En: "State", Enum: allStates()},
	{Name: "registered_at", Type: TypeTime, Zh: "登记时间", En: "Registered at"},
	{Name: "received_at", Type: TypeTime, Zh: "收到时间", En: "Received at"},
	{Name: "notice_at", Type: TypeTime, Zh: "告知时间", En: "Notice served at"},
	{Name: "route", Type: TypeString, Zh: "处理途径", En: "Route"},
	{Name: "outcome", Type: TypeEnum, Zh: "处理意见", En: "Outcome", Enum: outcomes},
	{Name: "served_at", Type: TypeTime, Zh: "答复时间", En: "Opinion served at"},
	{Name: "close_reason", Type: TypeString, Zh: "办结原因", En: "Reason for closing"},
	{Name: "notes", Type: TypeNotes, Zh: "办理记录", En: "Notes"},
	{Name: "attachments", Type: TypeFiles, Zh: "附件", En: "Attachments"},
}, workflowFields...))

func indexFields(specs []FieldSpec) map[string]*FieldSpec {
	m := make(map[string]*FieldSpec, len(specs))
	for i := range specs {
		m[specs[i].Name] = &specs[i]
	}
	return m
}

// FieldNames returns the names of the schema's fields in sorted order.
func FieldNames() []string {
	names := make([]string, 0, len(Fields))
	for n := range Fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
