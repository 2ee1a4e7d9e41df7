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
	"sync/atomic"
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
	// HalfLoad, after the run at full speed, runs again with the stations pushing on a
	// schedule that offers half the ops/s the full run reached, and reports the push-ack
	// latency under that load (from each push's scheduled time, so a late start counts).
	HalfLoad bool
	Log      *slog.Logger
	Progress io.Writer
	// Meter, when set, shows each run's progress (entries acknowledged).
	Meter Meter
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
	// CPU (user + system, every thread of the process: all three members, their raft, logs
	// and compactions) per op pushed, for the hub run and the baseline run: steadier than
	// the wall-time rates on a shared machine.
	CPUMicrosPerOp         float64 `json:"cpu_us_per_op"`
	BaselineCPUMicrosPerOp float64 `json:"baseline_cpu_us_per_op"`
	// What the baseline's FSM writes per byte of entry: the replica's own write volume,
	// measured on a member after the hub run (WAL bytes and keys per entry byte).
	BaselineWALBytesPerOp float64 `json:"baseline_wal_bytes_per_op"`
	BaselineKeysPerOp     float64 `json:"baseline_keys_per_op"`
	// The half-load run (HubConfig.HalfLoad).
	HalfLoadOffered   float64 `json:"half_load_offered_ops_per_sec,omitempty"`
	HalfLoadOpsPerSec float64 `json:"half_load_ops_per_sec,omitempty"`
	HalfLoadP50Millis float64 `json:"half_load_ack_p50_ms,omitempty"`
	HalfLoadP99Millis float64 `json:"half_load_ack_p99_ms,omitempty"`
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
	full, err := runHub(ctx, hubRun{dir: filepath.Join(dir, "hub"), entries: entries, log: logger, meter: cfg.Meter, label: "hub: entries acknowledged"})
	if err != nil {
		return res, err
	}
	res.Seconds = full.secs
	res.OpsPerSec = float64(ops) / full.secs
	res.CPUMicrosPerOp = full.cpu * 1e6 / float64(ops)
	res.EntriesPerSec = float64(countEntries(entries)) / full.secs
	res.AckP50Millis, res.AckP99Millis = percentiles(full.lat)

	// The baseline writes, per entry byte, what the replica wrote per entry byte.
	entryBytes := 0
	for _, es := range entries {
		for _, e := range es {
			entryBytes += len(e)
		}
	}
	shape := &baselineShape{bytesPerByte: float64(full.walBytes) / float64(entryBytes), keysPerByte: float64(full.keys) / float64(entryBytes)}
	res.BaselineWALBytesPerOp, res.BaselineKeysPerOp = float64(full.walBytes)/float64(ops), float64(full.keys)/float64(ops)
	note(cfg.Progress, "baseline: plain raft, its FSM writing the replica's volume (%.0f bytes, %.1f keys per op) to Pebble",
		res.BaselineWALBytesPerOp, res.BaselineKeysPerOp)
	base, err := runHub(ctx, hubRun{dir: filepath.Join(dir, "baseline"), entries: entries, log: logger, baseline: shape, meter: cfg.Meter, label: "baseline: entries acknowledged"})
	if err != nil {
		return res, err
	}
	res.BaselineSeconds = base.secs
	res.BaselineOpsPerSec = float64(ops) / res.BaselineSeconds
	res.BaselineCPUMicrosPerOp = base.cpu * 1e6 / float64(ops)
	res.OverBaseline = res.OpsPerSec / res.BaselineOpsPerSec

	if cfg.HalfLoad {
		res.HalfLoadOffered = res.OpsPerSec / 2
		note(cfg.Progress, "half load: %.0f ops/s offered by %d stations on a schedule", res.HalfLoadOffered, cfg.Stations)
		half, err := runHub(ctx, hubRun{dir: filepath.Join(dir, "half"), entries: entries, log: logger, rate: res.HalfLoadOffered, meter: cfg.Meter, label: "half load: entries acknowledged"})
		if err != nil {
			return res, err
		}
		res.HalfLoadOpsPerSec = float64(ops) / half.secs
		res.HalfLoadP50Millis, res.HalfLoadP99Millis = percentiles(half.lat)
	}
	return res, nil
}

