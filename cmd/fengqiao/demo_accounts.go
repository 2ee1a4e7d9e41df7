package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/server"
)

// demoPassword is every demo account's password. The demo runs on loopback only.
const demoPassword = "fengqiao-demo"

// demoAccount is one account the demo makes at the hub; the stations receive those of
// their township when they sync.
type demoAccount struct {
	id, name, region, where string
	role                    cases.Role
}

var demoAccounts = []demoAccount{
	{"zs.staff", "县信访局 李明", "420323", "中心 / hub", cases.RoleCountyStaff},
	{"bf.staff", "宝丰镇 王芳", demoNodes.onlineRegion, "宝丰镇站点 / station", cases.RoleTownshipStaff},
	{"st.staff", "双台乡 张强", demoNodes.offlineRegion, "双台乡站点 / station", cases.RoleTownshipStaff},
	{"st.grid", "双台乡网格员 赵敏", demoNodes.offlineRegion, "双台乡站点 / station", cases.RoleGridWorker},
}

// demoSetupAccounts runs the hub's first-run setup (its county admin, "admin") and makes
// the demo's accounts, once: a hub that has accounts already keeps them.
func demoSetupAccounts(ctx context.Context, hubURL string) error {
	status, body, err := demoPost(ctx, hubURL+"/api/v1/setup", "", server.SetupRequest{Account: "admin", Name: "县级管理员", Password: demoPassword})
	if err != nil {
		return err
	}
	if status == http.StatusConflict {
		return nil // set up on an earlier run
	}
	if status != http.StatusCreated {
		return fmt.Errorf("demo setup: %d %s", status, body)
	}
	status, body, err = demoPost(ctx, hubURL+"/api/v1/signin", "", server.SignInRequest{Account: "admin", Password: demoPassword})
	if err != nil {
		return err
	}
	var signed server.SignInResponse
	if status != http.StatusOK || json.Unmarshal(body, &signed) != nil {
		return fmt.Errorf("demo sign-in: %d %s", status, body)
	}
	for _, a := range demoAccounts {
		name, region := a.name, a.region
		status, body, err := demoPost(ctx, hubURL+"/api/v1/accounts", signed.Token,
			server.AccountRequest{Account: a.id, Name: &name, Region: &region, Roles: []cases.Role{a.role}, Password: demoPassword})
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			return fmt.Errorf("demo account %s: %d %s", a.id, status, body)
		}
	}
	return nil
}

func demoPost(ctx context.Context, url, token string, v any) (int, []byte, error) {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("demo: %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, nil
}

// printDemoAccounts tells who may sign in where.
func printDemoAccounts(out io.Writer) {
	fmt.Fprintf(out, "  演示账号（密码均为 %s）/ demo accounts (password %s for all):\n", demoPassword, demoPassword)
	fmt.Fprintf(out, "    admin      县级管理员 / county admin (accounts, audit log)    中心 / hub\n")
	for _, a := range demoAccounts {
		fmt.Fprintf(out, "    %-10s %s / %s    %s\n", a.id, a.name, a.role, a.where)
	}
}
