package server_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

// wantTable is the authorization table as docs/security.md states it, written out here by
// hand, so that a change to the code's table that the documentation does not make fails.
var wantTable = map[cases.Role]string{
	cases.RoleGridWorker:    "read register edit handle view_identity",
	cases.RoleTownshipStaff: "read register edit accept assign handle serve_opinion close resolve_conflict view_identity export import",
	cases.RoleCountyStaff:   "read register edit accept assign handle serve_opinion close resolve_conflict view_identity export import",
	cases.RoleUnitHead:      "read edit accept assign handle extend serve_opinion close resolve_conflict view_identity export",
	cases.RoleLeader:        "read edit assign handle close view_identity audit",
	cases.RoleJudge:         "read edit handle view_identity",
	cases.RoleMediator:      "read register edit handle view_identity",
	cases.RoleStationAdmin:  "read export import manage_accounts",
	cases.RoleCountyAdmin:   "read export import enroll manage_accounts configure audit",
}

// Every role is allowed exactly the permissions of the table and refused the others,
// through real HTTP: the table probe (the one code path every handler calls) for every
// permission, and the endpoints that exist for reading, identity, export, audit and
// accounts. A case outside an account's region is refused, and nobody signed in gets 401.
func TestRoleTable_EachRoleAllowedAndRefused(t *testing.T) {
	h := startNode(t, "zs-hub", county, nil)
	registerCase(t, h.r, "zs-0001", villageA, "operator") // before the first run: the operator
	_, admin := h.setupAdmin(t, "admin")

	for _, role := range cases.Roles {
		t.Run(string(role), func(t *testing.T) {
			id := h.createAccount(t, admin, "r."+string(role), county, role)
			tok := h.signIn(t, id, testPass)
			allowed := strings.Fields(wantTable[role])
			for _, p := range cases.Permissions {
				var body server.ErrorBody
				got := call(t, "GET", h.srv.URL+"/api/v1/authorize?case=zs-0001&permission="+string(p), tok, nil, &body)
				want := http.StatusForbidden
				if slices.Contains(allowed, string(p)) {
					want = http.StatusOK
				}
				if got != want {
					t.Errorf("%s %s: %d, want %d (%+v)", role, p, got, want, body)
				}
				if got == http.StatusForbidden && (body.Error.Code != "no_permission" || !strings.Contains(body.Error.Message, " / ")) {
					t.Errorf("%s %s: refusal %+v, want no_permission in Chinese / English", role, p, body)
				}
			}
			// The endpoints themselves.
			var c server.CaseJSON
			must(t, http.StatusOK, "GET", h.srv.URL+"/api/v1/cases/zs-0001", tok, nil, &c)
			name := petitionerName(t, c)
			if full := slices.Contains(allowed, "view_identity"); full != (name == "王芳") {
				t.Errorf("%s sees the petitioner as %q (view_identity %v)", role, name, full)
			}
			for _, ep := range []struct{ perm, method, path string }{
				{"audit", "GET", "/api/v1/audit"},
				{"export", "GET", "/api/v1/export"},
				{"manage_accounts", "GET", "/api/v1/accounts"},
			} {
				want := http.StatusForbidden
				if slices.Contains(allowed, ep.perm) {
					want = http.StatusOK
				}
				if got := call(t, ep.method, h.srv.URL+ep.path, tok, nil, nil); got != want {
					t.Errorf("%s %s %s: %d, want %d", role, ep.method, ep.path, got, want)
				}
			}
		})
	}

	t.Run("out of scope", func(t *testing.T) {
		id := h.createAccount(t, admin, "wg.b", villageB, cases.RoleGridWorker)
		tok := h.signIn(t, id, testPass)
		var body server.ErrorBody
		if got := call(t, "GET", h.srv.URL+"/api/v1/cases/zs-0001", tok, nil, &body); got != http.StatusForbidden || body.Error.Code != "out_of_scope" {
			t.Errorf("a grid worker of another township reads the case: %d %+v, want 403 out_of_scope", got, body)
		}
		var list server.CaseList
		must(t, http.StatusOK, "GET", h.srv.URL+"/api/v1/cases", tok, nil, &list)
		if len(list.Cases) != 0 {
			t.Errorf("the list shows %d cases outside the account's scope", len(list.Cases))
		}
		// A node-wide action needs the node's whole region: a village's township staff may
		// not export the county hub.
		id = h.createAccount(t, admin, "ts.b", townB, cases.RoleTownshipStaff)
		if got := call(t, "GET", h.srv.URL+"/api/v1/export", h.signIn(t, id, testPass), nil, &body); got != http.StatusForbidden {
			t.Errorf("township staff export the county hub: %d, want 403", got)
		}
	})
	t.Run("nobody signed in", func(t *testing.T) {
		for _, path := range []string{"/api/v1/cases/zs-0001", "/api/v1/cases", "/api/v1/quarantine", "/api/v1/stats"} {
			var body server.ErrorBody
			if got := call(t, "GET", h.srv.URL+path, "", nil, &body); got != http.StatusUnauthorized || body.Error.Code != "unauthenticated" {
				t.Errorf("GET %s with no session: %d %+v, want 401 unauthenticated", path, got, body)
			}
			if got := call(t, "GET", h.srv.URL+path, "fqs_not-a-token", nil, &body); got != http.StatusUnauthorized {
				t.Errorf("GET %s with a made-up token: %d, want 401", path, got)
			}
		}
		// The status is for monitoring and scripts: counts and node ids, nothing of a case.
		if got := call(t, "GET", h.srv.URL+"/api/v1/status", "", nil, nil); got != http.StatusOK {
			t.Errorf("GET /api/v1/status with no session: %d, want 200", got)
		}
	})
}

