package sync

// Following a rotated key. A hub's key (and so its certificate authority) can be rotated
// (`fengqiao rotate-key`, node.KeyRotation); whoever pinned the old key follows the rotation
// by the key chain (node.KeyLink: the old key names the new, the new proves it is held),
// which the party that rotated shows wherever the pinned key is checked:
//
//   - in the websocket upgrade, both ways, as the header KeyChainHeader: the hub's answer
//     carries the hub's chain, so a station (or a county's uplink) re-pins the hub key it
//     enrolled with; the station's request carries its own, so a city hub takes a county
//     hub's new key in place of the enrolled one;
//   - in every TLS leaf a hub member issues, as the extension OIDKeyChain, so a station
//     whose pinned key is older than the one that signed the leaf accepts the leaf when the
//     chain leads there from its pinned key (LeafHubKey).
//
// The chain is self-authenticating: nothing else about the party that shows it is trusted.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/fengqiao/fengqiao/node"
)

// KeyChainHeader carries a node's key chain (node.EncodeKeyChain, base64 without padding) in
// the websocket upgrade, request and answer, when the node's key was ever rotated.
const KeyChainHeader = "Fengqiao-Key-Chain"

// maxKeyChainHeader bounds the header (node.MaxKeyLinks links of ~240 bytes, in base64).
const maxKeyChainHeader = 24 << 10

// OIDKeyChain is the non-critical certificate extension holding the hub key's chain in a
// member's leaf: its value is node.EncodeKeyChain's bytes. The arc is IANA's example
// enterprise number (RFC 5612), used until the project registers its own; only Fengqiao
// reads the extension.
var OIDKeyChain = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 1, 1}

// EncodeKeyChainHeader gives the header value of chain ("" for an empty one).
func EncodeKeyChainHeader(chain []node.KeyLink) string {
	if len(chain) == 0 {
		return ""
	}
	return base64.RawStdEncoding.EncodeToString(node.EncodeKeyChain(chain))
}

// DecodeKeyChainHeader reads a header value ("" is an empty chain); it verifies nothing
// (node.FollowKeys does).
func DecodeKeyChainHeader(v string) ([]node.KeyLink, error) {
	if v == "" {
		return nil, nil
	}
	if len(v) > maxKeyChainHeader {
		return nil, fmt.Errorf("%w: %s header of %d bytes, at most %d", node.ErrKeyChain, KeyChainHeader, len(v), maxKeyChainHeader)
	}
	b, err := base64.RawStdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", node.ErrKeyChain, KeyChainHeader, err)
	}
	return node.DecodeKeyChain(b)
}

// FollowRotation returns presented if chain leads to it from pinned, the key node was known
// by: the check a party makes before replacing a key it pinned.
func FollowRotation(nodeID string, pinned, presented ed25519.PublicKey, chain []node.KeyLink) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: %s shows no key rotation from the key it was enrolled with", node.ErrKeyChain, nodeID)
	}
	cur, err := node.FollowKeys(nodeID, pinned, chain)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, presented) {
		return fmt.Errorf("%w: the rotations of %s lead to another key than the one it presents", node.ErrKeyChain, nodeID)
	}
	return nil
}

// SignedByKeyFor reports whether leaf's signature verifies under the Ed25519 key, the leaf
// is valid at now and it may be used for usage (no extended key usage, or usage among them).
func SignedByKeyFor(leaf *x509.Certificate, key ed25519.PublicKey, usage x509.ExtKeyUsage, now time.Time) bool {
	if len(key) != ed25519.PublicKeySize || leaf.SignatureAlgorithm != x509.PureEd25519 {
		return false
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return false
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, usage) {
		return false
	}
	return ed25519.Verify(key, leaf.RawTBSCertificate, leaf.Signature)
}

// LeafKeyChain returns the key chain a leaf carries (OIDKeyChain), nil if none.
func LeafKeyChain(leaf *x509.Certificate) ([]node.KeyLink, error) {
	for _, ext := range leaf.Extensions {
		if ext.Id.Equal(OIDKeyChain) {
			return node.DecodeKeyChain(ext.Value)
		}
	}
	return nil, nil
}

// LeafHubKey returns the key of hub that signed leaf for usage, judged from the key pinned
// for it: pinned itself, or a later key the leaf's chain leads to from pinned. Any other
// leaf is an error.
func LeafHubKey(leaf *x509.Certificate, hub string, pinned ed25519.PublicKey, usage x509.ExtKeyUsage, now time.Time) (ed25519.PublicKey, error) {
	if SignedByKeyFor(leaf, pinned, usage, now) {
		return pinned, nil
	}
	chain, err := LeafKeyChain(leaf)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: signed by another key and carrying no rotation", node.ErrKeyChain)
	}
	cur, err := node.FollowKeys(hub, pinned, chain)
	if err != nil {
		return nil, err
	}
	if !SignedByKeyFor(leaf, cur, usage, now) {
		return nil, fmt.Errorf("%w: not signed by the key its rotations lead to", node.ErrKeyChain)
	}
	return cur, nil
}
