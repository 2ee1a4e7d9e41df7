package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
)

// What forms need to be built and checked from the rules in cases/ rather than from a copy
// of them in the pages: the field schema, the division codes to pick a place from, and the
// validators run as a person types.

// SchemaField is one field of the case document as GET /api/v1/schema describes it.
type SchemaField struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	Zh    string   `json:"zh"`
	En    string   `json:"en"`
	Enum  []string `json:"enum,omitempty"`
	Group string   `json:"group,omitempty"`
	Order int      `json:"order"` // the schema's own order, for showing fields
}

var typeNames = map[cases.Type]string{
	cases.TypeString: "string", cases.TypeText: "text", cases.TypeInt: "int", cases.TypeTime: "time",
	cases.TypeEnum: "enum", cases.TypeRegion: "region", cases.TypePersons: "persons", cases.TypeParty: "party",
	cases.TypeTags: "tags", cases.TypeNotes: "notes", cases.TypeFiles: "files", cases.TypeNode: "node",
}

// schema serves GET /api/v1/schema: the fields of a case with their labels and types.
func (s *station) schema(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	names := cases.FieldNames()
	out := struct {
		Fields []SchemaField `json:"fields"`
	}{Fields: make([]SchemaField, 0, len(names))}
	for _, n := range names {
		spec := cases.Fields[n]
		t := typeNames[spec.Type]
		if t == "" {
			t = "opaque"
		}
		out.Fields = append(out.Fields, SchemaField{Name: n, Type: t, Zh: spec.Zh, En: spec.En,
			Enum: spec.Enum, Group: spec.Group, Order: fieldOrder(n)})
	}
	writeJSON(w, http.StatusOK, out)
}

// displayOrder is the order in which a case's fields are shown: what the case is, who, where,
// what, then how it is being handled.
var displayOrder = []string{"kind", "case_number", "region", "petitioners", "people_count", "channel", "category",
	"matter_type", "summary", "respondent", "accused", "handler_unit", "assignee", "registered_at", "received_at"}

func fieldOrder(name string) int {
	if i := slices.Index(displayOrder, name); i >= 0 {
		return i
	}
	return len(displayOrder)
}

// RegionJSON is one division as GET /api/v1/regions shows it.
type RegionJSON struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// regions serves GET /api/v1/regions?parent=CODE (the divisions one level below CODE, to
// pick a township or a village from; "" for the provinces) or ?code=CODE (one division,
// with the names of the levels above it joined, e.g. "竹山县 宝丰镇 …村委会").
func (s *station) regions(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	q := r.URL.Query()
	if code := q.Get("code"); code != "" {
		if _, ok := regions.Lookup(code); !ok {
			writeError(w, http.StatusNotFound, "unknown_region", "没有这个区划代码 / no such division code", "code")
			return
		}
		var names []string
		for _, p := range regions.Path(code) {
			if p.Level >= regions.County {
				names = append(names, p.Name)
			}
		}
		writeJSON(w, http.StatusOK, RegionJSON{Code: code, Name: strings.Join(names, " ")})
		return
	}
	parent := q.Get("parent")
	if parent != "" {
		if _, ok := regions.Lookup(parent); !ok {
			writeError(w, http.StatusNotFound, "unknown_region", "没有这个区划代码 / no such division code", "parent")
			return
		}
	}
	out := struct {
		Regions []RegionJSON `json:"regions"`
	}{Regions: []RegionJSON{}}
	for _, c := range regions.Children(parent) {
		out.Regions = append(out.Regions, RegionJSON{Code: c.Code, Name: c.Name})
	}
	writeJSON(w, http.StatusOK, out)
}

// check serves GET /api/v1/check?field=F&value=V: the validation a local write of V would
// meet, for a form to show while a person types. 200 when valid; 422 with the reason (in
// both languages) when not. Fields: id_number, phone, region.
func (s *station) check(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	field, value := r.URL.Query().Get("field"), r.URL.Query().Get("value")
	if len(value) > 200 {
		writeError(w, http.StatusBadRequest, "too_long", "输入过长 / input too long", "value")
		return
	}
	var fe *cases.FieldError
	switch field {
	case "id_number":
		fe = cases.ValidateResidentID(field, value)
	case "phone":
		fe = cases.ValidatePhone(field, value)
	case "region":
		fe = cases.ValidateRegion(field, value)
	default:
		writeError(w, http.StatusBadRequest, "unknown_field", "只能检查 id_number、phone、region / only id_number, phone and region can be checked", "field")
		return
	}
	if fe != nil {
		writeError(w, http.StatusUnprocessableEntity, fe.Code, fe.Zh+" / "+fe.En, field)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
