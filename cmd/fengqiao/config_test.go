package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a config file into a fresh directory and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fengqiao.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEnvName(t *testing.T) {
	for name, want := range map[string]string{
		"http":      "FENGQIAO_HTTP",
		"log-level": "FENGQIAO_LOG_LEVEL",
		"hub-url":   "FENGQIAO_HUB_URL",
	} {
		if got := envName(name); got != want {
			t.Errorf("envName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestSettle_Precedence checks flag > FENGQIAO_* environment > config file > default, flag by
// flag: each flag is settled on its own, so one command line can mix all four sources.
func TestSettle_Precedence(t *testing.T) {
	file := writeConfig(t, `# a station
http = file:1
dir = /file/dir
region = 330100000000
verbose = true
`)
	cmds := []*Command{probeCommand()}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want map[string]string
	}{{
		name: "defaults",
		args: []string{"probe"},
		want: map[string]string{"http": "127.0.0.1:8080", "dir": "data", "region": "", "verbose": "false", "log-level": "info"},
	}, {
		name: "file over default",
		args: []string{"probe", "--config", file},
		want: map[string]string{"http": "file:1", "dir": "/file/dir", "region": "330100000000", "verbose": "true", "hub-url": ""},
	}, {
		name: "env over file",
		env:  map[string]string{"FENGQIAO_HTTP": "env:1", "FENGQIAO_VERBOSE": "false"},
		args: []string{"probe", "--config", file},
		want: map[string]string{"http": "env:1", "dir": "/file/dir", "verbose": "false"},
	}, {
		name: "flag over env over file",
		env:  map[string]string{"FENGQIAO_HTTP": "env:1", "FENGQIAO_DIR": "/env/dir"},
		args: []string{"probe", "--config", file, "--http", "flag:1"},
		want: map[string]string{"http": "flag:1", "dir": "/env/dir", "region": "330100000000", "hub-url": ""},
	}, {
		name: "flag over default without env or file",
		args: []string{"probe", "--dir=/flag/dir", "--verbose"},
		want: map[string]string{"http": "127.0.0.1:8080", "dir": "/flag/dir", "verbose": "true"},
	}, {
		name: "empty env value counts as given",
		env:  map[string]string{"FENGQIAO_REGION": ""},
		args: []string{"probe", "--config", file},
		want: map[string]string{"region": "", "http": "file:1"},
	}, {
		name: "FENGQIAO_CONFIG names the file",
		env:  map[string]string{"FENGQIAO_CONFIG": file, "FENGQIAO_HUB_URL": "https://hub"},
		args: []string{"probe"},
		want: map[string]string{"http": "file:1", "hub-url": "https://hub"},
	}, {
		name: "--config over FENGQIAO_CONFIG",
		env:  map[string]string{"FENGQIAO_CONFIG": "/nonexistent/fengqiao.conf"},
		args: []string{"probe", "--config", file},
		want: map[string]string{"http": "file:1"},
	}, {
		name: "env sets the common flags",
		env:  map[string]string{"FENGQIAO_LOG_LEVEL": "WARN"},
		args: []string{"probe"},
		want: map[string]string{"log-level": "warn"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runApp(t, cmds, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			got := values(out)
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}
		})
	}
}

func TestSettle_ConfigSyntax(t *testing.T) {
	// BOM, CRLF, blank lines, indented comments, '#' and '=' inside values, spaces trimmed.
	file := writeConfig(t, "\xef\xbb\xbf# 城关镇站点\r\n\r\n   # indented comment\r\n  http =  0.0.0.0:80 \r\nhub-url=https://hub/a#b=c\r\n")
	out, _, err := runApp(t, []*Command{probeCommand()}, nil, "probe", "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	got := values(out)
	if got["http"] != "0.0.0.0:80" || got["hub-url"] != "https://hub/a#b=c" {
		t.Errorf("http = %q, hub-url = %q", got["http"], got["hub-url"])
	}
}

// TestSettle_BadConfig checks that each mistake in a config file is a usage error naming the
// file and the line, even for a flag also given on the command line.
func TestSettle_BadConfig(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		args       []string
		want       string // after "PATH:"
	}{
		{"unknown name", "http = :1\n\n# c\nhtp = :2\n", nil, `4: unknown setting "htp": fengqiao probe has no --htp flag`},
		{"unknown name though flag given", "dirr = x\n", []string{"--dir", "y"}, `1: unknown setting "dirr"`},
		{"no equals", "http = :1\nverbose\n", nil, `2: want "name = value", got "verbose"`},
		{"empty name", " = x\n", nil, `1: want "name = value"`},
		{"dashes", "--http = :1\n", nil, `1: unknown setting "--http"`},
		{"bad value", "dir = d\nlog-level = loud\n", nil, `2: invalid value "loud" for log-level: want debug, info, warn or error`},
		{"bad bool", "verbose = yes please\n", nil, `1: invalid value "yes please" for verbose`},
		{"repeated", "dir = a\nhttp = :1\ndir = b\n", nil, `3: "dir" already set on line 1`},
		{"config in config", "config = other.conf\n", nil, `1: "config" cannot be set in a config file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			args := append([]string{"probe", "--config", path}, tc.args...)
			_, _, err := runApp(t, []*Command{probeCommand()}, nil, args...)
			if _, ok := errors.AsType[*UsageError](err); !ok {
				t.Fatalf("err = %v (%T), want a *UsageError", err, err)
			}
			if want := path + ":" + tc.want; !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q\nwant it to contain %q", err, want)
			}
		})
	}
}

func TestSettle_BadEnv(t *testing.T) {
	_, _, err := runApp(t, []*Command{probeCommand()}, map[string]string{"FENGQIAO_VERBOSE": "maybe"}, "probe")
	if _, ok := errors.AsType[*UsageError](err); !ok {
		t.Fatalf("err = %v (%T), want a *UsageError", err, err)
	}
	if want := `FENGQIAO_VERBOSE="maybe"`; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}
}

func TestSettle_MissingConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.conf")
	_, _, err := runApp(t, []*Command{probeCommand()}, nil, "probe", "--config", path)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want os.ErrNotExist", err)
	}
}
