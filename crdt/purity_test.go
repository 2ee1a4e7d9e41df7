package crdt_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// purePackages are the directories, relative to this package, whose non-test files must stay
// pure: no I/O, network, storage, logging, goroutines or wall clock. Directories that do not
// exist are skipped.
var purePackages = []struct {
	dir     string
	noLocks bool // crdt/ takes no locks either
}{
	{".", true},
	{"../cases", false},
	{"../cases/regions", false},
}

// impureImport reports why importing path breaks purity, or "" if it does not.
func impureImport(path string, noLocks bool) string {
	switch path {
	case "os", "os/exec", "net", "syscall", "io/ioutil", "path/filepath", "log", "log/slog",
		"github.com/gorilla/websocket", "github.com/hashicorp/raft":
		return "imports " + path
	case "sync", "sync/atomic":
		if noLocks {
			return "imports " + path
		}
	}
	for _, prefix := range []string{"net/", "os/", "log/", "github.com/cockroachdb/pebble"} {
		if strings.HasPrefix(path, prefix) {
			return "imports " + path
		}
	}
	return ""
}

// wallClockFuncs are the functions of package time that read or wait on the wall clock.
var wallClockFuncs = []string{"Now", "Since", "Sleep"}

// purityViolations parses one file and lists how it breaks purity.
func purityViolations(fset *token.FileSet, filename string, src any, noLocks bool) ([]string, error) {
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []string
	report := func(pos token.Pos, msg string) {
		out = append(out, fset.Position(pos).String()+": "+msg)
	}
	timeNames := map[string]bool{} // local names of package time
	timeDot := false               // time is dot-imported
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return nil, err
		}
		if why := impureImport(path, noLocks); why != "" {
			report(imp.Pos(), why)
		}
		if path == "time" {
			switch {
			case imp.Name == nil:
				timeNames["time"] = true
			case imp.Name.Name == ".":
				timeDot = true
			case imp.Name.Name != "_":
				timeNames[imp.Name.Name] = true
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n.Pos(), "starts a goroutine")
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && timeNames[x.Name] && slices.Contains(wallClockFuncs, n.Sel.Name) {
				report(n.Pos(), "uses time."+n.Sel.Name)
			}
		case *ast.Ident:
			if timeDot && slices.Contains(wallClockFuncs, n.Name) {
				report(n.Pos(), "uses time."+n.Name+" (dot-imported)")
			}
		}
		return true
	})
	return out, nil
}

func TestPurity(t *testing.T) {
	fset := token.NewFileSet()
	for _, pkg := range purePackages {
		entries, err := os.ReadDir(pkg.dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			path := filepath.Join(pkg.dir, name)
			vs, err := purityViolations(fset, path, nil, pkg.noLocks)
			if err != nil {
				t.Fatalf("parse %s: %v", path, err)
			}
			for _, v := range vs {
				t.Errorf("%s", v)
			}
			checked++
		}
		t.Logf("%s: %d files checked", pkg.dir, checked)
	}
}

// TestPurity_Checker shows the checker catches what it should, so a passing TestPurity means
// something.
func TestPurity_Checker(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		noLocks bool
		want    []string // substrings of the violations, in order
	}{
		{"clean", `package p
import ("fmt"; "time"; "slices")
var d = time.Duration(5) * time.Millisecond
func f(t time.Time) string { _ = slices.Max([]int{1}); return fmt.Sprint(t.Add(d)) }`, true, nil},
		{"os", `package p; import "os"; var _ = os.Args`, false, []string{"imports os"}},
		{"os/exec", `package p; import "os/exec"; var _ = exec.Command`, false, []string{"imports os/exec"}},
		{"net/http", `package p; import h "net/http"; var _ = h.Get`, false, []string{"imports net/http"}},
		{"net", `package p; import "net"; var _ net.Conn`, false, []string{"imports net"}},
		{"log/slog", `package p; import "log/slog"; var _ = slog.Info`, false, []string{"imports log/slog"}},
		{"path/filepath", `package p; import "path/filepath"; var _ = filepath.Join`, false, []string{"imports path/filepath"}},
		{"pebble", `package p; import "github.com/cockroachdb/pebble/v2/vfs"; var _ = vfs.NewMem`, false, []string{"imports github.com/cockroachdb/pebble/v2/vfs"}},
		{"raft", `package p; import "github.com/hashicorp/raft"; var _ raft.FSM`, false, []string{"imports github.com/hashicorp/raft"}},
		{"websocket", `package p; import "github.com/gorilla/websocket"; var _ websocket.Conn`, false, []string{"imports github.com/gorilla/websocket"}},
		{"sync in crdt", `package p; import "sync"; var mu sync.Mutex`, true, []string{"imports sync"}},
		{"sync elsewhere", `package p; import "sync"; var mu sync.Mutex`, false, nil},
		{"go statement", `package p; func f() { go func() {}() }`, false, []string{"starts a goroutine"}},
		{"time.Now", `package p; import "time"; func f() int64 { return time.Now().UnixMilli() }`, false, []string{"uses time.Now"}},
		{"time.Now as a value", `package p; import "time"; var clock = time.Now`, false, []string{"uses time.Now"}},
		{"time.Since", `package p; import "time"; func f(t time.Time) time.Duration { return time.Since(t) }`, false, []string{"uses time.Since"}},
		{"aliased time.Sleep", `package p; import tm "time"; func f() { tm.Sleep(1) }`, false, []string{"uses time.Sleep"}},
		{"dot-imported time", `package p; import . "time"; func f() { _ = Now() }`, false, []string{"uses time.Now"}},
		{"other package's Now", `package p; import "example.com/clock"; func f() { clock.Now() }`, false, nil},
		{"several", `package p
import ("os"; "time")
func f() { go os.Exit(time.Now().Second()) }`, false, []string{"imports os", "starts a goroutine", "uses time.Now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := purityViolations(token.NewFileSet(), "src.go", tt.src, tt.noLocks)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("violations = %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("violation %d = %q, want it to mention %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
