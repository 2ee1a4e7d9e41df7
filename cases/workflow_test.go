package cases_test

// Tests of the workflow: every legal transition with the data it requires, every illegal
// one refused, and each rule's refusal naming its field, its code and its article.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// wfNow is when the transitions of these tests are made: Monday 2026-03-02, 10:00 Beijing.
var wfNow = time.Date(2026, 3, 2, 10, 0, 0, 0, cases.Shanghai)

func daysAgo(n int) int64 { return wfNow.AddDate(0, 0, -n).UnixMilli() }

func wfCtx() cases.TransitionContext {
	return cases.TransitionContext{Now: wfNow, Region: "420323", Node: "zs-hub", Calendar: cases.DefaultCalendar()}
}

// caseAt returns a case of kind registered by origins[0] and moved into state by an op that
// also writes extra (field → canonical value), as a replicated op would.
func caseAt(t testing.TB, kind string, s cases.State, extra map[string][]byte) *cases.Case {
	t.Helper()
	in := append(without(registration(), "kind"), lw("kind", kind))
	ws, _, err := cases.Prepare(cases.NewCase(caseID), cases.KindRegister, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := cases.Stored{Op: cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 1}, Stamp: crdt.Timestamp{Wall: baseWall}, Case: caseID,
		Kind: cases.KindRegister, Author: "u-a", Writes: ws}}
	op := cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 2}, Stamp: crdt.Timestamp{Wall: baseWall + 1}, Case: caseID,
		Kind: cases.KindTransition, Author: "u-a", Observed: []crdt.Dot{reg.Op.Dot}}
	if s != "" {
		op.Writes = append(op.Writes, cases.Write{Field: "state", Action: cases.Set, Value: cases.EncodeString(string(s))})
	}
	for f, v := range extra {
		op.Writes = append(op.Writes, cases.Write{Field: f, Action: cases.Set, Value: v})
	}
	op.Normalize()
	c := cases.Fold(caseID, []cases.Stored{reg, {Op: op}})
	if c.State() != s && s != "" {
		t.Fatalf("fixture in %q, want %q", c.State(), s)
	}
	return c
}

func ms(v int64) []byte   { return cases.EncodeInt(v) }
func str(s string) []byte { return cases.EncodeString(s) }
func openHearing(stage string) []byte {
	return cases.EncodeHearings([]cases.HearingRecord{{From: daysAgo(1), Stage: stage}})
}

// edge is one legal transition with the case it starts from and the data it is given.
type edge struct {
	kind     string
	from, to cases.State
	extra    map[string][]byte
	data     map[string]json.RawMessage
	writes   []string // fields the transition must write besides the state
}

var unitHeadExt = data("days", 30, "approver", "李局长", "approver_role", "unit_head", "reason", "涉及多个部门，需会同调查")

var signed = cases.MediationAgreement{Committee: "溢水镇人民调解委员会", Mediator: "王调解员", PartiesSigned: []string{"张三"},
	MediatorSigned: true, Sealed: true, Terms: "甲方于2026年3月31日前归还借款5000元"}

