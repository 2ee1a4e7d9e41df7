package hub

// HTTPS of a hub (`fengqiao hub --tls`): station sessions, enrollment, the API and the
// members' own endpoints (join, forwarded writes) over TLS. The certificate a member
// presents is a leaf signed by the hub's identity key, the key every enrolled station
// pinned, so stations verify it with no certificate authority to install (sync.HubTLSConfig).
// A member that has not joined its cluster yet holds no hub key: until it does it presents
// a throwaway self-signed certificate, which is enough for the join (the cluster token
// authenticates it and the hub identity comes back encrypted to a one-time key), and is
// replaced the moment the member has the key.

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"sync/atomic"
	"time"

	fqsync "github.com/fengqiao/fengqiao/sync"
)

// ServingCert is the certificate a member presents on HTTPS; it may change while serving.
type ServingCert struct {
	temp      *tls.Certificate                // until the member holds the hub key
	following atomic.Pointer[servingFollower] // once it does
}

type servingFollower struct {
	certs   *memberCerts
	keys    KeySource
	hubNode string
}

// NewServingCert returns a serving certificate holding a throwaway self-signed one.
func NewServingCert(now time.Time) (*ServingCert, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("https: temporary key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("https: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "fengqiao hub member (not joined)"},
		DNSNames:     []string{MemberServerName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(0, 0, 7),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("https: temporary certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("https: parse temporary certificate: %w", err)
	}
	return &ServingCert{temp: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}, nil
}

// Follow replaces the certificate by leaves signed by the hub key keys gives (CN memberID,
// valid a year, issued again when the key rotates or the leaf nears its end); new
// connections present them at once.
func (s *ServingCert) Follow(keys KeySource, hubNode, memberID string) error {
	f := &servingFollower{certs: newMemberCerts(keys, hubNode, memberID, nil), keys: keys, hubNode: hubNode}
	if _, err := f.certs.get(); err != nil {
		return fmt.Errorf("https certificate of %s: %w", memberID, err)
	}
	s.following.Store(f)
	return nil
}

// current returns the certificate to present now.
func (s *ServingCert) current() (*tls.Certificate, error) {
	if f := s.following.Load(); f != nil {
		return f.certs.get()
	}
	return s.temp, nil
}

// Leaf returns the certificate presented now.
func (s *ServingCert) Leaf() *x509.Certificate {
	c, err := s.current()
	if err != nil {
		return nil
	}
	return c.Leaf
}

// ServerConfig is the TLS configuration of the member's HTTPS listener. Clients present no
// certificate: stations and people are authenticated by the protocol and the API.
func (s *ServingCert) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.current()
		},
	}
}

// MemberClient is the HTTP client a member calls other members with (forwarded writes,
// joins, removals): once the hub key is known, a member is accepted only with a certificate
// signed by a key of the hub (verifyMember); before (a member joining), any certificate is,
// since the join itself is authenticated by the cluster token and its answer encrypted.
func (s *ServingCert) MemberClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // VerifyConnection decides
		VerifyConnection: func(cs tls.ConnectionState) error {
			f := s.following.Load()
			if f == nil {
				return nil
			}
			if err := verifyMember(cs, f.keys, f.hubNode, x509.ExtKeyUsageServerAuth, time.Now()); err != nil {
				return fmt.Errorf("%w (a member of this hub must present a certificate signed by the hub key): %v", fqsync.ErrHubCertificate, err)
			}
			return nil
		},
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}
