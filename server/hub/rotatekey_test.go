package hub_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// The county hub's key — the authority of its members' Raft TLS — is rotated while a
// station syncs with it and it syncs with its city (3 + 3 members, Raft over TLS). Asked at
// a follower, the request goes to the leader; every member ends with the same new key and a
// chain leading to it from the old. The station re-pins and its next case reaches every city
// member, which proves the city took the county's new key too; a write through a follower
// is forwarded and committed; a member restarted after the rotation (new-key certificates)
// rejoins and ends byte-identical.
func TestCluster_HubKeyRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	root := t.TempDir()
	city, county := startCityAndCounty(t, ctx, root)
	cityURLs := serveSync(t, city)
	countyURLs := serveSync(t, county)

	runCtx, stopAll := context.WithCancel(ctx)
	var stopped []chan error
	defer func() {
		stopAll()
		for _, done := range stopped {
			<-done
		}
	}()
	uplink, err := fsync.NewUplink(fsync.UplinkConfig{Replica: leaderOf(t, county...).c.Member(), Parent: cityURLs, Logger: quiet(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := node.Open(filepath.Join(root, "stA"), node.Options{NodeID: "stA", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := fsync.EnrollStation(ctx, st, countyURLs[0], townA, ""); err != nil {
		t.Fatal(err)
	}
	station, err := fsync.NewStation(fsync.StationConfig{Replica: st, URLs: countyURLs, Logger: quiet(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []func(context.Context) error{uplink.Run, station.Run} {
		done := make(chan error, 1)
		go func() { done <- run(runCtx) }()
		stopped = append(stopped, done)
	}
	onEveryCityMember := func(id string) {
		t.Helper()
		waitFor(t, id+" on every city member", func() bool {
			for _, m := range city {
				if _, _, err := m.c.Member().Case(id); err != nil {
					return false
				}
			}
			return true
		})
	}
	if _, err := st.Write(ctx, casetest.Registration("R-1", villA, "grid1", 0)); err != nil {
		t.Fatal(err)
	}
	onEveryCityMember("R-1")

	waitFor(t, "the county members' URLs recorded", func() bool {
		for _, m := range county {
			for _, s := range m.c.Status().Members {
				if s.URL == "" {
					return false
				}
			}
		}
		return true
	})
	old := county[0].c.Member().PublicKey()
	var follower *testMember
	for _, m := range county {
		if m != leaderOf(t, county...) {
			follower = m
			break
		}
	}
	res, err := hub.RotateKey(ctx, nil, clusterToken, []string{follower.url})
	if err != nil {
		t.Fatal(err)
	}
	if res.Old != fsync.KeyFingerprint(old) || res.Rotations != 1 {
		t.Fatalf("rotation answered %+v", res)
	}
	var newKey []byte
	waitFor(t, "the new key on every county member", func() bool {
		newKey = county[0].c.Member().PublicKey()
		for _, m := range county {
			if k := m.c.Member().PublicKey(); bytes.Equal(k, old) || !bytes.Equal(k, newKey) {
				return false
			}
		}
		return true
	})
	if res.New != fsync.KeyFingerprint(newKey) {
		t.Fatalf("the rotation named %s, the members hold %s", res.New, fsync.KeyFingerprint(newKey))
	}
	for _, m := range county {
		if got, err := node.FollowKeys("zs-hub", old, m.c.Member().KeyChain()); err != nil || !bytes.Equal(got, newKey) {
			t.Fatalf("%s: the chain from the old key: %v", m.id, err)
		}
	}

	// The station and the city follow: a case written after the rotation goes all the way up.
	if _, err := st.Write(ctx, casetest.Registration("R-2", villA, "grid1", 0)); err != nil {
		t.Fatal(err)
	}
	onEveryCityMember("R-2")
	if info, err := fsync.LoadHubInfo(st); err != nil || !bytes.Equal(info.Key, newKey) {
		t.Fatalf("the station's pinned hub key is not the new one (%v)", err)
	}
	// A write through a follower is forwarded, signed with the new key.
	if _, err := follower.c.Member().Write(ctx, casetest.Note("R-2", "已电话回访", "county1")); err != nil {
		t.Fatalf("a write through a follower after the rotation: %v", err)
	}

	// A member restarted after the rotation presents certificates of the new key and rejoins.
	follower.srv.Close()
	if err := follower.c.Close(); err != nil {
		t.Fatal(err)
	}
	follower.open(t, clusterToken)
	if !bytes.Equal(follower.c.Member().PublicKey(), newKey) {
		t.Fatal("the restarted member came back with another key")
	}
	if _, err := leaderOf(t, county...).c.Member().Write(ctx, casetest.Note("R-2", "已上门调解", "county1")); err != nil {
		t.Fatal(err)
	}
	identical(t, county...)
	identical(t, city...)
}
