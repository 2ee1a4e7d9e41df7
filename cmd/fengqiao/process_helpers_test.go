package main

import (
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/server/hub"
)

// TestMain lets a test start this package's binary as a real process: the test binary
// re-executes itself with FENGQIAO_TEST_AS_MAIN=1 and runs main with the given arguments.
func TestMain(m *testing.M) {
	if os.Getenv("FENGQIAO_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const testClusterToken = "process-test-cluster-token"

// process is a fengqiao command running as its own OS process.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

func startProcess(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{name: name, out: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), "FENGQIAO_TEST_AS_MAIN=1", "FENGQIAO_CLUSTER_TOKEN="+testClusterToken, "FENGQIAO_LOG_LEVEL=info")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill SIGKILLs the process (a crash: nothing is flushed or closed) and waits for it.
func (p *process) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd.ProcessState = &os.ProcessState{}
}

func (p *process) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	began := time.Now()
	defer func() {
		if took := time.Since(began); took > time.Second {
			t.Logf("%s took %v to stop", p.name, took.Round(time.Millisecond))
		}
	}()
	select {
	case err := <-p.done:
		p.cmd.ProcessState = &os.ProcessState{}
		if err != nil {
			t.Errorf("%s exited: %v\n%s", p.name, err, tail(p.out.String()))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30 s of SIGTERM", p.name)
		p.kill()
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// testClient is the harness's client for reading status and metrics: it accepts any TLS
// certificate (what the stations and members verify is tested where they verify it).
var testClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

func fetchStatus(url string) (server.StatusResponse, error) {
	var st server.StatusResponse
	resp, err := testClient.Get(url + "/api/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func raftOf(st server.StatusResponse) hub.ClusterStatus {
	var rs hub.ClusterStatus
	b, _ := json.Marshal(st.Raft)
	_ = json.Unmarshal(b, &rs)
	return rs
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	began := time.Now()
	deadline := began.Add(d)
	for {
		ok, state := cond()
		if ok {
			if took := time.Since(began); took > time.Second {
				t.Logf("waited %v for %s", took.Round(time.Millisecond), what)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", d, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hubMember is one member process of a hub cluster.
type hubMember struct {
	id, dir, http, raft, url string
	p                        *process
}

// hubCluster is a hub of real member processes on loopback.
type hubCluster struct {
	t       *testing.T
	members []*hubMember
	urls    []string
	common  []string // flags every member gets
}

func newHubCluster(t *testing.T, root, prefix string, n int, common ...string) *hubCluster {
	c := &hubCluster{t: t, common: common}
	for i := range n {
		c.members = append(c.members, c.newMember(root, fmt.Sprintf("%s-%d", prefix, i+1)))
		c.urls = append(c.urls, c.members[i].url)
	}
	return c
}

func (c *hubCluster) newMember(root, id string) *hubMember {
	m := &hubMember{id: id, dir: filepath.Join(root, id), http: freeAddr(c.t), raft: freeAddr(c.t)}
	m.url = "http://" + m.http
	if slices.Contains(c.common, "--tls") {
		m.url = "https://" + m.http
	}
	return m
}

func (c *hubCluster) start(m *hubMember, extra ...string) {
	args := append([]string{"hub", "--dir", m.dir, "--id", m.id, "--http", m.http, "--raft", m.raft,
		"--url", strings.Join(c.urls, ",")}, c.common...)
	m.p = startProcess(c.t, m.id, append(args, extra...)...)
}

// bootstrap starts every member with the same --bootstrap list (the lowest id makes the
// hub, the others join it) and waits for a leader that sees every member.
func (c *hubCluster) bootstrap(hubID, region string, extra ...string) {
	var list []string
	for _, m := range c.members {
		list = append(list, m.id+"="+m.raft+"="+m.http)
	}
	for _, m := range c.members {
		c.start(m, append([]string{"--hub-id", hubID, "--region", region, "--bootstrap", strings.Join(list, ",")}, extra...)...)
	}
	waitUntil(c.t, 60*time.Second, hubID+": a leader seeing every member", func() (bool, string) {
		l := c.leader()
		if l == nil {
			return false, "no leader"
		}
		st, _ := fetchStatus(l.url)
		return len(raftOf(st).Members) == len(c.members), fmt.Sprintf("%+v", raftOf(st))
	})
	// What an operator's load balancer and Prometheus see of a healthy hub.
	waitUntil(c.t, 30*time.Second, hubID+": every member ready", func() (bool, string) {
		for _, m := range c.members {
			resp, err := testClient.Get(m.url + "/readyz")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false, fmt.Sprint(m.id, " /readyz ", resp.StatusCode)
			}
		}
		return true, ""
	})
	if l := c.leader(); l != nil {
		if v := metrics(c.t, l.url)[`fengqiao_raft_state{state="Leader"}`]; v != 1 {
			c.t.Errorf("leader %s: fengqiao_raft_state{state=\"Leader\"} = %v", l.id, v)
		}
	}
}

func (c *hubCluster) leader() *hubMember {
	for _, m := range c.members {
		if st, err := fetchStatus(m.url); err == nil && raftOf(st).State == "Leader" {
			return m
		}
	}
	return nil
}

// settle waits until every member holds ops ops and has applied the same last entry.
func (c *hubCluster) settle(ops uint64) {
	for _, m := range c.members {
		waitUntil(c.t, 90*time.Second, m.id+" holding every op", func() (bool, string) {
			st, err := fetchStatus(m.url)
			return err == nil && st.Ops == ops, fmt.Sprint(st.Ops, "/", ops, err)
		})
	}
	waitUntil(c.t, 30*time.Second, "every member applied the same last entry", func() (bool, string) {
		var idx []uint64
		for _, m := range c.members {
			st, err := fetchStatus(m.url)
			if err != nil {
				return false, err.Error()
			}
			idx = append(idx, raftOf(st).AppliedIndex)
		}
		for _, i := range idx {
			if i != idx[0] {
				return false, fmt.Sprint(idx)
			}
		}
		return true, ""
	})
}

// stopAndCompare stops every member and fails unless their replicated keyspaces are the
// same bytes.
func (c *hubCluster) stopAndCompare() {
	for _, m := range c.members {
		m.p.stop(c.t)
	}
	var first [32]byte
	for i, m := range c.members {
		r, err := node.Open(filepath.Join(m.dir, "replica"), node.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			c.t.Fatal(err)
		}
		d, err := r.KeyspaceDigest()
		_ = r.Close()
		if err != nil {
			c.t.Fatal(err)
		}
		if i == 0 {
			first = d
		} else if d != first {
			c.t.Fatalf("%s differs from %s after the run: %x vs %x", m.id, c.members[0].id, d[:6], first[:6])
		}
	}
}

// workload returns the output of ../shared/workload/gen.py for args (skipping the test
// where it is missing). The workloads these tests use are committed in testdata (gen.py's output is deterministic),
// so they run where ../shared is not beside the repository, as in CI's clean clone; other
// arguments need gen.py.
func workload(t *testing.T, args ...string) []byte {
	t.Helper()
	fixture := filepath.Join("testdata", "workload-"+strings.ReplaceAll(strings.Join(args, "-"), "--", "")+".jsonl.gz")
	if f, err := os.Open(fixture); err == nil {
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
		return out
	}
	path := filepath.Join("..", "..", "..", "shared", "workload", "gen.py")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("workload generator not found: %v", err)
	}
	out, err := exec.Command("python3", append([]string{path}, args...)...).Output()
	if err != nil {
		t.Fatalf("gen.py: %v", err)
	}
	return out
}

// startStation enrolls a station at hubURL, imports lines into it and runs it.
func startStation(t *testing.T, root, id, region, hubURL string, lines []byte) (url string, p *process, ops uint64) {
	t.Helper()
	dir := filepath.Join(root, id)
	if o, e, err := runApp(t, commands(), nil, "enroll", "--hub", hubURL, "--dir", dir, "--id", id, "--region", region); err != nil {
		t.Fatalf("enroll %s: %v\n%s\n%s", id, err, o, e)
	}
	work := filepath.Join(root, id+".jsonl")
	if err := os.WriteFile(work, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, err := runApp(t, commands(), nil, "import", "--dir", dir, work); err != nil {
		t.Fatalf("import %s: %v\n%s", id, err, e)
	}
	addr := freeAddr(t)
	p = startProcess(t, id, "station", "--dir", dir, "--http", addr)
	url = "http://" + addr
	waitUntil(t, 30*time.Second, id+"'s status", func() (bool, string) {
		st, err := fetchStatus(url)
		ops = st.FeedSeq
		return err == nil && ops > 0, fmt.Sprint(err)
	})
	return url, p, ops
}

// allAcked waits until the station's hub has acknowledged every op it holds.
func allAcked(t *testing.T, stationURL string, d time.Duration) {
	t.Helper()
	waitUntil(t, d, "every station op acknowledged", func() (bool, string) {
		st, err := fetchStatus(stationURL)
		return err == nil && len(st.Peers) == 1 && st.Peers[0].PendingOps == 0, fmt.Sprintf("%+v %v", st.Peers, err)
	})
}
