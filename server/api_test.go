package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

func newStation(t *testing.T) (*node.Replica, *httptest.Server) {
	t.Helper()
	r, err := node.Open("st", node.Options{NodeID: "zs-chengguan", Region: "420323100", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	srv := httptest.NewServer(server.NewStationHandler(server.StationConfig{Replica: r}))
	t.Cleanup(srv.Close)
	return r, srv
}

func get(t *testing.T, url string, wantStatus int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, wantStatus)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func register(t *testing.T, r *node.Replica, id string) {
	t.Helper()
	_, err := r.Write(context.Background(), node.Change{Case: id, Kind: cases.KindRegister, Author: "wg001", Writes: []cases.LocalWrite{
		{Field: "kind", JSON: json.RawMessage(`"petition"`)},
		{Field: "region", JSON: json.RawMessage(`"420323100201"`)},
		{Field: "petitioners", JSON: json.RawMessage(`[{"name":"王芳","id_number":"11010519491231002X","phone":"13800138000"}]`)},
		{Field: "summary", JSON: json.RawMessage(`"反映拖欠工资"`)},
		{Field: "category", JSON: json.RawMessage(`"劳动社保"`)},
		{Field: "registered_at", JSON: json.RawMessage(`1767225600000`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStatus_CountsCasesAndOps(t *testing.T) {
	r, srv := newStation(t)
	register(t, r, "zs-2026-0001")
	var st server.StatusResponse
	get(t, srv.URL+"/api/v1/status", http.StatusOK, &st)
	if st.Node != "zs-chengguan" || st.Role != "station" || st.Region != "420323100" || st.Cases != 1 || st.Ops != 1 || st.FeedSeq != 1 {
		t.Errorf("status = %+v", st)
	}
	if st.Incarnation == 0 || st.Epoch == "" {
		t.Errorf("status lacks incarnation or epoch: %+v", st)
	}
}

func TestCase_ShowsFieldsDeadlineAndConflicts(t *testing.T) {
	r, srv := newStation(t)
	register(t, r, "zs-2026-0001")
	// Two edits of the same field, each made against the state before the other: a conflict.
	head, err := r.CaseHead("zs-2026-0001")
	if err != nil {
		t.Fatal(err)
	}
	base := head.Observe("category")
	for _, v := range []string{`"城乡建设"`, `"涉法涉诉"`} {
		if _, err := r.Write(context.Background(), node.Change{Case: "zs-2026-0001", Kind: cases.KindEdit, Author: "wg002",
			Writes: []cases.LocalWrite{{Field: "category", JSON: json.RawMessage(v)}}, Base: base}); err != nil {
			t.Fatal(err)
		}
	}
	var c server.CaseJSON
	get(t, srv.URL+"/api/v1/cases/zs-2026-0001", http.StatusOK, &c)
	if c.State != "REGISTERED" || c.Fields["summary"] != "反映拖欠工资" || c.Ops != 3 {
		t.Errorf("case = %+v", c)
	}
	if got := len(c.Conflicts["category"]); got != 2 {
		t.Errorf("conflicts on category: %d values, want 2 (%+v)", got, c.Conflicts)
	}
	if c.Deadline == nil || c.Deadline.At != "2026-01-16T23:59:59+08:00" { // 24:00 of the 15th day after receipt
		t.Errorf("deadline = %+v, want the end of the 15th day after receipt, in Asia/Shanghai", c.Deadline)
	}
}

func TestErrors_AreJSON(t *testing.T) {
	_, srv := newStation(t)
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/cases/nope", http.StatusNotFound, "no_case"},
		{"/no/such/endpoint", http.StatusNotFound, "not_found"},
	} {
		var body server.ErrorBody
		get(t, srv.URL+tc.path, tc.status, &body)
		if body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%s: error body %+v, want code %q", tc.path, body, tc.code)
		}
	}
}

func TestListCases_PagesWithCursorsAndFilters(t *testing.T) {
	r, srv := newStation(t)
	for _, id := range []string{"zs-1", "zs-2", "zs-3"} {
		register(t, r, id)
	}
	seen := map[string]bool{}
	url := srv.URL + "/api/v1/cases?state=REGISTERED&limit=2"
	for pages := 0; url != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		var page server.CaseList
		get(t, url, http.StatusOK, &page)
		for _, c := range page.Cases {
			if seen[c.ID] {
				t.Errorf("%s listed twice", c.ID)
			}
			seen[c.ID] = true
		}
		url = ""
		if page.Next != "" {
			url = srv.URL + "/api/v1/cases?state=REGISTERED&limit=2&cursor=" + page.Next
		}
	}
	if len(seen) != 3 {
		t.Errorf("listed %v, want all 3", seen)
	}
	// Registered 2026-01-01, acceptance due 15 days later: overdue now, and within 7 days of now.
	var due server.CaseList
	get(t, srv.URL+"/api/v1/cases?due_within=7d", http.StatusOK, &due)
	if len(due.Cases) != 3 {
		t.Errorf("due_within=7d listed %d cases, want 3", len(due.Cases))
	}
	for _, bad := range []string{"limit=0", "limit=x", "due_within=soon", "cursor=!!", "state=REGISTERED&cursor=" + "eA"} {
		var body server.ErrorBody
		get(t, srv.URL+"/api/v1/cases?"+bad, http.StatusBadRequest, &body)
		if body.Error.Code == "" || body.Error.Field == "" {
			t.Errorf("%s: error %+v, want a code and the field", bad, body)
		}
	}
}
