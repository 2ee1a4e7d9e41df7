package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// levelFlag is the value of --log-level. Its zero value is info, the default.
type levelFlag struct{ slog.Level }

// String implements flag.Value.
func (l *levelFlag) String() string { return strings.ToLower(l.Level.String()) }

// Set implements flag.Value. It accepts exactly the four level names, in any case, so a typo in
// a config file is an error rather than slog's "info+2"-style offsets.
func (l *levelFlag) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		l.Level = slog.LevelDebug
	case "info":
		l.Level = slog.LevelInfo
	case "warn", "warning":
		l.Level = slog.LevelWarn
	case "error":
		l.Level = slog.LevelError
	default:
		return fmt.Errorf("want debug, info, warn or error")
	}
	return nil
}

// newLogger returns the logger a command gets in Env.Log: slog's text format when w is a
// terminal (a person reads it), JSON lines otherwise (a collector parses it). Nothing here
// changes slog's global default.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a character device such as a terminal. It is a heuristic
// without golang.org/x/term: /dev/null counts as one too, which only changes the format of
// discarded lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
