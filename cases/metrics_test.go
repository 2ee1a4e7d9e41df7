package cases_test

// Metric tests on fixtures computed by hand: cases walked through the workflow as stations
// would, and the figures of DOMAIN.md §3 whose arithmetic was checked (96/167 = 57.49%).

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
)

func TestFormatRate(t *testing.T) {
	for _, tc := range []struct {
		num, den int
		want     string
	}{
		{96, 167, "57.49%"},    // 临沂罗庄区 积案化解率 (S4)
		{638, 1876, "34.01%"},  // 临沂 积案化解率
		{7839, 8307, "94.37%"}, // 临沂 一次性化解率
		{1, 3, "33.33%"},
		{2, 3, "66.67%"},
		{1, 8, "12.50%"},     // exactly representable
		{1, 200000, "0.00%"}, // 0.0005% rounds down
		{1, 20000, "0.01%"},  // 0.005% rounds half up
		{5, 5, "100.00%"},
		{0, 7, "0.00%"},
		{1, 0, ""},
	} {
		if got := cases.FormatRate(tc.num, tc.den); got != tc.want {
			t.Errorf("FormatRate(%d, %d) = %q, want %q", tc.num, tc.den, got, tc.want)
		}
	}
}

func facts(t *testing.T, cs []*cases.Case, asOf time.Time) []cases.CaseFacts {
	t.Helper()
	var out []cases.CaseFacts
	for _, c := range cs {
		clocks, err := cases.CaseClocks(c, cases.DefaultCalendar(), nil)
		if err != nil {
			t.Fatalf("clocks of %s: %v", c.ID, err)
		}
		out = append(out, cases.FactsOf(c, clocks, cases.FlagsOf(c, clocks, asOf, 5)))
	}
	return out
}

func metric(t *testing.T, rs []cases.MetricResult, name string) cases.MetricResult {
	t.Helper()
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no metric %s", name)
	return cases.MetricResult{}
}

// TestMetrics_BacklogArithmetic: 167 cases flagged 积案, 96 of them closed, is 57.49%, and the
// figure lists exactly those cases.
func TestMetrics_BacklogArithmetic(t *testing.T) {
	var fs []cases.CaseFacts
	var closed []string
	for i := 0; i < 200; i++ {
		f := cases.CaseFacts{ID: fmt.Sprintf("c%03d", i), Times: map[string]int64{"received_at": baseWall}}
		if i < 167 {
			f.Flags = []string{cases.FlagBacklog}
			if i%7 != 0 && len(closed) < 96 {
				f.Times["closed_at"] = baseWall + 1000
				closed = append(closed, f.ID)
			}
		}
		fs = append(fs, f)
	}
	rs := cases.ComputeMetrics(cases.DefaultMetrics(), fs, time.UnixMilli(0), time.UnixMilli(baseWall+1e9), time.UnixMilli(baseWall+1e9))
	r := metric(t, rs, "backlog_resolution")
	if r.Numerator != 96 || r.Denominator != 167 || r.Value != "57.49%" {
		t.Fatalf("积案化解率 %d/%d = %s, want 96/167 = 57.49%%", r.Numerator, r.Denominator, r.Value)
	}
	if !slices.Equal(r.NumeratorCases, closed) {
		t.Errorf("the 96 cases behind the figure differ: %v", r.NumeratorCases)
	}
	if r.Zh != "积案化解率" || r.Doc == "" {
		t.Errorf("definition shown as %q %q", r.Zh, r.Doc)
	}
}

