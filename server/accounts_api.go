package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// The people endpoints: first-run setup, sign-in and sign-out, accounts, password resets,
// API tokens, and a probe of the authorization table. Nothing of a password, a credential
// or a token is ever logged.

func (s *station) registerPeople(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/setup", s.setup)
	mux.HandleFunc("POST /api/v1/signin", s.signIn)
	mux.HandleFunc("POST /api/v1/signout", s.signOut)
	mux.HandleFunc("GET /api/v1/me", s.me)
	mux.HandleFunc("GET /api/v1/authorize", s.authorizeProbe)
	mux.HandleFunc("GET /api/v1/accounts", s.listAccounts)
	mux.HandleFunc("POST /api/v1/accounts", s.createAccount)
	mux.HandleFunc("GET /api/v1/accounts/{id}", s.getAccount)
	mux.HandleFunc("PATCH /api/v1/accounts/{id}", s.patchAccount)
	mux.HandleFunc("POST /api/v1/accounts/{id}/password", s.setPassword)
	mux.HandleFunc("POST /api/v1/tokens", s.createToken)
	mux.HandleFunc("GET /api/v1/tokens", s.listTokens)
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", s.deleteToken)
	mux.HandleFunc("GET /api/v1/audit", s.listAudit)
	mux.HandleFunc("GET /api/v1/export", s.export)
}

// readBody decodes a JSON request body into v, writing a 400 when it cannot.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", "请求内容不是有效的 JSON / the request body is not valid JSON: "+jsonProblem(err), "")
		return false
	}
	return true
}

// jsonProblem describes a JSON decoding error without echoing the input (it may hold a
// password).
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return err.Error()
	}
	return "malformed"
}

// needPeople writes a 501 when the node keeps no directory, and 503 when it cannot write.
func (s *station) needPeople(w http.ResponseWriter, write bool) bool {
	switch {
	case s.auth.people == nil:
		writeError(w, http.StatusNotImplemented, "no_accounts", "本节点不支持账号 / this node keeps no accounts", "")
		return false
	case write && s.cfg.Writer == nil:
		writeError(w, http.StatusServiceUnavailable, "read_only", "本节点只读 / this node is read-only", "")
		return false
	}
	return true
}

// writeChange writes a people change, answering its refusal when there is one.
func (s *station) writeChange(w http.ResponseWriter, r *http.Request, ch node.Change) bool {
	_, err := s.cfg.Writer.Write(r.Context(), ch)
	if err == nil {
		return true
	}
	if errors.Is(err, cases.ErrInvalid) {
		writeRefusal(w, err)
		return false
	}
	s.cfg.Logger.Error("write people document", "doc", ch.Case, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "保存失败 / could not save", "")
	return false
}

// SetupRequest is the body of POST /api/v1/setup and part of POST /api/v1/accounts.
type SetupRequest struct {
	Account  string `json:"account"`
	Name     string `json:"name"`
	Unit     string `json:"unit,omitempty"`
	Password string `json:"password"`
}

// setup serves POST /api/v1/setup, the first-run flow: on a node with no account, from its
// own machine, it creates the node's administrator (a station's station admin, a hub's
// county admin), named <station>.<account> at a station.
func (s *station) setup(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, true) {
		return
	}
	var req SetupRequest
	if !readBody(w, r, &req) {
		return
	}
	if !isLoopback(r) {
		writeError(w, http.StatusForbidden, "setup_loopback_only", "首次设置只能在本机进行 / the first-run setup is done on the node's own machine", "")
		return
	}
	if has, err := s.auth.people.HasAccounts(); err != nil || has {
		writeError(w, http.StatusConflict, "setup_done", "本节点已有账号 / this node has accounts already", "")
		return
	}
	here := s.here()
	id := s.localAccountID(req.Account)
	cred, err := s.auth.newCredential(r.Context(), req.Password)
	if err != nil {
		writeRefusal(w, withField(err, "password"))
		return
	}
	region := here.Region
	ch := cases.AccountChange{Name: &req.Name, Region: &region, Roles: []cases.Role{cases.SetupRole(region)}, Credential: &cred}
	if req.Unit != "" {
		ch.Unit = &req.Unit
	}
	if !s.writeChange(w, r, node.Change{Case: cases.AccountDocID(id), Kind: cases.KindAccount, Author: cases.SetupAuthor, Writes: ch.Writes()}) {
		return
	}
	s.cfg.Logger.Info("first-run setup: administrator created", "account", id)
	s.writeAccount(w, http.StatusCreated, id)
}

