package node_test

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/node"
)

// Two stores created from one identity are the same node to everyone else: same origin,
// key, epoch and region; and the identity survives its encoding.
func TestIdentity_SharedByTwoStores(t *testing.T) {
	id, err := node.NewIdentity("zs-hub", "420323")
	if err != nil {
		t.Fatal(err)
	}
	back, err := node.DecodeIdentity(id.Encode())
	if err != nil {
		t.Fatal(err)
	}
	var got []node.Identity
	for _, dir := range []string{"m1", "m2"} {
		fs := vfs.NewMem()
		r, err := node.Open(dir, node.Options{Identity: &back, FS: fs, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Identity())
		_ = r.Close()
		r, err = node.Open(dir, node.Options{FS: fs, Logger: quietLogger()}) // reopen: the store's own
		if err != nil {
			t.Fatal(err)
		}
		if r.Identity().Epoch != id.Epoch {
			t.Fatalf("reopened epoch %q, want %q", r.Identity().Epoch, id.Epoch)
		}
		_ = r.Close()
	}
	for _, g := range got {
		if g.Node != id.Node || g.Region != id.Region || g.Epoch != id.Epoch || g.Incarnation != id.Incarnation || !bytes.Equal(g.Key, id.Key) {
			t.Fatalf("store identity %+v, want %+v", g, id)
		}
	}
	if _, err := node.Open("m3", node.Options{Identity: &id, NodeID: "other", FS: vfs.NewMem(), Logger: quietLogger()}); err == nil {
		t.Fatal("an identity with a different --id was accepted")
	}
}

func FuzzDecodeIdentity(f *testing.F) {
	id, _ := node.NewIdentity("zs-hub", "420323")
	f.Add(id.Encode())
	f.Add([]byte{0x95, 0xa1, 'a', 0xa0, 0xc4, 0x02, 1, 2, 0xa1, 'e', 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := node.DecodeIdentity(b)
		if err != nil {
			return
		}
		if !bytes.Equal(got.Encode(), b) {
			t.Fatalf("decoded %x, re-encoded differently", b)
		}
	})
}
