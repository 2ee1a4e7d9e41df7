package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// The configuration in force at a replica: of each configuration document (cases.ConfigID),
// the one set for the longest prefix of the replica's region, read from its head (config is
// an index field, so a head read is enough) and parsed once per version.

// ConfigDoc says which configuration document is in force and which version of it.
type ConfigDoc struct {
	ID       string   `json:"id,omitempty"` // "" when the built-in default is in force
	Version  string   `json:"version"`      // the calendar's or the definitions' own version
	Op       crdt.Dot `json:"-"`            // the op that wrote the text in force
	Conflict bool     `json:"conflict,omitempty"`
	// Err is why the document in force could not be used (a replicated text this version
	// cannot parse): the built-in default is used instead, and a person should look.
	Err string `json:"error,omitempty"`
}

// workflowCache holds parsed configuration texts by document and op.
type workflowCache struct {
	mu     sync.Mutex
	parsed map[string]any      // id + " " + dot → *cases.Calendar or *cases.MetricDefinitions
	ids    map[string][]string // configuration name → the ids that may apply here (cases.ConfigIDsFor)
}

// configIDs returns cases.ConfigIDsFor(name, region), made once.
func (c *workflowCache) configIDs(name, region string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ids, ok := c.ids[name]; ok {
		return ids
	}
	if c.ids == nil {
		c.ids = map[string][]string{}
	}
	c.ids[name] = cases.ConfigIDsFor(name, region)
	return c.ids[name]
}

func (c *workflowCache) get(key string, parse func() (any, error)) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.parsed[key]; ok {
		return v, nil
	}
	v, err := parse()
	if err != nil {
		return nil, err
	}
	if c.parsed == nil || len(c.parsed) > 64 {
		c.parsed = map[string]any{}
	}
	c.parsed[key] = v
	return v, nil
}

// configDoc finds the document of name in force and its text. inApply says the caller holds
// applyMu, so the case filter may answer for documents that do not exist.
func (r *Replica) configDoc(name string, inApply bool) (ConfigDoc, string, error) {
	for _, id := range r.wf.configIDs(name, r.region) {
		if inApply && !r.mayHoldCase(id) {
			continue
		}
		v, err := r.get(caseKey(id))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return ConfigDoc{}, "", fmt.Errorf("configuration %s: %w", id, err)
		}
		h, err := cases.DecodeHead(id, v)
		if err != nil {
			return ConfigDoc{}, "", fmt.Errorf("configuration %s: %w", id, err)
		}
		reg := h.Registers["config"]
		if reg == nil {
			continue
		}
		w, ok := reg.Winner()
		if !ok {
			continue
		}
		return ConfigDoc{ID: id, Op: w.Dot, Conflict: reg.Conflict()}, cases.ConfigText(h), nil
	}
	return ConfigDoc{}, "", nil
}

// calendarAt returns the working-day calendar in force (the built-in one when no document
// is set, or when the one set cannot be parsed: ConfigDoc.Err says why).
func (r *Replica) calendarAt(inApply bool) (*cases.Calendar, ConfigDoc, error) {
	doc, text, err := r.configDoc(cases.ConfigCalendar, inApply)
	if err != nil || doc.ID == "" {
		return cases.DefaultCalendar(), ConfigDoc{Version: cases.DefaultCalendar().Version()}, err
	}
	v, perr := r.wf.get(doc.ID+" "+doc.Op.String(), func() (any, error) { return cases.ParseCalendar(text) })
	if perr != nil {
		doc.Err, doc.Version = perr.Error(), cases.DefaultCalendar().Version()
		return cases.DefaultCalendar(), doc, nil
	}
	cal := v.(*cases.Calendar)
	doc.Version = cal.Version()
	return cal, doc, nil
}

// Calendar returns the working-day calendar in force at this replica and which document set
// it (ConfigDoc.ID is "" for the built-in calendar).
func (r *Replica) Calendar() (*cases.Calendar, ConfigDoc, error) {
	done, err := r.reading()
	if err != nil {
		return nil, ConfigDoc{}, err
	}
	defer done()
	return r.calendarAt(false)
}

// MetricDefinitions returns the metric definitions in force at this replica and which
// document set them.
func (r *Replica) MetricDefinitions() (*cases.MetricDefinitions, ConfigDoc, error) {
	done, err := r.reading()
	if err != nil {
		return nil, ConfigDoc{}, err
	}
	defer done()
	doc, text, err := r.configDoc(cases.ConfigMetrics, false)
	if err != nil || doc.ID == "" {
		return cases.DefaultMetrics(), ConfigDoc{Version: cases.DefaultMetrics().Version}, err
	}
	v, perr := r.wf.get(doc.ID+" "+doc.Op.String(), func() (any, error) { return cases.ParseMetricDefinitions(text) })
	if perr != nil {
		doc.Err, doc.Version = perr.Error(), cases.DefaultMetrics().Version
		return cases.DefaultMetrics(), doc, nil
	}
	d := v.(*cases.MetricDefinitions)
	doc.Version = d.Version
	return d, doc, nil
}
