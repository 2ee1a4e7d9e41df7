package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/fengqiao/fengqiao/sync"
)

func enrollCommand() *Command {
	return &Command{
		Name:    "enroll",
		Summary: "在同步中心登记站点 / enroll a station with its hub",
		Description: `站点把自己的公钥和辖区交给中心签名，并取回中心的公钥和地址；此后每次同步双方都用密钥互相验证。
站点的私钥从不离开本机。登记需要中心管理员的口令（--token），或在中心本机执行。
The station gives the hub its public key and region to sign, and learns the hub's key and
addresses; every sync session then proves both keys. The station's private key never leaves
this machine. Enrollment needs the hub admin's token (--token), or must run on the hub's machine.`,
		Examples: []Example{
			{Comment: "登记城关镇站点 / enroll the 城关镇 station",
				Command: "fengqiao enroll --hub http://10.0.0.5:8741 --dir /var/lib/fengqiao --region 420323100 --token s3cret"},
			{Comment: "新建站点并登记 / create a station store and enroll it",
				Command: "fengqiao enroll --hub http://127.0.0.1:8741 --dir ./st --id zs-chengguan --region 420323100"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			hub := fs.String("hub", "", "中心地址（必填） / the hub's URL (required)")
			dir := fs.String("dir", "", "站点案件库目录（必填） / the station's store (required)")
			region := fs.String("region", "", "站点区划代码（必填） / the station's division code (required)")
			id := fs.String("id", "", "新建案件库时的站点编号 / station id, when creating the store")
			token := fs.String("token", "", "中心的登记口令 / the hub's enrollment token")
			return func(ctx context.Context, env *Env, args []string) error {
				if *hub == "" || *dir == "" || *region == "" {
					return usageErrorf("need --hub, --dir and --region / 需要 --hub、--dir 和 --region")
				}
				r, err := openStation(*dir, *id, *region, env)
				if err != nil {
					return err
				}
				defer r.Close()
				info, err := sync.EnrollStation(ctx, r, *hub, *region, *token)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "已登记 / enrolled: station %s at hub %s, scopes %v, urls %v\n", r.Origin().Node, info.Hub, info.Scopes, info.URLs)
				return nil
			}
		},
	}
}
