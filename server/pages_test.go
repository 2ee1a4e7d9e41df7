package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/browsertest"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// signInPage signs account in through the page's form, from wherever the app sent it.
func signInPage(b *browsertest.Browser, base, account string) {
	b.Run("sign in as "+account, chromedp.Navigate(base+"/#/cases"),
		chromedp.WaitVisible(`#signin-form`, chromedp.ByQuery),
		chromedp.SendKeys(`#signin-account`, account, chromedp.ByQuery),
		chromedp.SendKeys(`#signin-password`, testPass, chromedp.ByQuery),
		chromedp.Click(`#signin-submit`, chromedp.ByQuery),
		chromedp.WaitVisible(`#case-list`, chromedp.ByQuery)) // the app goes where it was asked: the case list
}

// A township worker signs in at the station's page (the station's accounts came from the
// hub), registers a petition through the form, and the county's staff see it on the hub's
// pages after the station syncs. Then the same field is edited at both ends while the
// station is offline: the station's page shows both values side by side, a person keeps
// one, and the conflict is gone at the hub too. No page fetches anything from elsewhere.
func TestPages_SignInRegisterSyncAndResolveAConflict(t *testing.T) {
	c := newCounty(t)
	ts := c.hub.createAccount(t, c.admin, "ts.a", townA, cases.RoleTownshipStaff)
	c.stationHolds(t, ts, func(*cases.Account) bool { return true })
	st := browsertest.New(t, 1366, 768)

	// The station's pages ask for a sign-in, and take the replicated account.
	b := st
	b.Run("the station's pages", chromedp.Navigate(c.station.srv.URL+"/"), chromedp.WaitVisible(`#signin-form`, chromedp.ByQuery))
	b.Screenshot("station-signin")
	signInPage(b, c.station.srv.URL, ts)

	// Register through the form.
	idNumber := casetest.ResidentID(townA, 7)
	var hash string
	b.Run("register", chromedp.Navigate(c.station.srv.URL+"/#/register"),
		chromedp.WaitReady(`#r-village option[value="`+villageA+`"]`, chromedp.ByQuery),
		chromedp.SendKeys(`#r-name`, "李秀英", chromedp.ByQuery),
		chromedp.SendKeys(`#r-id-number`, idNumber, chromedp.ByQuery),
		chromedp.SendKeys(`#r-phone`, "13872812345", chromedp.ByQuery),
		chromedp.SetValue(`#r-village`, villageA, chromedp.ByQuery),
		chromedp.SendKeys(`#r-summary`, "反映邻居建房占用公共通道影响出行，请求协调解决。", chromedp.ByQuery),
		chromedp.Click(`#register-submit`, chromedp.ByQuery),
		chromedp.WaitVisible(`#case-fields`, chromedp.ByQuery),
		chromedp.Evaluate(`location.hash`, &hash))
	id, _ := url.PathUnescape(strings.TrimPrefix(hash, "#/cases/"))
	if _, _, err := c.station.r.Case(id); err != nil {
		t.Fatalf("after the form, the page shows %q, and the station holds no case %q: %v", hash, id, err)
	}
	var shown string
	b.Run("the case page", chromedp.Text(`#case-fields`, &shown, chromedp.ByQuery))
	if !strings.Contains(shown, "李秀英") || !strings.Contains(shown, idNumber) {
		t.Errorf("the registering worker's case page shows %q, want the petitioner in full", shown)
	}
	b.Screenshot("station-registered")

	// The county's staff see it at the hub.
	waitFor(t, 15*time.Second, "the case at the hub", func() bool { _, _, err := c.hub.r.Case(id); return err == nil })
	hb := browsertest.New(t, 1366, 768)
	signInPage(hb, c.hub.srv.URL, c.staff)
	hb.Run("the hub's case list", chromedp.Navigate(c.hub.srv.URL+"/#/cases"),
		chromedp.WaitVisible(`#case-list tbody tr[data-case="`+id+`"]`, chromedp.ByQuery))
	hb.Screenshot("hub-cases")
	var total string
	hb.Run("the hub dashboard", chromedp.Navigate(c.hub.srv.URL+"/#/dashboard"),
		chromedp.WaitVisible(`#chart-township`, chromedp.ByQuery), chromedp.Text(`#kpi-cases`, &total, chromedp.ByQuery))
	if total != "1" {
		t.Errorf("the dashboard counts %q cases, want 1", total)
	}
	hb.Screenshot("hub-dashboard")
	var nav string
	hb.Run("the county staff's menu", chromedp.Text(`#nav`, &nav, chromedp.ByQuery))
	if strings.Contains(nav, "审计") {
		t.Errorf("county staff, who may not read the audit log, are offered it: %q", nav)
	}
	hb.Run("the hub's stations", chromedp.Navigate(c.hub.srv.URL+"/#/stations"),
		chromedp.WaitVisible(`#stations tr[data-station="zs-chengguan"]`, chromedp.ByQuery))
	for _, page := range []string{"stations", "quarantine", "sync"} {
		hb.Run("hub page "+page, chromedp.Navigate(c.hub.srv.URL+"/#/"+page), chromedp.WaitVisible(`main h1`, chromedp.ByQuery))
		hb.Screenshot("hub-" + page)
	}
	// The county admin reads the audit log: the station's worker saw the petitioner in full.
	var admin struct {
		ID string `json:"id"`
	}
	must(t, http.StatusOK, "GET", c.hub.srv.URL+"/api/v1/me", c.admin, nil, &admin)
	ab := browsertest.New(t, 1366, 768)
	signInPage(ab, c.hub.srv.URL, admin.ID)
	ab.Run("the audit log", chromedp.Navigate(c.hub.srv.URL+"/#/audit"), chromedp.WaitVisible(`#audit tbody tr`, chromedp.ByQuery))
	ab.Screenshot("hub-audit")

	// Concurrent offline edits of the summary: a visible conflict at the station.
	c.stop()
	stTok := c.station.signIn(t, ts, testPass)
	var seen server.WorkflowCaseJSON
	must(t, http.StatusOK, "GET", c.station.srv.URL+"/api/v1/cases/"+id, stTok, nil, &seen)
	must(t, http.StatusOK, "PATCH", c.station.srv.URL+"/api/v1/cases/"+id, stTok,
		map[string]any{"base": seen.Version, "set": map[string]any{"summary": "站点：双方已同意现场协商。"}}, nil)
	staffTok := c.hub.signIn(t, c.staff, testPass)
	must(t, http.StatusOK, "PATCH", c.hub.srv.URL+"/api/v1/cases/"+id, staffTok,
		map[string]any{"base": seen.Version, "set": map[string]any{"summary": "县里：转县住建局核实。"}}, nil)
	c.startSync(t)
	waitFor(t, 15*time.Second, "the conflict at the station", func() bool {
		cs, _, err := c.station.r.Case(id)
		return err == nil && len(cs.Conflicts()) > 0
	})
	var versions int
	b.Run("the conflict on the page", chromedp.Navigate(c.station.srv.URL+"/#/cases/"+url.PathEscape(id)),
		chromedp.Reload(), // the page was left at this very address: load it afresh
		chromedp.WaitVisible(`.conflict[data-field="summary"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('.conflict[data-field="summary"] .version').length`, &versions))
	if versions != 2 {
		t.Errorf("the conflict shows %d values side by side, want 2", versions)
	}
	b.Screenshot("station-conflict")
	var kept string
	b.Run("keep one value", chromedp.Text(`.conflict[data-field="summary"] .version:nth-child(2) div`, &kept, chromedp.ByQuery),
		chromedp.Click(`.conflict[data-field="summary"] .version:nth-child(2) button`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`#conflicts`, chromedp.ByQuery))
	waitFor(t, 15*time.Second, "the conflict resolved at the hub, with the value kept", func() bool {
		cs, _, err := c.hub.r.Case(id)
		return err == nil && len(cs.Conflicts()) == 0 && cs.String("summary") == kept
	})

	b.OnlyFrom(c.station.srv.URL)
	hb.OnlyFrom(c.hub.srv.URL)
	ab.OnlyFrom(c.hub.srv.URL)
	b.NoConsoleErrors()
	hb.NoConsoleErrors()
}

