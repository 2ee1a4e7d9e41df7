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

// A station and a hub started with --clock-offset read the moved clock: their status's "now"
// is that far from the machine's.
func TestClockOffset_StationAndHubReadIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	root := t.TempDir()
	hubAddr, stAddr := freeAddr(t), freeAddr(t)
	startProcess(t, "hub", "hub", "--dir", root+"/hub", "--id", "zs-hub", "--region", "420323", "--http", hubAddr, "--clock-offset", "-400d")
	startProcess(t, "st", "station", "--dir", root+"/st", "--id", "zs-st", "--region", "420323100", "--http", stAddr, "--hub", "off", "--clock-offset", "3y")
	for addr, want := range map[string]time.Duration{hubAddr: -400 * 24 * time.Hour, stAddr: 3 * 365 * 24 * time.Hour} {
		var got time.Duration
		waitUntil(t, 30*time.Second, addr+"'s status", func() (bool, string) {
			st, err := fetchStatus("http://" + addr)
			if err != nil {
				return false, err.Error()
			}
			at, err := time.Parse(time.RFC3339, st.Now)
			got = time.Until(at)
			return err == nil, st.Now
		})
		if got < want-time.Hour || got > want+time.Hour {
			t.Errorf("%s reports a clock %v from the machine's, want %v", addr, got.Round(time.Hour), want)
		}
	}
}
