package node

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
)

// A node's key is rotated by a KeyLink: the old key names the new one and the new key
// proves it is held. Whoever pinned the old key (a station pins its hub's at enrollment)
// can follow the links to the current key with nothing else to trust. Rotation is for
// keeping keys young and for staff who leave: a key that was stolen must not be trusted to
// name its successor (the thief could sign that too), and its remedy is enrolling again.

// MaxKeyLinks bounds a node's key chain (a rotation a month for five years).
const MaxKeyLinks = 64

// KeyLink is one rotation of Node's key: New replaces Old from At (ms, the hub leader's
// receipt time) on. OldSig and NewSig are both keys' signatures over KeyLinkMessage.
type KeyLink struct {
	Node           string
	Old, New       ed25519.PublicKey
	At             int64
	OldSig, NewSig []byte
}

// KeyRotation is what a batch carries to rotate the replica's key (a hub's Raft entry: every
// member applies it and ends with the same key and chain). The link is made once, by whoever
// holds the old key (NewKeyRotation), so that a member that joined already holding the new
// key, and replays the entry, still records the link.
type KeyRotation struct {
	Key  ed25519.PrivateKey // the new key
	Link KeyLink            // from the key it replaces to Key
}

// NewKeyRotation makes the rotation of node's key from old to new at at (ms).
func NewKeyRotation(node string, old, new ed25519.PrivateKey, at int64) KeyRotation {
	return KeyRotation{Key: bytes.Clone(new), Link: NewKeyLink(node, old, new, at)}
}

var (
	// ErrKeyChain marks a key chain that does not lead from a pinned key to the one shown.
	ErrKeyChain = errors.New("key chain does not verify")
)

// KeyLinkMessage is what both signatures of a link cover; the prefix keeps it apart from
// every other message a node key signs.
func KeyLinkMessage(node string, old, new ed25519.PublicKey, at int64) []byte {
	return []byte("fengqiao key rotation\x00" + node + "\x00" + string(old) + string(new) + "\x00" + strconv.FormatInt(at, 10))
}

// NewKeyLink makes the link from old to new.
func NewKeyLink(node string, old, new ed25519.PrivateKey, at int64) KeyLink {
	oldPub, newPub := old.Public().(ed25519.PublicKey), new.Public().(ed25519.PublicKey)
	msg := KeyLinkMessage(node, oldPub, newPub, at)
	return KeyLink{Node: node, Old: oldPub, New: newPub, At: at,
		OldSig: ed25519.Sign(old, msg), NewSig: ed25519.Sign(new, msg)}
}

// Verify checks both signatures of the link.
func (l KeyLink) Verify() error {
	if len(l.Old) != ed25519.PublicKeySize || len(l.New) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: key rotation of %s with keys of %d and %d bytes", ErrKeyChain, l.Node, len(l.Old), len(l.New))
	}
	msg := KeyLinkMessage(l.Node, l.Old, l.New, l.At)
	if !ed25519.Verify(l.Old, msg, l.OldSig) {
		return fmt.Errorf("%w: the rotation of %s at %d is not signed by the old key", ErrKeyChain, l.Node, l.At)
	}
	if !ed25519.Verify(l.New, msg, l.NewSig) {
		return fmt.Errorf("%w: the rotation of %s at %d is not signed by the new key", ErrKeyChain, l.Node, l.At)
	}
	return nil
}

// FollowKeys returns the key that node's chain leads to from pinned: the chain's links are
// followed from the one whose Old is pinned, each verified and each starting from the key the
// one before it named. A pinned key the chain never names is an error; so is any link of
// another node or one that does not verify.
func FollowKeys(node string, pinned ed25519.PublicKey, chain []KeyLink) (ed25519.PublicKey, error) {
	if len(chain) > MaxKeyLinks {
		return nil, fmt.Errorf("%w: %d links, at most %d", ErrKeyChain, len(chain), MaxKeyLinks)
	}
	start := -1
	for i, l := range chain {
		if bytes.Equal(l.Old, pinned) {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("%w: no rotation of %s starts from the pinned key", ErrKeyChain, node)
	}
	cur := pinned
	for _, l := range chain[start:] {
		if l.Node != node {
			return nil, fmt.Errorf("%w: a rotation of %q in the chain of %s", ErrKeyChain, l.Node, node)
		}
		if !bytes.Equal(l.Old, cur) {
			return nil, fmt.Errorf("%w: the rotation of %s at %d does not start from the key before it", ErrKeyChain, node, l.At)
		}
		if err := l.Verify(); err != nil {
			return nil, err
		}
		cur = l.New
	}
	return cur, nil
}

// EncodeKeyChain gives the chain's bytes.
func EncodeKeyChain(chain []KeyLink) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(len(chain))
		for _, l := range chain {
			w.ArrayLen(6)
			w.String(l.Node)
			w.Bin(l.Old)
			w.Bin(l.New)
			w.Int(l.At)
			w.Bin(l.OldSig)
			w.Bin(l.NewSig)
		}
	})
}

