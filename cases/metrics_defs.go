package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Metric definitions are versioned configuration (DOMAIN.md §3: no national formula exists,
// so every formula is a named, documented definition a county can change). A definition is
// a rate (the cases meeting any numerator term over those meeting any denominator term), a
// count, or a mean of a per-case value, over the cases whose anchor event falls in the
// period asked for. The terms are the predicates of MetricTerms, each a documented fact
// about one case judged at the end of the period.
//
// The file is JSON:
//
//	{"version": "cn-default.1", "near_due_days": 3, "collective_size": 5,
//	 "satisfied": ["满意"],
//	 "metrics": [{"name": "timely_acceptance", "zh": "及时受理率", "en": "Timely acceptance",
//	   "kind": "rate", "anchor": "received_at",
//	   "numerator": ["accepted_in_time"],
//	   "denominator": ["accepted_in_time", "accepted_late", "unaccepted_overdue"],
//	   "doc": "及时受理 / (及时受理 + 超期受理 + 超期未受理)"}]}

// MetricDefinitions is a parsed metric definition file.
type MetricDefinitions struct {
	Version string `json:"version"`
	// NearDueDays: a running clock with at most this many days left is near due.
	NearDueDays int `json:"near_due_days"`
	// CollectiveSize: a petition of at least this many people is a 集体访 (R22 Art 20 limits
	// representatives to 5; the threshold is practice, DOMAIN.md §3).
	CollectiveSize int `json:"collective_size"`
	// Satisfied lists the evaluations counted as satisfied (满意; 基本满意 by choice).
	Satisfied []string `json:"satisfied"`
	Metrics   []Metric `json:"metrics"`
}

// Metric is one definition.
type Metric struct {
	Name        string   `json:"name"`
	Zh          string   `json:"zh"`
	En          string   `json:"en"`
	Kind        string   `json:"kind"`   // rate, count or mean
	Anchor      string   `json:"anchor"` // the event whose time puts a case in the period; "" = every case
	Numerator   []string `json:"numerator"`
	Denominator []string `json:"denominator,omitempty"` // rate only
	Value       string   `json:"value,omitempty"`       // mean only: a per-case value (MetricValues)
	Doc         string   `json:"doc"`
}

// Kinds of metric.
const (
	MetricRate  = "rate"
	MetricCount = "count"
	MetricMean  = "mean"
)

// Limits of a metric definition file.
const (
	maxMetrics     = 64
	maxMetricTerms = 16
)

// metricAnchors are the event times a metric may be anchored on.
var metricAnchors = []string{"", "received_at", "registered_at", "notice_at", "served_at", "closed_at", "review_requested_at", "rereview_requested_at", "agreement_at"}

// defaultMetricsText is the built-in definition file: the formulas DOMAIN.md §3 found.
const defaultMetricsText = `{
  "version": "cn-default.1",
  "near_due_days": 3,
  "collective_size": 5,
  "satisfied": ["满意"],
  "metrics": [
    {"name": "timely_acceptance", "zh": "及时受理率", "en": "Timely acceptance rate", "kind": "rate", "anchor": "received_at",
     "numerator": ["accepted_in_time"], "denominator": ["accepted_in_time", "accepted_late", "unaccepted_overdue"],
     "doc": "及时受理 / (及时受理 + 超期受理 + 超期未受理)。受理以承办单位收到转送、交办事项后15日内书面告知为准（R22 第23条），直接受理的以登记后15日内为准；未到期限的不计入。（广东信访系统、达川规则）"},
    {"name": "timely_forwarding", "zh": "信访部门及时转送率", "en": "Timely forwarding rate (petition bureau)", "kind": "rate", "anchor": "received_at",
     "numerator": ["decided_in_time"], "denominator": ["decided_in_time", "decided_late", "undecided_overdue"],
     "doc": "15日内转送、交办、导出或告知的 / (按期 + 超期 + 超期未处理)（R22 第22条）"},
    {"name": "on_time_reply", "zh": "按期答复率（按期办结率）", "en": "On-time reply rate", "kind": "rate", "anchor": "notice_at",
     "numerator": ["replied_in_time"], "denominator": ["replied_in_time", "replied_late", "unreplied", "unreplied_overdue"],
     "doc": "按期答复 / (按期答复 + 超期答复 + 未答复 + 超期未答复)；期限为受理之日起60日，经批准延期的加延长期限（R22 第34条）"},
    {"name": "participation", "zh": "参评率", "en": "Evaluation participation rate", "kind": "rate", "anchor": "served_at",
     "numerator": ["evaluated"], "denominator": ["should_evaluate"],
     "doc": "参评件 / 应参评件；应参评件为已出具处理意见、未导入法定途径、非依法不宜公开的事项（国信发〔2014〕16号）"},
    {"name": "satisfaction", "zh": "满意率", "en": "Satisfaction rate", "kind": "rate", "anchor": "served_at",
     "numerator": ["satisfied"], "denominator": ["evaluated"],
     "doc": "满意件 / 参评件（参评群众满意率）"},
    {"name": "resolved_once", "zh": "一次性化解率", "en": "Resolved at first handling", "kind": "rate", "anchor": "closed_at",
     "numerator": ["resolved_once"], "denominator": ["first_petition_closed"],
     "doc": "一次性化解件 / 初次信访办结件；一次性化解指初次信访办结且未申请复查（临沂口径；“一次性化解”的认定请与客户确认）"},
    {"name": "backlog_resolution", "zh": "积案化解率", "en": "Backlog resolution rate", "kind": "rate", "anchor": "",
     "numerator": ["backlog_resolved"], "denominator": ["backlog"],
     "doc": "已化解积案 / 交办积案；积案以“积案”标记为准，已化解以办结为准（临沂罗庄区 96/167 = 57.49%）"},
    {"name": "repeat_petitions", "zh": "重复信访件数", "en": "Repeat petitions", "kind": "count", "anchor": "received_at",
     "numerator": ["repeat"], "doc": "同一信访人、同一事项再次信访的件数"},
    {"name": "level_skipping", "zh": "越级访件数", "en": "Level-skipping visits", "kind": "count", "anchor": "received_at",
     "numerator": ["level_skipping"], "doc": "越过本级和上一级机关的走访件数（R22 第20条）"},
    {"name": "handling_days", "zh": "平均办理时长（天/件）", "en": "Average handling days", "kind": "mean", "anchor": "served_at",
     "numerator": ["served"], "value": "handling_days", "doc": "受理至出具处理意见的天数之和 / 件数"}
  ]
}`

var defaultMetrics = func() *MetricDefinitions {
	m, err := ParseMetricDefinitions(defaultMetricsText)
	if err != nil {
		panic("cases: built-in metric definitions: " + err.Error()) // a bug in this file; its test catches it
	}
	return m
}()

// DefaultMetrics returns the built-in metric definitions (version cn-default.1).
func DefaultMetrics() *MetricDefinitions { return defaultMetrics }

// DefaultMetricsText returns the built-in definitions as a file, to start a county's from.
func DefaultMetricsText() string { return defaultMetricsText }

// ParseMetricDefinitions reads a metric definition file. Every mistake is a *FieldError
// naming where it is (metrics[2].numerator[0]) and what is wrong.
func ParseMetricDefinitions(text string) (*MetricDefinitions, error) {
	if len(text) > MaxCalendarBytes {
		return nil, fieldErr("", "too_large", "指标定义文件过大", fmt.Sprintf("the file is larger than %d bytes", MaxCalendarBytes))
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	var m MetricDefinitions
	if err := dec.Decode(&m); err != nil {
		return nil, fieldErr("", "json", "指标定义不是有效的JSON："+err.Error(), "not valid JSON: "+err.Error())
	}
	if dec.More() {
		return nil, fieldErr("", "json", "指标定义之后还有多余内容", "trailing data after the definitions")
	}
	bad := func(field, code, zh, en string) (*MetricDefinitions, error) {
		return nil, fieldErr(field, code, zh, en)
	}
	switch {
	case !validWord(m.Version):
		return bad("version", "version", "版本号应为字母、数字、. _ -（不超过64个）", "version must be letters, digits, . _ - (at most 64)")
	case m.NearDueDays < 0 || m.NearDueDays > 60:
		return bad("near_due_days", "range", "临期天数应为 0 到 60", "near_due_days must be 0 to 60")
	case m.CollectiveSize < 2 || m.CollectiveSize > 1000:
		return bad("collective_size", "range", "集体访人数应为 2 到 1000", "collective_size must be 2 to 1000")
	case len(m.Metrics) == 0 || len(m.Metrics) > maxMetrics:
		return bad("metrics", "count", fmt.Sprintf("应定义 1 到 %d 项指标", maxMetrics), fmt.Sprintf("define 1 to %d metrics", maxMetrics))
	}
	for i, s := range m.Satisfied {
		if !slices.Contains(evaluations, s) {
			return bad(fmt.Sprintf("satisfied[%d]", i), "not_allowed", "评价结果应为："+strings.Join(evaluations, "、"), "an evaluation is one of "+strings.Join(evaluations, ", "))
		}
	}
	seen := map[string]bool{}
	for i := range m.Metrics {
		d := &m.Metrics[i]
		at := func(f string) string { return fmt.Sprintf("metrics[%d].%s", i, f) }
		switch {
		case !validWord(d.Name) || seen[d.Name]:
			return bad(at("name"), "name", "指标名称应唯一，由字母、数字、. _ - 组成", "a metric name is unique: letters, digits, . _ -")
		case d.Zh == "" || d.En == "" || utf8.RuneCountInString(d.Zh) > 64 || len(d.En) > 128 || utf8.RuneCountInString(d.Doc) > 2000:
			return bad(at("zh"), "labels", "请填写中英文名称（不超过64字）和说明（不超过2000字）", "give zh and en labels (≤ 64 characters) and a doc (≤ 2000)")
		case d.Kind != MetricRate && d.Kind != MetricCount && d.Kind != MetricMean:
			return bad(at("kind"), "kind", "指标类型应为 rate（比率）、count（件数）或 mean（平均值）", "kind must be rate, count or mean")
		case !slices.Contains(metricAnchors, d.Anchor):
			return bad(at("anchor"), "anchor", "统计依据的时间应为："+strings.Join(metricAnchors[1:], "、")+"，或留空", "anchor must be one of "+strings.Join(metricAnchors[1:], ", ")+" or empty")
		case len(d.Numerator) == 0 || len(d.Numerator) > maxMetricTerms || len(d.Denominator) > maxMetricTerms:
			return bad(at("numerator"), "terms", fmt.Sprintf("分子应有 1 到 %d 项", maxMetricTerms), fmt.Sprintf("numerator has 1 to %d terms", maxMetricTerms))
		case d.Kind == MetricRate && len(d.Denominator) == 0:
			return bad(at("denominator"), "terms", "比率须有分母", "a rate needs a denominator")
		case d.Kind != MetricRate && len(d.Denominator) > 0:
			return bad(at("denominator"), "terms", "只有比率有分母", "only a rate has a denominator")
		case d.Kind == MetricMean && MetricValues[d.Value] == nil:
			return bad(at("value"), "value", "平均值指标须指定取值："+strings.Join(sortedNames(MetricValues), "、"), "a mean needs a value: one of "+strings.Join(sortedNames(MetricValues), ", "))
		case d.Kind != MetricMean && d.Value != "":
			return bad(at("value"), "value", "只有平均值指标有取值", "only a mean has a value")
		}
		for j, term := range append(slices.Clone(d.Numerator), d.Denominator...) {
			if MetricTerms[term] == nil {
				where := at(fmt.Sprintf("numerator[%d]", j))
				if j >= len(d.Numerator) {
					where = at(fmt.Sprintf("denominator[%d]", j-len(d.Numerator)))
				}
				return bad(where, "term", "未知的统计项“"+term+"”，可用："+strings.Join(sortedNames(MetricTerms), "、"),
					"unknown term "+term+"; one of "+strings.Join(sortedNames(MetricTerms), ", "))
			}
		}
		seen[d.Name] = true
	}
	return &m, nil
}

func validWord(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