func petitionerName(t *testing.T, c server.CaseJSON) string {
	t.Helper()
	ps, _ := c.Fields["petitioners"].([]any)
	if len(ps) != 1 {
		t.Fatalf("petitioners = %#v", c.Fields["petitioners"])
	}
	p, _ := ps[0].(map[string]any)
	return p["name"].(string)
}

// The first run creates the node's own administrator, once, and only from its own machine.
func TestSetup_FirstRunOnceAndOnlyLocally(t *testing.T) {
	st := startNode(t, "zs-chengguan", townA, nil)
	// Not from another machine: the handler sees the request's remote address.
	h := server.NewStationHandler(server.StationConfig{Replica: st.r, Writer: st.r, Logger: quietLog(), Auth: server.AuthConfig{Argon2: cheapArgon2}})
	req := httptest.NewRequest("POST", "/api/v1/setup", strings.NewReader(`{"account":"admin","name":"管理员","password":"`+testPass+`"}`))
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("setup from another machine: %d %s, want 403", rec.Code, rec.Body)
	}
	// Before setup, another machine is told to set up; the console is the operator.
	req = httptest.NewRequest("GET", "/api/v1/cases", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "setup_required") {
		t.Fatalf("cases from another machine before setup: %d %s", rec.Code, rec.Body)
	}
	must(t, http.StatusOK, "GET", st.srv.URL+"/api/v1/status", "", nil, nil)

	var short server.ErrorBody
	if got := call(t, "POST", st.srv.URL+"/api/v1/setup", "", server.SetupRequest{Account: "admin", Name: "管理员", Password: "short"}, &short); got != http.StatusBadRequest || short.Error.Field != "password" {
		t.Fatalf("setup with a short password: %d %+v, want 400 on password", got, short)
	}
	id, tok := st.setupAdmin(t, "admin")
	if id != "zs-chengguan.admin" {
		t.Errorf("the station's admin is %q, want it named after the station", id)
	}
	var me server.AccountView
	must(t, http.StatusOK, "GET", st.srv.URL+"/api/v1/me", tok, nil, &me)
	if !slices.Equal(me.Roles, []cases.Role{cases.RoleStationAdmin}) || me.Region != townA {
		t.Errorf("the admin is %+v, want a station admin of the station's region", me)
	}
	if got := call(t, "POST", st.srv.URL+"/api/v1/setup", "", server.SetupRequest{Account: "again", Name: "x", Password: testPass}, nil); got != http.StatusConflict {
		t.Errorf("a second setup: %d, want 409", got)
	}
	// From now on the console is nobody in particular: it signs in like everyone.
	if got := call(t, "GET", st.srv.URL+"/api/v1/cases", "", nil, nil); got != http.StatusUnauthorized {
		t.Errorf("cases without a session after setup: %d, want 401", got)
	}
	// The station admin makes local workers in its region with roles it may grant, named
	// after the station; not a county admin, not outside its region.
	wg := st.createAccount(t, tok, "wang", villageA, cases.RoleGridWorker)
	if wg != "zs-chengguan.wang" {
		t.Errorf("local worker named %q", wg)
	}
	if got := st.signIn(t, "wang", testPass); got == "" { // the short name signs in at its station
		t.Error("no session")
	}
	name, region := "x", county
	for _, bad := range []server.AccountRequest{
		{Account: "boss", Name: &name, Region: &region, Roles: []cases.Role{cases.RoleGridWorker}, Password: testPass},
		{Account: "boss", Name: &name, Region: &[]string{villageA}[0], Roles: []cases.Role{cases.RoleCountyAdmin}, Password: testPass},
	} {
		var body server.ErrorBody
		if got := call(t, "POST", st.srv.URL+"/api/v1/accounts", tok, bad, &body); got != http.StatusForbidden {
			t.Errorf("station admin creates %+v: %d %+v, want 403", bad, got, body)
		}
	}
}

