package hub

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// tlsFSM records the data of the entries it applies.
type tlsFSM struct {
	mu   sync.Mutex
	data []string
}

func (f *tlsFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = append(f.data, string(l.Data))
	return nil
}

func (f *tlsFSM) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.data)
}

func (f *tlsFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots here") }
func (f *tlsFSM) Restore(rc io.ReadCloser) error      { return errors.New("no snapshots here") }

type tlsNode struct {
	id     raft.ServerID
	trans  *raft.NetworkTransport
	fsm    *tlsFSM
	raft   *raft.Raft
	client *tls.Config
}

func tlsHubKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	tlsMust(t, err)
	return key
}

func tlsMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tlsWaitFor polls cond until it holds or the deadline passes.
func tlsWaitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not before the deadline (%v)", what, d)
		}
	}
}

// tlsCluster starts three raft members of one hub on NewTLSTransport (127.0.0.1:0), each
// with its own MemberTLS, bootstraps them and returns the leader first once one is elected
// and has applied `entries` entries on every member.
func tlsCluster(t *testing.T, hubKey ed25519.PrivateKey, entries int) []*tlsNode {
	t.Helper()
	var nodes []*tlsNode
	var servers []raft.Server
	for i := range 3 {
		n := &tlsNode{id: raft.ServerID(fmt.Sprint("m", i)), fsm: &tlsFSM{}}
		server, client, err := MemberTLS(FixedKey(hubKey), "zs-hub", string(n.id))
		tlsMust(t, err)
		n.trans, err = NewTLSTransport("127.0.0.1:0", "", server, client, io.Discard)
		tlsMust(t, err)
		t.Cleanup(func() { _ = n.trans.Close() })
		n.client = client
		nodes = append(nodes, n)
		servers = append(servers, raft.Server{ID: n.id, Address: n.trans.LocalAddr()})
	}
	for _, n := range nodes {
		conf := raft.DefaultConfig()
		conf.LocalID = n.id
		conf.HeartbeatTimeout, conf.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
		conf.LeaderLeaseTimeout, conf.CommitTimeout = 200*time.Millisecond, 5*time.Millisecond
		conf.SnapshotThreshold, conf.SnapshotInterval = 1<<40, time.Hour
		conf.LogOutput = io.Discard
		logs, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
		tlsMust(t, raft.BootstrapCluster(conf, logs, logs, snaps, n.trans, raft.Configuration{Servers: servers}))
		r, err := raft.NewRaft(conf, n.fsm, logs, logs, snaps, n.trans)
		tlsMust(t, err)
		n.raft = r
		t.Cleanup(func() { _ = r.Shutdown().Error() })
	}
	tlsWaitFor(t, "a leader", 5*time.Second, func() bool {
		for i, n := range nodes {
			if n.raft.State() == raft.Leader {
				nodes[0], nodes[i] = nodes[i], nodes[0]
				return true
			}
		}
		return false
	})
	var want []string
	for i := range entries {
		want = append(want, fmt.Sprint("entry-", i))
		if err := nodes[0].raft.Apply([]byte(want[i]), 2*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	tlsWaitFor(t, "every member applies the entries", 5*time.Second, func() bool {
		for _, n := range nodes {
			if !slices.Equal(n.fsm.applied(), want) {
				return false
			}
		}
		return true
	})
	return nodes
}

// tlsState is what a peer must not be able to change: term, log, leader, membership, FSM.
func tlsState(t *testing.T, nodes []*tlsNode) string {
	t.Helper()
	var b strings.Builder
	for _, n := range nodes {
		f := n.raft.GetConfiguration()
		tlsMust(t, f.Error())
		_, leader := n.raft.LeaderWithID()
		fmt.Fprintf(&b, "%s term=%d last=%d leader=%s conf=%v fsm=%q\n", n.id, n.raft.CurrentTerm(),
			n.raft.LastIndex(), leader, f.Configuration().Servers, n.fsm.applied())
	}
	return b.String()
}

// forgedAppend is an AppendEntries from a would-be leader with a newer term, extending n's log.
func forgedAppend(n *tlsNode, from raft.ServerAddress) *raft.AppendEntriesRequest {
	last, term := n.raft.LastIndex(), n.raft.CurrentTerm()
	return &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("m3"), Addr: []byte(from)},
		Term:      term + 10, PrevLogEntry: last, PrevLogTerm: term, LeaderCommitIndex: last + 1,
		Entries: []*raft.Log{{Index: last + 1, Term: term + 10, Type: raft.LogCommand, Data: []byte("forged")}}}
}

