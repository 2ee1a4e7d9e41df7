package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/dirs"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
	"github.com/fengqiao/fengqiao/server/raftstore"
)

// HubConfig configures the hub benchmark.
type HubConfig struct {
	Workload string // a workload JSONL; empty: gen.py Cases Updates --county 420323
	Gen      string
	Cases    int
	Updates  int
	Dir      string
	Stations int // simulated stations pushing at once; default 10
	BatchOps int // ops per push (one raft entry); default 500
	Log      *slog.Logger
	Progress io.Writer
}

// HubResult holds the figures of the hub benchmark. JSON names are stable.
type HubResult struct {
	Scenario          string  `json:"scenario"`
	Machine           Machine `json:"machine"`
	Workload          string  `json:"workload"`
	Ops               uint64  `json:"ops"`
	Stations          int     `json:"stations"`
	BatchOps          int     `json:"batch_ops"`
	Transport         string  `json:"transport"`
	Seconds           float64 `json:"seconds"`
	OpsPerSec         float64 `json:"ops_per_sec"`
	EntriesPerSec     float64 `json:"entries_per_sec"`
	AckP50Millis      float64 `json:"push_ack_p50_ms"`
	AckP99Millis      float64 `json:"push_ack_p99_ms"`
	BaselineSeconds   float64 `json:"baseline_seconds"`
	BaselineOpsPerSec float64 `json:"baseline_ops_per_sec"`
	OverBaseline      float64 `json:"over_baseline"`
}

// Hub measures a 3-member hub (three raft servers in this process, TCP transport on
// loopback, each member with its raftstore log and its replica on disk): Stations simulated
// stations push their own ops concurrently, BatchOps per entry, each push acknowledged after
// commit and apply. The baseline is plain hashicorp/raft on the same stores and transport
// whose FSM writes each entry's bytes to Pebble, synced — the same entries, no replica.
func Hub(ctx context.Context, cfg HubConfig) (HubResult, error) {
	if cfg.Stations <= 0 {
		cfg.Stations = 10
	}
	if cfg.BatchOps <= 0 {
		cfg.BatchOps = 500
	}
	res := HubResult{Scenario: "hub", Machine: ThisMachine(), Stations: cfg.Stations, BatchOps: cfg.BatchOps,
		Transport: "raft TCP on loopback, no TLS"}
	logger := cfg.Log
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, cleanup, err := scratchDir(cfg.Dir, "fengqiao-bench-hub-")
	if err != nil {
		return res, err
	}
	defer cleanup()
	wfile := cfg.Workload
	if wfile == "" {
		wfile = filepath.Join(dir, "workload.jsonl")
		if err := generate(ctx, cfg.Gen, cfg.Cases, cfg.Updates, wfile, "--county", benchHubRegion); err != nil {
			return res, err
		}
		res.Workload = fmt.Sprintf("gen.py %d %d --county %s", cfg.Cases, cfg.Updates, benchHubRegion)
	} else {
		res.Workload = wfile
	}
	note(cfg.Progress, "importing the workload into %d stations", cfg.Stations)
	entries, ops, err := stationEntries(ctx, wfile, filepath.Join(dir, "stations"), cfg.Stations, cfg.BatchOps, logger)
	if err != nil {
		return res, err
	}
	res.Ops = ops

	note(cfg.Progress, "pushing %d ops in %d entries through a 3-member hub", ops, countEntries(entries))
	secs, lat, err := runHub(ctx, filepath.Join(dir, "hub"), entries, logger, false)
	if err != nil {
		return res, err
	}
	res.Seconds = secs
	res.OpsPerSec = float64(ops) / secs
	res.EntriesPerSec = float64(countEntries(entries)) / secs
	slices.Sort(lat)
	res.AckP50Millis = float64(lat[len(lat)/2].Microseconds()) / 1000
	res.AckP99Millis = float64(lat[len(lat)*99/100].Microseconds()) / 1000

	note(cfg.Progress, "baseline: plain raft, the same entries written to Pebble")
	if res.BaselineSeconds, _, err = runHub(ctx, filepath.Join(dir, "baseline"), entries, logger, true); err != nil {
		return res, err
	}
	res.BaselineOpsPerSec = float64(ops) / res.BaselineSeconds
	res.OverBaseline = res.OpsPerSec / res.BaselineOpsPerSec
	return res, nil
}

func countEntries(e [][][]byte) int {
	n := 0
	for _, s := range e {
		n += len(s)
	}
	return n
}

