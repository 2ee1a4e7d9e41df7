package node

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The head cache returns exactly the last head put for an id, or a miss; never another
// case's head or an older one, through evictions, second chances and rewrites of every size.
func TestHeadCacheNeverStale(t *testing.T) {
	c := newHeadCache(256 << 10) // 16 segments of 16 KiB
	defer c.close()
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	hits, misses := 0, 0
	for i := 0; i < 200000; i++ {
		id := fmt.Sprintf("c%05d", rng.IntN(3000))
		switch rng.IntN(3) {
		case 0, 1:
			got, ok := c.get(id)
			if !ok {
				misses++
				continue
			}
			hits++
			w, known := want[id]
			if !known || !bytes.Equal(got, w) || (got == nil) != (w == nil) {
				t.Fatalf("get %s = %q (ok), want %q (known %v)", id, got, w, known)
			}
		default:
			var head []byte
			if rng.IntN(10) > 0 {
				head = bytes.Repeat([]byte{byte(i)}, rng.IntN(600))
				head = append(head, id...)
			}
			c.put(id, head)
			want[id] = head
			if got, ok := c.get(id); !ok || !bytes.Equal(got, head) || (got == nil) != (head == nil) {
				t.Fatalf("get %s right after put: %q %v, want %q", id, got, ok, head)
			}
		}
	}
	if hits == 0 || misses == 0 || !c.evicted {
		t.Fatalf("hits %d misses %d evicted %v: the test did not exercise eviction", hits, misses, c.evicted)
	}
	// A head too large to cache removes the cached one.
	c.put("big", []byte("small"))
	c.put("big", make([]byte, 8<<10))
	if _, ok := c.get("big"); ok {
		t.Fatal("a head too large to cache left an older one")
	}
}

// Until it first drops something, the cache is complete; a closed cache misses.
func TestHeadCacheCompleteAndClose(t *testing.T) {
	c := newHeadCache(1 << 20)
	for i := 0; i < 100; i++ {
		c.put(fmt.Sprint("c", i), []byte("head"))
	}
	if !c.complete() {
		t.Fatal("cache with room left reports an eviction")
	}
	c.close()
	if _, ok := c.get("c1"); ok {
		t.Fatal("closed cache hit")
	}
	c.put("c2", []byte("x")) // no-op, no crash
	if newHeadCache(-1).complete() {
		t.Fatal("a disabled cache is never complete")
	}
}