// Wrong passwords are counted per account: after the free attempts the account is locked,
// even for the right password, until the lock runs out; then the right one works again.
func TestSignIn_WrongPasswordsAreRateLimited(t *testing.T) {
	h := startNode(t, "zs-hub", county, nil)
	_, admin := h.setupAdmin(t, "admin")
	id := h.createAccount(t, admin, "wg.a", villageA, cases.RoleGridWorker)
	url := h.srv.URL + "/api/v1/signin"
	for i := range cases.DefaultSignInPolicy.FreeAttempts {
		if got := call(t, "POST", url, "", server.SignInRequest{Account: id, Password: "wrong password"}, nil); got != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, got)
		}
	}
	var body server.ErrorBody
	if got := call(t, "POST", url, "", server.SignInRequest{Account: id, Password: testPass}, &body); got != http.StatusTooManyRequests || body.Error.Code != "locked" {
		t.Fatalf("right password while locked: %d %+v, want 429 locked", got, body)
	}
	h.clock.advance(time.Duration(cases.DefaultSignInPolicy.BaseLockMs+1) * time.Millisecond)
	h.signIn(t, id, testPass)
	// The count was cleared: one more wrong password does not lock.
	call(t, "POST", url, "", server.SignInRequest{Account: id, Password: "wrong password"}, nil)
	h.signIn(t, id, testPass)
	// An account that does not exist is told the same as a wrong password.
	if got := call(t, "POST", url, "", server.SignInRequest{Account: "nobody", Password: testPass}, &body); got != http.StatusUnauthorized || body.Error.Code != "wrong_password" {
		t.Errorf("unknown account: %d %+v", got, body)
	}
}

// Sessions expire; a password reset by an admin ends the sessions signed in with the old
// password; API tokens act as their account until revoked.
func TestSessions_ExpireEndAtResetAndTokens(t *testing.T) {
	h := startNode(t, "zs-hub", county, nil)
	_, admin := h.setupAdmin(t, "admin")
	id := h.createAccount(t, admin, "wg.a", villageA, cases.RoleGridWorker)
	tok := h.signIn(t, id, testPass)
	must(t, http.StatusOK, "GET", h.srv.URL+"/api/v1/me", tok, nil, nil)

	must(t, http.StatusOK, "POST", h.srv.URL+"/api/v1/accounts/"+id+"/password", admin, server.PasswordRequest{Password: "a new password"}, nil)
	var body server.ErrorBody
	if got := call(t, "GET", h.srv.URL+"/api/v1/me", tok, nil, &body); got != http.StatusUnauthorized || body.Error.Code != "session_expired" {
		t.Fatalf("session after a password reset: %d %+v, want 401 session_expired", got, body)
	}
	if got := call(t, "POST", h.srv.URL+"/api/v1/signin", "", server.SignInRequest{Account: id, Password: testPass}, nil); got != http.StatusUnauthorized {
		t.Fatalf("old password after reset: %d", got)
	}
	tok = h.signIn(t, id, "a new password")
	// One's own password, with the current one.
	must(t, http.StatusOK, "POST", h.srv.URL+"/api/v1/accounts/"+id+"/password", tok, server.PasswordRequest{Password: testPass, Current: "a new password"}, nil)
	tok = h.signIn(t, id, testPass)
	if got := call(t, "POST", h.srv.URL+"/api/v1/accounts/"+id+"/password", tok, server.PasswordRequest{Password: "x new password"}, nil); got != http.StatusForbidden {
		t.Errorf("a grid worker resets a password without the current one: %d, want 403", got)
	}

	var made server.TokenView
	must(t, http.StatusCreated, "POST", h.srv.URL+"/api/v1/tokens", tok, server.TokenRequest{Label: "夜间导出脚本"}, &made)
	must(t, http.StatusOK, "GET", h.srv.URL+"/api/v1/me", made.Token, nil, nil)
	h.clock.advance(13 * time.Hour) // past the session, not the token
	if got := call(t, "GET", h.srv.URL+"/api/v1/me", tok, nil, &body); got != http.StatusUnauthorized {
		t.Errorf("a 13-hour-old session: %d, want 401", got)
	}
	must(t, http.StatusOK, "GET", h.srv.URL+"/api/v1/me", made.Token, nil, nil)
	must(t, http.StatusOK, "DELETE", h.srv.URL+"/api/v1/tokens/"+made.ID, made.Token, nil, nil)
	if got := call(t, "GET", h.srv.URL+"/api/v1/me", made.Token, nil, nil); got != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", got)
	}
}

