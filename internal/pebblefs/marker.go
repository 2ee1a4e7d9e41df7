// Package pebblefs holds filesystem wrappers that every Pebble store of Fengqiao opens with
// (the replica, the Raft log store) until Pebble itself does what they do.
package pebblefs

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Wrap returns fs with markerSyncFS's guarantee; a nil fs means the real disk.
func Wrap(fs vfs.FS) vfs.FS {
	if fs == nil {
		fs = vfs.Default
	}
	return markerSyncFS{fs}
}

// markerSyncFS makes a file that a Pebble marker is about to name durable before the marker
// exists. Pebble v2.1.7 creates a new MANIFEST, then the marker naming it, and syncs the
// directory only after both: on a filesystem that may persist directory entries out of order,
// a power cut in between can leave a marker naming a MANIFEST that is not there, and the
// store cannot be opened ("could not open manifest file"). Our power-loss test found it (3 of
// 40 runs); upstream fixed it after v2.1.7 (cockroachdb/pebble#5915, issue #5825). Until a
// release carries the fix, syncing the directory before creating any marker file gives the
// same order: first the file is durable, then the marker.
type markerSyncFS struct {
	vfs.FS
}

func (fs markerSyncFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if strings.HasPrefix(filepath.Base(name), "marker.") {
		dir, err := fs.OpenDir(filepath.Dir(name))
		if err != nil {
			return nil, fmt.Errorf("sync directory before marker %s: %w", name, err)
		}
		err = dir.Sync()
		if cerr := dir.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("sync directory before marker %s: %w", name, err)
		}
	}
	return fs.FS.Create(name, category)
}
