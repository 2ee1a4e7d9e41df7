package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// SyncConfig configures the sync benchmark.
type SyncConfig struct {
	Workload string // a workload JSONL; empty: generate one with Gen
	Gen      string
	Cases    int
	Updates  int
	Dir      string // scratch directory; empty: a temporary one, removed after
	// HubCommand, when set, runs the hub in its own process: the fengqiao binary and
	// any leading arguments (the station's peak RSS is then the station's alone). Empty
	// runs the hub in this process (tests).
	HubCommand []string
	// HubStore tunes the hub's replica, and the direct apply the sync is compared with. In
	// its own process the hub gets Compression and the cache and memtable sizes as flags.
	HubStore node.Options
	Log      *slog.Logger
	Progress io.Writer
	// Meter, when set, shows the progress of the import and of the sync (ops acknowledged).
	Meter Meter
	// HeapProfile, when set, is a file to write the station's heap profile to right after
	// the sync (where its peak memory is).
	HeapProfile string
}

// SyncResult holds the figures of the sync benchmark. JSON names are stable.
type SyncResult struct {
	Scenario           string  `json:"scenario"`
	Machine            Machine `json:"machine"`
	Workload           string  `json:"workload"`
	WorkloadGzip       int64   `json:"workload_gzip_bytes"`
	Ops                uint64  `json:"ops"`
	Cases              uint64  `json:"cases"`
	ApplyOpsPerSec     float64 `json:"apply_ops_per_sec"` // the same ops applied directly, this run
	SyncSeconds        float64 `json:"sync_seconds"`      // dial to every op acknowledged
	SyncOpsPerSec      float64 `json:"sync_ops_per_sec"`
	SyncOverApply      float64 `json:"sync_over_apply"`
	WireUp             int64   `json:"wire_bytes_up"` // counted at the station's socket
	WireDown           int64   `json:"wire_bytes_down"`
	WireOverGzip       float64 `json:"wire_over_gzip"`
	ReconnectBytes     int64   `json:"idle_reconnect_bytes"`
	ReconnectSeconds   float64 `json:"idle_reconnect_seconds"`
	StationPeakRSS     int64   `json:"station_peak_rss_bytes"`
	HubInSeparateProc  bool    `json:"hub_in_separate_process"`
	HubStore           string  `json:"hub_store"`
	HubAppliedCheckOps uint64  `json:"hub_ops"`
}

const (
	benchHubRegion     = "420323"
	benchStationRegion = "420323100"
)