// localAccountID names an account this node creates: a station's are <station>.<name>.
func (s *station) localAccountID(name string) string {
	here := s.here()
	if len(here.Region) > 6 && !strings.HasPrefix(name, here.ID+".") {
		return here.ID + "." + name
	}
	return name
}

func withField(err error, field string) error {
	var fe *cases.FieldError
	if errors.As(err, &fe) && fe.Field == "" {
		return fe.WithField(field)
	}
	if !errors.Is(err, cases.ErrInvalid) {
		return &cases.FieldError{Field: field, Code: "invalid", Zh: "无效", En: err.Error()}
	}
	return err
}

func (s *station) writeAccount(w http.ResponseWriter, status int, id string) {
	a, err := s.auth.people.Account(id)
	if err != nil {
		writeError(w, http.StatusNotFound, "no_account", "账号不存在 / no such account", "id")
		return
	}
	writeJSON(w, status, a.View())
}

// SignInRequest is the body of POST /api/v1/signin.
type SignInRequest struct {
	Account  string `json:"account"`
	Password string `json:"password"`
}

// SignInResponse answers a sign-in: the session (also set as an HttpOnly cookie).
type SignInResponse struct {
	Account AccountView `json:"account"`
	Token   string      `json:"token"`
	Expires string      `json:"expires_at"`
}

// AccountView is an account with the permissions it holds.
type AccountView struct {
	cases.AccountJSON
	Permissions []cases.Permission `json:"permissions"`
}

func accountView(a *cases.Account) AccountView {
	v := AccountView{AccountJSON: a.View(), Permissions: []cases.Permission{}}
	for _, p := range cases.Permissions {
		if a.Holds(p) {
			v.Permissions = append(v.Permissions, p)
		}
	}
	return v
}

