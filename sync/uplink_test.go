package sync_test

// The uplink: county hubs sync with their city hub as one peer each. Real replicas on disk,
// real hubs behind httptest servers, real sessions; waits on conditions, never sleeps.

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

const (
	testCity  = "4203"         // 十堰市
	countyC1  = testCounty     // 竹山县 (townA, villageA are in it)
	countyC2  = "420322"       // 郧西县
	townC2    = "420322100"    // 郧西县 城关镇
	villageC2 = "420322100001" // 郧西县 城关镇 东方居委会
	foreignC  = "420202"       // 黄石港区, in 黄石市 (4202), not in 十堰市
)

// startHubIn starts a hub serving region (a city or a county) on loopback.
func startHubIn(t testing.TB, id, region string) *testHub {
	t.Helper()
	return serveTestHub(t, openReplica(t, t.TempDir(), id, region), fsync.HubConfig{})
}

// testUplink is a running uplink of a county hub.
type testUplink struct {
	u      *fsync.Uplink
	cancel context.CancelFunc
	done   chan error
	once   gosync.Once
	err    error
}

// startUplink runs county's uplink to parent until stopped (at the latest when the test ends).
func startUplink(t testing.TB, county, parent *testHub) *testUplink {
	t.Helper()
	u, err := fsync.NewUplink(fsync.UplinkConfig{Replica: county.r, Parent: []string{parent.srv.URL}, Logger: quiet(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tu := &testUplink{u: u, cancel: cancel, done: make(chan error, 1)}
	go func() { tu.done <- u.Run(ctx) }()
	t.Cleanup(func() { _ = tu.stop() })
	return tu
}

// stop ends the uplink and returns what Run returned.
func (tu *testUplink) stop() error {
	tu.once.Do(func() { tu.cancel(); tu.err = <-tu.done })
	return tu.err
}

// settled reports whether the uplink's session is caught up both ways and the two hubs'
// checkpoints cover each other's streams: everything is durable on the other side.
func settled(t testing.TB, tu *testUplink, county, parent *testHub) bool {
	t.Helper()
	st := tu.u.Stats()
	if st == nil || !st.CaughtUp.Load() || !st.PeerCaughtUp.Load() {
		return false
	}
	up, err := parent.r.PeerCheckpoint(county.r.Origin().Node)
	if err != nil || up.Epoch != county.r.Epoch() || up.Pos != county.r.Status().FeedSeq {
		return false
	}
	scope := node.ScopeOfRegion(county.r.Region())
	down, err := county.r.PeerCheckpoint(node.StreamName(parent.r.Origin().Node, scope))
	return err == nil && down.Pos == parent.r.ScopeSeq(scope)
}

// twoCounties is a city hub, its counties C1 and C2, a station in each, all syncing.
type twoCounties struct {
	city, c1, c2 *testHub
	a, b         *testStation
	u1, u2       *testUplink
	aCases       []string // registered at station A
	bCases       []string // registered at station B
}

func startTwoCounties(t *testing.T, perStation int) *twoCounties {
	t.Helper()
	w := &twoCounties{city: startHubIn(t, "city", testCity), c1: startHubIn(t, "C1", countyC1), c2: startHubIn(t, "C2", countyC2)}
	w.a = enrollStation(t, w.c1, "stA", townA)
	w.b = enrollStation(t, w.c2, "stB", townC2)
	var regsA, regsB []node.Change
	for i := range perStation {
		w.aCases = append(w.aCases, fmt.Sprintf("A-%03d", i))
		regsA = append(regsA, registration(w.aCases[i], villageA, "grid1"))
		w.bCases = append(w.bCases, fmt.Sprintf("B-%03d", i))
		regsB = append(regsB, registration(w.bCases[i], villageC2, "grid2"))
	}
	mustWriteAll(t, w.a.r, regsA)
	mustWriteAll(t, w.b.r, regsB)
	mustWrite(t, w.a.r, edit(w.aCases[0], "summary", "村里补充情况", "grid1"))
	mustWrite(t, w.b.r, edit(w.bCases[0], "category", "土地纠纷", "grid2"))
	// A write of the county itself: its own origin, its own signed heads, at the city.
	mustWrite(t, w.c1.r, registration("C1-own", villageA, "county1"))
	w.a.run(t)
	w.b.run(t)
	w.u1 = startUplink(t, w.c1, w.city)
	w.u2 = startUplink(t, w.c2, w.city)
	return w
}

// The city ends with every case of both counties, each as the station that registered it
// sees it; the city's assignment and edit of a C1 case reach station A through C1, and not
// C2 nor station B; station A's answer comes back up to the city.
func TestUplink_CountiesSyncToCityAndAssignmentsComeDown(t *testing.T) {
	w := startTwoCounties(t, 40)
	all := append(append([]string{"C1-own"}, w.aCases...), w.bCases...)
	waitFor(t, 15*time.Second, "every case of both counties at the city", func() bool {
		for _, id := range all {
			if caseState(t, w.city.r, id) == "" {
				return false
			}
		}
		return caseState(t, w.a.r, "C1-own") != ""
	})
	for _, id := range append([]string{"C1-own"}, w.aCases...) {
		if got, want := caseState(t, w.city.r, id), caseState(t, w.a.r, id); got != want {
			t.Errorf("case %s:\ncity      %s\nstation A %s", id, got, want)
		}
	}
	for _, id := range w.bCases {
		if got, want := caseState(t, w.city.r, id), caseState(t, w.b.r, id); got != want {
			t.Errorf("case %s:\ncity      %s\nstation B %s", id, got, want)
		}
	}
	if got, want := w.city.r.Status().Cases, uint64(len(all)); got != want {
		t.Errorf("the city holds %d cases, want %d", got, want)
	}
	for _, id := range w.aCases {
		if caseState(t, w.c2.r, id) != "" || caseState(t, w.b.r, id) != "" {
			t.Fatalf("C1's case %s reached county C2 or its station", id)
		}
	}
	if q, _ := w.city.r.Quarantined(0, 10); len(q) != 0 {
		t.Errorf("the city quarantined ops the counties may write: %+v", q)
	}

	// The city assigns a C1 case down to station A and edits another.
	assign := mustWrite(t, w.city.r, edit(w.aCases[1], "assignee", "stA", "city1"))
	note := mustWrite(t, w.city.r, edit(w.aCases[2], "summary", "市里督办意见", "city1"))
	waitFor(t, 10*time.Second, "the city's assignment and edit at station A", func() bool {
		return holds(t, w.a.r, assign) && holds(t, w.a.r, note)
	})
	for _, id := range w.aCases[1:3] {
		if got, want := caseState(t, w.a.r, id), caseState(t, w.city.r, id); got != want {
			t.Errorf("case %s after the city's write:\nstation A %s\ncity      %s", id, got, want)
		}
	}
	if scopes, _ := w.c1.r.CaseScopes(w.aCases[1]); !contains(fmt.Sprint(scopes), node.ScopeOfStation("stA")) {
		t.Errorf("county C1 did not index the city's assignment to stA: scopes %v", scopes)
	}
	// Station A answers on the assigned case: up through C1 to the city.
	reply := mustWrite(t, w.a.r, edit(w.aCases[1], "handler_unit", "城关镇司法所", "grid1"))
	waitFor(t, 10*time.Second, "station A's reply at the city", func() bool { return holds(t, w.city.r, reply) })
	// Whatever C2 and station B have by now, it is not the C1 cases.
	waitFor(t, 10*time.Second, "county C2's uplink to settle", func() bool { return settled(t, w.u2, w.c2, w.city) })
	for _, op := range []cases.Op{assign, note, reply} {
		if holds(t, w.c2.r, op) || holds(t, w.b.r, op) {
			t.Errorf("op %s on C1's case %s reached county C2 or station B", op.Dot, op.Case)
		}
	}
}

// A county's uplink stopped and started again (a new leader) resumes from the replicated
// checkpoints: the new session sends and receives nothing that was acknowledged, and then
// exactly what is new.
func TestUplink_RestartResendsNothingAcknowledged(t *testing.T) {
	w := startTwoCounties(t, 30)
	waitFor(t, 15*time.Second, "station A's cases at the city", func() bool {
		return caseState(t, w.city.r, w.aCases[0]) != "" && caseState(t, w.city.r, w.aCases[len(w.aCases)-1]) != ""
	})
	down := mustWrite(t, w.city.r, edit(w.aCases[0], "assignee", "stA", "city1")) // something comes down too
	waitFor(t, 15*time.Second, "C1's uplink to settle", func() bool {
		return holds(t, w.a.r, down) && settled(t, w.u1, w.c1, w.city)
	})
	first := w.u1.u.Stats()
	if first.OpsSent.Load() < uint64(len(w.aCases)) || first.OpsReceived.Load() == 0 {
		t.Fatalf("first session sent %d ops, received %d: the setup did not sync", first.OpsSent.Load(), first.OpsReceived.Load())
	}
	if err := w.u1.stop(); err != nil {
		t.Fatalf("uplink Run returned %v after cancel, want nil", err)
	}

	again := startUplink(t, w.c1, w.city)
	waitFor(t, 10*time.Second, "the new uplink session to settle", func() bool { return settled(t, again, w.c1, w.city) })
	st := again.u.Stats()
	if st == first {
		t.Fatal("the new uplink reports the old session")
	}
	if n, b, r, d := st.OpsSent.Load(), st.BatchesSent.Load(), st.OpsReceived.Load(), st.Duplicates.Load(); n+b+r+d != 0 {
		t.Fatalf("after a restart the uplink sent %d ops in %d batches and received %d (%d duplicates); want none",
			n, b, r, d)
	}

	// Then exactly what is new goes up.
	op := mustWrite(t, w.a.r, registration("A-new", villageA, "grid1"))
	waitFor(t, 10*time.Second, "the new case at the city", func() bool { return holds(t, w.city.r, op) })
	waitFor(t, 10*time.Second, "the uplink to settle again", func() bool { return settled(t, again, w.c1, w.city) })
	if n := st.OpsSent.Load(); n != 1 {
		t.Errorf("the resumed uplink sent %d ops for one new op", n)
	}
	if n := st.OpsReceived.Load() + st.Duplicates.Load(); n != 0 {
		t.Errorf("the resumed uplink received %d ops, want none (nothing is echoed)", n)
	}
	if info, err := fsync.LoadHubInfo(w.c1.r); err != nil || info.Kind != fsync.KindHub || info.Hub != "city" {
		t.Errorf("C1's stored parent: %+v %v", info, err)
	}
}

// What a hub peer may write at its city, applied directly: ops of any origin but the
// city's own, each held to the county's scope; a station's enrollment still refuses
// another origin.
func TestUplink_WriterRuleOfAHubPeer(t *testing.T) {
	city := openReplica(t, t.TempDir(), "city", testCity)
	st := openReplica(t, t.TempDir(), "stA", townA)
	hubRule := (&fsync.Enrollment{Station: "C1", Kind: fsync.KindHub, Region: countyC1}).Rule()
	stationRule := (&fsync.Enrollment{Station: "C1", Region: countyC1}).Rule()
	incoming := func(op cases.Op) node.Incoming { return node.Incoming{Op: op, Raw: op.Encode()} }
	apply := func(rule *node.WriterRule, ops ...cases.Op) (node.Result, error) {
		t.Helper()
		b := node.Batch{From: "C1", Writer: rule, StampReceipt: true}
		for _, op := range ops {
			b.Ops = append(b.Ops, incoming(op))
		}
		return city.Apply(context.Background(), b)
	}

	reg := mustWrite(t, st, registration("A-1", villageA, "grid1"))
	before := city.Status().FeedSeq
	if _, err := apply(stationRule, reg); !errors.Is(err, node.ErrForgedOrigin) {
		t.Fatalf("station-kind rule, op of another origin: %v, want ErrForgedOrigin", err)
	}
	if city.Status().FeedSeq != before {
		t.Fatal("a refused batch moved the city's feed")
	}
	if res, err := apply(hubRule, reg); err != nil || res.Applied != 1 {
		t.Fatalf("hub-kind rule, a station's op in the county: %+v %v", res, err)
	}

	// The city's own origin: no peer may send it.
	own := mustWrite(t, city, registration("CITY-1", villageC2, "city1"))
	if _, err := apply(hubRule, own); !errors.Is(err, node.ErrForgedOrigin) {
		t.Fatalf("hub-kind rule, an op of the city's own origin: %v, want ErrForgedOrigin", err)
	}

	// A forwarded op on a case in another county, which neither C1 nor its stations
	// registered: quarantined, not applied.
	if _, err := st.Apply(context.Background(), node.Batch{From: "city", Partial: true, Ops: []node.Incoming{incoming(own)}}); err != nil {
		t.Fatal(err)
	}
	out := mustWrite(t, st, edit("CITY-1", "summary", "越权修改", "grid1"))
	if res, err := apply(hubRule, out); err != nil || res.Quarantined != 1 || res.Applied != 0 {
		t.Fatalf("hub-kind rule, a forwarded op on another county's case: %+v %v, want it quarantined", res, err)
	}
	if c, _, _ := city.Case("CITY-1"); contains(fmt.Sprint(c.Strings("summary")), "越权修改") {
		t.Error("the quarantined op changed the other county's case")
	}

	// A case a station of C1 registered outside the county came through C1: C1 may write it
	// (the registration and the edit in separate batches, so the rule reads the via back).
	far := mustWrite(t, st, registration("A-FAR", villageC2, "grid1"))
	farEdit := mustWrite(t, st, edit("A-FAR", "summary", "补充", "grid1"))
	for _, op := range []cases.Op{far, farEdit} {
		if res, err := apply(hubRule, op); err != nil || res.Applied != 1 {
			t.Fatalf("hub-kind rule, op %s on a case registered through C1: %+v %v", op.Dot, res, err)
		}
	}
	// ... and another county may not write C1's cases, whatever origin it sends them under.
	c2Rule := (&fsync.Enrollment{Station: "C2", Kind: fsync.KindHub, Region: countyC2}).Rule()
	inC1 := mustWrite(t, st, edit("A-1", "category", "其他", "grid1"))
	res, err := city.Apply(context.Background(), node.Batch{From: "C2", Writer: c2Rule, Ops: []node.Incoming{incoming(inC1)}})
	if err != nil || res.Quarantined != 1 {
		t.Fatalf("hub-kind rule of C2, an op on a C1 case: %+v %v, want it quarantined", res, err)
	}
}

// Heads in a hub peer's session: its own are verified with its key (a forged one refuses
// the batch); its stations' are dropped, the session vouching for them. A station's session
// still refuses a head of any other origin.
func TestUplink_HeadsOfForwardedOrigins(t *testing.T) {
	city := startHubIn(t, "city", testCity)
	c1 := startHubIn(t, "C1", countyC1)
	a := enrollStation(t, c1, "stA", townA)
	if _, err := fsync.EnrollHub(context.Background(), c1.r, city.srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	up, err := fsync.NewStation(fsync.StationConfig{Replica: c1.r, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	regA := mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	headA, err := a.r.SignHeadAt(regA.Dot.Seq)
	if err != nil {
		t.Fatal(err)
	}
	regC := mustWrite(t, c1.r, registration("C1-1", villageA, "county1"))
	headC, err := c1.r.SignHeadAt(regC.Dot.Seq)
	if err != nil {
		t.Fatal(err)
	}
	send := func(st *fsync.Station, h *testHub, epoch string, heads []node.SignedHead, ops ...cases.Op) *websocket.Conn {
		t.Helper()
		conn, err := fsync.DialRawForTest(context.Background(), st, h.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		var raws [][]byte
		for _, op := range ops {
			raws = append(raws, op.Encode())
		}
		if err := conn.WriteMessage(websocket.BinaryMessage, fsync.EncodeBatchForTest(1, "", epoch, uint64(len(ops)), heads, raws)); err != nil {
			t.Fatal(err)
		}
		return conn
	}

	// The county's forged own head: refused, nothing applied.
	forged := headC
	forged.Sig = append([]byte(nil), headC.Sig...)
	forged.Sig[0] ^= 1
	conn := send(up, city, c1.r.Epoch(), []node.SignedHead{headA, forged}, regA, regC)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := fsync.ReadErrorFrameForTest(conn); remoteCode(err) != fsync.ErrCodeIntegrity {
		t.Fatalf("hub peer with a forged head of its own: %v, want an integrity error", err)
	}
	if city.r.Status().FeedSeq != 0 {
		t.Fatal("the city applied a batch it refused")
	}

	// The station's head and the county's true head: the batch is applied.
	send(up, city, c1.r.Epoch(), []node.SignedHead{headA, headC}, regA, regC)
	waitFor(t, 10*time.Second, "the forwarded batch at the city", func() bool {
		return holds(t, city.r, regA) && holds(t, city.r, regC)
	})

	// A station's session: a head of another origin (here the county's, validly signed)
	// refuses the batch.
	conn = send(a.st, c1, a.r.Epoch(), []node.SignedHead{headA, headC}, regA)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	err = fsync.ReadErrorFrameForTest(conn)
	if remoteCode(err) != fsync.ErrCodeIntegrity || !contains(err.Error(), "head of") {
		t.Fatalf("station with a head of another origin: %v, want an integrity error", err)
	}
	if holds(t, c1.r, regA) {
		t.Error("the county applied the refused station batch")
	}
}

// A county enrolls at its own city as a hub, with a record of its own kind beside the
// stations' unchanged ones; a county of another city, a township, or a county enrolling at
// a county are refused, and the uplink says so instead of retrying.
func TestUplink_EnrollmentAsHub(t *testing.T) {
	city := startHubIn(t, "city", testCity)
	c1 := startHubIn(t, "C1", countyC1)
	enrollStation(t, c1, "stA", townA)

	info, err := fsync.EnrollHub(context.Background(), c1.r, city.srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Hub != "city" || info.Kind != fsync.KindHub || info.Region != countyC1 ||
		fmt.Sprint(info.Scopes) != fmt.Sprint([]string{"r" + countyC1, "aC1", node.ScopeConfig}) {
		t.Errorf("enrollment answer: %+v", info)
	}
	rec, _ := city.r.Doc("enrollment", "C1")
	old, _ := c1.r.Doc("enrollment", "stA")
	if len(rec) == 0 || rec[0] != 0x98 || len(old) == 0 || old[0] != 0x97 {
		t.Errorf("records: hub's % x (want an 8-element array), station's % x (want 7, as before kinds)", rec, old)
	}

	foreign := startHubIn(t, "HS", foreignC)
	if _, err := fsync.EnrollHub(context.Background(), foreign.r, city.srv.URL, ""); !errors.Is(err, fsync.ErrEnroll) {
		t.Errorf("a county of another city enrolled: %v", err)
	}
	c2 := startHubIn(t, "C2", countyC2)
	if _, err := fsync.EnrollHub(context.Background(), c2.r, c1.srv.URL, ""); !errors.Is(err, fsync.ErrEnroll) {
		t.Errorf("a county enrolled at another county: %v", err)
	}
	town := openReplica(t, t.TempDir(), "stT", townA)
	if _, err := fsync.EnrollHub(context.Background(), town, city.srv.URL, ""); !errors.Is(err, fsync.ErrEnroll) {
		t.Errorf("a township enrolled as a hub: %v", err)
	}
	if _, err := city.hub.Enroll(context.Background(), fsync.EnrollRequest{Station: "T9", Kind: fsync.KindHub,
		Region: townA, Key: c1.r.PublicKey()}); !errors.Is(err, fsync.ErrEnroll) {
		t.Errorf("the city took a township as a hub: %v", err)
	}

	u := startUplink(t, foreign, city)
	select {
	case err := <-u.done:
		if !errors.Is(err, fsync.ErrEnroll) {
			t.Errorf("uplink of a county the city refuses: %v, want ErrEnroll", err)
		}
		u.once.Do(func() {})
	case <-time.After(10 * time.Second):
		t.Fatal("the uplink kept retrying a refused enrollment")
	}
}