// stationEntries splits the workload by case among n stations, imports each share into its
// own station replica, and encodes each station's feed as hub entries of batchOps ops.
func stationEntries(ctx context.Context, wfile, dir string, n, batchOps int, logger *slog.Logger) ([][][]byte, uint64, error) {
	shares := make([][]byte, n)
	f, err := os.Open(wfile)
	if err != nil {
		return nil, 0, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var l struct {
			ID   string `json:"id"`
			Case struct {
				ID string `json:"id"`
			} `json:"case"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		id := l.ID + l.Case.ID
		h := fnv.New32a()
		h.Write([]byte(id))
		k := int(h.Sum32() % uint32(n))
		shares[k] = append(append(shares[k], sc.Bytes()...), '\n')
	}
	f.Close()
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	out := make([][][]byte, n)
	var total uint64
	for k := range n {
		id := fmt.Sprintf("bench-st%03d", k)
		r, err := node.Open(filepath.Join(dir, id), node.Options{NodeID: id, Region: benchStationRegion, Logger: logger})
		if err != nil {
			return nil, 0, err
		}
		if _, err := r.ImportJSONL(ctx, bytes.NewReader(shares[k]), int64(len(shares[k])), node.ImportOptions{}); err != nil {
			r.Close()
			return nil, 0, err
		}
		for after := uint64(0); ; {
			feed, next, err := r.Feed(after, batchOps, "")
			if err != nil {
				r.Close()
				return nil, 0, err
			}
			if len(feed) == 0 {
				break
			}
			b := node.Batch{From: id, StampReceipt: true, Checkpoint: &node.Checkpoint{Epoch: r.Epoch(), Pos: next},
				Writer: &node.WriterRule{Node: id, Scopes: []string{node.ScopeOfRegion(benchStationRegion), node.ScopeOfStation(id)}}}
			for _, e := range feed {
				op, err := cases.DecodeOp(e.Raw)
				if err != nil {
					r.Close()
					return nil, 0, err
				}
				b.Ops = append(b.Ops, node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta})
			}
			out[k] = append(out[k], hub.EncodeBatch(&b))
			total += uint64(len(feed))
			after = next
		}
		r.Close()
		shares[k] = nil
	}
	return out, total, nil
}

// benchMember is one raft server of the benchmark's hub.
type benchMember struct {
	raft  *raft.Raft
	store *raftstore.Store
	trans *raft.NetworkTransport
	fsm   *hub.FSM
	base  *pebbleFSM
}

// runHub starts three members in dir, pushes every station's entries concurrently through
// the leader, and returns the seconds it took and each push's ack latency. baseline runs
// plain raft with an FSM that writes the entry bytes to Pebble.
func runHub(ctx context.Context, dir string, entries [][][]byte, logger *slog.Logger, baseline bool) (float64, []time.Duration, error) {
	var members []*benchMember
	var servers []raft.Server
	defer func() {
		for _, m := range members {
			if m.raft != nil {
				_ = m.raft.Shutdown().Error()
			}
			if m.trans != nil {
				_ = m.trans.Close()
			}
			if m.store != nil {
				_ = m.store.Close()
			}
			if m.fsm != nil {
				_ = m.fsm.Close()
			}
			if m.base != nil {
				_ = m.base.db.Close()
			}
		}
	}()
	seedDir := filepath.Join(dir, "seed")
	if !baseline {
		seed, err := node.Open(seedDir, node.Options{NodeID: "bench-hub", Region: benchHubRegion, Logger: logger})
		if err != nil {
			return 0, nil, err
		}
		if err := seed.Close(); err != nil {
			return 0, nil, err
		}
	}
	for i := range 3 {
		mdir := filepath.Join(dir, fmt.Sprint("m", i))
		m := &benchMember{}
		members = append(members, m)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, nil, err
		}
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close()
		if m.trans, err = raft.NewTCPTransport(addr.String(), addr, 8, 10*time.Second, io.Discard); err != nil {
			return 0, nil, err
		}
		if m.store, err = raftstore.Open(filepath.Join(mdir, "raft"), raftstore.Options{Logger: logger}); err != nil {
			return 0, nil, err
		}
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprint("m", i)), Address: m.trans.LocalAddr()})
		if baseline {
			db, err := pebble.Open(filepath.Join(mdir, "fsm"), &pebble.Options{})
			if err != nil {
				return 0, nil, err
			}
			m.base = &pebbleFSM{db: db}
		} else {
			if err := dirs.Copy(seedDir, filepath.Join(mdir, "replica")); err != nil {
				return 0, nil, err
			}
			hd := node.HubDefaults()
			hd.Logger = logger
			if m.fsm, err = hub.OpenFSM(filepath.Join(mdir, "replica"), hd, logger); err != nil {
				return 0, nil, err
			}
		}
	}
	for i, m := range members {
		conf := raft.DefaultConfig()
		conf.LocalID = servers[i].ID
		conf.LogOutput = io.Discard
		conf.SnapshotThreshold, conf.SnapshotInterval = 1<<40, time.Hour
		if err := raft.BootstrapCluster(conf, m.store, m.store, raft.NewInmemSnapshotStore(), m.trans, raft.Configuration{Servers: servers}); err != nil {
			return 0, nil, err
		}
		var fsm raft.FSM = m.base
		if !baseline {
			fsm = m.fsm
		}
		r, err := raft.NewRaft(conf, fsm, m.store, m.store, raft.NewInmemSnapshotStore(), m.trans)
		if err != nil {
			return 0, nil, err
		}
		m.raft = r
	}
	leader := func() (*benchMember, error) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range members {
				if m.raft.State() == raft.Leader {
					return m, nil
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil, fmt.Errorf("no raft leader within 30s")
	}
	if _, err := leader(); err != nil {
		return 0, nil, err
	}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	for _, es := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range es {
				t0 := time.Now()
				for {
					l, err := leader()
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					f := l.raft.Apply(e, 30*time.Second)
					if err := f.Error(); err == raft.ErrNotLeader || err == raft.ErrLeadershipLost {
						continue
					} else if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					if r, ok := f.Response().(hub.ApplyResult); ok && r.Err != nil {
						mu.Lock()
						errs = append(errs, r.Err)
						mu.Unlock()
						return
					}
					break
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if len(errs) > 0 {
		return 0, nil, errs[0]
	}
	return secs, lat, ctx.Err()
}

// pebbleFSM is the baseline's state machine: each entry's bytes under its index, synced.
type pebbleFSM struct{ db *pebble.DB }

func (f *pebbleFSM) Apply(l *raft.Log) any {
	return f.db.Set(be64key(l.Index), l.Data, pebble.Sync)
}

func (f *pebbleFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("no snapshots") }
func (f *pebbleFSM) Restore(rc io.ReadCloser) error      { rc.Close(); return fmt.Errorf("no snapshots") }

func be64key(v uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}
