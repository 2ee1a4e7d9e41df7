package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
)

// A hub of three real processes: a station bulk-pushes through it, and the leader is
// SIGKILLed in the middle. Every op the station had acknowledged is on the hub, the station
// resumes against the new leader until everything is acknowledged, and the killed member
// comes back from its own disk and catches up. Then a member is removed and its disk wiped:
// it cannot come back under its old id; a new server joins under a new id and catches up by
// snapshot. The members end byte-identical.
func TestHubCluster_LeaderKilledDuringStationPush(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	root := t.TempDir()
	// Frequent snapshots and a short log tail, so that a member joining later must catch up
	// by snapshot.
	hub := newHubCluster(t, root, "sy", 3, "--raft-snapshot-threshold", "4", "--raft-trailing-logs", "2", "--raft-snapshot-interval", "200ms")
	hub.bootstrap("sy-hub", "4203")

	// The station's URL list starts with the first member, usually the leader: killing the
	// leader then also kills the station's member, and it must move on.
	stURL, station, total := startStation(t, root, "zs-st", "420323", hub.members[0].url, workload(t, "1500", "2", "--county", "420323"))

	leader := hub.leader()
	var before uint64
	waitUntil(t, 60*time.Second, "the push to be under way", func() (bool, string) {
		st, err := fetchStatus(leader.url)
		before = st.Ops
		return err == nil && st.Ops > 0, fmt.Sprint(st.Ops, err)
	})
	leader.p.kill()
	if before >= total {
		t.Fatalf("the push was over (%d of %d ops) before the leader was killed: the test shows nothing", before, total)
	}
	t.Logf("killed leader %s with %d of %d ops applied", leader.id, before, total)
	allAcked(t, stURL, 120*time.Second)
	hub.start(leader) // from its own disk
	hub.settle(total)
	station.stop(t)

	// Wipe a member: it is removed, its old id is refused, a new server joins under a new id.
	gone := hub.members[2]
	if o, e, err := runApp(t, commands(), nil, "remove-member", "--hub", hub.members[0].url+","+hub.members[1].url,
		"--member", gone.id, "--cluster-token", testClusterToken); err != nil {
		t.Fatalf("remove-member: %v\n%s\n%s", err, o, e)
	}
	gone.p.kill()
	if err := os.RemoveAll(gone.dir); err != nil {
		t.Fatal(err)
	}
	hub.start(gone, "--join", hub.members[0].url)
	select {
	case <-gone.p.done:
		gone.p.cmd.ProcessState = &os.ProcessState{}
		if !strings.Contains(gone.p.out.String(), "joins under a new id") {
			t.Fatalf("the wiped member under its old id exited, but not for its id:\n%s", tail(gone.p.out.String()))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the wiped member under its old id was not refused")
	}
	m4 := hub.newMember(root, "sy-4")
	hub.start(m4, "--join", hub.members[0].url+","+hub.members[1].url)
	hub.members[2] = m4
	waitUntil(t, 60*time.Second, "the new member caught up by snapshot", func() (bool, string) {
		st, err := fetchStatus(m4.url)
		rs := raftOf(st)
		return err == nil && st.Ops == total && rs.SnapshotIndex > 0, fmt.Sprintf("ops %d/%d snapshot %d %v", st.Ops, total, rs.SnapshotIndex, err)
	})
	waitUntil(t, 30*time.Second, "three voters without the removed one", func() (bool, string) {
		st, _ := fetchStatus(m4.url)
		var ids []string
		for _, s := range raftOf(st).Members {
			ids = append(ids, s.ID)
		}
		return strings.Join(ids, ",") == "sy-1,sy-2,sy-4", strings.Join(ids, ",")
	})
	hub.settle(total)
	hub.stopAndCompare()
}

// Two stations → a county hub of three processes → a city hub of three processes, with
// the county's uplink run by its leader, and a third station that is never online, its
// bundle uploaded to one member and its return bundle fetched from another: every member
// of both hubs ends with every case of the three stations, the same at the county and at
// the city, and each hub's members byte-identical. The county rotates its key midway, and
// the stations and the city follow. A cluster member's directory refuses a direct import.
// Everything between processes runs over HTTPS (--tls).
func TestHubCluster_StationsCountyCity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	root := t.TempDir()
	// Both hubs serve HTTPS with certificates of their own keys (--tls): the members join
	// and forward to each other, the county enrolls and syncs at the city, and the stations
	// at the county, each verifying the key it pinned.
	city := newHubCluster(t, root, "sy", 3, "--tls")
	city.bootstrap("sy-hub", "4203")
	county := newHubCluster(t, root, "zs", 3, "--tls", "--parent", strings.Join(city.urls, ","))
	county.bootstrap("zs-hub", "420323")
	if resp, err := http.Get("http://" + county.members[0].http + "/api/v1/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("a --tls member answered plaintext HTTP")
		}
	}

	// Two townships' cases, one station each.
	byTownship := splitByTownship(t, workload(t, "400", "2", "--county", "420323"))
	var towns []string
	for town := range byTownship {
		towns = append(towns, town)
	}
	sort.Slice(towns, func(i, j int) bool { return len(byTownship[towns[i]]) > len(byTownship[towns[j]]) })
	var total uint64
	var stations []*process
	var stationURLs []string
	for i, town := range towns[:2] {
		url, p, ops := startStation(t, root, fmt.Sprintf("st-%d", i+1), town, county.urls[i], byTownship[town])
		allAcked(t, url, 90*time.Second)
		total += ops
		stations = append(stations, p)
		stationURLs = append(stationURLs, url)
	}
	// The county rotates its key (the authority of its members' TLS, the key its stations
	// and its city pinned), asked at a follower over HTTPS. Every member ends with the new
	// key; both stations follow it; the city follows it too, since the offline station's ops
	// (imported at the county below) reach the city.
	before, err := fetchStatus(county.urls[0])
	if err != nil {
		t.Fatal(err)
	}
	if o, e, err := runApp(t, commands(), nil, "rotate-key", "--hub", county.urls[1], "--cluster-token", testClusterToken, "--tls-skip-verify"); err != nil {
		t.Fatalf("rotate-key: %v\n%s\n%s", err, o, e)
	}
	var rotatedKey string
	waitUntil(t, 30*time.Second, "the new key on every county member", func() (bool, string) {
		var fps []string
		for _, u := range county.urls {
			st, err := fetchStatus(u)
			if err != nil || st.KeyRotations != 1 || st.KeyFingerprint == before.KeyFingerprint {
				return false, fmt.Sprint(st.KeyFingerprint, st.KeyRotations, err)
			}
			fps = append(fps, st.KeyFingerprint)
		}
		rotatedKey = fps[0]
		return fps[0] == fps[1] && fps[1] == fps[2], strings.Join(fps, " ")
	})
	for _, u := range stationURLs {
		waitUntil(t, 60*time.Second, "the station following the county's new key", func() (bool, string) {
			st, err := fetchStatus(u)
			return err == nil && len(st.Peers) == 1 && st.Peers[0].Connected && st.Peers[0].KeyFingerprint == rotatedKey,
				fmt.Sprintf("%+v %v", st.Peers, err)
		})
	}
	// A third township's station never online: its bundle is uploaded to a follower-or-leader
	// member of the county, and its return bundle fetched from another.
	offline := filepath.Join(root, "st-3")
	if o, e, err := runApp(t, commands(), nil, "enroll", "--hub", county.urls[0], "--dir", offline, "--id", "st-3", "--region", towns[2]); err != nil {
		t.Fatalf("enroll st-3: %v\n%s\n%s", err, o, e)
	}
	work := filepath.Join(root, "st-3.jsonl")
	if err := os.WriteFile(work, byTownship[towns[2]], 0o644); err != nil {
		t.Fatal(err)
	}
	bundle, receipt := filepath.Join(root, "st-3.fqb"), filepath.Join(root, "st-3-return.fqb")
	for _, args := range [][]string{
		{"import", "--dir", offline, work},
		{"export", "--dir", offline, "--out", bundle},
		{"import", "--hub", county.urls[1], bundle},
		{"import", "--hub", county.urls[2], bundle}, // twice: nothing changes
		{"export", "--hub", county.urls[2], "--peer", "st-3", "--out", receipt},
		{"import", "--dir", offline, receipt},
	} {
		if o, e, err := runApp(t, commands(), nil, args...); err != nil {
			t.Fatalf("%v: %v\n%s\n%s", args, err, o, e)
		}
	}
	if _, _, err := runApp(t, commands(), nil, "import", "--dir", county.members[0].dir, bundle); !errors.Is(err, errClusterStore) {
		t.Fatalf("import into a cluster member's directory: %v, want errClusterStore", err)
	}
	var offlineOps uint64
	{
		r, err := node.Open(offline, node.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		offlineOps = r.Status().FeedSeq
		_ = r.Close()
	}
	total += offlineOps

	county.settle(total)
	city.settle(total)
	for _, p := range stations {
		p.stop(t)
	}
	// The same cases, case by case, at a county member and a city member.
	countyCases, cityCases := listCases(t, county.members[1].url), listCases(t, city.members[2].url)
	if len(countyCases) == 0 || len(countyCases) != len(cityCases) {
		t.Fatalf("county holds %d cases, city %d", len(countyCases), len(cityCases))
	}
	for id, c := range countyCases {
		if cityCases[id] != c {
			t.Fatalf("case %s differs:\ncounty %s\ncity   %s", id, c, cityCases[id])
		}
	}
	t.Logf("%d ops of %d cases from 3 stations (one by bundle) on 3 county and 3 city members", total, len(cityCases))
	county.stopAndCompare()
	city.stopAndCompare()
}

// splitByTownship splits a workload's lines by the 9-digit township of their case.
func splitByTownship(t *testing.T, lines []byte) map[string][]byte {
	t.Helper()
	town := map[string]string{}
	out := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(lines))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
			Case struct {
				ID     string `json:"id"`
				Region string `json:"region"`
			} `json:"case"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		id := l.ID
		if l.Kind == "create" {
			id = l.Case.ID
			town[id] = l.Case.Region[:9]
		}
		out[town[id]] = append(append(out[town[id]], sc.Bytes()...), '\n')
	}
	return out
}

// listCases reads every case a hub member serves, as the API shows it, without the fields
// each replica fills from its own view (its received and updated stamps).
func listCases(t *testing.T, url string) map[string]string {
	t.Helper()
	out := map[string]string{}
	cursor := ""
	for {
		resp, err := testClient.Get(url + "/api/v1/cases?limit=1000&cursor=" + cursor)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var page struct {
			Cases []map[string]any `json:"cases"`
			Next  string           `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		for _, c := range page.Cases {
			b, _ := json.Marshal(c)
			out[fmt.Sprint(c["id"])] = string(b)
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}
