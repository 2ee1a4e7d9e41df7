package main

import (
	"strconv"
	"strings"
	"time"
)

// clockOffset parses --clock-offset: a Go duration ("36h", "-90m") or a whole number of days
// or years ("400d", "-2y"; a year is 365 days). It is how far this process's clock is set
// from the machine's: the one clock a station or hub reads (its HLC stamps, receipt times,
// the status's "now") goes through it, so drills and the chaos run can play a station whose
// clock is wrong by hours or years, either way.
func clockOffset(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	for unit, d := range map[string]time.Duration{"d": 24 * time.Hour, "y": 365 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			v, err := strconv.Atoi(n)
			if limit := int(200 * 365 * 24 * time.Hour / d); err != nil || v < -limit || v > limit { // at most 200 years
				return 0, usageErrorf("--clock-offset %q: want a duration (36h), days (400d) or years (-2y) / 时钟偏移格式应为 36h、400d 或 -2y", s)
			}
			return time.Duration(v) * d, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, usageErrorf("--clock-offset %q: want a duration (36h), days (400d) or years (-2y) / 时钟偏移格式应为 36h、400d 或 -2y", s)
	}
	return d, nil
}

// offsetClock is the machine's clock moved by d (time.Now itself when d is 0).
func offsetClock(d time.Duration) func() time.Time {
	if d == 0 {
		return time.Now
	}
	return func() time.Time { return time.Now().Add(d) }
}

const clockOffsetUsage = "时钟偏移（演练和测试用：把本进程的时钟调快或调慢，如 8760h、400d、-2y） / clock offset (drills and tests: this process's clock set ahead or behind the machine's, e.g. 8760h, 400d, -2y)"
