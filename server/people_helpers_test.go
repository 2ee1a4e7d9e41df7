package server_test

// Helpers of the people tests: real replicas on disk behind real HTTP servers on loopback,
// accounts made through the API, sign-in, requests with a session.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

const (
	county   = "420323"
	townA    = "420323100"
	villageA = "420323100201"
	townB    = "420323101"
	villageB = "420323101219"
	testPass = "correct horse 1"
)

// cheapArgon2 keeps tests fast; production uses cases.DefaultArgon2.
var cheapArgon2 = cases.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

func quietLog() *slog.Logger {
	if os.Getenv("FENGQIAO_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// clock is a settable test clock.
type clock struct{ ms atomic.Int64 }

func newTestClock() *clock {
	c := &clock{}
	c.ms.Store(1767225600000 + 40*24*3600*1000)
	return c
}
func (c *clock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// node is a replica with its API on loopback.
type testNode struct {
	r     *node.Replica
	srv   *httptest.Server
	clock *clock
}

func openNode(t *testing.T, dir, id, region string, c *clock) *node.Replica {
	t.Helper()
	r, err := node.Open(filepath.Join(dir, id), node.Options{NodeID: id, Region: region, Logger: quietLog(), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// startNode serves a new replica's API (with its writer) on loopback; extra sets more of
// the configuration (a hub's sync endpoint).
func startNode(t *testing.T, id, region string, extra func(*server.StationConfig)) *testNode {
	t.Helper()
	c := newTestClock()
	r := openNode(t, t.TempDir(), id, region, c)
	return serveNode(t, r, c, extra)
}

func serveNode(t *testing.T, r *node.Replica, c *clock, extra func(*server.StationConfig)) *testNode {
	t.Helper()
	role := "station"
	if len(r.Region()) <= 6 {
		role = "hub"
	}
	cfg := server.StationConfig{Replica: r, Writer: r, Logger: quietLog(), Now: c.now, Role: role,
		Auth: server.AuthConfig{Argon2: cheapArgon2}}
	if extra != nil {
		extra(&cfg)
	}
	srv := httptest.NewServer(server.NewStationHandler(cfg))
	t.Cleanup(srv.Close)
	return &testNode{r: r, srv: srv, clock: c}
}

// call makes a request with a session or token (tok may be ""), decoding the answer into
// out (nil: discard), and returns the status.
func call(t *testing.T, method, url, tok string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// must makes a request that must answer want.
func must(t *testing.T, want int, method, url, tok string, body, out any) {
	t.Helper()
	var raw json.RawMessage
	got := call(t, method, url, tok, body, &raw)
	if got != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, got, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

// setupAdmin runs the first-run flow on n and signs the admin in.
func (n *testNode) setupAdmin(t *testing.T, name string) (id, tok string) {
	t.Helper()
	var a cases.AccountJSON
	must(t, http.StatusCreated, "POST", n.srv.URL+"/api/v1/setup", "", server.SetupRequest{Account: name, Name: "管理员", Password: testPass}, &a)
	return a.ID, n.signIn(t, a.ID, testPass)
}

// signIn signs account in with password and returns the session token.
func (n *testNode) signIn(t *testing.T, account, password string) string {
	t.Helper()
	var resp server.SignInResponse
	must(t, http.StatusOK, "POST", n.srv.URL+"/api/v1/signin", "", server.SignInRequest{Account: account, Password: password}, &resp)
	if resp.Token == "" {
		t.Fatal("sign-in answered no token")
	}
	return resp.Token
}

// createAccount creates an account through the API as adminTok.
func (n *testNode) createAccount(t *testing.T, adminTok, id, region string, roles ...cases.Role) string {
	t.Helper()
	name := "测试用户"
	var a cases.AccountJSON
	must(t, http.StatusCreated, "POST", n.srv.URL+"/api/v1/accounts", adminTok,
		server.AccountRequest{Account: id, Name: &name, Region: &region, Roles: roles, Password: testPass}, &a)
	return a.ID
}

// registerCase writes a registration with a petitioner's identity, authored by author.
func registerCase(t *testing.T, w server.Writer, id, region, author string) {
	t.Helper()
	_, err := w.Write(context.Background(), node.Change{Case: id, Kind: cases.KindRegister, Author: author, Writes: []cases.LocalWrite{
		{Field: "kind", JSON: json.RawMessage(`"petition"`)},
		{Field: "region", JSON: json.RawMessage(`"` + region + `"`)},
		{Field: "petitioners", JSON: json.RawMessage(`[{"name":"王芳","id_number":"11010519491231002X","phone":"13800138000","address":"城关镇某路1号"}]`)},
		{Field: "summary", JSON: json.RawMessage(`"反映拖欠工资"`)},
		{Field: "registered_at", JSON: json.RawMessage(`1767225600000`)},
	}})
	if err != nil {
		t.Fatalf("register %s by %s: %v", id, author, err)
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func registrationWrites(region string) []cases.LocalWrite {
	return []cases.LocalWrite{
		{Field: "kind", JSON: json.RawMessage(`"petition"`)},
		{Field: "region", JSON: json.RawMessage(`"` + region + `"`)},
		{Field: "petitioners", JSON: json.RawMessage(`[{"name":"王芳","id_number":"11010519491231002X","phone":"13800138000","address":"城关镇某路1号"}]`)},
		{Field: "summary", JSON: json.RawMessage(`"反映拖欠工资"`)},
		{Field: "registered_at", JSON: json.RawMessage(`1767225600000`)},
	}
}
