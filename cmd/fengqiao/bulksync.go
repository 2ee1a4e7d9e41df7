package main

import (
	"context"
	"time"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/sync"
)

// bulkUploadOps is the backlog from which a station shows its upload's progress: a first
// sync after an import, or after weeks offline.
const bulkUploadOps = 5000

// watchBulkUpload shows, while the station has at least bulkUploadOps ops its hub has not
// acknowledged, how far the upload has come (a bar on a terminal, plain lines in a log),
// until ctx ends. Smaller backlogs go by without a display.
func watchBulkUpload(ctx context.Context, env *Env, r *node.Replica, st *sync.Station) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var (
		pr   *progress
		from uint64 // the hub's acknowledged position when the display started
	)
	defer func() {
		if pr != nil {
			pr.finish()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := st.Status()
		pending := pendingUpload(r, s)
		acked := r.Status().FeedSeq - pending
		if pr == nil {
			if pending < bulkUploadOps {
				continue
			}
			from = acked
			pr = newProgress(ctx, env.Stderr, "上传到中心 / uploading to the hub (ops)", int64(pending))
		}
		pr.setTotal(int64(r.Status().FeedSeq - from)) // ops written meanwhile join the total
		pr.set(int64(acked-from), "")
		if pending == 0 {
			pr.finish()
			pr = nil
			env.Log.Info("已全部上传 / the hub holds everything this station wrote", "ops", acked-from)
		}
	}
}

// pendingUpload is how many of r's ops its hub has not acknowledged (all of them when the
// hub's acknowledgements are of another epoch of the store).
func pendingUpload(r *node.Replica, s sync.StationStatus) uint64 {
	fs := r.Status().FeedSeq
	if s.Acked.Epoch != r.Epoch() {
		return fs
	}
	if fs > s.Acked.Pos {
		return fs - s.Acked.Pos
	}
	return 0
}
