package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/browsertest"
)

// The county admin manages people from the hub's pages: a form with a bad region code is
// refused under that field and creates nothing; a good one creates a grid worker who can
// then sign in at the township's station (the account travelled with the sync); revoking
// the account on the page reaches the station too. Then the admin makes an API token for a
// script on the tokens page — shown once, working — and revokes it there.
func TestPages_AdminManagesAccountsAndTokens(t *testing.T) {
	c := newCounty(t)
	var admin struct {
		ID string `json:"id"`
	}
	must(t, http.StatusOK, "GET", c.hub.srv.URL+"/api/v1/me", c.admin, nil, &admin)
	b := browsertest.New(t, 1366, 768)
	signInPage(b, c.hub.srv.URL, admin.ID)

	fill := func(region string) chromedp.Tasks {
		return chromedp.Tasks{
			chromedp.Navigate(c.hub.srv.URL + "/#/accounts"),
			chromedp.Reload(), // a fresh, empty form even when the page is already shown
			chromedp.WaitVisible(`#account-form`, chromedp.ByQuery),
			chromedp.SendKeys(`#a-account`, "grid.wang", chromedp.ByQuery),
			chromedp.SendKeys(`#a-name`, "王建国", chromedp.ByQuery),
			chromedp.SendKeys(`#a-unit`, "城关镇综治中心", chromedp.ByQuery),
			chromedp.SetValue(`#a-region`, region, chromedp.ByQuery),
			chromedp.SendKeys(`#a-password`, testPass, chromedp.ByQuery),
			chromedp.Click(`#a-role-grid_worker`, chromedp.ByQuery),
			chromedp.Click(`#account-submit`, chromedp.ByQuery),
		}
	}
	var regionErr string
	b.Run("a bad region code", fill("999999"),
		chromedp.WaitVisible(`#a-region[aria-invalid]`, chromedp.ByQuery), chromedp.Text(`#a-region-err`, &regionErr, chromedp.ByQuery))
	if regionErr == "" {
		t.Error("the bad region code is refused with no message under the field")
	}
	if got := call(t, "GET", c.hub.srv.URL+"/api/v1/accounts/grid.wang", c.admin, nil, nil); got != http.StatusNotFound {
		t.Fatalf("the refused form created the account (GET answered %d)", got)
	}
	b.Run("create the grid worker", fill(townA), chromedp.WaitVisible(`#accounts tr[data-account="grid.wang"]`, chromedp.ByQuery))
	b.Screenshot("hub-accounts")
	c.stationHolds(t, "grid.wang", func(a *cases.Account) bool { return !a.Revoked })
	c.station.signIn(t, "grid.wang", testPass) // offline-capable: against the replicated credential

	b.Run("revoke it", chromedp.Click(`#accounts tr[data-account="grid.wang"] button.revoke`, chromedp.ByQuery),
		chromedp.WaitVisible(`#accounts tr[data-account="grid.wang"] button.restore`, chromedp.ByQuery))
	c.stationHolds(t, "grid.wang", func(a *cases.Account) bool { return a.Revoked })
	if got := call(t, "POST", c.station.srv.URL+"/api/v1/signin", "", map[string]string{"account": "grid.wang", "password": testPass}, nil); got == http.StatusOK {
		t.Error("the revoked account still signs in at the station")
	}

	var token string
	b.Run("make a token", chromedp.Navigate(c.hub.srv.URL+"/#/tokens"), chromedp.WaitVisible(`#token-form`, chromedp.ByQuery),
		chromedp.SendKeys(`#t-label`, "夜间导出台账", chromedp.ByQuery),
		chromedp.Click(`#token-submit`, chromedp.ByQuery),
		chromedp.WaitVisible(`#token-value`, chromedp.ByQuery), chromedp.Text(`#token-value`, &token, chromedp.ByQuery),
		chromedp.WaitVisible(`#tokens tbody tr`, chromedp.ByQuery))
	b.Screenshot("hub-tokens")
	token = strings.TrimSpace(token)
	if got := call(t, "GET", c.hub.srv.URL+"/api/v1/me", token, nil, nil); got != http.StatusOK {
		t.Fatalf("the token the page showed does not sign a script in: %d", got)
	}
	b.Run("revoke the token", chromedp.Click(`#tokens tbody tr button.revoke`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`#tokens tbody tr`, chromedp.ByQuery))
	waitFor(t, 5*time.Second, "the revoked token refused", func() bool {
		return call(t, "GET", c.hub.srv.URL+"/api/v1/me", token, nil, nil) == http.StatusUnauthorized
	})
	b.OnlyFrom(c.hub.srv.URL)
	b.NoConsoleErrors()
}
