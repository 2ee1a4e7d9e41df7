package node

import (
	"encoding/binary"
	"hash/maphash"
	"runtime"
	"sync"
)

// headCache keeps recently used case heads (encoded) in memory, so that applying an op to a
// case that was touched recently costs no Pebble read. It is write-through: the applier
// updates it only after its batch committed, so it never holds anything the store does not.
//
// The heads live in one arena of the configured size, outside the Go heap where the platform
// allows (an anonymous mapping, touched page by page as it fills): the garbage collector
// neither scans it nor lets it inflate the heap goal, so a byte of cache costs a byte of
// memory, where a head per Go allocation cost about twice its size (entry, map slot, and the
// collector's headroom at GOGC 50). See BENCHMARKS.md, "Replica apply".
//
// The arena is a log in segments: a put appends the head (with its case id) to the current
// segment and points the index at it; when the log comes round to the oldest segment, the
// heads in it that were read since they were written get a second chance (they are moved
// to the front of that segment, up to half of it) and the rest are dropped. The index maps a
// 64-bit hash of the id to the head's offset; a lookup compares the id stored beside the
// head, so a hash collision is a miss, never a wrong head.
type headCache struct {
	mu      sync.Mutex
	max     int
	mem     *arena // nil until the first put
	segSize int
	nSeg    int
	cur     int // segment being appended to
	used    int // bytes used in cur
	index   map[uint64]uint32
	seed    maphash.Seed
	evicted bool // once true, a miss may be a case that was evicted, not one never seen
}

// An entry in the arena: header, id, head, and room for the head to grow, so that a case's
// head rewritten with most of its ops is usually updated in place rather than appended again
// (a copy left behind would be dead weight in the log until its segment comes round).
//
//	u32 head length (headAbsent: the case is known to be absent) | u32 room for the head |
//	u16 id length | u8 ref | u8 0
const (
	entryHeader = 12
	headSlack   = 32
	headAbsent  = 1<<32 - 1
	// maxArena keeps offsets within 32 bits.
	maxArena = 1 << 31
)

func newHeadCache(maxBytes int) *headCache {
	return &headCache{max: min(maxBytes, maxArena), seed: maphash.MakeSeed()}
}

func (c *headCache) hash(id string) uint64 { return maphash.String(c.seed, id) }

// get returns a copy of the cached head of id; ok is false on a miss. A hit with a nil head
// means the case is known to be absent.
func (c *headCache) get(id string) (head []byte, ok bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		return nil, false
	}
	off, ok := c.index[c.hash(id)]
	if !ok {
		return nil, false
	}
	b := c.mem.b
	hl, idl := binary.LittleEndian.Uint32(b[off:]), int(binary.LittleEndian.Uint16(b[off+8:]))
	p := int(off) + entryHeader
	if string(b[p:p+idl]) != id {
		return nil, false // another id with the same hash
	}
	b[off+10] = 1 // referenced
	if hl == headAbsent {
		return nil, true
	}
	p += idl
	return append([]byte(nil), b[p:p+int(hl)]...), true
}

// put records the head of id (nil for absent). The cache copies head.
func (c *headCache) put(id string, head []byte) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil && !c.init() {
		return
	}
	h := c.hash(id)
	hl := uint32(len(head))
	if head == nil {
		hl = headAbsent
	}
	if off, ok := c.index[h]; ok {
		b := c.mem.b[off:]
		room, idl := binary.LittleEndian.Uint32(b[4:]), int(binary.LittleEndian.Uint16(b[8:]))
		if string(b[entryHeader:entryHeader+idl]) == id && uint32(len(head)) <= room {
			binary.LittleEndian.PutUint32(b, hl) // in place
			copy(b[entryHeader+idl:], head)
			return
		}
		delete(c.index, h) // whatever happens below, no stale head stays reachable
	}
	room := len(head) + headSlack
	need := entryHeader + len(id) + room
	if need > c.segSize/4 || len(id) > 1<<16-1 {
		c.evicted = true // too large to cache: a later miss may be a case the store holds
		return
	}
	if c.used+need > c.segSize {
		c.advance()
	}
	off := c.cur*c.segSize + c.used
	b := c.mem.b[off:]
	binary.LittleEndian.PutUint32(b, hl)
	binary.LittleEndian.PutUint32(b[4:], uint32(room))
	binary.LittleEndian.PutUint16(b[8:], uint16(len(id)))
	b[10], b[11] = 0, 0
	copy(b[entryHeader:], id)
	copy(b[entryHeader+len(id):], head)
	c.index[h] = uint32(off)
	c.used += need
}

// init maps the arena, in segments of at most 1 MiB (at least 16 of them).
func (c *headCache) init() bool {
	seg := min(1<<20, c.max/16)
	if seg < 4<<10 {
		c.max = 0 // too small to be worth it
		return false
	}
	n := c.max / seg
	mem := newArena(n * seg)
	c.mem, c.segSize, c.nSeg, c.cur, c.used = mem, seg, n, 0, 0
	c.index = make(map[uint64]uint32)
	runtime.AddCleanup(c, func(m *arena) { m.free() }, mem)
	return true
}

// advance moves appending to the next segment, evicting what it holds: entries read since
// they were written are kept (moved to its front) while they fill less than half of it.
func (c *headCache) advance() {
	c.markEnd()
	c.cur = (c.cur + 1) % c.nSeg
	c.used = 0
	base := c.cur * c.segSize
	b := c.mem.b[base : base+c.segSize]
	for p := 0; p+entryHeader <= len(b); {
		room, idl := int(binary.LittleEndian.Uint32(b[p+4:])), int(binary.LittleEndian.Uint16(b[p+8:]))
		if idl == 0 {
			break // end of what this segment ever held (ids are never empty)
		}
		n := entryHeader + idl + room
		if p+n > len(b) {
			break // cannot happen: entries never straddle segments
		}
		id := b[p+entryHeader : p+entryHeader+idl]
		h := maphash.Bytes(c.seed, id)
		if off, ok := c.index[h]; ok && int(off) == base+p {
			if b[p+10] != 0 && c.used+n <= c.segSize/2 {
				copy(b[c.used:], b[p:p+n]) // never overlaps forward: c.used ≤ p
				b[c.used+10] = 0
				c.index[h] = uint32(base + c.used)
				c.used += n
			} else {
				delete(c.index, h)
				c.evicted = true
			}
		}
		p += n
	}
	c.markEnd()
}

// markEnd writes an empty header after the last entry of the current segment, so that the
// next pass over it stops there (what lies beyond is left from an earlier pass).
func (c *headCache) markEnd() {
	if c.used+entryHeader <= c.segSize {
		p := c.cur*c.segSize + c.used
		clear(c.mem.b[p : p+entryHeader])
	}
}

// complete reports whether the cache has never dropped anything: then every case the replica
// holds that was touched since open is in it, and a miss is most likely a new case.
func (c *headCache) complete() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.evicted && c.max > 0
}

// close releases the arena; the cache is empty and stays so.
func (c *headCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem != nil {
		c.mem.free()
		c.mem, c.index = nil, nil
	}
	c.max = 0
}

// arena is memory for the head cache, outside the Go heap where the platform allows.
type arena struct {
	b    []byte
	once sync.Once
	rel  func([]byte)
}

func (m *arena) free() {
	m.once.Do(func() {
		if m.rel != nil {
			m.rel(m.b)
		}
		m.b = nil
	})
}
