package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
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
		Description: `在本机启动竹山县（420323）的三成员 Raft 同步中心和两个乡镇站点：中心导入内置的样例案件（与基准负载同一格式），
宝丰镇站点在线，收到本镇的案件；双台乡站点先离线登记一件新案件，再接通网络，上传新案件并收到本乡的案件。
打印同步的结果和可以打开的地址，按 Ctrl-C 停止。数据保存在 --dir 指定的目录，再次运行不会重复导入。
在浏览器中打开打印出的网页地址，用演示账号登录。
Starts 竹山县's (420323) hub, a 3-member Raft cluster, and two township stations on this machine: the hub imports the
built-in sample cases (the benchmark workload's format); the 宝丰镇 station is online and
receives its township's cases; the 双台乡 station first registers a case offline, then
connects, sends it up and receives its township's cases. Prints what synced and the
addresses to open; stops on Ctrl-C. Data stays in --dir; running it again imports nothing
twice. Open the pages it prints in a browser and sign in with the demo accounts it lists.`,
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

// runDemo wires the demo's nodes together — a 3-member county hub and two stations — and
// serves them until ctx ends.
func runDemo(ctx context.Context, env *Env, dir, hubAddr, addr, addr2 string) error {
	out := env.Stdout
	layout, err := demoHubLayout(dir, hubAddr)
	if err != nil {
		return err
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
	var bootstrap, urls []string
	for _, m := range layout.Members {
		bootstrap = append(bootstrap, m.ID+"="+m.Raft+"="+m.HTTP)
		urls = append(urls, "http://"+m.HTTP)
	}
	type readyMember struct {
		c   *hub.Cluster
		url string
	}
	ready := make(chan readyMember, len(layout.Members))
	errc := make(chan error, len(layout.Members)+2)
	for _, m := range layout.Members {
		settings := clusterSettings{raft: m.Raft, bootstrap: strings.Join(bootstrap, ","), token: layout.Token, hubID: demoNodes.hub,
			snapThreshold: 8192, trailingLogs: 4096, snapInterval: 2 * time.Minute}
		params := memberParams{dir: filepath.Join(dir, "hub", m.ID), id: m.ID, region: "420323", addr: m.HTTP, urls: urls,
			opts: node.HubDefaults(), ready: func(c *hub.Cluster, url string) { ready <- readyMember{c, url} }}
		go func() { errc <- serveClusterHub(ctx, env, settings, params) }()
	}
	var first readyMember
	for range layout.Members {
		select {
		case r := <-ready:
			if r.url == urls[0] || first.c == nil {
				first = r
			}
		case err := <-errc:
			cancel()
			return err
		}
	}
	member := first.c.Member()
	hubURL := urls[0]
	stop := func(err error) error {
		cancel()
		for range layout.Members {
			<-errc
		}
		return err
	}
	written, already, err := demoImportSample(ctx, member)
	if err != nil {
		return stop(err)
	}
	if err := demoSetupAccounts(ctx, hubURL); err != nil {
		return stop(err)
	}
	for _, st := range []*node.Replica{online, offline} {
		if _, err := sync.EnrollStation(ctx, st, hubURL, st.Region(), ""); err != nil {
			return stop(fmt.Errorf("enroll %s: %w", st.Origin().Node, err))
		}
	}
	fmt.Fprintf(out, "枫桥演示 / Fengqiao demo — 数据目录 / data: %s\n", dir)
	fmt.Fprintf(out, "  中心 / hub %s（竹山县 420323，三成员 Raft 集群 / a 3-member Raft cluster）: 样例写入 %d 条操作 / sample: %d ops written now, %d cases already there\n",
		demoNodes.hub, written, written, already)

	// 宝丰镇 is online: it syncs now.
	if err := demoSync(ctx, online, hubURL); err != nil {
		return stop(err)
	}
	fmt.Fprintf(out, "  宝丰镇站点 / station %s 在线同步后 / after syncing: %s\n", demoNodes.online, demoCounts(online))

	// 双台乡 registers a case with no network, then connects.
	id := fmt.Sprintf("st-%d", time.Now().Unix())
	if _, err := offline.Write(ctx, demoRegistration(id)); err != nil {
		return stop(fmt.Errorf("register offline: %w", err))
	}
	fmt.Fprintf(out, "  双台乡站点 / station %s 离线登记 / registered offline: %s; %s\n", demoNodes.offline, id, demoCounts(offline))
	if err := demoSync(ctx, offline, hubURL); err != nil {
		return stop(err)
	}
	_, _, holdErr := member.Case(id)
	fmt.Fprintf(out, "  双台乡站点接通后 / after connecting: %s; 中心已有 / the hub holds %s: %v\n",
		demoCounts(offline), id, holdErr == nil)

	// Serve the stations (they keep syncing) until Ctrl-C.
	for i, u := range urls {
		fmt.Fprintf(out, "  中心成员 / hub member %s: 网页 / pages %s/   状态 / status %s/api/v1/status\n", layout.Members[i].ID, u, u)
	}
	readySt := make(chan struct{}, 2)
	serveOne := func(r *node.Replica, a string, label string) {
		errc <- runStation(ctx, env, r, a, "", nil, func(na net.Addr) {
			fmt.Fprintf(out, "  %s: 网页 / pages http://%s/   状态 / status http://%s/api/v1/status\n", label, na, na)
			readySt <- struct{}{}
		})
	}
	go serveOne(online, addr, "宝丰镇站点 / station "+demoNodes.online)
	go serveOne(offline, addr2, "双台乡站点 / station "+demoNodes.offline)
	running := len(layout.Members) + 2
	for range 2 {
		select {
		case <-readySt:
		case err := <-errc:
			cancel()
			for range running - 1 {
				<-errc
			}
			return err
		}
	}
	printDemoAccounts(out)
	fmt.Fprintf(out, "按 Ctrl-C 停止 / press Ctrl-C to stop\n")
	err = <-errc
	cancel()
	for range running - 1 {
		if e := <-errc; err == nil {
			err = e
		}
	}
	return err
}

// demoLayout is where the demo's hub members listen, and their cluster token: chosen on the
// first run and kept in the demo's directory, since a Raft cluster remembers its members'
// addresses.
type demoLayout struct {
	Token   string `json:"token"`
	Members []struct {
		ID   string `json:"id"`
		HTTP string `json:"http"`
		Raft string `json:"raft"`
	} `json:"members"`
}

func demoHubLayout(dir, hubAddr string) (demoLayout, error) {
	var l demoLayout
	path := filepath.Join(dir, "hub", "demo-layout.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &l); err != nil || len(l.Members) != 3 {
			return l, fmt.Errorf("%s: unreadable (%v): remove %s to start the demo afresh", path, err, dir)
		}
		return l, nil
	}
	tok := make([]byte, 18)
	_, _ = rand.Read(tok)
	l.Token = base64.RawURLEncoding.EncodeToString(tok)
	for i := range 3 {
		httpAddr := hubAddr
		if i > 0 {
			a, err := freeLoopback()
			if err != nil {
				return l, err
			}
			httpAddr = a
		}
		raftAddr, err := freeLoopback()
		if err != nil {
			return l, err
		}
		l.Members = append(l.Members, struct {
			ID   string `json:"id"`
			HTTP string `json:"http"`
			Raft string `json:"raft"`
		}{fmt.Sprintf("zs-%d", i+1), httpAddr, raftAddr})
	}
	b, _ := json.MarshalIndent(l, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return l, err
	}
	return l, os.WriteFile(path, b, 0o600)
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// demoImportSample writes the built-in sample cases through the hub's log, once: a hub that
// already holds cases has them.
func demoImportSample(ctx context.Context, m *hub.Member) (written int, already uint64, err error) {
	if n := m.Status().Cases; n > 0 {
		return 0, n, nil
	}
	var changes []node.Change
	for _, line := range bytes.Split(demoSample, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ch, err := node.WorkloadChange(line, "county-demo")
		if err != nil {
			return 0, 0, fmt.Errorf("sample: %w", err)
		}
		changes = append(changes, ch)
	}
	ops, _, err := m.WriteBatch(ctx, changes)
	if err != nil {
		return 0, 0, fmt.Errorf("import sample: %w", err)
	}
	for _, op := range ops {
		if op.Case != "" {
			written++
		}
	}
	return written, 0, nil
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

// demoRegistration is a petition registered at the 双台乡 station.
func demoRegistration(id string) node.Change {
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	now := json.RawMessage(fmt.Sprint(time.Now().UnixMilli()))
	persons, _ := json.Marshal([]cases.Person{{Name: "李秀英", IDNumber: "420323198203150021", Phone: "13872812345"}})
	return node.Change{Case: id, Kind: cases.KindRegister, Author: "st.grid", Writes: []cases.LocalWrite{
		{Field: "kind", Action: cases.Set, JSON: str(cases.MatterDispute)},
		{Field: "region", Action: cases.Set, JSON: str("420323203200")},
		{Field: "petitioners", Action: cases.Set, JSON: persons},
		{Field: "summary", Action: cases.Set, JSON: str("反映邻里因宅基地界址发生纠纷，请求村调委会调解。")},
		{Field: "category", Action: cases.Set, JSON: str("邻里纠纷")},
		{Field: "registered_at", Action: cases.Set, JSON: now},
		{Field: "received_at", Action: cases.Set, JSON: now},
	}}
}
