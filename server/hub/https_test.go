package hub

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	fqsync "github.com/fengqiao/fengqiao/sync"
)

// serveWith serves 200 OK over TLS presenting cert's certificate.
func serveWith(t *testing.T, cert *ServingCert) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Listener = tls.NewListener(srv.Listener, cert.ServerConfig())
	srv.Start()
	t.Cleanup(srv.Close)
	return "https://" + srv.Listener.Addr().String()
}

func issued(t *testing.T, key ed25519.PrivateKey, member string) *ServingCert {
	t.Helper()
	c, err := NewServingCert(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		if err := c.Follow(FixedKey(key), "zs-hub", member); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// A member calls other members (forwarded writes, removals) only when they present a
// certificate of its own hub's key; before it holds the key (while joining) it cannot tell,
// and the join's own authentication (cluster token, encrypted answer) is what guards it.
func TestServingCert_MembersAcceptOnlyTheirHubsCertificates(t *testing.T) {
	_, ours, _ := ed25519.GenerateKey(rand.Reader)
	_, theirs, _ := ed25519.GenerateKey(rand.Reader)
	me := issued(t, ours, "zs-1")
	sameHub := serveWith(t, issued(t, ours, "zs-2"))
	otherHub := serveWith(t, issued(t, theirs, "zz-2"))
	notJoined := serveWith(t, issued(t, nil, "zs-4"))

	get := func(c *http.Client, url string) error {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	client := me.MemberClient(5 * time.Second)
	if err := get(client, sameHub); err != nil {
		t.Fatalf("a member of the same hub: %v", err)
	}
	if err := get(client, otherHub); !errors.Is(err, fqsync.ErrHubCertificate) {
		t.Fatalf("a member of another hub: %v, want ErrHubCertificate", err)
	}
	if err := get(client, notJoined); !errors.Is(err, fqsync.ErrHubCertificate) {
		t.Fatalf("a member not holding the hub key: %v, want ErrHubCertificate", err)
	}
	joining := issued(t, nil, "zs-5").MemberClient(5 * time.Second)
	if err := get(joining, sameHub); err != nil {
		t.Fatalf("a joining member calling the hub: %v", err)
	}
}