// Sync measures a station that holds the workload syncing to an empty hub on loopback:
// time until every op is acknowledged (durably applied at the hub), bytes on the wire
// both ways, an idle reconnect's bytes and time, and the station's peak RSS.
func Sync(ctx context.Context, cfg SyncConfig) (SyncResult, error) {
	res := SyncResult{Scenario: "sync", Machine: ThisMachine(), HubInSeparateProc: len(cfg.HubCommand) > 0, HubStore: fmt.Sprintf("compression %s, block cache %d MiB, head cache %d MiB, memtable %d MiB",
		cfg.HubStore.Compression, cfg.HubStore.CacheSize>>20, cfg.HubStore.HeadCacheSize>>20, cfg.HubStore.MemTableSize>>20)}
	logger := cfg.Log
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, cleanup, err := scratchDir(cfg.Dir, "fengqiao-bench-sync-")
	if err != nil {
		return res, err
	}
	defer cleanup()
	wf, err := openWorkload(ctx, cfg.Workload, cfg.Gen, cfg.Cases, cfg.Updates, dir)
	if err != nil {
		return res, err
	}
	defer wf.f.Close()
	f := wf.f
	res.Workload, res.WorkloadGzip = wf.label, wf.gzip

	// The station holds the workload as its own ops.
	station, err := node.Open(filepath.Join(dir, "station"), node.Options{NodeID: "bench-station", Region: benchStationRegion, Logger: logger})
	if err != nil {
		return res, err
	}
	defer func() { station.Close() }() // the station reopened below, not this one
	note(cfg.Progress, "importing the workload into the station")
	var importOpts node.ImportOptions
	finishImport := func() {}
	if cfg.Meter != nil {
		set, finish := cfg.Meter("import (bytes)", wf.size)
		importOpts.Progress, finishImport = func(rep node.ImportReport) { set(rep.Offset) }, finish
	}
	_, err = station.ImportJSONL(ctx, f, wf.size, importOpts)
	finishImport()
	if err != nil {
		return res, err
	}
	res.Ops, res.Cases = station.Status().FeedSeq, station.Status().Cases
	if err := station.Compact(ctx); err != nil {
		return res, err
	}

	// The apply rate of this run: the same ops straight into a replica, as a hub applies them.
	note(cfg.Progress, "measuring the direct apply rate")
	if res.ApplyOpsPerSec, err = directApply(ctx, station, filepath.Join(dir, "apply-ref"), cfg.HubStore, logger); err != nil {
		return res, err
	}
	// A station syncs long after its data was written: reopen it, so that its memory is
	// what syncing needs, not what the import and the reference apply left in caches.
	if err := station.Close(); err != nil {
		return res, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	if station, err = node.Open(filepath.Join(dir, "station"), node.Options{Logger: logger}); err != nil {
		return res, err
	}

	hubURL, stopHub, err := startBenchHub(ctx, cfg, filepath.Join(dir, "hub"), logger)
	if err != nil {
		return res, err
	}
	defer stopHub()
	if _, err := fsync.EnrollStation(ctx, station, hubURL, benchStationRegion, ""); err != nil {
		return res, err
	}

	var up, down atomic.Int64
	dialer := &websocket.Dialer{HandshakeTimeout: 20 * time.Second, ReadBufferSize: 32 << 10, WriteBufferSize: 32 << 10,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, in: &down, out: &up}, nil
		}}
	client, err := fsync.NewStation(fsync.StationConfig{Replica: station, Logger: logger, Dialer: dialer})
	if err != nil {
		return res, err
	}

	note(cfg.Progress, "syncing %d ops to the hub", res.Ops)
	ResetPeakRSS()
	start := time.Now()
	stopMeter := meterWhile(ctx, cfg.Meter, "sync (ops acknowledged)", int64(res.Ops), func() int64 { return int64(client.Status().Acked.Pos) })
	secs, err := syncUntilIdle(ctx, client, hubURL, func() bool { return client.Status().Acked.Pos >= res.Ops })
	stopMeter()
	if err != nil {
		return res, err
	}
	res.SyncSeconds = secs
	res.StationPeakRSS = PeakRSS()
	res.SyncOpsPerSec = float64(res.Ops) / res.SyncSeconds
	res.SyncOverApply = res.SyncOpsPerSec / res.ApplyOpsPerSec
	res.WireUp, res.WireDown = up.Load(), down.Load()
	if cfg.HeapProfile != "" {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return res, err
		}
	}
	res.WireOverGzip = float64(res.WireUp+res.WireDown) / float64(res.WorkloadGzip)
	_ = start

	note(cfg.Progress, "idle reconnect")
	up.Store(0)
	down.Store(0)
	if res.ReconnectSeconds, err = syncUntilIdle(ctx, client, hubURL, func() bool { return true }); err != nil {
		return res, err
	}
	res.ReconnectBytes = up.Load() + down.Load()
	res.HubAppliedCheckOps = hubOps(hubURL)
	return res, nil
}

// syncUntilIdle runs one session until done() holds and both sides have caught up, and
// returns the seconds from dialling until then.
func syncUntilIdle(ctx context.Context, client *fsync.Station, url string, done func() bool) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	before := client.Stats() // the last session's, before this one can replace it
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- client.Connect(ctx, url) }()
	for {
		if s := client.Stats(); s != nil && s != before && s.CaughtUp.Load() && s.PeerCaughtUp.Load() && done() {
			secs := time.Since(start).Seconds()
			cancel()
			<-errc
			return secs, nil
		}
		select {
		case err := <-errc:
			return 0, fmt.Errorf("session ended before sync completed: %w", err)
		case <-time.After(time.Millisecond):
		}
	}
}

