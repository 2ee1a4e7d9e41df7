package crdt

import (
	"cmp"
	"math"
)

// Timestamp is a hybrid logical clock reading: wall milliseconds since the Unix epoch and a
// logical counter that orders readings within one millisecond.
type Timestamp struct {
	Wall    int64
	Logical uint32
}

// Compare orders timestamps by wall time, then logical counter.
func (t Timestamp) Compare(u Timestamp) int {
	if c := cmp.Compare(t.Wall, u.Wall); c != 0 {
		return c
	}
	return cmp.Compare(t.Logical, u.Logical)
}

// Less reports whether t is before u.
func (t Timestamp) Less(u Timestamp) bool { return t.Compare(u) < 0 }

// IsZero reports whether t is the zero reading.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

// DefaultMaxSkew is how far ahead of the local wall clock a timestamp may be before it is
// flagged: 5 minutes, in milliseconds.
const DefaultMaxSkew = 5 * 60 * 1000

// Clock is a hybrid logical clock. It never reads the wall clock: callers pass the wall time
// of each event. It never advances past the caller's wall time + MaxSkew because of a remote
// timestamp: such a timestamp is flagged and not absorbed, so a station whose clock is set
// years ahead cannot drag other replicas' clocks (and their deadlines) with it.
//
// A Clock is not safe for concurrent use.
type Clock struct {
	// MaxSkew is the largest distance, in milliseconds, a remote timestamp may lie ahead of
	// the local wall clock and still be absorbed. Zero means DefaultMaxSkew.
	MaxSkew int64

	last Timestamp
}

// NewClock returns a clock that continues from last (the highest timestamp it issued or
// absorbed before a restart), so readings stay monotonic across restarts.
func NewClock(last Timestamp, maxSkew int64) *Clock {
	return &Clock{MaxSkew: maxSkew, last: last}
}

func (c *Clock) maxSkew() int64 {
	if c.MaxSkew <= 0 {
		return DefaultMaxSkew
	}
	return c.MaxSkew
}

// Last returns the highest timestamp issued or absorbed.
func (c *Clock) Last() Timestamp { return c.last }

// Now returns a timestamp for a local event at wall time wall, greater than every timestamp
// issued or absorbed before. If the wall clock went backwards, the wall part stays where it
// was and the logical counter moves; if the counter is spent (a remote reading may carry any
// counter), the wall part moves on by one millisecond.
func (c *Clock) Now(wall int64) Timestamp {
	switch {
	case wall > c.last.Wall:
		c.last = Timestamp{Wall: wall}
	case c.last.Logical == math.MaxUint32:
		c.last = Timestamp{Wall: c.last.Wall + 1}
	default:
		c.last.Logical++
	}
	return c.last
}

// Observe absorbs a remote timestamp seen at local wall time wall, so later local readings
// come after it. A remote timestamp beyond wall + MaxSkew is not absorbed; Observe reports it
// as flagged instead.
func (c *Clock) Observe(remote Timestamp, wall int64) (flagged bool) {
	if IsFarFuture(remote, wall, c.maxSkew()) {
		return true
	}
	if c.last.Less(remote) {
		c.last = remote
	}
	return false
}

// IsFarFuture reports whether t lies more than maxSkew milliseconds after wall.
func IsFarFuture(t Timestamp, wall, maxSkew int64) bool {
	return t.Wall > wall+maxSkew
}