// A township office enrolled its station without the token: the county admin sees the
// request with its key fingerprint on the hub's stations page, approves it there, and the
// station's next enrollment succeeds.
func TestPages_AdminApprovesAnEnrollmentRequest(t *testing.T) {
	var hubSync *fsync.Hub
	hub := startNode(t, "zs-hub", county, func(cfg *server.StationConfig) {
		hubSync = fsync.NewHub(fsync.HubConfig{Replica: cfg.Replica.(*node.Replica), Logger: quietLog()})
		cfg.Sync, cfg.Enroll, cfg.Enrollments, cfg.Peers = hubSync, hubSync.EnrollHandler("county-token"), hubSync, server.HubPeers(hubSync)
	})
	adminID, _ := hub.setupAdmin(t, "admin")
	st := openNode(t, t.TempDir(), "zs-baofeng", "420323103", newTestClock())
	if _, err := fsync.EnrollStation(context.Background(), st, hub.srv.URL, "420323103", ""); !errors.Is(err, fsync.ErrPendingApproval) {
		t.Fatalf("enrolling without the token: %v", err)
	}
	b := browsertest.New(t, 1366, 768)
	signInPage(b, hub.srv.URL, adminID)
	var fp string
	b.Run("the request", chromedp.Navigate(hub.srv.URL+"/#/stations"),
		chromedp.WaitVisible(`#enroll-requests tr[data-request="zs-baofeng"]`, chromedp.ByQuery),
		chromedp.Text(`#enroll-requests tr[data-request="zs-baofeng"] code`, &fp, chromedp.ByQuery))
	if fp != fsync.KeyFingerprint(st.PublicKey()) {
		t.Errorf("the page shows fingerprint %q, the station's is %q", fp, fsync.KeyFingerprint(st.PublicKey()))
	}
	b.Screenshot("hub-enrollment-request")
	b.Run("approve", chromedp.Click(`#enroll-requests tr[data-request="zs-baofeng"] button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`#stations tr[data-station="zs-baofeng"]`, chromedp.ByQuery))
	if _, err := fsync.EnrollStation(context.Background(), st, hub.srv.URL, "420323103", ""); err != nil {
		t.Fatalf("enrolling after the approval: %v", err)
	}
	b.OnlyFrom(hub.srv.URL)
	b.NoConsoleErrors()
}
