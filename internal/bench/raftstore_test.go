package bench

import (
	"context"
	"testing"
)

// The raftstore scenario runs both stores with tiny sizes and reports figures that add up.
func TestRaftStore_Tiny(t *testing.T) {
	res, err := RaftStore(context.Background(), RaftStoreConfig{Dir: t.TempDir(), LatencyCalls: 20,
		ThroughputEntries: 640, Reads: 500, ReadWindow: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stores) != 2 || res.Stores[0].Store != "pebble" || res.Stores[1].Store != "raft-wal" {
		t.Fatalf("stores measured: %+v", res.Stores)
	}
	for _, s := range res.Stores {
		if s.StoreLogs1.Calls != 20 || s.StoreLogs64.Calls != 20 || s.StoreLogs1.P50Micros <= 0 ||
			s.StoreLogs64.P99Micros < s.StoreLogs64.P50Micros || s.StoreLogs64.MaxMicros < s.StoreLogs64.P99Micros {
			t.Errorf("%s: latency figures %+v %+v", s.Store, s.StoreLogs1, s.StoreLogs64)
		}
		if s.ThroughputEntries != 640 || s.ThroughputEntriesPerSec <= 0 || s.GetLogPerSec <= 0 || s.DiskBytes <= 0 {
			t.Errorf("%s: figures missing: %+v", s.Store, s)
		}
	}
	if res.EntryBytes != 1024 || res.Dir == "" {
		t.Errorf("settings: %+v", res)
	}
}
