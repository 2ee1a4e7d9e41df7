package node

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// fixtureHeads imports testdata/small.jsonl (gen.py 4 4: registrations, edits, transitions,
// notes) and returns the stored case heads, for the benchmarks of the head codec.
func fixtureHeads(b *testing.B) (ids []string, heads [][]byte) {
	data, err := os.ReadFile(filepath.Join("testdata", "small.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	r, err := Open("store", Options{NodeID: "bench", Region: "", FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ImportJSONL(context.Background(), bytes.NewReader(data), int64(len(data)), ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tCase}, UpperBound: []byte{tCase + 1}})
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		ids = append(ids, string(it.Key()[1:len(it.Key())-1]))
		heads = append(heads, bytes.Clone(it.Value()))
	}
	if len(heads) == 0 {
		b.Fatal("no heads")
	}
	return ids, heads
}

// BenchmarkHeadDecode and BenchmarkHeadEncode measure the head codec on the heads of the
// fixture workload: the applier decodes one head and encodes one per op.
func BenchmarkHeadDecode(b *testing.B) {
	ids, heads := fixtureHeads(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := cases.DecodeHead(ids[i%len(ids)], heads[i%len(heads)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeadEncode(b *testing.B) {
	ids, heads := fixtureHeads(b)
	cs := make([]*cases.Case, len(heads))
	for i := range heads {
		c, err := cases.DecodeHead(ids[i], heads[i])
		if err != nil {
			b.Fatal(err)
		}
		cs[i] = c
	}
	w := mp.NewWriter()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Reset()
		cs[i%len(cs)].EncodeHead(w)
	}
}
