package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/fengqiao/fengqiao/server"
)

// commands is the registry: every subcommand of the binary, in the order `fengqiao help` lists
// them.
//
// To add a command NAME:
//
//  1. Write cmd_NAME.go with `func NAMECommand() *Command` (cmd_version.go is the model). Text a
//     person reads (Summary, flag usages, example comments) is Chinese first, English beside it:
//     "运行站点 / run a station". Give at least one worked example.
//  2. In Setup, declare the flags on the given FlagSet into variables local to Setup and return
//     the RunFunc that closes over them. Do not declare --config or --log-level: every command
//     has them (commonFlags). Each flag automatically gets its FENGQIAO_* variable and a config
//     file entry; name flags after the Stable interfaces in DESIGN.md (--dir, --http, --hub, ...).
//  3. Add NAMECommand() to the list below, and tests in cmd_NAME_test.go that drive it through
//     app.run. TestCommands_Documented checks the conventions above for every registered command.
//
// A RunFunc only wires packages together; logic belongs in the library packages.
func commands() []*Command {
	return []*Command{
		demoCommand(),
		stationCommand(),
		hubCommand(),
		removeMemberCommand(),
		rotateKeyCommand(),
		enrollCommand(),
		importCommand(),
		exportCommand(),
		statusCommand(),
		benchCommand(),
		versionCommand(),
	}
}

// Command is one subcommand: `fengqiao NAME [flags] ARGS`.
type Command struct {
	// Name is the word after `fengqiao` on the command line.
	Name string
	// Args names the positional arguments in the synopsis, e.g. "FILE..." or "<scenario>".
	// Empty means the command takes none, and the framework refuses any as a usage error.
	Args string
	// Summary is one line for the command list, "中文 / English".
	Summary string
	// Description is optional longer help, "中文" lines then "English" lines, printed after the
	// synopsis; each line is trimmed and indented, so a raw string literal may be indented.
	Description string
	// Examples are worked examples printed by `fengqiao NAME --help`.
	Examples []Example
	// Setup declares the command's flags on fs and returns the function that runs it, which
	// reads the flag values through the variables Setup bound them to. Setup must only declare
	// flags (no I/O, no goroutines): help output calls it without running the command. Flags
	// may be given before or after positional arguments.
	Setup func(fs *flag.FlagSet) RunFunc
}

// Example is one worked example in a command's help.
type Example struct {
	Comment string // what it does, "中文 / English"
	Command string // the command line, starting with "fengqiao NAME"
}

// RunFunc runs a command once its flags are settled (command line, FENGQIAO_* environment,
// config file, defaults, in that order of precedence). args are the positional arguments.
//
// ctx is cancelled on SIGINT or SIGTERM: a long-running command (a station, a hub) then shuts
// down in order and returns nil. Return usageErrorf(...) for a bad command line (exit status 2);
// any other error exits with status 1. The framework prefixes errors with the command name.
type RunFunc func(ctx context.Context, env *Env, args []string) error

// Env is what a running command may use of the outside world besides ctx, its flags and args.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer // results a person or a script reads
	Stderr io.Writer // diagnostics; Log writes here
	// Log is configured by --log-level: text on a terminal, JSON lines otherwise. Pass it to
	// the packages the command wires up; nothing sets slog's global default.
	Log *slog.Logger
	// Getenv reads the environment (FENGQIAO_PASSWORD, which is no flag's).
	Getenv func(name string) (string, bool)
	// Auth is the sign-in settings of the station or hub the command serves (people.go).
	Auth server.AuthConfig
}

// UsageError is a command line the program cannot act on: an unknown command, a bad flag or
// argument, or a bad value in a FENGQIAO_* variable or the config file. main exits 2 for it.
type UsageError struct {
	Cmd string // the subcommand, or "" for the top level
	Err error
}

func (e *UsageError) Error() string {
	if e.Cmd == "" {
		return e.Err.Error()
	}
	return e.Cmd + ": " + e.Err.Error()
}

func (e *UsageError) Unwrap() error { return e.Err }

