package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/sync"
)

//go:embed demodata/sample.jsonl
var demoSample []byte

// The demo's nodes: 竹山县's hub, and two township stations (宝丰镇 online from the start,
// 双台乡 offline until it has registered a case of its own).
var demoNodes = struct{ hub, online, offline, onlineRegion, offlineRegion string }{
	"zs-hub", "zs-baofeng", "zs-shuangtai", "420323103", "420323203",
}

func demoCommand() *Command {
	return &Command{
		Name:    "demo",
		Summary: "用内置样例数据在本机运行演示 / run a demonstration on loopback with built-in sample data",
		Description: `在本机启动竹山县（420323）的同步中心和两个乡镇站点：中心导入内置的样例案件（与基准负载同一格式），
宝丰镇站点在线，收到本镇的案件；双台乡站点先离线登记一件新案件，再接通网络，上传新案件并收到本乡的案件。
打印同步的结果和可以打开的地址，按 Ctrl-C 停止。数据保存在 --dir 指定的目录，再次运行不会重复导入。
（三成员 Raft 中心、账号和网页界面随后续版本加入。）
Starts 竹山县's (420323) hub and two township stations on this machine: the hub imports the
built-in sample cases (the benchmark workload's format); the 宝丰镇 station is online and
receives its township's cases; the 双台乡 station first registers a case offline, then
connects, sends it up and receives its township's cases. Prints what synced and the
addresses to open; stops on Ctrl-C. Data stays in --dir; running it again imports nothing
twice. (The 3-member Raft hub, accounts and the web pages join in later versions.)`,
		Examples: []Example{
			{Comment: "运行演示 / run the demo", Command: "fengqiao demo"},
			{Comment: "指定目录和端口 / choose the directory and ports",
				Command: "fengqiao demo --dir /tmp/fq-demo --hub-http 127.0.0.1:9001 --http 127.0.0.1:9000 --http2 127.0.0.1:9002"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			dir := fs.String("dir", "fengqiao-demo", "演示数据目录 / directory for the demo's data")
			hubAddr := fs.String("hub-http", "127.0.0.1:8741", "中心的 HTTP 地址 / the hub's HTTP address")
			addr := fs.String("http", "127.0.0.1:8740", "宝丰镇站点的 HTTP 地址 / the 宝丰镇 station's HTTP address")
			addr2 := fs.String("http2", "127.0.0.1:8742", "双台乡站点的 HTTP 地址 / the 双台乡 station's HTTP address")
			return func(ctx context.Context, env *Env, args []string) error {
				abs, _ := filepath.Abs(*dir)
				return runDemo(ctx, env, abs, *hubAddr, *addr, *addr2)
			}
		},
	}
}

// runDemo wires the demo's three nodes together and serves them until ctx ends.
func runDemo(ctx context.Context, env *Env, dir, hubAddr, addr, addr2 string) error {
	out := env.Stdout
	hubOpts := node.HubDefaults()
	hubOpts.NodeID, hubOpts.Region = demoNodes.hub, "420323"
	hubR, err := openHub(filepath.Join(dir, "hub"), hubOpts, env)
	if err != nil {
		return err
	}
	defer hubR.Close()
	rep, err := hubR.ImportJSONL(ctx, bytes.NewReader(demoSample), int64(len(demoSample)), node.ImportOptions{Author: "county-demo"})
	if err != nil {
		return fmt.Errorf("import sample: %w", err)
	}
	online, err := openStation(filepath.Join(dir, demoNodes.online), demoNodes.online, demoNodes.onlineRegion, env)
	if err != nil {
		return err
	}
	defer online.Close()
	offline, err := openStation(filepath.Join(dir, demoNodes.offline), demoNodes.offline, demoNodes.offlineRegion, env)
	if err != nil {
		return err
	}
	defer offline.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hubReady := make(chan net.Addr, 1)
	errc := make(chan error, 3)
	go func() {
		errc <- serveHub(ctx, env, hubR, hubAddr, nil, "", func(a net.Addr) { hubReady <- a })
	}()
	var hubURL string
	select {
	case a := <-hubReady:
		hubURL = "http://" + a.String()
	case err := <-errc:
		return err
	}
	for _, st := range []*node.Replica{online, offline} {
		if _, err := sync.EnrollStation(ctx, st, hubURL, st.Region(), ""); err != nil {
			return fmt.Errorf("enroll %s: %w", st.Origin().Node, err)
		}
	}
	fmt.Fprintf(out, "枫桥演示 / Fengqiao demo — 数据目录 / data: %s\n", dir)
	fmt.Fprintf(out, "  中心 / hub %s（竹山县 420323）: 样例写入 %d 条操作 / sample: %d ops written now, %d lines already there\n",
		demoNodes.hub, rep.Ops, rep.Ops, rep.Skipped)

	// 宝丰镇 is online: it syncs now.
	if err := demoSync(ctx, online, hubURL); err != nil {
		return err
	}
	fmt.Fprintf(out, "  宝丰镇站点 / station %s 在线同步后 / after syncing: %s\n", demoNodes.online, demoCounts(online))

	// 双台乡 registers a case with no network, then connects.
	id := fmt.Sprintf("st-%d", time.Now().Unix())
	if _, err := offline.Write(ctx, demoRegistration(id)); err != nil {
		return fmt.Errorf("register offline: %w", err)
	}
	fmt.Fprintf(out, "  双台乡站点 / station %s 离线登记 / registered offline: %s; %s\n", demoNodes.offline, id, demoCounts(offline))
	if err := demoSync(ctx, offline, hubURL); err != nil {
		return err
	}
	fmt.Fprintf(out, "  双台乡站点接通后 / after connecting: %s; 中心已有 / the hub holds %s: %v\n",
		demoCounts(offline), id, hubHolds(hubR, id))

	// Serve the stations (they keep syncing) until Ctrl-C.
	fmt.Fprintf(out, "  中心 / hub: %s/api/v1/status  %s/api/v1/cases\n", hubURL, hubURL)
	ready := make(chan struct{}, 2)
	serveOne := func(r *node.Replica, a string, label string) {
		errc <- runStation(ctx, env, r, a, "", func(na net.Addr) {
			fmt.Fprintf(out, "  %s: http://%s/api/v1/status\n", label, na)
			ready <- struct{}{}
		})
	}
	go serveOne(online, addr, "宝丰镇站点 / station "+demoNodes.online)
	go serveOne(offline, addr2, "双台乡站点 / station "+demoNodes.offline)
	for range 2 {
		select {
		case <-ready:
		case err := <-errc:
			cancel()
			<-errc
			<-errc
			return err
		}
	}
	fmt.Fprintf(out, "按 Ctrl-C 停止 / press Ctrl-C to stop\n")
	err = <-errc
	cancel()
	for range 2 {
		if e := <-errc; err == nil {
			err = e
		}
	}
	return err
}

// demoSync runs one session of r with the hub until both sides have caught up.
func demoSync(ctx context.Context, r *node.Replica, hubURL string) error {
	st, err := sync.NewStation(sync.StationConfig{Replica: r, URLs: []string{hubURL}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- st.Connect(ctx, hubURL) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return fmt.Errorf("sync %s: session ended: %w", r.Origin().Node, err)
		case <-tick.C:
			if s := st.Stats(); s != nil && s.CaughtUp.Load() && s.PeerCaughtUp.Load() {
				cancel()
				<-done
				return nil
			}
		}
	}
}

func demoCounts(r *node.Replica) string {
	s := r.Status()
	return fmt.Sprintf("%d 件案件 %d 条操作 / %d cases, %d ops", s.Cases, s.FeedSeq, s.Cases, s.FeedSeq)
}

func hubHolds(r *node.Replica, id string) bool {
	_, err := r.CaseHead(id)
	return err == nil
}

// demoRegistration is a petition registered at the 双台乡 station.
func demoRegistration(id string) node.Change {
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	now := json.RawMessage(fmt.Sprint(time.Now().UnixMilli()))
	persons, _ := json.Marshal([]cases.Person{{Name: "李秀英", IDNumber: "420323198203150021", Phone: "13872812345"}})
	return node.Change{Case: id, Kind: cases.KindRegister, Author: "grid-shuangtai", Writes: []cases.LocalWrite{
		{Field: "kind", Action: cases.Set, JSON: str(cases.MatterDispute)},
		{Field: "region", Action: cases.Set, JSON: str("420323203200")},
		{Field: "petitioners", Action: cases.Set, JSON: persons},
		{Field: "summary", Action: cases.Set, JSON: str("反映邻里因宅基地界址发生纠纷，请求村调委会调解。")},
		{Field: "category", Action: cases.Set, JSON: str("邻里纠纷")},
		{Field: "registered_at", Action: cases.Set, JSON: now},
		{Field: "received_at", Action: cases.Set, JSON: now},
	}}
}
