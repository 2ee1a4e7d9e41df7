package cases_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// Decoders of the people documents' values, which arrive in replicated ops: outside input.
// Each must refuse what it cannot read without allocating what a length claims, and what it
// accepts must survive a round trip.

func FuzzDecodeCredential(f *testing.F) {
	c, _ := cases.NewCredential("a password 123", make([]byte, 16), cheap)
	f.Add(c.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := cases.DecodeCredential(data)
		if err != nil {
			return
		}
		if c.Params.MemoryKiB > cases.MaxArgon2MemoryKiB || c.Params.Time > cases.MaxArgon2Time {
			t.Fatalf("decoded parameters out of bounds: %+v", c.Params)
		}
		d, err := cases.DecodeCredential(c.Encode())
		if err != nil || !reflect.DeepEqual(c, d) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, c, d)
		}
	})
}

func FuzzDecodeAuditRecord(f *testing.F) {
	rec := cases.AuditRecord{Action: cases.AuditView, Cases: []string{"zs-1"}, Fields: []string{"name", "phone"}}
	f.Add(rec.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := cases.DecodeAuditRecord(data)
		if err != nil {
			return
		}
		again, err := cases.DecodeAuditRecord(rec.Encode())
		if err != nil || !reflect.DeepEqual(rec, again) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, rec, again)
		}
		_ = rec.Check()
	})
}

// FuzzAccountOf folds ops writing arbitrary bytes into an account's fields: the account must
// come out whole (known roles only, a credential only if it is within bounds), whatever a
// peer sent.
func FuzzAccountOf(f *testing.F) {
	c, _ := cases.NewCredential("a password 123", make([]byte, 16), cheap)
	f.Add(uint8(0), c.Encode(), uint8(4), []byte{0x92, 0xa6, 'l', 'e', 'a', 'd', 'e', 'r', 0xa1, 'x'})
	f.Add(uint8(3), []byte{0xc3}, uint8(2), []byte{0xa6, '4', '2', '0', '3', '2', '3'})
	f.Fuzz(func(t *testing.T, f1 uint8, v1 []byte, f2 uint8, v2 []byte) {
		doc := cases.AccountDocID("x")
		var st []cases.Stored
		for i, w := range []cases.Write{{Field: cases.AccountFields[int(f1)%len(cases.AccountFields)], Value: v1},
			{Field: cases.AccountFields[int(f2)%len(cases.AccountFields)], Value: v2}} {
			st = append(st, cases.Stored{Op: cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "n"}, Seq: uint64(i + 1)},
				Case: doc, Kind: cases.KindAccount, Author: "a", Writes: []cases.Write{w}}})
		}
		a := cases.AccountOf(cases.Fold(doc, st))
		if a == nil {
			t.Fatal("no account from two writes")
		}
		for _, r := range a.Roles {
			if !slices.Contains(cases.Roles, r) {
				t.Fatalf("unknown role %q held", r)
			}
		}
		if !a.Credential.IsZero() {
			if _, err := cases.DecodeCredential(a.Credential.Encode()); err != nil {
				t.Fatalf("a credential out of bounds was taken: %v", err)
			}
		}
		_ = a.View()
		_ = a.MaySignInAt("st", "420323100")
	})
}
