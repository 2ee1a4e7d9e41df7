package cases

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is a workflow state, named as in DOMAIN.md §1.5 (petitions) and §6 (disputes).
type State string

// Petition states (《信访工作条例》2022).
const (
	Captured          State = "CAPTURED"            // 采集 (offline draft)
	Registered        State = "REGISTERED"          // 登记
	Forwarded         State = "FORWARDED"           // 转送
	Assigned          State = "ASSIGNED"            // 交办
	RoutedLegal       State = "ROUTED_LEGAL"        // 导入政法 (涉法涉诉)
	RoutedDiscipline  State = "ROUTED_DISCIPLINE"   // 转纪检监察 (检举控告)
	Redirected        State = "REDIRECTED"          // 告知另行提出
	NotAccepted       State = "NOT_ACCEPTED"        // 不予受理/不再受理
	Objected          State = "OBJECTED"            // 异议
	Returned          State = "RETURNED"            // 退回
	Accepted          State = "ACCEPTED"            // 受理/已告知
	RoutedToProcedure State = "ROUTED_TO_PROCEDURE" // 分类导入法定途径
	Investigating     State = "INVESTIGATING"       // 办理中
	Mediating         State = "MEDIATING"           // 调解/和解
	Extended          State = "EXTENDED"            // 延期
	Hearing           State = "HEARING"             // 听证
	OpinionServed     State = "OPINION_SERVED"      // 已答复
	Implementing      State = "IMPLEMENTING"        // 落实
	Review            State = "REVIEW"              // 复查
	ReReview          State = "RE_REVIEW"           // 复核
	Closed            State = "CLOSED"              // 终结/办结
)

// Dispute states (人民调解).
const (
	Agreement            State = "AGREEMENT"             // 调解协议书
	JudicialConfirmation State = "JUDICIAL_CONFIRMATION" // 司法确认
	Escalated            State = "ESCALATED"             // 转为信访事项
)

// StateNames are the states as people say them.
var StateNames = map[State]string{
	Captured: "采集", Registered: "登记", Forwarded: "转送", Assigned: "交办", RoutedLegal: "导入政法",
	RoutedDiscipline: "转纪检监察", Redirected: "告知另行提出", NotAccepted: "不予受理", Objected: "异议", Returned: "退回",
	Accepted: "受理", RoutedToProcedure: "导入法定途径", Investigating: "办理中", Mediating: "调解", Extended: "延期",
	Hearing: "听证", OpinionServed: "已答复", Implementing: "落实", Review: "复查", ReReview: "复核", Closed: "办结",
	Agreement: "达成调解协议", JudicialConfirmation: "司法确认", Escalated: "转为信访事项",
}

func allStates() []string {
	return []string{
		string(Captured), string(Registered), string(Forwarded), string(Assigned), string(RoutedLegal),
		string(RoutedDiscipline), string(Redirected), string(NotAccepted), string(Objected), string(Returned),
		string(Accepted), string(RoutedToProcedure), string(Investigating), string(Mediating), string(Extended),
		string(Hearing), string(OpinionServed), string(Implementing), string(Review), string(ReReview),
		string(Closed), string(Agreement), string(JudicialConfirmation), string(Escalated),
	}
}

// transitions lists the legal next states of each state, per DOMAIN.md §1.5 and §6. A state
// listed as its own successor takes an action that leaves it where it is: another
// extension (EXTENDED), the 复查 or 复核 opinion served (REVIEW, RE_REVIEW).
//
// A dispute escalated (ESCALATED) becomes a petition item in that state, keeping its
// history, and is then registered as one. OBJECTED → ACCEPTED is the forwarder not agreeing
// to take the item back (R22 Art 23(3) returns it only "after the forwarder verifies and
// agrees"); JUDICIAL_CONFIRMATION → MEDIATING is an agreement the court found invalid,
// mediated again (MedL Art 33).
var transitions = map[string]map[State][]State{
	MatterPetition: {
		Captured:          {Registered},
		Escalated:         {Registered},
		Registered:        {Forwarded, Assigned, RoutedLegal, RoutedDiscipline, Redirected, NotAccepted, Accepted},
		Forwarded:         {Accepted, Objected},
		Assigned:          {Accepted, Objected},
		Objected:          {Returned, Accepted},
		Returned:          {Forwarded, Assigned},
		RoutedLegal:       {Closed},
		RoutedDiscipline:  {Closed},
		Redirected:        {Closed},
		NotAccepted:       {Closed},
		Accepted:          {RoutedToProcedure, Investigating, Mediating},
		RoutedToProcedure: {Closed},
		Investigating:     {Extended, Hearing, Mediating, OpinionServed},
		Mediating:         {OpinionServed, Investigating},
		Extended:          {Extended, Hearing, OpinionServed},
		Hearing:           {Investigating, ReReview},
		OpinionServed:     {Implementing, Review, Closed},
		Implementing:      {Closed},
		Review:            {Review, ReReview, Investigating, Closed},
		ReReview:          {ReReview, Hearing, Investigating, Closed},
	},
	MatterDispute: {
		Captured:             {Mediating, Escalated},
		Registered:           {Mediating, Escalated},
		Mediating:            {Agreement, Closed, Escalated},
		Agreement:            {JudicialConfirmation, Closed},
		JudicialConfirmation: {Closed, Mediating},
	},
}

