package hub

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/node"
)

// Disk space at a hub member. A committed entry must be applied by every member alike, so a
// member whose disk is short cannot refuse one inside Apply (that would make it diverge);
// Pebble, meeting a full disk in the Raft log store or the replica, stops the process. The
// member refuses earlier instead: below its reserve it proposes nothing — no station's
// batch, hub write, import, enrollment or entry forwarded to it as the leader — and answers
// with an error wrapping node.ErrDiskFull, which a station's session takes as "try again
// later" (error code 9, nothing acknowledged). A leader below its reserve also hands its
// leadership to another member, so that the others go on committing. Entries the others
// commit still reach it and are applied: the reserve is what they use. Once space returns,
// proposals go on; nothing needs a restart.

// DiskStatus is a member's disk as its status shows it (ClusterStatus.Disk). Field names
// are a stable interface.
type DiskStatus struct {
	FreeBytes    uint64 `json:"free_bytes"`
	ReserveBytes int64  `json:"reserve_bytes"`
	Refusing     bool   `json:"refusing"` // below the reserve: the member proposes nothing
}

// DiskFree reports the free bytes of the real disk holding dir (for an unprivileged
// process: what it may still write).
func DiskFree(dir string) (uint64, error) {
	du, err := vfs.Default.GetDiskUsage(dir)
	if err != nil {
		return 0, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return du.AvailBytes, nil
}

// Disk reports this member's free space against its reserve; ok is false when the member
// does not check (no MemberOptions.DiskFree, a negative reserve) or cannot tell.
func (m *Member) Disk() (d DiskStatus, ok bool) {
	if m.opts.DiskFree == nil || m.opts.MinFreeBytes < 0 {
		return DiskStatus{}, false
	}
	free, err := m.opts.DiskFree()
	if err != nil {
		return DiskStatus{}, false
	}
	return DiskStatus{FreeBytes: free, ReserveBytes: m.opts.MinFreeBytes, Refusing: free < uint64(m.opts.MinFreeBytes)}, true
}

// checkDisk refuses a proposal when this member's disk is below its reserve.
func (m *Member) checkDisk() error {
	d, ok := m.Disk()
	if !ok || !d.Refusing {
		return nil
	}
	return fmt.Errorf("hub member %s: %w (%d MiB free, %d MiB kept in reserve for its Raft log and replica)",
		m.opts.ID, node.ErrDiskFull, d.FreeBytes>>20, d.ReserveBytes>>20)
}

// diskFullError is the leader's refusal of a forwarded entry for lack of disk space, as the
// member that forwarded it sees it.
type diskFullError struct{ msg string }

func (e *diskFullError) Error() string { return e.msg }
func (e *diskFullError) Unwrap() error { return node.ErrDiskFull }

// checkSnapshotSpace refuses a snapshot whose copy (raft's snapshot store writes the whole
// checkpoint out again) would leave the disk below the reserve: raft then fails this
// snapshot and tries again at its next interval; nothing of the replica or the log changes.
func (f *FSM) checkSnapshotSpace(checkpoint string) error {
	reserve := f.Replica().MinFreeBytes()
	if f.diskFree == nil || reserve < 0 {
		return nil
	}
	free, err := f.diskFree()
	if err != nil {
		return nil
	}
	size, err := dirSize(checkpoint)
	if err != nil {
		return err
	}
	if free < uint64(reserve)+size {
		return fmt.Errorf("snapshot of %d MiB: %w (%d MiB free, %d MiB kept in reserve)", size>>20, node.ErrDiskFull, free>>20, reserve>>20)
	}
	return nil
}

// dirSize is the total size of the regular files in dir (a checkpoint: no subdirectories).
func dirSize(dir string) (uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	var n uint64
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, fmt.Errorf("size of %s: %w", dir, err)
		}
		n += uint64(info.Size())
	}
	return n, nil
}