// signIn serves POST /api/v1/signin against the credentials this node holds: it works with
// no network. Wrong passwords are counted per account (cases.SignInPolicy); a locked account
// is refused (429) without its password being checked.
func (s *station) signIn(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, false) {
		return
	}
	var req SignInRequest
	if !readBody(w, r, &req) {
		return
	}
	a := s.auth
	here := s.here()
	acct, err := a.people.Account(req.Account)
	if errors.Is(err, node.ErrNotFound) && len(here.Region) > 6 && cases.ValidAccountID(here.ID+"."+req.Account) {
		acct, err = a.people.Account(here.ID + "." + req.Account)
	}
	if err != nil && !errors.Is(err, node.ErrNotFound) {
		s.cfg.Logger.Error("sign-in: read account", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "读取账号失败 / could not read the account", "")
		return
	}
	now := s.cfg.Now().UnixMilli()
	var fails failures
	if acct != nil {
		if v, err := a.people.Doc(docSignIn, acct.ID); err == nil {
			fails = decodeFailures(v)
		}
		if until := a.cfg.Policy.LockedUntil(fails.n, fails.last); until > now {
			secs := (until - now + 999) / 1000
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			writeError(w, http.StatusTooManyRequests, "locked", "密码错误次数过多，请 "+strconv.FormatInt(secs, 10)+
				" 秒后再试 / too many wrong passwords: try again in "+strconv.FormatInt(secs, 10)+" s", "password")
			return
		}
	}
	if err := a.acquire(r.Context()); err != nil {
		return
	}
	usable := acct != nil && !acct.Credential.IsZero() && acct.MaySignInAt(here.ID, here.Region)
	cred := a.dummy()
	if usable {
		cred = acct.Credential
	}
	ok := cred.Verify(req.Password) && usable // the same work whether or not the account exists
	a.release()
	if !ok {
		if acct != nil && !acct.Credential.IsZero() {
			fails = failures{n: fails.n + 1, last: now}
			if err := a.people.PutDoc(r.Context(), docSignIn, acct.ID, fails.encode()); err != nil {
				s.cfg.Logger.Error("sign-in: count failure", "err", err)
			}
		}
		if acct != nil { // an unknown name is not logged: people type their password there too
			s.cfg.Logger.Info("sign-in refused", "account", acct.ID, "remote", r.RemoteAddr)
		} else {
			s.cfg.Logger.Info("sign-in refused: no such account", "remote", r.RemoteAddr)
		}
		writeError(w, http.StatusUnauthorized, "wrong_password", "账号或密码错误 / wrong account or password", "password")
		return
	}
	if fails.n > 0 {
		_ = a.people.PutDoc(r.Context(), docSignIn, acct.ID, nil)
	}
	secret, err := a.secret()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "无法建立会话 / could not start a session", "")
		return
	}
	tok := sessionPrefix + secret
	_, id, _ := ParseToken(tok)
	expires := now + a.cfg.SessionTTL.Milliseconds()
	sess := session{account: acct.ID, credDot: acct.CredentialDot.String(), created: now, expires: expires}
	if err := a.people.PutDoc(r.Context(), docSession, id, sess.encode()); err != nil {
		s.cfg.Logger.Error("sign-in: store session", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "无法建立会话 / could not start a session", "")
		return
	}
	s.pruneSessions(r, now)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: time.UnixMilli(expires)})
	s.cfg.Logger.Info("signed in", "account", acct.ID)
	writeJSON(w, http.StatusOK, SignInResponse{Account: accountView(acct), Token: tok,
		Expires: time.UnixMilli(expires).In(Shanghai).Format(time.RFC3339)})
}

// pruneSessions deletes up to 100 expired sessions, so that the store does not keep every
// sign-in for good.
func (s *station) pruneSessions(r *http.Request, now int64) {
	var expired []string
	_ = s.auth.people.Docs(docSession, func(id string, v []byte) error {
		if sess, err := decodeSession(v); (err != nil || sess.expires <= now) && len(expired) < 100 {
			expired = append(expired, id)
		}
		return nil
	})
	for _, id := range expired {
		if err := s.auth.people.PutDoc(r.Context(), docSession, id, nil); err != nil {
			s.cfg.Logger.Warn("prune expired sessions", "err", err)
			return
		}
	}
}

