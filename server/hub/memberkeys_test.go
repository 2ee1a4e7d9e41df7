package hub_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/hub"
)

// handshake runs a TLS handshake between a member dialling (client) and one accepting
// (server) over a pipe and returns the client's error, or the server's.
func handshake(t *testing.T, client, server *tls.Config) error {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srvErr := make(chan error, 1)
	go func() {
		s := tls.Server(b, server)
		err := s.HandshakeContext(ctx)
		if err == nil {
			// TLS 1.3: the client's certificate is checked after the client's side finished;
			// a read makes the server's verdict reach the client.
			_, err = s.Write([]byte{1})
		}
		srvErr <- err
		_ = b.Close()
	}()
	c := tls.Client(a, client)
	err := c.HandshakeContext(ctx)
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	if serr := <-srvErr; err == nil {
		err = serr
	}
	return err
}

// Members apply a rotation one after another: one that has applied it (new key, chain) and
// one that has not (old key) accept each other both ways, as dialler and as listener; a
// member of an unrelated key, and one showing a chain that does not start from the hub's
// key, are refused by both.
func TestMemberTLS_AcrossARotation(t *testing.T) {
	gen := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1, k2, thief, thief2 := gen(), gen(), gen(), gen()
	rotated := node.NewKeyRotation("zs-hub", k1, k2, 1)
	forged := node.NewKeyRotation("zs-hub", thief, thief2, 1)
	configs := func(keys hub.KeySource, id string) (server, client *tls.Config) {
		s, c, err := hub.MemberTLS(keys, "zs-hub", id)
		if err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	behindS, behindC := configs(hub.FixedKey(k1), "m1")
	aheadS, aheadC := configs(func() (ed25519.PrivateKey, []node.KeyLink) { return k2, []node.KeyLink{rotated.Link} }, "m2")
	otherS, otherC := configs(hub.FixedKey(thief), "m3")
	forgerS, forgerC := configs(func() (ed25519.PrivateKey, []node.KeyLink) { return thief2, []node.KeyLink{forged.Link} }, "m4")

	for name, pair := range map[string][2]*tls.Config{
		"behind dials ahead": {behindC, aheadS},
		"ahead dials behind": {aheadC, behindS},
	} {
		if err := handshake(t, pair[0], pair[1]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, pair := range map[string][2]*tls.Config{
		"other dials behind":  {otherC, behindS},
		"other dials ahead":   {otherC, aheadS},
		"behind dials other":  {behindC, otherS},
		"forger dials behind": {forgerC, behindS},
		"forger dials ahead":  {forgerC, aheadS},
		"ahead dials forger":  {aheadC, forgerS},
	} {
		if err := handshake(t, pair[0], pair[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
