package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/fengqiao/fengqiao/internal/bench"
	"github.com/fengqiao/fengqiao/internal/chaos"
	"github.com/fengqiao/fengqiao/node"
)

func benchCommand() *Command {
	return &Command{
		Name:    "bench",
		Args:    "<scenario>",
		Summary: "运行基准测试并打印结果和机器信息 / run a benchmark; prints figures and the machine",
		Description: `场景 / scenarios:
  apply   新建案件库，导入基准负载（gen.py N U）并测量写入速度、复制应用速度、压缩后磁盘占用、重新打开时间和内存峰值。
          a fresh store takes the workload (gen.py N U): import rate, replicated-apply rate,
          disk after compaction, reopen time, peak RSS.
  sync    持有该负载的站点经本机回环与空的同步中心（独立进程）同步：全部确认的时间、速度、双向线上字节、
          空闲重连的字节和时间、站点内存峰值。
          a station holding the workload syncs to an empty hub (its own process) on loopback:
          time to fully acknowledged, ops/s, wire bytes each way, idle reconnect, station peak RSS.
  hub     三成员 Raft 中心（同一进程，回环 TCP）：模拟站点并发推送，测量速度、确认延迟，与同样条目的普通 Raft 比较。
          a 3-member Raft hub (one process, TCP on loopback): simulated stations push at once;
          ops/s, push-ack latency, against plain raft with the same entries.
  raftstore 中心 Raft 日志存储（Pebble）与 hashicorp/raft-wal 同场比较：单条与 64 条批次的持久写入延迟、
          吞吐、读取。/ the hub's Raft log store on Pebble against hashicorp/raft-wal, same run:
          durable StoreLogs latency (1 and 64 entries), throughput, GetLog.
  chaos   故障演练：本机回环上三成员县级中心、三成员市级中心和至少 20 个站点（均为独立进程），站点随机写入，
          同时随机杀死并重启站点和中心成员（每个集群同时至多一个）、切断/限速/丢包链路、调整站点时钟；
          结束时恢复一切，检查每个已确认的操作都在应有的副本上、副本间案件状态一致、没有重复、哈希链完整，
          并给出恢复后收敛的时间；有任何违反则以非零状态退出。
          a chaos run: a 3-member county hub, a 3-member city hub and ≥ 20 stations, each its own
          process, on loopback; stations write random valid ops while processes are SIGKILLed and
          restarted (never two members of a hub at once), links cut, slowed and made lossy, and
          station clocks moved by hours to years; then everything is healed and checked: every
          acknowledged op on every replica in its scope, the same case states, no duplicates,
          every chain verifying, the time to converge. Exits non-zero on any violation.
最后一行是一个 JSON 对象。/ The last line is one JSON object.`,
		Examples: []Example{
			{Comment: "标准规模（10万件、50万条操作） / the standard size (100,000 cases, 500,000 ops)",
				Command: "fengqiao bench apply --cases 100000 --updates 4"},
			{Comment: "用已有的负载文件 / with a workload file", Command: "fengqiao bench apply --workload cases.jsonl"},
			{Comment: "同步基准 / the sync benchmark", Command: "fengqiao bench sync --cases 100000 --updates 4"},
			{Comment: "中心基准 / the hub benchmark", Command: "fengqiao bench hub --cases 100000 --updates 4 --stations 10 --batch 500"},
			{Comment: "Raft 日志存储基准 / the Raft log store benchmark", Command: "fengqiao bench raftstore --dir /var/tmp/fq-bench"},
			{Comment: "30 分钟故障演练 / a 30-minute chaos run", Command: "fengqiao bench chaos --duration 30m --stations 20"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			workload := fs.String("workload", "", "负载 JSONL 文件；为空则用 gen.py 生成 / workload JSONL; empty: generate with gen.py")
			gen := fs.String("gen", "", "gen.py 路径；为空则在仓库旁的 shared/ 中查找 / path of gen.py; empty: look in ../shared")
			n := fs.Int("cases", 100000, "生成的案件数 / cases to generate")
			upd := fs.Int("updates", 4, "每件案件的后续操作数 / later ops per case")
			batch := fs.Int("batch", 1000, "每个同步批次的操作数 / ops per synced batch")
			dir := fs.String("dir", "", "工作目录；为空则用临时目录 / scratch directory; empty: a temporary one")
			cpuprofile := fs.String("cpuprofile", "", "把 CPU 剖析写入此文件 / write a CPU profile to this file")
			memtable := fs.Int("memtable-mib", 0, "Pebble 内存表大小，0 为默认 / Pebble memtable size in MiB, 0: default")
			blockCache := fs.Int("block-cache-mib", 0, "Pebble 块缓存大小，0 为默认 / Pebble block cache in MiB, 0: default")
			compression := fs.String("compression", "", "Pebble 压缩 good/balanced/fastest（apply 的库；sync 的中心，默认 balanced） / Pebble compression good, balanced or fastest (apply: the store; sync: the hub, default balanced)")
			stations := fs.Int("stations", 10, "hub：同时推送的模拟站点数 / hub: simulated stations pushing at once")
			halfLoad := fs.Bool("half-load", false, "hub：再以满载一半的速率按计划推送一次，测确认延迟 / hub: run again offering half the full-speed rate on a schedule, for the ack latency")
			memprofile := fs.String("memprofile", "", "sync：同步完成时写出站点的堆剖析 / sync: write the station's heap profile when the sync completes")
			inProcess := fs.Bool("hub-in-process", false, "sync：中心与站点在同一进程 / sync: run the hub in this process")
			metrics := fs.Bool("pebble-metrics", false, "apply：导入后打印 Pebble 指标 / apply: print Pebble's metrics after the import")
			importOnly := fs.Bool("import-only", false, "apply：只测导入，跳过复制应用 / apply: the import only, no replicated phase")
			hubStore := fs.Bool("hub-store", false, "apply：两个库都用中心的设置（node.HubDefaults） / apply: both stores with the hub's settings (node.HubDefaults)")
			headCache := fs.Int("head-cache-mib", 0, "案件头缓存大小，0 为默认，-1 关闭 / case head cache in MiB, 0: default, -1: off")
			duration := fs.Duration("duration", 2*time.Minute, "chaos：注入故障的时长 / chaos: how long faults are injected")
			rate := fs.Float64("rate", 2, "chaos：每个站点每秒写入的操作数 / chaos: ops per second each station writes")
			seed := fs.Uint64("seed", 0, "chaos：随机种子，0 为按时间 / chaos: random seed, 0: from the time")
			converge := fs.Duration("converge-timeout", 5*time.Minute, "chaos：恢复后等待收敛的上限 / chaos: how long to wait for convergence after the heal")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 1 {
					return usageErrorf("name one scenario: apply / 请指定场景：apply")
				}
				if *cpuprofile != "" {
					f, err := os.Create(*cpuprofile)
					if err != nil {
						return err
					}
					defer f.Close()
					if err := pprof.StartCPUProfile(f); err != nil {
						return err
					}
					defer pprof.StopCPUProfile()
				}
				switch args[0] {
				case "apply":
					fmt.Fprintf(env.Stdout, "fengqiao bench apply: machine %+v\n", bench.ThisMachine())
					store := node.Options{}
					if *hubStore {
						store = node.HubDefaults()
					}
					if *memtable != 0 {
						store.MemTableSize = uint64(*memtable) << 20
					}
					if *blockCache != 0 {
						store.CacheSize = int64(*blockCache) << 20
					}
					if *headCache != 0 {
						store.HeadCacheSize = *headCache << 20
					}
					if *compression != "" {
						store.Compression = *compression
					}
					cfg := bench.ApplyConfig{Workload: *workload, Gen: *gen, Cases: *n, Updates: *upd,
						BatchSize: *batch, Dir: *dir, Log: env.Log, Progress: env.Stderr, Store: store, ImportOnly: *importOnly,
						Meter: progressMeter(ctx, env)}
					if *metrics {
						cfg.Metrics = env.Stdout
					}
					res, err := bench.Apply(ctx, cfg)
					if err != nil {
						return err
					}
					printApply(env, res)
					return json.NewEncoder(env.Stdout).Encode(res)
				case "sync":
					fmt.Fprintf(env.Stdout, "fengqiao bench sync: machine %+v\n", bench.ThisMachine())
					hubStore := node.HubDefaults() // what fengqiao hub uses
					if *compression != "" {
						hubStore.Compression = *compression
					}
					cfg := bench.SyncConfig{Workload: *workload, Gen: *gen, Cases: *n, Updates: *upd, Dir: *dir,
						Log: env.Log, Progress: env.Stderr, Meter: progressMeter(ctx, env), HubStore: hubStore, HeapProfile: *memprofile}
					if !*inProcess {
						exe, err := os.Executable()
						if err != nil {
							return err
						}
						cfg.HubCommand = []string{exe}
					}
					res, err := bench.Sync(ctx, cfg)
					if err != nil {
						return err
					}
					printSync(env, res)
					return json.NewEncoder(env.Stdout).Encode(res)
				case "hub":
					fmt.Fprintf(env.Stdout, "fengqiao bench hub: machine %+v\n", bench.ThisMachine())
					res, err := bench.Hub(ctx, bench.HubConfig{Workload: *workload, Gen: *gen, Cases: *n, Updates: *upd, Dir: *dir,
						Stations: *stations, BatchOps: *batch, HalfLoad: *halfLoad, Log: env.Log, Progress: env.Stderr, Meter: progressMeter(ctx, env)})
					if err != nil {
						return err
					}
					w := env.Stdout
					fmt.Fprintf(w, "workload          %s: %d ops, %d stations, %d ops per entry, %s\n", res.Workload, res.Ops, res.Stations, res.BatchOps, res.Transport)
					fmt.Fprintf(w, "hub (3 members)   %.2f s = %.0f ops/s, %.0f entries/s; push ack p50 %.1f ms, p99 %.1f ms\n",
						res.Seconds, res.OpsPerSec, res.EntriesPerSec, res.AckP50Millis, res.AckP99Millis)
					fmt.Fprintf(w, "plain raft        %.2f s = %.0f ops/s (FSM writes the replica's volume, %.0f bytes and %.1f keys per op, to Pebble); hub = %.2f × it\n",
						res.BaselineSeconds, res.BaselineOpsPerSec, res.BaselineWALBytesPerOp, res.BaselineKeysPerOp, res.OverBaseline)
					fmt.Fprintf(w, "CPU per op        hub %.1f µs, plain raft %.1f µs (user+sys, all threads: three members on this machine)\n",
						res.CPUMicrosPerOp, res.BaselineCPUMicrosPerOp)
					if res.HalfLoadOffered > 0 {
						fmt.Fprintf(w, "half load         %.0f ops/s offered, %.0f ops/s done; push ack p50 %.1f ms, p99 %.1f ms\n",
							res.HalfLoadOffered, res.HalfLoadOpsPerSec, res.HalfLoadP50Millis, res.HalfLoadP99Millis)
					}
					return json.NewEncoder(env.Stdout).Encode(res)
				case "raftstore":
					fmt.Fprintf(env.Stdout, "fengqiao bench raftstore: machine %+v\n", bench.ThisMachine())
					res, err := bench.RaftStore(ctx, bench.RaftStoreConfig{Dir: *dir})
					if err != nil {
						return err
					}
					printRaftStore(env, res)
					return json.NewEncoder(env.Stdout).Encode(res)
				case "chaos":
					return benchChaos(ctx, env, fs, chaos.Config{Dir: *dir, Stations: *stations, Duration: *duration, Rate: *rate, Seed: *seed, ConvergeTimeout: *converge,
						Log: env.Log, Progress: env.Stderr})
				}
				return usageErrorf("unknown scenario %q (known: apply, sync, hub, raftstore, chaos) / 未知场景", args[0])
			}
		},
	}
}

