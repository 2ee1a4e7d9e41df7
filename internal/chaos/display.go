package chaos

import (
	"encoding/json"
	"slices"
	"strings"
)

// ownClockView is a case's API view with what a station cannot know of its own ops taken
// out: whether the hub flagged their clock (a station's own op is judged against its own
// clock, the hub judges it against its receipt time, and the station is never told), and
// so which value of a conflicted field is displayed first. Everything else — every value of
// every field, every conflict, note, tag, deadline — stays.
func ownClockView(view, station string) string {
	var c map[string]any
	if json.Unmarshal([]byte(view), &c) != nil {
		return view
	}
	conflicts, _ := c["conflicts"].(map[string]any)
	fields, _ := c["fields"].(map[string]any)
	for f, vs := range conflicts {
		list, _ := vs.([]any)
		own := false
		for _, v := range list {
			m, _ := v.(map[string]any)
			if op, _ := m["op"].(string); strings.HasPrefix(op, station+"/") {
				delete(m, "clock_flagged")
				own = true
			}
		}
		if own && fields != nil {
			fields[f] = nil
		}
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// sameCase compares a station's view of a case with a hub's. same: identical. ownClock: they
// differ only in what the station cannot know of its own ops' clock flags (ownClockView).
func sameCase(hubView, stationView, station string) (same, ownClock bool) {
	if hubView == stationView {
		return true, false
	}
	return false, ownClockView(hubView, station) == ownClockView(stationView, station)
}

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
