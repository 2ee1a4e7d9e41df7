package cases_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

var cheap = cases.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

// accountOp builds the creation of account id as an op at dot seq of origin.
func accountOp(t *testing.T, id, origin string, seq uint64, wall int64, ch cases.AccountChange, obs []crdt.Dot) cases.Op {
	t.Helper()
	c, err := cases.NewCredential("a password 123", make([]byte, 16), cheap)
	if err != nil {
		t.Fatal(err)
	}
	ch.Credential = &c
	ws, _, err := cases.PreparePeople(cases.NewCase(cases.AccountDocID(id)), cases.KindAccount, ch.Writes())
	if err != nil {
		t.Fatal(err)
	}
	op := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: origin, Incarnation: 1}, Seq: seq}, Stamp: crdt.Timestamp{Wall: wall},
		Case: cases.AccountDocID(id), Kind: cases.KindAccount, Author: "admin", Writes: ws, Observed: obs}
	op.Normalize()
	return op
}

// writesOf returns the op writes of a change to an existing account, as a replica makes them.
func writesOf(t *testing.T, existing *cases.Case, ch cases.AccountChange) []cases.Write {
	t.Helper()
	ws, _, err := cases.PreparePeople(existing, cases.KindAccount, ch.Writes())
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func ptr[T any](v T) *T { return &v }

// While two administrators' offline changes conflict, the account is judged the restrictive
// way: only roles both grant, revoked if either revoked, in scope only where both regions
// agree; delivery (Regions) takes both.
func TestAccountOf_ConflictsResolveRestrictively(t *testing.T) {
	create := accountOp(t, "wg", "hub", 1, 1000, cases.AccountChange{Name: ptr("王五"), Region: ptr("420323100"),
		Roles: []cases.Role{cases.RoleGridWorker, cases.RoleMediator}}, nil)
	folded := cases.Fold(cases.AccountDocID("wg"), []cases.Stored{{Op: create}})
	base := folded.Observe("roles", "region", "revoked")
	a := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "hub", Incarnation: 1}, Seq: 2}, Stamp: crdt.Timestamp{Wall: 2000},
		Case: create.Case, Kind: cases.KindAccount, Author: "admin", Observed: base,
		Writes: writesOf(t, folded, cases.AccountChange{Roles: []cases.Role{cases.RoleGridWorker}, Region: ptr("420323100201")})}
	b := cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "stA", Incarnation: 1}, Seq: 1}, Stamp: crdt.Timestamp{Wall: 3000},
		Case: create.Case, Kind: cases.KindAccount, Author: "stA.admin", Observed: base,
		Writes: writesOf(t, folded, cases.AccountChange{Roles: []cases.Role{cases.RoleMediator, cases.RoleGridWorker}, Revoked: ptr(true)})}
	a.Normalize()
	b.Normalize()
	for _, order := range [][]cases.Op{{create, a, b}, {b, a, create}, {a, create, b, a}} {
		var st []cases.Stored
		for _, op := range order {
			st = append(st, cases.Stored{Op: op})
		}
		acct := cases.AccountOf(cases.Fold(create.Case, st))
		if !slices.Equal(acct.Roles, []cases.Role{cases.RoleGridWorker}) || !acct.Revoked || acct.RevokedAt.Wall != 3000 {
			t.Errorf("roles %v revoked %v at %v, want only grid_worker, revoked at 3000", acct.Roles, acct.Revoked, acct.RevokedAt)
		}
		if !slices.Equal(acct.Regions, []string{"420323100201"}) {
			t.Errorf("regions %v, want the one written over the first", acct.Regions)
		}
		if !acct.Credential.Verify("a password 123") || acct.Credential.Verify("a password 124") {
			t.Error("the credential does not verify its own password alone")
		}
		if acct.Active(crdt.Timestamp{Wall: 2999}) != true || acct.Active(crdt.Timestamp{Wall: 3001}) {
			t.Error("an op stamped before the revocation is judged as by an active account, one after not")
		}
	}
}

