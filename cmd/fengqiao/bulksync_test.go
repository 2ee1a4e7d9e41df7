package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A station with a large backlog (here: 1,500 imported cases of a county while its (city)
// hub was down) shows
// how far its upload has come, in plain lines when its output is a log, and says when the
// hub holds everything.
func TestStation_BulkUploadShowsProgress(t *testing.T) {
	root := t.TempDir()
	hubAddr := freeAddr(t)
	hubURL := "http://" + hubAddr
	hubArgs := []string{"hub", "--dir", filepath.Join(root, "hub"), "--id", "sy-hub", "--region", "4203", "--http", hubAddr}
	hub := startProcess(t, "hub", hubArgs...)
	waitUntil(t, 30*time.Second, "the hub serving", func() (bool, string) {
		_, err := fetchStatus(hubURL)
		return err == nil, "not yet"
	})
	// The station enrolls, the hub goes down, and the station imports and starts.
	dir := filepath.Join(root, "zs-st")
	if o, e, err := runApp(t, commands(), nil, "enroll", "--hub", hubURL, "--dir", dir, "--id", "zs-st", "--region", "420323"); err != nil {
		t.Fatalf("enroll: %v\n%s\n%s", err, o, e)
	}
	hub.stop(t)
	work := filepath.Join(root, "work.jsonl")
	if err := os.WriteFile(work, workload(t, "1500", "3", "--county", "420323"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, err := runApp(t, commands(), nil, "import", "--dir", dir, work); err != nil {
		t.Fatalf("import: %v\n%s", err, e)
	}
	addr := freeAddr(t)
	station := startProcess(t, "zs-st", "station", "--dir", dir, "--http", addr)
	url := "http://" + addr
	var ops uint64
	waitUntil(t, 30*time.Second, "the station's status", func() (bool, string) {
		st, err := fetchStatus(url)
		ops = st.FeedSeq
		return err == nil && ops > 0, fmt.Sprint(err)
	})
	if ops < bulkUploadOps {
		t.Fatalf("the workload holds %d ops, fewer than the %d a progress display needs", ops, bulkUploadOps)
	}
	waitUntil(t, 30*time.Second, "a progress line of the upload", func() (bool, string) {
		return strings.Contains(station.out.String(), "上传到中心 / uploading to the hub (ops): 0/"), "none yet"
	})
	startProcess(t, "hub", hubArgs...)
	allAcked(t, url, 60*time.Second)
	waitUntil(t, 30*time.Second, "the station saying it is done", func() (bool, string) {
		return strings.Contains(station.out.String(), "已全部上传"), "not yet"
	})
	station.stop(t)
}

// Plain progress lines (a log, a pipe) name what is done of how much, or only what is done
// while the total is unknown; a bundle's progress takes the total from its header.
func TestProgress_PlainLines(t *testing.T) {
	var buf bytes.Buffer
	pr := newProgress(context.Background(), &buf, "导入 / import", 0)
	line := func(done int64) string {
		buf.Reset()
		pr.lastPrint = time.Time{} // due for a line
		pr.set(done, "")
		return buf.String()
	}
	if got := line(40); !strings.HasPrefix(got, "导入 / import: 40 ,") {
		t.Errorf("with no total: %q", got)
	}
	bundleProgress(pr)(0, 200)
	if got := line(50); !strings.HasPrefix(got, "导入 / import: 50/200 (25%)") {
		t.Errorf("with the total: %q", got)
	}
	buf.Reset()
	pr.set(60, "") // within plainEvery of the last line: none
	if buf.Len() != 0 {
		t.Errorf("a line within %v of the last: %q", plainEvery, buf.String())
	}
	pr.finish()
}