func percentiles(lat []time.Duration) (p50, p99 float64) {
	slices.Sort(lat)
	return float64(lat[len(lat)/2].Microseconds()) / 1000, float64(lat[len(lat)*99/100].Microseconds()) / 1000
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

// hubRun is one run of runHub.
type hubRun struct {
	dir      string
	entries  [][][]byte // per station, its entries in order
	log      *slog.Logger
	baseline *baselineShape // plain raft whose FSM writes this volume; nil: the hub
	rate     float64        // ops/s offered on a schedule; 0: each station as fast as acks come
	meter    Meter          // shows the pushes' progress (entries acknowledged); may be nil
	label    string         // the meter's label
}

// hubRunResult is what a run measured: its seconds, each push's ack latency and, for the
// hub, member 0's write volume.
type hubRunResult struct {
	secs, cpu      float64 // wall and CPU seconds of the pushes
	lat            []time.Duration
	walBytes, keys uint64
}

// runHub starts three members in run.dir and pushes every station's entries concurrently
// through the leader.
func runHub(ctx context.Context, run hubRun) (res hubRunResult, err error) {
	dir, entries, logger, baseline := run.dir, run.entries, run.log, run.baseline != nil
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
			return res, err
		}
		if err := seed.Close(); err != nil {
			return res, err
		}
	}
	for i := range 3 {
		mdir := filepath.Join(dir, fmt.Sprint("m", i))
		m := &benchMember{}
		members = append(members, m)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return res, err
		}
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close()
		if m.trans, err = raft.NewTCPTransport(addr.String(), addr, 8, 10*time.Second, io.Discard); err != nil {
			return res, err
		}
		if m.store, err = raftstore.Open(filepath.Join(mdir, "raft"), raftstore.Options{Logger: logger}); err != nil {
			return res, err
		}
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprint("m", i)), Address: m.trans.LocalAddr()})
		if baseline {
			db, err := pebble.Open(filepath.Join(mdir, "fsm"), &pebble.Options{MemTableSize: 64 << 20, Logger: quietPebble{}}) // as node.HubDefaults
			if err != nil {
				return res, err
			}
			m.base = &pebbleFSM{db: db, shape: *run.baseline}
		} else {
			if err := dirs.Copy(seedDir, filepath.Join(mdir, "replica")); err != nil {
				return res, err
			}
			hd := node.HubDefaults()
			hd.Logger = logger
			if m.fsm, err = hub.OpenFSM(filepath.Join(mdir, "replica"), hd, logger); err != nil {
				return res, err
			}
		}
	}
	for i, m := range members {
		conf := raft.DefaultConfig()
		conf.LocalID = servers[i].ID
		conf.LogOutput = io.Discard
		conf.SnapshotThreshold, conf.SnapshotInterval = 1<<40, time.Hour
		if err := raft.BootstrapCluster(conf, m.store, m.store, raft.NewInmemSnapshotStore(), m.trans, raft.Configuration{Servers: servers}); err != nil {
			return res, err
		}
		var fsm raft.FSM = m.base
		if !baseline {
			fsm = m.fsm
		}
		r, err := raft.NewRaft(conf, fsm, m.store, m.store, raft.NewInmemSnapshotStore(), m.trans)
		if err != nil {
			return res, err
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
		return res, err
	}
	var (
		mu    sync.Mutex
		lat   []time.Duration
		acked atomic.Int64
		errs  []error
		wg    sync.WaitGroup
	)
	start, cpu := time.Now(), CPUSeconds()
	for i, es := range entries {
		wg.Add(1)
		sched := newSchedule(start, es, run.rate/float64(len(entries)), i, len(entries))
		go func() {
			defer wg.Done()
			for k, e := range es {
				t0 := sched.wait(ctx, k)
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
				acked.Add(1)
			}
		}()
	}
	stopMeter := meterWhile(ctx, run.meter, run.label, int64(countEntries(entries)), acked.Load)
	wg.Wait()
	stopMeter()
	secs, cpuSecs := time.Since(start).Seconds(), CPUSeconds()-cpu
	if len(errs) > 0 {
		return res, errs[0]
	}
	res.secs, res.cpu, res.lat = secs, cpuSecs, lat
	if !baseline {
		if res.walBytes, res.keys, err = members[0].fsm.Replica().WriteVolume(); err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
}

func be64key(v uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}
