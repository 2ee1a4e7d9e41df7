package hub

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fengqiao/fengqiao/cases"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
)

// Forwarding between member processes: a follower POSTs an entry to the leader's
// /raft/propose, signed with the hub's key (every member holds it: the members are one hub),
// and the leader proposes it and answers what applying it did. A request not signed with the
// hub's key is refused before anything is proposed; a leader whose disk is below its
// reserve answers 507, which the follower returns as an error wrapping node.ErrDiskFull.

// ForwardPath is where a member serves forwarded entries.
const ForwardPath = "/raft/propose"

const (
	maxForwardBytes = 8 << 20
	headerSig       = "X-Fengqiao-Signature"
)

func forwardMessage(entry []byte) []byte {
	sum := sha256.Sum256(entry)
	return append([]byte("forward\x00"), sum[:]...)
}

// forwardAnswer is the leader's answer, as JSON.
type forwardAnswer struct {
	Index  uint64      `json:"index"`
	Result node.Result `json:"result"`
	Err    string      `json:"err,omitempty"`
	Kind   string      `json:"kind,omitempty"` // chain, origin, signature: the replica's refusal
	// For an entry of the hub's own writes: each change's op (encoded) or refusal.
	Ops        [][]byte            `json:"ops,omitempty"`
	ChangeErrs []*cases.FieldError `json:"change_errs,omitempty"`
}

// setWrites carries a write entry's results over HTTP.
func (a *forwardAnswer) setWrites(res ApplyResult) {
	for _, op := range res.Ops {
		if op.Case == "" {
			a.Ops = append(a.Ops, nil)
		} else {
			a.Ops = append(a.Ops, op.Encode())
		}
	}
	for _, err := range res.ChangeErrs {
		var fe *cases.FieldError
		if err != nil && !errors.As(err, &fe) {
			fe = &cases.FieldError{Code: "invalid", Zh: "修改无效", En: err.Error()}
		}
		a.ChangeErrs = append(a.ChangeErrs, fe)
	}
}

func (a *forwardAnswer) writes(res *ApplyResult) error {
	for _, b := range a.Ops {
		var op cases.Op
		if b != nil {
			var err error
			if op, err = cases.DecodeOp(b); err != nil {
				return fmt.Errorf("forwarded answer: op: %w", err)
			}
		}
		res.Ops = append(res.Ops, op)
	}
	for _, fe := range a.ChangeErrs {
		if fe == nil {
			res.ChangeErrs = append(res.ChangeErrs, nil)
		} else {
			res.ChangeErrs = append(res.ChangeErrs, fe)
		}
	}
	return nil
}

// signedByHub reports whether sig over msg is of the hub key or, while a rotation is being
// applied member by member, of the key before it.
func (m *Member) signedByHub(msg, sig []byte) bool {
	for _, k := range m.fsm.Replica().TrustedKeys() {
		if ed25519.Verify(k, msg, sig) {
			return true
		}
	}
	return false
}

// ForwardHandler serves POST /raft/propose on this member.
func (m *Member) ForwardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		entry, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBytes+1))
		if err != nil || len(entry) > maxForwardBytes {
			http.Error(w, "entry unreadable or over 8 MiB", http.StatusBadRequest)
			return
		}
		sig, err := base64.StdEncoding.DecodeString(r.Header.Get(headerSig))
		if err != nil || !m.signedByHub(node.SessionMessage(forwardMessage(entry)), sig) {
			http.Error(w, "not signed with this hub's key", http.StatusUnauthorized)
			return
		}
		res, err := m.Propose(r.Context(), entry)
		if errors.Is(err, ErrNotLeader) {
			http.Error(w, "not the leader", http.StatusMisdirectedRequest)
			return
		}
		if errors.Is(err, node.ErrDiskFull) {
			http.Error(w, err.Error(), http.StatusInsufficientStorage)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		ans := forwardAnswer{Index: res.Index, Result: res.Result}
		ans.setWrites(res)
		if res.Err != nil {
			ans.Err = res.Err.Error()
			switch {
			case errors.Is(res.Err, node.ErrChainBroken):
				ans.Kind = "chain"
			case errors.Is(res.Err, node.ErrForgedOrigin):
				ans.Kind = "origin"
			case errors.Is(res.Err, node.ErrBadSignature):
				ans.Kind = "signature"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	})
}

// HTTPForward returns a MemberOptions.Forward that POSTs entries to the current leader's
// ForwardPath, signed with the hub's key. urls maps raft server ids to members' base URLs.
func HTTPForward(r *raft.Raft, sign func(msg []byte) []byte, urls map[raft.ServerID]string, client *http.Client) func(context.Context, []byte) (ApplyResult, error) {
	return HTTPForwardTo(r, sign, func(id raft.ServerID) (string, bool) {
		u, ok := urls[id]
		return u, ok
	}, client)
}

// HTTPForwardTo is HTTPForward with the members' URLs looked up when needed (a cluster
// learns them from its member records as members join).
func HTTPForwardTo(r *raft.Raft, sign func(msg []byte) []byte, urlOf func(raft.ServerID) (string, bool), client *http.Client) func(context.Context, []byte) (ApplyResult, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return func(ctx context.Context, entry []byte) (ApplyResult, error) {
		_, id := r.LeaderWithID()
		base, ok := urlOf(id)
		if !ok {
			return ApplyResult{}, ErrNotLeader
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+ForwardPath, bytes.NewReader(entry))
		if err != nil {
			return ApplyResult{}, err
		}
		req.Header.Set(headerSig, base64.StdEncoding.EncodeToString(sign(forwardMessage(entry))))
		resp, err := client.Do(req)
		if err != nil {
			return ApplyResult{}, ErrNotLeader // the leader is unreachable: look again
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusMisdirectedRequest, http.StatusServiceUnavailable:
			return ApplyResult{}, ErrNotLeader
		case http.StatusInsufficientStorage: // the leader's disk is below its reserve
			return ApplyResult{}, &diskFullError{msg: fmt.Sprintf("forward to %s: %s", id, bytes.TrimSpace(body))}
		default:
			return ApplyResult{}, fmt.Errorf("forward to %s: %s: %s", id, resp.Status, bytes.TrimSpace(body))
		}
		var ans forwardAnswer
		if err := json.Unmarshal(body, &ans); err != nil {
			return ApplyResult{}, fmt.Errorf("forward to %s: answer: %w", id, err)
		}
		res := ApplyResult{Index: ans.Index, Result: ans.Result}
		if err := ans.writes(&res); err != nil {
			return ApplyResult{}, err
		}
		if ans.Err != "" {
			kind := map[string]error{"chain": node.ErrChainBroken, "origin": node.ErrForgedOrigin, "signature": node.ErrBadSignature}[ans.Kind]
			if kind != nil {
				res.Err = fmt.Errorf("%w: %s", kind, ans.Err)
			} else {
				res.Err = errors.New(ans.Err)
			}
		}
		return res, nil
	}
}
