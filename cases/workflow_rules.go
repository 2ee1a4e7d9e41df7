package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/internal/mp"
)

// The data each transition takes and the rules it must meet. A transition's data is a map of
// parameter → JSON value; most parameters are stored in the field of the same name, a few
// (an extension's days and approver, a hearing's dates) are folded into a list the rules
// build. Unknown parameters are refused, so a typo never passes silently.

// param is one parameter of a transition.
type param struct {
	name     string
	field    string     // the field it is stored in; "" when a rule reads it instead
	spec     *FieldSpec // its type when it is not a field (field == "")
	required bool
	now      bool // defaults to the transition's time (TransitionContext.Now)
}

// rule is what one transition requires.
type rule struct {
	basis  string // the provision it rests on, named in refusals
	params []param
	check  func(*tx) *FieldError
}

// variant is the rule of a transition into a state from some states (nil: from any).
type variant struct {
	from []State
	rule rule
}

func p(field string) param   { return param{name: field, field: field} }
func req(field string) param { return param{name: field, field: field, required: true} }
func now(field string) param { return param{name: field, field: field, now: true} }
func arg(name string, t Type) param {
	return param{name: name, spec: &FieldSpec{Name: name, Type: t, Zh: name, En: name}}
}

func (x param) need() param  { x.required = true; return x }
func (x param) atNow() param { x.now = true; return x }

var routingParams = []param{req("handler_unit"), p("handler_region"), p("assignee"), p("handler")}

