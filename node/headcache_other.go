//go:build !unix

package node

func newArena(size int) *arena { return &arena{b: make([]byte, size)} }