func legalEdges() []edge {
	P, D := cases.MatterPetition, cases.MatterDispute
	forward := data("handler_unit", "县住建局", "handler_region", "420323")
	assign := data("handler_unit", "溢水镇人民政府", "handler_region", "420323103", "assignee", "zs-yishui", "feedback_due", wfNow.AddDate(0, 0, 20).UnixMilli())
	notice := data("notice_at", wfNow.UnixMilli())
	closeIt := data("close_reason", "已办结")
	handling := map[string][]byte{"notice_at": ms(daysAgo(40))}
	return []edge{
		{P, cases.Captured, cases.Registered, nil, nil, []string{"received_at", "registered_at"}},
		{P, cases.Escalated, cases.Registered, nil, nil, []string{"received_at", "registered_at"}},
		{P, cases.Registered, cases.Forwarded, nil, forward, []string{"handler_unit", "handler_region", "routed_at", "forward_received_at"}},
		{P, cases.Registered, cases.Assigned, nil, assign, []string{"handler_unit", "assignee", "assigned_at", "feedback_due", "forward_received_at"}},
		{P, cases.Registered, cases.RoutedLegal, nil, data("handler_unit", "县委政法委"), []string{"routed_at"}},
		{P, cases.Registered, cases.RoutedDiscipline, nil, data("handler_unit", "县纪委监委"), []string{"routed_at"}},
		{P, cases.Registered, cases.Redirected, nil, data("handler_unit", "竹山县人民法院"), []string{"routed_at"}},
		{P, cases.Registered, cases.NotAccepted, nil, data("refusal", "不予受理"), []string{"refusal", "routed_at"}},
		{P, cases.Registered, cases.Accepted, nil, notice, []string{"notice_at"}},
		{P, cases.Forwarded, cases.Accepted, nil, notice, []string{"notice_at"}},
		{P, cases.Forwarded, cases.Objected, nil, data("objection_reason", "不属于本单位职权范围"), []string{"objection_reason", "objected_at"}},
		{P, cases.Assigned, cases.Accepted, nil, notice, []string{"notice_at"}},
		{P, cases.Assigned, cases.Objected, nil, data("objection_reason", "不属于本单位职权范围"), []string{"objected_at"}},
		{P, cases.Objected, cases.Returned, nil, nil, []string{"returned_at"}},
		{P, cases.Objected, cases.Accepted, nil, notice, []string{"notice_at"}},
		{P, cases.Returned, cases.Forwarded, nil, forward, []string{"routed_at"}},
		{P, cases.Returned, cases.Assigned, nil, assign, []string{"assigned_at"}},
		{P, cases.RoutedLegal, cases.Closed, nil, data("close_reason", "依法终结"), []string{"close_reason", "closed_at"}},
		{P, cases.RoutedDiscipline, cases.Closed, nil, closeIt, []string{"closed_at"}},
		{P, cases.Redirected, cases.Closed, nil, closeIt, []string{"closed_at"}},
		{P, cases.NotAccepted, cases.Closed, nil, closeIt, []string{"closed_at"}},
		{P, cases.Accepted, cases.RoutedToProcedure, nil, data("route", "Art31(2)"), []string{"route"}},
		{P, cases.Accepted, cases.Investigating, nil, data("route", "Art31(6)"), []string{"route"}},
		{P, cases.Accepted, cases.Mediating, nil, data("mediation_consent", true), []string{"mediation_consent"}},
		{P, cases.RoutedToProcedure, cases.Closed, nil, closeIt, []string{"closed_at"}},
		{P, cases.Investigating, cases.Extended, handling, unitHeadExt, []string{"extensions"}},
		{P, cases.Investigating, cases.Hearing, nil, nil, []string{"hearings"}},
		{P, cases.Investigating, cases.Mediating, nil, data("mediation_consent", true, "mediator", "县司法局调解中心"), []string{"mediator"}},
		{P, cases.Investigating, cases.OpinionServed, nil, data("outcome", "支持", "served_at", wfNow.UnixMilli()), []string{"outcome", "served_at"}},
		{P, cases.Mediating, cases.OpinionServed, nil, data("settlement", "调解协议书", "served_at", wfNow.UnixMilli()), []string{"settlement", "served_at"}},
		{P, cases.Mediating, cases.Investigating, nil, nil, nil},
		{P, cases.Extended, cases.Extended, map[string][]byte{"notice_at": ms(daysAgo(40)),
			"extensions": cases.EncodeExtensions([]cases.Extension{{At: daysAgo(5), Days: 10, Approver: "李局长", ApproverRole: cases.RoleUnitHead, Reason: "需鉴定"}})},
			data("days", 15, "approver", "李局长", "approver_role", "unit_head", "reason", "鉴定未完成"), []string{"extensions"}},
		{P, cases.Extended, cases.Hearing, nil, nil, []string{"hearings"}},
		{P, cases.Extended, cases.OpinionServed, nil, data("outcome", "不予支持", "served_at", wfNow.UnixMilli()), []string{"outcome"}},
		{P, cases.Hearing, cases.Investigating, map[string][]byte{"hearings": openHearing(cases.StageHandling)}, nil, []string{"hearings"}},
		{P, cases.Hearing, cases.ReReview, map[string][]byte{"hearings": openHearing(cases.StageReReview)}, nil, []string{"hearings"}},
		{P, cases.OpinionServed, cases.Implementing, map[string][]byte{"outcome": str("支持"), "served_at": ms(daysAgo(5))}, nil, nil},
		{P, cases.OpinionServed, cases.Review, map[string][]byte{"served_at": ms(daysAgo(5))}, data("handler_unit", "十堰市信访局"), []string{"review_requested_at"}},
		{P, cases.OpinionServed, cases.Closed, nil, closeIt, []string{"closed_at"}},
		{P, cases.Implementing, cases.Closed, nil, closeIt, []string{"closed_at"}},
		{P, cases.Review, cases.Review, map[string][]byte{"review_requested_at": ms(daysAgo(10))}, data("review_outcome", "维持"), []string{"review_served_at", "review_outcome"}},
		{P, cases.Review, cases.ReReview, map[string][]byte{"review_served_at": ms(daysAgo(3))}, nil, []string{"rereview_requested_at"}},
		{P, cases.Review, cases.Investigating, map[string][]byte{"review_served_at": ms(daysAgo(3)), "review_outcome": str(cases.OutcomeRedo)}, nil, []string{"notice_at"}},
		{P, cases.Review, cases.Closed, map[string][]byte{"review_served_at": ms(daysAgo(3))}, closeIt, []string{"closed_at"}},
		{P, cases.ReReview, cases.ReReview, nil, data("rereview_outcome", "维持"), []string{"rereview_served_at"}},
		{P, cases.ReReview, cases.Hearing, nil, nil, []string{"hearings"}},
		{P, cases.ReReview, cases.Investigating, map[string][]byte{"rereview_served_at": ms(daysAgo(3)), "rereview_outcome": str(cases.OutcomeRedo)}, nil, []string{"notice_at"}},
		{P, cases.ReReview, cases.Closed, map[string][]byte{"rereview_served_at": ms(daysAgo(3))}, closeIt, []string{"closed_at"}},

		{D, cases.Captured, cases.Mediating, nil, data("committee", "溢水镇人民调解委员会", "mediator", "王调解员"), []string{"committee", "mediator"}},
		{D, cases.Captured, cases.Escalated, nil, nil, []string{"escalated_at", "kind"}},
		{D, cases.Registered, cases.Mediating, nil, data("committee", "溢水镇人民调解委员会", "mediator", "王调解员"), []string{"committee"}},
		{D, cases.Registered, cases.Escalated, nil, data("escalation_reason", "调解不成，当事人要求信访"), []string{"escalation_reason", "kind"}},
		{D, cases.Mediating, cases.Agreement, nil, data("agreement", signed), []string{"agreement", "agreement_at"}},
		{D, cases.Mediating, cases.Closed, nil, data("close_reason", "调解不成，已告知当事人其他途径"), []string{"closed_at"}},
		{D, cases.Mediating, cases.Escalated, nil, nil, []string{"kind"}},
		{D, cases.Agreement, cases.JudicialConfirmation, map[string][]byte{"agreement_at": ms(daysAgo(5))}, data("court", "竹山县人民法院"), []string{"court", "confirmation_filed_at"}},
		{D, cases.Agreement, cases.Closed, nil, data("close_reason", "协议已履行"), []string{"closed_at"}},
		{D, cases.JudicialConfirmation, cases.Closed, nil, data("confirmation_result", "有效", "close_reason", "司法确认有效"), []string{"confirmation_result", "confirmation_decided_at"}},
		{D, cases.JudicialConfirmation, cases.Mediating, nil, data("confirmation_result", "无效"), []string{"confirmation_result"}},
	}
}

