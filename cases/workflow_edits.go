package cases

import (
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/crdt"
)

// The workflow's rules for writes other than transitions, checked by Prepare: the event
// times and transition data change only through a transition; nobody is made the handler
// of an item they must recuse themselves from, and no accusation is handed to the accused
// by an edit either; a conflict of the state is resolved by choosing one of its values; a
// registration starts as a draft or registered; configuration documents hold configuration
// only.

// KindConfig is the op kind of a configuration document (ConfigID).
const KindConfig Kind = "config"

// guarded are the fields whose values the accusation and recusal rules compare.
var guarded = map[string]bool{"handler": true, "handler_unit": true, "assignee": true, "handler_region": true, "recused": true}

// registerStates are the states a case may be registered in.
var registerStates = []State{Registered, Captured}

func checkWorkflowWrites(c *Case, kind Kind, in []LocalWrite) error {
	if IsConfigID(c.ID) != (kind == KindConfig) {
		if kind == KindConfig {
			return fieldErr("id", "config_id", "配置文档的编号应以 cfg. 开头", "a configuration document's id starts with cfg.")
		}
		return fieldErr("id", "config_id", "以 cfg. 开头的编号留给配置文档", "ids starting with cfg. are for configuration documents")
	}
	if kind == KindRegister {
		if err := checkRegistration(in); err != nil {
			return err
		}
	}
	for _, w := range in {
		if kind != KindConfig && kind != KindResolve && kind != KindRegister && w.Field != "config" && !guarded[w.Field] &&
			!(kind == KindEdit && IsWorkflowOnly(w.Field)) {
			continue // the common case: nothing the workflow rules look at
		}
		switch {
		case kind == KindConfig && w.Field != "config":
			return fieldErr(w.Field, "config_only", "配置文档只有“配置”一项", "a configuration document holds only the field config")
		case kind != KindConfig && w.Field == "config":
			return fieldErr(w.Field, "config_only", "“配置”只属于配置文档", "config belongs to configuration documents only")
		case (kind == KindEdit || kind == KindRegister) && IsWorkflowOnly(w.Field):
			return fieldErr(w.Field, "use_transition", "“"+Fields[w.Field].Zh+"”只能通过流转办理填写", w.Field+" is written only by a workflow transition")
		case kind == KindRegister && w.Field == "state":
			s, _ := jsonString(w.JSON)
			if !slices.Contains(registerStates, State(strings.TrimSpace(s))) {
				return fieldErr("state", "register_state", "新案件只能登记为“登记”或“采集”（草稿）", "a new case is registered as REGISTERED or CAPTURED (a draft)")
			}
		case kind == KindResolve && w.Field == "state":
			s, _ := jsonString(w.JSON)
			if !slices.Contains(c.Strings("state"), strings.TrimSpace(s)) {
				return fieldErr("state", "resolve_choice", "处理状态冲突时只能选择冲突中的一个状态："+strings.Join(c.Strings("state"), "、"),
					"a state conflict is resolved by choosing one of its states: "+strings.Join(c.Strings("state"), ", "))
			}
		}
		if (w.Action == Set || w.Action == Add) && guarded[w.Field] {
			s, _ := jsonString(w.JSON)
			s = strings.TrimSpace(s)
			var err *FieldError
			switch w.Field {
			case "handler":
				err = CheckNotRecused(c, s)
			case "handler_unit":
				err = CheckNotAccused(c, s, "", "")
			case "assignee":
				err = CheckNotAccused(c, "", s, "")
			case "handler_region":
				err = CheckNotAccused(c, "", "", s)
			case "recused":
				if s != "" && slices.Contains(c.Strings("handler"), s) {
					err = fieldErr("recused", "handler_recused", "该人员正在承办此事项，请先更换承办人再登记回避", "this person handles the item: name another handler first")
					err.Rule = "R22 Art 28(3)"
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRegistration applies the accusation and recusal rules within one registration, whose
// accused and handler are written by the same op as what they rule out.
func checkRegistration(in []LocalWrite) *FieldError {
	if !slices.ContainsFunc(in, func(w LocalWrite) bool { return w.Field == "accused" || w.Field == "recused" }) {
		return nil
	}
	c := NewCase("")
	for _, w := range in {
		if w.Field == "accused" || w.Field == "recused" {
			if b, err := EncodeJSON(w.Field, w.JSON); err == nil {
				switch w.Field {
				case "accused":
					c.Registers["accused"] = &crdt.MVReg[[]byte]{}
					c.Registers["accused"].Apply(crdt.Write[[]byte]{Dot: crdt.Dot{Origin: crdt.Origin{Node: "-"}, Seq: 1}, Value: b}, nil)
				case "recused":
					if c.Sets["recused"] == nil {
						c.Sets["recused"] = &crdt.AWSet[string]{}
					}
					c.Sets["recused"].Add(string(b), crdt.Dot{Origin: crdt.Origin{Node: "-"}, Seq: uint64(len(c.Sets["recused"].Elems()) + 1)})
				}
			}
		}
	}
	for _, w := range in {
		if !guarded[w.Field] {
			continue
		}
		s, _ := jsonString(w.JSON)
		s = strings.TrimSpace(s)
		var err *FieldError
		switch w.Field {
		case "handler":
			err = CheckNotRecused(c, s)
		case "handler_unit":
			err = CheckNotAccused(c, s, "", "")
		case "assignee":
			err = CheckNotAccused(c, "", s, "")
		case "handler_region":
			err = CheckNotAccused(c, "", "", s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
