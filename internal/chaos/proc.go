package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"time"

	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/server/hub"
)

// proc is one process of the binary the controller runs, restarted as often as the run
// wants under the same name and log file.
type proc struct {
	name string
	exe  string
	env  []string
	log  string // appended to by every life of the process

	mu       gosync.Mutex
	args     []string
	cmd      *exec.Cmd
	done     chan struct{}
	killed   bool   // the controller ended this life
	exitNote string // how an unexpected exit ended, once it happened
	lives    int
}

func (p *proc) start(args []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.name)
	}
	if args != nil {
		p.args = args
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.lives++
	fmt.Fprintf(f, "\n===== %s life %d at %s: %v\n", p.name, p.lives, time.Now().Format(time.RFC3339Nano), p.args)
	cmd := exec.Command(p.exe, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.killed = cmd, done, false
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		if !p.killed && p.exitNote == "" {
			p.exitNote = fmt.Sprintf("%s exited on its own in life %d: %v", p.name, p.lives, err)
		}
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// signal ends the current life with sig (SIGKILL: a crash; SIGTERM: an orderly stop) and
// waits for it, at most timeout (then SIGKILL).
func (p *proc) signal(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return nil
	}
	p.killed = true
	p.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not stop within %v of %v", p.name, timeout, sig)
	}
}

func (p *proc) kill() { _ = p.signal(syscall.SIGKILL, time.Minute) }

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// unexpected is the note of an exit the controller did not cause, or "".
func (p *proc) unexpected() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitNote
}

// freeAddr picks a loopback address for a process that the controller restarts under the
// same address (a hub member's Raft and HTTP addresses are in the cluster's configuration;
// a station's is where its status is read). A port the kernel hands out (":0") comes from
// the ephemeral range, which every outgoing connection of the run draws from as well: while
// a process was down between lives, a connection could take its port and the next life
// failed with "address already in use" (seen in a 10-minute run). Ports are picked below
// the ephemeral range, where no connection lands, and never twice in a run.
func freeAddr() (string, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi := listenRange()
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		if portsGiven[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use by something else on the machine
		}
		ln.Close()
		portsGiven[port] = true
		return addr, nil
	}
	return "", fmt.Errorf("no free loopback port in %d-%d", lo, hi)
}

var (
	portsMu    gosync.Mutex
	portsGiven = map[int]bool{}
)

// listenRange is the range freeAddr picks from: from 10000 up to the start of the kernel's
// ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range, 32768 by default).
func listenRange() (lo, hi int) {
	lo, hi = 10000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		if start, err := strconv.Atoi(f[0]); err == nil && start > lo+1000 {
			hi = start
		}
	}
	return lo, hi
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func fetchStatus(ctx context.Context, url string) (server.StatusResponse, error) {
	var st server.StatusResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func raftOf(st server.StatusResponse) hub.ClusterStatus {
	var rs hub.ClusterStatus
	b, _ := json.Marshal(st.Raft)
	_ = json.Unmarshal(b, &rs)
	return rs
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(ctx context.Context, d time.Duration, what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s; last: %s", d, what, state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
