package hub

// Rotating the hub key, which is also the certificate authority of the members' TLS
// (`fengqiao rotate-key`). The leader makes the new key and its link from the old one
// (node.NewKeyRotation) and commits them as one entry; every member applies it and ends with
// the same key and chain. The new private key travels only in the Raft log, which moves over
// the members' mutual TLS: a follower asked to rotate names the leader instead of forwarding
// the request. Stations and a county's city follow the rotation by the chain (sync
// keychain.go); docs/security.md says what rotation is for and what it is not.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
	fqsync "github.com/fengqiao/fengqiao/sync"
)

type rotateKeyRequest struct {
	Nonce string `json:"nonce"`
}

// rotateKeyAnswer is the leader's answer; a refusal is a joinAnswer, as for every cluster
// endpoint.
type rotateKeyAnswer struct {
	Old       string `json:"old"` // fingerprints (sync.KeyFingerprint)
	New       string `json:"new"`
	Rotations int    `json:"rotations"`
}

// RotateKey replaces the hub key by a new one through the log and returns the new public
// key once this member applied it. Only the leader rotates (ErrNotLeader elsewhere).
func (m *Member) RotateKey(ctx context.Context) (ed25519.PublicKey, error) {
	r := m.fsm.Replica()
	_, next, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("rotate key: %w", err)
	}
	now := m.opts.Now().UnixMilli()
	rot := node.NewKeyRotation(r.Origin().Node, r.Identity().Key, next, now)
	res, err := m.Propose(ctx, EncodeBatch(&node.Batch{ReceivedAt: now, RotateKey: &rot}))
	if err != nil {
		return nil, fmt.Errorf("rotate key: %w", err)
	}
	if res.Err != nil {
		return nil, fmt.Errorf("rotate key: %w", res.Err)
	}
	if err := m.waitApplied(ctx, res.Index); err != nil {
		return nil, fmt.Errorf("rotate key: %w", err)
	}
	return rot.Link.New, nil
}

func (c *Cluster) handleRotateKey(w http.ResponseWriter, body []byte) (int, any) {
	m, r := c.Member(), c.Raft()
	if m == nil {
		return http.StatusServiceUnavailable, joinAnswer{Error: "this member is not running"}
	}
	if r.State() != raft.Leader {
		return c.redirectToLeader(r)
	}
	old := m.PublicKey()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := m.RotateKey(ctx)
	if err != nil {
		return http.StatusServiceUnavailable, joinAnswer{Error: err.Error()}
	}
	ans := rotateKeyAnswer{Old: fqsync.KeyFingerprint(old), New: fqsync.KeyFingerprint(pub), Rotations: len(m.KeyChain())}
	c.log.Warn("hub key rotated / 中心密钥已更换", "old", ans.Old, "new", ans.New, "rotations", ans.Rotations)
	return http.StatusOK, ans
}

// RotationResult is what RotateKey reports: the fingerprints of the key replaced and of
// the new one, and how many rotations the key has had.
type RotationResult struct {
	Old, New  string
	Rotations int
}

// RotateKey asks the cluster (any member at urls; the request follows the leader) to rotate
// the hub key.
func RotateKey(ctx context.Context, client *http.Client, token string, urls []string) (RotationResult, error) {
	out, err := callLeader(ctx, client, token, urls, PathClusterRotateKey, rotateKeyRequest{Nonce: newNonce()})
	if err != nil {
		return RotationResult{}, fmt.Errorf("rotate the hub key: %w", err)
	}
	var ans rotateKeyAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		return RotationResult{}, fmt.Errorf("rotate the hub key: answer: %w", err)
	}
	return RotationResult{Old: ans.Old, New: ans.New, Rotations: ans.Rotations}, nil
}
