package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// Identity is what makes a replica a particular node: its id, region, Ed25519 key, feed
// epoch and incarnation. A station's identity is made once, at init, and never leaves it.
// A hub's is shared by its Raft members (they are one node to everyone else): the member
// that bootstraps the cluster makes it, and a joining member receives it and creates its
// store from it (Options.Identity), so every member signs, stamps and counts as the same
// origin.
type Identity struct {
	Node        string
	Region      string
	Key         ed25519.PrivateKey
	Epoch       string
	Incarnation uint32
}

// NewIdentity makes a fresh identity for node serving region.
func NewIdentity(node, region string) (Identity, error) {
	if err := validID("node id", node); err != nil {
		return Identity{}, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Identity{}, fmt.Errorf("generate key: %w", err)
	}
	return Identity{Node: node, Region: region, Key: priv, Epoch: newEpoch(), Incarnation: randomIncarnation()}, nil
}

// Identity returns the replica's identity, private key included: only a hub member handing
// it to a member joining its cluster has a use for it.
func (r *Replica) Identity() Identity {
	return Identity{Node: r.origin.Node, Region: r.region, Key: r.signingKey(), Epoch: r.epoch, Incarnation: r.origin.Incarnation}
}

// Encode gives the identity's bytes (secret: they hold the private key).
func (id Identity) Encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(5)
		w.String(id.Node)
		w.String(id.Region)
		w.Bin(id.Key)
		w.String(id.Epoch)
		w.Uint(uint64(id.Incarnation))
	})
}

// DecodeIdentity reads what Encode wrote, checking every field.
func DecodeIdentity(b []byte) (Identity, error) {
	rd := mp.NewReader(b)
	rd.ExpectArray(5, 5)
	id := Identity{Node: rd.String(cases.MaxIDLen), Region: rd.String(16),
		Key: ed25519.PrivateKey(bytes.Clone(rd.Bytes(ed25519.PrivateKeySize))), Epoch: rd.String(64)}
	inc := rd.Uint()
	if err := rd.Err(); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	if rd.Remaining() != 0 {
		return Identity{}, fmt.Errorf("identity: %d trailing bytes", rd.Remaining())
	}
	if err := validID("node id", id.Node); err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	if len(id.Key) != ed25519.PrivateKeySize || inc > 1<<32-1 || id.Epoch == "" {
		return Identity{}, fmt.Errorf("identity: key of %d bytes, incarnation %d, epoch %q", len(id.Key), inc, id.Epoch)
	}
	id.Incarnation = uint32(inc)
	// One identity has one encoding: a member that re-encodes what it was handed (to store
	// it, or to pass it on at the next join) must produce the same bytes.
	if !bytes.Equal(id.Encode(), b) {
		return Identity{}, fmt.Errorf("identity: not in canonical encoding: %w", mp.ErrMalformed)
	}
	return id, nil
}
