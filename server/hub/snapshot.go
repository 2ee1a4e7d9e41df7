package hub

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
)

// Snapshots are Pebble checkpoints of the member's replica, streamed as a tar of the
// checkpoint's files: nothing of the store is held in memory, and the checkpoint (hard links)
// is cheap to take, so raft can snapshot while entries keep being applied. The replica's
// raft applied index is inside the checkpoint, in the same batch as the ops it covers.

// Snapshot takes a checkpoint of the replica. raft calls it between applies.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if f.dir == "" {
		return nil, errors.New("hub FSM: snapshots need OpenFSM")
	}
	parent := filepath.Dir(f.dir)
	tmp, err := os.MkdirTemp(parent, filepath.Base(f.dir)+".snap-")
	if err != nil {
		return nil, err
	}
	ck := filepath.Join(tmp, "store")
	if err := f.Replica().Checkpoint(ck); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("snapshot: checkpoint: %w", err)
	}
	if err := f.checkSnapshotSpace(ck); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	return &snapshot{dir: ck, tmp: tmp}, nil
}

type snapshot struct{ dir, tmp string }

// Persist streams the checkpoint's files as a tar into sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeTar(sink, s.dir); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release removes the checkpoint.
func (s *snapshot) Release() { _ = os.RemoveAll(s.tmp) }

func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return fmt.Errorf("checkpoint holds %s, not a regular file", e.Name())
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.Name(), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		file, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, file)
		_ = file.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// Restore replaces the replica with the snapshot in rc: the files are written beside the
// store, synced, then swapped in and the replica reopened.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if f.dir == "" {
		return errors.New("hub FSM: snapshots need OpenFSM")
	}
	restore := f.dir + ".restore"
	if err := os.RemoveAll(restore); err != nil {
		return err
	}
	if err := readTar(rc, restore); err != nil {
		_ = os.RemoveAll(restore)
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.r.Close(); err != nil {
		return fmt.Errorf("restore snapshot: close replica: %w", err)
	}
	old := f.dir + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(f.dir, old); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := os.Rename(restore, f.dir); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := syncDir(filepath.Dir(f.dir)); err != nil {
		return err
	}
	r, err := node.Open(f.dir, f.opts)
	if err != nil {
		return fmt.Errorf("restore snapshot: reopen: %w", err)
	}
	f.r = r
	f.stopped.Store(nil)
	_ = os.RemoveAll(old)
	f.log.Info("snapshot restored", "raft_applied", r.RaftApplied(), "ops", r.Status().FeedSeq)
	return nil
}

func readTar(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := h.Name
		if h.Typeflag != tar.TypeReg || name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return fmt.Errorf("snapshot entry %q is not a plain file name", name)
		}
		out, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
