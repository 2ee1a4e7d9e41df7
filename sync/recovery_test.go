package sync_test

import (
	"path/filepath"
	"testing"

	"github.com/fengqiao/fengqiao/node"
)

// A station's laptop is lost and replaced: a fresh store under the same station id (a new
// incarnation, a new key, enrolled again) gets back from the hub every case of its scope,
// its own earlier writes included; its new writes take new dots (no sequence reused under
// the old incarnation) and reach the hub.
func TestRecovery_ReplacedLaptopGetsItsScopeBack(t *testing.T) {
	h := startHub(t, "hub1")
	old := enrollStation(t, h, "stA", townA)
	mustWrite(t, old.r, registration("A-1", villageA, "grid1"))
	mustWrite(t, old.r, edit("A-1", "summary", "旧电脑上写的", "grid1"))
	other := enrollStation(t, h, "stA2", townA)
	mustWrite(t, other.r, registration("A2-1", villageA, "grid2"))
	syncOnce(t, old)
	syncOnce(t, other)
	syncOnce(t, old)
	oldOrigin := old.r.Origin()

	fresh := enrollStation(t, h, "stA", townA) // the new laptop: same id, new store
	if fresh.r.Origin() == oldOrigin {
		t.Fatalf("the new store reuses the old incarnation %v", oldOrigin)
	}
	syncOnce(t, fresh)
	for _, id := range []string{"A-1", "A2-1"} {
		if got, want := caseState(t, fresh.r, id), caseState(t, h.r, id); got == "" || got != want {
			t.Errorf("case %s on the new laptop:\n got  %s\n want %s", id, got, want)
		}
	}
	op := mustWrite(t, fresh.r, edit("A-1", "summary", "新电脑上写的", "grid1"))
	if op.Dot.Origin == oldOrigin {
		t.Fatalf("the new laptop writes under the old origin %v", oldOrigin)
	}
	syncOnce(t, fresh)
	if !holds(t, h.r, op) {
		t.Errorf("the new laptop's write %s did not reach the hub", op.Dot)
	}
}

// A station restored from a backup older than its last sync, opened with a new incarnation
// as the restore procedure says, gets back from the hub the ops its old life wrote after the
// backup, and writes on under the new incarnation.
func TestRecovery_RestoredBackupGetsLaterOwnOpsBack(t *testing.T) {
	h := startHub(t, "hub1")
	dir := filepath.Join(t.TempDir(), "stA")
	a := enrollStationIn(t, h, dir, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	syncOnce(t, a)
	if err := a.r.Close(); err != nil {
		t.Fatal(err)
	}
	copyDir(t, dir, dir+".backup")
	r := openStore(t, dir)
	a = reopenStation(t, h, r)
	later := mustWrite(t, a.r, edit("A-1", "summary", "备份之后写的", "grid1"))
	mustWrite(t, a.r, registration("A-2", villageA, "grid1"))
	syncOnce(t, a)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	restored, err := node.Open(dir+".backup", node.Options{NewIncarnation: true, Now: newClock().now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restored.Close() })
	a = reopenStation(t, h, restored)
	syncOnce(t, a)
	if !holds(t, a.r, later) {
		t.Errorf("the restored station lacks its own op %s written after the backup", later.Dot)
	}
	for _, id := range []string{"A-1", "A-2"} {
		if got, want := caseState(t, a.r, id), caseState(t, h.r, id); got == "" || got != want {
			t.Errorf("case %s on the restored station:\n got  %s\n want %s", id, got, want)
		}
	}
	op := mustWrite(t, a.r, edit("A-2", "category", "恢复后写的", "grid1"))
	if op.Dot.Origin.Incarnation == later.Dot.Origin.Incarnation {
		t.Fatalf("the restored station writes under its old incarnation")
	}
	syncOnce(t, a)
	if !holds(t, h.r, op) {
		t.Errorf("the restored station's new write did not reach the hub")
	}
}
