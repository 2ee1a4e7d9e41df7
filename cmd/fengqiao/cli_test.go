package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

// runApp runs args through an app with the given commands (the registry when nil) and
// environment, and returns what it printed.
func runApp(t *testing.T, cmds []*Command, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if cmds == nil {
		cmds = commands()
	}
	var out, errOut bytes.Buffer
	a := &app{
		commands: cmds,
		lookupEnv: func(name string) (string, bool) {
			v, ok := env[name]
			return v, ok
		},
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errOut,
	}
	err = a.run(context.Background(), args)
	return out.String(), errOut.String(), err
}

// probeCommand prints the settled value of each of its flags as name=value lines, then its
// positional arguments as arg=value lines, and logs one line at each level.
func probeCommand() *Command {
	return &Command{
		Name:    "probe",
		Args:    "[ARG...]",
		Summary: "测试命令 / test command",
		Examples: []Example{
			{Comment: "探测 / probe", Command: "fengqiao probe --http :1"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			fs.String("http", "127.0.0.1:8080", "HTTP 监听地址 / HTTP listen `ADDR`")
			fs.String("dir", "data", "数据目录 / data `DIR`")
			fs.String("region", "", "区划代码 / region `CODE`")
			fs.String("hub-url", "", "上级 / hub `URL`")
			fs.Bool("verbose", false, "详细 / verbose")
			return func(ctx context.Context, env *Env, args []string) error {
				fs.VisitAll(func(f *flag.Flag) {
					fmt.Fprintf(env.Stdout, "%s=%s\n", f.Name, f.Value)
				})
				for _, a := range args {
					fmt.Fprintf(env.Stdout, "arg=%s\n", a)
				}
				env.Log.Debug("probe debug")
				env.Log.Info("probe info")
				env.Log.Error("probe error")
				return nil
			}
		},
	}
}

// values parses probe output into name → value.
func values(out string) map[string]string {
	m := make(map[string]string)
	for line := range strings.Lines(out) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		if k != "arg" {
			m[k] = v
		}
	}
	return m
}