// rules lists, per kind and target state, the transitions' data and checks.
var rules = map[string]map[State][]variant{
	MatterPetition: {
		Registered: {{rule: rule{basis: "R22 Art 22, 23", params: []param{now("received_at"), now("registered_at")}}}},
		Forwarded: {{rule: rule{basis: "R22 Art 22", params: append(slices.Clone(routingParams), now("routed_at"), p("forward_received_at")),
			check: func(t *tx) *FieldError { t.defaultTo("forward_received_at", "routed_at"); return checkRouting(t) }}}},
		Assigned: {{rule: rule{basis: "R22 Art 22(3)", params: append(slices.Clone(routingParams), now("assigned_at"), p("feedback_due"), p("forward_received_at")),
			check: func(t *tx) *FieldError {
				t.defaultTo("forward_received_at", "assigned_at")
				if t.has("feedback_due") && t.ms("feedback_due") < t.ms("assigned_at") {
					return fieldErr("feedback_due", "before_assigned", "反馈期限早于交办时间", "the feedback date is before the assignment")
				}
				return checkRouting(t)
			}}}},
		RoutedLegal:      {{rule: rule{basis: "R22 Art 22(2), 28(2)", params: []param{req("handler_unit"), now("routed_at")}, check: checkRouting}}},
		RoutedDiscipline: {{rule: rule{basis: "R22 Art 22(2), 30", params: []param{req("handler_unit"), now("routed_at")}, check: checkRouting}}},
		Redirected:       {{rule: rule{basis: "R22 Art 23(1)", params: []param{req("handler_unit"), now("routed_at")}, check: checkRouting}}},
		NotAccepted: {{rule: rule{basis: "R22 Art 19(3), 36(3)", params: []param{req("refusal"), p("related_case"), now("routed_at")},
			check: func(t *tx) *FieldError {
				if t.str("refusal") == "不再受理" && t.str("related_case") == "" {
					return fieldErr("related_case", "required", "不再受理须注明已经复核的原案件", "a 不再受理 refusal names the earlier, re-reviewed case")
				}
				return nil
			}}}},
		Objected: {{rule: rule{basis: "R22 Art 23(3)", params: []param{req("objection_reason"), now("objected_at")}}}},
		Returned: {{rule: rule{basis: "R22 Art 23(3)", params: []param{now("returned_at")}}}},
		Accepted: {{rule: rule{basis: "R22 Art 23", params: []param{req("notice_at"), p("handler")}, check: checkRecusal}}},
		RoutedToProcedure: {{rule: rule{basis: "R22 Art 31(1)–(5)", params: []param{req("route"), p("handler_unit")},
			check: func(t *tx) *FieldError { return t.oneOf("route", RoutesToProcedure) }}}},
		Investigating: {
			{from: []State{Accepted}, rule: rule{basis: "R22 Art 29–31", params: []param{req("route"), p("handler")},
				check: func(t *tx) *FieldError {
					if err := t.oneOf("route", RoutesHandled); err != nil {
						return err
					}
					return checkRecusal(t)
				}}},
			{from: []State{Mediating}, rule: rule{basis: "R22 Art 33"}},
			{from: []State{Hearing}, rule: rule{basis: "R22 Art 31(6)", params: []param{arg("hearing_until", TypeTime).atNow()},
				check: func(t *tx) *FieldError { return closeHearing(t, StageHandling) }}},
			{from: []State{Review, ReReview}, rule: rule{basis: "R22 Art 35, 36", params: []param{now("notice_at"), p("handler")},
				check: func(t *tx) *FieldError {
					f := "review_outcome"
					if t.from == ReReview {
						f = "rereview_outcome"
					}
					if t.c.String(f) != OutcomeRedo {
						return fieldErr(f, "not_redo", "只有复查、复核意见为“责令重新办理”时才重新办理",
							"the item is handled again only when the review opinion orders it (责令重新办理)")
					}
					return checkRecusal(t)
				}}},
		},
		Mediating: {{rule: rule{basis: "R22 Art 33", params: []param{req("mediation_consent"), p("mediator")},
			check: func(t *tx) *FieldError {
				if v, _ := t.vals["mediation_consent"].(bool); !v {
					return fieldErr("mediation_consent", "no_consent", "调解、和解须经当事人同意", "mediation needs the parties' consent")
				}
				return nil
			}}}},
		Extended: {{rule: rule{basis: "R22 Art 34", params: []param{arg("days", TypeInt).need(), arg("approver", TypeString).need(),
			arg("approver_role", TypeString).need(), arg("reason", TypeText).need(), arg("extended_at", TypeTime).atNow()}, check: extend}}},
		Hearing: {{rule: rule{basis: "R22 Art 31(6), 36", params: []param{arg("hearing_from", TypeTime).atNow(), arg("hearing_until", TypeTime)}, check: openHearing}}},
		OpinionServed: {
			{from: []State{Mediating}, rule: rule{basis: "R22 Art 32, 33", params: []param{p("outcome"), p("settlement"), req("served_at"), p("feedback_at")},
				check: func(t *tx) *FieldError {
					if !t.has("outcome") && !t.has("settlement") {
						return fieldErr("outcome", "required", "请填写处理意见（支持、解释说明、不予支持）或协议类型（调解协议书、和解协议书）",
							"give the outcome (支持, 解释说明, 不予支持) or the settlement (调解协议书, 和解协议书)")
					}
					return nil
				}}},
			{rule: rule{basis: "R22 Art 32", params: []param{req("outcome"), req("served_at"), p("feedback_at")}}},
		},
		Implementing: {{rule: rule{basis: "R22 Art 32, 42(4)", params: []param{p("feedback_at")},
			check: func(t *tx) *FieldError {
				if t.c.String("outcome") != "支持" {
					return fieldErr("outcome", "not_supported", "只有处理意见为“支持”的事项才需督促落实", "only a supported opinion (支持) is implemented")
				}
				return nil
			}}}},
		Review: {
			{from: []State{Review}, rule: rule{basis: "R22 Art 35", params: []param{now("review_served_at"), req("review_outcome")},
				check: func(t *tx) *FieldError { return notServedYet(t, "review_served_at") }}},
			{rule: rule{basis: "R22 Art 35", params: []param{now("review_requested_at"), p("handler_unit")},
				check: func(t *tx) *FieldError { return inWindow(t, ClockReviewRequest, "review_requested_at") }}},
		},
		ReReview: {
			{from: []State{ReReview}, rule: rule{basis: "R22 Art 36", params: []param{now("rereview_served_at"), req("rereview_outcome")},
				check: func(t *tx) *FieldError { return notServedYet(t, "rereview_served_at") }}},
			{from: []State{Hearing}, rule: rule{basis: "R22 Art 36", params: []param{arg("hearing_until", TypeTime).atNow()},
				check: func(t *tx) *FieldError { return closeHearing(t, StageReReview) }}},
			{rule: rule{basis: "R22 Art 36", params: []param{now("rereview_requested_at"), p("handler_unit")},
				check: func(t *tx) *FieldError {
					if _, ok := t.c.Value("review_served_at"); !ok {
						return fieldErr("review_served_at", "review_not_served", "复查意见尚未送达，不能申请复核", "the 复查 opinion has not been served; 复核 cannot be requested yet")
					}
					return inWindow(t, ClockReReviewRequest, "rereview_requested_at")
				}}},
		},
		Closed: {{rule: rule{basis: "R22 Art 36(3), 37", params: []param{req("close_reason"), now("closed_at"), p("feedback_at")},
			check: func(t *tx) *FieldError {
				switch t.from {
				case Review:
					return served(t, "review_served_at", "复查意见尚未送达，不能办结", "the 复查 opinion has not been served")
				case ReReview:
					return served(t, "rereview_served_at", "复核意见尚未送达，不能办结", "the 复核 opinion has not been served")
				}
				return nil
			}}}},
	},
	MatterDispute: {
		Mediating: {
			{from: []State{JudicialConfirmation}, rule: rule{basis: "MedL Art 33", params: []param{req("confirmation_result"), now("confirmation_decided_at"), p("committee"), p("mediator")},
				check: func(t *tx) *FieldError {
					if t.str("confirmation_result") != "无效" {
						return fieldErr("confirmation_result", "confirmation_valid", "法院确认协议有效的，不再重新调解", "the court confirmed the agreement; it is not mediated again")
					}
					return nil
				}}},
			{rule: rule{basis: "MedL Art 8, 13, 17", params: []param{req("committee"), req("mediator")}}},
		},
		Agreement:            {{rule: rule{basis: "MedL Art 28–31", params: []param{req("agreement")}, check: agree}}},
		JudicialConfirmation: {{rule: rule{basis: "MedL Art 33; CPL Art 205", params: []param{req("court"), now("confirmation_filed_at")}, check: confirmInWindow}}},
		Closed: {
			{from: []State{JudicialConfirmation}, rule: rule{basis: "MedL Art 33", params: []param{req("confirmation_result"), now("confirmation_decided_at"), req("close_reason"), now("closed_at")}}},
			{rule: rule{basis: "MedL Art 26, 31", params: []param{req("close_reason"), now("closed_at")}}},
		},
		Escalated: {{rule: rule{basis: "DOMAIN.md §1 (a dispute becomes a petition item)", params: []param{p("escalation_reason"), now("escalated_at")},
			check: func(t *tx) *FieldError {
				t.writes = append(t.writes, LocalWrite{Field: "kind", JSON: JSONOf(MatterPetition)})
				return nil
			}}}},
	},
}