// readRefusal reads from c (which must not have written anything) until the peer's refusal.
func readRefusal(t *testing.T, c net.Conn) error {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not refused: read gave %v", err)
	}
	return err
}

// tlsRefused dials addr with cfg and asserts the member refuses it over its certificate.
func tlsRefused(t *testing.T, addr raft.ServerAddress, cfg *tls.Config) {
	t.Helper()
	c, err := tls.Dial("tcp", string(addr), cfg)
	if err == nil { // TLS 1.3: the client's handshake ends before the server checks its cert
		defer c.Close()
		err = readRefusal(t, c)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("refusal %q does not mention the certificate", err)
	}
	t.Logf("refused: %v", err)
}

// tlsListen listens on a port of 127.0.0.1, closed at the end of the test.
func tlsListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	tlsMust(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func TestTLSTransport_ClusterCommits(t *testing.T) {
	tlsCluster(t, tlsHubKey(t), 20)
}

// A node holding certificates from another hub's key reaches no member: its dial fails on
// the member's certificate, a member refuses its leaf even when it trusts the member, and its
// raft RPCs (a forged AppendEntries with a newer term, a RequestVote) change nothing.
func TestTLSTransport_RefusesOtherHub(t *testing.T) {
	nodes := tlsCluster(t, tlsHubKey(t), 3)
	before := tlsState(t, nodes)
	target := nodes[1].trans.LocalAddr()

	otherServer, otherClient, err := MemberTLS(FixedKey(tlsHubKey(t)), "zs-hub", "m3")
	tlsMust(t, err)
	stream := NewTLSStreamLayer(tlsListen(t), nil, otherServer, otherClient)
	if c, err := stream.Dial(target, 2*time.Second); err == nil {
		_ = c.Close()
		t.Fatal("dial with another hub's certificates succeeded")
	} else if !strings.Contains(err.Error(), "raft tls dial") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("dial error %q does not say which dial and certificate", err)
	}

	// Trusting the member's CA gets past the client's check; the member must refuse the leaf.
	impostor := otherClient.Clone()
	impostor.RootCAs = nodes[1].client.RootCAs
	tlsRefused(t, target, impostor)

	other, err := NewTLSTransport("127.0.0.1:0", "", otherServer, otherClient, io.Discard)
	tlsMust(t, err)
	defer other.Close()
	for _, n := range nodes {
		var resp raft.AppendEntriesResponse
		if err := other.AppendEntries(n.id, n.trans.LocalAddr(), forgedAppend(n, other.LocalAddr()), &resp); err == nil ||
			!strings.Contains(err.Error(), "certificate") {
			t.Errorf("forged AppendEntries to %s: %v, %+v", n.id, err, resp)
		}
		vote := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax,
			ID: []byte("m3"), Addr: []byte(other.LocalAddr())},
			Term: n.raft.CurrentTerm() + 10, LastLogIndex: 1 << 20, LastLogTerm: n.raft.CurrentTerm() + 10}
		var vresp raft.RequestVoteResponse
		if err := other.RequestVote(n.id, n.trans.LocalAddr(), vote, &vresp); err == nil ||
			!strings.Contains(err.Error(), "certificate") {
			t.Errorf("RequestVote to %s: %v, %+v", n.id, err, vresp)
		}
	}
	if after := tlsState(t, nodes); after != before {
		t.Fatalf("members changed:\nbefore\n%safter\n%s", before, after)
	}
}

// A member refuses plaintext (a raft TCP transport's forged AppendEntries, raw bytes) and a
// TLS client that trusts the hub CA but presents no certificate; nothing reaches raft.
func TestTLSTransport_RefusesPlaintextAndNoClientCert(t *testing.T) {
	nodes := tlsCluster(t, tlsHubKey(t), 2)
	before := tlsState(t, nodes)
	target := nodes[1].trans.LocalAddr()

	plain, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	tlsMust(t, err)
	defer plain.Close()
	var resp raft.AppendEntriesResponse
	if err := plain.AppendEntries(nodes[1].id, target, forgedAppend(nodes[1], plain.LocalAddr()), &resp); err == nil {
		t.Fatalf("plaintext AppendEntries delivered: %+v", resp)
	}

	raw, err := net.Dial("tcp", string(target))
	tlsMust(t, err)
	defer raw.Close()
	_, err = raw.Write([]byte("\x00\x8c\xa2ID\xa2m3\xa4Term\xcf\x00\x00\x00\x00\x00\x00\x01\x00"))
	tlsMust(t, err)
	readRefusal(t, raw)

	tlsRefused(t, target, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: nodes[1].client.RootCAs,
		ServerName: MemberServerName})
	if after := tlsState(t, nodes); after != before {
		t.Fatalf("members changed:\nbefore\n%safter\n%s", before, after)
	}
}

