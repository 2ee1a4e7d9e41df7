package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/sync"
)

func hubCommand() *Command {
	return &Command{
		Name:    "hub",
		Summary: "运行县级或市级同步中心 / run a county or city hub",
		Description: `运行一个同步中心：保存辖区内各站点的案件，为登记过的站点提供同步（GET /sync）和站点登记
（POST /api/v1/enroll）。未配置 --enroll-token 时只接受本机的登记请求。
加 --raft 时本进程是三成员 Raft 集群的一员（--id 是成员编号）：各成员用相同的 --bootstrap 成员表启动，
编号最小的成员在确认其余成员都没有数据后初始化中心，其余成员加入；以后的新成员用 --join 加入；
成员之间的 Raft 通信使用以中心密钥签发证书的双向 TLS。
Runs a hub: it keeps the cases of the stations below it, serves enrolled stations' sync
sessions (GET /sync) and their enrollment (POST /api/v1/enroll). Without --enroll-token,
enrollment is accepted only from this machine. With --raft the process is one member (--id is its member id) of a
3-member Raft cluster: every member starts with the same --bootstrap list; the lowest id
makes the hub once every other listed member reported it is empty, and the others join it;
later members --join. Raft traffic runs over mutual TLS with certificates issued by the
hub's own key.`,
		Examples: []Example{
			{Comment: "竹山县中心 / the 竹山县 county hub",
				Command: "fengqiao hub --dir /var/lib/fengqiao-hub --id zs-hub --region 420323 --http 0.0.0.0:8741"},
			{Comment: "三成员集群：三台服务器上各运行一次，成员表相同（集群口令在 FENGQIAO_CLUSTER_TOKEN） / a 3-member cluster: run on each of three servers with the same member list (the cluster token in FENGQIAO_CLUSTER_TOKEN)",
				Command: "fengqiao hub --dir /var/lib/fengqiao-hub --id zs-1 --region 420323 --hub-id zs-hub --http 10.0.0.1:8741 --raft 10.0.0.1:8751 --bootstrap zs-1=10.0.0.1:8751=10.0.0.1:8741,zs-2=10.0.0.2:8751=10.0.0.2:8741,zs-3=10.0.0.3:8751=10.0.0.3:8741"},
			{Comment: "以 HTTPS 提供服务（证书由中心密钥签发，站点按登记时的密钥验证） / serve HTTPS (a certificate of the hub key, which stations verify by the key they enrolled with)",
				Command: "fengqiao hub --dir /var/lib/fengqiao-hub --id zs-hub --region 420323 --http 0.0.0.0:8741 --tls --url https://10.0.0.1:8741"},
			{Comment: "替换损坏的成员：新编号加入 / replace a dead member: join under a new id",
				Command: "fengqiao hub --dir /var/lib/fengqiao-hub --id zs-4 --http 10.0.0.4:8741 --raft 10.0.0.4:8751 --join http://10.0.0.1:8741"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			dir := fs.String("dir", "", "中心数据目录（必填） / directory of the hub's store (required)")
			id := fs.String("id", "", "中心编号，首次运行必填 / hub id, required on the first run")
			region := fs.String("region", "", "辖区代码（6位县或4位市），首次运行必填 / division code served (6-digit county, 4-digit city), required on the first run")
			addr := fs.String("http", "127.0.0.1:8741", "HTTP 监听地址 / HTTP listen address")
			urls := fs.String("url", "", "站点访问本中心的地址，逗号分隔（默认 http://HTTP地址） / URLs stations reach this hub at, comma-separated (default http://ADDR)")
			hd := node.HubDefaults()
			compression := fs.String("compression", hd.Compression, "存储压缩：good（最省磁盘）、balanced（默认，应用更快）、fastest / store compression: good (least disk), balanced (default: faster apply), fastest")
			cacheMiB := fs.Int("cache-mib", int(hd.CacheSize>>20), "Pebble 块缓存（MiB） / Pebble block cache, MiB")
			headMiB := fs.Int("head-cache-mib", hd.HeadCacheSize>>20, "案件头缓存（MiB）；中心应能容纳全部案件的头，约每十万件 40 MiB / case head cache, MiB; a hub should hold every case's head, about 40 MiB per 100,000 cases")
			memMiB := fs.Int("memtable-mib", int(hd.MemTableSize>>20), "Pebble 内存表（MiB） / Pebble memtable, MiB")
			token := fs.String("enroll-token", "", "站点登记口令（未设置时只接受本机登记） / enrollment token (without one, only local enrollment)")
			cluster := addClusterFlags(fs)
			tlsf := addTLSFlags(fs)
			authFlags := addAuthFlags(fs)
			offset := fs.String("clock-offset", "", clockOffsetUsage)
			return func(ctx context.Context, env *Env, args []string) error {
				if err := authFlags(env); err != nil {
					return err
				}
				if *dir == "" {
					return usageErrorf("--dir is required / 请用 --dir 指定数据目录")
				}
				off, err := clockOffset(*offset)
				if err != nil {
					return err
				}
				ts, err := tlsf.settings()
				if err != nil {
					return err
				}
				now := offsetClock(off)
				if off != 0 {
					env.Log.Warn("clock offset / 时钟偏移", "offset", off.String(), "now", now().Format(time.RFC3339))
				}
				if *cluster.raft != "" {
					if r := *region; r != "" && len(r) != 4 && len(r) != 6 {
						return usageErrorf("--region %s: a hub serves a county (6 digits) or a city (4) / 中心的辖区须为县（6位）或市（4位）", r)
					}
					return serveClusterHub(ctx, env, cluster.settings(), memberParams{dir: *dir, id: *id, region: *region, addr: *addr,
						urls: splitList(*urls), enrollToken: *token, tls: ts,
						opts: node.Options{Compression: *compression, CacheSize: int64(*cacheMiB) << 20, HeadCacheSize: *headMiB << 20, MemTableSize: uint64(*memMiB) << 20, Now: now}})
				}
				r, err := openHub(*dir, node.Options{NodeID: *id, Region: *region, Compression: *compression,
					CacheSize: int64(*cacheMiB) << 20, HeadCacheSize: *headMiB << 20, MemTableSize: uint64(*memMiB) << 20, Now: now}, env)
				if err != nil {
					return err
				}
				defer r.Close()
				if *cluster.parent == "" {
					return serveHub(ctx, env, r, *addr, splitList(*urls), *token, ts, now, nil)
				}
				uctx, stop := context.WithCancel(ctx)
				uplink := make(chan error, 1)
				go func() { uplink <- runParentUplink(uctx, env, r, splitList(*cluster.parent), *cluster.parentToken) }()
				err = serveHub(ctx, env, r, *addr, splitList(*urls), *token, ts, now, nil)
				stop()
				if uerr := <-uplink; err == nil {
					err = uerr
				}
				return err
			}
		},
	}
}

// openHub opens (or initializes) a hub's store.
func openHub(dir string, opts node.Options, env *Env) (*node.Replica, error) {
	if region := opts.Region; region != "" && len(region) != 4 && len(region) != 6 {
		return nil, usageErrorf("--region %s: a hub serves a county (6 digits) or a city (4) / 中心的辖区须为县（6位）或市（4位）", region)
	}
	opts.Logger = env.Log
	r, err := openLocalStore(dir, opts, " (a new store needs --id and --region / 新建数据目录需要 --id 和 --region)")
	if errors.Is(err, errClusterStore) {
		return nil, fmt.Errorf("%w (start a member with --raft / 集群成员请加 --raft 启动)", err)
	}
	if err != nil {
		return nil, err
	}
	st := r.Status()
	env.Log.Info("hub store open", "pebble", r.PebbleOptionsSummary(), "dir", dir, "node", st.Node, "region", st.Region, "cases", st.Cases, "ops", st.FeedSeq)
	return r, nil
}

// serveHub serves the hub's API and sync endpoint on addr until ctx ends; now is its clock
// (nil: time.Now).
func serveHub(ctx context.Context, env *Env, r *node.Replica, addr string, urls []string, token string, ts tlsSettings, now func() time.Time, ready func(net.Addr)) error {
	serving, err := ts.newServingCert()
	if err != nil {
		return err
	}
	if serving != nil {
		keys := func() (ed25519.PrivateKey, []node.KeyLink) { return r.Identity().Key, r.KeyChain() }
		if err := serving.Follow(keys, r.Origin().Node, r.Origin().Node); err != nil {
			return err
		}
	}
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	ln, err := ts.listener(raw, serving)
	if err != nil {
		_ = raw.Close()
		return err
	}
	base := ts.scheme() + "://" + ln.Addr().String()
	if len(urls) == 0 {
		urls = []string{base}
	}
	if token == "" {
		env.Log.Warn("no --enroll-token: enrollment accepted only from this machine (127.0.0.1) / 未设置登记口令，仅接受本机登记")
	}
	metrics := server.NewMetrics()
	hub := sync.NewHub(sync.HubConfig{Replica: metrics.Instrument(r), Logger: env.Log, URLs: urls, Now: now})
	h := server.NewStationHandler(server.StationConfig{Replica: r, Writer: r, Logger: env.Log, Role: "hub", Now: now,
		Sync: hub, Enroll: hub.EnrollHandler(token), Bundles: hub, Enrollments: hub, Peers: server.HubPeers(hub), Auth: env.Auth,
		Metrics: metrics, Sessions: func() int { return len(hub.Sessions()) }})
	env.Log.Info("hub serving", "http", base, "sync", strings.Replace(base, "http", "ws", 1)+"/sync", "tls", ts.on)
	if ready != nil {
		ready(ln.Addr())
	}
	err = server.Serve(ctx, ln, h, env.Log, 10*time.Second)
	env.Log.Info("hub stopped")
	return err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
