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
	raft, raftAdvertise, memberURL, bootstrap, join, token *string
	hubID, parent, parentToken                             *string
	snapThreshold, trailingLogs                            *uint64
	snapInterval                                           *time.Duration
}

func addClusterFlags(fs *flag.FlagSet) clusterFlags {
	return clusterFlags{
		raft:          fs.String("raft", "", "Raft 监听地址；设置后本进程是三成员集群的一员，--id 是成员编号 / Raft listen address; makes this process a member of a 3-member cluster, --id its member id"),
		raftAdvertise: fs.String("raft-advertise", "", "其他成员连接本成员 Raft 的地址（默认 --raft） / Raft address other members dial (default --raft)"),
		memberURL:     fs.String("member-url", "", "其他成员访问本成员 HTTP 的地址（默认 http://HTTP地址） / this member's HTTP URL as other members reach it (default http://ADDR)"),
		bootstrap:     fs.String("bootstrap", "", "初始化新集群的成员表：编号=RAFT地址=HTTP地址，逗号分隔，各成员相同；仅当所列成员都没有数据时 / the new cluster's members, ID=RAFTADDR=HTTPADDR,..., the same on every member; only when every listed member is empty"),
		join:          fs.String("join", "", "加入已有集群：任一成员的 URL，逗号分隔 / join a cluster through any member's URL (comma-separated)"),
		hubID:         fs.String("hub-id", "", "初始化时中心的节点编号（站点看到的名称，默认 hub-辖区代码） / the hub's node id at bootstrap, as stations see it (default hub-REGION)"),
		snapThreshold: fs.Uint64("raft-snapshot-threshold", 8192, "日志增长多少条后做快照 / log entries between snapshots"),
		trailingLogs:  fs.Uint64("raft-trailing-logs", 4096, "快照后保留的日志条数（落后的成员从日志追上） / log entries kept after a snapshot, for followers to catch up from"),
		snapInterval:  fs.Duration("raft-snapshot-interval", 2*time.Minute, "检查是否需要快照的间隔 / how often to check whether to snapshot"),
		parent:        fs.String("parent", "", "上级（市级）中心的 URL，逗号分隔；县级中心由 Raft 领导者与其同步 / the parent (city) hub's URLs, comma-separated; the Raft leader of a county hub syncs with it"),
		parentToken:   fs.String("parent-token", "", "在上级中心登记时用的口令 / enrollment token at the parent hub"),
		token:         fs.String("cluster-token", "", "集群口令（各成员相同，至少 16 字符；建议用环境变量 FENGQIAO_CLUSTER_TOKEN） / cluster secret, the same on every member, ≥ 16 characters (prefer FENGQIAO_CLUSTER_TOKEN)"),
	}
}

// clusterSettings are the values of clusterFlags (the demo fills them in directly).
type clusterSettings struct {
	raft, raftAdvertise, memberURL, bootstrap, join, token string
	hubID, parent, parentToken                             string
	snapThreshold, trailingLogs                            uint64
	snapInterval                                           time.Duration
}

func (f clusterFlags) settings() clusterSettings {
	return clusterSettings{raft: *f.raft, raftAdvertise: *f.raftAdvertise, memberURL: *f.memberURL, bootstrap: *f.bootstrap,
		join: *f.join, token: *f.token, hubID: *f.hubID, parent: *f.parent, parentToken: *f.parentToken,
		snapThreshold: *f.snapThreshold, trailingLogs: *f.trailingLogs, snapInterval: *f.snapInterval}
}

// bootstrapMember is one entry of --bootstrap: ID=RAFTADDR=HTTPADDR.
type bootstrapMember struct{ id, raft, url string }

// parseBootstrap parses --bootstrap; an HTTPADDR without a scheme gets scheme.
func parseBootstrap(s, scheme string) ([]bootstrapMember, error) {
	var out []bootstrapMember
	seen := map[string]bool{}
	for _, e := range splitList(s) {
		parts := strings.SplitN(e, "=", 3)
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, usageErrorf("--bootstrap %q: want ID=RAFTADDR=HTTPADDR / 格式应为 编号=RAFT地址=HTTP地址", e)
		}
		if seen[parts[0]] {
			return nil, usageErrorf("--bootstrap lists %s twice / 成员编号重复", parts[0])
		}
		seen[parts[0]] = true
		u := parts[2]
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			u = scheme + "://" + u
		}
		out = append(out, bootstrapMember{id: parts[0], raft: parts[1], url: u})
	}
	return out, nil
}

// memberParams are what a cluster member serves besides its Raft settings.
type memberParams struct {
	dir, id, region, addr string
	urls                  []string // what stations are told (default: this member's URL)
	enrollToken           string
	tls                   tlsSettings
	opts                  node.Options
	// ready, when set, is called once the member runs and serves stations.
	ready func(c *hub.Cluster, url string)
}

