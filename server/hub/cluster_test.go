package hub_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
)

const clusterToken = "test-cluster-token-0123456789"

// testMember is a hub member as a process runs it: a Cluster behind a real HTTP server and
// a real TLS Raft transport on loopback.
type testMember struct {
	id, dir, raftAddr, url string
	srv                    *httptest.Server
	c                      *hub.Cluster
	adjust                 func(*hub.ClusterConfig)
	extra                  atomic.Pointer[http.Handler] // what the member serves besides /raft/ (a hub's sync endpoint)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newTestMember(t *testing.T, root, id, token string) *testMember {
	t.Helper()
	return newTestMemberWith(t, root, id, token, nil)
}

func newTestMemberWith(t *testing.T, root, id, token string, adjust func(*hub.ClusterConfig)) *testMember {
	t.Helper()
	m := &testMember{id: id, dir: filepath.Join(root, id), raftAddr: freeAddr(t)}
	var h http.Handler = http.NotFoundHandler()
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if extra := m.extra.Load(); extra != nil && !strings.HasPrefix(r.URL.Path, "/raft/") {
			(*extra).ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	m.url = "http://" + m.srv.Listener.Addr().String()
	m.adjust = adjust
	m.open(t, token)
	h = m.c.Handler()
	m.srv.Start()
	t.Cleanup(func() { m.srv.Close(); _ = m.c.Close() })
	return m
}

func (m *testMember) open(t *testing.T, token string) {
	t.Helper()
	var err error
	cfg := hub.ClusterConfig{Dir: m.dir, MemberID: m.id, RaftBind: m.raftAddr, URL: m.url, Token: token,
		Replica: node.Options{HeadCacheSize: 1 << 20}, Logger: quiet(), Tune: func(c *raft.Config) {
			c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
		}}
	if m.adjust != nil {
		m.adjust(&cfg)
	}
	m.c, err = hub.OpenCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaderOf(t *testing.T, ms ...*testMember) *testMember {
	t.Helper()
	var l *testMember
	waitFor(t, "a leader", func() bool {
		for _, m := range ms {
			if r := m.c.Raft(); r != nil && r.State() == raft.Leader {
				l = m
				return true
			}
		}
		return false
	})
	return l
}

// identical waits until every member's replicated keyspace is the same bytes.
func identical(t *testing.T, ms ...*testMember) {
	t.Helper()
	waitFor(t, "identical members", func() bool {
		var first [32]byte
		for i, m := range ms {
			digest, err := keyspaceDigest(m)
			if err != nil {
				return false
			}
			if i == 0 {
				first = digest
			} else if first != digest {
				return false
			}
		}
		return true
	})
}

func keyspaceDigest(m *testMember) ([32]byte, error) {
	fsm := m.c.Member()
	if fsm == nil {
		return [32]byte{}, errors.New("not running")
	}
	return fsm.KeyspaceDigest()
}

// A hub's whole life on loopback with real TLS Raft, real HTTP and real Pebble: bootstrap
// only over empty peers, the listed peers join and receive the one hub identity, a write
// reaches all three byte for byte; a member is removed, its data wiped, and it cannot come
// back under its old id, only under a new one, through the leader — and catches up.
func TestCluster_BootstrapJoinRemoveRejoin(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m1, m2, m3 := newTestMember(t, root, "m1", clusterToken), newTestMember(t, root, "m2", clusterToken), newTestMember(t, root, "m3", clusterToken)

	// A stranger's token is refused before anything is looked at.
	stranger := newTestMember(t, root, "x1", "another-token-0123456789")
	if err := stranger.c.Join(ctx, []string{m1.url}); !errors.Is(err, hub.ErrRefused) {
		t.Fatalf("join with a wrong token: %v, want ErrRefused", err)
	}

	if err := m1.c.Bootstrap(ctx, "zs-hub", "420323", []hub.Peer{{ID: "m2", URL: m2.url}, {ID: "m3", URL: m3.url}}); err != nil {
		t.Fatal(err)
	}
	if err := m2.c.Join(ctx, []string{m1.url}); err != nil {
		t.Fatal(err)
	}
	if err := m3.c.Join(ctx, []string{m2.url}); err != nil { // any member lets a listed peer in
		t.Fatal(err)
	}
	ms := []*testMember{m1, m2, m3}
	leader := leaderOf(t, ms...)
	for _, m := range ms {
		id := m.c.Member().Origin()
		if id.Node != "zs-hub" || !bytes.Equal(m.c.Member().PublicKey(), m1.c.Member().PublicKey()) {
			t.Fatalf("%s holds identity %v, not the hub's", m.id, id)
		}
	}
	if err := leader.c.Member().PutDoc(ctx, "note", "a", []byte("written once")); err != nil {
		t.Fatal(err)
	}
	identical(t, ms...)

	// Never over state: a member holding state refuses, and a bootstrap listing it fails.
	if err := m1.c.Bootstrap(ctx, "zs-hub", "420323", nil); !errors.Is(err, hub.ErrNotEmpty) {
		t.Fatalf("bootstrap over state: %v", err)
	}
	fresh := newTestMember(t, root, "f1", clusterToken)
	if err := fresh.c.Bootstrap(ctx, "other", "420323", []hub.Peer{{ID: "m2", URL: m2.url}}); !errors.Is(err, hub.ErrPeerState) {
		t.Fatalf("bootstrap listing a member with state: %v", err)
	}
	if !fresh.c.Empty() {
		t.Fatal("a refused bootstrap left state behind")
	}

	// Remove m3 and wipe it.
	if err := hub.RemoveMember(ctx, nil, clusterToken, []string{m2.url, m1.url}, "m3"); err != nil {
		t.Fatal(err)
	}
	m3.srv.Close()
	_ = m3.c.Close()
	if err := os.RemoveAll(m3.dir); err != nil {
		t.Fatal(err)
	}
	// Under its old id it is refused; under a new id it joins through whichever member it asks.
	again := newTestMember(t, root, "m3", clusterToken)
	if err := again.c.Join(ctx, []string{m1.url}); !errors.Is(err, hub.ErrRefused) {
		t.Fatalf("rejoin under a used id: %v, want ErrRefused", err)
	}
	m4 := newTestMember(t, root, "m4", clusterToken)
	if err := m4.c.Join(ctx, []string{m1.url, m2.url}); err != nil {
		t.Fatal(err)
	}
	ms = []*testMember{m1, m2, m4}
	leader = leaderOf(t, ms...)
	if err := leader.c.Member().PutDoc(ctx, "note", "b", []byte("after the rejoin")); err != nil {
		t.Fatal(err)
	}
	identical(t, ms...)
	// Every member records its own URL through the log once it runs (forwarding needs them).
	var st hub.ClusterStatus
	waitFor(t, "every member's URL in the status", func() bool {
		st = leader.c.Status()
		for _, s := range st.Members {
			if s.URL == "" {
				return false
			}
		}
		return true
	})
	var ids []string
	for _, s := range st.Members {
		ids = append(ids, s.ID)
	}
	if st.State != "Leader" || st.Term == 0 || st.AppliedIndex == 0 || len(ids) != 3 || ids[0] != "m1" || ids[1] != "m2" || ids[2] != "m4" {
		t.Fatalf("status %+v", st)
	}
	// The status after a restart: the member starts from its own state, joining nothing.
	m2.srv.Close()
	if err := m2.c.Close(); err != nil {
		t.Fatal(err)
	}
	m2.open(t, clusterToken)
	if m2.c.Empty() {
		t.Fatal("a restarted member came back empty")
	}
	identical(t, m1, m2, m4)
}