// TestTransition_EveryLegalAndIllegal: the table test of the workflow. Each legal transition
// of DOMAIN.md §1.5 and §6 succeeds with its data, writes what it must, and its op moves the
// case; every other pair of states of either kind is refused as illegal_transition. The list
// of legal edges is checked against NextStates, so a transition added to the table without
// a test here fails.
func TestTransition_EveryLegalAndIllegal(t *testing.T) {
	edges := legalEdges()
	legal := map[string]bool{}
	for _, e := range edges {
		legal[e.kind+" "+string(e.from)+" "+string(e.to)] = true
	}
	states := append([]cases.State{""}, allStates()...)
	for _, kind := range cases.Kinds() {
		for _, from := range states {
			for _, to := range cases.NextStates(kind, from) {
				if !legal[kind+" "+string(from)+" "+string(to)] {
					t.Errorf("%s %s → %s is in the table but not tested here", kind, from, to)
				}
			}
		}
	}
	for _, e := range edges {
		t.Run(fmt.Sprintf("%s %s to %s", e.kind, e.from, e.to), func(t *testing.T) {
			c := caseAt(t, e.kind, e.from, e.extra)
			ctx := wfCtx()
			if cases.TransitionNeedsCase(c, e.to) {
				ctx.Full = c
			}
			ws, err := cases.TransitionAt(c, e.to, e.data, ctx)
			if err != nil {
				t.Fatalf("TransitionAt: %v", err)
			}
			if ws[0].Field != "state" || string(ws[0].JSON) != `"`+string(e.to)+`"` {
				t.Fatalf("first write %+v, want the state", ws[0])
			}
			for _, f := range e.writes {
				if !slices.ContainsFunc(ws, func(w cases.LocalWrite) bool { return w.Field == f }) {
					t.Errorf("writes %v lack %s", fieldsOf(ws), f)
				}
			}
			writes, obs, err := cases.Prepare(c, cases.KindTransition, ws, nil)
			if err != nil {
				t.Fatalf("Prepare of the transition: %v", err)
			}
			op := cases.Op{Dot: crdt.Dot{Origin: origins[1], Seq: 1}, Stamp: crdt.Timestamp{Wall: baseWall + 2}, Case: caseID,
				Kind: cases.KindTransition, Author: "u-b", Writes: writes, Observed: obs}
			c.Apply(&op, cases.Meta{})
			if got := c.State(); got != e.to {
				t.Errorf("after the transition the state is %q", got)
			}
			if e.to == cases.Escalated && c.String("kind") != cases.MatterPetition {
				t.Errorf("an escalated dispute is of kind %q, want a petition", c.String("kind"))
			}
			// Every time defaulted is the transition's.
			for _, w := range ws {
				if spec := cases.Fields[w.Field]; spec != nil && spec.Type == cases.TypeTime && e.data[w.Field] == nil && e.extra[w.Field] == nil &&
					w.Field != "forward_received_at" && w.Field != "agreement_at" && string(w.JSON) != fmt.Sprint(wfNow.UnixMilli()) {
					t.Errorf("%s defaulted to %s, want the transition's time %d", w.Field, w.JSON, wfNow.UnixMilli())
				}
			}
		})
	}
	for _, kind := range cases.Kinds() {
		for _, from := range allStates() {
			for _, to := range append(allStates(), "BOGUS") {
				if legal[kind+" "+string(from)+" "+string(to)] {
					continue
				}
				c := caseAt(t, kind, from, nil)
				_, err := cases.TransitionAt(c, to, nil, wfCtx())
				var fe *cases.FieldError
				if !errors.As(err, &fe) || fe.Field != "state" || fe.Code != "illegal_transition" || fe.Rule == "" {
					t.Errorf("%s %q → %q: %v, want illegal_transition with its rule", kind, from, to, err)
				}
			}
		}
	}
}

