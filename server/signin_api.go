package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// First run, sign-in and sign-out. Sign-in checks a password against the credential the
// node holds, with no network; nothing of a password is logged.

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
	// Max-Age, not Expires: the cookie lasts the session's time whatever the browser's clock
	// says of the node's (a station whose clock is off would otherwise set a cookie that
	// expired before it was sent, or one that outlives the session).
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.cfg.SessionTTL.Seconds())})
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
