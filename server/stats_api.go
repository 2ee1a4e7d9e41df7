package server

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
)

// StatsResponse is the body of GET /api/v1/stats, the hub dashboard's figures: cases by
// state, township and category, how many are overdue or near due now, and this month's
// metrics for the whole node and per township, all from one pass over the cases held.
type StatsResponse struct {
	Cases      int             `json:"cases"`
	Overdue    int             `json:"overdue"`
	NearDue    int             `json:"near_due"`
	Repeats    int             `json:"repeats"`
	Backlog    int             `json:"backlog"` // 积案
	ByState    []CountJSON     `json:"by_state"`
	ByTownship []CountJSON     `json:"by_township"`
	ByCategory []CountJSON     `json:"by_category"`
	From       string          `json:"from"`
	To         string          `json:"to"`
	Metrics    []MetricsOfJSON `json:"metrics"` // the node's first, then each township's
}

// CountJSON is one bucket of a count.
type CountJSON struct {
	Key   string `json:"key"`
	Name  string `json:"name,omitempty"`
	Count int    `json:"count"`
}

// MetricsOfJSON is the metrics of one region.
type MetricsOfJSON struct {
	Region  string               `json:"region"`
	Name    string               `json:"name"`
	Cases   int                  `json:"cases"`
	Metrics []cases.MetricResult `json:"metrics"`
}

// stats serves GET /api/v1/stats?from=D&to=D (the metrics' period; default this month).
func (s *station) stats(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	wf := s.workflow()
	if wf == nil {
		writeError(w, http.StatusNotImplemented, "not_supported", "此节点不提供统计 / this node does not compute statistics", "")
		return
	}
	vc := s.viewContext()
	from, to, ok := parsePeriod(w, r, vc.now)
	if !ok {
		return
	}
	defs, _, err := wf.MetricDefinitions()
	if err != nil {
		s.writeFailure(w, "metric definitions", err)
		return
	}
	byState, byTown, byCat := map[string]int{}, map[string]int{}, map[string]int{}
	var all []cases.CaseFacts
	perTown := map[string][]cases.CaseFacts{}
	out := StatsResponse{From: shanghaiTime(from), To: shanghaiTime(to)}
	err = s.scanFacts(wf, vc, vc.now, func(*cases.Case) bool { return true }, func(c *cases.Case, f cases.CaseFacts, clocks []cases.Clock) {
		out.Cases++
		byState[string(c.State())]++
		town := township(c.String("region"))
		byTown[town]++
		if cat := c.String("category"); cat != "" {
			byCat[cat]++
		}
		if next, ok := cases.NextDue(clocks); ok {
			switch _, near, overdue := next.Status(vc.now, vc.nearDays); {
			case overdue:
				out.Overdue++
			case near:
				out.NearDue++
			}
		}
		if slices.Contains(f.Flags, cases.FlagRepeat) {
			out.Repeats++
		}
		if slices.Contains(f.Flags, cases.FlagBacklog) {
			out.Backlog++
		}
		all = append(all, f)
		perTown[town] = append(perTown[town], f)
	})
	if err != nil {
		s.writeFailure(w, "stats", err)
		return
	}
	out.ByState, out.ByTownship, out.ByCategory = counts(byState, nil), counts(byTown, regionName), counts(byCat, nil)
	here := s.cfg.Replica.Status().Region
	out.Metrics = append(out.Metrics, MetricsOfJSON{Region: here, Name: regionName(here), Cases: len(all),
		Metrics: cases.ComputeMetrics(defs, all, from, to, vc.now)})
	for _, t := range out.ByTownship {
		out.Metrics = append(out.Metrics, MetricsOfJSON{Region: t.Key, Name: t.Name, Cases: len(perTown[t.Key]),
			Metrics: cases.ComputeMetrics(defs, perTown[t.Key], from, to, vc.now)})
	}
	writeJSON(w, http.StatusOK, out)
}

// township is the 9-digit township code of a region code ("" when it has none).
func township(region string) string {
	if len(region) < 9 {
		return region
	}
	return region[:9]
}

func regionName(code string) string {
	if r, ok := regions.Lookup(code); ok {
		return r.Name
	}
	return code
}

// counts sorts a count's buckets, largest first, naming them with name when given.
func counts(m map[string]int, name func(string) string) []CountJSON {
	out := make([]CountJSON, 0, len(m))
	for k, n := range m {
		c := CountJSON{Key: k, Count: n}
		if name != nil {
			c.Name = name(k)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b CountJSON) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return out
}