// usageErrorf returns a *UsageError; when a RunFunc returns it, bare or wrapped, the framework
// names the command.
func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// report writes err for a person, with a pointer to the help after a usage error, and returns
// the process exit status: 0 for nil, 2 for a usage error, 1 otherwise.
func report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(w, "fengqiao: %v\n", err)
	u, ok := errors.AsType[*UsageError](err)
	if !ok {
		return 1
	}
	if u.Cmd != "" {
		fmt.Fprintf(w, "参见 / see: fengqiao %s --help\n", u.Cmd)
	} else {
		fmt.Fprintf(w, "参见 / see: fengqiao help\n")
	}
	return 2
}

// Run runs the command line args (without the program name) and returns its error, nil after
// printing help. It is main without the process: tests call it (through app.run) directly.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{
		commands:  commands(),
		lookupEnv: os.LookupEnv,
		stdin:     stdin,
		stdout:    stdout,
		stderr:    stderr,
	}
	return a.run(ctx, args)
}

// app is one invocation of the binary; tests build one with their own commands and environment.
type app struct {
	commands  []*Command
	lookupEnv func(name string) (string, bool)
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
}

func (a *app) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		a.printCommands(a.stderr)
		return &UsageError{Err: errors.New("no command given")}
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if name != "help" || len(rest) == 0 {
			a.printCommands(a.stdout)
			return nil
		}
		if len(rest) > 1 {
			return &UsageError{Err: errors.New("usage: fengqiao help [command]")}
		}
		if rest[0] == "help" {
			a.printCommands(a.stdout)
			return nil
		}
		c := a.lookup(rest[0])
		if c == nil {
			return &UsageError{Err: fmt.Errorf("unknown command %q", rest[0])}
		}
		return a.printCommandHelp(a.stdout, c)
	}
	if strings.HasPrefix(name, "-") {
		return &UsageError{Err: fmt.Errorf("flag %s given before a command: flags go after it", name)}
	}
	c := a.lookup(name)
	if c == nil {
		return &UsageError{Err: fmt.Errorf("unknown command %q", name)}
	}
	return a.runCommand(ctx, c, rest)
}

func (a *app) lookup(name string) *Command {
	for _, c := range a.commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (a *app) runCommand(ctx context.Context, c *Command, args []string) error {
	fs, common, run := newFlagSet(c)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return a.printCommandHelp(a.stdout, c)
	}
	if err != nil {
		return &UsageError{Cmd: c.Name, Err: err}
	}
	if err := settle(fs, a.lookupEnv); err != nil {
		return withCmd(c.Name, err)
	}
	if c.Args == "" && len(pos) > 0 {
		return &UsageError{Cmd: c.Name, Err: fmt.Errorf("unexpected argument %q", pos[0])}
	}
	env := &Env{
		Stdin:  a.stdin,
		Stdout: a.stdout,
		Stderr: a.stderr,
		Log:    newLogger(a.stderr, common.level.Level),
		Getenv: a.lookupEnv,
	}
	return withCmd(c.Name, run(ctx, env, pos))
}

// withCmd prefixes err with the command name; a usage error in it becomes one naming the command.
func withCmd(name string, err error) error {
	if err == nil {
		return nil
	}
	if u, ok := errors.AsType[*UsageError](err); ok {
		if u.Cmd != "" {
			return err
		}
		if u == err {
			return &UsageError{Cmd: name, Err: u.Err}
		}
		return &UsageError{Cmd: name, Err: err}
	}
	return fmt.Errorf("%s: %w", name, err)
}

