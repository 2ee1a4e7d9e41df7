package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// A county hub and a township station on loopback, syncing over a real websocket.
type countySetup struct {
	hub     *testNode
	admin   string // the county admin's session at the hub
	staff   string // a county staff account
	station *testNode
	sync    *fsync.Station
	stop    func() // stops the station's sync and waits for it
}

func newCounty(t *testing.T) *countySetup {
	t.Helper()
	c := &countySetup{}
	var hubSync *fsync.Hub
	c.hub = startNode(t, "zs-hub", county, func(cfg *server.StationConfig) {
		hubSync = fsync.NewHub(fsync.HubConfig{Replica: cfg.Replica.(*node.Replica), Logger: quietLog()})
		cfg.Sync, cfg.Enroll, cfg.Bundles, cfg.Peers, cfg.Enrollments = hubSync, hubSync.EnrollHandler(""), hubSync, server.HubPeers(hubSync), hubSync
	})
	_, c.admin = c.hub.setupAdmin(t, "admin")
	c.staff = c.hub.createAccount(t, c.admin, "staff.li", county, cases.RoleCountyStaff)

	clk := newTestClock()
	r := openNode(t, t.TempDir(), "zs-chengguan", townA, clk)
	if _, err := fsync.EnrollStation(context.Background(), r, c.hub.srv.URL, townA, ""); err != nil {
		t.Fatal(err)
	}
	c.station = serveNode(t, r, clk, nil)
	c.startSync(t)
	return c
}