// serveClusterHub runs one member of a hub's Raft cluster: it serves the other members at
// once, bootstraps or joins when it is empty, then serves stations like a single hub does.
//
// --bootstrap lists every member (the same list on each, as etcd's --initial-cluster): the
// member with the lowest id makes the hub after every other listed member reported, with
// the cluster token, that it is empty; the others join it and receive the hub's identity.
func serveClusterHub(ctx context.Context, env *Env, f clusterSettings, p memberParams) error {
	if p.id == "" || f.token == "" {
		return usageErrorf("--raft needs --id (this member's id) and --cluster-token / 集群成员需要 --id（成员编号）和 --cluster-token")
	}
	boot, err := parseBootstrap(f.bootstrap, p.tls.scheme())
	if err != nil {
		return err
	}
	advertise := f.raftAdvertise
	if advertise == "" {
		advertise = f.raft
	}
	serving, err := p.tls.newServingCert()
	if err != nil {
		return err
	}
	raw, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", p.addr, err)
	}
	ln, err := p.tls.listener(raw, serving)
	if err != nil {
		_ = raw.Close()
		return err
	}
	memberURL := f.memberURL
	if memberURL == "" {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			_ = ln.Close()
			return usageErrorf("--http %s listens on every address: say with --member-url how other members reach this one / 请用 --member-url 指定其他成员访问本成员的地址", p.addr)
		}
		memberURL = p.tls.scheme() + "://" + ln.Addr().String()
	}
	urls := p.urls
	if len(urls) == 0 {
		urls = []string{memberURL}
	}
	c, err := hub.OpenCluster(hub.ClusterConfig{Dir: p.dir, MemberID: p.id, RaftBind: f.raft, RaftAdvertise: f.raftAdvertise,
		URL: memberURL, Token: f.token, Replica: p.opts, HTTPS: serving, Now: p.opts.Now, Logger: env.Log, Tune: func(c *raft.Config) {
			c.SnapshotThreshold, c.TrailingLogs, c.SnapshotInterval = f.snapThreshold, f.trailingLogs, f.snapInterval
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
	env.Log.Info("hub member listening", "http", memberURL, "raft", advertise, "member", p.id)

	if c.Empty() {
		err = startEmptyMember(ctx, env, c, f, p, boot, advertise)
		if err != nil {
			stop()
			<-errc
			return err
		}
	} else if f.bootstrap != "" {
		env.Log.Info("--bootstrap ignored: this member already holds the hub's state / 已有数据，不再初始化")
	}
	m := c.Member()
	metrics := server.NewMetrics()
	hubSync := sync.NewHub(sync.HubConfig{Replica: metrics.Instrument(m), Logger: env.Log, URLs: urls, Now: p.opts.Now})
	h := server.NewStationHandler(server.StationConfig{Replica: m, Writer: m, Logger: env.Log, Role: "hub", Now: p.opts.Now,
		Sync: hubSync, Enroll: hubSync.EnrollHandler(p.enrollToken), Bundles: hubSync, Enrollments: hubSync, Peers: server.HubPeers(hubSync),
		Raft: func() any { return c.Status() }, RaftMetrics: clusterRaftMetrics(c), Ready: c.Serving, Auth: env.Auth,
		Metrics: metrics, Sessions: func() int { return len(hubSync.Sessions()) }})
	station.Store(&h)
	env.Log.Info("hub member serving stations", "hub", m.Origin().Node, "region", m.Region())
	if p.ready != nil {
		p.ready(c, memberURL)
	}
	var wg gosync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		whileLeader(sctx, c.Raft(), func(ctx context.Context) {
			if f.parent != "" {
				_ = runParentUplink(ctx, env, metrics.Instrument(m), splitList(f.parent), f.parentToken)
			}
		})
	}()
	err = <-errc
	stop()
	return err
}

// startEmptyMember bootstraps the hub (the lowest id of --bootstrap) or joins it.
func startEmptyMember(ctx context.Context, env *Env, c *hub.Cluster, f clusterSettings, p memberParams, boot []bootstrapMember, advertise string) error {
	if len(boot) > 0 {
		first := p.id
		var peers []hub.Peer
		var others []string
		for _, b := range boot {
			if b.id == p.id {
				if b.raft != advertise {
					return usageErrorf("--bootstrap lists %s at raft %s, but it advertises %s / 成员表中本成员的 Raft 地址不一致", p.id, b.raft, advertise)
				}
				continue
			}
			peers = append(peers, hub.Peer{ID: b.id, URL: b.url, Raft: b.raft})
			others = append(others, b.url)
			if b.id < first {
				first = b.id
			}
		}
		if first == p.id {
			if p.region == "" {
				return usageErrorf("--bootstrap needs --region / 初始化需要 --region")
			}
			hubID := f.hubID
			if hubID == "" {
				hubID = "hub-" + p.region
			}
			return c.Bootstrap(ctx, hubID, p.region, peers)
		}
		for _, b := range boot { // the lowest id makes the hub: ask it first
			if b.id == first {
				others = append([]string{b.url}, others...)
			}
		}
		env.Log.Info("waiting for the first member to make the hub / 等待第一个成员初始化中心", "first", first)
		return c.Join(ctx, others)
	}
	if f.join != "" {
		env.Log.Info("joining the hub / 正在加入中心集群", "via", f.join)
		return c.Join(ctx, splitList(f.join))
	}
	return usageErrorf("this member is empty: start it with --bootstrap (the new cluster's members) or --join URL / 本成员没有数据，请用 --bootstrap 或 --join")
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
			skip := fs.Bool("tls-skip-verify", false, tlsSkipVerifyUsage)
			return func(ctx context.Context, env *Env, args []string) error {
				if *hubURL == "" {
					return usageErrorf("%v", errNoHubURL)
				}
				if *member == "" || *token == "" {
					return usageErrorf("--member and --cluster-token are required / 需要 --member 和 --cluster-token")
				}
				if err := hub.RemoveMember(ctx, operatorClient(*skip, 60*time.Second), *token, splitList(*hubURL), *member); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "已移除成员 %s / member %s removed\n", *member, *member)
				return nil
			}
		},
	}
}

// clusterRaftMetrics reports the member's Raft state for /metrics.
func clusterRaftMetrics(c *hub.Cluster) func() server.RaftMetrics {
	return func() server.RaftMetrics {
		st := c.Status()
		return server.RaftMetrics{State: st.State, Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex}
	}
}
