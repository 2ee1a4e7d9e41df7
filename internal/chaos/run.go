package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/fengqiao/fengqiao/internal/faultproxy"
)

// Config configures a chaos run.
type Config struct {
	// Exe is the fengqiao binary every process runs (the plain build, not -race).
	Exe string
	// Dir holds every store, journal and process log of the run.
	Dir string
	// Stations is the number of station processes (two per township). Default 20.
	Stations int
	// Duration is how long faults are injected before the heal. Default 2 minutes.
	Duration time.Duration
	// Rate is each station's writes per second. Default 2.
	Rate float64
	// FaultEvery is the mean time between two faults. Default 1 s.
	FaultEvery time.Duration
	// ConvergeTimeout bounds the wait for convergence after the heal. Default 5 minutes.
	ConvergeTimeout time.Duration
	// Seed seeds the controller's choices and the proxies' faults.
	Seed uint64
	// County and City are the hubs' regions (default 420323, 4203).
	County, City string
	Log          *slog.Logger
	Progress     io.Writer // a line per phase and per fault; nil: none
}

// Faults counts what the controller did to the system.
type Faults struct {
	StationKills    int `json:"station_kills"`
	StationRestarts int `json:"station_restarts"` // orderly (SIGTERM) restarts
	HubKills        int `json:"hub_member_kills"`
	LeaderKills     int `json:"hub_leader_kills"` // of HubKills, the member that led
	LinkCuts        int `json:"link_cuts"`
	LinkBlocks      int `json:"link_blocks"`
	LinkSlow        int `json:"link_slow"`
	LinkLossy       int `json:"link_lossy"`
	ClockShifts     int `json:"clock_shifts"`
	UplinkFaults    int `json:"uplink_faults"` // of the link faults, on the county → city uplink
}

// Total is the number of faults injected.
func (f Faults) Total() int {
	return f.StationKills + f.StationRestarts + f.HubKills + f.LinkCuts + f.LinkBlocks + f.LinkSlow + f.LinkLossy + f.ClockShifts
}

// Result is what a run found: the figures, and every violation of a promise.
type Result struct {
	Stations        int     `json:"stations"`
	HubMembers      int     `json:"hub_members"`
	Seconds         float64 `json:"fault_seconds"`
	Seed            uint64  `json:"seed"`
	Faults          Faults  `json:"faults"`
	FaultsInjected  int     `json:"faults_injected"`
	OpsAcknowledged int     `json:"ops_acknowledged"` // journal lines: ops a station's replica acknowledged
	OpsTotal        uint64  `json:"ops_total"`        // ops the county holds at the end
	Cases           int     `json:"cases"`
	Lost            int     `json:"lost"`       // acknowledged ops missing from a replica in scope
	Missing         int     `json:"missing"`    // any op missing from a replica in scope
	Duplicated      int     `json:"duplicated"` // dots held twice in one feed
	Altered         int     `json:"altered"`    // dots whose bytes differ between replicas
	ChainFailures   int     `json:"chain_failures"`
	StateMismatches int     `json:"state_mismatches"` // cases whose state differs between replicas in scope
	// Accusations counts the accusation cases the writers registered; AccusationLeaks those
	// found at a station of the unit they accuse.
	Accusations     int      `json:"accusations"`
	AccusationLeaks int      `json:"accusation_leaks"`
	Equivocations   uint64   `json:"equivocations"`
	Quarantined     uint64   `json:"quarantined"`
	ConvergeSeconds float64  `json:"converge_seconds"` // heal to every replica caught up
	Checked         int      `json:"replicas_checked"`
	Violations      []string `json:"violations"`
	OK              bool     `json:"ok"`
}

type run struct {
	cfg     Config
	rng     *rand.Rand
	county  *cluster
	city    *cluster
	uplink  []*faultproxy.Proxy // in front of the city's members, for the county's uplink
	towns   []string
	sts     []*station
	procs   []*proc
	proxies []*faultproxy.Proxy
	events  []event
	res     Result
}

type event struct {
	at time.Time
	fn func()
}

func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "chaos %s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
}

func (r *run) violate(format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	if len(r.res.Violations) < 200 {
		r.res.Violations = append(r.res.Violations, v)
	} else if len(r.res.Violations) == 200 {
		r.res.Violations = append(r.res.Violations, "… more violations not listed")
	}
}

