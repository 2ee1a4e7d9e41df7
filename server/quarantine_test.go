package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

// A hub lists the ops a station wrote on a case it may not write, with who, where and
// which fields, so that a person can decide; bad parameters are 400s naming the field.
func TestQuarantine_ListsOpsKeptAside(t *testing.T) {
	hub, err := node.Open("hub", node.Options{NodeID: "zs-hub", Region: "420323", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	register(t, hub, "H-1") // the county's case, never in the station's scope
	st, err := node.Open("st", node.Options{NodeID: "zs-baofeng", Region: "420323103", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	register(t, st, "H-1") // the same id registered at the station: not the station's to write
	entries, next, err := st.Feed(0, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var in []node.Incoming
	for _, e := range entries {
		op, err := cases.DecodeOp(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, node.Incoming{Op: op, Raw: e.Raw, Meta: e.Meta})
	}
	rule := &node.WriterRule{Node: "zs-baofeng", Scopes: []string{node.ScopeOfRegion("420323103"), node.ScopeOfStation("zs-baofeng")}}
	if _, err := hub.Apply(context.Background(), node.Batch{From: "zs-baofeng", Ops: in, Writer: rule, StampReceipt: true,
		Checkpoint: &node.Checkpoint{Epoch: st.Epoch(), Pos: next}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.NewStationHandler(server.StationConfig{Replica: hub, Role: "hub"}))
	defer srv.Close()

	var list server.QuarantineList
	get(t, srv.URL+"/api/v1/quarantine", http.StatusOK, &list)
	if len(list.Ops) != 1 {
		t.Fatalf("quarantine lists %d ops, want 1", len(list.Ops))
	}
	q := list.Ops[0]
	if q.Case != "H-1" || q.Via != "zs-baofeng" || q.Kind != "register" || q.Author != "wg001" || len(q.Fields) == 0 || q.ReceivedAt == "" {
		t.Errorf("quarantined op: %+v", q)
	}
	var status server.StatusResponse
	get(t, srv.URL+"/api/v1/status", http.StatusOK, &status)
	if status.Quarantined != 1 || status.Role != "hub" {
		t.Errorf("status: quarantined %d, role %q", status.Quarantined, status.Role)
	}
	get(t, srv.URL+"/api/v1/quarantine?after=1000", http.StatusOK, &list)
	if len(list.Ops) != 0 {
		t.Errorf("after the last position: %d ops", len(list.Ops))
	}
	for _, bad := range []string{"after=-1", "after=x", "limit=0", "limit=5000"} {
		var e struct {
			Error struct{ Code, Field string }
		}
		get(t, srv.URL+"/api/v1/quarantine?"+bad, http.StatusBadRequest, &e)
		if e.Error.Field == "" {
			t.Errorf("%s: error names no field", bad)
		}
	}
}
