package hub_test

// The workflow's API at a hub: three members (real TLS Raft, real HTTP, Pebble on disk),
// each serving the station API over its member, whose writes go through the Raft log. A
// registration through a follower gets one case number on every member; transitions are
// judged inside apply at the entry's time, so all members hold the same bytes; a refusal
// comes back as the field's error through any member; the county's calendar set through
// one member is in force at all.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/server/hub"
)

var _ server.WorkflowReplica = (*hub.Member)(nil)

// serveAPI makes every member serve the station API over its member.
func serveAPI(t *testing.T, ms []*testMember) {
	t.Helper()
	for _, m := range ms {
		mem := m.c.Member()
		var h http.Handler = server.NewStationHandler(server.StationConfig{Replica: mem, Writer: mem, Role: "hub", CaseCode: "3200", Logger: quiet()})
		m.extra.Store(&h)
	}
}

func apiCall(t *testing.T, m *testMember, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.url+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s at %s: %d, want %d: %s", method, path, m.id, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHubAPI_WorkflowThroughRaft(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ms := startTestCluster(t, ctx, t.TempDir())
	serveAPI(t, ms)
	leader := leaderOf(t, ms...)
	var follower, third *testMember
	for _, m := range ms {
		switch {
		case m == leader:
		case follower == nil:
			follower = m
		default:
			third = m
		}
	}
	waitFor(t, "the members' URLs recorded", func() bool {
		for _, s := range follower.c.Status().Members {
			if s.URL == "" {
				return false
			}
		}
		return true
	})
	reg := map[string]any{"kind": "petition", "region": villA, "summary": "反映征地补偿款未足额发放到户", "category": "征地拆迁",
		"petitioners": []cases.Person{{Name: "李四", IDNumber: casetest.ResidentID("420323", 3)}}}
	var c server.WorkflowCaseJSON
	apiCall(t, follower, "POST", "/api/v1/cases", reg, http.StatusCreated, &c)
	if !strings.HasPrefix(c.Number, "3200-") || c.State != "REGISTERED" {
		t.Fatalf("registered through a follower: %s %s", c.Number, c.State)
	}
	path := "/api/v1/cases/" + c.ID + "/transitions"
	apiCall(t, leader, "POST", path, map[string]any{"to": "ASSIGNED", "data": map[string]any{"handler_unit": "城关镇人民政府", "handler_region": "420323100",
		"assignee": "zs-chengguan"}}, http.StatusOK, nil)
	var refusal server.ErrorBody
	apiCall(t, follower, "POST", path, map[string]any{"to": "CLOSED", "data": map[string]any{"close_reason": "x"}}, http.StatusConflict, &refusal)
	if refusal.Error.Code != "illegal_transition" || refusal.Error.Rule == "" {
		t.Errorf("refusal through a follower: %+v", refusal.Error)
	}
	calendar := strings.Replace(cases.DefaultCalendarText(), "version cn-2025-2026.1", "version zs-2026.3", 1)
	var cfg server.ConfigResponse
	apiCall(t, follower, "PUT", "/api/v1/config/calendar", calendar, http.StatusOK, &cfg)
	if cfg.Version != "zs-2026.3" {
		t.Errorf("calendar after PUT: %+v", cfg.Version)
	}
	identical(t, ms...)
	var got server.WorkflowCaseJSON
	apiCall(t, third, "GET", "/api/v1/cases/"+c.Number, nil, http.StatusOK, &got)
	if got.ID != c.ID || got.State != "ASSIGNED" || got.Calendar.Version != "zs-2026.3" || got.Deadline == nil {
		t.Errorf("at the third member: %s in %s on %s, deadline %+v", got.ID, got.State, got.Calendar.Version, got.Deadline)
	}
	var m server.MetricsResponse
	apiCall(t, third, "GET", "/api/v1/metrics/rates?region=420323", nil, http.StatusOK, &m)
	if m.Cases != 1 || m.Definitions.Version != "cn-default.1" {
		t.Errorf("metrics at the hub: %d cases on %s", m.Cases, m.Definitions.Version)
	}
}
