package chaos_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/chaos"
)

// buildBinary builds the plain fengqiao binary (not -race: the run is about the product's
// processes, and 26 race-instrumented ones would not fit on the machine).
func buildBinary(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "fengqiao")
	cmd := exec.Command("go", "build", "-o", exe, "github.com/fengqiao/fengqiao/cmd/fengqiao")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// The chaos run: a 3-member county hub, a 3-member city hub and 20 stations, each a process
// of the plain binary, under faults for 2 minutes (FENGQIAO_CHAOS_DURATION overrides), then
// healed and checked. It fails on any violation of a promise (chaos.Result lists them).
//
// It runs when FENGQIAO_CHAOS is set, on its own: its 26 processes take both cores of a
// small machine, and beside the other packages' tests (go test ./... runs packages in
// parallel) it would starve their timed waits and they its convergence. .ci/run runs it
// after the other tests.
func TestChaos_Run(t *testing.T) {
	if os.Getenv("FENGQIAO_CHAOS") == "" {
		t.Skip("set FENGQIAO_CHAOS=1 to run the chaos run (26 processes, 2 minutes; .ci/run does, on its own)")
	}
	d := 2 * time.Minute
	if v := os.Getenv("FENGQIAO_CHAOS_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	exe := buildBinary(t)
	dir := t.TempDir()
	res, err := chaos.Run(context.Background(), chaos.Config{Exe: exe, Dir: dir, Stations: 20, Duration: d, Progress: testLog{t}})
	line, _ := json.Marshal(res)
	t.Logf("%s", line)
	if err != nil {
		keepLogs(t, dir)
		t.Fatal(err)
	}
	if !res.OK {
		keepLogs(t, dir)
		t.Fatalf("%d violations:\n%s", len(res.Violations), strings.Join(res.Violations, "\n"))
	}
	if res.OpsAcknowledged == 0 || res.FaultsInjected == 0 || res.Checked != 26 || res.Accusations == 0 {
		t.Fatalf("the run shows nothing: %d ops acknowledged, %d faults, %d replicas checked, %d accusations",
			res.OpsAcknowledged, res.FaultsInjected, res.Checked, res.Accusations)
	}
}

// keepLogs copies the processes' logs where a failed CI run leaves them (FENGQIAO_CHAOS_KEEP).
func keepLogs(t *testing.T, dir string) {
	keep := os.Getenv("FENGQIAO_CHAOS_KEEP")
	if keep == "" {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	_ = os.MkdirAll(keep, 0o755)
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil {
			_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), b, 0o644)
		}
	}
	t.Logf("process logs copied to %s", keep)
}
