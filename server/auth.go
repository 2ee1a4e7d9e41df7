package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// People is what the API needs of a node's directory: the accounts its replica holds (the
// fold of the replicated account documents), its local documents (sessions, API tokens and
// sign-in counters live there: a station's own, a hub's written through its Raft log so
// every member honours them) and its audit index. *node.Replica and *hub.Member implement it.
type People interface {
	Account(id string) (*cases.Account, error)
	Accounts(fn func(*cases.Account) error) error
	HasAccounts() (bool, error)
	Doc(kind, id string) ([]byte, error)
	Docs(kind string, fn func(id string, value []byte) error) error
	PutDoc(ctx context.Context, kind, id string, value []byte) error
	Audit(q node.AuditQuery) ([]node.AuditEntry, uint64, error)
}

var _ People = (*node.Replica)(nil)

// AuthConfig tunes sign-in. Zero values mean the defaults.
type AuthConfig struct {
	// Argon2 is the cost of hashing new passwords (cases.DefaultArgon2). Existing
	// credentials keep the parameters they were made with.
	Argon2 cases.Argon2Params
	// SessionTTL is how long a session lasts from sign-in. Default 12 hours.
	SessionTTL time.Duration
	// Policy limits wrong passwords per account (cases.DefaultSignInPolicy).
	Policy cases.SignInPolicy
	// ConcurrentHashes bounds the argon2 computations running at once, so that sign-in
	// attempts cannot take every core. Default 2.
	ConcurrentHashes int
	// Rand is the source of salts and tokens. Default crypto/rand.
	Rand io.Reader
}

func (c AuthConfig) withDefaults() AuthConfig {
	if c.Argon2 == (cases.Argon2Params{}) {
		c.Argon2 = cases.DefaultArgon2
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.Policy == (cases.SignInPolicy{}) {
		c.Policy = cases.DefaultSignInPolicy
	}
	if c.ConcurrentHashes <= 0 {
		c.ConcurrentHashes = 2
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	return c
}

// Local document kinds.
const (
	docSession = "session"  // id: hex SHA-256 of the session token
	docToken   = "apitoken" // id: the token's id
	docSignIn  = "signin"   // id: the account; failed attempts in a row
)

// operatorAuthor is the author of what a node without accounts does for a person at its
// own console (loopback), before its first run created an administrator.
const operatorAuthor = "operator"

// Cookie and token shapes.
const (
	sessionCookie = "fq_session"
	sessionPrefix = "fqs_"
	tokenPrefix   = "fqt_"
	tokenIDLen    = 16 // hex characters
	secretBytes   = 32
)

type auth struct {
	people People // nil: the node keeps no directory; every request is the operator
	cfg    AuthConfig
	hashes chan struct{}
	// dummy is checked instead when an account does not exist, so that a sign-in takes the
	// same time whether or not it does.
	dummy func() cases.Credential
}

func newAuth(cfg StationConfig) *auth {
	a := &auth{cfg: cfg.Auth.withDefaults()}
	a.people, _ = cfg.Replica.(People)
	a.hashes = make(chan struct{}, a.cfg.ConcurrentHashes)
	a.dummy = sync.OnceValue(func() cases.Credential {
		c, _ := cases.NewCredential("not anyone's password", make([]byte, 16), a.cfg.Argon2)
		return c
	})
	return a
}

// caller is who made a request.
type caller struct {
	acct    *cases.Account // nil: the operator of a node without accounts
	session string         // the session document's id when signed in by cookie or session token
	token   string         // the API token's id when by API token
}

func (c *caller) id() string {
	if c.acct == nil {
		return operatorAuthor
	}
	return c.acct.ID
}

// apiError is an error response to write.
type apiError struct {
	status            int
	code, zh, en, fld string
}

func (e *apiError) write(w http.ResponseWriter) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fengqiao"`)
	}
	writeError(w, e.status, e.code, e.zh+" / "+e.en, e.fld)
}

func unauthorized(code, zh, en string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: code, zh: zh, en: en}
}

// here names this node for the table's ScopeNode checks.
func (s *station) here() cases.Node {
	st := s.cfg.Replica.Status()
	return cases.Node{ID: st.Node, Region: st.Region}
}

