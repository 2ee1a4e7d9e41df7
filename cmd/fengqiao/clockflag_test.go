package main

import (
	"testing"
	"time"
)

func TestClockOffset_Parses(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": 0, "36h": 36 * time.Hour, "-90m": -90 * time.Minute, "400d": 400 * 24 * time.Hour,
		"-2y": -2 * 365 * 24 * time.Hour, "3y": 3 * 365 * 24 * time.Hour,
	} {
		got, err := clockOffset(in)
		if err != nil || got != want {
			t.Errorf("clockOffset(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"x", "3 y", "1.5d", "999y", "d", "-y", "10"} {
		if _, err := clockOffset(bad); err == nil {
			t.Errorf("clockOffset(%q) accepted", bad)
		}
	}
	if now, ahead := time.Now(), offsetClock(48*time.Hour)(); ahead.Sub(now) < 47*time.Hour || ahead.Sub(now) > 49*time.Hour {
		t.Errorf("offsetClock(48h) reads %v at %v", ahead, now)
	}
}