func ruleFor(kind string, from, to State) *rule {
	for i := range rules[kind][to] {
		v := &rules[kind][to][i]
		if v.from == nil || slices.Contains(v.from, from) {
			return &v.rule
		}
	}
	return &rule{basis: "DOMAIN.md §1.5"}
}

// tx is one transition being checked.
type tx struct {
	c        *Case
	kind     string
	from, to State
	ctx      TransitionContext
	rule     *rule
	raw      map[string]json.RawMessage
	vals     map[string]any             // each parameter given or defaulted, decoded
	stored   map[string]json.RawMessage // field → the JSON to write
	writes   []LocalWrite               // writes the checks derive
}

// readParams validates the data against the rule's parameters.
func (t *tx) readParams() *FieldError {
	known := 0
	for _, x := range t.rule.params {
		if _, ok := t.raw[x.name]; ok {
			known++
		}
	}
	if known != len(t.raw) {
		return t.unknownParam()
	}
	return t.decodeParams()
}

// unknownParam names the first (in name order) parameter the rule does not take.
func (t *tx) unknownParam() *FieldError {
	names := make([]string, 0, len(t.raw))
	for n := range t.raw {
		names = append(names, n)
	}
	slices.Sort(names)
	allowed := make([]string, 0, len(t.rule.params))
	for _, x := range t.rule.params {
		allowed = append(allowed, x.name)
	}
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			zh, en := "“"+n+"”不是此项流转所需的数据", n+" is not data of a transition to "+string(t.to)
			if len(allowed) > 0 {
				zh += "（可填：" + joinNames(allowed, "、") + "）"
				en += " (allowed: " + joinNames(allowed, ", ") + ")"
			}
			e := fieldErr(n, "not_transition_data", zh, en)
			e.Rule = t.rule.basis
			return e
		}
	}
	return nil
}

