package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// ApplyConfig configures the apply benchmark.
type ApplyConfig struct {
	Workload  string // a workload JSONL; empty: generate one with Gen
	Gen       string // path of ../shared/workload/gen.py
	Cases     int    // gen.py N
	Updates   int    // gen.py UPDATES_PER_CASE
	BatchSize int    // lines (ops) per synced batch
	Dir       string // scratch directory; empty: a temporary one, removed after
	Log       *slog.Logger
	Progress  io.Writer // periodic progress lines; nil: none
	// Meter, when set, shows the import's progress instead of Progress's lines (the binary
	// gives a bar on a terminal).
	Meter Meter
	// Store tunes the replicas (caches, memtable); zero fields mean node's defaults.
	Store node.Options
	// ImportOnly skips the replicated phase (quicker A/B runs of the import).
	ImportOnly bool
	// Metrics, if set, receives Pebble's metrics of the imported store at the end of the
	// import (before the full compaction).
	Metrics io.Writer
}

// ApplyResult holds the figures of the apply benchmark. JSON names are stable.
type ApplyResult struct {
	Scenario         string  `json:"scenario"`
	Machine          Machine `json:"machine"`
	Workload         string  `json:"workload"`
	WorkloadBytes    int64   `json:"workload_bytes"`
	WorkloadGzip     int64   `json:"workload_gzip_bytes"`
	BatchSize        int     `json:"batch_ops"`
	Ops              int     `json:"ops"`
	Cases            uint64  `json:"cases"`
	ImportSeconds    float64 `json:"import_seconds"`
	ImportOpsPerSec  float64 `json:"import_ops_per_sec"`
	ImportPeakRSS    int64   `json:"import_peak_rss_bytes"`
	ReplicaSeconds   float64 `json:"replicate_seconds"`
	ReplicaOpsPerSec float64 `json:"replicate_ops_per_sec"`
	ReplicaPeakRSS   int64   `json:"replicate_peak_rss_bytes"`
	DiskBytes        int64   `json:"disk_bytes_compacted"`
	DiskOverGzip     float64 `json:"disk_over_gzip"`
	ReopenSeconds    float64 `json:"reopen_seconds"`
	// CPU seconds (user + system, every thread: compactions included) per phase, and µs of
	// CPU per op; steadier than wall time on a shared machine.
	ImportCPUSeconds      float64 `json:"import_cpu_seconds"`
	ImportCPUMicrosPerOp  float64 `json:"import_cpu_us_per_op"`
	CompactCPUSeconds     float64 `json:"compact_cpu_seconds"`
	ReplicaCPUSeconds     float64 `json:"replicate_cpu_seconds"`
	ReplicaCPUMicrosPerOp float64 `json:"replicate_cpu_us_per_op"`
	PebbleOptions         string  `json:"pebble_options"`
}

// Apply measures how fast a fresh replica takes the workload: (1) imported as local ops from
// the JSONL file (parse, strict validation, op building, durable apply), and (2) the same ops
// applied by a second replica as replicated batches (the path a sync session drives). Then
// disk use after a full compaction, and the time to reopen the store.
func Apply(ctx context.Context, cfg ApplyConfig) (ApplyResult, error) {
	res := ApplyResult{Scenario: "apply", Machine: ThisMachine(), BatchSize: cfg.BatchSize}
	if res.BatchSize <= 0 {
		res.BatchSize = 1000
	}
	dir, cleanup, err := scratchDir(cfg.Dir, "fengqiao-bench-apply-")
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
	res.Workload, res.WorkloadBytes, res.WorkloadGzip = wf.label, wf.size, wf.gzip

	// (1) Import as local ops.
	logger := cfg.Log
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	storeA := filepath.Join(dir, "a")
	opts := func(id string) node.Options {
		o := cfg.Store
		o.NodeID, o.Region, o.Logger = id, "", logger
		return o
	}
	a, err := node.Open(storeA, opts("bench-a"))
	if err != nil {
		return res, err
	}
	ResetPeakRSS()
	start, cpu := time.Now(), CPUSeconds()
	report := progress(cfg.Progress, start)
	if cfg.Meter != nil {
		set, finish := cfg.Meter("import (bytes)", wf.size)
		defer finish()
		report = func(rep node.ImportReport) { set(rep.Offset) }
	}
	rep, err := a.ImportJSONL(ctx, f, wf.size, node.ImportOptions{BatchSize: res.BatchSize, Progress: report})
	if err != nil {
		a.Close()
		return res, err
	}
	res.ImportSeconds = time.Since(start).Seconds()
	res.ImportCPUSeconds = CPUSeconds() - cpu
	res.ImportPeakRSS = PeakRSS()
	res.Ops = rep.Ops
	res.ImportOpsPerSec = float64(rep.Ops) / res.ImportSeconds
	if rep.Ops > 0 {
		res.ImportCPUMicrosPerOp = res.ImportCPUSeconds * 1e6 / float64(rep.Ops)
	}
	if len(rep.Rejected) > 0 {
		logger.Warn("workload lines refused", "count", len(rep.Rejected), "first", rep.Rejected[0].Error())
	}
	res.Cases = a.Status().Cases
	res.PebbleOptions = a.PebbleOptionsSummary()
	if cfg.Metrics != nil {
		fmt.Fprintf(cfg.Metrics, "pebble metrics after the import:\n%s\n", a.PebbleMetrics())
	}
	// Settle a's compactions before the next phase, so that it measures b alone.
	cpu = CPUSeconds()
	if err := a.Compact(ctx); err != nil {
		a.Close()
		return res, err
	}
	res.CompactCPUSeconds = CPUSeconds() - cpu

	if cfg.ImportOnly {
		return res, finishApply(ctx, &res, a, storeA, opts(""))
	}

	// (2) The same ops as replicated batches into a second replica.
	b, err := node.Open(filepath.Join(dir, "b"), opts("bench-b"))
	if err != nil {
		a.Close()
		return res, err
	}
	ResetPeakRSS()
	start, cpu = time.Now(), CPUSeconds()
	if err := replicate(ctx, a, b, res.BatchSize); err != nil {
		a.Close()
		b.Close()
		return res, err
	}
	res.ReplicaSeconds = time.Since(start).Seconds()
	res.ReplicaCPUSeconds = CPUSeconds() - cpu
	res.ReplicaPeakRSS = PeakRSS()
	res.ReplicaOpsPerSec = float64(b.Status().FeedSeq) / res.ReplicaSeconds
	if n := b.Status().FeedSeq; n > 0 {
		res.ReplicaCPUMicrosPerOp = res.ReplicaCPUSeconds * 1e6 / float64(n)
	}
	if err := b.Close(); err != nil {
		return res, err
	}

	return res, finishApply(ctx, &res, a, storeA, opts(""))
}

