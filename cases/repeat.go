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

// SameMatter reports whether a and b are the same petitioner's same matter: they share a
// resident ID, and their categories, or their respondents, are the same (with neither
// known, their requests are word for word the same).
func SameMatter(a, b *Case) bool {
	ids := ResidentIDs(b)
	if !slices.ContainsFunc(ResidentIDs(a), func(id string) bool { return slices.Contains(ids, id) }) {
		return false
	}
	ca, cb := a.String("category"), b.String("category")
	ra, rb := respondentName(a), respondentName(b)
	switch {
	case ca != "" && cb != "" && ca == cb:
		return ra == "" || rb == "" || ra == rb
	case ra != "" && rb != "" && ra == rb:
		return true
	case (ca == "" || cb == "") && (ra == "" || rb == ""):
		return strings.TrimSpace(a.String("summary")) != "" && a.String("summary") == b.String("summary")
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
	Earlier []string // other cases of the same petitioner and matter, by id, sorted
	Final   string   // one of them whose 复核 opinion was served: the matter is concluded
}

// FindRepeats compares c with candidates (cases sharing a resident ID with it; c itself and
// configuration documents are skipped).
func FindRepeats(c *Case, candidates []*Case) RepeatFinding {
	var f RepeatFinding
	for _, o := range candidates {
		if o.ID == c.ID || IsConfigID(o.ID) || !o.Exists() || !SameMatter(c, o) {
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
