package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/sync"
)

func exportCommand() *Command {
	return &Command{
		Name:    "export",
		Summary: "写出手工携带的同步包 / write a sync bundle to carry by hand",
		Description: `没有网络时，站点把中心尚未确认的全部操作写成一个文件（用中心的密钥加密、用本站密钥签名），
拷贝到 U 盘带到中心，由中心用 fengqiao import 导入；中心再用 --peer 站点编号 写出回执包
（确认收到的位置，以及该站点辖区的新案件、交办和答复），带回站点导入。
With no network, a station writes everything its hub has not acknowledged into one file,
encrypted to the hub's key and signed with the station's; carried to the hub on a USB stick,
it is imported there with fengqiao import. The hub then writes a return bundle with
--peer STATION (a receipt of what it applied, and the station's scope: new cases,
assignments, replies), carried back and imported at the station.`,
		Examples: []Example{
			{Comment: "站点写出同步包 / a station writes its bundle",
				Command: "fengqiao export --dir /var/lib/fengqiao --out /media/usb/zs-chengguan.fqb"},
			{Comment: "中心写出给该站点的回执包 / the hub writes the station's return bundle",
				Command: "fengqiao export --dir /var/lib/fengqiao-hub --peer zs-chengguan --out /media/usb/return.fqb"},
			{Comment: "从运行中的（集群）中心下载回执包 / fetch it from a running (cluster) hub",
				Command: "fengqiao export --hub http://10.0.0.1:8741 --peer zs-chengguan --out /media/usb/return.fqb"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			dir := fs.String("dir", "", "案件库目录（必填） / the store's directory (required)")
			out := fs.String("out", "", "写出的文件（必填） / the bundle file to write (required)")
			peer := fs.String("peer", "", "收件方：站点写出时为中心（默认登记的中心），中心写出时为站点编号 / recipient: the hub (default: the enrolled one) at a station, a station id at a hub")
			hubURL := fs.String("hub", "", "从运行中的中心下载站点的回执包（需 --peer） / fetch a station's return bundle from a running hub (with --peer)")
			return func(ctx context.Context, env *Env, args []string) error {
				if *hubURL != "" {
					if *peer == "" || *out == "" {
						return usageErrorf("--hub needs --peer STATION and --out / --hub 需要 --peer 和 --out")
					}
					return downloadBundle(ctx, env, *hubURL, *peer, *out)
				}
				if *dir == "" || *out == "" {
					return usageErrorf("need --dir and --out / 需要 --dir 和 --out")
				}
				r, err := openExisting(*dir, env)
				if err != nil {
					return err
				}
				defer r.Close()
				tmp, err := os.CreateTemp(filepath.Dir(*out), ".fengqiao-export-*")
				if err != nil {
					return err
				}
				defer os.Remove(tmp.Name())
				pr := newProgress(ctx, env.Stderr, "写出同步包 / export bundle (ops)", 0)
				rep, err := sync.ExportBundle(ctx, r, tmp, sync.BundleOptions{Peer: *peer, Logger: env.Log, Progress: bundleProgress(pr)})
				pr.finish()
				if err == nil {
					err = tmp.Sync()
				}
				if cerr := tmp.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				if err := os.Rename(tmp.Name(), *out); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "已写出 / wrote %s: %s bundle %s → %s, %d ops, %d bytes\n",
					*out, rep.Kind, rep.From, rep.To, rep.Ops, rep.Bytes)
				return nil
			}
		},
	}
}

// isBundle reports whether the file at path is a sync bundle (by its magic bytes).
func isBundle(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [8]byte
	n, _ := f.Read(magic[:])
	return n == 8 && bytes.Equal(magic[:], []byte("FQBUNDLE"))
}

// importBundle applies a sync bundle to the store in dir.
func importBundle(ctx context.Context, env *Env, dir, path string, asJSON bool) error {
	r, err := openExisting(dir, env)
	if err != nil {
		return err
	}
	defer r.Close()
	f, size, err := openSized(path)
	if err != nil {
		return err
	}
	defer f.Close()
	pr := newProgress(ctx, env.Stderr, "导入同步包 / import bundle "+filepath.Base(path)+" (ops)", 0)
	rep, err := sync.ImportBundle(ctx, r, f, size, sync.BundleOptions{Logger: env.Log, Progress: bundleProgress(pr)})
	pr.finish()
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(env.Stdout).Encode(rep)
	}
	fmt.Fprintf(env.Stdout, "已导入同步包 / imported %s bundle %s → %s: %d 批 batches, %d 条新操作 new ops, %d 条重复 duplicates, %d 条隔离 quarantined\n",
		rep.Kind, rep.From, rep.To, rep.Batches, rep.Applied, rep.Duplicates, rep.Quarantined)
	return nil
}

// bundleProgress feeds a bundle's progress (ops done of total, 0 while unknown) to pr.
func bundleProgress(pr *progress) func(done, total int) {
	return func(done, total int) {
		if total > 0 {
			pr.setTotal(int64(total))
		}
		pr.set(int64(done), "")
	}
}

// openExisting opens the store in dir, which must exist and not be a cluster member's.
func openExisting(dir string, env *Env) (*node.Replica, error) {
	return openLocalStore(dir, node.Options{Logger: env.Log}, "")
}
