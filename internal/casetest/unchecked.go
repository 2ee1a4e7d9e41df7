package casetest

import (
	"context"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

// WriteUnchecked stores ch (a case change, or an account or audit change) as an op of r's
// own origin stamped at ms, without the replica's checks of its author, as a tampered
// station would: the op is built by hand and applied as a local batch. The people tests use
// it to show what a hub does with ops no honest station would send.
func WriteUnchecked(t testing.TB, r *node.Replica, ch node.Change, ms int64) cases.Op {
	t.Helper()
	var seq uint64
	for after := uint64(0); ; {
		feed, next, err := r.Feed(after, 1000, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(feed) == 0 {
			break
		}
		for _, e := range feed {
			d, err := cases.PeekDot(e.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if d.Origin == r.Origin() && d.Seq > seq {
				seq = d.Seq
			}
		}
		after = next
	}
	var ws []cases.Write
	var observed []crdt.Dot
	var err error
	if cases.IsPeopleDoc(ch.Case) {
		ws, observed, err = cases.PreparePeople(cases.NewCase(ch.Case), ch.Kind, ch.Writes)
	} else {
		c, herr := r.CaseHead(ch.Case)
		if herr != nil {
			c = cases.NewCase(ch.Case)
		}
		ws, observed, err = cases.Prepare(c, ch.Kind, ch.Writes, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	op := cases.Op{Dot: crdt.Dot{Origin: r.Origin(), Seq: seq + 1}, Stamp: crdt.Timestamp{Wall: ms},
		Case: ch.Case, Kind: ch.Kind, Author: ch.Author, Writes: ws, Observed: observed}
	if _, err := r.Apply(context.Background(), node.Batch{Ops: []node.Incoming{{Op: op}}}); err != nil {
		t.Fatal(err)
	}
	return op
}

// Password is the password of the accounts Account makes.
const Password = "a test password"

// CheapArgon2 keeps tests fast; production hashes with cases.DefaultArgon2.
var CheapArgon2 = cases.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

// Account returns the creation of account id in region with roles, by author (an admin, or
// cases.SetupAuthor), with Password hashed cheaply.
func Account(author, id, region string, roles ...cases.Role) node.Change {
	cred, err := cases.NewCredential(Password, make([]byte, 16), CheapArgon2)
	if err != nil {
		panic(err)
	}
	name := "测试"
	ch := cases.AccountChange{Name: &name, Region: &region, Roles: roles, Credential: &cred}
	return node.Change{Case: cases.AccountDocID(id), Kind: cases.KindAccount, Author: author, Writes: ch.Writes()}
}

// Revoke returns the revocation of account id by author.
func Revoke(author, id string) node.Change {
	yes := true
	return node.Change{Case: cases.AccountDocID(id), Kind: cases.KindAccount, Author: author,
		Writes: cases.AccountChange{Revoked: &yes}.Writes()}
}
