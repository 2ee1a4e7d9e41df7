package hub

// Mutual TLS for the Raft transport between the members of one hub.
//
// Every member holds the hub's Ed25519 identity key, and that key is the hub's only
// certificate authority: each member builds the same self-signed CA certificate from it
// (HubCA), makes a fresh key pair with a leaf certificate signed by the hub key (MemberTLS),
// and trusts nothing but the hub's keys, both as a server and as a client. A peer is
// accepted only if its leaf was signed by a key of the hub, so only holders of the hub key
// can take part in the hub's Raft. The key can be rotated while the members run
// (memberkeys.go).

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"github.com/hashicorp/go-hclog"
	"io"
	"math/big"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
	fqsync "github.com/fengqiao/fengqiao/sync"
)

// MemberServerName is the DNS name in every member's leaf certificate and the ServerName
// members verify when they dial each other. Members address each other by IP:port, so the
// name is fixed: what a member proves is that its leaf chains to the hub key, not a hostname.
const MemberServerName = "fengqiao-hub-member"

// NewTLSTransport's connection pool size per peer and its I/O timeout.
const (
	TLSTransportMaxPool = 3
	TLSTransportTimeout = 10 * time.Second
)

// acceptHandshakeTimeout bounds the TLS handshake of an accepted connection.
const acceptHandshakeTimeout = 10 * time.Second

var (
	caNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	caNotAfter  = time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC)
)

// HubCA returns the hub's certificate authority: a self-signed CA certificate for the hub
// key. It is deterministic: its serial and subject key id are hashes of the public key, its
// validity is fixed (2020-01-01 to 2120-01-01 UTC), its subject is "fengqiao hub <hubNode>",
// and Ed25519 signatures are deterministic, so every member holding the key builds a
// byte-identical certificate and no CA certificate needs distributing. The CA may sign leaf
// certificates only (path length 0).
func HubCA(hubKey ed25519.PrivateKey, hubNode string) (*x509.Certificate, error) {
	if len(hubKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("hub ca: hub key is %d bytes, want %d", len(hubKey), ed25519.PrivateKeySize)
	}
	if hubNode == "" {
		return nil, errors.New("hub ca: empty hub node")
	}
	pub := hubKey.Public().(ed25519.PublicKey)
	serial := sha256.Sum256(append([]byte("fengqiao hub ca serial\x00"), pub...))
	skid := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial[:16]),
		Subject:               pkix.Name{CommonName: "fengqiao hub " + hubNode},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, hubKey)
	if err != nil {
		return nil, fmt.Errorf("hub ca for %s: %w", hubNode, err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("hub ca for %s: parse: %w", hubNode, err)
	}
	return ca, nil
}

// MemberTLS returns the TLS configurations of one hub member for the Raft transport: server
// for accepting peers, client for dialling them (memberkeys.go). Both require TLS 1.3 and
// present a leaf certificate (CN memberID, DNS name MemberServerName, server and client auth,
// valid for a year, a fresh Ed25519 key pair, never written anywhere) signed by the hub key
// keys gives at the handshake; it is issued again when that key rotates or the leaf nears its
// end. Both require the peer's leaf and accept it only if it was signed by a key of this hub
// (the current one, the one before, or a later one its own key chain leads to): so only
// holders of the hub key take part in the hub's Raft.
func MemberTLS(keys KeySource, hubNode, memberID string) (server, client *tls.Config, err error) {
	return memberTLS(keys, hubNode, memberID, time.Now)
}