func TestRun_HelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"help", "help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, _, err := runApp(t, nil, nil, args...)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			for _, c := range commands() {
				if !strings.Contains(out, c.Name) || !strings.Contains(out, c.Summary) {
					t.Errorf("help does not list %s %q:\n%s", c.Name, c.Summary, out)
				}
			}
			for _, want := range []string{"用法 / Usage", "命令 / Commands", "FENGQIAO_", "help"} {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestRun_NoCommand(t *testing.T) {
	out, errOut, err := runApp(t, nil, nil)
	if got, want := report(new(bytes.Buffer), err), 2; got != want {
		t.Fatalf("exit = %d, want %d (err %v)", got, want, err)
	}
	if out != "" {
		t.Errorf("stdout = %q, want empty", out)
	}
	if !strings.Contains(errOut, "version") {
		t.Errorf("stderr does not list commands:\n%s", errOut)
	}
}

func TestRun_UsageErrors(t *testing.T) {
	cmds := append(commands(), probeCommand())
	for _, tc := range []struct {
		args []string
		want string // in the error message
		hint string // in report's output
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "fengqiao help"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`, "fengqiao help"},
		{[]string{"--log-level", "debug", "version"}, "before a command", "fengqiao help"},
		{[]string{"version", "--nope"}, "version: flag provided but not defined: -nope", "fengqiao version --help"},
		{[]string{"version", "extra"}, `version: unexpected argument "extra"`, "fengqiao version --help"},
		{[]string{"version", "--log-level", "loud"}, "want debug, info, warn or error", "fengqiao version --help"},
		{[]string{"probe", "--http"}, "flag needs an argument", "fengqiao probe --help"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := runApp(t, cmds, nil, tc.args...)
			if _, ok := errors.AsType[*UsageError](err); !ok {
				t.Fatalf("err = %v (%T), want a *UsageError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			var w bytes.Buffer
			if got, want := report(&w, err), 2; got != want {
				t.Errorf("exit = %d, want %d", got, want)
			}
			if !strings.Contains(w.String(), tc.hint) {
				t.Errorf("report = %q, want it to contain %q", w.String(), tc.hint)
			}
		})
	}
}

func TestRun_CommandHelp(t *testing.T) {
	cmds := append(commands(), probeCommand())
	for _, args := range [][]string{{"probe", "--help"}, {"probe", "-h"}, {"help", "probe"}, {"probe", "x", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, _, err := runApp(t, cmds, nil, args...)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			for _, want := range []string{
				"fengqiao probe — 测试命令 / test command",
				"fengqiao probe [参数 flags] [ARG...]",
				"--http ADDR", "HTTP 监听地址 / HTTP listen ADDR", "默认 / default: 127.0.0.1:8080", "FENGQIAO_HTTP",
				"--hub-url URL", "FENGQIAO_HUB_URL",
				"--verbose\n",
				"--config FILE", "FENGQIAO_CONFIG",
				"--log-level LEVEL", "默认 / default: info", "FENGQIAO_LOG_LEVEL",
				"示例 / Examples", "# 探测 / probe", "fengqiao probe --http :1",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestRun_Interspersed(t *testing.T) {
	out, _, err := runApp(t, []*Command{probeCommand()}, nil,
		"probe", "a", "--http", ":9", "b", "--verbose", "--", "--dir", "c")
	if err != nil {
		t.Fatal(err)
	}
	v := values(out)
	if got, want := v["http"], ":9"; got != want {
		t.Errorf("http = %q, want %q", got, want)
	}
	if got, want := v["verbose"], "true"; got != want {
		t.Errorf("verbose = %q, want %q", got, want)
	}
	if got, want := v["dir"], "data"; got != want {
		t.Errorf("dir = %q, want %q (after --, --dir is an argument)", got, want)
	}
	var args []string
	for line := range strings.Lines(out) {
		if a, ok := strings.CutPrefix(strings.TrimSpace(line), "arg="); ok {
			args = append(args, a)
		}
	}
	if got, want := strings.Join(args, " "), "a b --dir c"; got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
}

func TestRun_RunErrorNamesCommand(t *testing.T) {
	boom := errors.New("boom")
	cmd := &Command{
		Name: "fail", Summary: "失败 / fail",
		Setup: func(fs *flag.FlagSet) RunFunc {
			return func(ctx context.Context, env *Env, args []string) error {
				return fmt.Errorf("open store: %w", boom)
			}
		},
	}
	_, _, err := runApp(t, []*Command{cmd}, nil, "fail")
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap boom", err)
	}
	var w bytes.Buffer
	if got, want := report(&w, err), 1; got != want {
		t.Errorf("exit = %d, want %d", got, want)
	}
	if got, want := w.String(), "fengqiao: fail: open store: boom\n"; got != want {
		t.Errorf("report = %q, want %q", got, want)
	}
}

func TestRun_WrappedUsageErrorFromCommand(t *testing.T) {
	cmd := &Command{
		Name: "imp", Args: "FILE", Summary: "导入 / import",
		Setup: func(fs *flag.FlagSet) RunFunc {
			return func(ctx context.Context, env *Env, args []string) error {
				return fmt.Errorf("read ledger: %w", usageErrorf("want one FILE, got %d", len(args)))
			}
		},
	}
	_, _, err := runApp(t, []*Command{cmd}, nil, "imp")
	var w bytes.Buffer
	if got, want := report(&w, err), 2; got != want {
		t.Fatalf("exit = %d, want %d (err %v)", got, want, err)
	}
	want := "fengqiao: imp: read ledger: want one FILE, got 0\n参见 / see: fengqiao imp --help\n"
	if got := w.String(); got != want {
		t.Errorf("report = %q, want %q", got, want)
	}
}

func TestRun_LogLevel(t *testing.T) {
	cmds := []*Command{probeCommand()}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want []string // messages logged, in order
	}{
		{nil, []string{"probe"}, []string{"probe info", "probe error"}},
		{nil, []string{"probe", "--log-level", "debug"}, []string{"probe debug", "probe info", "probe error"}},
		{map[string]string{"FENGQIAO_LOG_LEVEL": "error"}, []string{"probe"}, []string{"probe error"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, err := runApp(t, cmds, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			got := logMessages(t, errOut)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCommands_Documented checks the registry's conventions for every command, so a new one
// that skips them fails here: unique names, bilingual summary and flag usages, worked examples
// that start with "fengqiao NAME", help that renders, no redeclared common flag (newFlagSet
// would panic).
func TestCommands_Documented(t *testing.T) {
	seen := map[string]bool{"help": true}
	for _, c := range commands() {
		t.Run(c.Name, func(t *testing.T) {
			if c.Name == "" || seen[c.Name] {
				t.Fatalf("command name %q empty, reserved or repeated", c.Name)
			}
			seen[c.Name] = true
			if !strings.Contains(c.Summary, " / ") || strings.Contains(c.Summary, "\n") {
				t.Errorf("summary %q: want one line, \"中文 / English\"", c.Summary)
			}
			if len(c.Examples) == 0 {
				t.Errorf("no examples")
			}
			for _, ex := range c.Examples {
				if !strings.HasPrefix(ex.Command, "fengqiao "+c.Name) {
					t.Errorf("example %q does not start with %q", ex.Command, "fengqiao "+c.Name)
				}
				if ex.Comment != "" && !strings.Contains(ex.Comment, " / ") {
					t.Errorf("example comment %q: want \"中文 / English\"", ex.Comment)
				}
			}
			fs, _, run := newFlagSet(c)
			if run == nil {
				t.Errorf("Setup returned a nil RunFunc")
			}
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(f.Usage, " / ") {
					t.Errorf("--%s usage %q: want \"中文 / English\"", f.Name, f.Usage)
				}
			})
			if _, _, err := runApp(t, nil, nil, c.Name, "--help"); err != nil {
				t.Errorf("--help: %v", err)
			}
		})
	}
}
