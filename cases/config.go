package cases

import (
	"strings"
)

// Configuration documents. The working-day calendar and the metric definitions are
// versioned configuration that a county admin sets at the county hub (a city admin may set
// the city's). Each is a document of the replicated op log like a case, with the id
// cfg.<name>.<region> and one register, config, holding the text: the hub's ops on it reach
// its stations through the sync protocol's configuration stream, so a station offline for a
// month catches up on the calendar with everything else, and every replica holding the same
// ops uses the same configuration. Two offline edits of one document are a conflict like any
// other: the display winner is in force until a person resolves it.
//
// A node uses, of each name, the document set for the longest prefix of its own region: a
// county's calendar over its city's, a built-in default when there is none.

// Configuration names.
const (
	ConfigCalendar = "calendar" // a calendar file (ParseCalendar)
	ConfigMetrics  = "metrics"  // metric definitions (ParseMetricDefinitions)
)

// configPrefix starts the id of every configuration document.
const configPrefix = "cfg."

// ConfigID returns the id of the configuration document name set for region (a division
// code; "" for a node above the provinces).
func ConfigID(name, region string) string { return configPrefix + name + "." + region }

// IsConfigID reports whether id names a configuration document.
func IsConfigID(id string) bool { return strings.HasPrefix(id, configPrefix) }

// ParseConfigID returns the name and region of a configuration document's id.
func ParseConfigID(id string) (name, region string, ok bool) {
	rest, ok := strings.CutPrefix(id, configPrefix)
	if !ok {
		return "", "", false
	}
	name, region, ok = strings.Cut(rest, ".")
	if !ok || (name != ConfigCalendar && name != ConfigMetrics) || !allDigits(region) {
		return "", "", false
	}
	return name, region, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ConfigIDsFor returns the ids of the documents of name that may apply at a node of region,
// most specific first: its own region's, then each shorter tier's (12, 9, 6, 4, 2 digits,
// then none).
func ConfigIDsFor(name, region string) []string {
	var out []string
	for _, n := range []int{12, 9, 6, 4, 2, 0} {
		if n <= len(region) {
			id := ConfigID(name, region[:n])
			if len(out) == 0 || out[len(out)-1] != id {
				out = append(out, id)
			}
		}
	}
	return out
}

// ConfigText returns the text held by a configuration document ("" when it holds none).
func ConfigText(c *Case) string { return c.String("config") }

// CheckConfig validates a configuration text of name before it is written.
func CheckConfig(name, text string) error {
	switch name {
	case ConfigCalendar:
		_, err := ParseCalendar(text)
		return err
	case ConfigMetrics:
		_, err := ParseMetricDefinitions(text)
		return err
	}
	return fieldErr("name", "unknown_config", "未知的配置项", "unknown configuration "+name+" (calendar or metrics)")
}