// Run performs one chaos run. It returns an error when the run could not be carried out
// (a process would not start, the system never converged); the promises it checks are in
// Result.Violations, and Result.OK is true only when there is none.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Stations <= 0 {
		cfg.Stations = 20
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 2 * time.Minute
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 2
	}
	if cfg.FaultEvery <= 0 {
		cfg.FaultEvery = time.Second
	}
	if cfg.ConvergeTimeout <= 0 {
		cfg.ConvergeTimeout = 5 * time.Minute
	}
	if cfg.County == "" {
		cfg.County, cfg.City = "420323", "4203"
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return Result{}, err
	}
	r := &run{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0xc4a05)), res: Result{Stations: cfg.Stations, HubMembers: 6, Seed: cfg.Seed}}
	defer r.teardown()
	if err := r.setUp(ctx); err != nil {
		return r.res, err
	}
	began := time.Now()
	if err := r.inject(ctx); err != nil {
		return r.res, err
	}
	r.res.Seconds = time.Since(began).Seconds()
	r.res.FaultsInjected = r.res.Faults.Total()
	if err := r.healAndConverge(ctx); err != nil {
		return r.res, err
	}
	r.stopAll()
	r.closeProxies()
	if err := r.check(); err != nil {
		return r.res, err
	}
	r.res.OK = len(r.res.Violations) == 0
	return r.res, nil
}

func (r *run) setUp(ctx context.Context) error {
	var err error
	r.progress("dir %s, %d stations, %v of faults, seed %d", r.cfg.Dir, r.cfg.Stations, r.cfg.Duration, r.cfg.Seed)
	if r.city, err = r.newCluster("city", "hub-"+r.cfg.City, r.cfg.City); err != nil {
		return err
	}
	if err := r.city.bootstrap(ctx); err != nil {
		return err
	}
	var parent []string
	for i, m := range r.city.members {
		p, err := faultproxy.New(m.http, faultproxy.Options{Seed: r.cfg.Seed*1000 + 900 + uint64(i)})
		if err != nil {
			return err
		}
		r.uplink = append(r.uplink, p)
		r.proxies = append(r.proxies, p)
		parent = append(parent, "http://"+p.Addr())
	}
	if r.county, err = r.newCluster("county", "hub-"+r.cfg.County, r.cfg.County, "--parent", strings.Join(parent, ",")); err != nil {
		return err
	}
	if err := r.county.bootstrap(ctx); err != nil {
		return err
	}
	r.progress("hubs up: city %v, county %v", r.city.urls(), r.county.urls())
	if r.towns, err = townships(r.cfg.County, (r.cfg.Stations+1)/2); err != nil {
		return err
	}
	for i := range r.cfg.Stations {
		s, err := r.newStation(i, r.towns[(i/2)%len(r.towns)])
		if err != nil {
			return err
		}
		r.sts = append(r.sts, s)
	}
	for i, s := range r.sts {
		if j := i ^ 1; j < len(r.sts) && r.sts[j].region == s.region {
			s.sibling = r.sts[j].id
		}
	}
	for _, s := range r.sts {
		if err := s.start(s.args(r.cfg.Rate)); err != nil {
			return err
		}
	}
	for _, s := range r.sts {
		if err := waitFor(ctx, 60*time.Second, s.id+" serving", func() (bool, string) {
			_, err := fetchStatus(ctx, s.url)
			return err == nil, fmt.Sprint(err)
		}); err != nil {
			return err
		}
	}
	r.progress("%d stations up, writing", len(r.sts))
	return nil
}

// after schedules fn at d from now.
func (r *run) after(d time.Duration, fn func()) {
	r.events = append(r.events, event{at: time.Now().Add(d), fn: fn})
}

func (r *run) runDue(all bool) {
	for {
		var due []event
		rest := r.events[:0]
		for _, e := range r.events {
			if all || !time.Now().Before(e.at) {
				due = append(due, e)
			} else {
				rest = append(rest, e)
			}
		}
		r.events = rest
		if len(due) == 0 {
			return
		}
		for _, e := range due {
			e.fn()
		}
	}
}

func (r *run) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)+1))
}

