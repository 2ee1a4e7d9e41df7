package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion_Prints(t *testing.T) {
	out, _, err := runApp(t, nil, nil, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fengqiao ", "go:       " + runtime.Version(), "platform: " + runtime.GOOS + "/" + runtime.GOARCH, "revision: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion_JSON(t *testing.T) {
	out, _, err := runApp(t, nil, nil, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output %q is not one JSON object: %v", out, err)
	}
	if v.Version == "" || v.Go != runtime.Version() {
		t.Errorf("got %+v", v)
	}
}

func TestNewVersionInfo(t *testing.T) {
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/fengqiao/fengqiao", Version: "v0.1.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-23T13:30:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	v := newVersionInfo(info, true)
	if v.Version != "v0.1.0" || v.Revision != "0123456789abcdef0123456789abcdef01234567" || v.Time != "2026-11-23T13:30:00Z" || !v.Modified {
		t.Errorf("got %+v", v)
	}
	if got, want := v.text(), "revision: 0123456789abcdef0123456789abcdef01234567 (2026-11-23T13:30:00Z, modified)\n"; !strings.HasSuffix(got, want) {
		t.Errorf("text = %q, want suffix %q", got, want)
	}

	if got := newVersionInfo(nil, false); got.Version != "(devel)" || got.Revision != "" {
		t.Errorf("without build info: %+v", got)
	}
	if got := newVersionInfo(nil, false).text(); !strings.Contains(got, "revision: unknown\n") {
		t.Errorf("without build info: %q", got)
	}
}
