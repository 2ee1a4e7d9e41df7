package cases

import "slices"

// The fields of the case document the workflow writes: the time of each event that starts
// or stops a statutory clock, the data each transition requires, the flags beside the
// state, and the case number. Every transition is one op that writes the new state with
// these (see Transition); the event fields are the case's clock record, so that the clocks
// are a pure function of the case's visible values, and of its set of ops.

// Flags beside the state (DOMAIN.md §1.5). They are a set people add to and remove from;
// FlagsOf adds the ones the system computes (overdue, repeat, collective).
const (
	FlagSupervised    = "supervised"     // 督办 (R22 Art 40)
	FlagOverdue       = "overdue"        // 超期: an organ's time limit has passed (computed)
	FlagUrgent        = "urgent"         // 重大紧急 (R22 Art 25)
	FlagLeaderCase    = "leader_case"    // 包案: a leader takes personal charge (Art 18)
	FlagBacklog       = "backlog"        // 积案
	FlagRepeat        = "repeat"         // 重复访: same petitioner, same matter
	FlagLevelSkipping = "level_skipping" // 越级访: a visit above 本级或者上一级 (Art 20)
	FlagCollective    = "collective"     // 集体访: a joint visit (Art 20)
)

// FlagCodes lists the flags in the order they are shown, with their Chinese names.
var FlagCodes = []string{FlagSupervised, FlagOverdue, FlagUrgent, FlagLeaderCase, FlagBacklog, FlagRepeat, FlagLevelSkipping, FlagCollective}

// FlagNames are the flags' names as people say them.
var FlagNames = map[string]string{
	FlagSupervised: "督办", FlagOverdue: "超期", FlagUrgent: "重大紧急", FlagLeaderCase: "包案",
	FlagBacklog: "积案", FlagRepeat: "重复", FlagLevelSkipping: "越级", FlagCollective: "集体访",
}

// Routes of an accepted petition item (R22 Art 29–31): Art31(1)–(5) lead into another
// lawful procedure (ROUTED_TO_PROCEDURE), Art31(6), Art29 and Art30 are handled as petition
// items (INVESTIGATING).
var (
	RoutesToProcedure = []string{"Art31(1)", "Art31(2)", "Art31(3)", "Art31(4)", "Art31(5)"}
	RoutesHandled     = []string{"Art31(6)", "Art29", "Art30"}
)

// RouteNames are the routes as people say them.
var RouteNames = map[string]string{
	"Art31(1)": "诉讼、复议、检察、公安等法定途径", "Art31(2)": "仲裁", "Art31(3)": "党员申诉、复审等程序",
	"Art31(4)": "行政复议、裁决、确认、许可、处罚等行政程序", "Art31(5)": "依法履行职责",
	"Art31(6)": "调查核实，出具信访处理意见书", "Art29": "建议意见类", "Art30": "检举控告类",
}

// Values of the workflow's enumerated fields.
var (
	refusals          = []string{"不予受理", "不再受理"}                                                                     // R22 Art 19(3), 36(3)
	reviewOutcomes    = []string{"维持", "变更", "责令重新办理"}                                                               // 复查/复核意见 (practice, DOMAIN.md §1.5)
	settlements       = []string{"调解协议书", "和解协议书"}                                                                   // R22 Art 33
	confirmResults    = []string{"有效", "无效"}                                                                         // 司法确认 (MedL Art 33)
	evaluations       = []string{"满意", "基本满意", "不满意"}                                                                // 评价 (R22 Art 21)
	workflowStateless = []string{"case_no", "flags", "leader", "evaluation", "confidential", "new_facts", "recused"} // editable with PATCH
)

// Review outcome that orders the item handled again (a new acceptance, a new 60 days).
const OutcomeRedo = "责令重新办理"

