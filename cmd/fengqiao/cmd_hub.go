package main

import (
	"context"
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
当前版本的中心是单个成员；三成员 Raft 集群（--raft、--bootstrap、--join）随后提供。
Runs a hub: it keeps the cases of the stations below it, serves enrolled stations' sync
sessions (GET /sync) and their enrollment (POST /api/v1/enroll). Without --enroll-token,
enrollment is accepted only from this machine. This build runs a hub as a single member;
the 3-member Raft cluster (--raft, --bootstrap, --join) comes later.`,
		Examples: []Example{
			{Comment: "竹山县中心 / the 竹山县 county hub",
				Command: "fengqiao hub --dir /var/lib/fengqiao-hub --id zs-hub --region 420323 --http 0.0.0.0:8741"},
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
			return func(ctx context.Context, env *Env, args []string) error {
				if *dir == "" {
					return usageErrorf("--dir is required / 请用 --dir 指定数据目录")
				}
				r, err := openHub(*dir, node.Options{NodeID: *id, Region: *region, Compression: *compression,
					CacheSize: int64(*cacheMiB) << 20, HeadCacheSize: *headMiB << 20, MemTableSize: uint64(*memMiB) << 20}, env)
				if err != nil {
					return err
				}
				defer r.Close()
				return serveHub(ctx, env, r, *addr, splitList(*urls), *token, nil)
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
	r, err := node.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open store: %w (a new store needs --id and --region / 新建数据目录需要 --id 和 --region)", err)
	}
	st := r.Status()
	env.Log.Info("hub store open", "pebble", r.PebbleOptionsSummary(), "dir", dir, "node", st.Node, "region", st.Region, "cases", st.Cases, "ops", st.FeedSeq)
	return r, nil
}

// serveHub serves the hub's API and sync endpoint on addr until ctx ends.
func serveHub(ctx context.Context, env *Env, r *node.Replica, addr string, urls []string, token string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	base := "http://" + ln.Addr().String()
	if len(urls) == 0 {
		urls = []string{base}
	}
	if token == "" {
		env.Log.Warn("no --enroll-token: enrollment accepted only from this machine (127.0.0.1) / 未设置登记口令，仅接受本机登记")
	}
	hub := sync.NewHub(sync.HubConfig{Replica: r, Logger: env.Log, URLs: urls})
	h := server.NewStationHandler(server.StationConfig{Replica: r, Logger: env.Log, Role: "hub",
		Sync: hub, Enroll: hub.EnrollHandler(token), Peers: func() []server.PeerStatus {
			var out []server.PeerStatus
			for _, p := range hub.Sessions() {
				out = append(out, server.PeerStatus{ID: p.Station, Connected: true})
			}
			return out
		}})
	env.Log.Info("hub serving", "http", base, "sync", strings.Replace(base, "http", "ws", 1)+"/sync")
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