func allStates() []cases.State {
	var out []cases.State
	for _, s := range cases.Fields["state"].Enum {
		out = append(out, cases.State(s))
	}
	return out
}

// wantRule checks a workflow refusal: field, code and the article it names.
func wantRule(t *testing.T, err error, field, code, rule string) {
	t.Helper()
	wantFieldError(t, err, field, code)
	var fe *cases.FieldError
	if errors.As(err, &fe) && rule != "" && fe.Rule != rule {
		t.Errorf("rule %q, want %q", fe.Rule, rule)
	}
}

func TestTransition_Refuses(t *testing.T) {
	P, D := cases.MatterPetition, cases.MatterDispute
	accusation := map[string][]byte{"matter_type": str("检举控告"),
		"accused": cases.EncodeParty(cases.Party{Kind: "unit", Name: "溢水镇人民政府", Region: "420323103", Station: "zs-yishui"})}
	recusal := func() *cases.Case {
		c := caseAt(t, P, cases.Registered, nil)
		op := cases.Op{Dot: crdt.Dot{Origin: origins[2], Seq: 1}, Case: caseID, Kind: cases.KindEdit, Author: "u",
			Writes: []cases.Write{{Field: "recused", Action: cases.Add, Value: str("李四")}}}
		c.Apply(&op, cases.Meta{})
		return c
	}
	ext := func(kv ...any) map[string]json.RawMessage {
		d := data("days", 20, "approver", "李局长", "approver_role", "unit_head", "reason", "需会同调查")
		for i := 0; i < len(kv); i += 2 {
			d[kv[i].(string)] = jsonOf(kv[i+1])
		}
		return d
	}
	handling := map[string][]byte{"notice_at": ms(daysAgo(40))}
	for _, tc := range []struct {
		name              string
		c                 *cases.Case
		to                cases.State
		data              map[string]json.RawMessage
		field, code, rule string
	}{
		{"no case", cases.NewCase(caseID), cases.Accepted, nil, "state", "no_case", ""},
		{"state in conflict", inConflict(t), cases.Investigating, data("route", "Art31(6)"), "state", "state_conflict", ""},
		{"ACCEPTED without the notice", caseAt(t, P, cases.Registered, nil), cases.Accepted, nil, "notice_at", "required", "R22 Art 23"},
		{"FORWARDED without the unit", caseAt(t, P, cases.Registered, nil), cases.Forwarded, nil, "handler_unit", "required", "R22 Art 22"},
		{"data a transition does not take", caseAt(t, P, cases.Registered, nil), cases.Accepted, data("notice_at", baseWall, "summary", "x"), "summary", "not_transition_data", "R22 Art 23"},
		{"the state as data", caseAt(t, P, cases.Registered, nil), cases.Forwarded, data("state", "CLOSED"), "state", "not_transition_data", "R22 Art 22"},
		{"a time of the wrong type", caseAt(t, P, cases.Registered, nil), cases.Accepted, data("notice_at", "tomorrow"), "notice_at", "wrong_type", "R22 Art 23"},
		{"a time in the future", caseAt(t, P, cases.Registered, nil), cases.Accepted, data("notice_at", wfNow.AddDate(0, 0, 3).UnixMilli()), "notice_at", "in_future", "R22 Art 23"},
		{"a procedure route for handling", caseAt(t, P, cases.Accepted, nil), cases.Investigating, data("route", "Art31(1)"), "route", "not_allowed", "R22 Art 29–31"},
		{"a handling route into a procedure", caseAt(t, P, cases.Accepted, nil), cases.RoutedToProcedure, data("route", "Art31(6)"), "route", "not_allowed", "R22 Art 31(1)–(5)"},
		{"mediation without consent", caseAt(t, P, cases.Accepted, nil), cases.Mediating, data("mediation_consent", false), "mediation_consent", "no_consent", "R22 Art 33"},
		{"NOT_ACCEPTED 不再受理 without the earlier case", caseAt(t, P, cases.Registered, nil), cases.NotAccepted, data("refusal", "不再受理"), "related_case", "required", "R22 Art 19(3), 36(3)"},
		{"an extension approved by a deputy", caseAt(t, P, cases.Investigating, handling), cases.Extended, ext("approver_role", "deputy_head"), "approver_role", "not_unit_head", "R22 Art 34"},
		{"an extension without a reason", caseAt(t, P, cases.Investigating, handling), cases.Extended, ext("reason", " "), "reason", "no_reason", "R22 Art 34"},
		{"an extension beyond 30 days", caseAt(t, P, cases.Extended, map[string][]byte{"notice_at": ms(daysAgo(40)),
			"extensions": cases.EncodeExtensions([]cases.Extension{{At: daysAgo(5), Days: 20, Approver: "李局长", ApproverRole: cases.RoleUnitHead, Reason: "需鉴定"}})}),
			cases.Extended, ext("days", 11), "days", "too_long", "R22 Art 34"},
		{"an extension after the 60 days", caseAt(t, P, cases.Investigating, map[string][]byte{"notice_at": ms(daysAgo(70))}), cases.Extended, ext(), "state", "late", "R22 Art 34"},
		{"a second hearing while one lasts", caseAt(t, P, cases.Investigating, map[string][]byte{"hearings": openHearing(cases.StageHandling)}), cases.Hearing, nil, "hearing_from", "hearing_open", "R22 Art 31(6), 36"},
		{"a 复核 hearing ending in handling", caseAt(t, P, cases.Hearing, map[string][]byte{"hearings": openHearing(cases.StageReReview)}), cases.Investigating, nil, "state", "hearing_stage", "R22 Art 31(6)"},
		{"a handling hearing ending in 复核", caseAt(t, P, cases.Hearing, map[string][]byte{"hearings": openHearing(cases.StageHandling)}), cases.ReReview, nil, "state", "hearing_stage", "R22 Art 36"},
		{"an opinion without its outcome", caseAt(t, P, cases.Investigating, nil), cases.OpinionServed, data("served_at", wfNow.UnixMilli()), "outcome", "required", "R22 Art 32"},
		{"an Art 33 settlement without outcome or settlement", caseAt(t, P, cases.Mediating, nil), cases.OpinionServed, data("served_at", wfNow.UnixMilli()), "outcome", "required", "R22 Art 32, 33"},
		{"implementing an unsupported opinion", caseAt(t, P, cases.OpinionServed, map[string][]byte{"outcome": str("不予支持")}), cases.Implementing, nil, "outcome", "not_supported", "R22 Art 32, 42(4)"},
		{"a 复查 request after 30 days", caseAt(t, P, cases.OpinionServed, map[string][]byte{"served_at": ms(daysAgo(31))}), cases.Review, nil, "review_requested_at", "late", "R22 Art 35"},
		{"a 复核 request before the 复查 opinion", caseAt(t, P, cases.Review, nil), cases.ReReview, nil, "review_served_at", "review_not_served", "R22 Art 36"},
		{"a 复核 request after 30 days", caseAt(t, P, cases.Review, map[string][]byte{"review_served_at": ms(daysAgo(40))}), cases.ReReview, nil, "rereview_requested_at", "late", "R22 Art 36"},
		{"a 复查 opinion served twice", caseAt(t, P, cases.Review, map[string][]byte{"review_served_at": ms(daysAgo(3))}), cases.Review, data("review_outcome", "维持"), "review_served_at", "already_served", "R22 Art 35"},
		{"handling again without an order", caseAt(t, P, cases.Review, map[string][]byte{"review_served_at": ms(daysAgo(3)), "review_outcome": str("维持")}), cases.Investigating, nil, "review_outcome", "not_redo", "R22 Art 35, 36"},
		{"closing a 复核 without its opinion", caseAt(t, P, cases.ReReview, nil), cases.Closed, data("close_reason", "x"), "rereview_served_at", "opinion_not_served", "R22 Art 36(3), 37"},
		{"forwarding an accusation to the accused", caseAt(t, P, cases.Registered, accusation), cases.Forwarded, data("handler_unit", "溢水镇人民政府"), "handler_unit", "accused_unit", "R22 Art 30(3), 46(5)"},
		{"assigning an accusation to the accused's station", caseAt(t, P, cases.Registered, accusation), cases.Assigned, data("handler_unit", "县信访局", "assignee", "zs-yishui"), "assignee", "accused_unit", "R22 Art 30(3), 46(5)"},
		{"routing an accusation to discipline at the accused", caseAt(t, P, cases.Registered, accusation), cases.RoutedDiscipline, data("handler_unit", "溢水镇人民政府"), "handler_unit", "accused_unit", "R22 Art 30(3), 46(5)"},
		{"a recused handler", recusal(), cases.Accepted, data("notice_at", wfNow.UnixMilli(), "handler", "李四"), "handler", "recused", "R22 Art 28(3)"},
		{"a recused handler by assignment", recusal(), cases.Assigned, data("handler_unit", "溢水镇人民政府", "handler", "李四"), "handler", "recused", "R22 Art 28(3)"},
		{"forwarding up a tier", caseAt(t, P, cases.Registered, nil), cases.Forwarded, data("handler_unit", "十堰市住建局", "handler_region", "4203"), "handler_region", "higher_tier", "R22 Art 5(3), 22"},
		{"assigning outside the jurisdiction", caseAt(t, P, cases.Registered, nil), cases.Assigned, data("handler_unit", "竹溪县政府", "handler_region", "420324"), "handler_region", "out_of_jurisdiction", "R22 Art 5(3), 22"},
		{"forwarding to an organ not competent", caseAt(t, P, cases.Registered, nil), cases.Forwarded, data("handler_unit", "宝丰镇政府", "handler_region", "420323100"), "handler_region", "not_competent", "R22 Art 5(3), 22"},
		{"mediation without a committee", caseAt(t, D, cases.Registered, nil), cases.Mediating, data("mediator", "王调解员"), "committee", "required", "MedL Art 8, 13, 17"},
		{"an agreement a party has not signed", caseAt(t, D, cases.Mediating, nil), cases.Agreement, data("agreement", cases.MediationAgreement{Committee: "c", Mediator: "m", MediatorSigned: true, Sealed: true, Terms: "t"}),
			"agreement.parties_signed", "unsigned", "MedL Art 28–31"},
		{"an agreement without the seal", caseAt(t, D, cases.Mediating, nil), cases.Agreement, data("agreement", cases.MediationAgreement{Committee: "c", Mediator: "m", PartiesSigned: []string{"张三"}, MediatorSigned: true, Terms: "t"}),
			"agreement.sealed", "unsealed", "MedL Art 28–31"},
		{"司法确认 after 30 days", caseAt(t, D, cases.Agreement, map[string][]byte{"agreement_at": ms(daysAgo(31))}), cases.JudicialConfirmation, data("court", "竹山县人民法院"), "confirmation_filed_at", "late", "MedL Art 33; CPL Art 205"},
		{"re-mediating a confirmed agreement", caseAt(t, D, cases.JudicialConfirmation, nil), cases.Mediating, data("confirmation_result", "有效"), "confirmation_result", "confirmation_valid", "MedL Art 33"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := wfCtx()
			if cases.TransitionNeedsCase(tc.c, tc.to) {
				ctx.Full = tc.c
			}
			ws, err := cases.TransitionAt(tc.c, tc.to, tc.data, ctx)
			if err == nil {
				t.Fatalf("TransitionAt accepted it: %+v", ws)
			}
			wantRule(t, err, tc.field, tc.code, tc.rule)
		})
	}
}