func printApply(env *Env, r bench.ApplyResult) {
	w := env.Stdout
	fmt.Fprintf(w, "workload          %s: %d bytes, gzip %d bytes\n", r.Workload, r.WorkloadBytes, r.WorkloadGzip)
	fmt.Fprintf(w, "batches           %d ops each, every batch synced\n", r.BatchSize)
	fmt.Fprintf(w, "import (local)    %d ops, %d cases in %.2f s = %.0f ops/s, peak RSS %.0f MiB\n",
		r.Ops, r.Cases, r.ImportSeconds, r.ImportOpsPerSec, float64(r.ImportPeakRSS)/(1<<20))
	fmt.Fprintf(w, "  import CPU      %.2f s = %.1f µs/op (user+sys, all threads)\n", r.ImportCPUSeconds, r.ImportCPUMicrosPerOp)
	fmt.Fprintf(w, "  compact CPU     %.2f s (full compaction of the imported store)\n", r.CompactCPUSeconds)
	fmt.Fprintf(w, "replicated apply  %.2f s = %.0f ops/s, peak RSS %.0f MiB\n", r.ReplicaSeconds, r.ReplicaOpsPerSec, float64(r.ReplicaPeakRSS)/(1<<20))
	fmt.Fprintf(w, "  replicated CPU  %.2f s = %.1f µs/op\n", r.ReplicaCPUSeconds, r.ReplicaCPUMicrosPerOp)
	fmt.Fprintf(w, "disk (compacted)  %.1f MB = %.2f × gzip of the workload\n", float64(r.DiskBytes)/1e6, r.DiskOverGzip)
	fmt.Fprintf(w, "reopen            %.3f s\n", r.ReopenSeconds)
	fmt.Fprintf(w, "pebble            %s\n", r.PebbleOptions)
}