// inject runs the faults for the configured duration.
func (r *run) inject(ctx context.Context) error {
	end := time.Now().Add(r.cfg.Duration)
	next := time.Now()
	busy := map[any]bool{} // a station or link group under a fault not yet undone
	for time.Now().Before(end) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.runDue(false)
		for _, c := range []*cluster{r.county, r.city} {
			if c.down >= 0 && c.members[c.down].running() && c.healthy(ctx) {
				c.down = -1
			}
		}
		if time.Now().After(next) {
			r.fault(ctx, busy)
			next = time.Now().Add(r.between(r.cfg.FaultEvery/2, r.cfg.FaultEvery*3/2))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// healAndConverge stops the writers, undoes every fault, brings every process back and
// waits until every replica holds what it should.
func (r *run) healAndConverge(ctx context.Context) error {
	for _, s := range r.sts {
		if err := os.WriteFile(StopFile(s.journal), nil, 0o644); err != nil {
			return err
		}
	}
	r.runDue(true) // every pending restart and undo, now
	for _, p := range r.proxies {
		p.Block(false)
		p.SetFaults(faultproxy.ClientToServer, faultproxy.Faults{})
		p.SetFaults(faultproxy.ServerToClient, faultproxy.Faults{})
	}
	for _, c := range []*cluster{r.county, r.city} {
		for _, m := range c.members {
			if !m.running() {
				if err := m.start(c.args(m)); err != nil {
					return err
				}
			}
		}
	}
	for _, s := range r.sts {
		if !s.running() {
			r.restart(s)
		}
	}
	healed := time.Now()
	r.progress("healed; waiting for convergence")
	err := waitFor(ctx, r.cfg.ConvergeTimeout, "convergence after the heal", func() (bool, string) { return r.converged(ctx) })
	r.res.ConvergeSeconds = time.Since(healed).Seconds()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// Not converging is a violation; the check that follows says what is missing where.
		r.violate("%v", err)
		r.progress("did not converge: %v", err)
		return nil
	}
	r.progress("converged in %.1f s", r.res.ConvergeSeconds)
	return nil
}

// converged reports whether, as the HTTP API shows it, both hubs' members agree, the city
// holds what the county holds, and every station is connected with nothing unacknowledged
// and lists the same cases of its township as the county.
func (r *run) converged(ctx context.Context) (bool, string) {
	var countyOps uint64
	for _, c := range []*cluster{r.county, r.city} {
		var ops, applied []uint64
		for _, m := range c.members {
			st, err := fetchStatus(ctx, m.url)
			if err != nil {
				return false, err.Error()
			}
			ops = append(ops, st.Ops)
			applied = append(applied, raftOf(st).AppliedIndex)
		}
		for i := range ops {
			if ops[i] != ops[0] || applied[i] != applied[0] {
				return false, fmt.Sprintf("%s members at ops %v, applied %v", c.name, ops, applied)
			}
		}
		if c == r.county {
			countyOps = ops[0]
		} else if ops[0] != countyOps {
			return false, fmt.Sprintf("city holds %d ops, county %d", ops[0], countyOps)
		}
	}
	for _, s := range r.sts {
		st, err := fetchStatus(ctx, s.url)
		if err != nil {
			return false, err.Error()
		}
		if len(st.Peers) != 1 || !st.Peers[0].Connected || st.Peers[0].PendingOps != 0 {
			return false, fmt.Sprintf("%s: %+v", s.id, st.Peers)
		}
	}
	for _, town := range r.towns {
		want, err := listCases(ctx, r.county.members[0].url, town)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range r.sts {
			if s.region != town {
				continue
			}
			got, err := listCases(ctx, s.url, town)
			if err != nil {
				return false, err.Error()
			}
			if g, w := withoutAccusations(got), withoutAccusations(want); g != w {
				return false, fmt.Sprintf("%s lists %d cases of %s, the county %d (accusations aside)", s.id, g, town, w)
			}
			for id, c := range want {
				if AccusedStation(id) != "" {
					continue // never at the township's stations (the check looks at them one by one)
				}
				if got[id] != c {
					return false, fmt.Sprintf("%s differs from the county on case %s: %s", s.id, id, viewDiff(c, got[id]))
				}
			}
		}
	}
	return true, ""
}

// withoutAccusations counts the cases of a list that are not chaos accusations.
func withoutAccusations(list map[string]string) int {
	n := 0
	for id := range list {
		if AccusedStation(id) == "" {
			n++
		}
	}
	return n
}

func (r *run) stopAll() {
	for _, p := range r.procs {
		if note := p.unexpected(); note != "" {
			r.violate("%s", note)
		}
		if err := p.signal(syscall.SIGTERM, 30*time.Second); err != nil {
			r.violate("%v", err)
		}
	}
}

func (r *run) closeProxies() {
	for _, p := range r.proxies {
		_ = p.Close()
	}
	r.proxies = nil
}

// teardown ends whatever still runs (after an error).
func (r *run) teardown() {
	for _, p := range r.procs {
		p.kill()
	}
	r.closeProxies()
}
