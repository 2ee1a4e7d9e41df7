package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// progress shows how far a long piece of CLI work (an import, an export, a bulk sync, a
// benchmark phase) has come: a bar on a terminal, a plain line every plainEvery otherwise
// (a log file, a pipe, CI), so that a person or a log reader sees it move.
type progress struct {
	label string
	total int64
	start time.Time

	mu        sync.Mutex
	w         io.Writer
	lastPrint time.Time
	done      int64
	detail    string

	p   *mpb.Progress // nil when not on a terminal
	bar *mpb.Bar
}

// plainEvery is how often a plain progress line is printed.
const plainEvery = 2 * time.Second

// newProgress starts showing progress of label towards total units (0 when unknown) on w.
func newProgress(ctx context.Context, w io.Writer, label string, total int64) *progress {
	pr := &progress{label: label, total: total, start: time.Now(), w: w}
	pr.lastPrint = pr.start
	if terminalWidth(w) > 0 && os.Getenv("TERM") != "dumb" {
		pr.p = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(36), mpb.WithRefreshRate(200*time.Millisecond))
		pr.bar = pr.p.AddBar(total,
			mpb.PrependDecorators(decor.Name(label+" "), decor.CountersNoUnit("%d / %d")),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" "), decor.Elapsed(decor.ET_STYLE_MMSS)))
	}
	return pr
}

// setTotal sets the total once it is known (a bundle's header names its ops).
func (pr *progress) setTotal(total int64) {
	pr.mu.Lock()
	changed := pr.total != total
	pr.total = total
	pr.mu.Unlock()
	if changed && pr.bar != nil {
		pr.bar.SetTotal(total, false)
	}
}

// set records that done units are complete; detail is a short note for plain lines.
func (pr *progress) set(done int64, detail string) {
	if pr.bar != nil {
		pr.bar.SetCurrent(done)
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.done, pr.detail = done, detail
	if now := time.Now(); now.Sub(pr.lastPrint) >= plainEvery {
		pr.lastPrint = now
		pr.printLocked()
	}
}

func (pr *progress) printLocked() {
	count := fmt.Sprint(pr.done)
	if pr.total > 0 {
		count = fmt.Sprintf("%d/%d (%.0f%%)", pr.done, pr.total, 100*float64(pr.done)/float64(pr.total))
	}
	fmt.Fprintf(pr.w, "%s: %s %s, %.0fs\n", pr.label, count, pr.detail, time.Since(pr.start).Seconds())
}

// finish completes the display (the bar drawn full, or nothing more printed).
func (pr *progress) finish() {
	if pr.bar != nil {
		pr.bar.SetTotal(-1, true)
		pr.p.Wait()
	}
}

// terminalWidth is w's width in columns when w is a terminal that knows its size, else 0.
// mpb draws nothing on a terminal of unknown size (a pty with 0 rows, as some job runners
// give), so such a terminal gets plain lines.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	cols, rows, err := term.GetSize(int(f.Fd()))
	if err != nil || rows == 0 {
		return 0
	}
	return cols
}