func printSync(env *Env, r bench.SyncResult) {
	w := env.Stdout
	fmt.Fprintf(w, "workload          %s: %d ops, %d cases, gzip %d bytes\n", r.Workload, r.Ops, r.Cases, r.WorkloadGzip)
	fmt.Fprintf(w, "direct apply      %.0f ops/s (the same ops into a replica, this run)\n", r.ApplyOpsPerSec)
	fmt.Fprintf(w, "sync              %.2f s to fully acknowledged = %.0f ops/s = %.2f × direct apply\n", r.SyncSeconds, r.SyncOpsPerSec, r.SyncOverApply)
	fmt.Fprintf(w, "wire              up %d, down %d bytes = %.2f × gzip of the workload\n", r.WireUp, r.WireDown, r.WireOverGzip)
	fmt.Fprintf(w, "idle reconnect    %d bytes, %.1f ms\n", r.ReconnectBytes, r.ReconnectSeconds*1000)
	fmt.Fprintf(w, "station peak RSS  %.0f MiB (hub in its own process: %v); hub holds %d ops\n", float64(r.StationPeakRSS)/(1<<20), r.HubInSeparateProc, r.HubAppliedCheckOps)
}

func printRaftStore(env *Env, r bench.RaftStoreResult) {
	w := env.Stdout
	fmt.Fprintf(w, "disk              %s (%s), %d-byte entries\n", r.Dir, r.Filesystem, r.EntryBytes)
	for _, s := range r.Stores {
		fmt.Fprintf(w, "%-17s StoreLogs(1) p50 %.0f µs p99 %.0f µs; StoreLogs(64) p50 %.0f µs p99 %.0f µs; %.0f entries/s; GetLog %.0f/s\n",
			s.Store, s.StoreLogs1.P50Micros, s.StoreLogs1.P99Micros, s.StoreLogs64.P50Micros, s.StoreLogs64.P99Micros,
			s.ThroughputEntriesPerSec, s.GetLogPerSec)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped           %s\n", s)
	}
}

// progressMeter shows a benchmark phase's progress on stderr: a bar on a terminal, plain
// lines otherwise (see progress.go).
func progressMeter(ctx context.Context, env *Env) bench.Meter {
	return func(label string, total int64) (func(int64), func()) {
		pr := newProgress(ctx, env.Stderr, label, total)
		return func(n int64) { pr.set(n, "") }, pr.finish
	}
}