// decodeParams validates and decodes the parameters given, and fills in the defaults.
func (t *tx) decodeParams() *FieldError {
	t.stored = make(map[string]json.RawMessage, len(t.rule.params))
	for _, x := range t.rule.params {
		raw, given := t.raw[x.name]
		if !given {
			switch {
			case x.now && !t.ctx.Now.IsZero():
				raw = json.RawMessage(strconv.FormatInt(t.ctx.Now.UnixMilli(), 10))
			case x.required || x.now:
				label := x.name
				if spec := Fields[x.field]; spec != nil {
					label = spec.Zh
				}
				e := fieldErr(x.name, "required", "转为“"+stateName(t.to)+"”需要填写“"+label+"”", string(t.to)+" requires "+x.name)
				e.Rule = t.rule.basis
				return e
			default:
				continue
			}
		}
		v, err := decodeParam(x, raw)
		if err != nil {
			err.Rule = t.rule.basis
			return err
		}
		if ms, ok := v.(int64); ok && isTimeParam(x) && !t.ctx.Now.IsZero() && ms > t.ctx.Now.Add(24*time.Hour).UnixMilli() {
			e := fieldErr(x.name, "in_future", "时间晚于当前时间，请核对", "the time is in the future; check it")
			e.Rule = t.rule.basis
			return e
		}
		t.vals[x.name] = v
		if x.field != "" {
			t.stored[x.field] = raw
		}
	}
	return nil
}

func isTimeParam(x param) bool {
	if x.spec != nil {
		return x.spec.Type == TypeTime
	}
	return Fields[x.field] != nil && Fields[x.field].Type == TypeTime && x.field != "feedback_due"
}

// decodeParam validates one parameter's JSON with its type's rules and decodes it.
func decodeParam(x param, raw json.RawMessage) (any, *FieldError) {
	spec := x.spec
	if spec == nil {
		spec = Fields[x.field]
	}
	switch spec.Type { // the common types without a round trip through their encoding
	case TypeInt, TypeTime:
		v, perr := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if perr != nil {
			return nil, typeErr(spec.Name, "整数", "an integer")
		}
		if err := checkInt(spec, v); err != nil {
			return nil, err
		}
		return v, nil
	case TypeString, TypeText, TypeEnum:
		s, ok := jsonString(raw)
		if !ok {
			return nil, typeErr(spec.Name, "文本", "a string")
		}
		s = strings.TrimSpace(s)
		if err := checkString(spec, s); err != nil {
			return nil, err
		}
		return s, nil
	}
	var err error
	b := mp.Encode(func(w *mp.Writer) { err = encodeJSON(w, spec, raw) })
	if err != nil {
		if fe, ok := err.(*FieldError); ok {
			return nil, fe
		}
		return nil, fieldErr(x.name, "invalid", "数据无效", err.Error())
	}
	return decodeSpec(spec, b), nil
}

