package server

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"
	"unicode/utf8"
)

// API tokens let scripts act as an account: the bearer of "fqt_<id>_<secret>" is that
// account, with its roles as they are at each request (a revoked account's tokens stop with
// it). The node keeps only the token's SHA-256; the token is shown once, when made.

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Label string `json:"label"`
	Days  int    `json:"days,omitempty"` // 0: until revoked
}

// TokenView is an API token as listed (never its secret).
type TokenView struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Label   string `json:"label"`
	Created string `json:"created_at"`
	Expires string `json:"expires_at,omitempty"`
	Token   string `json:"token,omitempty"` // only in the answer that made it
}

func tokenView(id string, t apiToken) TokenView {
	v := TokenView{ID: id, Account: t.account, Label: t.label, Created: time.UnixMilli(t.created).In(Shanghai).Format(time.RFC3339)}
	if t.expires != 0 {
		v.Expires = time.UnixMilli(t.expires).In(Shanghai).Format(time.RFC3339)
	}
	return v
}

// signedIn identifies a caller that must be an account (not the operator).
func (s *station) signedIn(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	if !s.needPeople(w, false) {
		return nil, false
	}
	cl, aerr := s.identify(r)
	if aerr != nil {
		aerr.write(w)
		return nil, false
	}
	if cl.acct == nil {
		writeError(w, http.StatusForbidden, "sign_in_required", "请先初始化并登录账号 / set up and sign in to an account first", "")
		return nil, false
	}
	return cl, true
}

// createToken serves POST /api/v1/tokens.
func (s *station) createToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if !readBody(w, r, &req) {
		return
	}
	cl, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	if n := utf8.RuneCountInString(req.Label); n == 0 || n > 100 || req.Days < 0 || req.Days > 3650 {
		writeError(w, http.StatusBadRequest, "bad_token_request", "请填写用途说明（1–100 字），有效期 0–3650 天 / give a label of 1–100 characters and 0–3650 days", "label")
		return
	}
	idb := make([]byte, tokenIDLen/2)
	if _, err := io.ReadFull(s.auth.cfg.Rand, idb); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "无法生成令牌 / could not make a token", "")
		return
	}
	secret, err := s.auth.secret()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "无法生成令牌 / could not make a token", "")
		return
	}
	id := hex.EncodeToString(idb)
	tok := tokenPrefix + id + "_" + secret
	sum := sha256.Sum256([]byte(tok))
	now := s.cfg.Now().UnixMilli()
	t := apiToken{account: cl.acct.ID, hash: sum[:], created: now, label: req.Label}
	if req.Days > 0 {
		t.expires = now + int64(req.Days)*24*3600*1000
	}
	if err := s.auth.people.PutDoc(r.Context(), docToken, id, t.encode()); err != nil {
		s.cfg.Logger.Error("store token", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "无法保存令牌 / could not store the token", "")
		return
	}
	s.cfg.Logger.Info("api token made", "account", cl.acct.ID, "token_id", id)
	v := tokenView(id, t)
	v.Token = tok
	writeJSON(w, http.StatusCreated, v)
}

// listTokens serves GET /api/v1/tokens: the caller's tokens.
func (s *station) listTokens(w http.ResponseWriter, r *http.Request) {
	cl, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	out := []TokenView{}
	err := s.auth.people.Docs(docToken, func(id string, v []byte) error {
		if t, err := decodeToken(v); err == nil && t.account == cl.acct.ID {
			out = append(out, tokenView(id, t))
		}
		return nil
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "读取令牌失败 / could not read the tokens", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

// deleteToken serves DELETE /api/v1/tokens/{id}: its owner, or an administrator who
// manages the owner, revokes it.
func (s *station) deleteToken(w http.ResponseWriter, r *http.Request) {
	cl, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	v, err := s.auth.people.Doc(docToken, id)
	if err != nil {
		writeError(w, http.StatusNotFound, "no_token", "令牌不存在 / no such token", "id")
		return
	}
	t, err := decodeToken(v)
	if err == nil && t.account != cl.acct.ID {
		if _, ok := s.authorize(w, r, "manage_accounts", nil); !ok {
			return
		}
	}
	if err := s.auth.people.PutDoc(r.Context(), docToken, id, nil); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "删除令牌失败 / could not revoke the token", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
}