// directApply applies station's feed to a fresh replica in session-sized batches, under a
// station's writer rule with receipt stamping, and returns ops/s.
func directApply(ctx context.Context, station *node.Replica, dir string, hubStore node.Options, logger *slog.Logger) (float64, error) {
	o := hubStore
	o.NodeID, o.Region, o.Logger = "bench-ref", benchHubRegion, logger
	ref, err := node.Open(dir, o)
	if err != nil {
		return 0, err
	}
	defer func() { ref.Close(); os.RemoveAll(dir) }()
	rule := &node.WriterRule{Node: station.Origin().Node, Scopes: []string{node.ScopeOfRegion(benchStationRegion), node.ScopeOfStation(station.Origin().Node)}}
	start := time.Now()
	var after uint64
	for {
		entries, next, err := station.Feed(after, 8000, "")
		if err != nil {
			return 0, err
		}
		if len(entries) == 0 {
			break
		}
		in := make([]node.Incoming, len(entries))
		for i, e := range entries {
			op, err := cases.DecodeOp(e.Raw)
			if err != nil {
				return 0, err
			}
			in[i] = node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta}
		}
		if _, err := ref.Apply(ctx, node.Batch{From: station.Origin().Node, Ops: in, Writer: rule, StampReceipt: true,
			Checkpoint: &node.Checkpoint{Epoch: station.Epoch(), Pos: next}}); err != nil {
			return 0, err
		}
		after = next
	}
	return float64(ref.Status().FeedSeq) / time.Since(start).Seconds(), nil
}

// startBenchHub starts the hub, in its own process when cfg.HubCommand is set, and returns
// its URL and a function that stops it.
func startBenchHub(ctx context.Context, cfg SyncConfig, dir string, logger *slog.Logger) (string, func(), error) {
	if len(cfg.HubCommand) == 0 {
		o := cfg.HubStore
		o.NodeID, o.Region, o.Logger = "bench-hub", benchHubRegion, logger
		r, err := node.Open(dir, o)
		if err != nil {
			return "", nil, err
		}
		hub := fsync.NewHub(fsync.HubConfig{Replica: r, Logger: logger})
		mux := http.NewServeMux()
		mux.Handle("/sync", hub)
		mux.Handle("/api/v1/enroll", hub.EnrollHandler(""))
		mux.HandleFunc("/api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]any{"ops": r.Status().FeedSeq})
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			r.Close()
			return "", nil, err
		}
		srv := &http.Server{Handler: mux}
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String(), func() { _ = srv.Close(); r.Close() }, nil
	}
	args := append(cfg.HubCommand[1:len(cfg.HubCommand):len(cfg.HubCommand)], "hub", "--dir", dir, "--id", "bench-hub",
		"--region", benchHubRegion, "--http", "127.0.0.1:0")
	if o := cfg.HubStore; o.Compression != "" {
		args = append(args, "--compression", o.Compression)
	}
	if o := cfg.HubStore; o.CacheSize > 0 {
		args = append(args, "--cache-mib", fmt.Sprint(o.CacheSize>>20))
	}
	if o := cfg.HubStore; o.HeadCacheSize != 0 {
		args = append(args, "--head-cache-mib", fmt.Sprint(o.HeadCacheSize>>20))
	}
	if o := cfg.HubStore; o.MemTableSize > 0 {
		args = append(args, "--memtable-mib", fmt.Sprint(o.MemTableSize>>20))
	}
	cmd := exec.CommandContext(ctx, cfg.HubCommand[0], args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				HTTP string `json:"http"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "hub serving" {
				urlc <- line.HTTP
			}
		}
	}()
	select {
	case u := <-urlc:
		return u, stop, nil
	case <-time.After(30 * time.Second):
		stop()
		return "", nil, fmt.Errorf("the hub process did not start serving within 30s")
	}
}

func hubOps(url string) uint64 {
	resp, err := http.Get(url + "/api/v1/status")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		Ops uint64 `json:"ops"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st.Ops
}

func note(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "  "+strings.TrimSpace(format)+"\n", args...)
	}
}

// countingConn counts the bytes that cross a socket.
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
