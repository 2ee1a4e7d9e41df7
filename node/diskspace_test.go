package node_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
)

// smallDisk is an in-memory filesystem whose free space the test sets (the real disk's is
// tried by the process drill in cmd/fengqiao on a tmpfs).
type smallDisk struct {
	vfs.FS
	free atomic.Uint64
}

func (d *smallDisk) GetDiskUsage(string) (vfs.DiskUsage, error) {
	return vfs.DiskUsage{AvailBytes: d.free.Load(), TotalBytes: 1 << 30, UsedBytes: 1<<30 - d.free.Load()}, nil
}

// A disk below the reserve refuses local writes and the station's incoming batches with
// ErrDiskFull, applying nothing; a Raft entry is still applied (every member must apply the
// same entries); once space returns, writes go on and nothing was lost or damaged.
func TestDiskFull_WritesRefusedThenResume(t *testing.T) {
	disk := &smallDisk{FS: vfs.NewMem()}
	disk.free.Store(1 << 30)
	r, err := node.Open("st", node.Options{NodeID: "zs-st1", Region: "420323100", FS: disk, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	casetest.MustWrite(t, r, casetest.Registration("K-1", "420323100201", "grid1", 0))
	before := r.Status().FeedSeq

	disk.free.Store(10 << 20) // below the default reserve of 4 × 8 MiB + 16 MiB
	_, err = r.Write(context.Background(), casetest.Edit("K-1", "summary", "写不进去", "grid1"))
	if !errors.Is(err, node.ErrDiskFull) {
		t.Fatalf("write on a full disk: %v, want ErrDiskFull", err)
	}
	other, err := node.Open("other", node.Options{NodeID: "zs-st2", Region: "420323100", FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	op := casetest.MustWrite(t, other, casetest.Registration("K-2", "420323100201", "grid2", 0))
	in := node.Batch{From: "hub1", Ops: []node.Incoming{{Op: op, Raw: op.Encode()}}, Partial: true}
	if _, err := r.Apply(context.Background(), in); !errors.Is(err, node.ErrDiskFull) {
		t.Fatalf("incoming batch on a full disk: %v, want ErrDiskFull", err)
	}
	if got := r.Status().FeedSeq; got != before {
		t.Fatalf("refused writes moved the feed from %d to %d", before, got)
	}
	op3 := casetest.MustWrite(t, other, casetest.Registration("K-3", "420323100202", "grid2", 0))
	entry := node.Batch{From: "hub1", Ops: []node.Incoming{{Op: op3, Raw: op3.Encode()}}, Partial: true, RaftIndex: 1, ReceivedAt: casetest.BaseTime}
	if _, err := r.Apply(context.Background(), entry); err != nil {
		t.Fatalf("a Raft entry must be applied whatever the disk says: %v", err)
	}
	before++
	if c, _, err := r.Case("K-1"); err != nil || len(c.Strings("summary")) != 1 {
		t.Fatalf("the case after the refusals: %v %v", err, c)
	}

	disk.free.Store(1 << 30)
	casetest.MustWrite(t, r, casetest.Edit("K-1", "summary", "空间恢复后写入", "grid1"))
	if _, err := r.Apply(context.Background(), in); err != nil {
		t.Fatalf("incoming batch after space returned: %v", err)
	}
	if got := r.Status().FeedSeq; got != before+2 {
		t.Fatalf("feed at %d after space returned, want %d", got, before+2)
	}
}
