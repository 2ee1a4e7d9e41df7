package cases

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fengqiao/fengqiao/crdt"
)

// LocalWrite is one write a person asks for, before validation: a field, what to do to it,
// and the value as JSON (for Withdraw, the record's dot as a JSON string "node/inc/seq").
type LocalWrite struct {
	Field  string
	Action Action
	JSON   json.RawMessage
}

// Prepare validates a local action of kind on case c (c may be a case that does not exist
// yet, for a registration) and returns the op's writes, normalized, and the dots it observes.
//
// base, when not nil, is what the author saw (the dots a GET returned): writing against it
// turns a change that arrived in between into a visible conflict instead of overwriting it.
// With a nil base the op observes what is visible at this replica now.
//
// Every failure is a *FieldError; nothing is half-validated.
func Prepare(c *Case, kind Kind, in []LocalWrite, base []crdt.Dot) ([]Write, []crdt.Dot, error) {
	if len(in) == 0 {
		return nil, nil, fieldErr("", "empty", "没有要保存的内容", "nothing to write")
	}
	if len(in) > MaxWrites {
		return nil, nil, fieldErr("", "too_many_writes", "一次修改的字段过多", fmt.Sprintf("at most %d writes per action", MaxWrites))
	}
	if err := checkKind(c, kind, in); err != nil {
		return nil, nil, err
	}
	if err := checkWorkflowWrites(c, kind, in); err != nil {
		return nil, nil, err
	}
	writes := make([]Write, 0, len(in)+1)
	var observed []crdt.Dot
	for i, lw := range in {
		for _, prev := range in[:i] {
			if prev.Field == lw.Field && prev.Action == lw.Action && (lw.Action == Set || lw.Action == Append || lw.Action == Withdraw) {
				return nil, nil, fieldErr(lw.Field, "duplicate_field", "一次操作只能给“"+lw.Field+"”一个值或一条记录",
					"one action writes one value or record to "+lw.Field)
			}
		}
		spec, ok := Fields[lw.Field]
		if !ok {
			return nil, nil, fieldErr(lw.Field, "unknown_field", "未知字段“"+lw.Field+"”", "unknown field "+lw.Field)
		}
		if err := checkAction(spec, lw.Action); err != nil {
			return nil, nil, err
		}
		var value []byte
		var err error
		if lw.Action == Withdraw {
			value, err = withdrawValue(c, spec, lw.JSON)
		} else {
			value, err = EncodeJSON(lw.Field, lw.JSON)
		}
		if err != nil {
			return nil, nil, err
		}
		writes = append(writes, Write{Field: lw.Field, Action: lw.Action, Value: value})
		if base == nil {
			switch lw.Action {
			case Set:
				observed = append(observed, c.Observe(lw.Field)...)
			case Remove:
				if s := c.Sets[lw.Field]; s != nil {
					observed = append(observed, s.AddDots(string(value))...)
				}
			}
		}
	}
	if kind == KindRegister && !slices.ContainsFunc(writes, func(w Write) bool { return w.Field == "state" }) {
		writes = append(writes, Write{Field: "state", Action: Set, Value: EncodeString(string(Registered))})
	}
	if base != nil {
		observed = slices.Clone(base)
	}
	op := Op{Writes: writes, Observed: observed}
	op.Normalize()
	return op.Writes, op.Observed, nil
}

// registerRequired are the fields a registration must carry (R22 Art 19: who, where, what).
var registerRequired = []string{"kind", "region", "petitioners", "summary"}

func checkKind(c *Case, kind Kind, in []LocalWrite) error {
	has := func(f string) bool {
		return slices.ContainsFunc(in, func(w LocalWrite) bool { return w.Field == f })
	}
	switch kind {
	case KindRegister:
		if c.Exists() {
			return fieldErr("id", "case_exists", "案件编号已存在", "a case with this id already exists")
		}
		for _, f := range registerRequired {
			if !has(f) {
				spec := Fields[f]
				return fieldErr(f, "required", "请填写“"+spec.Zh+"”", spec.En+" is required")
			}
		}
		return nil
	case KindEdit, KindTransition, KindNote, KindWithdraw, KindResolve:
		if !c.Exists() {
			return fieldErr("id", "no_case", "案件不存在", "the case does not exist")
		}
	case KindConfig:
		return nil // checkWorkflowWrites: a configuration document
	default:
		return fieldErr("kind", "unknown_kind", "未知操作类型", "unknown kind of action "+string(kind))
	}
	switch kind {
	case KindEdit, KindResolve:
		for _, f := range []string{"state", "kind"} {
			if has(f) && !(kind == KindResolve && c.Registers[f] != nil && c.Registers[f].Conflict()) {
				return fieldErr(f, "use_transition", "“"+Fields[f].Zh+"”只能通过流转办理修改", f+" changes only through a workflow transition")
			}
		}
	case KindTransition:
		if !has("state") {
			return fieldErr("state", "required", "流转需要目标状态", "a transition needs a target state")
		}
	case KindNote:
		for _, w := range in {
			if w.Action != Append {
				return fieldErr(w.Field, "note_only", "记录只能追加", "a note op only appends")
			}
		}
	case KindWithdraw:
		for _, w := range in {
			if w.Action != Withdraw {
				return fieldErr(w.Field, "withdraw_only", "撤回操作只能撤回记录", "a withdraw op only withdraws records")
			}
		}
	}
	return nil
}

