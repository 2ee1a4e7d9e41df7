// Command fengqiao is the one binary of Fengqiao (枫桥): an offline-first case-sync system for
// grassroots petition and dispute work. Each subcommand (station, hub, demo, import, ...) parses
// its flags and wires the library packages together; logic lives in those packages, not here.
//
// main is thin on purpose: everything testable is in Run (cli.go), which takes its arguments and
// streams as parameters. See cli.go for how commands are declared and registered, and config.go
// for how flags, FENGQIAO_* environment variables and the config file combine.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the garbage collector's target when GOGC is not set. A station runs on a cheap
// laptop beside a Pebble cache and memtables that live outside the Go heap; at 50 the heap's
// peak during a 500,000-op import fell from 159 to 137 MiB RSS at the same speed
// (BENCHMARKS.md).
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx so the command can shut down in order; stopping the
	// notification then restores default handling, so a second signal kills the process.
	context.AfterFunc(ctx, stop)

	err := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(report(os.Stderr, err)) // 1, or 2 for a usage error
	}
}
