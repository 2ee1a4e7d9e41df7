package chaos

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases/regions"
	"github.com/fengqiao/fengqiao/internal/faultproxy"
)

// clusterToken is the cluster secret of both hubs of a run (loopback only).
const clusterToken = "chaos-run-cluster-token-0123456789"

// member is one member process of a hub cluster.
type member struct {
	*proc
	id, dir, http, raft, url string
}

// cluster is a hub of three member processes.
type cluster struct {
	name, hubID, region string
	members             []*member
	common              []string // flags every member gets
	// proxies front the members for the tier below (stations of the county; the county's
	// uplink to the city), in member order.
	down int // index of the member currently killed, or -1
}

// station is one station process, reaching its county's members through its own proxies.
type station struct {
	*proc
	id, region, dir, http, url, journal string
	proxies                             []*faultproxy.Proxy
	offset                              string // --clock-offset of the current life
	sibling                             string // the other station of its township, which its writer may accuse
}

func (r *run) newCluster(name, hubID, region string, common ...string) (*cluster, error) {
	c := &cluster{name: name, hubID: hubID, region: region, common: common, down: -1}
	for i := range 3 {
		id := fmt.Sprintf("%s-%d", name, i+1)
		h, err := freeAddr()
		if err != nil {
			return nil, err
		}
		ra, err := freeAddr()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(r.cfg.Dir, id)
		m := &member{proc: &proc{name: id, exe: r.cfg.Exe, log: filepath.Join(r.cfg.Dir, id+".log"),
			env: []string{"FENGQIAO_CLUSTER_TOKEN=" + clusterToken, "FENGQIAO_LOG_LEVEL=info"}},
			id: id, dir: dir, http: h, raft: ra, url: "http://" + h}
		c.members = append(c.members, m)
		r.procs = append(r.procs, m.proc)
	}
	return c, nil
}

func (c *cluster) urls() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.url)
	}
	return out
}

func (c *cluster) args(m *member) []string {
	return append([]string{"hub", "--dir", m.dir, "--id", m.id, "--http", m.http, "--raft", m.raft,
		"--url", strings.Join(c.urls(), ",")}, c.common...)
}

// bootstrap starts every member with the same --bootstrap list and waits for a leader that
// sees all three.
func (c *cluster) bootstrap(ctx context.Context) error {
	var list []string
	for _, m := range c.members {
		list = append(list, m.id+"="+m.raft+"="+m.http)
	}
	for _, m := range c.members {
		if err := m.start(append(c.args(m), "--hub-id", c.hubID, "--region", c.region, "--bootstrap", strings.Join(list, ","))); err != nil {
			return err
		}
	}
	return waitFor(ctx, 90*time.Second, c.name+": a leader seeing every member", func() (bool, string) {
		l := c.leader(ctx)
		if l == nil {
			return false, "no leader"
		}
		st, _ := fetchStatus(ctx, l.url)
		return len(raftOf(st).Members) == 3, fmt.Sprintf("%+v", raftOf(st))
	})
}

func (c *cluster) leader(ctx context.Context) *member {
	for _, m := range c.members {
		if !m.running() {
			continue
		}
		if st, err := fetchStatus(ctx, m.url); err == nil && raftOf(st).State == "Leader" {
			return m
		}
	}
	return nil
}

// healthy reports whether every member runs and one of them leads, seeing all three.
func (c *cluster) healthy(ctx context.Context) bool {
	for _, m := range c.members {
		if !m.running() {
			return false
		}
	}
	l := c.leader(ctx)
	if l == nil {
		return false
	}
	st, err := fetchStatus(ctx, l.url)
	return err == nil && len(raftOf(st).Members) == 3
}

// townships returns n townships of county, those with villages first.
func townships(county string, n int) ([]string, error) {
	var out []string
	for _, t := range regions.Children(county) {
		if len(regions.Children(t.Code)) > 0 {
			out = append(out, t.Code)
		}
		if len(out) == n {
			return out, nil
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no township with villages in %s", county)
	}
	return out, nil
}

// newStation enrolls a station at the county (directly, before the run) and makes its
// proxies, one per county member.
func (r *run) newStation(i int, region string) (*station, error) {
	id := fmt.Sprintf("st-%02d", i+1)
	h, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &station{proc: &proc{name: id, exe: r.cfg.Exe, log: filepath.Join(r.cfg.Dir, id+".log"), env: []string{"FENGQIAO_LOG_LEVEL=info"}},
		id: id, region: region, dir: filepath.Join(r.cfg.Dir, id), http: h, url: "http://" + h, journal: filepath.Join(r.cfg.Dir, id+".journal")}
	enroll := exec.Command(r.cfg.Exe, "enroll", "--hub", r.county.members[i%3].url, "--dir", s.dir, "--id", id, "--region", region)
	if out, err := enroll.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("enroll %s: %v\n%s", id, err, out)
	}
	for j, m := range r.county.members {
		p, err := faultproxy.New(m.http, faultproxy.Options{Seed: r.cfg.Seed*1000 + uint64(i*3+j)})
		if err != nil {
			return nil, err
		}
		s.proxies = append(s.proxies, p)
		r.proxies = append(r.proxies, p)
	}
	r.procs = append(r.procs, s.proc)
	return s, nil
}

func (s *station) args(rate float64) []string {
	var hubs []string
	for _, p := range s.proxies {
		hubs = append(hubs, "http://"+p.Addr())
	}
	a := []string{"station", "--dir", s.dir, "--http", s.http, "--hub", strings.Join(hubs, ","),
		"--chaos-journal", s.journal, "--chaos-rate", fmt.Sprint(rate)}
	if s.sibling != "" {
		a = append(a, "--chaos-accuse", s.sibling)
	}
	if s.offset != "" {
		a = append(a, "--clock-offset", s.offset)
	}
	return a
}
