package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/server/hub"
	"github.com/fengqiao/fengqiao/sync"
)

// clusterFlags are the hub command's Raft flags; --raft turns a hub into a cluster member.
type clusterFlags struct {
	raft, raftAdvertise, member, memberURL, peers, join, token *string
	parent, parentToken                                        *string
	bootstrap                                                  *bool
	snapThreshold, trailingLogs                                *uint64
	snapInterval                                               *time.Duration
}

func addClusterFlags(fs *flag.FlagSet) clusterFlags {
	return clusterFlags{
		raft:          fs.String("raft", "", "Raft 监听地址；设置后本进程是三成员集群的一员 / Raft listen address; makes this process a member of a 3-member cluster"),
		raftAdvertise: fs.String("raft-advertise", "", "其他成员连接本成员 Raft 的地址（默认 --raft） / Raft address other members dial (default --raft)"),
		member:        fs.String("member", "", "成员编号（Raft server id）；丢失数据的成员须用新编号重新加入 / member id; a member that lost its data rejoins under a new one"),
		memberURL:     fs.String("member-url", "", "其他成员访问本成员 HTTP 的地址（默认 http://HTTP地址） / this member's HTTP URL as other members reach it (default http://ADDR)"),
		bootstrap:     fs.Bool("bootstrap", false, "初始化新集群（仅当本成员和 --peers 所列成员都没有数据时） / make a new cluster (only when this member and every --peers member are empty)"),
		peers:         fs.String("peers", "", "初始化时的其他成员：编号=URL，逗号分隔 / the other members at bootstrap: id=URL,id=URL"),
		join:          fs.String("join", "", "加入已有集群：任一成员的 URL，逗号分隔 / join a cluster through any member's URL (comma-separated)"),
		snapThreshold: fs.Uint64("raft-snapshot-threshold", 8192, "日志增长多少条后做快照 / log entries between snapshots"),
		trailingLogs:  fs.Uint64("raft-trailing-logs", 4096, "快照后保留的日志条数（落后的成员从日志追上） / log entries kept after a snapshot, for followers to catch up from"),
		snapInterval:  fs.Duration("raft-snapshot-interval", 2*time.Minute, "检查是否需要快照的间隔 / how often to check whether to snapshot"),
		parent:        fs.String("parent", "", "上级（市级）中心的 URL，逗号分隔；县级中心由 Raft 领导者与其同步 / the parent (city) hub's URLs, comma-separated; the Raft leader of a county hub syncs with it"),
		parentToken:   fs.String("parent-token", "", "在上级中心登记时用的口令 / enrollment token at the parent hub"),
		token:         fs.String("cluster-token", "", "集群口令（各成员相同，至少 16 字符；建议用环境变量 FENGQIAO_CLUSTER_TOKEN） / cluster secret, the same on every member, ≥ 16 characters (prefer FENGQIAO_CLUSTER_TOKEN)"),
	}
}

func parsePeers(s string) ([]hub.Peer, error) {
	var out []hub.Peer
	for _, p := range splitList(s) {
		id, u, ok := strings.Cut(p, "=")
		if !ok || id == "" || !strings.HasPrefix(u, "http") {
			return nil, usageErrorf("--peers %q: want id=http://host:port / 格式应为 编号=URL", p)
		}
		out = append(out, hub.Peer{ID: id, URL: u})
	}
	return out, nil
}

