package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

// addAuthFlags adds the sign-in settings of a node that serves people (station, hub) to fs;
// the returned function reads them into env.Auth once the flags are settled.
func addAuthFlags(fs *flag.FlagSet) func(env *Env) error {
	d := cases.DefaultArgon2
	t := fs.Int("argon2-time", int(d.Time), "新密码的 argon2id 迭代次数 / argon2id passes for new passwords")
	m := fs.Int("argon2-memory-kib", int(d.MemoryKiB), "新密码的 argon2id 内存（KiB） / argon2id memory for new passwords, KiB")
	p := fs.Int("argon2-threads", int(d.Threads), "新密码的 argon2id 并行度 / argon2id lanes for new passwords")
	hours := fs.Int("session-hours", 12, "登录有效时长（小时） / how long a sign-in lasts, hours")
	return func(env *Env) error {
		params := cases.Argon2Params{Time: uint32(max(*t, 0)), MemoryKiB: uint32(max(*m, 0)), Threads: uint8(min(max(*p, 0), 255))}
		if err := cases.CheckArgon2(params); err != nil {
			return usageErrorf("--argon2-*: %v / 密码哈希参数超出范围", err)
		}
		if *hours < 1 || *hours > 24*30 {
			return usageErrorf("--session-hours %d: 1 to 720 / 登录时长应为 1 到 720 小时", *hours)
		}
		env.Auth = server.AuthConfig{Argon2: params, SessionTTL: time.Duration(*hours) * time.Hour}
		return nil
	}
}

// signInCLI checks, at a node that holds accounts, that the person running an offline
// command (import, export) is an account holding permission perm here, and returns its id: their password comes from
// FENGQIAO_PASSWORD or the first line of standard input, and is never echoed or logged. A
// node without accounts asks nothing (before its first run; benchmarks).
func signInCLI(env *Env, r *node.Replica, account string, perm cases.Permission) (string, error) {
	has, err := r.HasAccounts()
	if err != nil || !has {
		return account, err
	}
	st := r.Status()
	id := account
	a, err := r.Account(id)
	if errors.Is(err, node.ErrNotFound) && len(st.Region) > 6 {
		id = st.Node + "." + account
		a, err = r.Account(id)
	}
	if err != nil {
		return "", fmt.Errorf("本节点已有账号：请用 --author 指定有权限的账号 / this node has accounts: name yours with --author (%s: %w)", account, err)
	}
	password, ok := env.Getenv("FENGQIAO_PASSWORD")
	if !ok {
		fmt.Fprintf(env.Stderr, "%s 的密码 / password of %s: ", id, id)
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("没有读到密码 / no password given (FENGQIAO_PASSWORD or standard input)")
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if !a.MaySignInAt(st.Node, st.Region) || !a.Credential.Verify(password) {
		return "", errors.New("账号或密码错误 / wrong account or password")
	}
	if err := cases.Allowed(a, perm, nil, cases.Node{ID: st.Node, Region: st.Region}); err != nil {
		var ref *cases.Refusal
		if errors.As(err, &ref) {
			return "", fmt.Errorf("%s / %s", ref.Zh, ref.En)
		}
		return "", err
	}
	env.Log.Info("offline command signed in", "account", id, "permission", perm)
	return id, nil
}
