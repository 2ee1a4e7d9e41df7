package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fengqiao/fengqiao/internal/browsertest"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

// station is a real station replica on disk behind its real HTTP handler on loopback.
func station(t *testing.T) (*node.Replica, *httptest.Server) {
	t.Helper()
	r, err := node.Open(t.TempDir(), node.Options{NodeID: "zs-baofeng", Region: "420323103"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	srv := httptest.NewServer(server.NewStationHandler(server.StationConfig{Replica: r, Writer: r,
		StationBundles: server.LocalBundles{Replica: r}}))
	t.Cleanup(srv.Close)
	return r, srv
}

// A grid worker's laptop: the station's pages render in Chinese at 1366×768 with nothing
// fetched from anywhere but the station, list the cases with their deadlines, open a case,
// show the sync state of a station that has never had a network, and switch to English.
func TestPages_StationRendersOffline(t *testing.T) {
	r, srv := station(t)
	for i, id := range []string{"bf-0001", "bf-0002", "bf-0003"} {
		casetest.MustWrite(t, r, casetest.Registration(id, "420323103201", "wg001", casetest.BaseTime+int64(i)*60_000))
	}
	b := browsertest.New(t, 1366, 768)

	var rows int
	b.Run("case list", chromedp.Navigate(srv.URL+"/#/cases"),
		chromedp.WaitVisible(`#case-list tbody tr`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#case-list tbody tr').length`, &rows))
	if rows != 3 {
		t.Errorf("the case list shows %d rows, want 3", rows)
	}
	var nav string
	b.Run("nav text", chromedp.Text(`#nav`, &nav, chromedp.ByQuery))
	if !strings.Contains(nav, "案件") || !strings.Contains(nav, "登记") {
		t.Errorf("the menu reads %q, want Chinese", nav)
	}
	b.Screenshot("station-cases")

	var summary string
	b.Run("open a case", chromedp.Click(`#case-list tbody tr[data-case="bf-0002"] a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#case-fields dd[data-field="summary"]`, chromedp.ByQuery),
		chromedp.Text(`#case-fields dd[data-field="summary"]`, &summary, chromedp.ByQuery))
	if !strings.Contains(summary, "占用公共通道") {
		t.Errorf("the case page shows summary %q", summary)
	}
	b.Screenshot("station-case")

	var offline string
	b.Run("sync page", chromedp.Navigate(srv.URL+"/#/sync"), chromedp.WaitVisible(`#offline`, chromedp.ByQuery),
		chromedp.Text(`#offline`, &offline, chromedp.ByQuery))
	if !strings.Contains(offline, "离线") {
		t.Errorf("a station with no hub shows %q", offline)
	}
	b.Screenshot("station-sync")

	b.Run("bundles page", chromedp.Navigate(srv.URL+"/#/bundles"), chromedp.WaitVisible(`#bundle-export`, chromedp.ByQuery))
	b.Screenshot("station-bundles")
	b.Run("quarantine page", chromedp.Navigate(srv.URL+"/#/quarantine"), chromedp.WaitVisible(`main h1`, chromedp.ByQuery))
	b.Screenshot("station-quarantine")

	var english string
	b.Run("switch to English", chromedp.Navigate(srv.URL+"/#/cases"), chromedp.WaitVisible(`#case-list`, chromedp.ByQuery),
		chromedp.Click(`#lang`, chromedp.ByQuery), chromedp.WaitVisible(`#case-list`, chromedp.ByQuery),
		chromedp.Text(`#nav`, &english, chromedp.ByQuery))
	if !strings.Contains(english, "Cases") {
		t.Errorf("after the switch the menu reads %q", english)
	}
	b.OnlyFrom(srv.URL)
	b.NoConsoleErrors()
}

// The register form checks the resident ID as it is typed, against the server's own rule:
// a wrong check digit shows its message under the field before anything is sent.
func TestPages_RegisterChecksResidentIDInline(t *testing.T) {
	_, srv := station(t)
	b := browsertest.New(t, 390, 844) // a phone
	var msg string
	b.Run("register page", chromedp.Navigate(srv.URL+"/#/register"),
		chromedp.WaitVisible(`#r-id-number`, chromedp.ByQuery),
		chromedp.SendKeys(`#r-id-number`, "110105194912310021", chromedp.ByQuery),
		chromedp.WaitVisible(`#r-id-number[aria-invalid="true"]`, chromedp.ByQuery),
		chromedp.Text(`#r-id-number-err`, &msg, chromedp.ByQuery))
	if !strings.Contains(msg, "校验") {
		t.Errorf("a wrong check digit shows %q", msg)
	}
	var villages int
	b.Run("villages of the township", chromedp.Evaluate(`document.querySelectorAll('#r-village option').length`, &villages))
	if villages < 10 {
		t.Errorf("the village picker of 宝丰镇 offers %d choices", villages)
	}
	b.Screenshot("station-register-phone")
	b.Run("fix it", chromedp.Evaluate(`document.querySelector('#r-id-number').value = ''`, nil),
		chromedp.SendKeys(`#r-id-number`, "11010519491231002X", chromedp.ByQuery),
		chromedp.WaitNotPresent(`#r-id-number[aria-invalid="true"]`, chromedp.ByQuery))
	b.OnlyFrom(srv.URL)
	b.NoConsoleErrors()
}
