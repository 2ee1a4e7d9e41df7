package sync_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/casetest"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// A township office installs its station without the enrollment token: the hub keeps the
// request (asking again finds it kept), a second request for the same station id with
// another key cannot replace it, a county admin approves it after comparing fingerprints,
// and the station's next request is answered with its enrollment and it syncs. A declined
// request's key is refused from then on.
func TestEnrollmentRequest_WaitsForApprovalThenSyncs(t *testing.T) {
	r := openReplica(t, t.TempDir(), "zs-hub", testCounty)
	h := fsync.NewHub(fsync.HubConfig{Replica: r, Logger: quiet()})
	mux := http.NewServeMux()
	mux.Handle("/sync", h)
	mux.Handle("/api/v1/enroll", h.EnrollHandler("the-county-token"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := context.Background()

	st := openReplica(t, t.TempDir(), "zs-baofeng", "420323103")
	if _, err := fsync.EnrollStation(ctx, st, srv.URL, "420323103", ""); !errors.Is(err, fsync.ErrPendingApproval) {
		t.Fatalf("enrolling without the token: %v, want a request waiting for approval", err)
	}
	if _, err := fsync.EnrollStation(ctx, st, srv.URL, "420323103", ""); !errors.Is(err, fsync.ErrPendingApproval) {
		t.Fatalf("asking again: %v", err)
	}
	reqs, err := h.EnrollmentRequests()
	if err != nil || len(reqs) != 1 || reqs[0].Station != "zs-baofeng" || reqs[0].Fingerprint != fsync.KeyFingerprint(st.PublicKey()) {
		t.Fatalf("requests %+v, %v", reqs, err)
	}
	if _, err := fsync.LoadHubInfo(st); err == nil {
		t.Fatal("a station waiting for approval counts itself enrolled")
	}
	// Someone else claims the same station id with their own key: refused, the request stays.
	impostor := openReplica(t, t.TempDir(), "zs-baofeng", "420323103")
	if _, err := fsync.EnrollStation(ctx, impostor, srv.URL, "420323103", ""); !errors.Is(err, fsync.ErrEnroll) {
		t.Fatalf("a second key for a waiting request: %v, want refused", err)
	}
	if reqs, _ := h.EnrollmentRequests(); len(reqs) != 1 || reqs[0].Fingerprint != fsync.KeyFingerprint(st.PublicKey()) {
		t.Fatalf("the waiting request was replaced: %+v", reqs)
	}

	if _, err := h.ApproveEnrollment(ctx, "zs-baofeng"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsync.EnrollStation(ctx, st, srv.URL, "420323103", ""); err != nil {
		t.Fatalf("enrolling after approval: %v", err)
	}
	if reqs, _ := h.EnrollmentRequests(); len(reqs) != 0 {
		t.Errorf("approved requests still listed: %+v", reqs)
	}
	if _, err := st.Write(ctx, casetest.Registration("bf-0001", "420323103201", "wg", 0)); err != nil {
		t.Fatal(err)
	}
	s, err := fsync.NewStation(fsync.StationConfig{Replica: st, Logger: quiet(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(sctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 10*time.Second, "the approved station's case at the hub", func() bool { _, _, err := r.Case("bf-0001"); return err == nil })

	// A declined request: its key is refused from then on.
	other := openReplica(t, t.TempDir(), "zs-chengguan", "420323100")
	if _, err := fsync.EnrollStation(ctx, other, srv.URL, "420323100", ""); !errors.Is(err, fsync.ErrPendingApproval) {
		t.Fatal(err)
	}
	if err := h.DeclineEnrollment(ctx, "zs-chengguan"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsync.EnrollStation(ctx, other, srv.URL, "420323100", ""); !errors.Is(err, fsync.ErrEnroll) || errors.Is(err, fsync.ErrPendingApproval) {
		t.Fatalf("a declined key asks again: %v, want refused", err)
	}
	if _, err := h.ApproveEnrollment(ctx, "zs-nobody"); !errors.Is(err, fsync.ErrEnroll) {
		t.Errorf("approving a request nobody made: %v", err)
	}
	// A wrong token is still refused outright, never kept as a request.
	third := openReplica(t, t.TempDir(), "zs-shuangtai", "420323203")
	if _, err := fsync.EnrollStation(ctx, third, srv.URL, "420323203", "guess"); !errors.Is(err, fsync.ErrEnroll) || errors.Is(err, fsync.ErrPendingApproval) {
		t.Fatalf("a wrong token: %v", err)
	}
}
