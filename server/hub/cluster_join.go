package hub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// The members' cluster endpoints. Every request and answer is authenticated with the
// cluster token (HMAC-SHA256 over the path, the body and, for answers, the request's
// nonce), so neither a stranger's request nor a forged answer is taken.
const (
	PathClusterState  = "/raft/cluster/state"
	PathClusterJoin   = "/raft/cluster/join"
	PathClusterRemove = "/raft/cluster/remove"
	// PathClusterRotateKey rotates the hub key (rotatekey.go).
	PathClusterRotateKey = "/raft/cluster/rotate-key"
	headerClusterAuth    = "Fengqiao-Cluster-Auth"
	maxClusterBody       = 64 << 10
)

// Peer is a member listed at bootstrap: its server id, its HTTP base URL and, when given, the
// Raft address it must report.
type Peer struct {
	ID   string
	URL  string
	Raft string
}

type stateAnswer struct {
	ID    string `json:"id"`
	Raft  string `json:"raft"`
	URL   string `json:"url"`
	Empty bool   `json:"empty"`
}

type joinRequest struct {
	Nonce     string `json:"nonce"`
	ID        string `json:"id"`
	Raft      string `json:"raft"`
	URL       string `json:"url"`
	Recipient string `json:"recipient"` // age X25519: the identity travels encrypted to it
}

type joinAnswer struct {
	Identity  []byte `json:"identity,omitempty"` // age-encrypted node.Identity
	LeaderURL string `json:"leader_url,omitempty"`
	Error     string `json:"error,omitempty"`
}

func clusterMAC(token string, parts ...[]byte) string {
	m := hmac.New(sha256.New, []byte(token))
	for _, p := range parts {
		_ = binary.Write(m, binary.BigEndian, uint32(len(p)))
		m.Write(p)
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Handler serves the cluster endpoints and forwarded writes, in every state of the member.
func (c *Cluster) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathClusterState, c.authed(PathClusterState, func(w http.ResponseWriter, body []byte) (int, any) {
		return http.StatusOK, stateAnswer{ID: c.cfg.MemberID, Raft: c.cfg.RaftAdvertise, URL: c.cfg.URL, Empty: c.Empty()}
	}))
	mux.HandleFunc("POST "+PathClusterJoin, c.authed(PathClusterJoin, c.handleJoin))
	mux.HandleFunc("POST "+PathClusterRemove, c.authed(PathClusterRemove, c.handleRemove))
	mux.HandleFunc("POST "+PathClusterRotateKey, c.authed(PathClusterRotateKey, c.handleRotateKey))
	mux.HandleFunc("POST "+ForwardPath, func(w http.ResponseWriter, r *http.Request) {
		m := c.Member()
		if m == nil {
			http.Error(w, "hub member not running yet", http.StatusServiceUnavailable)
			return
		}
		m.ForwardHandler().ServeHTTP(w, r)
	})
	return mux
}

// authed checks a request's MAC before fn sees its body, and signs fn's answer.
func (c *Cluster) authed(path string, fn func(w http.ResponseWriter, body []byte) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxClusterBody+1))
		if err != nil || len(body) > maxClusterBody {
			http.Error(w, "request body unreadable or over 64 KiB", http.StatusBadRequest)
			return
		}
		want := clusterMAC(c.cfg.Token, []byte("request"), []byte(path), body)
		if !hmac.Equal([]byte(r.Header.Get(headerClusterAuth)), []byte(want)) {
			c.log.Warn("cluster request with a wrong token refused / 集群口令错误", "path", path, "from", r.RemoteAddr)
			http.Error(w, "wrong cluster token / 集群口令错误", http.StatusForbidden)
			return
		}
		var nonce struct {
			Nonce string `json:"nonce"`
		}
		if json.Unmarshal(body, &nonce) != nil || len(nonce.Nonce) < 16 {
			http.Error(w, "request without a nonce", http.StatusBadRequest)
			return
		}
		status, ans := fn(w, body)
		out, _ := json.Marshal(ans)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(headerClusterAuth, clusterMAC(c.cfg.Token, []byte("answer"), []byte(path), []byte(nonce.Nonce), out))
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}
}