// signOut serves POST /api/v1/signout: the session ends here and now.
func (s *station) signOut(w http.ResponseWriter, r *http.Request) {
	cl, aerr := s.identify(r)
	if aerr != nil {
		aerr.write(w)
		return
	}
	if cl.session != "" {
		if err := s.auth.people.PutDoc(r.Context(), docSession, cl.session, nil); err != nil {
			s.cfg.Logger.Error("sign-out", "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "退出失败 / could not sign out", "")
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	writeJSON(w, http.StatusOK, map[string]bool{"signed_out": true})
}

// me serves GET /api/v1/me: who is signed in, with what permissions.
func (s *station) me(w http.ResponseWriter, r *http.Request) {
	cl, aerr := s.identify(r)
	if aerr != nil {
		aerr.write(w)
		return
	}
	if cl.acct == nil {
		writeJSON(w, http.StatusOK, map[string]any{"id": operatorAuthor, "operator": true, "permissions": cases.Permissions})
		return
	}
	writeJSON(w, http.StatusOK, accountView(cl.acct))
}

// authorizeProbe serves GET /api/v1/authorize?permission=P&case=ID: whether the caller may
// use P (on case ID), by the same code path as every handler — a UI asks it which actions
// to offer. 200 when allowed; the refusal otherwise.
func (s *station) authorizeProbe(w http.ResponseWriter, r *http.Request) {
	perm := cases.Permission(r.URL.Query().Get("permission"))
	if _, ok := cases.PermissionScope[perm]; !ok {
		writeError(w, http.StatusBadRequest, "unknown_permission", "未知权限 / unknown permission", "permission")
		return
	}
	var c *cases.Case
	if id := r.URL.Query().Get("case"); id != "" {
		var ok bool
		if c, ok = s.readCase(w, id); !ok {
			return
		}
	}
	author, ok := s.authorize(w, r, perm, c)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"allowed": true, "account": author, "permission": perm})
}

// readCase reads case id for a handler, writing 404/500 itself.
func (s *station) readCase(w http.ResponseWriter, id string) (*cases.Case, bool) {
	c, _, err := s.cfg.Replica.Case(id)
	switch {
	case errors.Is(err, node.ErrNotFound):
		writeError(w, http.StatusNotFound, "no_case", "案件不存在 / no such case", "id")
		return nil, false
	case err != nil:
		s.cfg.Logger.Error("read case", "case", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "读取案件失败 / could not read the case", "")
		return nil, false
	}
	return c, true
}

// AccountRequest is the body of POST /api/v1/accounts and PATCH /api/v1/accounts/{id}
// (where every field is optional and Password is refused: see .../password).
type AccountRequest struct {
	Account  string       `json:"account,omitempty"`
	Name     *string      `json:"name,omitempty"`
	Unit     *string      `json:"unit,omitempty"`
	Region   *string      `json:"region,omitempty"`
	Roles    []cases.Role `json:"roles,omitempty"`
	Stations []string     `json:"stations,omitempty"`
	Revoked  *bool        `json:"revoked,omitempty"`
	Password string       `json:"password,omitempty"`
}

func (req AccountRequest) change() cases.AccountChange {
	return cases.AccountChange{Name: req.Name, Unit: req.Unit, Region: req.Region, Roles: req.Roles, Stations: req.Stations, Revoked: req.Revoked}
}

// listAccounts serves GET /api/v1/accounts: the accounts the caller manages.
func (s *station) listAccounts(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, false) {
		return
	}
	cl, ok := s.authorizeCaller(w, r, cases.PermManageAccounts, nil)
	if !ok {
		return
	}
	out := []cases.AccountJSON{}
	err := s.auth.people.Accounts(func(a *cases.Account) error {
		if cl.acct == nil || !slices.ContainsFunc(a.Regions, func(reg string) bool { return !cl.acct.Covers(reg) }) {
			out = append(out, a.View())
		}
		return nil
	})
	if err != nil {
		s.cfg.Logger.Error("list accounts", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "读取账号失败 / could not read the accounts", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

// createAccount serves POST /api/v1/accounts: an administrator creates an account in their
// region with roles they may grant (at a station, named <station>.<account>).
func (s *station) createAccount(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, true) {
		return
	}
	var req AccountRequest
	if !readBody(w, r, &req) {
		return
	}
	author, ok := s.authorize(w, r, cases.PermManageAccounts, nil)
	if !ok {
		return
	}
	id := s.localAccountID(req.Account)
	if !cases.ValidAccountID(id) {
		writeError(w, http.StatusBadRequest, "account_id", "账号格式不正确（不能含空格、“/”，不能以“@”开头） / an account id has no spaces or '/' and does not start with '@'", "account")
		return
	}
	if _, err := s.auth.people.Account(id); err == nil {
		writeError(w, http.StatusConflict, "account_exists", "账号已存在 / the account exists already", "account")
		return
	}
	cred, err := s.auth.newCredential(r.Context(), req.Password)
	if err != nil {
		writeRefusal(w, withField(err, "password"))
		return
	}
	ch := req.change()
	ch.Credential = &cred
	if !s.writeChange(w, r, node.Change{Case: cases.AccountDocID(id), Kind: cases.KindAccount, Author: author, Writes: ch.Writes()}) {
		return
	}
	s.cfg.Logger.Info("account created", "account", id, "by", author)
	s.writeAccount(w, http.StatusCreated, id)
}

// getAccount serves GET /api/v1/accounts/{id}: one's own, or one the caller manages.
func (s *station) getAccount(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, false) {
		return
	}
	id := r.PathValue("id")
	cl, aerr := s.identify(r)
	if aerr != nil {
		aerr.write(w)
		return
	}
	a, err := s.auth.people.Account(id)
	if err != nil {
		writeError(w, http.StatusNotFound, "no_account", "账号不存在 / no such account", "id")
		return
	}
	if cl.acct != nil && cl.acct.ID != id {
		if err := cases.MayManage(cl.acct, a, nil); err != nil {
			writeRefusal(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, accountView(a))
}

// patchAccount serves PATCH /api/v1/accounts/{id}: change roles, region, stations, name or
// unit, or revoke ({"revoked": true}). A revocation reaches each station at its next sync
// and ends the account's sessions there.
func (s *station) patchAccount(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, true) {
		return
	}
	var req AccountRequest
	if !readBody(w, r, &req) {
		return
	}
	if req.Password != "" || req.Account != "" {
		writeError(w, http.StatusBadRequest, "not_patchable", "密码请用 /password 修改；账号名不能修改 / set passwords through .../password; ids do not change", "")
		return
	}
	author, ok := s.authorize(w, r, cases.PermManageAccounts, nil)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, err := s.auth.people.Account(id); err != nil {
		writeError(w, http.StatusNotFound, "no_account", "账号不存在 / no such account", "id")
		return
	}
	writes := req.change().Writes()
	if len(writes) == 0 {
		writeError(w, http.StatusBadRequest, "empty", "没有要修改的内容 / nothing to change", "")
		return
	}
	if !s.writeChange(w, r, node.Change{Case: cases.AccountDocID(id), Kind: cases.KindAccount, Author: author, Writes: writes}) {
		return
	}
	s.cfg.Logger.Info("account changed", "account", id, "by", author)
	s.writeAccount(w, http.StatusOK, id)
}

// PasswordRequest is the body of POST /api/v1/accounts/{id}/password: an administrator's
// reset (Password only), or one's own change (Current too).
type PasswordRequest struct {
	Password string `json:"password"`
	Current  string `json:"current,omitempty"`
}

// setPassword serves POST /api/v1/accounts/{id}/password. Every session signed in with the
// old password ends.
func (s *station) setPassword(w http.ResponseWriter, r *http.Request) {
	if !s.needPeople(w, true) {
		return
	}
	var req PasswordRequest
	if !readBody(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	cl, aerr := s.identify(r)
	if aerr != nil {
		aerr.write(w)
		return
	}
	target, err := s.auth.people.Account(id)
	if err != nil {
		writeError(w, http.StatusNotFound, "no_account", "账号不存在 / no such account", "id")
		return
	}
	author := cl.id()
	if cl.acct != nil && cl.acct.ID == id && req.Current != "" {
		if err := s.auth.acquire(r.Context()); err != nil {
			return
		}
		ok := target.Credential.Verify(req.Current)
		s.auth.release()
		if !ok {
			writeError(w, http.StatusForbidden, "wrong_password", "当前密码错误 / the current password is wrong", "current")
			return
		}
	} else if _, ok := s.authorize(w, r, cases.PermManageAccounts, nil); !ok {
		return
	}
	cred, err := s.auth.newCredential(r.Context(), req.Password)
	if err != nil {
		writeRefusal(w, withField(err, "password"))
		return
	}
	ch := cases.AccountChange{Credential: &cred}
	if !s.writeChange(w, r, node.Change{Case: cases.AccountDocID(id), Kind: cases.KindAccount, Author: author, Writes: ch.Writes()}) {
		return
	}
	_ = s.auth.people.PutDoc(r.Context(), docSignIn, id, nil)
	s.cfg.Logger.Info("password set", "account", id, "by", author)
	writeJSON(w, http.StatusOK, map[string]bool{"password_set": true})
}
