package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/fengqiao/fengqiao/server/hub"
)

func rotateKeyCommand() *Command {
	return &Command{
		Name:    "rotate-key",
		Summary: "更换中心密钥（也是成员间 TLS 的证书机构） / rotate a hub's key (also the members' TLS authority)",
		Description: `为三成员中心生成新密钥，经 Raft 日志交给每个成员；旧密钥签名认可新密钥，已登记的站点和上级中心
在下次同步时自动随之更新，无需重新登记。用于定期更换和人员变动；密钥若已泄露，窃取者也能签名认可
自己的新密钥，此时应重建中心并让各站重新登记（docs/recovery.md）。
Makes a new key for a hub's cluster and commits it through the Raft log to every member; the
old key signs the new one, so enrolled stations and the city hub follow it at their next
sync, with no re-enrollment. It is for routine rotation and staff changes: a key that was
stolen could sign a successor of the thief's, so after a theft rebuild the hub and enroll
the stations again (docs/recovery.md).`,
		Examples: []Example{{Comment: "更换竹山县中心的密钥（集群口令在 FENGQIAO_CLUSTER_TOKEN） / rotate 竹山县's hub key (cluster token in FENGQIAO_CLUSTER_TOKEN)",
			Command: "fengqiao rotate-key --hub http://10.0.0.1:8741,http://10.0.0.2:8741"}},
		Setup: func(fs *flag.FlagSet) RunFunc {
			hubURL := fs.String("hub", "", "任一成员的 URL，逗号分隔 / any member's URL, comma-separated")
			token := fs.String("cluster-token", "", "集群口令 / cluster secret")
			skip := fs.Bool("tls-skip-verify", false, tlsSkipVerifyUsage)
			return func(ctx context.Context, env *Env, args []string) error {
				if *hubURL == "" {
					return usageErrorf("%v", errNoHubURL)
				}
				if *token == "" {
					return usageErrorf("--cluster-token is required / 需要 --cluster-token")
				}
				res, err := hub.RotateKey(ctx, operatorClient(*skip, 60*time.Second), *token, splitList(*hubURL))
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "中心密钥已更换：%s → %s（第 %d 次） / hub key rotated: %s → %s (rotation %d)\n",
					res.Old, res.New, res.Rotations, res.Old, res.New, res.Rotations)
				return nil
			}
		},
	}
}
