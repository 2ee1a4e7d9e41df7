package sync

// TLS toward a hub. A hub serving HTTPS (`fengqiao hub --tls`) presents a leaf certificate
// signed by its identity key, the key a station pinned when it enrolled; so a station needs
// no certificate authority and no hostname: it accepts the hub's certificate when the
// leaf's signature verifies under the pinned key (and the leaf is current and meant for a
// server). A hub behind a certificate of an ordinary authority (`--tls-cert`, or a
// TLS-terminating proxy) is accepted when the system's roots verify it for the URL's host.

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrHubCertificate refuses a TLS connection whose certificate neither was signed by the
// hub key the station pinned nor verifies against the system's roots.
var ErrHubCertificate = errors.New("中心的 TLS 证书不是本站登记的中心签发的 / the hub's TLS certificate was not issued by the hub this node enrolled with")

// SignedByKey reports whether leaf's signature verifies under the Ed25519 key, the leaf is
// valid at now and it may serve TLS (no extended key usage, or server auth among them).
func SignedByKey(leaf *x509.Certificate, key ed25519.PublicKey, now time.Time) bool {
	return SignedByKeyFor(leaf, key, x509.ExtKeyUsageServerAuth, now)
}

// HubTLSConfig is the client TLS configuration toward the hub whose identity key is
// pinned() at each handshake: a certificate signed by that key, or by a later key of the
// hub that the leaf's key chain leads to from it (keychain.go: the hub rotated its key,
// and the session's handshake then re-pins), or one the system's roots verify for the
// server name. now is the clock certificates are judged by (nil: time.Now).
func HubTLSConfig(hub string, pinned func() ed25519.PublicKey, now func() time.Time) *tls.Config {
	if now == nil {
		now = time.Now
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The verification is VerifyConnection's: by the pinned key first, else as Go
		// would verify (system roots, the URL's host).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrHubCertificate
			}
			_, keyErr := LeafHubKey(cs.PeerCertificates[0], hub, pinned(), x509.ExtKeyUsageServerAuth, now())
			if keyErr == nil {
				return nil
			}
			if err := verifySystem(cs, now()); err != nil {
				return fmt.Errorf("%w: %v; %v", ErrHubCertificate, keyErr, err)
			}
			return nil
		},
	}
}

// verifySystem verifies the peer's chain as crypto/tls does by default.
func verifySystem(cs tls.ConnectionState, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter, CurrentTime: now})
	return err
}

// firstContact is the TLS of an enrollment, when the station knows no hub key yet: it
// accepts the hub's certificate and keeps it, and check, once the hub's answer named its
// key, refuses unless the certificate was signed by that key or the system's roots verify
// it. An enrollment is a trust-on-first-use: docs/security.md says what guards it.
type firstContact struct {
	leaf     *x509.Certificate
	verified error // of the system roots; nil when they verified it
	now      func() time.Time
}

func (f *firstContact) client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // checked by check, against the key the answer names
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrHubCertificate
			}
			f.leaf = cs.PeerCertificates[0]
			f.verified = verifySystem(cs, f.now())
			return nil
		},
	}
	return &http.Client{Transport: tr}
}

// check refuses the enrollment's answer when it came over TLS under a certificate neither
// signed by hubKey nor verified by the system's roots.
func (f *firstContact) check(hubKey ed25519.PublicKey) error {
	if f.leaf == nil || f.verified == nil || SignedByKey(f.leaf, hubKey, f.now()) {
		return nil
	}
	return fmt.Errorf("%w (the answer names key %x…, the certificate was signed by another: %v)", ErrHubCertificate, hubKey[:4], f.verified)
}
