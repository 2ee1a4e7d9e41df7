package chaos

import (
	"encoding/json"
	"slices"
	"strings"
)

// viewDiff names the top-level keys in which two case views differ, with both values
// (cut short), for a person reading why a run did not converge.
func viewDiff(a, b string) string {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal([]byte(a), &ma) != nil || json.Unmarshal([]byte(b), &mb) != nil {
		return "(not JSON objects)"
	}
	cut := func(r json.RawMessage) string {
		if len(r) > 300 {
			return string(r[:300]) + "…"
		}
		return string(r)
	}
	var out []string
	for k, va := range ma {
		if vb := mb[k]; string(va) != string(vb) {
			out = append(out, k+": county "+cut(va)+" station "+cut(vb))
		}
	}
	for k, vb := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, k+": county (none) station "+cut(vb))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}