// TestMetrics_HandComputed: six petitions received in March 2026 at one county, judged as of
// 1 July. By hand:
//
//	A  received 03-02, accepted 03-10, opinion 04-01 (day 22 of 60), 满意, closed 04-05
//	B  received 03-02, accepted 03-20 (due 03-17: late), opinion 06-01 (due 05-19: late),
//	   不满意, 复查 requested 06-05, opinion 06-15, closed 06-20
//	C  received 03-02, never accepted (due 03-17: overdue), tagged 重复访
//	D  received 06-25, not accepted yet (due 07-10: pending, not counted)
//	E  received 03-05, forwarded 03-06, notice 03-12 (due 03-21: in time), handling past
//	   its 60 days (due 05-11) with no opinion
//	F  received 03-02, routed to 政法 03-03: not an acceptance, a decision in time
//
//	及时受理率      {A, E} / {A, B, C, E}              = 50.00%
//	信访部门及时转送率 {A, E, F} / {A, B, C, E, F}        = 60.00%
//	按期答复率      {A} / {A, B, E}                     = 33.33%  (anchored on acceptance)
//	参评率          {A, B} / {A, B}                     = 100.00%
//	满意率          {A} / {A, B}                        = 50.00%
//	一次性化解率    {A} / {A, B}                        = 50.00%  (B went to 复查)
//	平均办理时长    (22 + 73) / 2                       = 47.50 days
//	重复信访        {C}                                 = 1
func TestMetrics_HandComputed(t *testing.T) {
	def := cases.DefaultCalendar()
	served := func(d string) step {
		return step{cases.OpinionServed, d, data("outcome", "支持", "served_at", at(t, d).UnixMilli())}
	}
	investigate := func(d string) step { return step{cases.Investigating, d, data("route", "Art31(6)")} }
	closeOn := func(d string) step { return step{cases.Closed, d, data("close_reason", "已办结")} }
	evaluate := func(d, e string) step { return step{"", d, data("evaluation", e)} }
	repeatTag := []cases.LocalWrite{act(cases.Add, lw("tags", "重复访"))}
	all := []*cases.Case{
		walkID(t, "A", cases.MatterPetition, "2026-03-02", def, nil, accept(t, "2026-03-10"), investigate("2026-03-11"),
			served("2026-04-01"), evaluate("2026-04-02", "满意"), closeOn("2026-04-05")),
		walkID(t, "B", cases.MatterPetition, "2026-03-02", def, nil, accept(t, "2026-03-20"), investigate("2026-03-21"),
			served("2026-06-01"), evaluate("2026-06-02", "不满意"), step{cases.Review, "2026-06-05", nil},
			step{cases.Review, "2026-06-15", data("review_outcome", "维持")}, closeOn("2026-06-20")),
		walkID(t, "C", cases.MatterPetition, "2026-03-02", def, repeatTag),
		walkID(t, "D", cases.MatterPetition, "2026-06-25", def, nil),
		walkID(t, "E", cases.MatterPetition, "2026-03-05", def, nil, step{cases.Forwarded, "2026-03-06", data("handler_unit", "县住建局")},
			accept(t, "2026-03-12"), investigate("2026-03-13")),
		walkID(t, "F", cases.MatterPetition, "2026-03-02", def, nil, step{cases.RoutedLegal, "2026-03-03", data("handler_unit", "县委政法委")}),
	}
	from, to, now := at(t, "2026-03-01T00:00:00+08:00"), at(t, "2026-07-01T00:00:00+08:00"), at(t, "2026-07-15")
	rs := cases.ComputeMetrics(cases.DefaultMetrics(), facts(t, all, to), from, to, now)
	for _, tc := range []struct {
		name     string
		value    string
		num, den []string
	}{
		{"timely_acceptance", "50.00%", []string{"A", "E"}, []string{"A", "B", "C", "E"}},
		{"timely_forwarding", "60.00%", []string{"A", "E", "F"}, []string{"A", "B", "C", "E", "F"}},
		{"on_time_reply", "33.33%", []string{"A"}, []string{"A", "B", "E"}},
		{"participation", "100.00%", []string{"A", "B"}, []string{"A", "B"}},
		{"satisfaction", "50.00%", []string{"A"}, []string{"A", "B"}},
		{"resolved_once", "50.00%", []string{"A"}, []string{"A", "B"}},
		{"handling_days", "47.50", []string{"A", "B"}, nil},
		{"repeat_petitions", "1", []string{"C"}, nil},
		{"level_skipping", "0", []string{}, nil},
	} {
		r := metric(t, rs, tc.name)
		if r.Value != tc.value || !slices.Equal(r.NumeratorCases, tc.num) || !slices.Equal(r.DenominatorCases, tc.den) {
			t.Errorf("%s (%s) = %s over %v / %v, want %s over %v / %v", tc.name, r.Zh, r.Value, r.NumeratorCases, r.DenominatorCases, tc.value, tc.num, tc.den)
		}
	}
	// The terms explain the figure: the acceptance denominator's cases, term by term.
	r := metric(t, rs, "timely_acceptance")
	got := map[string][]string{}
	for _, term := range r.Terms {
		got[term.Term] = term.Cases
	}
	if !slices.Equal(got["accepted_late"], []string{"B"}) || !slices.Equal(got["unaccepted_overdue"], []string{"C"}) {
		t.Errorf("terms %v", got)
	}
	// Judged in mid-April instead, B's late acceptance and C's overdue one are the same,
	// and B's reply is not late yet: it is pending, still in the denominator.
	rs = cases.ComputeMetrics(cases.DefaultMetrics(), facts(t, all, at(t, "2026-04-15")), from, to, at(t, "2026-04-15"))
	if r := metric(t, rs, "on_time_reply"); r.Value != "33.33%" || !slices.Equal(r.DenominatorCases, []string{"A", "B", "E"}) {
		t.Errorf("on 04-15: on_time_reply %s over %v", r.Value, r.DenominatorCases)
	}
	// A county that counts 基本满意 as satisfied says so in its definitions.
	custom := strings.Replace(cases.DefaultMetricsText(), `"satisfied": ["满意"]`, `"satisfied": ["满意", "不满意"]`, 1)
	d, err := cases.ParseMetricDefinitions(custom)
	if err != nil {
		t.Fatal(err)
	}
	rs = cases.ComputeMetrics(d, facts(t, all, to), from, to, now)
	if r := metric(t, rs, "satisfaction"); r.Value != "100.00%" {
		t.Errorf("with 不满意 counted (a test of the knob only): %s", r.Value)
	}
}

