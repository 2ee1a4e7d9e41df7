package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
)

// lockedBuffer is a bytes.Buffer safe for a command writing while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startCommand runs a long-lived command until the returned stop is called; stop returns
// the command's error.
func startCommand(t *testing.T, args ...string) (stop func() error, out *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &lockedBuffer{}
	errOut := &lockedBuffer{}
	a := &app{commands: commands(), lookupEnv: func(string) (string, bool) { return "", false },
		stdin: strings.NewReader(""), stdout: out, stderr: errOut}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, args) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("%v did not stop within 20 s of its context ending; stderr:\n%s", args, errOut.String())
			return nil
		}
	}, out
}

// getJSON polls url until it answers 200 (deadline 10 s) and decodes the body into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", url, resp.Status)
			}
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a server that is starting, with a deadline
	}
}

func TestStation_ServesStatusAndStopsOnCancel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	addr := freeAddr(t)
	stop, _ := startCommand(t, "station", "--dir", dir, "--id", "zs-chengguan", "--region", "420323100", "--http", addr)
	var health map[string]string
	getJSON(t, "http://"+addr+"/healthz", &health)
	if health["status"] != "ok" {
		t.Errorf("/healthz = %v", health)
	}
	var st struct {
		Node, Role, Region string
		Cases, Ops         uint64
		FeedSeq            uint64 `json:"feed_seq"`
	}
	getJSON(t, "http://"+addr+"/api/v1/status", &st)
	if st.Node != "zs-chengguan" || st.Role != "station" || st.Region != "420323100" || st.Cases != 0 || st.FeedSeq != 0 {
		t.Errorf("status = %+v", st)
	}
	if err := stop(); err != nil {
		t.Fatalf("station returned %v after cancel, want nil", err)
	}

	// The second run needs neither --id nor --region: the store remembers them.
	stop, _ = startCommand(t, "station", "--dir", dir, "--http", addr)
	getJSON(t, "http://"+addr+"/api/v1/status", &st)
	if st.Node != "zs-chengguan" || st.Region != "420323100" {
		t.Errorf("second run status = %+v", st)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStation_RefusesUnknownRegion(t *testing.T) {
	_, _, err := runApp(t, nil, nil, "station", "--dir", t.TempDir(), "--id", "x", "--region", "420323999", "--http", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "420323999") {
		t.Fatalf("err = %v, want a usage error naming the region", err)
	}
}

func TestImport_JSONLThenAgain_WritesNothingTwice(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	file := filepath.Join(t.TempDir(), "cases.jsonl")
	if err := os.WriteFile(file, demoSample, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runApp(t, nil, nil, "import", "--dir", dir, "--id", "zs", "--region", "420323", "--json", file)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Lines, Ops, Skipped int
		Rejected            []any
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := bytes.Count(demoSample, []byte("\n"))
	if rep.Lines != lines || rep.Ops != lines || len(rep.Rejected) != 0 {
		t.Fatalf("first import = %+v, want %d lines and ops, none refused", rep, lines)
	}
	out, _, err = runApp(t, nil, nil, "import", "--dir", dir, "--json", file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Ops != 0 || rep.Skipped != lines {
		t.Fatalf("second import = %+v, want nothing written, %d skipped", rep, lines)
	}
}

func TestImport_CSVReportsBadRowsAndImportsGoodOnes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	file := filepath.Join(t.TempDir(), "台账.csv")
	csv := "\ufeff案件编号,类别,区划代码,姓名,身份证号,联系电话,内容分类,信访形式,诉求,登记时间,标签\n" +
		"zs-2026-0001,信访,420323100201,王芳,11010519491231002X,13800138000,劳动社保,走访,反映拖欠工资,2026-03-02,重复访；积案\n" +
		"zs-2026-0002,纠纷,420323100201,李强,110105194912310021,13800138000,邻里纠纷,走访,宅基地界址争议,2026-03-02 09:30,\n" +
		"zs-2026-0003,信访,999999999999,张伟,,,城乡建设,书信,道路损坏,2026-03-03,\n"
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runApp(t, nil, nil, "import", "--dir", dir, "--id", "zs", "--region", "420323", "--json", file)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Ops      int
		Rejected []struct {
			Line   int
			Reason string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Ops != 1 || len(rep.Rejected) != 2 {
		t.Fatalf("report = %+v, want 1 row imported and 2 refused", rep)
	}
	if rep.Rejected[0].Line != 3 || !strings.Contains(rep.Rejected[0].Reason, "id_number") {
		t.Errorf("row 3 (bad check digit) refused as %+v", rep.Rejected[0])
	}
	if rep.Rejected[1].Line != 4 || !strings.Contains(rep.Rejected[1].Reason, "region") {
		t.Errorf("row 4 (unknown region) refused as %+v", rep.Rejected[1])
	}
}

// Once a store holds accounts, an offline import needs an account allowed to import, with
// its password; the ops it writes carry that account as their author.
func TestImport_OnceAccountsExistNeedsAnAccountAllowedToImport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	r, err := node.Open(dir, node.Options{NodeID: "zs", Region: "420323100"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []node.Change{
		casetest.Account(cases.SetupAuthor, "zs.admin", "420323100", cases.RoleStationAdmin),
		casetest.Account("zs.admin", "zs.li", "420323100", cases.RoleTownshipStaff),
		casetest.Account("zs.admin", "zs.wang", "420323100201", cases.RoleGridWorker),
	} {
		if _, err := r.Write(context.Background(), ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "台账.csv")
	csv := "案件编号,类别,区划代码,姓名,身份证号,联系电话,内容分类,信访形式,诉求,登记时间,标签\n" +
		"zs-2026-0001,信访,420323100201,王芳,11010519491231002X,13800138000,劳动社保,走访,反映拖欠工资,2026-03-02,\n"
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	pass := map[string]string{"FENGQIAO_PASSWORD": casetest.Password}
	for _, tc := range []struct {
		author string
		env    map[string]string
		want   string
	}{
		{"import", pass, "--author"},
		{"wang", pass, "导入"}, // a grid worker may not import
		{"li", map[string]string{"FENGQIAO_PASSWORD": "wrong password"}, "wrong account or password"},
	} {
		if _, _, err := runApp(t, nil, tc.env, "import", "--dir", dir, "--author", tc.author, file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("import as %s: %v, want an error saying %q", tc.author, err, tc.want)
		}
	}
	if _, _, err := runApp(t, nil, pass, "import", "--dir", dir, "--author", "li", file); err != nil {
		t.Fatal(err)
	}
	r, err = node.Open(dir, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, _, err := r.Case("zs-2026-0001")
	if err != nil || c.Creator != "zs.li" {
		t.Fatalf("imported case %v by %v, want zs.li's", err, c)
	}
}
