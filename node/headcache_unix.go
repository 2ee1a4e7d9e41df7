//go:build unix

package node

import "syscall"

// newArena maps size bytes of anonymous memory: outside the Go heap, and resident only as
// pages are written.
func newArena(size int) *arena {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return &arena{b: make([]byte, size)}
	}
	return &arena{b: b, rel: func(b []byte) { _ = syscall.Munmap(b) }}
}
