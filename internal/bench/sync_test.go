package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The sync scenario runs end to end on a small workload (the demo's sample cases, hub in
// this process) and reports figures that add up: every op acknowledged, bytes counted both
// ways, an idle reconnect far cheaper than the first sync.
func TestSync_SmallWorkload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Sync(ctx, SyncConfig{
		Workload: filepath.Join("..", "..", "cmd", "fengqiao", "demodata", "sample.jsonl"),
		Dir:      t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.HubAppliedCheckOps != res.Ops {
		t.Errorf("station holds %d ops, the hub %d after sync", res.Ops, res.HubAppliedCheckOps)
	}
	if res.WireUp == 0 || res.WireDown == 0 || res.SyncSeconds <= 0 || res.ApplyOpsPerSec <= 0 {
		t.Errorf("figures missing: %+v", res)
	}
	if res.ReconnectBytes == 0 || res.ReconnectBytes >= res.WireUp {
		t.Errorf("idle reconnect moved %d bytes, the first sync %d up", res.ReconnectBytes, res.WireUp)
	}
}
