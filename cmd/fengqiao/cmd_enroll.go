package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/fengqiao/fengqiao/sync"
)

func enrollCommand() *Command {
	return &Command{
		Name:    "enroll",
		Summary: "在同步中心登记站点 / enroll a station with its hub",
		Description: `站点把自己的公钥和辖区交给中心签名，并取回中心的公钥和地址；此后每次同步双方都用密钥互相验证。
站点的私钥从不离开本机。有中心的登记口令（--token）或在中心本机执行时立即登记；否则申请留在中心，
由县级管理员在中心页面核对密钥指纹后批准，之后再次运行本命令（或用 --wait 等待）即完成登记。
The station gives the hub its public key and region to sign, and learns the hub's key and
addresses; every sync session then proves both keys. The station's private key never leaves
this machine. With the hub's enrollment token (--token), or on the hub's machine, it is done at
once; otherwise the hub keeps the request until a county admin approves it on the hub's pages
(comparing the key fingerprint this command prints), after which running this again (or
waiting with --wait) completes it.`,
		Examples: []Example{
			{Comment: "登记城关镇站点 / enroll the 城关镇 station",
				Command: "fengqiao enroll --hub http://10.0.0.5:8741 --dir /var/lib/fengqiao --region 420323100 --token s3cret"},
			{Comment: "没有口令：申请并等待县级管理员批准 / no token: ask, and wait for a county admin's approval",
				Command: "fengqiao enroll --hub http://10.0.0.5:8741 --dir /var/lib/fengqiao --id zs-baofeng --region 420323103 --wait 30m"},
			{Comment: "新建站点并登记 / create a station store and enroll it",
				Command: "fengqiao enroll --hub http://127.0.0.1:8741 --dir ./st --id zs-chengguan --region 420323100"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			hub := fs.String("hub", "", "中心地址（必填） / the hub's URL (required)")
			dir := fs.String("dir", "", "站点案件库目录（必填） / the station's store (required)")
			region := fs.String("region", "", "站点区划代码（必填） / the station's division code (required)")
			id := fs.String("id", "", "新建案件库时的站点编号 / station id, when creating the store")
			token := fs.String("token", "", "中心的登记口令 / the hub's enrollment token")
			wait := fs.Duration("wait", 0, "申请待批准时等待的最长时间（0：不等待） / how long to wait for a pending request's approval (0: do not)")
			return func(ctx context.Context, env *Env, args []string) error {
				if *hub == "" || *dir == "" || *region == "" {
					return usageErrorf("need --hub, --dir and --region / 需要 --hub、--dir 和 --region")
				}
				r, err := openStation(*dir, *id, *region, env)
				if err != nil {
					return err
				}
				defer r.Close()
				fmt.Fprintf(env.Stdout, "本站密钥指纹 / this station's key fingerprint: %s\n", sync.KeyFingerprint(r.PublicKey()))
				deadline := time.Now().Add(*wait)
				info, err := sync.EnrollStation(ctx, r, *hub, *region, *token)
				for errors.Is(err, sync.ErrPendingApproval) && time.Now().Before(deadline) {
					fmt.Fprintf(env.Stdout, "等待县级管理员批准… / waiting for a county admin's approval…\n")
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(10 * time.Second): // polling the hub, within --wait
					}
					info, err = sync.EnrollStation(ctx, r, *hub, *region, *token)
				}
				if errors.Is(err, sync.ErrPendingApproval) {
					fmt.Fprintf(env.Stdout, "申请已提交，待县级管理员在中心页面（站点）核对上面的指纹并批准后，再次运行本命令 / "+
						"request sent: once a county admin has checked the fingerprint above and approved it on the hub's pages (Stations), run this again\n")
					return fmt.Errorf("not enrolled yet / 尚未登记: %w", sync.ErrPendingApproval)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "已登记 / enrolled: station %s at hub %s, scopes %v, urls %v\n", r.Origin().Node, info.Hub, info.Scopes, info.URLs)
				return nil
			}
		},
	}
}