// Kinds returns the kinds of matter the workflow knows.
func Kinds() []string { return []string{MatterPetition, MatterDispute} }

// NextStates returns the legal next states of a case of kind in state from, in table order.
func NextStates(kind string, from State) []State { return slices.Clone(transitions[kind][from]) }

// TransitionContext is what a transition's rules need beside the case: when it is made,
// where, and the configuration in force there. A replica fills it from the batch applying
// the change (a hub from its Raft entry), so that every member judges a transition alike.
type TransitionContext struct {
	// Now is when the transition is made. It is the default of every event time the request
	// leaves out; zero means no defaults (every time must be given).
	Now time.Time
	// Region is the division code of the node acting (a station or a hub): forwarding and
	// assigning go to the same or a lower tier only.
	Region string
	// Node is the acting node's id.
	Node string
	// Calendar counts working days and, for the petitioner's windows, the last day; nil is
	// no holidays.
	Calendar *Calendar
	// Full is the whole case when TransitionNeedsCase says the rules read more than the
	// head a replica keeps (the parties who must sign an agreement); nil otherwise.
	Full *Case
}

// TransitionNeedsCase reports whether a transition of c to `to` reads fields a replica's
// head leaves out, so the caller must pass the whole case in TransitionContext.Full.
func TransitionNeedsCase(c *Case, to State) bool {
	return caseKind(c) == MatterDispute && to == Agreement
}

// Transition checks a local workflow transition of c to `to` with its data and returns the
// writes of the transition op, without a context: every event time must be given.
func Transition(c *Case, to State, data map[string]json.RawMessage) ([]LocalWrite, error) {
	return TransitionAt(c, to, data, TransitionContext{})
}

// TransitionAt checks a local workflow transition of c (its head is enough, see
// TransitionNeedsCase) to `to` with its data (parameter → JSON value, see the rules in
// workflow_rules.go) and returns the writes of the transition op: the new state, the time of
// the event, the data, and what the rules derive from them (an extension added to the list,
// a hearing opened or closed, the kind of an escalated dispute). An illegal transition,
// missing or malformed data, or data that breaks a rule is a *FieldError whose Code names
// the problem and whose Rule names the article; nothing is written.
func TransitionAt(c *Case, to State, data map[string]json.RawMessage, ctx TransitionContext) ([]LocalWrite, error) {
	if !c.Exists() {
		return nil, fieldErr("state", "no_case", "案件不存在", "the case does not exist")
	}
	if conflicts := c.Registers["state"]; conflicts != nil && conflicts.Conflict() {
		return nil, fieldErr("state", "state_conflict", "状态存在冲突，请先处理冲突", "the state is in conflict; resolve the conflict first")
	}
	kind := caseKind(c)
	from := c.State()
	if !slices.Contains(transitions[kind][from], to) {
		e := fieldErr("state", "illegal_transition",
			fmt.Sprintf("不能从“%s”转为“%s”（可转为：%s）", stateName(from), stateName(to), stateList(transitions[kind][from], true)),
			fmt.Sprintf("cannot go from %s to %s (next states: %s)", from, to, stateList(transitions[kind][from], false)))
		e.Rule = "DOMAIN.md §1.5"
		if kind == MatterDispute {
			e.Rule = "DOMAIN.md §6"
		}
		return nil, e
	}
	r := ruleFor(kind, from, to)
	t := &tx{c: c, kind: kind, from: from, to: to, ctx: ctx, rule: r, raw: data, vals: make(map[string]any, len(r.params))}
	if err := t.readParams(); err != nil {
		return nil, err
	}
	if r.check != nil {
		if err := r.check(t); err != nil {
			if err.Rule == "" {
				err.Rule = r.basis
			}
			return nil, err
		}
	}
	return t.result(), nil
}

// caseKind returns the kind of matter of c (a petition unless it says otherwise).
func caseKind(c *Case) string {
	if k := c.String("kind"); k != "" {
		return k
	}
	return MatterPetition
}

func stateName(s State) string {
	if n, ok := StateNames[s]; ok {
		return n + " " + string(s)
	}
	if s == "" {
		return "（无）"
	}
	return string(s)
}

func stateList(ss []State, zh bool) string {
	if len(ss) == 0 {
		if zh {
			return "无，已终结"
		}
		return "none, it is final"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		if zh {
			parts[i] = stateName(s)
		} else {
			parts[i] = string(s)
		}
	}
	if zh {
		return strings.Join(parts, "、")
	}
	return strings.Join(parts, ", ")
}
