package node

import (
	"errors"
	"fmt"
)

// ErrDiskFull refuses a local write when the disk holding the store has less free space than
// Options.MinFreeBytes. Nothing of the write is applied; the store stays whole, and writes
// succeed again once space is freed.
var ErrDiskFull = errors.New("磁盘空间不足，已拒绝写入，请清理磁盘 / the disk is nearly full: the write was refused; free some space")

// checkSpace refuses a write when the store's disk is below its reserve. A filesystem that
// cannot tell its free space (an in-memory one) is not checked.
func (r *Replica) checkSpace() error {
	if r.opts.MinFreeBytes < 0 {
		return nil
	}
	du, err := r.opts.FS.GetDiskUsage(r.dir)
	if err != nil {
		return nil
	}
	if du.AvailBytes < uint64(r.opts.MinFreeBytes) {
		return fmt.Errorf("%w (%d MiB free on the disk of %s, %d MiB kept in reserve)", ErrDiskFull,
			du.AvailBytes>>20, r.dir, r.opts.MinFreeBytes>>20)
	}
	return nil
}

// MinFreeBytes returns the free-space reserve in force (Options.MinFreeBytes after
// defaults; negative: none). A hub member refuses to propose below it (server/hub), since a
// Raft entry, once committed, cannot be refused by its replica.
func (r *Replica) MinFreeBytes() int64 { return r.opts.MinFreeBytes }
