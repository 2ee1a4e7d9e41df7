package node

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkSortedBatch measures build (sort, then the Pebble batch) on the key mix of a hub's
// 500-op batch: consecutive feed records, history and heads of random cases, scope runs and
// counters, index changes.
func BenchmarkSortedBatch(b *testing.B) {
	db, err := pebble.Open("x", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var sb sortedBatch
	fill := func() {
		sb.reset()
		val := make([]byte, 250)
		for i := range 500 {
			id := fmt.Sprintf("c%08d", rng.IntN(100000))
			sb.Set(feedKey(uint64(1000000+i)), val, nil)
			sb.Set(historyKey(id, uint64(1000000+i)), nil, nil)
			if i%5 < 3 {
				sb.Set(caseKey(id), val, nil)
			}
			if i%2 == 0 {
				sb.Set(indexKey("state", []byte("ACCEPTED"), id), nil, nil)
				sb.Delete(indexKey("state", []byte("REGISTERED"), id), nil)
			}
			if i%2 == 1 {
				s := ScopeOfRegion(fmt.Sprintf("420323%03d%03d", rng.IntN(12), rng.IntN(30)))
				sb.Set(scopeKey(s, uint64(i)), val[:4], nil)
				sb.Set(scopeSeqKey(s), val[:8], nil)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		fill()
		b.StartTimer()
		pb := sb.build(db)
		pb.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sb.Len()), "ns/key")
}
