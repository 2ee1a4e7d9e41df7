package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/node"
)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A rotated key signs from then on, survives a reopen, and whoever pinned the first key
// follows the chain to it; the key before it stays trusted for members catching up.
func TestKeyRotation_ChainLeadsFromThePinnedKeyAndSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	r := openTestReplicaFS(t, fs, "hub-1", "420323")
	first := r.PublicKey()
	k1, k2, k3 := r.Identity().Key, newKey(t), newKey(t)
	rot2, rot3 := node.NewKeyRotation("hub-1", k1, k2, 1000), node.NewKeyRotation("hub-1", k2, k3, 1001)
	for i, rot := range []node.KeyRotation{rot2, rot3} {
		if _, err := r.Apply(context.Background(), node.Batch{RaftIndex: uint64(i + 1), RotateKey: &rot}); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
	}
	if !bytes.Equal(r.PublicKey(), k3.Public().(ed25519.PublicKey)) {
		t.Fatal("the replica does not sign with the newest key")
	}
	sig := r.SessionSignature([]byte("transcript"))
	if !ed25519.Verify(k3.Public().(ed25519.PublicKey), node.SessionMessage([]byte("transcript")), sig) {
		t.Fatal("a session signature does not verify with the new key")
	}
	got, err := node.FollowKeys("hub-1", first, r.KeyChain())
	if err != nil || !bytes.Equal(got, r.PublicKey()) {
		t.Fatalf("following the chain from the first key: %x, %v", got, err)
	}
	if tk := r.TrustedKeys(); len(tk) != 2 || !bytes.Equal(tk[1], k2.Public().(ed25519.PublicKey)) {
		t.Fatalf("trusted keys %d, want the current and the one before", len(tk))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := openTestReplicaFS(t, fs, "hub-1", "420323")
	if !bytes.Equal(r2.PublicKey(), r.PublicKey()) || len(r2.KeyChain()) != 2 {
		t.Fatalf("after reopen: key changed or chain of %d links", len(r2.KeyChain()))
	}
	// An entry replayed (at or below the applied index) changes nothing.
	if res, err := r2.Apply(context.Background(), node.Batch{RaftIndex: 1, RotateKey: &rot2}); err != nil || !res.AlreadyApplied {
		t.Fatalf("replayed rotation: %+v, %v", res, err)
	}
	if !bytes.Equal(r2.PublicKey(), k3.Public().(ed25519.PublicKey)) {
		t.Fatal("a replayed rotation moved the key back")
	}
	// A rotation that does not start from the current key is refused, and so is one whose
	// link names another key than the one it carries.
	stale := node.NewKeyRotation("hub-1", k1, newKey(t), 1002)
	if _, err := r2.Apply(context.Background(), node.Batch{RaftIndex: 3, RotateKey: &stale}); !errors.Is(err, node.ErrKeyChain) {
		t.Fatalf("a rotation from a retired key: %v, want ErrKeyChain", err)
	}
	mismatched := node.NewKeyRotation("hub-1", k3, newKey(t), 1003)
	mismatched.Key = newKey(t)
	if _, err := r2.Apply(context.Background(), node.Batch{RaftIndex: 4, RotateKey: &mismatched}); !errors.Is(err, node.ErrKeyChain) {
		t.Fatalf("a rotation carrying another key than its link names: %v, want ErrKeyChain", err)
	}
	if !bytes.Equal(r2.PublicKey(), k3.Public().(ed25519.PublicKey)) || len(r2.KeyChain()) != 2 {
		t.Fatal("a refused rotation changed the key or the chain")
	}
}

// A member that joined its hub after a rotation holds the new key already; replaying the
// rotation from the log records the link without touching the key.
func TestKeyRotation_ReplayedAtAReplicaHoldingTheNewKeyRecordsTheLink(t *testing.T) {
	old, next := newKey(t), newKey(t)
	id, err := node.NewIdentity("hub-1", "420323")
	if err != nil {
		t.Fatal(err)
	}
	id.Key = next
	r, err := node.Open(t.TempDir(), node.Options{Identity: &id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	rot := node.NewKeyRotation("hub-1", old, next, 1000)
	if _, err := r.Apply(context.Background(), node.Batch{RaftIndex: 1, RotateKey: &rot}); err != nil {
		t.Fatal(err)
	}
	if got, err := node.FollowKeys("hub-1", old.Public().(ed25519.PublicKey), r.KeyChain()); err != nil || !bytes.Equal(got, r.PublicKey()) {
		t.Fatalf("the chain from the old key: %v", err)
	}
}

// A chain that does not lead from the pinned key is refused, whatever is wrong with it.
func TestKeyRotation_ForgedChainsAreRefused(t *testing.T) {
	k1, k2, k3, thief := newKey(t), newKey(t), newKey(t), newKey(t)
	pub := func(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
	good := []node.KeyLink{node.NewKeyLink("hub", k1, k2, 1), node.NewKeyLink("hub", k2, k3, 2)}
	if got, err := node.FollowKeys("hub", pub(k1), good); err != nil || !bytes.Equal(got, pub(k3)) {
		t.Fatalf("good chain: %v", err)
	}
	if got, err := node.FollowKeys("hub", pub(k2), good); err != nil || !bytes.Equal(got, pub(k3)) {
		t.Fatalf("good chain from the middle: %v", err)
	}
	// A link the old key did not sign: the thief names its own key.
	forged := node.NewKeyLink("hub", thief, k2, 1)
	forged.Old = pub(k1)
	// A link whose new key did not sign: a key nobody holds.
	unheld := node.NewKeyLink("hub", k1, k2, 1)
	unheld.New = pub(thief)
	tampered := node.NewKeyLink("hub", k1, k2, 1)
	tampered.At = 5
	for name, chain := range map[string][]node.KeyLink{
		"not signed by the old key": {forged},
		"not signed by the new key": {unheld},
		"time altered":              {tampered},
		"another node's":            {node.NewKeyLink("other", k1, k2, 1)},
		"a gap":                     {node.NewKeyLink("hub", k1, k2, 1), node.NewKeyLink("hub", thief, k3, 2)},
		"never names the pinned":    {node.NewKeyLink("hub", k2, k3, 2)},
	} {
		if _, err := node.FollowKeys("hub", pub(k1), chain); !errors.Is(err, node.ErrKeyChain) {
			t.Errorf("%s: %v, want ErrKeyChain", name, err)
		}
	}
	back, err := node.DecodeKeyChain(node.EncodeKeyChain(good))
	if err != nil || len(back) != 2 || !bytes.Equal(back[1].NewSig, good[1].NewSig) {
		t.Fatalf("round trip: %v", err)
	}
}

func FuzzDecodeKeyChain(f *testing.F) {
	k1, k2 := newKey(f), newKey(f)
	f.Add(node.EncodeKeyChain([]node.KeyLink{node.NewKeyLink("hub", k1, k2, 1)}))
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, err := node.DecodeKeyChain(b)
		if err != nil {
			return
		}
		if !bytes.Equal(node.EncodeKeyChain(chain), b) && len(chain) > 0 {
			// Decoding accepts only what re-encodes to a chain of the same links.
			again, err := node.DecodeKeyChain(node.EncodeKeyChain(chain))
			if err != nil || len(again) != len(chain) {
				t.Fatalf("re-encoded chain does not decode: %v", err)
			}
		}
		_, _ = node.FollowKeys("hub", k1.Public().(ed25519.PublicKey), chain)
	})
}
