package cases

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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

func allStates() []string {
	return []string{
		string(Captured), string(Registered), string(Forwarded), string(Assigned), string(RoutedLegal),
		string(RoutedDiscipline), string(Redirected), string(NotAccepted), string(Objected), string(Returned),
		string(Accepted), string(RoutedToProcedure), string(Investigating), string(Mediating), string(Extended),
		string(Hearing), string(OpinionServed), string(Implementing), string(Review), string(ReReview),
		string(Closed), string(Agreement), string(JudicialConfirmation), string(Escalated),
	}
}

// transitions lists the legal next states of each state, per DOMAIN.md §1.5 and §6. The
// workflow issue refines this table (who may act, flags, clocks); the shape stays.
var transitions = map[string]map[State][]State{
	MatterPetition: {
		Captured:          {Registered, Mediating},
		Registered:        {Forwarded, Assigned, RoutedLegal, RoutedDiscipline, Redirected, NotAccepted, Accepted},
		Forwarded:         {Accepted, Objected},
		Assigned:          {Accepted, Objected},
		Objected:          {Returned},
		Returned:          {Forwarded, Assigned},
		RoutedLegal:       {Closed},
		Redirected:        {Closed},
		NotAccepted:       {Closed},
		Accepted:          {RoutedToProcedure, Investigating, Mediating},
		RoutedToProcedure: {Closed},
		Investigating:     {Extended, Hearing, Mediating, OpinionServed},
		Mediating:         {OpinionServed, Investigating},
		Extended:          {OpinionServed, Hearing},
		Hearing:           {Investigating},
		OpinionServed:     {Implementing, Review, Closed},
		Implementing:      {Closed},
		Review:            {ReReview, Closed, Investigating},
		ReReview:          {Closed, Investigating},
	},
	MatterDispute: {
		Captured:             {Mediating, Escalated},
		Registered:           {Mediating, Escalated},
		Mediating:            {Agreement, Closed, Escalated},
		Agreement:            {JudicialConfirmation, Closed},
		JudicialConfirmation: {Closed},
	},
}

// required lists the data fields a transition into a state must carry.
var required = map[State][]string{
	Accepted:      {"notice_at"},
	Investigating: {"route"},
	OpinionServed: {"outcome", "served_at"},
	Closed:        {"close_reason"},
}

// Transition checks a local workflow transition of c to `to` with its data (field → JSON
// value) and returns the writes of the transition op: the state and its data. An illegal
// transition or missing data is a *FieldError naming the rule.
func Transition(c *Case, to State, data map[string]json.RawMessage) ([]LocalWrite, error) {
	if !c.Exists() {
		return nil, fieldErr("state", "no_case", "案件不存在", "the case does not exist")
	}
	kind := c.String("kind")
	if kind == "" {
		kind = MatterPetition
	}
	if conflicts := c.Registers["state"]; conflicts != nil && conflicts.Conflict() {
		return nil, fieldErr("state", "state_conflict", "状态存在冲突，请先处理冲突", "the state is in conflict; resolve the conflict first")
	}
	from := c.State()
	if !slices.Contains(transitions[kind][from], to) {
		return nil, fieldErr("state", "illegal_transition",
			fmt.Sprintf("不能从“%s”转为“%s”", from, to), fmt.Sprintf("cannot go from %s to %s", from, to))
	}
	for _, f := range required[to] {
		if _, ok := data[f]; !ok {
			return nil, fieldErr(f, "required", "转为“"+string(to)+"”需要填写“"+Fields[f].Zh+"”",
				string(to)+" requires "+f)
		}
	}
	ws := []LocalWrite{{Field: "state", JSON: json.RawMessage(`"` + string(to) + `"`)}}
	names := make([]string, 0, len(data))
	for f := range data {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		if f == "state" || !isTransitionData(f) {
			return nil, fieldErr(f, "not_transition_data", "“"+f+"”不是流转所需的数据",
				f+" is not data of a transition (allowed: "+strings.Join(transitionData, ", ")+")")
		}
		ws = append(ws, LocalWrite{Field: f, JSON: data[f]})
	}
	return ws, nil
}

// transitionData are the fields a transition may write beside the state.
var transitionData = []string{"notice_at", "route", "outcome", "served_at", "close_reason", "handler_unit", "assignee"}

func isTransitionData(f string) bool { return slices.Contains(transitionData, f) }
