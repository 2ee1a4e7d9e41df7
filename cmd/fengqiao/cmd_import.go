package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

func importCommand() *Command {
	return &Command{
		Name:    "import",
		Args:    "FILE",
		Summary: "离线批量导入案件（JSONL、CSV 或 Excel 台账） / offline bulk import (workload JSONL, CSV or Excel ledgers)",
		Description: `把文件中的案件作为本站的操作写入案件库，无需网络。逐条校验：错误的行按行号报告，
不影响正确的行。同一文件导入两次不会重复写入；中断后再次运行会从上次完成处继续。
在文件末尾追加的行再次导入时只写入新行；如果修改了文件中间的内容，整个文件会被当作新文件导入
（已存在的案件登记会被拒绝，但其中的修改和记录会重复写入）。
格式按扩展名识别：.jsonl（基准负载格式）、.csv 或 .xlsx（台账，首行为表头；Excel 读第一个工作表）；以及 fengqiao export 写出的同步包
（中心导入站点送来的包，站点导入中心的回执包；同一个包导入两次不会改变任何数据）。
Writes the cases in FILE into the store as this node's own ops, with no network. Every line
is validated: bad lines are reported by number and reason and never block the good ones.
Importing a file twice writes nothing the second time; an interrupted import continues where
it stopped; lines appended to a file are all that a new import of it writes. A file edited in
the middle counts as a new file: registrations of existing cases are refused, but its edits and
notes would be written again. The format follows the extension: .jsonl (the benchmark
workload), .csv or .xlsx (a ledger with a header row; of a workbook, its first sheet); a sync bundle written by fengqiao export is
recognized by its content (a hub imports a station's bundle, a station its hub's return
bundle; importing a bundle twice changes nothing).`,
		Examples: []Example{
			{Comment: "导入基准负载 / import the benchmark workload",
				Command: "fengqiao import --dir /var/lib/fengqiao cases.jsonl"},
			{Comment: "中心导入站点带来的同步包 / a hub imports a station's bundle",
				Command: "fengqiao import --dir /var/lib/fengqiao-hub zs-chengguan.fqb"},
			{Comment: "上传到运行中的中心（集群） / upload to a running hub (a cluster)",
				Command: "fengqiao import --hub http://10.0.0.1:8741 zs-chengguan.fqb"},
			{Comment: "导入台账到新库 / import a ledger into a new store",
				Command: "fengqiao import --dir ./st --id zs-chengguan --region 420323100 台账.csv"},
			{Comment: "导入 Excel 台账 / import an Excel ledger",
				Command: "fengqiao import --dir ./st 2026年信访台账.xlsx"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			dir := fs.String("dir", "", "案件库目录（必填） / directory of the case store (required)")
			id := fs.String("id", "", "新建案件库时的站点编号 / node id, when creating a store")
			region := fs.String("region", "", "新建案件库时的区划代码 / division code, when creating a store")
			author := fs.String("author", "import", "记录为操作人的账号；库中已有账号时须为有导入权限的账号，密码取自 FENGQIAO_PASSWORD 或标准输入 / account recorded as the author; once the store holds accounts, one allowed to import, its password from FENGQIAO_PASSWORD or standard input")
			batch := fs.Int("batch", 1000, "每批写入的记录数 / records per synced batch")
			asJSON := fs.Bool("json", false, "以 JSON 输出结果 / print the report as JSON")
			hubURL := fs.String("hub", "", "把同步包上传到运行中的中心（集群中心须用此方式） / upload a bundle to a running hub (the way for a cluster hub)")
			return func(ctx context.Context, env *Env, args []string) error {
				if *hubURL != "" {
					if len(args) != 1 || !isBundle(args[0]) {
						return usageErrorf("--hub takes one sync bundle / --hub 只能上传一个同步包")
					}
					return uploadBundle(ctx, env, *hubURL, args[0], *asJSON)
				}
				if *dir == "" || len(args) != 1 {
					return usageErrorf("need --dir and one FILE / 需要 --dir 和一个文件")
				}
				if isBundle(args[0]) {
					return importBundle(ctx, env, *dir, args[0], *asJSON)
				}
				r, err := openStation(*dir, *id, *region, env)
				if err != nil {
					return err
				}
				defer r.Close()
				who, err := signInCLI(env, r, *author, cases.PermImport) // once the store holds accounts
				if err != nil {
					return err
				}
				rep, took, err := importFile(ctx, env, r, args[0], node.ImportOptions{Author: who, BatchSize: *batch})
				if err != nil {
					return err
				}
				return printImportReport(env, args[0], rep, took, *asJSON)
			}
		},
	}
}

// importFile imports one file by its extension, reporting progress on stderr.
func importFile(ctx context.Context, env *Env, r *node.Replica, path string, opts node.ImportOptions) (node.ImportReport, time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return node.ImportReport{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return node.ImportReport{}, 0, err
	}
	start := time.Now()
	pr := newProgress(ctx, env.Stderr, "导入 / import "+filepath.Base(path)+" (bytes)", st.Size())
	defer pr.finish()
	opts.Progress = func(rep node.ImportReport) {
		pr.set(rep.Offset, fmt.Sprintf("%d 行 / lines: 写入 / wrote %d, 跳过 / skipped %d, 拒绝 / refused %d",
			rep.Lines, rep.Ops, rep.Skipped, len(rep.Rejected)))
	}
	var rep node.ImportReport
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".jsonl", ".ndjson", ".json":
		rep, err = r.ImportJSONL(ctx, f, st.Size(), opts)
	case ".csv":
		rep, err = r.ImportCSV(ctx, f, st.Size(), opts)
	case ".xlsx":
		rep, err = r.ImportXLSX(ctx, f, st.Size(), opts)
	default:
		return rep, 0, usageErrorf("%s: unknown format %q (want .jsonl, .csv or .xlsx) / 无法识别的文件格式", path, ext)
	}
	return rep, time.Since(start), err
}

func printImportReport(env *Env, path string, rep node.ImportReport, took time.Duration, asJSON bool) error {
	if asJSON {
		type rejected struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
		}
		out := struct {
			File     string     `json:"file"`
			Lines    int        `json:"lines"`
			Ops      int        `json:"ops"`
			Skipped  int        `json:"skipped"`
			Rejected []rejected `json:"rejected"`
			Seconds  float64    `json:"seconds"`
		}{File: path, Lines: rep.Lines, Ops: rep.Ops, Skipped: rep.Skipped, Rejected: []rejected{}, Seconds: took.Seconds()}
		for _, e := range rep.Rejected {
			out.Rejected = append(out.Rejected, rejected{e.Line, e.Err.Error()})
		}
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	fmt.Fprintf(env.Stdout, "%s: 共 %d 行，写入 %d 条操作，跳过已导入 %d 行，拒绝 %d 行，用时 %.1f 秒\n",
		path, rep.Lines, rep.Ops, rep.Skipped, len(rep.Rejected), took.Seconds())
	fmt.Fprintf(env.Stdout, "%s: %d lines, %d ops written, %d already imported, %d refused, %.1f s\n",
		path, rep.Lines, rep.Ops, rep.Skipped, len(rep.Rejected), took.Seconds())
	for _, e := range rep.Rejected {
		fmt.Fprintf(env.Stdout, "  第 %d 行 / line %d: %v\n", e.Line, e.Line, e.Err)
	}
	return nil
}