// DecodeKeyChain reads what EncodeKeyChain wrote, checking every declared length. It does not
// verify signatures (FollowKeys does).
func DecodeKeyChain(b []byte) ([]KeyLink, error) {
	rd := mp.NewReader(b)
	n := rd.ArrayLen(MaxKeyLinks)
	var chain []KeyLink
	for i := 0; i < n && rd.Err() == nil; i++ {
		rd.ExpectArray(6, 6)
		l := KeyLink{Node: rd.String(cases.MaxIDLen), Old: bytes.Clone(rd.Bytes(ed25519.PublicKeySize)),
			New: bytes.Clone(rd.Bytes(ed25519.PublicKeySize)), At: rd.Int(),
			OldSig: bytes.Clone(rd.Bytes(ed25519.SignatureSize)), NewSig: bytes.Clone(rd.Bytes(ed25519.SignatureSize))}
		chain = append(chain, l)
	}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("key chain: %w", err)
	}
	if rd.Remaining() != 0 {
		return nil, fmt.Errorf("key chain: %d trailing bytes", rd.Remaining())
	}
	return chain, nil
}

// keyState is the replica's signing key and the chain that leads to it, swapped whole when a
// rotation commits.
type keyState struct {
	key   ed25519.PrivateKey
	chain []KeyLink
}

func (r *Replica) signingKey() ed25519.PrivateKey { return r.keys.Load().key }

// KeyChain returns the rotations of this node's key, oldest first (empty if it never
// rotated): anyone holding a key of this node from before can follow it to PublicKey.
func (r *Replica) KeyChain() []KeyLink { return r.keys.Load().chain }

// TrustedKeys returns the current public key and the one before it, if the key was rotated:
// what a hub member accepts from another member (member certificates, forwarded entries)
// while the members apply a rotation one after another.
func (r *Replica) TrustedKeys() []ed25519.PublicKey {
	ks := r.keys.Load()
	return TrustedKeysOf(ks.key.Public().(ed25519.PublicKey), ks.chain)
}

// TrustedKeysOf returns current and, if chain is not empty, the key its last rotation
// replaced (Replica.TrustedKeys).
func TrustedKeysOf(current ed25519.PublicKey, chain []KeyLink) []ed25519.PublicKey {
	out := []ed25519.PublicKey{current}
	if n := len(chain); n > 0 {
		out = append(out, chain[n-1].Old)
	}
	return out
}

// rotateKey stages the rotation in the batch being applied; commit publishes it. The link
// must verify, name this node and lead to the rotation's key; it must start from the current
// key, unless the replica holds the new key already (a member that joined after the
// rotation replays it: the link is recorded if missing, the key is kept).
func (a *applier) rotateKey(rot *KeyRotation) error {
	l := rot.Link
	switch {
	case len(rot.Key) != ed25519.PrivateKeySize:
		return fmt.Errorf("key rotation: a key of %d bytes", len(rot.Key))
	case l.Node != a.r.origin.Node:
		return fmt.Errorf("%w: a rotation of %q at %s", ErrKeyChain, l.Node, a.r.origin.Node)
	case !bytes.Equal(l.New, rot.Key.Public().(ed25519.PublicKey)):
		return fmt.Errorf("%w: the rotation's link names another key than the one it carries", ErrKeyChain)
	}
	if err := l.Verify(); err != nil {
		return err
	}
	cur := a.r.keys.Load()
	curPub := cur.key.Public().(ed25519.PublicKey)
	if n := len(cur.chain); n > 0 && bytes.Equal(cur.chain[n-1].New, l.New) {
		return nil // applied already
	}
	if !bytes.Equal(curPub, l.Old) && !bytes.Equal(curPub, l.New) {
		return fmt.Errorf("%w: the rotation at %d starts from a key this node does not hold", ErrKeyChain, l.At)
	}
	if len(cur.chain) >= MaxKeyLinks {
		return fmt.Errorf("key rotation: the key was rotated %d times already", len(cur.chain))
	}
	chain := append(append([]KeyLink(nil), cur.chain...), l)
	a.wb.Set(metaKey("key"), rot.Key, nil)
	a.wb.Set(metaKey("keychain"), EncodeKeyChain(chain), nil)
	a.newKeys = &keyState{key: bytes.Clone(rot.Key), chain: chain}
	return nil
}

// loadKeys reads the key and its chain at open.
func (r *Replica) loadKeys() error {
	key, err := r.getMeta("key")
	if err != nil || len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("node key: missing or corrupt (%v)", err)
	}
	ks := &keyState{key: ed25519.PrivateKey(bytes.Clone(key))}
	if b, err := r.getMeta("keychain"); err == nil {
		if ks.chain, err = DecodeKeyChain(b); err != nil {
			return err
		}
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("key chain: %w", err)
	}
	r.keys.Store(ks)
	return nil
}
