package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

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

// authorizeProbe serves GET /api/v1/authorize?permission=P&case=ID: whether the caller may
// use P (on case ID), by the same code path as every handler — a UI asks it which actions
// to offer. 200 when allowed; the refusal otherwise.
func (s *station) authorizeProbe(w http.ResponseWriter, r *http.Request) {
	perm := cases.Permission(r.URL.Query().Get("permission"))
	if _, ok := cases.PermissionScope[perm]; !ok {
		writeError(w, http.StatusBadRequest, "unknown_permission", "未知权限 / unknown permission", "permission")
		return
	}
	if _, ok := s.authorize(w, r, perm, nil); !ok {
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