var workflowFields = []FieldSpec{
	{Name: "case_no", Type: TypeString, Zh: "案件编号", En: "Case number"},
	{Name: "handler_region", Type: TypeOrganRegion, Zh: "承办单位区划", En: "Region of the handling unit"},
	{Name: "handler", Type: TypeString, Zh: "承办人", En: "Handler"},
	{Name: "recused", Type: TypeTags, Zh: "回避人员", En: "Recused persons", Max: 32},
	{Name: "routed_at", Type: TypeTime, Zh: "转送/导出时间", En: "Forwarded or routed at"},
	{Name: "assigned_at", Type: TypeTime, Zh: "交办时间", En: "Assigned at"},
	{Name: "feedback_due", Type: TypeTime, Zh: "反馈期限", En: "Feedback due"},
	{Name: "feedback_at", Type: TypeTime, Zh: "报送办结报告时间", En: "Reported to the assigner at"},
	{Name: "forward_received_at", Type: TypeTime, Zh: "承办单位收到时间", En: "Received by the competent organ at"},
	{Name: "objected_at", Type: TypeTime, Zh: "提出异议时间", En: "Objection raised at"},
	{Name: "objection_reason", Type: TypeText, Zh: "异议理由", En: "Reason for the objection"},
	{Name: "returned_at", Type: TypeTime, Zh: "退回时间", En: "Returned at"},
	{Name: "refusal", Type: TypeEnum, Zh: "不予受理类型", En: "Kind of refusal", Enum: refusals},
	{Name: "related_case", Type: TypeString, Zh: "关联案件", En: "Related case"},
	{Name: "extensions", Type: TypeExtensions, Zh: "延期记录", En: "Extensions"},
	{Name: "hearings", Type: TypeHearings, Zh: "听证记录", En: "Hearings"},
	{Name: "settlement", Type: TypeEnum, Zh: "协议类型", En: "Settlement", Enum: settlements},
	{Name: "mediation_consent", Type: TypeBool, Zh: "当事人同意调解", En: "Parties consent to mediation"},
	{Name: "review_requested_at", Type: TypeTime, Zh: "复查申请时间", En: "Review requested at"},
	{Name: "review_served_at", Type: TypeTime, Zh: "复查意见送达时间", En: "Review opinion served at"},
	{Name: "review_outcome", Type: TypeEnum, Zh: "复查意见", En: "Review outcome", Enum: reviewOutcomes},
	{Name: "rereview_requested_at", Type: TypeTime, Zh: "复核申请时间", En: "Re-review requested at"},
	{Name: "rereview_served_at", Type: TypeTime, Zh: "复核意见送达时间", En: "Re-review opinion served at"},
	{Name: "rereview_outcome", Type: TypeEnum, Zh: "复核意见", En: "Re-review outcome", Enum: reviewOutcomes},
	{Name: "committee", Type: TypeString, Zh: "人民调解委员会", En: "Mediation committee"},
	{Name: "mediator", Type: TypeString, Zh: "调解员", En: "Mediator"},
	{Name: "agreement", Type: TypeAgreement, Zh: "调解协议", En: "Mediation agreement"},
	{Name: "agreement_at", Type: TypeTime, Zh: "协议生效时间", En: "Agreement effective at"},
	{Name: "court", Type: TypeString, Zh: "司法确认法院", En: "Court of judicial confirmation"},
	{Name: "confirmation_filed_at", Type: TypeTime, Zh: "申请司法确认时间", En: "Judicial confirmation filed at"},
	{Name: "confirmation_decided_at", Type: TypeTime, Zh: "司法确认裁定时间", En: "Judicial confirmation decided at"},
	{Name: "confirmation_result", Type: TypeEnum, Zh: "司法确认结果", En: "Judicial confirmation result", Enum: confirmResults},
	{Name: "escalated_at", Type: TypeTime, Zh: "转为信访事项时间", En: "Escalated at"},
	{Name: "escalation_reason", Type: TypeText, Zh: "转为信访事项原因", En: "Reason for escalation"},
	{Name: "closed_at", Type: TypeTime, Zh: "办结时间", En: "Closed at"},
	{Name: "flags", Type: TypeTags, Zh: "标记", En: "Flags", Enum: FlagCodes, Max: 16},
	{Name: "leader", Type: TypeString, Zh: "包案领导", En: "Leader in charge"},
	{Name: "evaluation", Type: TypeEnum, Zh: "评价", En: "Evaluation", Enum: evaluations},
	{Name: "confidential", Type: TypeBool, Zh: "依法不宜公开", En: "Not to be made public"},
	{Name: "new_facts", Type: TypeText, Zh: "新的事实和理由", En: "New facts and reasons"},
	{Name: "config", Type: TypeText, Zh: "配置", En: "Configuration", Max: MaxCalendarBytes},
}

// clockFields are the fields a statutory clock reads (see ClockEvents).
var clockFields = []string{
	"received_at", "routed_at", "assigned_at", "feedback_due", "feedback_at", "forward_received_at", "objected_at",
	"notice_at", "extensions", "hearings", "served_at", "review_requested_at", "review_served_at",
	"rereview_requested_at", "rereview_served_at", "agreement_at", "confirmation_filed_at",
	"confirmation_decided_at", "closed_at",
}

// workflowIndexFields are the fields besides the clock fields whose values a replica keeps in
// a case's head: the scope rules read the accusation fields, the transition rules the
// outcomes and the handler.
var workflowIndexFields = []string{
	"matter_type", "accused", "outcome", "review_outcome", "rereview_outcome", "confirmation_result", "handler",
	"refusal", "config",
}

// workflowOnly are the fields only a transition writes (an edit is refused with
// use_transition): the event times and the data that came with them.
var workflowOnly = func() []string {
	var out []string
	for _, f := range workflowFields {
		if !slices.Contains(workflowStateless, f.Name) && f.Name != "config" && f.Name != "handler_region" && f.Name != "handler" && f.Name != "related_case" {
			out = append(out, f.Name)
		}
	}
	return append(out, "notice_at", "served_at", "outcome", "route", "close_reason")
}()

var workflowOnlySet = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range workflowOnly {
		m[f] = true
	}
	return m
}()

// IsWorkflowOnly reports whether field f changes only through a workflow transition.
func IsWorkflowOnly(f string) bool { return workflowOnlySet[f] }

// workflowIndexed returns base followed by the clock and workflow index fields it lacks.
func workflowIndexed(base []string) []string {
	out := slices.Clone(base)
	for _, f := range append(slices.Clone(clockFields), workflowIndexFields...) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