// call makes one authenticated request to a member and checks its answer's MAC.
func callMember(ctx context.Context, client *http.Client, token, base, path string, req any) (int, []byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, nil, err
	}
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	_ = json.Unmarshal(body, &nonce)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	hreq.Header.Set(headerClusterAuth, clusterMAC(token, []byte("request"), []byte(path), body))
	resp, err := client.Do(hreq)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxClusterBody+1))
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode == http.StatusForbidden {
		return resp.StatusCode, nil, fmt.Errorf("%w: %s: wrong cluster token / 集群口令错误", ErrRefused, base)
	}
	want := clusterMAC(token, []byte("answer"), []byte(path), []byte(nonce.Nonce), out)
	if !hmac.Equal([]byte(resp.Header.Get(headerClusterAuth)), []byte(want)) {
		return resp.StatusCode, nil, fmt.Errorf("%s%s answered %s without the cluster token's MAC: not a member of this cluster", base, path, resp.Status)
	}
	return resp.StatusCode, out, nil
}

func newNonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Bootstrap makes a new hub: it asks every listed peer for its state, and only when each
// answers (with the cluster token) that it is empty does it make the hub's identity and the
// Raft configuration of this member and the peers. The peers then Join to receive the
// identity. It never runs over state: a member that holds any refuses (ErrNotEmpty).
func (c *Cluster) Bootstrap(ctx context.Context, hubNode, region string, peers []Peer) error {
	if !c.Empty() {
		return ErrNotEmpty
	}
	servers := []raft.Server{{ID: raft.ServerID(c.cfg.MemberID), Address: raft.ServerAddress(c.cfg.RaftAdvertise)}}
	for _, p := range peers {
		status, out, err := c.peerState(ctx, p)
		if err != nil {
			return err
		}
		var st stateAnswer
		if status != http.StatusOK || json.Unmarshal(out, &st) != nil {
			return fmt.Errorf("%w: %s (%s) answered %d", ErrPeerState, p.ID, p.URL, status)
		}
		switch {
		case p.ID != "" && st.ID != p.ID:
			return fmt.Errorf("%w: %s answered as %q, listed as %q", ErrPeerState, p.URL, st.ID, p.ID)
		case !st.Empty:
			return fmt.Errorf("%w: %s (%s) already holds a hub's state; bootstrap never runs over state / 该成员已有数据，不能重新初始化", ErrPeerState, st.ID, p.URL)
		case p.Raft != "" && st.Raft != p.Raft:
			return fmt.Errorf("%w: %s reports raft address %s, listed as %s", ErrPeerState, st.ID, st.Raft, p.Raft)
		case st.ID == c.cfg.MemberID:
			return fmt.Errorf("%w: %s uses this member's id %s", ErrPeerState, p.URL, st.ID)
		}
		servers = append(servers, raft.Server{ID: raft.ServerID(st.ID), Address: raft.ServerAddress(st.Raft)})
	}
	id, err := node.NewIdentity(hubNode, region)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	c.log.Info("bootstrapping a new hub / 初始化新的中心集群", "hub", hubNode, "region", region, "members", len(servers))
	return c.start(&id, &raft.Configuration{Servers: servers})
}

// peerState asks a listed peer for its state, waiting (until ctx ends) while it cannot be
// reached: members are started in any order.
func (c *Cluster) peerState(ctx context.Context, p Peer) (int, []byte, error) {
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		status, out, err := callMember(ctx, c.cfg.Client, c.cfg.Token, p.URL, PathClusterState, map[string]string{"nonce": newNonce()})
		if err == nil || errors.Is(err, ErrRefused) {
			if err != nil {
				err = fmt.Errorf("%w: %s (%s): %v", ErrPeerState, p.ID, p.URL, err)
			}
			return status, out, err
		}
		c.log.Info("waiting for a listed peer / 等待成员启动", "peer", p.ID, "url", p.URL, "err", err)
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("%w: %s (%s): %v", ErrPeerState, p.ID, p.URL, err)
		case <-time.After(delay):
		}
	}
}

