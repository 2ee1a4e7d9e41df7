package main

import (
	"context"

	"github.com/fengqiao/fengqiao/sync"
)

// runParentUplink keeps a county hub (replica r) in sync with its city hub (--parent) until
// ctx ends: it enrolls there as a hub on first use (with the city's enrollment token, if
// any), then keeps one session at a time, resuming from the checkpoints kept in r. Run it
// on one member only (the Raft leader); starting it again elsewhere resumes, it does not
// resend. It returns nil when ctx ends, or the city's refusal of the enrollment.
func runParentUplink(ctx context.Context, env *Env, r sync.Replica, parentURLs []string, token string) error {
	u, err := sync.NewUplink(sync.UplinkConfig{Replica: r, Parent: parentURLs, Token: token, Logger: env.Log})
	if err != nil {
		return err
	}
	env.Log.Info("uplink to the parent hub starting / 开始与上级中心同步", "parent", parentURLs)
	err = u.Run(ctx)
	if err != nil {
		env.Log.Error("uplink to the parent hub stopped / 与上级中心的同步已停止", "err", err)
	} else {
		env.Log.Info("uplink to the parent hub stopped / 与上级中心的同步已停止")
	}
	return err
}
