package sync_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// rotateHubKey rotates a single hub replica's key as a Raft hub's entry does, and returns
// the new public key.
func rotateHubKey(t *testing.T, r *node.Replica) ed25519.PublicKey {
	t.Helper()
	_, next, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rot := node.NewKeyRotation(r.Origin().Node, r.Identity().Key, next, time.Now().UnixMilli())
	if _, err := r.Apply(context.Background(), node.Batch{RotateKey: &rot}); err != nil {
		t.Fatalf("rotate the hub key: %v", err)
	}
	return next.Public().(ed25519.PublicKey)
}

func pinnedHubKey(t *testing.T, r *node.Replica) ed25519.PublicKey {
	t.Helper()
	info, err := fsync.LoadHubInfo(r)
	if err != nil {
		t.Fatal(err)
	}
	return info.Key
}

// A hub that rotated its key twice since a station enrolled — plain HTTP and HTTPS alike —
// is followed: the station checks the chain from the key it pinned, stores the new pin, and
// syncs; a station opened again from its store starts from the new pin.
func TestKeyChain_StationFollowsTheHubsRotations(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[tlsOn]
		t.Run(name, func(t *testing.T) {
			hubR := openReplica(t, t.TempDir(), "hub1", testCounty)
			var h *testHub
			if tlsOn {
				h = serveTLSHub(t, hubR, hubR)
			} else {
				h = serveTestHub(t, hubR, fsync.HubConfig{})
			}
			s := enrollStation(t, h, "st1", townA)
			mustWrite(t, s.r, registration("kc-1", villageA, "grid1"))
			syncOnce(t, s)

			rotateHubKey(t, hubR)
			newKey := rotateHubKey(t, hubR)
			mustWrite(t, s.r, registration("kc-2", villageA, "grid1"))
			syncOnce(t, s)
			if caseState(t, hubR, "kc-2") == "" {
				t.Fatal("the hub does not hold the case written after its key rotated")
			}
			if !bytes.Equal(pinnedHubKey(t, s.r), newKey) {
				t.Fatal("the station did not store the hub's new key")
			}
			again, err := fsync.NewStation(fsync.StationConfig{Replica: s.r, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, s.r, registration("kc-3", villageA, "grid1"))
			syncOnce(t, &testStation{r: s.r, st: again, url: s.url})
			if caseState(t, hubR, "kc-3") == "" {
				t.Fatal("a station opened again after re-pinning did not sync")
			}
		})
	}
}

// A hub of another key under the same id, showing a rotation chain of its own (a thief's
// key signing its successor), is refused, over plain HTTP at the handshake and over HTTPS at
// TLS: the chain does not start from the key the station pinned. Nothing moves and the pin
// stays.
func TestKeyChain_ForgedRotationIsRefused(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[tlsOn]
		t.Run(name, func(t *testing.T) {
			hubR := openReplica(t, t.TempDir(), "hub1", testCounty)
			other := openReplica(t, t.TempDir(), "hub1", testCounty)
			rotateHubKey(t, other)
			var h, impostor *testHub
			if tlsOn {
				h, impostor = serveTLSHub(t, hubR, hubR), serveTLSHub(t, other, other)
			} else {
				h, impostor = serveTestHub(t, hubR, fsync.HubConfig{}), serveTestHub(t, other, fsync.HubConfig{})
			}
			s := enrollStation(t, h, "st1", townA)
			pinned := pinnedHubKey(t, s.r)
			// The impostor knows the station (so what refuses it is the station's check).
			rec, err := fsync.AgeIdentity(s.r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := impostor.hub.Enroll(context.Background(), fsync.EnrollRequest{Station: "st1", Region: townA,
				Key: s.r.PublicKey(), Recipient: rec.Recipient().String()}); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, s.r, registration("kc-forged", villageA, "grid1"))
			before := other.Status()
			err = connectOnce(t, s.st, impostor.srv.URL)
			if tlsOn && !errors.Is(err, fsync.ErrHubCertificate) {
				t.Fatalf("session with an impostor over TLS: %v, want ErrHubCertificate", err)
			}
			if !tlsOn && (err == nil || !strings.Contains(err.Error(), node.ErrKeyChain.Error())) {
				t.Fatalf("session with an impostor: %v, want a bad-key refusal", err)
			}
			if after := other.Status(); after.FeedSeq != before.FeedSeq {
				t.Fatalf("the impostor's store moved: %d → %d ops", before.FeedSeq, after.FeedSeq)
			}
			if !bytes.Equal(pinnedHubKey(t, s.r), pinned) {
				t.Fatal("the station replaced its pin after a forged rotation")
			}
		})
	}
}

// The key-chain header comes from the network: any value decodes or is refused, never a
// panic, and what decodes encodes back to the same header.
func FuzzDecodeKeyChainHeader(f *testing.F) {
	_, k1, _ := ed25519.GenerateKey(rand.Reader)
	_, k2, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(fsync.EncodeKeyChainHeader([]node.KeyLink{node.NewKeyLink("hub1", k1, k2, 1767225600000)}))
	f.Add("")
	f.Add("kQ")
	f.Add("3AAB")
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := fsync.DecodeKeyChainHeader(v)
		if err != nil || len(chain) == 0 {
			return
		}
		again, err := fsync.DecodeKeyChainHeader(fsync.EncodeKeyChainHeader(chain))
		if err != nil || len(again) != len(chain) {
			t.Fatalf("a decoded chain does not decode again: %v", err)
		}
	})
}
