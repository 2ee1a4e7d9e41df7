package main

import (
	"bytes"
	"context"
	_ "embed"
	"flag"
	"fmt"
	"net"
	"path/filepath"

	"github.com/fengqiao/fengqiao/node"
)

//go:embed demodata/sample.jsonl
var demoSample []byte

func demoCommand() *Command {
	return &Command{
		Name:    "demo",
		Summary: "用内置样例数据在本机运行演示 / run a demonstration on loopback with built-in sample data",
		Description: `在本机启动一个竹山县（420323）站点，导入内置的样例案件（与基准负载同一格式），
打印已导入的内容和可以打开的地址，按 Ctrl-C 停止。数据保存在 --dir 指定的目录，再次运行不会重复导入。
（集线器、多站点同步和网页界面随后续版本加入。）
Starts a station for 竹山县 (420323) on this machine, imports the built-in sample cases (the
benchmark workload's format), prints what it holds and the addresses to open, and stops on
Ctrl-C. Data stays in the --dir directory; running it again imports nothing twice. (Hubs,
multi-station sync and the web pages join in later versions.)`,
		Examples: []Example{
			{Comment: "运行演示 / run the demo", Command: "fengqiao demo"},
			{Comment: "指定目录和端口 / choose the directory and port", Command: "fengqiao demo --dir /tmp/fq-demo --http 127.0.0.1:9000"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			dir := fs.String("dir", "fengqiao-demo", "演示数据目录 / directory for the demo's data")
			addr := fs.String("http", "127.0.0.1:8740", "HTTP 监听地址 / HTTP listen address")
			return func(ctx context.Context, env *Env, args []string) error {
				abs, _ := filepath.Abs(*dir)
				r, err := openStation(filepath.Join(abs, "station-zhushan"), "zhushan-demo", "420323", env)
				if err != nil {
					return err
				}
				defer r.Close()
				rep, err := r.ImportJSONL(ctx, bytes.NewReader(demoSample), int64(len(demoSample)), node.ImportOptions{Author: "demo"})
				if err != nil {
					return fmt.Errorf("import sample: %w", err)
				}
				st := r.Status()
				out := env.Stdout
				fmt.Fprintf(out, "枫桥演示 / Fengqiao demo\n")
				fmt.Fprintf(out, "  数据目录 / data:      %s\n", abs)
				fmt.Fprintf(out, "  站点 / station:       %s（竹山县 420323，incarnation %d）\n", st.Node, st.Incarnation)
				fmt.Fprintf(out, "  样例 / sample:        本次写入 %d 条操作，已有 %d 行 / %d ops written now, %d lines already there\n",
					rep.Ops, rep.Skipped, rep.Ops, rep.Skipped)
				fmt.Fprintf(out, "  案件库 / store:       %d 件案件，%d 条操作 / %d cases, %d ops\n", st.Cases, st.FeedSeq, st.Cases, st.FeedSeq)
				return serveStation(ctx, env, r, *addr, nil, func(a net.Addr) {
					base := "http://" + a.String()
					fmt.Fprintf(out, "  状态 / status:        %s/api/v1/status\n", base)
					fmt.Fprintf(out, "  案件 / a case:        %s/api/v1/cases/c00000000\n", base)
					fmt.Fprintf(out, "按 Ctrl-C 停止 / press Ctrl-C to stop\n")
				})
			}
		},
	}
}
