package server

import (
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// CaseJSON is a case as the API shows it: each field's display value, and every open
// conflict with all its values, authors and times.
type CaseJSON struct {
	ID        string               `json:"id"`
	State     string               `json:"state"`
	Fields    map[string]any       `json:"fields"`
	Tags      []string             `json:"tags"`
	Conflicts map[string][]Version `json:"conflicts,omitempty"`
	Notes     []NoteJSON           `json:"notes"`
	Flags     []FlagJSON           `json:"flags,omitempty"`
	Deadline  *DeadlineJSON        `json:"deadline,omitempty"`
	Created   string               `json:"created_by_op"`
	Creator   string               `json:"creator"`
	Ops       int                  `json:"ops,omitempty"` // ops in its history (not in lists)
}

// Version is one value of a field in conflict.
type Version struct {
	Value   any    `json:"value"`
	Author  string `json:"author"`
	At      string `json:"at"`
	Op      string `json:"op"`
	Flagged bool   `json:"clock_flagged,omitempty"`
}

// NoteJSON is one timeline record.
type NoteJSON struct {
	Op        string     `json:"op"`
	Author    string     `json:"author"`
	At        string     `json:"at"`
	Note      cases.Note `json:"note"`
	Withdrawn bool       `json:"withdrawn,omitempty"`
}

// FlagJSON is a rule a replicated op broke.
type FlagJSON struct {
	Op    string `json:"op"`
	Field string `json:"field"`
	Code  string `json:"code"`
}

// DeadlineJSON is the next statutory deadline.
type DeadlineJSON struct {
	At   string `json:"at"`
	Rule string `json:"rule"`
}

func stampTime(t crdt.Timestamp) string {
	return time.UnixMilli(t.Wall).In(Shanghai).Format(time.RFC3339)
}

// CaseView turns a folded case into its API shape.
func CaseView(c *cases.Case, hist []cases.Stored) CaseJSON {
	v := CaseJSON{ID: c.ID, State: string(c.State()), Fields: map[string]any{}, Tags: []string{}, Notes: []NoteJSON{},
		Created: c.Created.String(), Creator: c.Creator, Ops: len(hist)}
	for f, r := range c.Registers {
		win, ok := r.Winner()
		if !ok {
			continue
		}
		v.Fields[f] = cases.DecodeValue(f, win.Value)
		if r.Conflict() {
			if v.Conflicts == nil {
				v.Conflicts = map[string][]Version{}
			}
			for _, w := range r.Values() {
				v.Conflicts[f] = append(v.Conflicts[f], Version{Value: cases.DecodeValue(f, w.Value), Author: w.Author,
					At: stampTime(w.Stamp), Op: w.Dot.String(), Flagged: w.Flagged})
			}
		}
	}
	if s := c.Sets["tags"]; s != nil {
		for _, e := range s.Elems() {
			if t, ok := cases.DecodeValue("tags", []byte(e)).(string); ok {
				v.Tags = append(v.Tags, t)
			}
		}
	}
	if l := c.Logs["notes"]; l != nil {
		for _, e := range l.Entries() {
			n, _ := cases.DecodeValue("notes", e.Value).(cases.Note)
			v.Notes = append(v.Notes, NoteJSON{Op: e.Dot.String(), Author: e.Author, At: stampTime(e.Stamp), Note: n, Withdrawn: e.Withdrawn})
		}
	}
	for _, f := range c.Flags {
		v.Flags = append(v.Flags, FlagJSON{Op: f.Dot.String(), Field: f.Field, Code: f.Code})
	}
	if d, ok := cases.NextDeadline(c); ok {
		v.Deadline = &DeadlineJSON{At: time.UnixMilli(d.At).In(Shanghai).Format(time.RFC3339), Rule: d.Rule}
	}
	return v
}