// TestTransition_WithoutContext: Transition alone fills in no times; each must be given.
func TestTransition_WithoutContext(t *testing.T) {
	c := caseAt(t, cases.MatterPetition, cases.Registered, nil)
	_, err := cases.Transition(c, cases.Forwarded, data("handler_unit", "县住建局"))
	wantFieldError(t, err, "routed_at", "required")
	ws, err := cases.Transition(c, cases.Forwarded, data("handler_unit", "县住建局", "routed_at", baseWall))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fieldsOf(ws), []string{"state", "forward_received_at", "handler_unit", "routed_at"}) {
		t.Errorf("writes %v", fieldsOf(ws))
	}
}

// TestEdits_WorkflowRules: edits cannot write what only transitions write, nor hand an
// accusation to the accused, nor make a recused person the handler; a state conflict is
// resolved by choosing one of its states; a registration is REGISTERED or CAPTURED.
func TestEdits_WorkflowRules(t *testing.T) {
	accused := cases.Party{Kind: "unit", Name: "溢水镇人民政府", Region: "420323103", Station: "zs-yishui"}
	c := caseAt(t, cases.MatterPetition, cases.Registered, map[string][]byte{"accused": cases.EncodeParty(accused)})
	for _, tc := range []struct {
		name        string
		c           *cases.Case
		kind        cases.Kind
		in          []cases.LocalWrite
		field, code string
	}{
		{"an event time by edit", c, cases.KindEdit, []cases.LocalWrite{lw("notice_at", baseWall)}, "notice_at", "use_transition"},
		{"an extension by edit", c, cases.KindEdit, []cases.LocalWrite{lw("extensions", []cases.Extension{})}, "extensions", "use_transition"},
		{"assign to the accused's station", c, cases.KindEdit, []cases.LocalWrite{lw("assignee", "zs-yishui")}, "assignee", "accused_unit"},
		{"the accused as handling unit", c, cases.KindEdit, []cases.LocalWrite{lw("handler_unit", "溢水镇人民政府")}, "handler_unit", "accused_unit"},
		{"an unknown flag", c, cases.KindEdit, []cases.LocalWrite{act(cases.Add, lw("flags", "紧急"))}, "flags", "not_allowed"},
		{"resolve a state conflict with a third state", inConflict(t), cases.KindResolve, []cases.LocalWrite{lw("state", cases.Closed)}, "state", "resolve_choice"},
		{"register as ACCEPTED", cases.NewCase(caseID), cases.KindRegister, append(registration(), lw("state", cases.Accepted)), "state", "register_state"},
		{"register an accusation assigned to the accused", cases.NewCase(caseID), cases.KindRegister,
			append(registration(), lw("accused", accused), lw("assignee", "zs-yishui")), "assignee", "accused_unit"},
		{"register with a recused handler", cases.NewCase(caseID), cases.KindRegister,
			append(registration(), act(cases.Add, lw("recused", "李四")), lw("handler", "李四")), "handler", "recused"},
		{"config in a case", c, cases.KindEdit, []cases.LocalWrite{lw("config", "x")}, "config", "config_only"},
		{"a case written as configuration", c, cases.KindConfig, []cases.LocalWrite{lw("config", "x")}, "id", "config_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := cases.Prepare(tc.c, tc.kind, tc.in, nil)
			wantFieldError(t, err, tc.field, tc.code)
		})
	}
	if _, _, err := cases.Prepare(inConflict(t), cases.KindResolve, []cases.LocalWrite{lw("state", cases.Forwarded)}, nil); err != nil {
		t.Errorf("resolving a state conflict with one of its states: %v", err)
	}
	if _, _, err := cases.Prepare(c, cases.KindEdit, []cases.LocalWrite{act(cases.Add, lw("flags", cases.FlagSupervised)), lw("leader", "县委副书记")}, nil); err != nil {
		t.Errorf("flagging 督办 with a leader: %v", err)
	}
}

func TestTransitionPermission(t *testing.T) {
	for to, want := range map[cases.State]cases.Permission{
		cases.Registered: cases.PermRegister, cases.Forwarded: cases.PermAssign, cases.Assigned: cases.PermAssign,
		cases.RoutedLegal: cases.PermAssign, cases.Accepted: cases.PermAccept, cases.NotAccepted: cases.PermAccept,
		cases.Objected: cases.PermAccept, cases.Investigating: cases.PermHandle, cases.Hearing: cases.PermHandle,
		cases.Extended: cases.PermExtend, cases.OpinionServed: cases.PermServeOpinion, cases.Closed: cases.PermClose,
		cases.Agreement: cases.PermHandle, cases.Review: cases.PermHandle,
	} {
		if got := cases.TransitionPermission(to); got != want {
			t.Errorf("TransitionPermission(%s) = %s, want %s", to, got, want)
		}
	}
	if got := cases.TransitionPermissions(cases.Review, cases.Review); !slices.Equal(got, []cases.Permission{cases.PermHandle, cases.PermServeOpinion}) {
		t.Errorf("serving a 复查 opinion needs %v", got)
	}
}
