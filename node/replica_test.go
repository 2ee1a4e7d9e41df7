package node

import (
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
