package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/chaos"
	"github.com/fengqiao/fengqiao/node"
)

// mountTmpfs mounts a tmpfs of size bytes at dir for the test, or skips it where the machine
// does not let this process mount one.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): the full-disk drill needs one", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
}

func freeBytes(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

func journalLines(t *testing.T, path string) []chaos.Acked {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []chaos.Acked
	for _, l := range bytes.Split(b, []byte("\n")) {
		var a chaos.Acked
		if json.Unmarshal(l, &a) == nil {
			out = append(out, a)
		}
	}
	return out
}

// The full-disk drill on a real filesystem: a station process writing on a 64 MiB tmpfs
// whose space runs out. Its writes are refused with the clear disk-full error while it keeps
// running and serving; once space is freed, writes go on by themselves; after a SIGKILL the
// store opens whole and holds every op the station acknowledged.
func TestStation_FullDiskRefusesWritesThenRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real process")
	}
	root := t.TempDir()
	disk := filepath.Join(root, "disk")
	mountTmpfs(t, disk, 64<<20)
	dir, journal := filepath.Join(disk, "st"), filepath.Join(root, "st.journal")
	addr := freeAddr(t)
	st := startProcess(t, "st-full", "station", "--dir", dir, "--id", "st-full", "--region", "420323100",
		"--http", addr, "--hub", "off", "--chaos-journal", journal, "--chaos-rate", "40")
	waitUntil(t, 60*time.Second, "the station writing", func() (bool, string) {
		n := len(journalLines(t, journal))
		return n >= 20, strconv.Itoa(n)
	})

	// Fill the disk to below the station's reserve (4 × 8 MiB + 16 MiB) without touching the
	// store.
	filler, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for freeBytes(t, disk) > 30<<20 {
		if _, err := filler.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	_ = filler.Close()
	waitUntil(t, 60*time.Second, "writes refused with the disk-full error", func() (bool, string) {
		return strings.Count(st.out.String(), "the disk is nearly full") >= 3, ""
	})
	full := len(journalLines(t, journal))
	waitUntil(t, 30*time.Second, "more refusals", func() (bool, string) {
		return strings.Count(st.out.String(), "the disk is nearly full") >= 6, ""
	})
	if n := len(journalLines(t, journal)); n != full {
		t.Fatalf("the station acknowledged %d writes on the full disk", n-full)
	}
	if _, err := fetchStatus("http://" + addr); err != nil {
		t.Fatalf("the station stopped serving on a full disk: %v\n%s", err, tail(st.out.String()))
	}

	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "writes going on once space returned", func() (bool, string) {
		return len(journalLines(t, journal)) >= full+10, ""
	})
	st.kill()

	acked := journalLines(t, journal)
	r, err := node.Open(dir, node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the store does not open after the drill: %v", err)
	}
	defer r.Close()
	held := map[crdt.Dot]bool{}
	for after := uint64(0); ; {
		es, next, err := r.Feed(after, 1000, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			op, err := cases.DecodeOp(e.Raw)
			if err != nil {
				t.Fatalf("feed position %d: %v", e.Pos, err)
			}
			held[op.Dot] = true
		}
		if len(es) == 0 {
			break
		}
		after = next
	}
	for _, a := range acked {
		if d := (crdt.Dot{Origin: crdt.Origin{Node: a.Node, Incarnation: a.Inc}, Seq: a.Seq}); !held[d] {
			t.Fatalf("acknowledged op %s is not in the store", d)
		}
	}
	t.Logf("%d ops acknowledged, %d refused-write messages, all ops in the store", len(acked), strings.Count(st.out.String(), "the disk is nearly full"))
}
