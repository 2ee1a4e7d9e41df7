package hub_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// A station enrolls with a follower of a 3-member hub and pushes its cases through it: the
// follower forwards every write to the leader and acknowledges after the commit, so the
// enrollment and the station's ops are on every member, byte-identical; and the station,
// moving to another member, resumes where the hub as a whole stands (nothing resent).
func TestMember_StationSyncsThroughAFollower(t *testing.T) {
	root := t.TempDir()
	members := startCluster(t, root)
	defer func() {
		for _, m := range members {
			m.stop(t, members)
		}
	}()
	// In-process forwarding: hand the entry to whichever member leads now.
	var hubMembers []*hub.Member
	forward := func(ctx context.Context, entry []byte) (hub.ApplyResult, error) {
		for _, hm := range hubMembers {
			if res, err := hm.Propose(ctx, entry); err == nil {
				return res, nil
			}
		}
		return hub.ApplyResult{}, hub.ErrNotLeader
	}
	for _, m := range members {
		hubMembers = append(hubMembers, hub.NewMember(m.fsm, m.raft, hub.MemberOptions{Forward: forward}))
	}
	deadline := time.Now().Add(30 * time.Second)
	for !anyLeader(members) {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(5 * time.Millisecond)
	}
	serve := func(i int) *httptest.Server {
		h := fsync.NewHub(fsync.HubConfig{Replica: hubMembers[i], Logger: quiet()})
		mux := http.NewServeMux()
		mux.Handle("/sync", h)
		mux.Handle("/api/v1/enroll", h.EnrollHandler(""))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	follower := 0
	for i, m := range members {
		if m.raft.State() != raft.Leader {
			follower = i
			break
		}
	}
	srv := serve(follower)

	st, err := node.Open(filepath.Join(root, "stA"), node.Options{NodeID: "stA", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := fsync.EnrollStation(context.Background(), st, srv.URL, townA, ""); err != nil {
		t.Fatalf("enroll through a follower: %v", err)
	}
	var changes []node.Change
	for i := range 60 {
		changes = append(changes, registration(fmt.Sprintf("A-%03d", i)))
	}
	if _, _, err := st.WriteBatch(context.Background(), changes, nil); err != nil {
		t.Fatal(err)
	}
	client, err := fsync.NewStation(fsync.StationConfig{Replica: st, URLs: []string{srv.URL}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	syncUntilCaughtUp(t, client, srv.URL)
	if got := client.Status().Acked.Pos; got != 60 {
		t.Fatalf("the hub acknowledged up to %d, want 60", got)
	}
	var want [32]byte
	for i, m := range members {
		r := m.fsm.Replica()
		for r.Status().FeedSeq < 60 {
			if time.Now().After(deadline) {
				t.Fatalf("member %s holds %d ops", m.id, r.Status().FeedSeq)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := r.Doc("enrollment", "stA"); err != nil {
			t.Errorf("member %s lacks the enrollment: %v", m.id, err)
		}
		d, err := r.KeyspaceDigest()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = d
		} else if d != want {
			t.Errorf("member %s differs", m.id)
		}
	}

	// The station moves to another member: its checkpoint is the hub's, nothing is resent.
	other := serve((follower + 1) % 3)
	before := client.Stats()
	syncUntilCaughtUp(t, client, other.URL)
	if s := client.Stats(); s == before || s.OpsSent.Load() != 0 || s.OpsReceived.Load() != 0 {
		t.Errorf("after moving to another member the session moved ops: sent %d, received %d", s.OpsSent.Load(), s.OpsReceived.Load())
	}
}

func anyLeader(ms []*member) bool {
	for _, m := range ms {
		if m.raft != nil && m.raft.State() == raft.Leader {
			return true
		}
	}
	return false
}

// syncUntilCaughtUp runs one session with url until both sides have caught up.
func syncUntilCaughtUp(t *testing.T, client *fsync.Station, url string) {
	t.Helper()
	prev := client.Stats()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- client.Connect(ctx, url) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := client.Stats()
		if s != nil && s != prev && s.CaughtUp.Load() && s.PeerCaughtUp.Load() {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("session ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the session did not catch up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}
