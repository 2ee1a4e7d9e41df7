package crdt_test

import (
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
)

const year = int64(365 * 24 * 60 * 60 * 1000) // milliseconds

func TestTimestamp_Compare(t *testing.T) {
	tests := []struct {
		name string
		a, b crdt.Timestamp
		want int
	}{
		{"equal", ts(5, 1), ts(5, 1), 0},
		{"wall first", ts(4, 9), ts(5, 0), -1},
		{"wall dominates logical", ts(6, 0), ts(5, 9), 1},
		{"logical breaks tie", ts(5, 1), ts(5, 2), -1},
		{"zero before all", crdt.Timestamp{}, ts(0, 1), -1},
		{"negative wall", ts(-1, 0), ts(0, 0), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := tt.b.Compare(tt.a); got != -tt.want {
				t.Errorf("%v.Compare(%v) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
			if got, want := tt.a.Less(tt.b), tt.want < 0; got != want {
				t.Errorf("%v.Less(%v) = %v, want %v", tt.a, tt.b, got, want)
			}
		})
	}
}

func TestTimestamp_IsZero(t *testing.T) {
	for _, tt := range []struct {
		t    crdt.Timestamp
		want bool
	}{
		{crdt.Timestamp{}, true},
		{ts(0, 1), false},
		{ts(1, 0), false},
	} {
		if got := tt.t.IsZero(); got != tt.want {
			t.Errorf("%v.IsZero() = %v, want %v", tt.t, got, tt.want)
		}
	}
}

func TestClock_Now(t *testing.T) {
	tests := []struct {
		name  string
		walls []int64
		want  []crdt.Timestamp
	}{
		{
			name:  "wall advances",
			walls: []int64{100, 101, 250},
			want:  []crdt.Timestamp{ts(100, 0), ts(101, 0), ts(250, 0)},
		},
		{
			name:  "same millisecond counts logically",
			walls: []int64{100, 100, 100, 101},
			want:  []crdt.Timestamp{ts(100, 0), ts(100, 1), ts(100, 2), ts(101, 0)},
		},
		{
			name:  "wall goes backwards",
			walls: []int64{1000, 400, 999, 1000, 1001},
			want:  []crdt.Timestamp{ts(1000, 0), ts(1000, 1), ts(1000, 2), ts(1000, 3), ts(1001, 0)},
		},
		{
			name:  "wall jumps back years",
			walls: []int64{3 * year, 1, 2},
			want:  []crdt.Timestamp{ts(3*year, 0), ts(3*year, 1), ts(3*year, 2)},
		},
		{
			name:  "negative and zero walls",
			walls: []int64{-5, 0, 0},
			want:  []crdt.Timestamp{ts(0, 1), ts(0, 2), ts(0, 3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c crdt.Clock
			for i, w := range tt.walls {
				if got, want := c.Now(w), tt.want[i]; got != want {
					t.Fatalf("Now(%d) #%d = %v, want %v", w, i, got, want)
				}
				if got, want := c.Last(), tt.want[i]; got != want {
					t.Fatalf("Last() after Now #%d = %v, want %v", i, got, want)
				}
			}
		})
	}
}

func TestClock_Now_MonotonicWhenWallGoesBackwards(t *testing.T) {
	var c crdt.Clock
	prev := c.Now(10_000)
	// A wall clock that wanders: forwards, far back, stuck, forwards again.
	for i, w := range []int64{10_001, 5, 5, 9_999, 10_001, 10_001, 20_000, 0, -1 << 40} {
		got := c.Now(w)
		if !prev.Less(got) {
			t.Fatalf("Now(%d) #%d = %v, not after previous reading %v", w, i, got, prev)
		}
		prev = got
	}
}

func TestNewClock_ContinuesFromLast(t *testing.T) {
	last := ts(5000, 7)
	c := crdt.NewClock(last, 0)
	if got, want := c.Last(), last; got != want {
		t.Fatalf("Last() = %v, want %v", got, want)
	}
	// The process restarted with its wall clock behind what it issued before.
	if got, want := c.Now(4000), ts(5000, 8); got != want {
		t.Errorf("Now(4000) = %v, want %v", got, want)
	}
	if got, want := c.Now(6000), ts(6000, 0); got != want {
		t.Errorf("Now(6000) = %v, want %v", got, want)
	}
}

func TestClock_Observe(t *testing.T) {
	const skew = 1000
	tests := []struct {
		name        string
		last        crdt.Timestamp
		remote      crdt.Timestamp
		wall        int64
		wantFlagged bool
		wantLast    crdt.Timestamp
	}{
		{"older remote changes nothing", ts(500, 3), ts(400, 9), 500, false, ts(500, 3)},
		{"equal remote changes nothing", ts(500, 3), ts(500, 3), 500, false, ts(500, 3)},
		{"same wall higher logical absorbed", ts(500, 3), ts(500, 4), 500, false, ts(500, 4)},
		{"remote ahead within skew absorbed", ts(500, 0), ts(1200, 2), 500, false, ts(1200, 2)},
		{"remote exactly at wall+skew absorbed", ts(500, 0), ts(1500, 9), 500, false, ts(1500, 9)},
		{"remote one ms beyond wall+skew flagged", ts(500, 0), ts(1501, 0), 500, true, ts(500, 0)},
		{"remote years ahead flagged", ts(500, 0), ts(500+10*year, 0), 500, true, ts(500, 0)},
		{"skew measured from wall, not from last", ts(9000, 0), ts(9500, 0), 500, true, ts(9000, 0)},
		{"remote behind a late wall absorbed", ts(100, 0), ts(200, 0), 10_000, false, ts(200, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := crdt.NewClock(tt.last, skew)
			if got, want := c.Observe(tt.remote, tt.wall), tt.wantFlagged; got != want {
				t.Errorf("Observe(%v, %d) flagged = %v, want %v", tt.remote, tt.wall, got, want)
			}
			if got, want := c.Last(), tt.wantLast; got != want {
				t.Errorf("Last() = %v, want %v", got, want)
			}
		})
	}
}

func TestClock_Observe_AbsorbedRemoteOrdersLaterReadings(t *testing.T) {
	c := crdt.NewClock(crdt.Timestamp{}, 1000)
	c.Now(100)
	remote := ts(900, 4)
	if c.Observe(remote, 100) {
		t.Fatalf("Observe(%v, 100) flagged, want absorbed", remote)
	}
	// The local wall is still behind the remote: the next reading must still follow it.
	if got, want := c.Now(101), ts(900, 5); got != want {
		t.Errorf("Now(101) = %v, want %v", got, want)
	}
}

func TestClock_Observe_FarFutureFlagged(t *testing.T) {
	var c crdt.Clock // MaxSkew zero: DefaultMaxSkew
	const wall = 1_700_000_000_000
	c.Now(wall)
	before := c.Last()
	remote := ts(wall+crdt.DefaultMaxSkew+1, 0)
	if got, want := c.Observe(remote, wall), true; got != want {
		t.Fatalf("Observe(%v, %d) flagged = %v, want %v", remote, wall, got, want)
	}
	if got, want := c.Last(), before; got != want {
		t.Errorf("Last() = %v after a flagged remote, want unchanged %v", got, want)
	}
	if got, want := c.Now(wall+1), ts(wall+1, 0); got != want {
		t.Errorf("Now(%d) = %v, want %v (not dragged by the flagged remote)", wall+1, got, want)
	}
}

func TestClock_Observe_YearsAheadCannotDrag(t *testing.T) {
	// A station whose clock is set five years ahead sends one op per millisecond for a while;
	// the receiver's readings must keep following its own wall clock.
	const wall = 1_700_000_000_000
	rogue := crdt.NewClock(crdt.Timestamp{}, 0)
	c := crdt.NewClock(crdt.Timestamp{}, 0)
	for i := int64(0); i < 1000; i++ {
		remote := rogue.Now(wall + 5*year + i)
		if !c.Observe(remote, wall+i) {
			t.Fatalf("Observe(%v, %d) not flagged", remote, wall+i)
		}
		got := c.Now(wall + i)
		if got.Wall != wall+i || got.Logical != 0 {
			t.Fatalf("Now(%d) = %v, want %v", wall+i, got, ts(wall+i, 0))
		}
	}
	// Once the local wall clock is within skew of those stamps, they are absorbed again.
	late := rogue.Now(wall + 5*year + 1000)
	if c.Observe(late, late.Wall-crdt.DefaultMaxSkew) {
		t.Errorf("Observe(%v, wall-skew) flagged, want absorbed", late)
	}
	if got, want := c.Last(), late; got != want {
		t.Errorf("Last() = %v, want %v", got, want)
	}
}

func TestClock_MaxSkew_ZeroOrNegativeMeansDefault(t *testing.T) {
	for _, skew := range []int64{0, -1, -crdt.DefaultMaxSkew} {
		c := crdt.NewClock(crdt.Timestamp{}, skew)
		if c.Observe(ts(crdt.DefaultMaxSkew, 0), 0) {
			t.Errorf("MaxSkew %d: remote at wall+DefaultMaxSkew flagged, want absorbed", skew)
		}
		if !c.Observe(ts(crdt.DefaultMaxSkew+1, 0), 0) {
			t.Errorf("MaxSkew %d: remote beyond wall+DefaultMaxSkew absorbed, want flagged", skew)
		}
	}
	// The exported field may be set after construction.
	c := &crdt.Clock{MaxSkew: 10}
	if !c.Observe(ts(11, 0), 0) {
		t.Errorf("MaxSkew 10: remote at wall+11 absorbed, want flagged")
	}
}

func TestIsFarFuture(t *testing.T) {
	tests := []struct {
		t          crdt.Timestamp
		wall, skew int64
		want       bool
	}{
		{ts(100, 0), 100, 0, false},
		{ts(100, 99), 100, 0, false}, // the logical part never makes a reading far-future
		{ts(101, 0), 100, 0, true},
		{ts(150, 0), 100, 50, false},
		{ts(151, 0), 100, 50, true},
		{ts(0, 0), 100, 50, false},
		{ts(100+5*year, 0), 100, crdt.DefaultMaxSkew, true},
	}
	for _, tt := range tests {
		if got := crdt.IsFarFuture(tt.t, tt.wall, tt.skew); got != tt.want {
			t.Errorf("IsFarFuture(%v, %d, %d) = %v, want %v", tt.t, tt.wall, tt.skew, got, tt.want)
		}
	}
}

func TestClock_Now_ZeroAllocs(t *testing.T) {
	c := crdt.NewClock(crdt.Timestamp{}, 0)
	wall := int64(1_700_000_000_000)
	var n int64
	allocs := testing.AllocsPerRun(1000, func() {
		n++
		c.Now(wall + n/2) // the wall advances every other call; same millisecond in between
	})
	if allocs != 0 {
		t.Errorf("Clock.Now allocates %v times per call, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		c.Observe(ts(wall+10, 0), wall)
	})
	if allocs != 0 {
		t.Errorf("Clock.Observe allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkClock_Now(b *testing.B) {
	b.ReportAllocs()
	c := crdt.NewClock(crdt.Timestamp{}, 0)
	wall := int64(1_700_000_000_000)
	var i int64
	for b.Loop() {
		i++
		c.Now(wall + i/4) // four readings per millisecond
	}
}

func BenchmarkClock_Observe(b *testing.B) {
	b.ReportAllocs()
	c := crdt.NewClock(crdt.Timestamp{}, 0)
	wall := int64(1_700_000_000_000)
	var i int64
	for b.Loop() {
		i++
		c.Observe(ts(wall+i, uint32(i)), wall+i)
	}
}

func TestClock_Now_LogicalOverflow(t *testing.T) {
	const maxLogical = ^uint32(0)
	tests := []struct {
		name  string
		setup func(c *crdt.Clock)
	}{
		{"restart from a reading at the last logical", func(c *crdt.Clock) { *c = *crdt.NewClock(ts(1000, maxLogical), 0) }},
		{"absorbed remote at the last logical", func(c *crdt.Clock) { c.Observe(ts(1000, maxLogical), 1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c crdt.Clock
			tt.setup(&c)
			prev := c.Last()
			for _, wall := range []int64{999, 1000, 1000} {
				got := c.Now(wall)
				if !prev.Less(got) {
					t.Fatalf("Now(%d) = %v, not after %v", wall, got, prev)
				}
				prev = got
			}
		})
	}
}
