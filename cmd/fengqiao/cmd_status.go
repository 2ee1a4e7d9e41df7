package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/server/hub"
)

func statusCommand() *Command {
	return &Command{
		Name:    "status",
		Summary: "查看站点或中心的运行状态 / show a running station's or hub's state",
		Description: `向正在运行的站点或中心询问状态（/api/v1/status）并打印：案件和操作数、同步对端（是否连接、待确认操作、最近同步）、
隔离的操作、时钟；中心成员还打印 Raft 状态、主成员、任期和成员表。站点不可达时退出码为 1。
Asks a running station or hub for its state (/api/v1/status) and prints it: cases and ops,
sync peers (connected, ops not yet acknowledged, last sync), quarantined ops, its clock;
for a hub member also the Raft state, leader, term and members. Exits 1 when the node
cannot be reached.`,
		Examples: []Example{
			{Comment: "本机站点的状态 / the state of the station on this machine", Command: "fengqiao status --http 127.0.0.1:8740"},
			{Comment: "中心成员的状态，JSON 格式 / a hub member's state as JSON", Command: "fengqiao status --http http://10.1.2.3:8751 --json"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			addr := fs.String("http", "127.0.0.1:8740", "站点或中心的 HTTP 地址 / the station's or hub's HTTP address")
			asJSON := fs.Bool("json", false, "原样输出状态 JSON / print the status JSON as it came")
			timeout := fs.Duration("timeout", 5*time.Second, "等待回答的时间 / how long to wait for an answer")
			skip := fs.Bool("tls-skip-verify", false, tlsSkipVerifyUsage)
			return func(ctx context.Context, env *Env, args []string) error {
				url := *addr
				if !strings.Contains(url, "://") {
					url = "http://" + url
				}
				ctx, cancel := context.WithTimeout(ctx, *timeout)
				defer cancel()
				body, err := fetch(ctx, operatorClient(*skip, 0), strings.TrimRight(url, "/")+"/api/v1/status")
				if err != nil {
					return fmt.Errorf("无法连接 %s / cannot reach %s: %w", url, url, err)
				}
				if *asJSON {
					_, err := env.Stdout.Write(body)
					return err
				}
				var st server.StatusResponse
				if err := json.Unmarshal(body, &st); err != nil {
					return fmt.Errorf("%s 的回答不是状态 / %s did not answer with a status: %w", url, url, err)
				}
				return printStatus(env.Stdout, st)
			}
		},
	}
}

// fetch GETs url and returns the body of a 200 answer.
func fetch(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func printStatus(w io.Writer, st server.StatusResponse) error {
	role := map[string]string{"station": "站点 / station", "hub": "中心 / hub"}[st.Role]
	if role == "" {
		role = st.Role
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("%s %s（辖区 / region %s）", role, st.Node, st.Region)
	p("  案件 / cases: %d   操作 / ops: %d   时钟 / clock: %s   运行 / up: %s", st.Cases, st.Ops, st.Now,
		(time.Duration(st.UptimeSeconds) * time.Second).String())
	if st.PendingOps > 0 || st.Quarantined > 0 || st.Equivocations > 0 {
		p("  等待补齐 / waiting for a gap: %d   隔离 / quarantined: %d   同点异值告警 / equivocations: %d",
			st.PendingOps, st.Quarantined, st.Equivocations)
	}
	for _, peer := range st.Peers {
		conn := "未连接 / not connected"
		if peer.Connected {
			conn = "已连接 / connected"
		}
		last := peer.LastSync
		if last == "" {
			last = "从未 / never"
		}
		p("  对端 / peer %s: %s，待确认 / unacknowledged %d，最近同步 / last sync %s", peer.ID, conn, peer.PendingOps, last)
		if peer.LastError != "" {
			p("    最近错误 / last error: %s", peer.LastError)
		}
	}
	if st.Raft != nil {
		b, _ := json.Marshal(st.Raft)
		var rs hub.ClusterStatus
		if json.Unmarshal(b, &rs) == nil {
			p("  Raft: 成员 / member %s，状态 / state %s，主成员 / leader %s，任期 / term %d，已应用 / applied %d / 已提交 / committed %d",
				rs.Member, rs.State, rs.Leader, rs.Term, rs.AppliedIndex, rs.CommitIndex)
			for _, m := range rs.Members {
				p("    %s  raft %s  %s", m.ID, m.Raft, m.URL)
			}
		}
	}
	return nil
}