// issueLeaf makes a fresh Ed25519 key pair and a leaf certificate for it (CN cn, DNS name
// MemberServerName, server and client auth, valid from now-1h to now+1 year) signed by the
// hub key under its CA ca, carrying the hub key's chain of rotations (sync.OIDKeyChain)
// when it has one.
func issueLeaf(hubKey ed25519.PrivateKey, ca *x509.Certificate, cn string, now time.Time, chain []node.KeyLink) (tls.Certificate, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("leaf key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{MemberServerName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if len(chain) > 0 {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: fqsync.OIDKeyChain, Value: node.EncodeKeyChain(chain)}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, hubKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse leaf: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// NewTLSStreamLayer returns a raft.StreamLayer that speaks TLS over ln: accepted connections
// are served with server, outgoing ones dialled with client (both from MemberTLS; the
// authentication guaranteed is the configs'). The configs are cloned; nil configs panic.
//
// Accept never performs a handshake: it wraps the connection, and the handshake runs on its
// first Read or Write (in raft's per-connection goroutine) bounded by a timeout, after which
// the connection is closed; so a peer that stalls its handshake holds up neither Accept nor
// other peers. Dial completes the TCP connection and the handshake within its timeout. Addr
// is advertise if non-nil, else ln.Addr(); Close closes ln.
func NewTLSStreamLayer(ln net.Listener, advertise net.Addr, server, client *tls.Config) raft.StreamLayer {
	if server == nil || client == nil {
		panic("hub: NewTLSStreamLayer needs a server and a client tls.Config")
	}
	return &tlsStreamLayer{ln: ln, advertise: advertise, server: server.Clone(), client: client.Clone(),
		handshakeTimeout: acceptHandshakeTimeout}
}

type tlsStreamLayer struct {
	ln               net.Listener
	advertise        net.Addr
	server, client   *tls.Config
	handshakeTimeout time.Duration
}

// Accept implements net.Listener; the handshake is deferred to the connection's first I/O.
func (s *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return &serverConn{Conn: tls.Server(c, s.server), timeout: s.handshakeTimeout}, nil
}

// Close implements net.Listener.
func (s *tlsStreamLayer) Close() error { return s.ln.Close() }

// Addr implements net.Listener.
func (s *tlsStreamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}

// Dial implements raft.StreamLayer: TCP connect and TLS handshake, both within timeout.
func (s *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: s.client}
	c, err := d.DialContext(ctx, "tcp", string(address))
	if err != nil {
		return nil, fmt.Errorf("raft tls dial %s: %w", address, err)
	}
	return c, nil
}

// serverConn is an accepted TLS connection whose handshake runs, bounded by timeout, before
// its first Read or Write; a failed handshake closes the connection.
type serverConn struct {
	*tls.Conn
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *serverConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if err := c.Conn.HandshakeContext(ctx); err != nil {
			c.err = fmt.Errorf("raft tls accept %s: %w", c.RemoteAddr(), err)
			_ = c.Conn.Close()
		}
	})
	return c.err
}

func (c *serverConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *serverConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// NewTLSTransport listens on bind (host:port; port 0 picks one) and returns a Raft network
// transport over NewTLSStreamLayer, pooling TLSTransportMaxPool connections per peer with
// TLSTransportTimeout for I/O, raft's transport log going to logOutput (nil: stderr).
// advertise is the address given to peers; empty means the bound address, which must then
// be a specific IP, not 0.0.0.0 or [::]. It refuses a server config that does not require
// and verify client certificates and a client config that skips verification.
func NewTLSTransport(bind, advertise string, server, client *tls.Config, logOutput io.Writer) (*raft.NetworkTransport, error) {
	return newTLSTransport(bind, advertise, server, client, logOutput, nil)
}

// newTLSTransport is NewTLSTransport whose dials may be redirected: addressOf, when not nil,
// gives the address to dial for a server id (tests put fault proxies between members).
func newTLSTransport(bind, advertise string, server, client *tls.Config, logOutput io.Writer, addressOf raft.ServerAddressProvider) (*raft.NetworkTransport, error) {
	switch {
	case server == nil || client == nil:
		return nil, errors.New("raft tls transport: nil tls config")
	case server.ClientAuth != tls.RequireAndVerifyClientCert && (server.ClientAuth != tls.RequireAnyClientCert || server.VerifyConnection == nil):
		return nil, errors.New("raft tls transport: server config must require and verify client certificates")
	case client.InsecureSkipVerify && client.VerifyConnection == nil:
		return nil, errors.New("raft tls transport: client config skips verification")
	}
	var adv net.Addr
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			return nil, fmt.Errorf("raft tls transport: advertise %s: %w", advertise, err)
		}
		adv = a
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft tls transport: listen %s: %w", bind, err)
	}
	stream := NewTLSStreamLayer(ln, adv, server, client)
	if a, ok := stream.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("raft tls transport: address %s is not advertisable", stream.Addr())
	}
	if logOutput == nil {
		logOutput = os.Stderr
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: stream, MaxPool: TLSTransportMaxPool,
		Timeout: TLSTransportTimeout, ServerAddressProvider: addressOf,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logOutput, Level: hclog.DefaultLevel})}), nil
}