// newFlagSet builds c's flag set: the common flags first (so a command that redeclares one
// panics in TestCommands_Documented), then the command's own.
func newFlagSet(c *Command) (*flag.FlagSet, *commonFlags, RunFunc) {
	fs := flag.NewFlagSet("fengqiao "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help is printed by printCommandHelp
	fs.Usage = func() {}
	common := addCommonFlags(fs)
	run := c.Setup(fs)
	return fs, common, run
}

// commonFlags are the flags every command has.
type commonFlags struct {
	config string // --config; settle reads it through the flag set
	level  levelFlag
}

const (
	configFlag   = "config"
	logLevelFlag = "log-level"
)

func addCommonFlags(fs *flag.FlagSet) *commonFlags {
	c := &commonFlags{}
	fs.StringVar(&c.config, configFlag, "",
		"配置文件，每行 name = value（参数名），# 开头为注释 / config `FILE`: name = value lines using flag names, # comments")
	fs.Var(&c.level, logLevelFlag,
		"日志级别 / log `LEVEL`: debug|info|warn|error")
	return c
}

func isCommonFlag(name string) bool { return name == configFlag || name == logLevelFlag }

// parseInterspersed parses flags wherever they stand among the positional arguments, so both
// `fengqiao bench SCENARIO --n 10` and `fengqiao import --dir D FILE` work. A "--" ends the
// flags: everything after it is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			// Parse consumed a terminator (or, rarely, a flag value spelled "--"; a flag value
			// of "--" must then be written --name=--).
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// printCommands writes the top-level help: what the binary is and the command list.
func (a *app) printCommands(w io.Writer) {
	var b strings.Builder
	b.WriteString("枫桥 fengqiao — 信访与矛盾纠纷案件离线优先同步 / offline-first case sync for petition and dispute work\n\n")
	b.WriteString("用法 / Usage:\n  fengqiao <命令 command> [参数 flags] [args]\n\n")
	b.WriteString("命令 / Commands:\n")
	width := len("help")
	for _, c := range a.commands {
		width = max(width, len(c.Name))
	}
	for _, c := range a.commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(&b, "  %-*s  %s\n", width, "help", "显示命令帮助 / show a command's help")
	b.WriteString("\n")
	b.WriteString(precedenceNote)
	b.WriteString("\n详情 / Details: fengqiao help <命令 command>, fengqiao <命令 command> --help\n")
	io.WriteString(w, b.String())
}

const precedenceNote = `参数取值优先级：命令行 > 环境变量 FENGQIAO_<参数名> > 配置文件 (--config) > 默认值
Each flag is taken from the command line, else FENGQIAO_<NAME> (flag name upper-cased,
'-' as '_'), else the config file (--config FILE or FENGQIAO_CONFIG), else its default.
`

// printCommandHelp writes `fengqiao NAME --help`: synopsis, description, flags with defaults
// and environment variables, examples.
func (a *app) printCommandHelp(w io.Writer, c *Command) error {
	fs, _, _ := newFlagSet(c)
	var b strings.Builder
	fmt.Fprintf(&b, "fengqiao %s — %s\n\n", c.Name, c.Summary)
	b.WriteString("用法 / Usage:\n")
	synopsis := "fengqiao " + c.Name + " [参数 flags]"
	if c.Args != "" {
		synopsis += " " + c.Args
	}
	fmt.Fprintf(&b, "  %s\n", synopsis)
	if d := strings.TrimSpace(c.Description); d != "" {
		b.WriteString("\n")
		for line := range strings.SplitSeq(d, "\n") {
			fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(line))
		}
	}

	var own, common []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if isCommonFlag(f.Name) {
			common = append(common, f)
		} else {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		b.WriteString("\n参数 / Flags:\n")
		for _, f := range own {
			writeFlagHelp(&b, f)
		}
	}
	b.WriteString("\n通用参数 / Common flags:\n")
	for _, f := range common {
		writeFlagHelp(&b, f)
	}
	b.WriteString("\n")
	b.WriteString(precedenceNote)

	if len(c.Examples) > 0 {
		b.WriteString("\n示例 / Examples:\n")
		for i, ex := range c.Examples {
			if i > 0 {
				b.WriteString("\n")
			}
			if ex.Comment != "" {
				fmt.Fprintf(&b, "  # %s\n", ex.Comment)
			}
			fmt.Fprintf(&b, "  %s\n", ex.Command)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFlagHelp writes one flag: name and placeholder, usage, default, environment variable.
func writeFlagHelp(b *strings.Builder, f *flag.Flag) {
	placeholder, usage := flag.UnquoteUsage(f)
	fmt.Fprintf(b, "  --%s", f.Name)
	if placeholder != "" && !isBoolFlag(f) {
		fmt.Fprintf(b, " %s", placeholder)
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "        %s\n", usage)
	if f.DefValue != "" && !(isBoolFlag(f) && f.DefValue == "false") {
		fmt.Fprintf(b, "        默认 / default: %s\n", f.DefValue)
	}
	fmt.Fprintf(b, "        环境变量 / env: %s\n", envName(f.Name))
}

func isBoolFlag(f *flag.Flag) bool {
	bf, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && bf.IsBoolFlag()
}
