package node

import "sync"

// headCache keeps recently used case heads (encoded) in memory, so that applying an op to a
// case that was touched recently costs no Pebble read. It is bounded in bytes and evicts with
// the CLOCK algorithm (a second chance for entries used since the hand last passed). It is
// write-through: the applier updates it only after its batch committed, so it never holds
// anything the store does not.
type headCache struct {
	mu      sync.Mutex
	max     int
	size    int
	entries map[string]*headEntry
	ring    []*headEntry
	hand    int
	evicted bool // once true, a miss may be a case that was evicted, not one never seen
}

type headEntry struct {
	id     string
	head   []byte // nil: the case has no head (not in the store)
	ref    bool
	inRing int
}

const headEntryOverhead = 96 // map slot, entry struct, ring slot: an estimate

func newHeadCache(maxBytes int) *headCache {
	return &headCache{max: maxBytes, entries: map[string]*headEntry{}}
}

// get returns the cached head of id; ok is false on a miss. A hit with a nil head means the
// case is known to be absent.
func (c *headCache) get(id string) (head []byte, ok bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return nil, false
	}
	e.ref = true
	return e.head, true
}

// put records the head of id (nil for absent). The cache keeps head: callers must not
// modify it afterwards.
func (c *headCache) put(id string, head []byte) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		c.size += len(head) - len(e.head)
		e.head, e.ref = head, true
	} else {
		e := &headEntry{id: id, head: head, inRing: len(c.ring)}
		c.entries[id] = e
		c.ring = append(c.ring, e)
		c.size += len(id) + len(head) + headEntryOverhead
	}
	for c.size > c.max && len(c.ring) > 1 {
		c.evictOne()
	}
}

// complete reports whether the cache has never evicted anything: then every case the replica
// holds that was touched since open is in it, and a miss is most likely a new case.
func (c *headCache) complete() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.evicted
}

func (c *headCache) evictOne() {
	c.evicted = true
	for {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		e := c.ring[c.hand]
		if e.ref {
			e.ref = false
			c.hand++
			continue
		}
		last := c.ring[len(c.ring)-1]
		c.ring[c.hand] = last
		last.inRing = c.hand
		c.ring = c.ring[:len(c.ring)-1]
		delete(c.entries, e.id)
		c.size -= len(e.id) + len(e.head) + headEntryOverhead
		return
	}
}
