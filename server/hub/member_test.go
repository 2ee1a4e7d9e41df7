package hub_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
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
//
// Forwarding runs both ways: as a function call between members in one process, and over
// HTTP to the leader's /raft/propose, signed with the hub's key, as between processes.
func TestMember_StationSyncsThroughAFollower(t *testing.T) {
	for _, overHTTP := range []bool{false, true} {
		t.Run(map[bool]string{false: "in-process", true: "http"}[overHTTP], func(t *testing.T) {
			stationSyncsThroughAFollower(t, overHTTP)
		})
	}
}

func stationSyncsThroughAFollower(t *testing.T, overHTTP bool) {
	root := t.TempDir()
	members := startCluster(t, root)
	// Every member serves the sync protocol, enrollment and forwarded entries.
	muxes := make([]*http.ServeMux, len(members))
	servers := make([]*httptest.Server, len(members))
	urls := map[raft.ServerID]string{}
	for i, m := range members {
		muxes[i] = http.NewServeMux()
		servers[i] = httptest.NewServer(muxes[i])
		t.Cleanup(servers[i].Close)
		urls[m.id] = servers[i].URL
	}
	var hubMembers []*hub.Member
	var forwarded atomic.Int64
	inProcess := func(ctx context.Context, entry []byte) (hub.ApplyResult, error) {
		for _, hm := range hubMembers {
			if res, err := hm.Propose(ctx, entry); err == nil {
				return res, nil
			}
		}
		return hub.ApplyResult{}, hub.ErrNotLeader
	}
	for i, m := range members {
		forward := inProcess
		if overHTTP {
			fsm := m.fsm
			forward = hub.HTTPForward(m.raft, func(msg []byte) []byte { return fsm.Replica().SessionSignature(msg) }, urls, nil)
		}
		hm := hub.NewMember(m.fsm, m.raft, hub.MemberOptions{Forward: forward})
		hubMembers = append(hubMembers, hm)
		h := fsync.NewHub(fsync.HubConfig{Replica: hm, Logger: quiet()})
		muxes[i].Handle("/sync", h)
		muxes[i].Handle("/api/v1/enroll", h.EnrollHandler(""))
		fh := hm.ForwardHandler()
		muxes[i].HandleFunc(hub.ForwardPath, func(w http.ResponseWriter, r *http.Request) {
			forwarded.Add(1)
			fh.ServeHTTP(w, r)
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	waitLeader(t, members, deadline)
	serve := func(i int) *httptest.Server { return servers[i] }
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

	if overHTTP && forwarded.Load() == 0 {
		t.Error("the follower forwarded nothing over HTTP")
	}

	// Whoever does not hold the hub's key cannot propose through a member.
	feedBefore := members[0].fsm.Replica().Status().FeedSeq
	for _, sig := range []string{"", "AAAA"} {
		req, _ := http.NewRequest(http.MethodPost, servers[0].URL+hub.ForwardPath, strings.NewReader("anything"))
		if sig != "" {
			req.Header.Set("X-Fengqiao-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned forward (signature %q): %s, want 401", sig, resp.Status)
		}
	}
	if got := members[0].fsm.Replica().Status().FeedSeq; got != feedBefore {
		t.Errorf("a refused forward changed the feed: %d → %d", feedBefore, got)
	}
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