func checkAction(spec *FieldSpec, a Action) *FieldError {
	ok := false
	switch spec.Type.Shape() {
	case ShapeRegister:
		ok = a == Set
	case ShapeSet:
		ok = a == Add || a == Remove
	case ShapeLog:
		ok = a == Append || a == Withdraw
	}
	if !ok {
		return fieldErr(spec.Name, "wrong_action", "不能对“"+spec.Zh+"”执行“"+a.String()+"”", "cannot "+a.String()+" "+spec.Name)
	}
	return nil
}

func withdrawValue(c *Case, spec *FieldSpec, raw json.RawMessage) ([]byte, error) {
	var s string
	if err := decodeStrict(raw, &s); err != nil {
		return nil, typeErr(spec.Name, "记录编号", "a record id node/incarnation/seq")
	}
	d, err := ParseDot(s)
	if err != nil {
		return nil, fieldErr(spec.Name, "record_id", "记录编号格式不正确", "record id must be node/incarnation/seq")
	}
	l := c.Logs[spec.Name]
	if l == nil || !slices.ContainsFunc(l.Entries(), func(e crdt.LogEntry[[]byte]) bool { return e.Dot == d }) {
		return nil, fieldErr(spec.Name, "no_record", "要撤回的记录不存在", "no such record")
	}
	return EncodeDot(d), nil
}

// ParseDot parses the "node/incarnation/seq" form Dot.String prints.
func ParseDot(s string) (crdt.Dot, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return crdt.Dot{}, fmt.Errorf("dot %q: want node/incarnation/seq", s)
	}
	j := strings.LastIndexByte(s[:i], '/')
	if j <= 0 {
		return crdt.Dot{}, fmt.Errorf("dot %q: want node/incarnation/seq", s)
	}
	inc, err1 := strconv.ParseUint(s[j+1:i], 10, 32)
	seq, err2 := strconv.ParseUint(s[i+1:], 10, 64)
	if err1 != nil || err2 != nil || seq == 0 {
		return crdt.Dot{}, fmt.Errorf("dot %q: want node/incarnation/seq", s)
	}
	return crdt.Dot{Origin: crdt.Origin{Node: s[:j], Incarnation: uint32(inc)}, Seq: seq}, nil
}

// Check lists the rules of this version that a replicated op breaks. The op is applied all
// the same (it is authentic and well-formed; rules change, and an old station may have been
// offline for a year); the replica flags what Check finds for a person to review. Unknown
// fields and kinds are not violations: they come from newer versions.
func Check(op *Op) []*FieldError {
	var out []*FieldError
	for _, w := range op.Writes {
		spec, ok := Fields[w.Field]
		if !ok {
			continue
		}
		if err := checkAction(spec, w.Action); err != nil {
			out = append(out, err)
			continue
		}
		if w.Action == Remove || w.Action == Withdraw {
			continue
		}
		if err := checkStored(spec, w.Value); err != nil {
			out = append(out, err)
		}
	}
	return out
}

// checkStored re-validates a stored value with the rules of local writes.
func checkStored(spec *FieldSpec, b []byte) *FieldError {
	v := DecodeValue(spec.Name, b)
	if _, opaque := v.(Opaque); opaque {
		return fieldErr(spec.Name, "wrong_type", "“"+spec.Zh+"”的值无法识别", spec.Name+" holds a value of the wrong type")
	}
	switch x := v.(type) {
	case string:
		return checkString(spec, x)
	case int64:
		return checkInt(spec, x)
	case []Person:
		for i := range x {
			if err := checkPerson(fmt.Sprintf("%s[%d]", spec.Name, i), &x[i]); err != nil {
				return err
			}
		}
	case Party:
		return checkParty(spec.Name, &x)
	case Note:
		return checkNote(spec.Name, &x)
	case File:
		return checkFile(spec.Name, &x)
	default:
		return checkWorkflowStored(spec, v)
	}
	return nil
}
