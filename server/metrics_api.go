package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// MetricsResponse is the body of GET /api/v1/metrics/rates: every figure of the definitions
// in force, for the unit and period asked, each with the cases behind it.
type MetricsResponse struct {
	Unit        string               `json:"unit,omitempty"`   // the handling unit (handler_unit) counted, if one
	Region      string               `json:"region,omitempty"` // the division-code prefix counted, if one
	From        string               `json:"from"`
	To          string               `json:"to"`    // exclusive
	AsOf        string               `json:"as_of"` // the end of the period, or now if earlier
	Definitions ConfigSource         `json:"definitions"`
	Calendar    CalendarView         `json:"calendar"`
	Cases       int                  `json:"cases_considered"`
	Metrics     []cases.MetricResult `json:"metrics"`
	Numbers     map[string]string    `json:"case_numbers"` // id → case number, for the ids listed
}

// ConfigSource names configuration and the document it came from.
type ConfigSource struct {
	Version string `json:"version"`
	Source  string `json:"source,omitempty"` // "" for the built-in one
	Error   string `json:"error,omitempty"`  // the document set could not be used: the built-in one was
}

// parseInstant reads a period bound: a date (2026-01-01, 00:00 Beijing) or an RFC 3339 instant.
func parseInstant(v string) (time.Time, bool) {
	if d, err := cases.ParseDate(v); err == nil {
		return d.Start(), true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// metricRates serves GET /api/v1/metrics/rates?unit=U&region=PREFIX&from=D&to=D. unit is a
// handling unit's name, or a division code (then it is the region); from defaults to the
// first day of this month, to to now. The figures are computed here, from the cases this
// node holds, on the definitions in force here: a station's for its scope, a hub's for its
// county.
func (s *station) metricRates(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	wf := s.workflow()
	if wf == nil {
		writeError(w, http.StatusNotImplemented, "not_supported", "此节点不提供统计 / this node does not compute metrics", "")
		return
	}
	qs := r.URL.Query()
	vc := s.viewContext()
	unit, region := strings.TrimSpace(qs.Get("unit")), qs.Get("region")
	if unit != "" && strings.Trim(unit, "0123456789") == "" && region == "" {
		unit, region = "", unit
	}
	if region != "" && strings.Trim(region, "0123456789") != "" {
		writeError(w, http.StatusBadRequest, "bad_region", "region 应为区划代码前缀 / region must be a division-code prefix", "region")
		return
	}
	from, to, ok := parsePeriod(w, r, vc.now)
	if !ok {
		return
	}
	defs, doc, err := wf.MetricDefinitions()
	if err != nil {
		s.writeFailure(w, "metric definitions", err)
		return
	}
	asOf := to
	if vc.now.Before(asOf) {
		asOf = vc.now
	}
	var facts []cases.CaseFacts
	numbers := map[string]string{}
	err = s.scanFacts(wf, vc, asOf, func(c *cases.Case) bool {
		return (region == "" || slices.ContainsFunc(c.Strings("region"), func(r string) bool { return strings.HasPrefix(r, region) })) &&
			(unit == "" || slices.Contains(c.Strings("handler_unit"), unit))
	}, func(c *cases.Case, f cases.CaseFacts, _ []cases.Clock) {
		facts = append(facts, f)
		if n := c.String("case_no"); n != "" {
			numbers[c.ID] = n
		}
	})
	if err != nil {
		s.writeFailure(w, "metrics", err)
		return
	}
	res := MetricsResponse{Unit: unit, Region: region, From: shanghaiTime(from), To: shanghaiTime(to), AsOf: shanghaiTime(asOf),
		Definitions: ConfigSource{Version: defs.Version, Source: doc.ID, Error: doc.Err},
		Calendar:    CalendarView{Version: vc.cal.Version(), Source: vc.calSrc},
		Cases:       len(facts), Metrics: cases.ComputeMetrics(defs, facts, from, to, vc.now), Numbers: numbers}
	writeJSON(w, http.StatusOK, res)
}

// scanFacts folds every case this node holds that keep accepts and gives visit its facts
// for the metrics (clocks judged at asOf, flags with the repeats this node can see: a hub
// finds those no single station could) and its clocks. It reads every case: a metric is
// recomputed from the event log, never from counters kept aside.
func (s *station) scanFacts(wf WorkflowReplica, vc viewContext, asOf time.Time, keep func(*cases.Case) bool,
	visit func(c *cases.Case, f cases.CaseFacts, clocks []cases.Clock)) error {
	type held struct {
		c      *cases.Case
		f      cases.CaseFacts
		clocks []cases.Clock
	}
	var all []held
	var matters []cases.Matter
	vcc := vc
	vcc.now = asOf
	err := wf.ScanCases(func(id string) error {
		if cases.IsConfigID(id) {
			return nil
		}
		c, hist, err := s.cfg.Replica.Case(id)
		if errors.Is(err, node.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !keep(c) {
			return nil
		}
		clocks, flags, _ := clocksOf(c, hist, vcc)
		all = append(all, held{c, cases.FactsOf(c, clocks, flags), clocks})
		matters = append(matters, cases.MatterOf(c))
		return nil
	})
	if err != nil {
		return err
	}
	repeats := cases.RepeatsAmong(matters)
	for _, h := range all {
		if repeats[h.f.ID] && !slices.Contains(h.f.Flags, cases.FlagRepeat) {
			h.f.Flags = append(h.f.Flags, cases.FlagRepeat)
		}
		visit(h.c, h.f, h.clocks)
	}
	return nil
}

// parsePeriod reads ?from=D&to=D (dates at 00:00 Beijing time, or RFC 3339 instants): by
// default this month up to now. On a bad value it writes the error and ok is false.
func parsePeriod(w http.ResponseWriter, r *http.Request, now time.Time) (from, to time.Time, ok bool) {
	y, m, _ := now.In(cases.Shanghai).Date()
	from, to = cases.MakeDate(y, m, 1).Start(), now
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, ok := parseInstant(v)
			if !ok {
				writeError(w, http.StatusBadRequest, "bad_"+p.name, p.name+" 应为日期（2026-01-01）或时间（RFC 3339）/ "+p.name+" must be a date (2026-01-01) or an RFC 3339 time", p.name)
				return from, to, false
			}
			*p.t = t
		}
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "bad_period", "from 应早于 to / from must be before to", "from")
		return from, to, false
	}
	return from, to, true
}