// Expired sessions do not pile up: a sign-in deletes them.
func TestSessions_ExpiredArePruned(t *testing.T) {
	h := startNode(t, "zs-hub", county, nil)
	id, _ := h.setupAdmin(t, "admin")
	h.signIn(t, id, testPass)
	count := func() int {
		n := 0
		_ = h.r.Docs("session", func(string, []byte) error { n++; return nil })
		return n
	}
	if got := count(); got != 2 {
		t.Fatalf("%d sessions, want 2", got)
	}
	h.clock.advance(13 * time.Hour)
	h.signIn(t, id, testPass)
	if got := count(); got != 1 {
		t.Errorf("%d sessions after the others expired and a new sign-in, want 1", got)
	}
}

// Nothing of a credential reaches the log: not a password (right, wrong, or typed into the
// account field), not a session or API token, not a hash or salt.
func TestNothingOfACredentialIsLogged(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClock()
	r, err := node.Open(filepath.Join(t.TempDir(), "hub"), node.Options{NodeID: "zs-hub", Region: county, Logger: log, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	h := serveNode(t, r, c, func(cfg *server.StationConfig) { cfg.Logger = log })
	id, admin := h.setupAdmin(t, "admin")
	wg := h.createAccount(t, admin, "wg.a", villageA, cases.RoleGridWorker)
	call(t, "POST", h.srv.URL+"/api/v1/signin", "", server.SignInRequest{Account: wg, Password: "the wrong one!"}, nil)
	call(t, "POST", h.srv.URL+"/api/v1/signin", "", server.SignInRequest{Account: "my secret pw 9", Password: "x"}, nil)
	must(t, http.StatusOK, "POST", h.srv.URL+"/api/v1/accounts/"+wg+"/password", admin, server.PasswordRequest{Password: "reset password 7"}, nil)
	var tok server.TokenView
	must(t, http.StatusCreated, "POST", h.srv.URL+"/api/v1/tokens", admin, server.TokenRequest{Label: "x"}, &tok)
	must(t, http.StatusOK, "GET", h.srv.URL+"/api/v1/me", tok.Token, nil, nil)
	call(t, "GET", h.srv.URL+"/api/v1/me", "fqs_"+strings.Repeat("B", 43), nil, nil)
	a, err := r.Account(id)
	if err != nil {
		t.Fatal(err)
	}
	logged := buf.String()
	if !strings.Contains(logged, "signed in") {
		t.Fatalf("the test logged nothing to check:\n%s", logged)
	}
	for _, secret := range []string{testPass, "the wrong one!", "my secret pw 9", "reset password 7", admin, tok.Token,
		tok.Token[len(tok.Token)-43:], base64.StdEncoding.EncodeToString(a.Credential.Hash), base64.StdEncoding.EncodeToString(a.Credential.Salt),
		fmt.Sprintf("%x", a.Credential.Hash[:8])} {
		if strings.Contains(logged, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logged)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
