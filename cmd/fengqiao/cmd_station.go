package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/fengqiao/fengqiao/internal/chaos"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/sync"
)

func stationCommand() *Command {
	return &Command{
		Name:    "station",
		Summary: "运行站点（村、网格、乡镇） / run a station (village, grid, township)",
		Description: `在本机运行一个站点：打开（或首次创建）DIR 中的案件库，提供 HTTP 接口。
首次运行需要 --id 和 --region；以后可以省略，站点沿用库中记录的编号和区划。
Runs a station on this machine: opens (or, the first time, creates) the case store in DIR
and serves its HTTP API. The first run needs --id and --region; later runs may omit them and
the station keeps the id and region recorded in its store.`,
		Examples: []Example{
			{Comment: "首次运行竹山县城关镇站点 / first run of a township station in 竹山县城关镇",
				Command: "fengqiao station --dir /var/lib/fengqiao --id zs-chengguan --region 420323100 --http 127.0.0.1:8740"},
			{Comment: "以后运行 / later runs", Command: "fengqiao station --dir /var/lib/fengqiao"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			dir := fs.String("dir", "", "案件库目录（必填） / directory of the case store (required)")
			id := fs.String("id", "", "站点编号，首次运行必填 / station id, required on the first run")
			region := fs.String("region", "", "站点区划代码（9位乡镇或12位村），首次运行必填 / division code served (9-digit township or 12-digit village), required on the first run")
			addr := fs.String("http", "127.0.0.1:8740", "HTTP 监听地址 / HTTP listen address")
			hubs := fs.String("hub", "", "同步中心地址，逗号分隔（默认用登记时的地址；设为 off 则不同步） / hub URLs, comma-separated (default: those given at enrollment; \"off\" to not sync)")
			authFlags := addAuthFlags(fs)
			offset := fs.String("clock-offset", "", clockOffsetUsage)
			journal := fs.String("chaos-journal", "", "测试用：随机写入有效操作，每个已确认的操作记入此文件（fengqiao bench chaos 使用） / testing: write random valid ops, journalling each acknowledged one to this file (used by fengqiao bench chaos)")
			rate := fs.Float64("chaos-rate", 4, "测试用：随机写入的速率（每秒操作数） / testing: ops per second of the random writes")
			accuse := fs.String("chaos-accuse", "", "测试用：随机写入时也登记检举控告，被检举单位的站点为此站点或本站点 / testing: the random writes also register accusations, of a unit whose own station is this one or the station given")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := authFlags(env); err != nil {
					return err
				}
				if *dir == "" {
					return usageErrorf("--dir is required / 请用 --dir 指定案件库目录")
				}
				off, err := clockOffset(*offset)
				if err != nil {
					return err
				}
				now := offsetClock(off)
				r, err := openStationAt(*dir, *id, *region, env, now)
				if err != nil {
					return err
				}
				defer r.Close()
				if off != 0 {
					env.Log.Warn("clock offset / 时钟偏移", "offset", off.String(), "now", now().Format(time.RFC3339))
				}
				if *journal != "" {
					wctx, stop := context.WithCancel(ctx)
					done := make(chan error, 1)
					go func() {
						done <- chaos.RunWriter(wctx, chaos.WriterConfig{Replica: r, Journal: *journal, Rate: *rate, Now: now, Logger: env.Log, Accuse: *accuse})
					}()
					defer func() { stop(); <-done }()
				}
				return runStation(ctx, env, r, *addr, *hubs, now, nil)
			}
		},
	}
}

// openStation opens (or initializes) a station's store with the command's logger.
func openStation(dir, id, region string, env *Env) (*node.Replica, error) {
	return openStationAt(dir, id, region, env, nil)
}

// openStationAt is openStation with the station's clock (nil: time.Now).
func openStationAt(dir, id, region string, env *Env, now func() time.Time) (*node.Replica, error) {
	if region != "" {
		if err := validRegionFlag(region); err != nil {
			return nil, err
		}
	}
	r, err := openLocalStore(dir, node.Options{NodeID: id, Region: region, Logger: env.Log, Now: now},
		" (a new store needs --id and --region / 新建案件库需要 --id 和 --region)")
	if err != nil {
		return nil, err
	}
	st := r.Status()
	env.Log.Info("store open", "dir", dir, "node", st.Node, "incarnation", st.Incarnation, "region", st.Region,
		"cases", st.Cases, "ops", st.FeedSeq)
	return r, nil
}

// runStation serves the station and, when it is enrolled and hubs is not "off", keeps it in
// sync with its hub, until ctx ends. now is the station's clock (nil: time.Now).
func runStation(ctx context.Context, env *Env, r *node.Replica, addr, hubs string, now func() time.Time, ready func(net.Addr)) error {
	metrics := server.NewMetrics()
	var st *sync.Station
	if hubs != "off" {
		var err error
		st, err = sync.NewStation(sync.StationConfig{Replica: metrics.Instrument(r), URLs: splitList(hubs), Logger: env.Log, Now: now})
		if err != nil && hubs != "" {
			return err
		}
		if err != nil {
			env.Log.Warn("not syncing", "why", err)
			st = nil
		}
	}
	if st == nil {
		return serveStation(ctx, env, r, addr, now, nil, metrics, ready)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = st.Run(ctx) }()
	watched := make(chan struct{})
	go func() { defer close(watched); watchBulkUpload(ctx, env, r, st) }()
	defer func() { <-watched }()
	err := serveStation(ctx, env, r, addr, now, func() []server.PeerStatus {
		s := st.Status()
		p := server.PeerStatus{ID: s.Hub, Connected: s.Connected, LastError: s.LastError, KeyFingerprint: s.HubKey}
		p.PendingOps = pendingUpload(r, s)
		if !s.LastSync.IsZero() {
			p.LastSync = s.LastSync.In(server.Shanghai).Format(time.RFC3339)
		}
		if s.SkewKnown {
			skew := int64(s.ClockSkew / time.Second)
			p.ClockSkewSeconds = &skew
		}
		return []server.PeerStatus{p}
	}, metrics, ready)
	cancel()
	<-done
	return err
}

// serveStation serves the station API on addr until ctx ends. ready, if set, is called with
// the bound address once the listener is open.
func serveStation(ctx context.Context, env *Env, r *node.Replica, addr string, now func() time.Time, peers func() []server.PeerStatus, metrics *server.Metrics, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	env.Log.Info("station serving", "http", "http://"+ln.Addr().String(), "status", "http://"+ln.Addr().String()+"/api/v1/status")
	if ready != nil {
		ready(ln.Addr())
	}
	h := server.NewStationHandler(server.StationConfig{Replica: r, Writer: r, Logger: env.Log, Peers: peers, Now: now, Metrics: metrics,
		StationBundles: server.LocalBundles{Replica: r}, Auth: env.Auth})
	err = server.Serve(ctx, ln, h, env.Log, 10*time.Second)
	env.Log.Info("station stopped")
	return err
}