// identify finds who made r: a session (cookie or bearer session token), an API token, or
// at a node without accounts the operator at its console.
func (s *station) identify(r *http.Request) (*caller, *apiError) {
	a := s.auth
	if a.people == nil {
		return &caller{}, nil
	}
	tok := bearer(r)
	if tok == "" {
		has, err := a.people.HasAccounts()
		if err != nil {
			s.cfg.Logger.Error("read accounts", "err", err)
			return nil, &apiError{status: http.StatusServiceUnavailable, code: "internal", zh: "无法读取账号", en: "could not read the accounts"}
		}
		if !has {
			if isLoopback(r) {
				return &caller{}, nil
			}
			return nil, unauthorized("setup_required", "本节点尚未初始化：请在本机完成首次设置",
				"this node has no accounts yet: run the first-run setup on its own machine")
		}
		return nil, unauthorized("unauthenticated", "请先登录", "sign in first")
	}
	kind, id, ok := ParseToken(tok)
	if !ok {
		return nil, unauthorized("bad_token", "登录凭证无效", "the session or token is not valid")
	}
	now := s.cfg.Now().UnixMilli()
	var acctID, credDot string
	cl := &caller{}
	switch kind {
	case sessionPrefix:
		v, err := a.people.Doc(docSession, id)
		if err != nil {
			return nil, unauthorized("session_expired", "登录已失效，请重新登录", "the session has ended: sign in again")
		}
		sess, err := decodeSession(v)
		if err != nil || sess.expires <= now {
			return nil, unauthorized("session_expired", "登录已失效，请重新登录", "the session has ended: sign in again")
		}
		acctID, credDot, cl.session = sess.account, sess.credDot, id
	default:
		v, err := a.people.Doc(docToken, id)
		if err != nil {
			return nil, unauthorized("bad_token", "登录凭证无效", "the session or token is not valid")
		}
		t, err := decodeToken(v)
		sum := sha256.Sum256([]byte(tok))
		if err != nil || subtle.ConstantTimeCompare(sum[:], t.hash) != 1 || t.expires != 0 && t.expires <= now {
			return nil, unauthorized("bad_token", "登录凭证无效", "the session or token is not valid")
		}
		acctID, cl.token = t.account, id
	}
	acct, err := a.people.Account(acctID)
	here := s.here()
	switch {
	case err != nil || !acct.MaySignInAt(here.ID, here.Region):
		return nil, unauthorized("account_revoked", "该账号已停用或不能在本节点使用", "the account is revoked or may not be used at this node")
	case credDot != "" && acct.CredentialDot.String() != credDot:
		return nil, unauthorized("session_expired", "密码已更改，请重新登录", "the password changed: sign in again")
	}
	cl.acct = acct
	return cl, nil
}

// bearer returns the session or token a request presents: an Authorization bearer, else
// the session cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return h // malformed: refused by ParseToken
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// ParseToken parses a session token (fqs_<secret>) or an API token (fqt_<id>_<secret>),
// each secret 32 bytes in unpadded base64url, from outside input. It returns the token's
// kind (its prefix) and the id of the document that holds it: the hex SHA-256 of a session
// token, an API token's own id.
func ParseToken(tok string) (kind, id string, ok bool) {
	secretLen := base64.RawURLEncoding.EncodedLen(secretBytes)
	switch {
	case strings.HasPrefix(tok, sessionPrefix) && len(tok) == len(sessionPrefix)+secretLen:
		if !validSecret(tok[len(sessionPrefix):]) {
			return "", "", false
		}
		sum := sha256.Sum256([]byte(tok))
		return sessionPrefix, hex.EncodeToString(sum[:]), true
	case strings.HasPrefix(tok, tokenPrefix) && len(tok) == len(tokenPrefix)+tokenIDLen+1+secretLen:
		rest := tok[len(tokenPrefix):]
		id := rest[:tokenIDLen]
		if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id || rest[tokenIDLen] != '_' ||
			!validSecret(rest[tokenIDLen+1:]) {
			return "", "", false
		}
		return tokenPrefix, id, true
	}
	return "", "", false
}

func validSecret(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == secretBytes
}

func (a *auth) secret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(a.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newCredential hashes a new password under a fresh salt.
func (a *auth) newCredential(ctx context.Context, password string) (cases.Credential, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(a.cfg.Rand, salt); err != nil {
		return cases.Credential{}, fmt.Errorf("salt: %w", err)
	}
	if err := a.acquire(ctx); err != nil {
		return cases.Credential{}, err
	}
	defer a.release()
	return cases.NewCredential(password, salt, a.cfg.Argon2)
}

func (a *auth) acquire(ctx context.Context) error {
	select {
	case a.hashes <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *auth) release() { <-a.hashes }

func isLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// session is a session document: who, bound to which credential, until when.
type session struct {
	account string
	credDot string
	created int64
	expires int64
}

func (s session) encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(4)
		w.String(s.account)
		w.String(s.credDot)
		w.Int(s.created)
		w.Int(s.expires)
	})
}

func decodeSession(b []byte) (session, error) {
	r := mp.NewReader(b)
	r.ExpectArray(4, 8)
	s := session{account: r.String(cases.MaxIDLen), credDot: r.String(2 * cases.MaxIDLen), created: r.Int(), expires: r.Int()}
	if err := r.Err(); err != nil {
		return session{}, fmt.Errorf("session record: %w", err)
	}
	return s, nil
}

// apiToken is an API token's document: whose, its hash, when made, until when, its label.
type apiToken struct {
	account string
	hash    []byte
	created int64
	expires int64 // 0: until revoked
	label   string
}

func (t apiToken) encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(5)
		w.String(t.account)
		w.Bin(t.hash)
		w.Int(t.created)
		w.Int(t.expires)
		w.String(t.label)
	})
}

func decodeToken(b []byte) (apiToken, error) {
	r := mp.NewReader(b)
	r.ExpectArray(5, 8)
	t := apiToken{account: r.String(cases.MaxIDLen), hash: append([]byte(nil), r.Bytes(32)...), created: r.Int(),
		expires: r.Int(), label: r.String(400)}
	if err := r.Err(); err != nil {
		return apiToken{}, fmt.Errorf("token record: %w", err)
	}
	return t, nil
}

// failures is an account's count of wrong passwords in a row.
type failures struct {
	n    int
	last int64
}

func (f failures) encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(2)
		w.Uint(uint64(f.n))
		w.Int(f.last)
	})
}

func decodeFailures(b []byte) failures {
	r := mp.NewReader(b)
	r.ExpectArray(2, 2)
	f := failures{n: int(min(r.Uint(), 1<<20)), last: r.Int()}
	if r.Err() != nil {
		return failures{}
	}
	return f
}