// serveClusterHub runs one member of a hub's Raft cluster: it serves the other members at
// once, bootstraps or joins when it is empty, then serves stations like a single hub does.
func serveClusterHub(ctx context.Context, env *Env, f clusterFlags, dir, hubID, region, addr string, urls []string, enrollToken string, opts node.Options) error {
	if *f.member == "" || *f.token == "" {
		return usageErrorf("--raft needs --member and --cluster-token / 集群成员需要 --member 和 --cluster-token")
	}
	peers, err := parsePeers(*f.peers)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	memberURL := *f.memberURL
	if memberURL == "" {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			_ = ln.Close()
			return usageErrorf("--http %s listens on every address: say with --member-url how other members reach this one / 请用 --member-url 指定其他成员访问本成员的地址", addr)
		}
		memberURL = "http://" + ln.Addr().String()
	}
	if len(urls) == 0 {
		urls = []string{memberURL}
	}
	c, err := hub.OpenCluster(hub.ClusterConfig{Dir: dir, MemberID: *f.member, RaftBind: *f.raft, RaftAdvertise: *f.raftAdvertise,
		URL: memberURL, Token: *f.token, Replica: opts, Logger: env.Log, Tune: func(c *raft.Config) {
			c.SnapshotThreshold, c.TrailingLogs, c.SnapshotInterval = *f.snapThreshold, *f.trailingLogs, *f.snapInterval
		}})
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer c.Close()

	var station atomic.Pointer[http.Handler]
	mux := http.NewServeMux()
	mux.Handle("/raft/", c.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if h := station.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"code":"not_joined","message":"本成员尚未加入集群 / this member has not joined its cluster yet"}}` + "\n"))
	})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(sctx, ln, mux, env.Log, 10*time.Second) }()
	env.Log.Info("hub member listening", "http", memberURL, "raft", *f.raft, "member", *f.member)

	if c.Empty() {
		switch {
		case *f.bootstrap:
			if hubID == "" || region == "" {
				err = usageErrorf("--bootstrap needs --id and --region / 初始化需要 --id 和 --region")
			} else {
				err = c.Bootstrap(ctx, hubID, region, peers)
			}
		case *f.join != "":
			env.Log.Info("joining the hub / 正在加入中心集群", "via", *f.join)
			err = c.Join(ctx, splitList(*f.join))
		default:
			err = usageErrorf("this member is empty: start it with --bootstrap (the first member) or --join URL / 本成员没有数据，请用 --bootstrap 或 --join")
		}
		if err != nil {
			stop()
			<-errc
			return err
		}
	} else if *f.bootstrap {
		env.Log.Info("--bootstrap ignored: this member already holds the hub's state / 已有数据，不再初始化")
	}
	m := c.Member()
	hubSync := sync.NewHub(sync.HubConfig{Replica: m, Logger: env.Log, URLs: urls})
	h := server.NewStationHandler(server.StationConfig{Replica: m, Logger: env.Log, Role: "hub",
		Sync: hubSync, Enroll: hubSync.EnrollHandler(enrollToken), Bundles: hubSync, Peers: hubPeers(hubSync),
		Raft: func() any { return c.Status() }})
	station.Store(&h)
	env.Log.Info("hub member serving stations", "hub", m.Origin().Node, "region", m.Region())
	var wg gosync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		whileLeader(sctx, c.Raft(), func(ctx context.Context) {
			if *f.parent != "" {
				_ = runParentUplink(ctx, env, m, splitList(*f.parent), *f.parentToken)
			}
		})
	}()
	err = <-errc
	stop()
	return err
}

// whileLeader runs fn while this member leads (the uplink runs on the leader only), and
// cancels it when leadership moves.
func whileLeader(ctx context.Context, r *raft.Raft, fn func(ctx context.Context)) {
	var cancel context.CancelFunc
	done := make(chan struct{})
	close(done)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		leading := r.State() == raft.Leader
		switch {
		case leading && cancel == nil:
			var lctx context.Context
			lctx, cancel = context.WithCancel(ctx)
			done = make(chan struct{})
			go func() { defer close(done); fn(lctx) }()
		case !leading && cancel != nil:
			cancel()
			<-done
			cancel = nil
		}
		select {
		case <-ctx.Done():
			if cancel != nil {
				cancel()
			}
			<-done
			return
		case <-tick.C:
		}
	}
}

func hubPeers(h *sync.Hub) func() []server.PeerStatus {
	return func() []server.PeerStatus {
		out := []server.PeerStatus{}
		for _, p := range h.Sessions() {
			out = append(out, server.PeerStatus{ID: p.Station, Connected: true})
		}
		return out
	}
}

var errNoHubURL = errors.New("--hub is required / 请用 --hub 指定中心地址")

func removeMemberCommand() *Command {
	return &Command{
		Name:    "remove-member",
		Summary: "从中心集群移除一个成员 / remove a member from a hub's Raft cluster",
		Description: `从中心的三成员集群中移除一个成员（例如服务器损坏、数据丢失）。被移除的编号不能再加入；
替换的服务器用新编号 --join 加入。
Removes a member from a hub's cluster (a dead server, a lost disk). A removed id can never
join again: the replacement joins with --join under a new id.`,
		Examples: []Example{{Comment: "移除 zs-hub-3（集群口令在 FENGQIAO_CLUSTER_TOKEN） / remove zs-hub-3 (cluster token in FENGQIAO_CLUSTER_TOKEN)",
			Command: "fengqiao remove-member --hub http://10.0.0.1:8741 --member zs-hub-3"}},
		Setup: func(fs *flag.FlagSet) RunFunc {
			hubURL := fs.String("hub", "", "任一成员的 URL，逗号分隔 / any member's URL, comma-separated")
			member := fs.String("member", "", "要移除的成员编号 / the member id to remove")
			token := fs.String("cluster-token", "", "集群口令 / cluster secret")
			return func(ctx context.Context, env *Env, args []string) error {
				if *hubURL == "" {
					return usageErrorf("%v", errNoHubURL)
				}
				if *member == "" || *token == "" {
					return usageErrorf("--member and --cluster-token are required / 需要 --member 和 --cluster-token")
				}
				if err := hub.RemoveMember(ctx, nil, *token, splitList(*hubURL), *member); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "已移除成员 %s / member %s removed\n", *member, *member)
				return nil
			}
		},
	}
}
