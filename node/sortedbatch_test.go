package node

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"pgregory.net/rapid"
)

// TestSortedBatch_Property_StoresWhatArrivalOrderStores: writes (sets and deletes, the same
// key written several times, keys that share long prefixes or are prefixes of each other)
// committed through a sortedBatch leave the store exactly as the same writes in a plain
// Pebble batch, in the order they were made, do — over a store that already holds some of
// the keys. The last write of a key wins; the batch is in key order.
func TestSortedBatch_Property_StoresWhatArrivalOrderStores(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Keys from a small space, so that writes meet: a table byte, then a long shared
		// part, then a varying tail (so the 16-byte prefix alone often cannot tell them apart).
		key := rapid.Custom(func(t *rapid.T) []byte {
			k := []byte{rapid.SampledFrom([]byte("cfkx")).Draw(t, "table")}
			k = append(k, bytes.Repeat([]byte("c0000"), rapid.IntRange(0, 4).Draw(t, "shared"))...)
			return append(k, rapid.SliceOfN(rapid.ByteRange(0, 3), 0, 3).Draw(t, "tail")...)
		})
		type write struct {
			key, value []byte
			del        bool
		}
		draw := func(label string) []write {
			return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) write {
				return write{key.Draw(t, "key"), rapid.SliceOfN(rapid.Byte(), 0, 4).Draw(t, "value"), rapid.Bool().Draw(t, "del")}
			}), 0, 40).Draw(t, label)
		}
		before, writes := draw("before"), draw("writes")

		open := func() *pebble.DB {
			db, err := pebble.Open("db", &pebble.Options{FS: vfs.NewMem()})
			if err != nil {
				t.Fatal(err)
			}
			pre := db.NewBatch()
			for _, w := range before {
				_ = pre.Set(w.key, w.value, nil)
			}
			if err := pre.Commit(pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			return db
		}
		want, got := open(), open()
		defer want.Close()
		defer got.Close()

		plain := want.NewBatch()
		var sb sortedBatch
		for _, w := range writes {
			if w.del {
				_ = plain.Delete(w.key, nil)
				sb.Delete(w.key, nil)
			} else {
				_ = plain.Set(w.key, w.value, nil)
				sb.Set(w.key, w.value, nil)
			}
		}
		if err := plain.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		pb := sb.build(got)
		var prev []byte
		for r := pb.Reader(); ; {
			_, k, _, ok, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				t.Fatalf("batch not in strictly increasing key order: %q then %q", prev, k)
			}
			prev = append(prev[:0], k...)
		}
		if err := pb.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if w, g := dumpDB(t, want), dumpDB(t, got); w != g {
			t.Fatalf("store after the sorted batch:\n%s\nafter the writes in arrival order:\n%s", g, w)
		}
	})
}

func dumpDB(t *rapid.T, db *pebble.DB) string {
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var b bytes.Buffer
	for it.First(); it.Valid(); it.Next() {
		fmt.Fprintf(&b, "%q=%q\n", it.Key(), it.Value())
	}
	return b.String()
}
