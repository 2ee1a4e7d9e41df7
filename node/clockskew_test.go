package node_test

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
)

// A station whose clock was 400 days ahead and has been put right stamps its next ops with
// the right time, not 400 days ahead: the HLC reading stored while the clock was wrong is
// dropped on open, so the station's later, correct writes are not flagged everywhere as
// far-future and dated wrong.
func TestClock_StoredReadingFarAheadIsDroppedOnOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	real := time.UnixMilli(casetest.BaseTime)
	ahead := func() time.Time { return real.Add(400 * 24 * time.Hour) }
	r, err := node.Open(dir, node.Options{NodeID: "zs-st1", Region: "420323100", Now: ahead, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	fast := casetest.MustWrite(t, r, casetest.Registration("K-1", "420323100201", "grid1", 0))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = node.Open(dir, node.Options{Now: func() time.Time { return real }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	op := casetest.MustWrite(t, r, casetest.Edit("K-1", "category", "邻里纠纷", "grid1"))
	if got := time.UnixMilli(op.Stamp.Wall); got.Sub(real) > time.Minute || got.Before(real) {
		t.Fatalf("the op after the clock was put right is stamped %v, want about %v (the fast op was %v)",
			got.UTC(), real.UTC(), time.UnixMilli(fast.Stamp.Wall).UTC())
	}
}
