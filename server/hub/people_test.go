package hub_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/server/hub"
)

var _ server.People = (*hub.Member)(nil)

const t0 = int64(1767225600000)

// applyWrite commits an entry of the hub's own writes made at ms and returns its result.
func applyWrite(t *testing.T, members []*member, ms int64, changes ...node.Change) hub.ApplyResult {
	t.Helper()
	entry, err := hub.EncodeWrite(ms, changes)
	if err != nil {
		t.Fatal(err)
	}
	f := waitLeader(t, members, time.Now().Add(30*time.Second)).raft.Apply(entry, 10*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	return f.Response().(hub.ApplyResult)
}

// The author rule runs inside every member's apply: accounts made at the hub through the
// log, then a station's ops whose authors may not have written them are quarantined with
// the reason on every member alike, and the members stay byte-identical. An op a revoked
// account wrote before its revocation is accepted; one stamped after is not.
func TestMembers_QuarantineSpoofedAuthorsAlike(t *testing.T) {
	root := t.TempDir()
	members := startCluster(t, root)

	res := applyWrite(t, members, t0, casetest.Account(cases.SetupAuthor, "admin", county, cases.RoleCountyAdmin))
	if res.Err != nil || res.ChangeErrs[0] != nil {
		t.Fatalf("setup: %v %v", res.Err, res.ChangeErrs)
	}
	res = applyWrite(t, members, t0+1000,
		casetest.Account("admin", "wg.a", villA, cases.RoleGridWorker),
		casetest.Account("admin", "wg.gone", villA, cases.RoleGridWorker),
		casetest.Account("admin", "head.a", townA, cases.RoleUnitHead),
		casetest.Account("wg.a", "wg.c", villA, cases.RoleGridWorker)) // a grid worker manages nobody
	for i, err := range res.ChangeErrs[:3] {
		if err != nil {
			t.Fatalf("account %d: %v", i, err)
		}
	}
	if !errors.Is(res.ChangeErrs[3], cases.ErrForbidden) {
		t.Fatalf("a grid worker's account change at the hub: %v, want refused inside apply", res.ChangeErrs[3])
	}
	res = applyWrite(t, members, t0+10_000, casetest.Revoke("admin", "wg.gone"))
	if res.ChangeErrs[0] != nil {
		t.Fatal(res.ChangeErrs[0])
	}

	// A station that knows no accounts (a tampered one, or one never given any) writes.
	st, err := node.Open(filepath.Join(root, "stA"), node.Options{NodeID: "stA", Region: townA, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := t0 + 5000 // the station's clock
	write := func(ch node.Change) {
		t.Helper()
		at++
		casetest.WriteUnchecked(t, st, ch, at)
	}
	write(casetest.Registration("A-1", villA, "wg.a", 0))                     // fine
	write(casetest.Edit("A-1", "category", "劳动社保", "wg.gone"))                // before the revocation: fine
	write(casetest.Registration("A-2", villA, "head.a", 0))                   // a unit head registers nothing
	write(casetest.Registration("A-3", villA, "nobody", 0))                   // no such account
	write(casetest.Account("wg.a", "stA.x", villA, cases.RoleGridWorker))     // manages nobody
	write(casetest.Account("stA.boss", "stA.y", villA, cases.RoleGridWorker)) // not an account
	at = t0 + 20_000
	write(casetest.Edit("A-1", "category", "城乡建设", "wg.gone"))                             // after it
	write(casetest.Account(cases.SetupAuthor, "stA.admin", townA, cases.RoleStationAdmin)) // its own admin: fine
	want := map[string]string{"A-2": "author_no_permission", "A-3": "author_unknown_author", "@account:stA.x": "author_no_permission",
		"@account:stA.y": "author_unknown_author", "A-1": "author_revoked"}

	for after := uint64(0); ; {
		b, next, ok := stationBatch(t, st, after, 3)
		if !ok {
			break
		}
		head, err := st.SignHeadAt(b.Ops[len(b.Ops)-1].Op.Dot.Seq)
		if err != nil {
			t.Fatal(err)
		}
		b.Heads = []node.SignedHead{head}
		f := waitLeader(t, members, time.Now().Add(30*time.Second)).raft.Apply(hub.EncodeBatch(&b), 10*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		if r := f.Response().(hub.ApplyResult); r.Err != nil {
			t.Fatal(r.Err)
		}
		after = next
	}
	last := members[0].raft.LastIndex()
	for _, m := range members {
		waitFor(t, "every member applied", func() bool { return m.fsm.Replica().RaftApplied() >= last })
		q, err := m.fsm.Replica().Quarantined(0, 100)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, op := range q {
			got[op.Op.Case] = op.Reason
		}
		if len(got) != len(want) || !equalMaps(got, want) {
			t.Errorf("member %s quarantined %v, want %v", m.id, got, want)
		}
		c, _, err := m.fsm.Replica().Case("A-1")
		if err != nil || !slices.Equal(c.Strings("category"), []string{"劳动社保"}) {
			t.Errorf("member %s: A-1 = %v (%v), want the edit from before the revocation and not the one after", m.id, c, err)
		}
		if a, err := m.fsm.Replica().Account("stA.admin"); err != nil || !a.Has(cases.RoleStationAdmin) {
			t.Errorf("member %s: the station's own admin = %v, %v", m.id, a, err)
		}
	}
	var digests [][32]byte
	for _, m := range members {
		d, err := m.fsm.Replica().KeyspaceDigest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] || digests[1] != digests[2] {
		t.Error("members' keyspaces differ")
	}
}

func equalMaps(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// At a Raft hub, account changes, sessions and audit records go through the log: the
// first run, an account and a sign-in made at the leader's API are honoured at a follower's.
func TestMembers_SessionsAndAccountsThroughTheLog(t *testing.T) {
	members := startCluster(t, t.TempDir())
	leader := waitLeader(t, members, time.Now().Add(30*time.Second))
	var follower *member
	for _, m := range members {
		if m != leader {
			follower = m
		}
	}
	serve := func(m *member) string {
		mem := hub.NewMember(m.fsm, m.raft, hub.MemberOptions{})
		srv := httptest.NewServer(server.NewStationHandler(server.StationConfig{Replica: mem, Writer: mem, Logger: quiet(), Role: "hub",
			Auth: server.AuthConfig{Argon2: casetest.CheapArgon2}}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	atLeader, atFollower := serve(leader), serve(follower)
	post := func(url, tok string, body any, out any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	if got := post(atLeader+"/api/v1/setup", "", server.SetupRequest{Account: "admin", Name: "管理员", Password: casetest.Password}, nil); got != http.StatusCreated {
		t.Fatalf("setup at the leader: %d", got)
	}
	var signed server.SignInResponse
	if got := post(atLeader+"/api/v1/signin", "", server.SignInRequest{Account: "admin", Password: casetest.Password}, &signed); got != http.StatusOK {
		t.Fatalf("sign-in at the leader: %d", got)
	}
	region := villA
	name := "王五"
	if got := post(atLeader+"/api/v1/accounts", signed.Token, server.AccountRequest{Account: "wg.a", Name: &name, Region: &region,
		Roles: []cases.Role{cases.RoleGridWorker}, Password: casetest.Password}, nil); got != http.StatusCreated {
		t.Fatalf("create an account at the leader: %d", got)
	}
	req, _ := http.NewRequest("GET", atFollower+"/api/v1/accounts/wg.a", nil)
	req.Header.Set("Authorization", "Bearer "+signed.Token)
	waitFor(t, "the session and the account at the follower", func() bool {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var digests [][32]byte
	last := leader.raft.LastIndex()
	for _, m := range members {
		waitFor(t, "every member applied", func() bool { return m.fsm.Replica().RaftApplied() >= last })
		d, _ := m.fsm.Replica().KeyspaceDigest()
		digests = append(digests, d)
	}
	if digests[0] != digests[1] || digests[1] != digests[2] {
		t.Error("members' keyspaces differ after sign-in")
	}
}
