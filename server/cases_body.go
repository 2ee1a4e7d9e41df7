package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// Decoders of the workflow endpoints' JSON bodies. They are pure (no replica) so that they
// can be fuzzed, strict (an unknown key is an error naming it), and turn a body into local
// writes that cases.Prepare then validates field by field.

// bodyError is a malformed body: not the shape the endpoint takes.
func bodyError(field, zh, en string) *cases.FieldError {
	return &cases.FieldError{Field: field, Code: "bad_body", Zh: zh, En: en}
}

// decodeObject reads body as one JSON object of raw values, refusing anything after it.
func decodeObject(body []byte) (map[string]json.RawMessage, *cases.FieldError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, bodyError("", "请求内容应为一个JSON对象", "the body must be one JSON object")
	}
	if dec.More() {
		return nil, bodyError("", "JSON对象之后还有多余内容", "trailing data after the JSON object")
	}
	return m, nil
}

// setFields are the fields whose values are sets: a registration gives them as lists.
func isSetField(f string) bool {
	spec := cases.Fields[f]
	return spec != nil && spec.Type.Shape() == cases.ShapeSet
}

// decodeRegistration reads the body of POST /api/v1/cases: an object of field → value (a set
// field takes a list of its elements), and optionally "id". The writes are validated by
// cases.Prepare; unknown fields are refused there, naming them.
func decodeRegistration(body []byte) (id string, writes []cases.LocalWrite, err *cases.FieldError) {
	m, err := decodeObject(body)
	if err != nil {
		return "", nil, err
	}
	keys := sortedKeys(m)
	for _, k := range keys {
		v := m[k]
		switch {
		case k == "id":
			if e := json.Unmarshal(v, &id); e != nil || !cases.ValidID(id) {
				return "", nil, &cases.FieldError{Field: "id", Code: "case_id", Zh: "案件编号格式不正确",
					En: "id must be 1 to 128 characters with no spaces, control characters or '/'"}
			}
		case isSetField(k):
			var elems []json.RawMessage
			if e := json.Unmarshal(v, &elems); e != nil {
				return "", nil, bodyError(k, "“"+k+"”应为列表", k+" must be a list")
			}
			if len(elems) > cases.MaxWrites {
				return "", nil, bodyError(k, "列表过长", "too many elements")
			}
			for _, e := range elems {
				writes = append(writes, cases.LocalWrite{Field: k, Action: cases.Add, JSON: e})
			}
		case cases.Fields[k] != nil && cases.Fields[k].Type.Shape() == cases.ShapeLog:
			var recs []json.RawMessage
			if e := json.Unmarshal(v, &recs); e != nil || len(recs) > 1 {
				return "", nil, bodyError(k, "“"+k+"”应为至多一条记录的列表", k+" must be a list of at most one record")
			}
			for _, rec := range recs {
				writes = append(writes, cases.LocalWrite{Field: k, Action: cases.Append, JSON: rec})
			}
		default:
			writes = append(writes, cases.LocalWrite{Field: k, Action: cases.Set, JSON: v})
		}
		if len(writes) > cases.MaxWrites {
			return "", nil, bodyError("", "字段过多", "too many fields")
		}
	}
	return id, writes, nil
}

// patchBody is the body of PATCH /api/v1/cases/{id}.
type patchBody struct {
	// Base is the case's version as the author saw it (the "version" of a GET): the dots the
	// edit overwrites. A change that arrived since is kept beside the edit as a conflict.
	Base   []string                     `json:"base"`
	Set    map[string]json.RawMessage   `json:"set"`
	Add    map[string][]json.RawMessage `json:"add"`
	Remove map[string][]json.RawMessage `json:"remove"`
}

// decodePatch reads a PATCH body into writes and the base dots.
func decodePatch(body []byte) (writes []cases.LocalWrite, base []crdt.Dot, err *cases.FieldError) {
	var p patchBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if e := dec.Decode(&p); e != nil {
		return nil, nil, bodyError("", "请求内容应为 {base, set, add, remove}："+e.Error(), "the body must be {base, set, add, remove}: "+e.Error())
	}
	if dec.More() {
		return nil, nil, bodyError("", "JSON对象之后还有多余内容", "trailing data after the JSON object")
	}
	if p.Base == nil {
		return nil, nil, &cases.FieldError{Field: "base", Code: "base_required", Zh: "请提供所依据的版本（读取案件时的 version），以免覆盖他人的修改",
			En: "give base, the version you read (GET's version), so that an edit made meanwhile is kept as a conflict, not overwritten"}
	}
	if len(p.Base) > cases.MaxObserved {
		return nil, nil, bodyError("base", "版本过长", "base is too long")
	}
	for i, s := range p.Base {
		d, e := cases.ParseDot(s)
		if e != nil {
			return nil, nil, bodyError(fmt.Sprintf("base[%d]", i), "版本格式不正确", "a version entry is node/incarnation/seq")
		}
		base = append(base, d)
	}
	for _, k := range sortedKeys(p.Set) {
		writes = append(writes, cases.LocalWrite{Field: k, Action: cases.Set, JSON: p.Set[k]})
	}
	for _, part := range []struct {
		m map[string][]json.RawMessage
		a cases.Action
	}{{p.Add, cases.Add}, {p.Remove, cases.Remove}} {
		for _, k := range sortedKeys(part.m) {
			for _, v := range part.m[k] {
				writes = append(writes, cases.LocalWrite{Field: k, Action: part.a, JSON: v})
			}
		}
	}
	if len(writes) > cases.MaxWrites {
		return nil, nil, bodyError("", "修改的字段过多", "too many writes")
	}
	return writes, base, nil
}

// transitionBody is the body of POST /api/v1/cases/{id}/transitions.
type transitionBody struct {
	To   cases.State                `json:"to"`
	Data map[string]json.RawMessage `json:"data"`
	// State, when given, is the state the author saw: the transition is refused if the case
	// is in another one now (someone moved it meanwhile at this node).
	State cases.State `json:"state,omitempty"`
}

func decodeTransition(body []byte) (transitionBody, *cases.FieldError) {
	var t transitionBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if e := dec.Decode(&t); e != nil {
		return t, bodyError("", "请求内容应为 {to, data, state}："+e.Error(), "the body must be {to, data, state}: "+e.Error())
	}
	if dec.More() {
		return t, bodyError("", "JSON对象之后还有多余内容", "trailing data after the JSON object")
	}
	if !slices.Contains(cases.Fields["state"].Enum, string(t.To)) {
		return t, &cases.FieldError{Field: "to", Code: "not_allowed", Zh: "目标状态不正确：" + strings.Join(cases.Fields["state"].Enum, "、"),
			En: "to must be one of " + strings.Join(cases.Fields["state"].Enum, ", ")}
	}
	if len(t.Data) > cases.MaxWrites {
		return t, bodyError("data", "数据项过多", "too many data items")
	}
	return t, nil
}

// decodeNote reads the body of POST /api/v1/cases/{id}/notes: one note {text, kind, at}.
func decodeNote(body []byte) ([]cases.LocalWrite, *cases.FieldError) {
	if _, err := decodeObject(body); err != nil {
		return nil, err
	}
	return []cases.LocalWrite{{Field: "notes", Action: cases.Append, JSON: bytes.TrimSpace(body)}}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