// finishApply closes the imported store a, reopens it (timed) and measures its disk use.
func finishApply(ctx context.Context, res *ApplyResult, a *node.Replica, storeA string, reopen node.Options) error {
	// Disk after compaction, and reopen.
	if err := a.Close(); err != nil {
		return err
	}
	start := time.Now()
	a, err := node.Open(storeA, reopen)
	if err != nil {
		return err
	}
	res.ReopenSeconds = time.Since(start).Seconds()
	if got := a.Status().FeedSeq; got != uint64(res.Ops) {
		a.Close()
		return fmt.Errorf("reopened store holds %d ops, wrote %d", got, res.Ops)
	}
	if err := a.Close(); err != nil {
		return err
	}
	// Measured after the reopen: Pebble deletes obsolete WAL files there, not always at Close.
	res.DiskBytes = DirSize(storeA)
	res.DiskOverGzip = float64(res.DiskBytes) / float64(res.WorkloadGzip)
	return nil
}

// replicate moves every op of a's feed to b in batches, as a sync session would.
func replicate(ctx context.Context, a, b *node.Replica, batch int) error {
	var after uint64
	for {
		entries, next, err := a.Feed(after, batch, "")
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		in := make([]node.Incoming, len(entries))
		for i, e := range entries {
			op, err := cases.DecodeOp(e.Raw)
			if err != nil {
				return fmt.Errorf("feed %d: %w", e.Pos, err)
			}
			in[i] = node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta}
		}
		if _, err := b.Apply(ctx, node.Batch{From: "bench-a", Ops: in, Checkpoint: &node.Checkpoint{Epoch: a.Epoch(), Pos: next}}); err != nil {
			return err
		}
		after = next
	}
}

// Meter starts showing progress of label towards total units; set reports the units done,
// finish ends the display.
type Meter func(label string, total int64) (set func(done int64), finish func())

// meterWhile shows, when m is set, the progress that done reports (polled every 200 ms)
// until the returned stop is called; stop waits for the poller to end.
func meterWhile(ctx context.Context, m Meter, label string, total int64, done func() int64) (stop func()) {
	if m == nil {
		return func() {}
	}
	set, finish := m(label, total)
	ctx, cancel := context.WithCancel(ctx)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				set(done())
			}
		}
	}()
	return func() {
		cancel()
		<-ended
		set(done())
		finish()
	}
}

func progress(w io.Writer, start time.Time) func(node.ImportReport) {
	if w == nil {
		return nil
	}
	last := start
	return func(rep node.ImportReport) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(w, "  %d ops, %.0f ops/s\n", rep.Ops, float64(rep.Ops)/time.Since(start).Seconds())
		}
	}
}

func gzipSize(f *os.File) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	var n countWriter
	zw := gzip.NewWriter(&n)
	if _, err := io.Copy(zw, f); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	_, err := f.Seek(0, io.SeekStart)
	return int64(n), err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// generate runs the shared workload generator.
func generate(ctx context.Context, gen string, n, upd int, out string, extra ...string) error {
	if gen == "" {
		gen = FindGen()
	}
	if gen == "" {
		return fmt.Errorf("workload generator gen.py not found: pass --workload FILE or --gen PATH (it is ../shared/workload/gen.py beside the repository)")
	}
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, "python3", append([]string{gen, strconv.Itoa(n), strconv.Itoa(upd)}, extra...)...)
	cmd.Stderr = &buf
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("python3 %s: %w: %s", gen, err, buf.String())
	}
	return f.Sync()
}

// FindGen looks for the shared workload generator beside the repository.
func FindGen() string {
	if p := os.Getenv("FENGQIAO_WORKLOAD_GEN"); p != "" {
		return p
	}
	for _, p := range []string{"../shared/workload/gen.py", "../../shared/workload/gen.py", "../../../shared/workload/gen.py"} {
		if _, err := os.Stat(p); err == nil {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	return ""
}

// scratchDir returns dir, or a new temporary directory removed by cleanup when dir is "".
func scratchDir(dir, prefix string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// workload is a benchmark's workload file, open, with its label and sizes.
type workload struct {
	f          *os.File
	label      string
	size, gzip int64
}

// openWorkload opens file, or generates gen.py cases updates into dir when file is "".
func openWorkload(ctx context.Context, file, gen string, cases, updates int, dir string) (*workload, error) {
	w := &workload{label: file}
	if file == "" {
		file = filepath.Join(dir, "workload.jsonl")
		if err := generate(ctx, gen, cases, updates, file); err != nil {
			return nil, err
		}
		w.label = fmt.Sprintf("gen.py %d %d", cases, updates)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		w.gzip, err = gzipSize(f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	w.f, w.size = f, st.Size()
	return w, nil
}
