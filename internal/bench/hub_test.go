package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The hub scenario runs end to end on the demo's sample cases: three stations push through
// a 3-member hub, every op is acknowledged, and the baseline runs on the same entries.
func TestHub_SmallWorkload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Hub(ctx, HubConfig{Workload: filepath.Join("..", "..", "cmd", "fengqiao", "demodata", "sample.jsonl"),
		Dir: t.TempDir(), Stations: 3, BatchOps: 20, HalfLoad: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 240 || res.OpsPerSec <= 0 || res.BaselineOpsPerSec <= 0 || res.AckP99Millis < res.AckP50Millis ||
		res.BaselineKeysPerOp < 1 || res.BaselineWALBytesPerOp < 50 || res.HalfLoadOpsPerSec <= 0 || res.HalfLoadOpsPerSec > res.HalfLoadOffered*1.5 {
		t.Errorf("figures: %+v", res)
	}
}
