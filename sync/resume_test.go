package sync_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/faultproxy"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// A station restored from a backup takes a new incarnation and a new feed epoch: the hub's
// checkpoint names the old epoch, so the station sends its feed from zero, the hub drops
// what it holds by dot, and the new op arrives. Nothing is lost or applied twice.
func TestSync_ChangedEpochRestartsFromZero(t *testing.T) {
	h := startHub(t, "hub1")
	dir := t.TempDir()
	r, err := node.Open(filepath.Join(dir, "stA"), node.Options{NodeID: "stA", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsync.EnrollStation(context.Background(), r, h.srv.URL, townA, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		mustWrite(t, r, registration(fmt.Sprintf("A-%02d", i), villageA, "grid1"))
	}
	st, err := fsync.NewStation(fsync.StationConfig{Replica: r, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	a := &testStation{r: r, st: st, url: h.srv.URL}
	syncOnce(t, a)
	oldEpoch := r.Epoch()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r, err = node.Open(filepath.Join(dir, "stA"), node.Options{Logger: quiet(), NewIncarnation: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Epoch() == oldEpoch {
		t.Fatal("a new incarnation kept the feed epoch")
	}
	mustWrite(t, r, registration("A-new", villageA, "grid1"))
	st, err = fsync.NewStation(fsync.StationConfig{Replica: r, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	a = &testStation{r: r, st: st, url: h.srv.URL}
	before := h.r.Status().FeedSeq
	syncOnce(t, a)
	if got := a.st.Stats().OpsSent.Load(); got != 31 {
		t.Errorf("after the epoch changed the station sent %d ops, want its whole feed of 31", got)
	}
	if got := h.r.Status().FeedSeq - before; got != 1 {
		t.Errorf("the hub applied %d ops, want only the new one (the rest are duplicates)", got)
	}
	if caseState(t, h.r, "A-new") == "" {
		t.Error("the op written after the restore did not arrive")
	}
}

// A slow link (2 KB/s) with an idle timeout far shorter than one batch takes to cross it:
// the transfer progresses, so the session is never cut, and everything arrives.
func TestSync_SlowLinkIsNotCutByIdleTimeout(t *testing.T) {
	fast := fsync.Timing{Idle: 400 * time.Millisecond, Ping: 200 * time.Millisecond, Handshake: 5 * time.Second}
	h := startHubWith(t, "hub1", fsync.HubConfig{Timing: fast})
	a := enrollStation(t, h, "stA", townA)
	var regs []node.Change
	for i := range 40 {
		regs = append(regs, registration(fmt.Sprintf("A-%02d", i), villageA, "grid1"))
		// Text that does not compress away, so the batch takes seconds to cross.
		regs = append(regs, edit(fmt.Sprintf("A-%02d", i), "summary", fmt.Sprintf("%x%x%x", sha256.Sum256([]byte(fmt.Sprint(i))), sha256.Sum256([]byte(fmt.Sprint(-i))), sha256.Sum256([]byte(fmt.Sprint(i, i)))), "grid1"))
	}
	mustWriteAll(t, a.r, regs)
	proxy, err := faultproxy.New(h.srv.Listener.Addr().String(), faultproxy.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetFaults(faultproxy.ClientToServer, faultproxy.Faults{Bandwidth: 2000})
	st, err := fsync.NewStation(fsync.StationConfig{Replica: a.r, URLs: []string{"http://" + proxy.Addr()}, Logger: quiet(), Timing: fast})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- st.Connect(ctx, "http://"+proxy.Addr()) }()
	start := time.Now()
	waitFor(t, 60*time.Second, "every op across the slow link in one session", func() bool {
		select {
		case err := <-done:
			t.Fatalf("the session ended before the transfer completed: %v", err)
		default:
		}
		return h.r.Status().FeedSeq == 80
	})
	if took := time.Since(start); took < 3*fast.Idle {
		t.Errorf("the transfer took %v; the link was not slow enough to prove anything", took)
	}
	if st.Status().Attempts != 1 {
		t.Errorf("%d sessions, want 1", st.Status().Attempts)
	}
	cancel()
	<-done
}

// A station given several hub members moves on when the first does not answer.
func TestSync_TriesTheNextMember(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	dead := "http://127.0.0.1:1" // nothing listens there
	st, err := fsync.NewStation(fsync.StationConfig{Replica: a.r, URLs: []string{dead, h.srv.URL}, Logger: quiet(),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = st.Run(ctx) }()
	waitFor(t, 20*time.Second, "the op to reach the hub through the second member", func() bool {
		return caseState(t, h.r, "A-1") != ""
	})
	cancel()
	<-done
	if st.Status().Attempts < 2 {
		t.Errorf("%d attempts, want the dead member tried first", st.Status().Attempts)
	}
}
