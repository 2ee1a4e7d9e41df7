package sync_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// serveTLSHub serves hub replica r's sync and enrollment over HTTPS, presenting a leaf
// signed by certKey's replica (r itself, unless the test plays a hub in the middle).
func serveTLSHub(t *testing.T, r, certKey *node.Replica) *testHub {
	t.Helper()
	h := fsync.NewHub(fsync.HubConfig{Replica: r, Logger: quiet()})
	mux := http.NewServeMux()
	mux.Handle("/sync", h)
	mux.Handle("/api/v1/enroll", h.EnrollHandler(""))
	cert, err := hub.NewServingCert(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The certificate follows certKey's key as `fengqiao hub --tls` does: a rotation is
	// presented at once.
	keys := func() (ed25519.PrivateKey, []node.KeyLink) { return certKey.Identity().Key, certKey.KeyChain() }
	id := certKey.Identity()
	if err := cert.Follow(keys, id.Node, id.Node); err != nil {
		t.Fatal(err)
	}
	// The listener of `fengqiao hub --tls` (httptest's StartTLS would put its own
	// certificate first).
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = tls.NewListener(srv.Listener, cert.ServerConfig())
	srv.Start()
	srv.URL = strings.Replace(srv.URL, "http://", "https://", 1)
	t.Cleanup(srv.Close)
	return &testHub{r: r, hub: h, srv: srv}
}

// A station enrolled over HTTPS with a hub serving a certificate of its own key syncs over
// wss with nothing installed: it verifies the certificate by the key it pinned.
func TestTLS_StationVerifiesTheHubByItsPinnedKey(t *testing.T) {
	hubR := openReplica(t, t.TempDir(), "hub1", testCounty)
	h := serveTLSHub(t, hubR, hubR)
	if !strings.HasPrefix(h.srv.URL, "https://") {
		t.Fatalf("test hub at %s", h.srv.URL)
	}
	s := enrollStation(t, h, "st1", townA)
	mustWrite(t, s.r, registration("tls-case-1", villageA, "grid1"))
	syncOnce(t, s)
	if caseState(t, hubR, "tls-case-1") == "" {
		t.Fatal("the hub does not hold the station's case after a session over TLS")
	}
}

// A hub that is not the one the station enrolled with — another key behind the same
// address — is refused at the TLS handshake, before anything is sent.
func TestTLS_StationRefusesAHubOfAnotherKey(t *testing.T) {
	hubR := openReplica(t, t.TempDir(), "hub1", testCounty)
	h := serveTLSHub(t, hubR, hubR)
	s := enrollStation(t, h, "st1", townA)
	mustWrite(t, s.r, registration("tls-case-2", villageA, "grid1"))

	other := openReplica(t, t.TempDir(), "hub1", testCounty) // same id, another key
	impostor := serveTLSHub(t, other, other)
	before := other.Status()
	err := connectOnce(t, s.st, impostor.srv.URL)
	if !errors.Is(err, fsync.ErrHubCertificate) {
		t.Fatalf("session with a hub of another key: %v, want ErrHubCertificate", err)
	}
	if after := other.Status(); after.FeedSeq != before.FeedSeq {
		t.Fatalf("the impostor's store moved: %d → %d ops", before.FeedSeq, after.FeedSeq)
	}
}

// An enrollment whose TLS certificate was signed by a key other than the one the hub's
// answer names (a machine in the middle holding its own certificate) is refused, and the
// station stores no enrollment.
func TestTLS_EnrollmentRefusesACertificateOfAnotherKey(t *testing.T) {
	hubR := openReplica(t, t.TempDir(), "hub1", testCounty)
	middle := openReplica(t, t.TempDir(), "mitm", testCounty)
	h := serveTLSHub(t, hubR, middle)
	r := openReplica(t, t.TempDir(), "st1", townA)
	_, err := fsync.EnrollStation(context.Background(), r, h.srv.URL, townA, "")
	if !errors.Is(err, fsync.ErrHubCertificate) {
		t.Fatalf("enrollment under another key's certificate: %v, want ErrHubCertificate", err)
	}
	if _, err := fsync.LoadHubInfo(r); err == nil {
		t.Fatal("the station stored the refused enrollment")
	}
}