// Join asks the members at urls to let this empty member in, and starts it from the hub
// identity it receives (encrypted to a key made for this request). A member listed at the
// bootstrap is let in by any member; a new one only by the leader, which adds it as a voter.
// It retries while the cluster is not up yet, until ctx ends.
func (c *Cluster) Join(ctx context.Context, urls []string) error {
	if !c.Empty() {
		return ErrNotEmpty
	}
	key, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	req := joinRequest{ID: c.cfg.MemberID, Raft: c.cfg.RaftAdvertise, URL: c.cfg.URL, Recipient: key.Recipient().String()}
	queue := append([]string(nil), urls...)
	var last error
	for delay := 100 * time.Millisecond; ; {
		if len(queue) == 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("join: %w (last: %v)", ctx.Err(), last)
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
			queue = append(queue, urls...)
		}
		base := queue[0]
		queue = queue[1:]
		req.Nonce = newNonce()
		status, out, err := callMember(ctx, c.cfg.Client, c.cfg.Token, base, PathClusterJoin, req)
		if errors.Is(err, ErrRefused) {
			return err
		}
		var ans joinAnswer
		if err == nil {
			err = json.Unmarshal(out, &ans)
		}
		switch {
		case err != nil:
			last = err
		case status == http.StatusOK:
			id, err := openIdentity(key, ans.Identity)
			if err != nil {
				return fmt.Errorf("join: %w", err)
			}
			c.log.Info("joined the hub / 已加入中心集群", "hub", id.Node, "via", base)
			return c.start(&id, nil)
		case status == http.StatusMisdirectedRequest && ans.LeaderURL != "":
			queue = append([]string{ans.LeaderURL}, queue...)
		case status == http.StatusConflict || status == http.StatusBadRequest:
			return fmt.Errorf("%w: %s", ErrRefused, ans.Error)
		default:
			last = fmt.Errorf("%s: %d %s", base, status, ans.Error)
		}
	}
}

func openIdentity(key *age.X25519Identity, sealed []byte) (node.Identity, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), key)
	if err != nil {
		return node.Identity{}, fmt.Errorf("open identity: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return node.Identity{}, fmt.Errorf("open identity: %w", err)
	}
	return node.DecodeIdentity(b)
}

func (c *Cluster) handleJoin(w http.ResponseWriter, body []byte) (int, any) {
	var req joinRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, joinAnswer{Error: "malformed join request"}
	}
	rcpt, err := age.ParseX25519Recipient(req.Recipient)
	_, _, addrErr := net.SplitHostPort(req.Raft)
	switch {
	case !cases.ValidID(req.ID) || strings.Contains(req.ID, "/"):
		return http.StatusBadRequest, joinAnswer{Error: fmt.Sprintf("member id %q is not valid", req.ID)}
	case addrErr != nil || !strings.HasPrefix(req.URL, "http"):
		return http.StatusBadRequest, joinAnswer{Error: "raft address must be host:port and url http(s)://"}
	case err != nil:
		return http.StatusBadRequest, joinAnswer{Error: "recipient: " + err.Error()}
	}
	m, r := c.Member(), c.Raft()
	if m == nil {
		return http.StatusServiceUnavailable, joinAnswer{Error: "this member is not running yet (the hub is not bootstrapped)"}
	}
	fut := r.GetConfiguration()
	if err := fut.Error(); err != nil {
		return http.StatusServiceUnavailable, joinAnswer{Error: err.Error()}
	}
	var listed *raft.Server
	for _, s := range fut.Configuration().Servers {
		if string(s.ID) == req.ID {
			listed = &s
		}
	}
	// A record the member wrote itself means it ran: it may have voted and acknowledged
	// entries, so handing its id the identity again could let it undo them. A record the
	// leader wrote at a join whose answer was lost is safe to answer again.
	if rec, ok := c.record(req.ID); ok && (rec.Ran || rec.Removed || rec.Raft != req.Raft) {
		what := "has held this hub's state before"
		if rec.Removed {
			what = "was removed"
		}
		return http.StatusConflict, joinAnswer{Error: fmt.Sprintf("member %s %s: a member that lost its data joins under a new id, after the old one is removed / 该成员编号已使用过，请先移除旧成员，再用新编号加入", req.ID, what)}
	}
	switch {
	case listed != nil && string(listed.Address) != req.Raft:
		return http.StatusConflict, joinAnswer{Error: fmt.Sprintf("member %s is listed at %s, not %s", req.ID, listed.Address, req.Raft)}
	case listed == nil || listed.Suffrage != raft.Voter:
		if r.State() != raft.Leader {
			return c.redirectToLeader(r)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		value, _ := json.Marshal(memberRecord{Raft: req.Raft, URL: req.URL})
		if err := m.PutDoc(ctx, docMember, req.ID, value); err != nil {
			return http.StatusServiceUnavailable, joinAnswer{Error: "record member: " + err.Error()}
		}
		if err := r.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Raft), 0, 30*time.Second).Error(); err != nil {
			return http.StatusServiceUnavailable, joinAnswer{Error: "add voter: " + err.Error()}
		}
		c.log.Info("member added / 已加入新成员", "new", req.ID, "raft", req.Raft)
	}
	var sealed bytes.Buffer
	wr, err := age.Encrypt(&sealed, rcpt)
	if err == nil {
		_, err = wr.Write(m.fsm.Replica().Identity().Encode())
	}
	if err == nil {
		err = wr.Close()
	}
	if err != nil {
		return http.StatusInternalServerError, joinAnswer{Error: "seal identity: " + err.Error()}
	}
	c.log.Info("hub identity handed to a joining member / 已向加入的成员发送中心身份", "to", req.ID)
	return http.StatusOK, joinAnswer{Identity: sealed.Bytes()}
}

