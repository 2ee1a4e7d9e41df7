package cases

import (
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// Repeat detection (DOMAIN.md §3, 重复访): the same petitioner (resident ID) with the same
// matter again is a repeat petition; once that matter has been through 复核, the same facts
// and reasons are not accepted again anywhere (不再受理, R22 Art 36(3)). A replica decides
// with the cases it can see: a station its own, the hub after sync everything of its county,
// so the hub finds what no single station could.

// ResidentIDs returns the resident ID numbers of c's petitioners, sorted, once each.
func ResidentIDs(c *Case) []string {
	var out []string
	if r := c.Registers["petitioners"]; r != nil {
		for _, w := range r.Values() {
			ps, _ := DecodeValue("petitioners", w.Value).([]Person)
			for _, p := range ps {
				if p.IDNumber != "" && !slices.Contains(out, p.IDNumber) {
					out = append(out, p.IDNumber)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// ResidentIDsOfWrite returns the resident IDs in a stored petitioners value (for indexing a
// replicated op without folding its case).
func ResidentIDsOfWrite(w Write) []string {
	if w.Field != "petitioners" || w.Action != Set {
		return nil
	}
	// The persons' other fields are skipped, not decoded: this runs for every registration.
	var r mp.Reader
	r.Reset(w.Value)
	n := r.ArrayLen(1000)
	var out []string
	for i := 0; i < n && r.Err() == nil; i++ {
		m := r.ExpectArray(4, 32)
		r.Skip()
		id := r.Bytes(64)
		for j := 2; j < m; j++ {
			r.Skip()
		}
		if len(id) > 0 && r.Err() == nil && !slices.Contains(out, string(id)) {
			out = append(out, string(id))
		}
	}
	if r.Err() != nil {
		return nil
	}
	return out
}

// Matter is what repeat detection compares of a case.
type Matter struct {
	ID         string
	Received   int64 // when it was received (registered, if no receipt was recorded)
	Residents  []string
	Category   string
	Respondent string
	Summary    string
}

// MatterOf returns what repeat detection compares of c.
func MatterOf(c *Case) Matter {
	m := Matter{ID: c.ID, Received: c.Int("received_at"), Residents: ResidentIDs(c), Category: c.String("category"),
		Respondent: respondentName(c), Summary: strings.TrimSpace(c.String("summary"))}
	if m.Received == 0 {
		m.Received = c.Int("registered_at")
	}
	return m
}

// Before reports whether m was received before o (by time, then id: a total order).
func (m Matter) Before(o Matter) bool {
	return m.Received < o.Received || (m.Received == o.Received && m.ID < o.ID)
}

// SameMatter reports whether a and b are the same petitioner's same matter: they share a
// resident ID, and their categories, or their respondents, are the same (with neither
// known, their requests are word for word the same).
func SameMatter(a, b *Case) bool { return MatterOf(a).Same(MatterOf(b)) }

// Same is SameMatter of two matters.
func (a Matter) Same(b Matter) bool {
	if !slices.ContainsFunc(a.Residents, func(id string) bool { return slices.Contains(b.Residents, id) }) {
		return false
	}
	ca, cb := a.Category, b.Category
	ra, rb := a.Respondent, b.Respondent
	switch {
	case ca != "" && cb != "" && ca == cb:
		return ra == "" || rb == "" || ra == rb
	case ra != "" && rb != "" && ra == rb:
		return true
	case (ca == "" || cb == "") && (ra == "" || rb == ""):
		return a.Summary != "" && a.Summary == b.Summary
	}
	return false
}

func respondentName(c *Case) string {
	if b, ok := c.Value("respondent"); ok {
		if p, ok := DecodeValue("respondent", b).(Party); ok {
			return strings.TrimSpace(p.Name)
		}
	}
	return ""
}

// RepeatFinding is what the cases a replica can see say about a case.
type RepeatFinding struct {
	Earlier []string // cases of the same petitioner and matter received before it, by id, sorted
	Final   string   // one of them whose 复核 opinion was served: the matter is concluded
}

// FindRepeats compares c with candidates (cases sharing a resident ID with it; c itself and
// configuration documents are skipped): the same matter received before c makes c a repeat.
func FindRepeats(c *Case, candidates []*Case) RepeatFinding {
	var f RepeatFinding
	m := MatterOf(c)
	for _, o := range candidates {
		if o.ID == c.ID || IsConfigID(o.ID) || !o.Exists() {
			continue
		}
		om := MatterOf(o)
		if !om.Before(m) || !om.Same(m) {
			continue
		}
		f.Earlier = append(f.Earlier, o.ID)
		if _, ok := o.Value("rereview_served_at"); ok && (f.Final == "" || o.ID < f.Final) {
			f.Final = o.ID
		}
	}
	slices.Sort(f.Earlier)
	return f
}

// CheckNotConcluded refuses to register c when its matter went through 复核 already (不再受理,
// R22 Art 36(3)), unless the petitioner brings new facts or reasons (new_facts). The error
// points at the earlier case.
func CheckNotConcluded(c *Case, f RepeatFinding, earlierNumber string) *FieldError {
	if f.Final == "" || strings.TrimSpace(c.String("new_facts")) != "" {
		return nil
	}
	name := f.Final
	if earlierNumber != "" {
		name = earlierNumber
	}
	e := fieldErr("petitioners", "not_accepted_again", "同一信访人就同一事项已经复核终结（原案件 "+name+"），以同一事实和理由提出的不再受理；有新的事实和理由请填写“新的事实和理由”",
		"the same petitioner's same matter was concluded by 复核 (case "+name+"); the same facts and reasons are not accepted again; give new_facts if there are new ones")
	e.Rule, e.Related = "R22 Art 36(3)", f.Final
	return e
}

// Preview returns the case a registration's writes would make (validated as Prepare does),
// for checks that compare it with other cases before it is written.
func Preview(id string, in []LocalWrite) (*Case, error) {
	c := NewCase(id)
	ws, obs, err := Prepare(c, KindRegister, in, nil)
	if err != nil {
		return nil, err
	}
	op := Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "preview"}, Seq: 1}, Case: id, Kind: KindRegister, Author: "preview", Writes: ws, Observed: obs}
	c.Apply(&op, Meta{})
	return c, nil
}

// RepeatsAmong returns, of a set of matters, the ids of those that repeat an earlier one of
// the set (the first of each matter is not a repeat).
func RepeatsAmong(ms []Matter) map[string]bool {
	byResident := map[string][]int{}
	for i, m := range ms {
		for _, r := range m.Residents {
			byResident[r] = append(byResident[r], i)
		}
	}
	out := map[string]bool{}
	for _, group := range byResident {
		for _, i := range group {
			for _, j := range group {
				if i != j && ms[j].Before(ms[i]) && ms[j].Same(ms[i]) {
					out[ms[i].ID] = true
				}
			}
		}
	}
	return out
}
