package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// Configuration endpoints: the working-day calendar and the metric definitions in force at
// this node, and, at a hub, setting them for its region. A hub's configuration is a document
// of its op log (cases.ConfigID), so it reaches its stations by sync like everything else.

// ConfigResponse is the body of GET /api/v1/config/{name}.
type ConfigResponse struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source,omitempty"` // the document in force; "" for the built-in one
	Text    string `json:"text"`
	Error   string `json:"error,omitempty"` // the document set could not be used: the built-in one is
}

func configName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if name != cases.ConfigCalendar && name != cases.ConfigMetrics {
		writeError(w, http.StatusNotFound, "unknown_config", "未知的配置项（calendar 或 metrics） / unknown configuration (calendar or metrics)", "name")
		return "", false
	}
	return name, true
}

func (s *station) getConfig(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	name, ok := configName(w, r)
	if !ok {
		return
	}
	res := ConfigResponse{Name: name}
	wf := s.workflow()
	var doc node.ConfigDoc
	switch name {
	case cases.ConfigCalendar:
		res.Version, res.Text = cases.DefaultCalendar().Version(), cases.DefaultCalendarText()
		if wf != nil {
			cal, d, err := wf.Calendar()
			if err != nil {
				s.writeFailure(w, "calendar", err)
				return
			}
			res.Version, doc = cal.Version(), d
		}
	case cases.ConfigMetrics:
		res.Version, res.Text = cases.DefaultMetrics().Version, cases.DefaultMetricsText()
		if wf != nil {
			defs, d, err := wf.MetricDefinitions()
			if err != nil {
				s.writeFailure(w, "metric definitions", err)
				return
			}
			res.Version, doc = defs.Version, d
		}
	}
	res.Source, res.Error = doc.ID, doc.Err
	if doc.ID != "" {
		c, _, err := s.cfg.Replica.Case(doc.ID)
		if err != nil {
			s.writeFailure(w, "configuration", err)
			return
		}
		res.Text = cases.ConfigText(c)
	}
	writeJSON(w, http.StatusOK, res)
}

// putConfig sets configuration name for this hub's region from the body (a calendar file,
// or the metric definitions' JSON). Only a hub sets configuration: a station's would be
// quarantined at its hub.
func (s *station) putConfig(w http.ResponseWriter, r *http.Request) {
	author, ok := s.authorize(w, r, cases.PermConfigure, nil)
	if !ok {
		return
	}
	name, ok := configName(w, r)
	if !ok {
		return
	}
	if s.cfg.Role != "hub" {
		writeError(w, http.StatusForbidden, "hub_only", "配置由县级（或市级）中心设置，经同步下发到各站 / configuration is set at the hub and reaches stations by sync", "")
		return
	}
	wr, ok := s.writer(w)
	if !ok {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	text := string(body)
	if err := cases.CheckConfig(name, text); err != nil {
		if ce, ok := err.(*cases.CalendarError); ok {
			writeJSON(w, http.StatusBadRequest, ErrorBody{Error: ErrorDetail{Code: ce.Code, Message: ce.Zh + " / " + ce.En, Field: "line " + strconv.Itoa(ce.Line)}})
			return
		}
		s.writeFailure(w, "configuration", err)
		return
	}
	id := cases.ConfigID(name, s.cfg.Replica.Status().Region)
	if _, err := wr.Write(r.Context(), node.Change{Case: id, Kind: cases.KindConfig, Author: author,
		Writes: []cases.LocalWrite{{Field: "config", JSON: cases.JSONOf(strings.TrimPrefix(text, "\uFEFF"))}}}); err != nil {
		s.writeFailure(w, "configuration", err)
		return
	}
	s.getConfig(w, r)
}
