package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/server"
)

// A station whose clock runs three hours ahead (--clock-offset, the injectable clock the
// chaos run shifts) learns it from the hub at its next session and says so in its status's
// peers[].clock_skew_seconds, which the station's sync page turns into its warning banner;
// the same station with its clock put right reports no skew.
func TestStation_ReportsItsClockAheadOfTheHub(t *testing.T) {
	dir := t.TempDir()
	hubAddr := freeAddr(t)
	stopHub, _ := startCommand(t, "hub", "--dir", filepath.Join(dir, "hub"), "--id", "zs-hub", "--region", "420323", "--http", hubAddr)
	defer func() { _ = stopHub() }()
	hubURL := "http://" + hubAddr
	var hubStatus server.StatusResponse
	getJSON(t, hubURL+"/api/v1/status", &hubStatus) // polls until the hub serves
	stDir := filepath.Join(dir, "st")
	if out, errOut, err := runApp(t, commands(), nil, "enroll", "--hub", hubURL, "--dir", stDir, "--id", "zs-chengguan", "--region", "420323100"); err != nil {
		t.Fatalf("enroll: %v\n%s\n%s", err, out, errOut)
	}
	skewOf := func(offset string) int64 {
		stAddr := freeAddr(t)
		args := []string{"station", "--dir", stDir, "--http", stAddr}
		if offset != "" {
			args = append(args, "--clock-offset", offset)
		}
		stop, _ := startCommand(t, args...)
		defer func() {
			if err := stop(); err != nil {
				t.Errorf("station: %v", err)
			}
		}()
		var st server.StatusResponse
		deadline := time.Now().Add(30 * time.Second)
		for {
			getJSON(t, "http://"+stAddr+"/api/v1/status", &st)
			if len(st.Peers) == 1 && st.Peers[0].ClockSkewSeconds != nil {
				return *st.Peers[0].ClockSkewSeconds
			}
			if time.Now().After(deadline) {
				t.Fatalf("the station (clock offset %q) never reported its skew: peers %+v", offset, st.Peers)
			}
			time.Sleep(20 * time.Millisecond) // polling a status, with a deadline
		}
	}
	const ahead = 3 * 3600
	if got := skewOf("3h"); got < ahead-120 || got > ahead+120 {
		t.Errorf("a station 3 h ahead reports clock_skew_seconds %d, want about %d", got, ahead)
	}
	if got := skewOf(""); got < -120 || got > 120 {
		t.Errorf("the station with its clock put right reports clock_skew_seconds %d, want about 0", got)
	}
	if !strings.Contains(clockOffsetUsage, "clock") {
		t.Fatal("the --clock-offset flag lost its help")
	}
}
