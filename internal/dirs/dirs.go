// Package dirs copies directory trees: a hub's benchmark and tests clone one store into each
// member, as a bootstrap will.
package dirs

import (
	"os"
	"path/filepath"
)

// Copy copies the regular files and directories under src to dst, which may not exist yet.
func Copy(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