func (c *countySetup) startSync(t *testing.T) {
	t.Helper()
	st, err := fsync.NewStation(fsync.StationConfig{Replica: c.station.r, Logger: quietLog(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = st.Run(ctx) }()
	c.sync = st
	c.stop = func() { cancel(); <-done }
	t.Cleanup(c.stop)
}

// stationHolds waits until the station holds account id (as cond wants it).
func (c *countySetup) stationHolds(t *testing.T, id string, cond func(*cases.Account) bool) {
	t.Helper()
	waitFor(t, 10*time.Second, "account "+id+" at the station", func() bool {
		a, err := c.station.r.Account(id)
		return err == nil && cond(a)
	})
}

// hubHas waits until the hub holds n audit records of case id.
func (c *countySetup) hubAudit(t *testing.T, caseID string, n int) []server.AuditEntryJSON {
	t.Helper()
	var out struct {
		Records []server.AuditEntryJSON `json:"records"`
	}
	waitFor(t, 10*time.Second, "audit records at the hub", func() bool {
		must(t, http.StatusOK, "GET", c.hub.srv.URL+"/api/v1/audit?case="+caseID, c.admin, nil, &out)
		return len(out.Records) >= n
	})
	return out.Records
}

// A grid worker's account made at the hub reaches the station, where they sign in and work
// after the hub is gone: the station checks the password against the replicated credential.
func TestSignIn_AtAStationWithNoNetwork(t *testing.T) {
	c := newCounty(t)
	wg := c.hub.createAccount(t, c.admin, "wg.a", villageA, cases.RoleGridWorker)
	registerCase(t, c.hub.r, "zs-0001", villageA, c.staff)
	c.stationHolds(t, wg, func(*cases.Account) bool { return true })
	waitFor(t, 10*time.Second, "the case at the station", func() bool { _, _, err := c.station.r.Case("zs-0001"); return err == nil })

	// The network is gone: sync stopped, the hub shut down and its store closed.
	c.stop()
	c.hub.srv.Close()
	if err := c.hub.r.Close(); err != nil {
		t.Fatal(err)
	}
	tok := c.station.signIn(t, wg, testPass)
	var me server.AccountView
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/me", tok, nil, &me)
	if me.ID != wg || !slices.Contains(me.Permissions, cases.PermViewIdentity) {
		t.Errorf("signed in as %+v", me)
	}
	var cj server.CaseJSON
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/cases/zs-0001", tok, nil, &cj)
	if petitionerName(t, cj) != "王芳" {
		t.Errorf("the grid worker sees %q", petitionerName(t, cj))
	}
	if got := call(t, "POST", c.station.srv.URL+"/api/v1/signin", "", server.SignInRequest{Account: wg, Password: "wrong password"}, nil); got != http.StatusUnauthorized {
		t.Errorf("wrong password offline: %d", got)
	}
	// The county staff account is not the station's: its credential never came here.
	if _, err := c.station.r.Account(c.staff); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("the county staff's account reached a township station: %v", err)
	}
}

// An account revoked at the hub reaches the station at its next sync, and its sessions end
// there; until then the station, offline, honours it.
func TestRevocation_ReachesTheStationAtItsNextSyncAndEndsSessions(t *testing.T) {
	c := newCounty(t)
	wg := c.hub.createAccount(t, c.admin, "wg.a", villageA, cases.RoleGridWorker)
	c.stationHolds(t, wg, func(*cases.Account) bool { return true })
	tok := c.station.signIn(t, wg, testPass)
	c.stop() // offline

	revoked := true
	must(t, http.StatusOK, "PATCH", c.hub.srv.URL+"/api/v1/accounts/"+wg, c.admin, server.AccountRequest{Revoked: &revoked}, nil)
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/me", tok, nil, nil) // not known here yet

	c.startSync(t)
	c.stationHolds(t, wg, func(a *cases.Account) bool { return a.Revoked })
	var body server.ErrorBody
	if got := call(t, "GET", c.station.srv.URL+"/api/v1/me", tok, nil, &body); got != http.StatusUnauthorized || body.Error.Code != "account_revoked" {
		t.Fatalf("the revoked account's session at the station: %d %+v, want 401 account_revoked", got, body)
	}
	if got := call(t, "POST", c.station.srv.URL+"/api/v1/signin", "", server.SignInRequest{Account: wg, Password: testPass}, nil); got != http.StatusUnauthorized {
		t.Errorf("the revoked account signs in again: %d", got)
	}
}

// Every view or export of a petitioner's identity at the station writes an audit record
// (who, when, which case, which fields), which reaches the hub; a redacted view writes none.
func TestAudit_EveryIdentityReadIsRecordedAndReachesTheHub(t *testing.T) {
	c := newCounty(t)
	wg := c.hub.createAccount(t, c.admin, "wg.a", villageA, cases.RoleGridWorker)
	registerCase(t, c.hub.r, "zs-0001", villageA, c.staff)
	c.stationHolds(t, wg, func(*cases.Account) bool { return true })
	waitFor(t, 10*time.Second, "the case at the station", func() bool { _, _, err := c.station.r.Case("zs-0001"); return err == nil })
	tok := c.station.signIn(t, wg, testPass)
	before := c.station.r.Status().FeedSeq

	var cj server.CaseJSON
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/cases/zs-0001?redact=1", tok, nil, &cj)
	if name := petitionerName(t, cj); name != "王*" {
		t.Errorf("redacted view shows the petitioner as %q", name)
	}
	var list server.CaseList
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/cases", tok, nil, &list) // lists are redacted
	if got := c.station.r.Status().FeedSeq; got != before {
		t.Fatalf("redacted reads wrote %d ops", got-before)
	}
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/cases/zs-0001", tok, nil, &cj)
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/cases?identity=full", tok, nil, &list)
	if got := c.station.r.Status().FeedSeq; got != before+2 {
		t.Fatalf("two full reads wrote %d ops, want 2 audit records", got-before)
	}
	// A township staff exports: redacted (no record), then in full (one record).
	ts := c.hub.createAccount(t, c.admin, "ts.a", townA, cases.RoleTownshipStaff)
	c.stationHolds(t, ts, func(*cases.Account) bool { return true })
	tsTok := c.station.signIn(t, ts, testPass)
	before = c.station.r.Status().FeedSeq
	if got := call(t, "GET", c.station.srv.URL+"/api/v1/export", tsTok, nil, nil); got != http.StatusOK || c.station.r.Status().FeedSeq != before {
		t.Fatalf("a redacted export: %d, %d ops written", got, c.station.r.Status().FeedSeq-before)
	}
	if got := call(t, "GET", c.station.srv.URL+"/api/v1/export?redact=0", tsTok, nil, nil); got != http.StatusOK || c.station.r.Status().FeedSeq != before+1 {
		t.Fatalf("a full export: %d, %d audit records", got, c.station.r.Status().FeedSeq-before)
	}

	recs := c.hubAudit(t, "zs-0001", 3)
	if recs[0].Action != "export" || recs[0].Account != ts {
		t.Errorf("newest record %+v, want the export", recs[0])
	}
	recs = recs[1:]
	actions := []string{}
	for _, r := range recs {
		actions = append(actions, r.Action)
		if r.Node != "zs-chengguan" || r.Account != wg || !slices.Equal(r.Cases, []string{"zs-0001"}) ||
			!slices.Equal(r.Fields, []string{"address", "id_number", "name", "phone"}) || r.At == "" || r.ReceivedAt == "" {
			t.Errorf("audit record at the hub: %+v", r)
		}
	}
	if !slices.Equal(actions, []string{"list", "view"}) {
		t.Errorf("actions newest first %v, want list then view", actions)
	}
	// At the hub: the county admin sees no identity (and writes no record); county staff do.
	must(t, http.StatusOK, "GET", c.hub.srv.URL+"/api/v1/cases/zs-0001", c.admin, nil, &cj)
	if petitionerName(t, cj) != "王*" {
		t.Errorf("the county admin sees %q", petitionerName(t, cj))
	}
	staff := c.hub.signIn(t, c.staff, testPass)
	must(t, http.StatusOK, "GET", c.hub.srv.URL+"/api/v1/cases/zs-0001", staff, nil, &cj)
	if recs := c.hubAudit(t, "zs-0001", 4); recs[0].Node != "zs-hub" || recs[0].Account != c.staff {
		t.Errorf("newest record %+v, want the county staff's read at the hub", recs[0])
	}
	var q server.QuarantineList
	must(t, http.StatusOK, "GET", c.hub.srv.URL+"/api/v1/quarantine", c.admin, nil, &q)
	if len(q.Ops) != 0 {
		t.Errorf("the station's audit records were quarantined: %+v", q.Ops)
	}
}

// A station pushes ops whose authors may not have written them — no account at all, an
// account of another township, a role without the permission — and the hub quarantines
// each, inside its apply, with the reason, without blocking the good op behind them.
func TestAuthorSpoofing_QuarantinedAtTheHub(t *testing.T) {
	c := newCounty(t)
	c.hub.createAccount(t, c.admin, "wg.b", villageB, cases.RoleGridWorker)
	c.hub.createAccount(t, c.admin, "judge.a", villageA, cases.RoleJudge)
	wg := c.hub.createAccount(t, c.admin, "wg.a", villageA, cases.RoleGridWorker)
	c.stationHolds(t, wg, func(*cases.Account) bool { return true })
	c.stop()
	// A tampered station: its ops are written around its own API (its replica judges
	// authors too, so the ops are built by hand, under the station's origin).
	st := c.station.r
	spoof := func(id, author string) {
		t.Helper()
		casetest.WriteUnchecked(t, st, node.Change{Case: id, Kind: cases.KindRegister, Author: author, Writes: registrationWrites(villageA)}, time.Now().UnixMilli())
	}
	spoof("zs-0101", "nobody")
	spoof("zs-0102", "wg.b")
	spoof("zs-0103", "judge.a")
	spoof("zs-0104", wg) // the good one
	c.startSync(t)
	want := map[string]string{"zs-0101": "author_unknown_author", "zs-0102": "author_out_of_scope", "zs-0103": "author_no_permission"}
	var q server.QuarantineList
	waitFor(t, 10*time.Second, "the hub to quarantine the spoofed ops", func() bool {
		must(t, http.StatusOK, "GET", c.hub.srv.URL+"/api/v1/quarantine", c.admin, nil, &q)
		return len(q.Ops) == len(want)
	})
	for _, op := range q.Ops {
		if want[op.Case] != op.Reason || op.Via != "zs-chengguan" {
			t.Errorf("quarantined %s by %s: reason %q via %q, want %q", op.Case, op.Author, op.Reason, op.Via, want[op.Case])
		}
	}
	waitFor(t, 10*time.Second, "the good op at the hub", func() bool { _, _, err := c.hub.r.Case("zs-0104"); return err == nil })
	for id := range want {
		if _, _, err := c.hub.r.Case(id); err == nil {
			t.Errorf("spoofed case %s was applied at the hub", id)
		}
	}
}

// A county admin's API token enrolls a station at a hub that has an enrollment token (the
// admin's sign-in replaces it); a grid worker's token is refused, and so is no token.
func TestEnroll_ByACountyAdminsToken(t *testing.T) {
	var hubSync *fsync.Hub
	h := startNode(t, "zs-hub", county, func(cfg *server.StationConfig) {
		hubSync = fsync.NewHub(fsync.HubConfig{Replica: cfg.Replica.(*node.Replica), Logger: quietLog()})
		cfg.Sync, cfg.Enroll = hubSync, hubSync.EnrollHandler("the-hub-enrollment-token")
	})
	_, admin := h.setupAdmin(t, "admin")
	wg := h.createAccount(t, admin, "wg.a", villageA, cases.RoleGridWorker)
	token := func(session string) string {
		var v server.TokenView
		must(t, http.StatusCreated, "POST", h.srv.URL+"/api/v1/tokens", session, server.TokenRequest{Label: "enroll"}, &v)
		return v.Token
	}
	adminToken, wgToken := token(admin), token(h.signIn(t, wg, testPass))
	for _, tc := range []struct {
		id, token string
		ok        bool
	}{{"st-none", "", false}, {"st-wg", wgToken, false}, {"st-admin", adminToken, true}} {
		r := openNode(t, t.TempDir(), tc.id, townA, newTestClock())
		_, err := fsync.EnrollStation(context.Background(), r, h.srv.URL, townA, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("enroll %s: %v, want ok %v", tc.id, err, tc.ok)
		}
	}
}
