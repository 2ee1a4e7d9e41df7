package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/server/hub"
)

// schedule paces one simulated station: with a rate, entry k is due when the station's ops
// before it, at rate ops/s, have been offered, shifted by the station's phase (station i of
// n starts i/n of its first interval late, so that stations do not all push at the same
// instant); without one, each entry goes as soon as the previous is acknowledged. wait returns the time the push counts from — its due time, so a
// push that starts late because the hub is behind counts its wait (no coordinated omission).
type schedule struct {
	start time.Time
	due   []time.Duration
}

func newSchedule(start time.Time, entries [][]byte, rate float64, station, stations int) *schedule {
	s := &schedule{start: start}
	if rate <= 0 || len(entries) == 0 {
		return s
	}
	sizes := make([]int, len(entries))
	for i, e := range entries {
		if n, err := hub.EntryOps(e); err == nil {
			sizes[i] = n
		} else {
			sizes[i] = 1
		}
	}
	ops := float64(sizes[0]) * float64(station) / float64(max(1, stations)) // the phase
	for _, n := range sizes {
		s.due = append(s.due, time.Duration(ops/rate*float64(time.Second)))
		ops += float64(n)
	}
	return s
}

func (s *schedule) wait(ctx context.Context, k int) time.Time {
	if s.due == nil {
		return time.Now()
	}
	at := s.start.Add(s.due[k])
	if d := time.Until(at); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	return at
}

// baselineShape is the write volume the baseline's FSM produces per byte of entry: the
// replica's own volume in the same run, so the baseline is plain Raft plus the same Pebble
// work, without the replica's logic.
type baselineShape struct {
	bytesPerByte, keysPerByte float64
}

// pebbleFSM is the baseline's state machine: for each entry, synced in one Pebble batch, as
// many keys and bytes as the replica wrote for an entry of its size.
type pebbleFSM struct {
	db    *pebble.DB
	shape baselineShape
}

func (f *pebbleFSM) Apply(l *raft.Log) any {
	keys := max(1, int(math.Round(float64(len(l.Data))*f.shape.keysPerByte)))
	size := max(1, int(float64(len(l.Data))*f.shape.bytesPerByte)/keys)
	b := f.db.NewBatch()
	defer b.Close()
	for i := range keys {
		off := (i * 131) % max(1, len(l.Data)-size)
		v := l.Data[off:min(len(l.Data), off+size)]
		_ = b.Set(append(be64key(l.Index), be64key(uint64(i))...), v, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("baseline apply %d: %w", l.Index, err)
	}
	return nil
}

func (f *pebbleFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("no snapshots") }
func (f *pebbleFSM) Restore(rc io.ReadCloser) error      { rc.Close(); return fmt.Errorf("no snapshots") }

// quietPebble drops the baseline store's informational log lines.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)         {}
func (quietPebble) Errorf(f string, args ...any) { fmt.Printf("pebble: "+f+"\n", args...) }
func (quietPebble) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