// Scope: a case is in an account's scope when its region lies within the account's (every
// value of a region in conflict), or it is assigned to one of its stations; an accusation
// never reaches the accused unit's people.
func TestAccount_Scope(t *testing.T) {
	a := &cases.Account{ID: "ts", Unit: "城关镇政府", Regions: []string{"420323100"}, Stations: []string{"zs-judge"}, Roles: []cases.Role{cases.RoleTownshipStaff}}
	if !a.CoversCase([]string{"420323100201"}, nil) || a.CoversCase([]string{"420323101219"}, nil) ||
		!a.CoversCase([]string{"420323101219"}, []string{"zs-judge"}) || a.CoversCase([]string{"4203"}, nil) {
		t.Error("region and station scope")
	}
	two := &cases.Account{Regions: []string{"420323100", "420323100201"}}
	if two.Covers("420323100211") || !two.Covers("420323100201") {
		t.Error("a region in conflict covers only where both values agree")
	}
	c := cases.NewCase("zs-1")
	reg := func(field, val string) {
		b, _ := json.Marshal(val)
		if field == "accused" {
			b = []byte(val)
		}
		v, err := cases.EncodeJSON(field, b)
		if err != nil {
			t.Fatal(err)
		}
		c.Apply(&cases.Op{Dot: crdt.Dot{Origin: crdt.Origin{Node: "n", Incarnation: 1}, Seq: uint64(len(c.Registers) + 1)},
			Writes: []cases.Write{{Field: field, Value: v}}}, cases.Meta{})
	}
	reg("region", "420323100201")
	if !a.InScope(c) {
		t.Fatal("a case in the township is out of its staff's scope")
	}
	reg("accused", `{"kind":"unit","name":"城关镇政府"}`)
	if a.InScope(c) {
		t.Error("an accusation of the account's own unit is in its scope")
	}
	if err := cases.Allowed(a, cases.PermRead, c, cases.Node{}); !errors.Is(err, cases.ErrForbidden) {
		t.Errorf("Allowed = %v", err)
	}
}

// Wrong-password locks grow from the free attempts and stop at the cap.
func TestSignInPolicy_Locks(t *testing.T) {
	p := cases.SignInPolicy{FreeAttempts: 3, BaseLockMs: 1000, MaxLockMs: 5000}
	for failures, want := range []int64{0, 0, 0, 1000, 2000, 4000, 5000, 5000} {
		got := p.LockedUntil(failures, 10_000)
		if want != 0 {
			want += 10_000
		}
		if got != want {
			t.Errorf("%d failures: locked until %d, want %d", failures, got, want)
		}
	}
}

func TestMasks(t *testing.T) {
	for _, tc := range [][2]string{{cases.MaskResidentID("11010519491231002X"), "110105********002X"},
		{cases.MaskPhone("13800138000"), "138****8000"}, {cases.MaskName("王芳"), "王*"}, {cases.MaskName("欧阳娜娜"), "欧***"}} {
		if tc[0] != tc[1] {
			t.Errorf("%q, want %q", tc[0], tc[1])
		}
	}
}

// A credential verifies its password only, refuses parameters out of bounds, and an
// account's value never decodes into one that asks for more memory than allowed.
func TestCredential(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 16)
	c, err := cases.NewCredential("correct horse", salt, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Verify("correct horse") || c.Verify("correct hors") || c.Verify("") {
		t.Error("verify")
	}
	d, err := cases.DecodeCredential(c.Encode())
	if err != nil || !d.Verify("correct horse") {
		t.Fatalf("round trip: %v", err)
	}
	greedy := c
	greedy.Params.MemoryKiB = 4 << 20
	if _, err := cases.DecodeCredential(greedy.Encode()); err == nil {
		t.Error("a credential asking for 4 GiB decodes")
	}
	if _, err := cases.NewCredential("short", salt, cheap); err == nil {
		t.Error("a 5-character password is accepted")
	}
}

// The role table in docs/security.md is the code's, cell for cell.
func TestRoleTable_IsTheDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := cases.RoleTableMarkdown(); !strings.Contains(string(doc), want) {
		t.Errorf("docs/security.md does not hold the role table; it should contain:\n%s", want)
	}
}

// BenchmarkCredentialVerify is the cost of one sign-in's hashing with the default
// parameters (docs/security.md quotes it).
func BenchmarkCredentialVerify(b *testing.B) {
	c, err := cases.NewCredential("a password 123", make([]byte, 16), cases.DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Verify("a password 123")
	}
}