// A peer that connects and never handshakes holds up neither Accept nor other peers and is
// dropped after the handshake timeout; Dial to a server that never answers gives up in time.
func TestTLSStreamLayer_StalledHandshakes(t *testing.T) {
	server, client, err := MemberTLS(FixedKey(tlsHubKey(t)), "zs-hub", "m0")
	tlsMust(t, err)
	ln := tlsListen(t)
	stream := NewTLSStreamLayer(ln, nil, server, client)
	stream.(*tlsStreamLayer).handshakeTimeout = 300 * time.Millisecond
	var wg sync.WaitGroup
	wg.Go(func() { // echo every connection
		for {
			c, err := stream.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { _, _ = io.Copy(c, c); _ = c.Close() })
		}
	})
	defer wg.Wait()
	defer stream.Close()

	silent, err := net.Dial("tcp", ln.Addr().String())
	tlsMust(t, err)
	defer silent.Close()
	c, err := stream.Dial(raft.ServerAddress(ln.Addr().String()), 2*time.Second)
	tlsMust(t, err)
	defer c.Close()
	_, err = c.Write([]byte("ping"))
	tlsMust(t, err)
	got := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo behind a stalled peer: %q, %v", got, err)
	}
	readRefusal(t, silent) // within 5s: dropped by the (300ms) handshake timeout

	blackhole := tlsListen(t) // connects (backlog), never answers
	dialed := make(chan error, 1)
	go func() {
		c, err := stream.Dial(raft.ServerAddress(blackhole.Addr().String()), 300*time.Millisecond)
		if err == nil {
			_ = c.Close()
		}
		dialed <- err
	}()
	select {
	case err := <-dialed:
		if err == nil || !strings.Contains(err.Error(), "raft tls dial") {
			t.Fatalf("dial to a silent server: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("dial to a silent server still blocked after 3s (timeout 300ms)")
	}
}

func TestHubCA_Deterministic(t *testing.T) {
	key := tlsHubKey(t)
	a, err := HubCA(key, "zs-hub")
	tlsMust(t, err)
	b, err := HubCA(slices.Clone(key), "zs-hub")
	tlsMust(t, err)
	if !bytes.Equal(a.Raw, b.Raw) {
		t.Fatal("two HubCA calls gave different certificates")
	}
	if !a.IsCA || a.Subject.CommonName != "fengqiao hub zs-hub" || a.CheckSignatureFrom(a) != nil ||
		!key.Public().(ed25519.PublicKey).Equal(a.PublicKey) {
		t.Fatalf("CA certificate: IsCA=%v CN=%q", a.IsCA, a.Subject.CommonName)
	}
	other, err := HubCA(tlsHubKey(t), "zs-hub")
	tlsMust(t, err)
	if a.SerialNumber.Cmp(other.SerialNumber) == 0 || bytes.Equal(a.SubjectKeyId, other.SubjectKeyId) {
		t.Fatal("two hub keys gave the same serial or key id")
	}

	// A member's leaf chains to it for both server and client auth.
	server, client, err := MemberTLS(FixedKey(key), "zs-hub", "m1")
	tlsMust(t, err)
	if server.ClientAuth != tls.RequireAnyClientCert || server.VerifyConnection == nil || server.MinVersion != tls.VersionTLS13 ||
		client.MinVersion != tls.VersionTLS13 || client.VerifyConnection == nil || client.ServerName != MemberServerName {
		t.Fatal("member tls configs are not the promised ones")
	}
	pool := x509.NewCertPool()
	pool.AddCert(a)
	cert, err := client.GetClientCertificate(nil)
	tlsMust(t, err)
	leaf := cert.Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: MemberServerName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
}