// result returns the transition's writes: the state, then the fields in name order.
func (t *tx) result() []LocalWrite {
	ws := make([]LocalWrite, 0, 1+len(t.stored)+len(t.writes))
	ws = append(ws, LocalWrite{Field: "state", JSON: json.RawMessage(`"` + string(t.to) + `"`)}) // state names are ASCII
	names := make([]string, 0, len(t.stored))
	for f := range t.stored {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		ws = append(ws, LocalWrite{Field: f, JSON: t.stored[f]})
	}
	return append(ws, t.writes...)
}

func (t *tx) has(name string) bool { _, ok := t.vals[name]; return ok }

func (t *tx) str(name string) string { s, _ := t.vals[name].(string); return s }

func (t *tx) ms(name string) int64 { v, _ := t.vals[name].(int64); return v }

// defaultTo gives parameter name the value of parameter from when it was not given.
func (t *tx) defaultTo(name, from string) {
	if !t.has(name) && t.has(from) {
		t.vals[name] = t.vals[from]
		t.stored[name] = t.stored[from]
	}
}

func (t *tx) oneOf(name string, allowed []string) *FieldError {
	if v := t.str(name); !slices.Contains(allowed, v) {
		return fieldErr(name, "not_allowed", fmt.Sprintf("“%s”不是此项流转允许的值：%s", v, joinNames(allowed, "、")),
			fmt.Sprintf("%q is not allowed here; one of %s", v, joinNames(allowed, ", ")))
	}
	return nil
}

func joinNames(ns []string, sep string) string {
	out := ""
	for i, n := range ns {
		if i > 0 {
			out += sep
		}
		out += n
	}
	return out
}

// TransitionPermission names the permission (cases.Permission) a transition into `to`
// needs. Serving a 复查 or 复核 opinion (REVIEW → REVIEW, RE_REVIEW → RE_REVIEW) needs
// PermServeOpinion besides; see TransitionPermissions.
func TransitionPermission(to State) Permission {
	switch to {
	case Captured, Registered:
		return PermRegister
	case Forwarded, Assigned, RoutedLegal, RoutedDiscipline, RoutedToProcedure, Returned:
		return PermAssign
	case Redirected, NotAccepted, Objected, Accepted:
		return PermAccept
	case Extended:
		return PermExtend
	case OpinionServed:
		return PermServeOpinion
	case Closed:
		return PermClose
	}
	return PermHandle // investigating, mediating, hearings, implementing, review requests, agreements, escalation
}

// TransitionPermissions lists every permission a transition from → to needs.
func TransitionPermissions(from, to State) []Permission {
	ps := []Permission{TransitionPermission(to)}
	if from == to && (to == Review || to == ReReview) {
		ps = append(ps, PermServeOpinion)
	}
	return ps
}

// TransitionParam describes one datum of a transition, for a form to ask for it: its name,
// its type and labels (the field's, for data stored in a field), whether it is required,
// and whether it defaults to the transition's own time when left out.
type TransitionParam struct {
	Name     string
	Spec     *FieldSpec
	Required bool
	Defaults bool
}

// TransitionParams lists the data a transition of a case of kind from → to takes, in the
// rule's order. The rule's checks still decide; this only says what to ask.
func TransitionParams(kind string, from, to State) []TransitionParam {
	r := ruleFor(kind, from, to)
	out := make([]TransitionParam, 0, len(r.params))
	for _, p := range r.params {
		spec := p.spec
		if spec == nil {
			spec = Fields[p.field]
		}
		if spec == nil {
			spec = &FieldSpec{Name: p.name, Zh: p.name, En: p.name}
		}
		out = append(out, TransitionParam{Name: p.name, Spec: spec, Required: p.required, Defaults: p.now})
	}
	return out
}
