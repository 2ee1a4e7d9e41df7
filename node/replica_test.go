package node

import (
	"context"
	"os"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func openMem(t testing.TB, fs vfs.FS, id, region string) *Replica {
	t.Helper()
	r, err := Open("db", Options{NodeID: id, Region: region, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestImportJSONL_Smoke(t *testing.T) {
	f, err := os.Open("/tmp/w1k.jsonl")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	r := openMem(t, vfs.NewMem(), "st1", "")
	defer r.Close()
	rep, err := r.ImportJSONL(context.Background(), f, st.Size(), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep.Ops)
	for _, e := range rep.Rejected[:min(10, len(rep.Rejected))] {
		t.Log(e)
	}
	t.Logf("%+v", r.Status())
}