type removeRequest struct {
	Nonce string `json:"nonce"`
	ID    string `json:"id"`
}

// redirectToLeader answers, at a member that is not the leader, a request only the leader
// serves: 421 with the leader's URL when this member knows it (callLeader follows it).
func (c *Cluster) redirectToLeader(r *raft.Raft) (int, joinAnswer) {
	_, leader := r.LeaderWithID()
	u, _ := c.memberURL(leader)
	return http.StatusMisdirectedRequest, joinAnswer{LeaderURL: u, Error: "not the leader"}
}

func (c *Cluster) handleRemove(w http.ResponseWriter, body []byte) (int, any) {
	var req removeRequest
	if err := json.Unmarshal(body, &req); err != nil || req.ID == "" {
		return http.StatusBadRequest, joinAnswer{Error: "malformed remove request"}
	}
	m, r := c.Member(), c.Raft()
	if m == nil {
		return http.StatusServiceUnavailable, joinAnswer{Error: "this member is not running"}
	}
	if r.State() != raft.Leader {
		return c.redirectToLeader(r)
	}
	// The record first: once the configuration change commits, a leader removing itself
	// steps down and could no longer write it.
	rec, _ := c.record(req.ID)
	rec.Removed = true
	value, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.PutDoc(ctx, docMember, req.ID, value); err != nil {
		return http.StatusServiceUnavailable, joinAnswer{Error: "record removal: " + err.Error()}
	}
	if err := r.RemoveServer(raft.ServerID(req.ID), 0, 30*time.Second).Error(); err != nil {
		return http.StatusServiceUnavailable, joinAnswer{Error: "remove: " + err.Error()}
	}
	c.log.Warn("member removed / 已移除成员", "removed", req.ID)
	return http.StatusOK, joinAnswer{}
}

// RemoveMember asks the cluster (any member at urls; the request follows the leader) to
// remove the member id. Its id can never join again.
func RemoveMember(ctx context.Context, client *http.Client, token string, urls []string, id string) error {
	if _, err := callLeader(ctx, client, token, urls, PathClusterRemove, removeRequest{Nonce: newNonce(), ID: id}); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return nil
}

// callLeader makes an authenticated request to the cluster's leader: to the members at urls
// in turn, following a follower's answer that names the leader. It returns the leader's
// answer of 200 OK.
func callLeader(ctx context.Context, client *http.Client, token string, urls []string, path string, req any) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	queue := append([]string(nil), urls...)
	var last error
	for hops := 0; len(queue) > 0 && hops < 8; hops++ {
		base := queue[0]
		queue = queue[1:]
		status, out, err := callMember(ctx, client, token, base, path, req)
		if err != nil {
			last = err
			continue
		}
		var ans joinAnswer
		_ = json.Unmarshal(out, &ans)
		switch {
		case status == http.StatusOK:
			return out, nil
		case status == http.StatusMisdirectedRequest && ans.LeaderURL != "":
			queue = append([]string{ans.LeaderURL}, queue...)
		default:
			last = fmt.Errorf("%s: %d %s", base, status, ans.Error)
		}
	}
	if last == nil {
		last = errors.New("no member to ask")
	}
	return nil, last
}
