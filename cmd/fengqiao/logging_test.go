package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// logMessages returns the msg of each JSON log line in out.
func logMessages(t *testing.T, out string) []string {
	t.Helper()
	var msgs []string
	for line := range strings.Lines(out) {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, rec.Msg)
	}
	return msgs
}

func TestLevelFlag(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn,
		"warning": slog.LevelWarn, " error ": slog.LevelError,
	} {
		var l levelFlag
		if err := l.Set(in); err != nil || l.Level != want {
			t.Errorf("Set(%q) = %v, level %v; want %v", in, err, l.Level, want)
		}
	}
	for _, in := range []string{"", "verbose", "info+2", "-4"} {
		var l levelFlag
		if err := l.Set(in); err == nil {
			t.Errorf("Set(%q) = nil, want an error", in)
		}
	}
	var zero levelFlag
	if got, want := zero.String(), "info"; got != want {
		t.Errorf("zero value = %q, want %q", got, want)
	}
}

func TestNewLogger_JSONWhenNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, slog.LevelInfo)
	log.Debug("hidden")
	log.Info("shown", "station", "330102001001")
	if got, want := logMessages(t, buf.String()), []string{"shown"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logged %q, want %q", got, want)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("regular file counted as a terminal")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Errorf("buffer counted as a terminal")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	if !isTerminal(null) { // a character device, like a terminal
		t.Errorf("%s not counted as a character device", os.DevNull)
	}
}

// fakeTTY is a buffer that reports itself as a character device, as a terminal does.
type fakeTTY struct{ bytes.Buffer }

func (*fakeTTY) Stat() (os.FileInfo, error) { return ttyInfo{}, nil }

type ttyInfo struct{ os.FileInfo }

func (ttyInfo) Mode() os.FileMode { return os.ModeDevice | os.ModeCharDevice | 0o620 }

func TestNewLogger_TextOnTerminal(t *testing.T) {
	var tty fakeTTY
	newLogger(&tty, slog.LevelDebug).Debug("shown", "n", 1)
	if got := tty.String(); !strings.Contains(got, "level=DEBUG msg=shown n=1") {
		t.Errorf("logged %q, want slog text format", got)
	}
}
