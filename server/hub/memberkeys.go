package hub

// The hub key as the members' TLS sees it. The key can be rotated (RotateKey: a Raft entry,
// so every member ends with the same new key and the same chain of rotations), and members
// apply the rotation one after another; so a member's certificates are issued from whatever
// key its replica holds at the handshake (memberCerts), each leaf carries the chain of the
// hub key's rotations (sync.OIDKeyChain), and a member accepts a peer whose leaf is signed
// by its own current key, by the key before it (a peer that has not applied the rotation
// yet), or by a later key its chain leads to (a peer that applied it first).

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	gosync "sync"
	"time"

	"github.com/fengqiao/fengqiao/node"
	fqsync "github.com/fengqiao/fengqiao/sync"
)

// KeySource gives the hub key a member signs with now and the chain of its rotations
// (oldest first); a member's is its replica's, read at every handshake.
type KeySource func() (key ed25519.PrivateKey, chain []node.KeyLink)

// FixedKey is the KeySource of a key that never rotated.
func FixedKey(key ed25519.PrivateKey) KeySource {
	return func() (ed25519.PrivateKey, []node.KeyLink) { return key, nil }
}

// ReplicaKeys is the KeySource of the replica that fsm holds at each call (a snapshot
// restore swaps it).
func ReplicaKeys(fsm *FSM) KeySource {
	return func() (ed25519.PrivateKey, []node.KeyLink) {
		r := fsm.Replica()
		return r.Identity().Key, r.KeyChain()
	}
}

// leafRenewal is how long before its end a leaf is replaced by a new one.
const leafRenewal = 30 * 24 * time.Hour

// memberCerts issues a member's leaf (issueLeaf) from the key its source gives, and issues
// it again when that key has changed or the leaf is within leafRenewal of its end.
type memberCerts struct {
	keys              KeySource
	hubNode, memberID string
	now               func() time.Time

	mu     gosync.Mutex
	cur    *tls.Certificate
	signer ed25519.PublicKey
}

func newMemberCerts(keys KeySource, hubNode, memberID string, now func() time.Time) *memberCerts {
	if now == nil {
		now = time.Now
	}
	return &memberCerts{keys: keys, hubNode: hubNode, memberID: memberID, now: now}
}

// get returns the leaf to present now.
func (m *memberCerts) get() (*tls.Certificate, error) {
	key, chain := m.keys()
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("member certificate of %s: hub key of %d bytes", m.memberID, len(key))
	}
	pub := key.Public().(ed25519.PublicKey)
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil && m.signer.Equal(pub) && now.Before(m.cur.Leaf.NotAfter.Add(-leafRenewal)) {
		return m.cur, nil
	}
	ca, err := HubCA(key, m.hubNode)
	if err != nil {
		return nil, fmt.Errorf("member certificate of %s: %w", m.memberID, err)
	}
	cert, err := issueLeaf(key, ca, m.memberID, now, chain)
	if err != nil {
		return nil, fmt.Errorf("member certificate of %s: %w", m.memberID, err)
	}
	m.cur, m.signer = &cert, pub
	return m.cur, nil
}

// errMemberCertificate refuses a peer that is not a member of this hub.
var errMemberCertificate = errors.New("the peer's certificate was not issued by this hub's key")

// verifyMember accepts a peer's leaf, for usage, when it names MemberServerName and was
// signed by a key of this hub that keys trusts: the current key, the one before it, or a
// later one the leaf's own chain leads to from the current key.
func verifyMember(cs tls.ConnectionState, keys KeySource, hubNode string, usage x509.ExtKeyUsage, now time.Time) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: none presented", errMemberCertificate)
	}
	leaf := cs.PeerCertificates[0]
	if !slices.Contains(leaf.DNSNames, MemberServerName) {
		return fmt.Errorf("%w: it does not name %s", errMemberCertificate, MemberServerName)
	}
	key, chain := keys()
	cur := key.Public().(ed25519.PublicKey)
	// The current key and the one before it (a member that has not applied the latest
	// rotation yet); LeafHubKey below takes the current one again, and a later one.
	if trusted := node.TrustedKeysOf(cur, chain); len(trusted) > 1 && fqsync.SignedByKeyFor(leaf, trusted[1], usage, now) {
		return nil
	}
	if _, err := fqsync.LeafHubKey(leaf, hubNode, cur, usage, now); err != nil {
		return fmt.Errorf("%w: %v", errMemberCertificate, err)
	}
	return nil
}

// memberTLS returns a member's TLS configurations for the Raft transport from its key
// source: TLS 1.3; a leaf from memberCerts, presented as a server and as a client; the
// peer's leaf required and verified by verifyMember (for client auth on the server side,
// for server auth on the client side).
func memberTLS(keys KeySource, hubNode, memberID string, now func() time.Time) (server, client *tls.Config, err error) {
	if memberID == "" {
		return nil, nil, errors.New("member tls: empty member id")
	}
	if hubNode == "" {
		return nil, nil, errors.New("member tls: empty hub node")
	}
	if now == nil {
		now = time.Now
	}
	certs := newMemberCerts(keys, hubNode, memberID, now)
	if _, err := certs.get(); err != nil {
		return nil, nil, fmt.Errorf("member tls %s: %w", memberID, err)
	}
	server = &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return certs.get() },
		// The client's certificate is required here and verified by VerifyConnection.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyMember(cs, keys, hubNode, x509.ExtKeyUsageClientAuth, now())
		},
	}
	client = &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return certs.get() },
		ServerName:           MemberServerName,
		// The verification is VerifyConnection's, by the hub's keys (no CA pool can hold a
		// key that rotates while the member runs).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyMember(cs, keys, hubNode, x509.ExtKeyUsageServerAuth, now())
		},
	}
	return server, client, nil
}
