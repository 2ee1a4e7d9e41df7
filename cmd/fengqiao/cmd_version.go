package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the release version, stamped at build time with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/fengqiao
//
// When empty, the main module's version from the build info is used ("(devel)" in a work tree).
var version string

func versionCommand() *Command {
	return &Command{
		Name:    "version",
		Summary: "打印版本信息 / print version information",
		Description: `打印 fengqiao 版本、构建所用 Go 版本、平台和源码修订（构建时有 git 信息才有）。
Prints the fengqiao version, the Go version it was built with, the platform, and the
source revision when the build recorded one (go build in a git work tree does).`,
		Examples: []Example{
			{Comment: "打印版本 / print the version", Command: "fengqiao version"},
			{Comment: "输出一个 JSON 对象，供脚本使用 / one JSON object, for scripts", Command: "fengqiao version --json"},
		},
		Setup: func(fs *flag.FlagSet) RunFunc {
			asJSON := fs.Bool("json", false, "以一个 JSON 对象输出 / print one JSON object")
			return func(ctx context.Context, env *Env, args []string) error {
				info, ok := debug.ReadBuildInfo()
				v := newVersionInfo(info, ok)
				if *asJSON {
					return json.NewEncoder(env.Stdout).Encode(v)
				}
				_, err := fmt.Fprint(env.Stdout, v.text())
				return err
			}
		},
	}
}

// versionInfo is what `fengqiao version` prints; the JSON names are for scripts and stay stable.
type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Revision string `json:"revision,omitempty"` // VCS commit, when the build recorded it
	Time     string `json:"time,omitempty"`     // commit time, RFC 3339
	Modified bool   `json:"modified,omitempty"` // the work tree had uncommitted changes
}

// newVersionInfo reads info as returned by debug.ReadBuildInfo.
func newVersionInfo(info *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{
		Version:  version,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if ok && info != nil {
		if v.Version == "" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

func (v versionInfo) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fengqiao %s\n", v.Version)
	fmt.Fprintf(&b, "go:       %s\n", v.Go)
	fmt.Fprintf(&b, "platform: %s\n", v.Platform)
	rev := "unknown"
	if v.Revision != "" {
		rev = v.Revision
		var extra []string
		if v.Time != "" {
			extra = append(extra, v.Time)
		}
		if v.Modified {
			extra = append(extra, "modified")
		}
		if len(extra) > 0 {
			rev += " (" + strings.Join(extra, ", ") + ")"
		}
	}
	fmt.Fprintf(&b, "revision: %s\n", rev)
	return b.String()
}
