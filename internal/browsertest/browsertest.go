// Package browsertest drives a real browser — Debian's chromium, headless — from Go tests,
// for the web pages' tests: it starts one browser per test, records every request the pages
// make (so a test can assert that nothing left the machine), and keeps a screenshot of each
// page it is asked to, as a test artifact.
//
// Chromium is found at $FENGQIAO_CHROMIUM, /usr/bin/chromium or on PATH. Without it the
// test is skipped, unless FENGQIAO_REQUIRE_BROWSER is set (CI sets it, after installing
// chromium, so the browser tests can never pass by not running).
package browsertest

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser is one headless chromium for one test.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu       gosync.Mutex
	requests []string // every URL the pages requested
	console  []string // console errors and uncaught exceptions
}

// executable finds chromium.
func executable() string {
	for _, p := range []string{os.Getenv("FENGQIAO_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a browser with a window of width×height, stopped when the test ends.
func New(t testing.TB, width, height int) *Browser {
	t.Helper()
	exe := executable()
	if exe == "" {
		if os.Getenv("FENGQIAO_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium not found, and FENGQIAO_REQUIRE_BROWSER is set")
		}
		t.Skip("chromium not found (apt-get install chromium); set FENGQIAO_CHROMIUM to its path")
	}
	// The profile is removed by our own cleanup, after the browser has exited: chromium
	// may still be writing it for a moment after the context is cancelled.
	profile, err := os.MkdirTemp("", "fengqiao-chromium-*")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &Browser{t: t, ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			b.console = append(b.console, "exception: "+e.ExceptionDetails.Text+" "+exceptionText(e.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`))
				}
				b.console = append(b.console, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
	if err := chromedp.Run(ctx, network.Enable(), runtime.Enable(), chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		cancelCtx()
		cancelAlloc()
		_ = os.RemoveAll(profile)
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(20 * time.Millisecond) // the browser's last writes
		}
	})
	return b
}

// Run runs actions with a deadline, failing the test with what was asked on error.
func (b *Browser) Run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		shot := b.failureShot(what)
		b.t.Fatalf("%s: %v\nconsole: %v\nthe page then: %s", what, err, b.Console(), shot)
	}
}

// failureShot keeps a screenshot of the page as a failed step left it, and its text.
func (b *Browser) failureShot(what string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	var png []byte
	var text, hash string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`location.hash`, &hash), chromedp.Text(`body`, &text, chromedp.ByQuery),
		chromedp.FullScreenshot(&png, 100)); err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	name := "FAILED-" + strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' {
			return '-'
		}
		return r
	}, what)
	path := b.save(name, png)
	if len(text) > 600 {
		text = text[:600]
	}
	return path + " at " + hash + ": " + text
}

// Screenshot saves the whole page as ARTIFACTS/name.png, where ARTIFACTS is
// $FENGQIAO_ARTIFACTS or test-artifacts/screenshots at the repository root.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	var png []byte
	b.Run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
	return b.save(name, png)
}

// save writes a screenshot into the artifacts directory.
func (b *Browser) save(name string, png []byte) string {
	dir := os.Getenv("FENGQIAO_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(), "test-artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// Requests returns the URLs requested so far.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Console returns the console errors and uncaught exceptions so far.
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// OnlyFrom fails the test if the pages requested anything but origins (scheme://host:port)
// or inline data: URLs — a station has no internet, and the pages must not need it.
func (b *Browser) OnlyFrom(origins ...string) {
	b.t.Helper()
	for _, u := range b.Requests() {
		if strings.HasPrefix(u, "data:") {
			continue
		}
		p, err := url.Parse(u)
		ok := err == nil
		if ok {
			ok = false
			for _, o := range origins {
				if p.Scheme+"://"+p.Host == o {
					ok = true
				}
			}
		}
		if !ok {
			b.t.Errorf("the page requested %s, outside %v", u, origins)
		}
	}
}

// NoConsoleErrors fails the test if a page logged an error or threw.
func (b *Browser) NoConsoleErrors() {
	b.t.Helper()
	if c := b.Console(); len(c) > 0 {
		b.t.Errorf("console errors: %v", c)
	}
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d != nil && d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}