func TestParseMetricDefinitions_Errors(t *testing.T) {
	base := cases.DefaultMetricsText()
	for _, tc := range []struct {
		name, old, new, field, code string
	}{
		{"not JSON", `{`, `[`, "", "json"},
		{"an unknown key", `"version"`, `"versoin"`, "", "json"},
		{"no version", `"version": "cn-default.1"`, `"version": ""`, "version", "version"},
		{"an unknown term", `["accepted_in_time"]`, `["accepted_on_time"]`, "metrics[0].numerator[0]", "term"},
		{"a rate with no denominator", `, "denominator": ["accepted_in_time", "accepted_late", "unaccepted_overdue"]`, ``, "metrics[0].denominator", "terms"},
		{"an unknown kind", `"kind": "rate"`, `"kind": "ratio"`, "metrics[0].kind", "kind"},
		{"an unknown anchor", `"anchor": "received_at"`, `"anchor": "received"`, "metrics[0].anchor", "anchor"},
		{"a duplicate name", `"name": "timely_forwarding"`, `"name": "timely_acceptance"`, "metrics[1].name", "name"},
		{"an unknown evaluation", `"satisfied": ["满意"]`, `"satisfied": ["很好"]`, "satisfied[0]", "not_allowed"},
		{"a mean without a value", `"value": "handling_days"`, `"value": "days"`, "metrics[9].value", "value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(base, tc.old, tc.new, 1)
			if text == base {
				t.Fatalf("fixture: %q not in the default text", tc.old)
			}
			_, err := cases.ParseMetricDefinitions(text)
			wantFieldError(t, err, tc.field, tc.code)
		})
	}
	if d := cases.DefaultMetrics(); d.Version != "cn-default.1" || len(d.Metrics) != 10 {
		t.Errorf("default definitions %s with %d metrics", d.Version, len(d.Metrics))
	}
}

func TestConfigIDs(t *testing.T) {
	if got := cases.ConfigIDsFor(cases.ConfigCalendar, "420323103201"); !slices.Equal(got, []string{
		"cfg.calendar.420323103201", "cfg.calendar.420323103", "cfg.calendar.420323", "cfg.calendar.4203", "cfg.calendar.42", "cfg.calendar."}) {
		t.Errorf("ConfigIDsFor = %v", got)
	}
	if name, region, ok := cases.ParseConfigID("cfg.metrics.420323"); !ok || name != cases.ConfigMetrics || region != "420323" {
		t.Errorf("ParseConfigID = %q %q %v", name, region, ok)
	}
	for _, bad := range []string{"cfg.other.420323", "cfg.calendar.42x", "c0001", "cfg.calendar"} {
		if _, _, ok := cases.ParseConfigID(bad); ok {
			t.Errorf("ParseConfigID(%q) accepted it", bad)
		}
	}
	if err := cases.CheckConfig(cases.ConfigCalendar, "version x\n"); err == nil {
		t.Error("a calendar without years was accepted")
	}
	if err := cases.CheckConfig(cases.ConfigMetrics, cases.DefaultMetricsText()); err != nil {
		t.Errorf("the default metrics: %v", err)
	}
}
