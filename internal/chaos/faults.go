package chaos

import (
	"context"
	"syscall"
	"time"

	"github.com/fengqiao/fengqiao/internal/faultproxy"
)

// clockOffsets are the --clock-offset values a restarted station may get ("" twice: most
// restarts put the clock right).
var clockOffsets = []string{"", "", "2h", "-2h", "30h", "-30h", "400d", "-400d", "3y", "-3y"}

func (r *run) fault(ctx context.Context, busy map[any]bool) {
	s := r.sts[r.rng.IntN(len(r.sts))]
	switch k := r.rng.IntN(100); {
	case k < 18: // SIGKILL a station; it comes back, perhaps with its clock moved
		if busy[s] || !s.running() {
			return
		}
		busy[s] = true
		s.kill()
		r.res.Faults.StationKills++
		if r.rng.IntN(3) == 0 {
			s.offset = clockOffsets[r.rng.IntN(len(clockOffsets))]
			r.res.Faults.ClockShifts++
		}
		r.progress("kill %s (clock %q)", s.id, s.offset)
		r.after(r.between(300*time.Millisecond, 3*time.Second), func() {
			r.restart(s)
			delete(busy, s)
		})
	case k < 30: // an orderly restart, half the time with the clock moved
		if busy[s] || !s.running() {
			return
		}
		busy[s] = true
		if err := s.signal(syscall.SIGTERM, 30*time.Second); err != nil {
			r.violate("%v", err)
		}
		r.res.Faults.StationRestarts++
		if r.rng.IntN(2) == 0 {
			s.offset = clockOffsets[r.rng.IntN(len(clockOffsets))]
			r.res.Faults.ClockShifts++
		}
		r.progress("restart %s (clock %q)", s.id, s.offset)
		r.after(r.between(100*time.Millisecond, time.Second), func() {
			r.restart(s)
			delete(busy, s)
		})
	case k < 44: // SIGKILL one member of a hub, never two of the same hub
		c := r.county
		if r.rng.IntN(3) == 0 {
			c = r.city
		}
		if c.down >= 0 || !c.healthy(ctx) {
			return
		}
		i := r.rng.IntN(3)
		if l := c.leader(ctx); l != nil && r.rng.IntN(2) == 0 {
			for j, m := range c.members {
				if m == l {
					i = j
					r.res.Faults.LeaderKills++
				}
			}
		}
		m := c.members[i]
		c.down = i
		m.kill()
		r.res.Faults.HubKills++
		r.progress("kill hub member %s", m.id)
		r.after(r.between(time.Second, 6*time.Second), func() {
			if err := m.start(c.args(m)); err != nil {
				r.violate("restart %s: %v", m.id, err)
			}
		})
	default: // a link fault: a station's links to its county, or the county's uplink
		links, key, name := s.proxies, any(s.proxies[0]), s.id
		if r.rng.IntN(5) == 0 {
			links, key, name = r.uplink, any(r.uplink[0]), "uplink"
		}
		if busy[key] {
			return
		}
		if name == "uplink" {
			r.res.Faults.UplinkFaults++
		}
		undo := func() {
			for _, p := range links {
				p.Block(false)
				p.SetFaults(faultproxy.ClientToServer, faultproxy.Faults{})
				p.SetFaults(faultproxy.ServerToClient, faultproxy.Faults{})
			}
			delete(busy, key)
		}
		switch j := r.rng.IntN(4); j {
		case 0:
			r.res.Faults.LinkCuts++
			r.progress("cut %s links", name)
			for _, p := range links {
				p.CutAll()
			}
		case 1:
			r.res.Faults.LinkBlocks++
			busy[key] = true
			r.progress("block %s links", name)
			for _, p := range links {
				p.Block(true)
			}
			r.after(r.between(time.Second, 8*time.Second), undo)
		case 2:
			r.res.Faults.LinkSlow++
			busy[key] = true
			r.progress("slow %s links", name)
			slow := faultproxy.Faults{Bandwidth: 2000 + r.rng.IntN(20000), Delay: 200 * time.Millisecond}
			for _, p := range links {
				p.SetFaults(faultproxy.ClientToServer, slow)
				p.SetFaults(faultproxy.ServerToClient, slow)
			}
			r.after(r.between(2*time.Second, 10*time.Second), undo)
		case 3:
			r.res.Faults.LinkLossy++
			busy[key] = true
			r.progress("lossy %s links", name)
			lossy := faultproxy.Faults{Drop: 0.05, Duplicate: 0.05, Reorder: 0.1, Delay: 50 * time.Millisecond}
			for _, p := range links {
				p.SetFaults(faultproxy.ClientToServer, lossy)
				p.SetFaults(faultproxy.ServerToClient, lossy)
			}
			r.after(r.between(2*time.Second, 10*time.Second), undo)
		}
	}
}

func (r *run) restart(s *station) {
	if err := s.start(s.args(r.cfg.Rate)); err != nil {
		r.violate("restart %s: %v", s.id, err)
	}
}
