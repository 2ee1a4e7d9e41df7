package server_test

// The workflow's endpoints through real HTTP against a real replica on disk: register,
// read by id or by case number, transitions with their data and refusals, notes, edits
// against the version read (conflicts and their resolution), lists by deadline, state and
// kind, repeat detection and 不再受理, stubs, configuration.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/casetest"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

// apiClock is the one clock of a test's replica and API, moved by the test.
type apiClock struct{ ms atomic.Int64 }

func (c *apiClock) now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *apiClock) set(t time.Time)     { c.ms.Store(t.UnixMilli()) }
func (c *apiClock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }

type apiNode struct {
	r   *node.Replica
	srv *httptest.Server
	clk *apiClock
}

// newAPINode opens a replica on disk with id and region and serves its API with a writer.
func newAPINode(t *testing.T, id, region, role string) *apiNode {
	t.Helper()
	clk := &apiClock{}
	clk.set(time.Date(2026, 3, 2, 9, 0, 0, 0, cases.Shanghai))
	r, err := node.Open(filepath.Join(t.TempDir(), id), node.Options{NodeID: id, Region: region, Now: clk.now, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	srv := httptest.NewServer(server.NewStationHandler(server.StationConfig{Replica: r, Writer: r, Now: clk.now, Role: role,
		CaseCode: "3204", Logger: quietLog()}))
	t.Cleanup(srv.Close)
	return &apiNode{r: r, srv: srv, clk: clk}
}

// call sends method path with body (JSON-encoded unless a string or nil) and decodes the
// answer into out, failing unless the status is want.
func (n *apiNode) call(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

// view sends a request answered with a case, decoded into a fresh value.
func (n *apiNode) view(t *testing.T, method, path string, body any, want int) server.WorkflowCaseJSON {
	t.Helper()
	var c server.WorkflowCaseJSON
	n.call(t, method, path, body, want, &c)
	return c
}

// refused sends a request that must fail with status and code (and field, if given), in
// Chinese first with English, and leave the store untouched.
func (n *apiNode) refused(t *testing.T, method, path string, body any, status int, code, field string) server.ErrorDetail {
	t.Helper()
	before := n.r.Status().FeedSeq
	var e server.ErrorBody
	n.call(t, method, path, body, status, &e)
	if (code != "" && e.Error.Code != code) || (field != "" && e.Error.Field != field) {
		t.Errorf("%s %s: error %+v, want code %q field %q", method, path, e.Error, code, field)
	}
	if zh, en, ok := strings.Cut(e.Error.Message, " / "); !ok || !hasCJK(zh) || en == "" {
		t.Errorf("message %q is not Chinese first, then English", e.Error.Message)
	}
	if got := n.r.Status().FeedSeq; got != before {
		t.Errorf("a refused request wrote: feed %d → %d", before, got)
	}
	return e.Error
}

func petition(id string, extra map[string]any) map[string]any {
	m := map[string]any{
		"kind": "petition", "region": "420323100201", "category": "劳动社保", "channel": "走访",
		"summary":     "反映拖欠农民工工资近半年未予支付，请求依法处理。",
		"petitioners": []cases.Person{{Name: "王芳", IDNumber: casetest.ResidentID("420323", 7), Phone: "13800138000"}},
	}
	if id != "" {
		m["id"] = id
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func transition(to cases.State, data map[string]any) map[string]any {
	return map[string]any{"to": to, "data": data}
}

func TestAPI_RegisterTransitionsAndClocks(t *testing.T) {
	n := newAPINode(t, "zs-chengguan", "420323100", "station")
	c := n.view(t, "POST", "/api/v1/cases", petition("", nil), http.StatusCreated)
	if c.State != "REGISTERED" || c.Number != "3204-26-11" || c.ID != "zs-chengguan-3204-26-11" {
		t.Fatalf("registered %s as %s in %s", c.ID, c.Number, c.State)
	}
	if c.Deadline == nil || c.Deadline.Clock != cases.ClockDecide || c.Deadline.LastDay != "2026-03-17" || c.Deadline.DaysLeft != 15 {
		t.Fatalf("next deadline %+v, want the 15-day decision on 2026-03-17", c.Deadline)
	}
	if !slices.Contains(c.NextStates, "ACCEPTED") || c.Calendar.Version != cases.DefaultCalendar().Version() {
		t.Errorf("next states %v, calendar %+v", c.NextStates, c.Calendar)
	}
	// Read back by its number as a clerk types it from the phone: full-width digits, spaces.
	byNumber := n.view(t, "GET", "/api/v1/cases/"+url.PathEscape("３２０４ 26 11"), nil, http.StatusOK)
	if byNumber.ID != c.ID {
		t.Errorf("by number: %s", byNumber.ID)
	}
	n.refused(t, "GET", "/api/v1/cases/3204-26-12", nil, http.StatusNotFound, "no_case", "id") // a misheard digit

	path := "/api/v1/cases/" + c.ID + "/transitions"
	n.clk.add(24 * time.Hour)
	c = n.view(t, "POST", path, transition(cases.Accepted, map[string]any{"notice_at": n.clk.now().UnixMilli()}), http.StatusOK)
	c = n.view(t, "POST", path, transition(cases.Investigating, map[string]any{"route": "Art31(6)"}), http.StatusOK)
	if c.Deadline.Clock != cases.ClockHandle || c.Deadline.LastDay != "2026-05-02" {
		t.Fatalf("after acceptance on 3/3: %+v, want handling until 2026-05-02", c.Deadline)
	}
	e := n.refused(t, "POST", path, transition(cases.Extended, map[string]any{"days": 30, "approver": "张副局长", "approver_role": "deputy_head", "reason": "需会同调查"}),
		http.StatusBadRequest, "not_unit_head", "approver_role")
	if e.Rule != "R22 Art 34" {
		t.Errorf("refusal names rule %q", e.Rule)
	}
	c = n.view(t, "POST", path, transition(cases.Extended, map[string]any{"days": 30, "approver": "李局长", "approver_role": "unit_head", "reason": "需会同调查"}), http.StatusOK)
	if c.Deadline.LastDay != "2026-06-01" {
		t.Errorf("extended: %+v, want 2026-06-01", c.Deadline)
	}
	e = n.refused(t, "POST", path, transition(cases.Closed, map[string]any{"close_reason": "x"}), http.StatusConflict, "illegal_transition", "state")
	if e.Rule == "" || !strings.Contains(e.Message, "EXTENDED") {
		t.Errorf("illegal transition error %+v", e)
	}
	n.refused(t, "POST", path, transition(cases.OpinionServed, map[string]any{"outcome": "全部支持", "served_at": n.clk.now().UnixMilli()}), http.StatusBadRequest, "not_allowed", "outcome")
	n.refused(t, "POST", path, transition("DONE", nil), http.StatusBadRequest, "not_allowed", "to")
	n.refused(t, "POST", path, map[string]any{"to": "OPINION_SERVED", "data": map[string]any{}, "state": "INVESTIGATING"}, http.StatusConflict, "stale_state", "state")
	c = n.view(t, "POST", path, transition(cases.OpinionServed, map[string]any{"outcome": "支持", "served_at": n.clk.now().UnixMilli()}), http.StatusOK)
	if c.Deadline != nil {
		t.Errorf("no duty runs after the opinion (only the petitioner's window): %+v", c.Deadline)
	}
	if i := slices.IndexFunc(c.Clocks, func(k server.ClockView) bool { return k.Clock == cases.ClockReviewRequest }); i < 0 || c.Clocks[i].Holder != cases.HolderPetitioner {
		t.Errorf("clocks %+v lack the petitioner's 30 days to request 复查", c.Clocks)
	}
	noted := n.view(t, "POST", "/api/v1/cases/"+c.ID+"/notes", map[string]any{"text": "已电话回访，信访人表示满意", "kind": "call"}, http.StatusCreated)
	if len(noted.Notes) != 1 || noted.Notes[0].Author != "operator" {
		t.Errorf("notes %+v", noted.Notes)
	}
}

func TestAPI_BadInputIsRefusedAndWritesNothing(t *testing.T) {
	n := newAPINode(t, "zs-chengguan", "420323100", "station")
	badID := petition("", map[string]any{"petitioners": []cases.Person{{Name: "王芳", IDNumber: "420323198001011235"}}})
	for _, tc := range []struct {
		name        string
		body        any
		status      int
		code, field string
	}{
		{"not JSON", "{", http.StatusBadRequest, "bad_body", ""},
		{"JSON and more", `{"kind":"petition"} {}`, http.StatusBadRequest, "bad_body", ""},
		{"an unknown field", petition("", map[string]any{"colour": "red"}), http.StatusBadRequest, "unknown_field", "colour"},
		{"a wrong check digit", badID, http.StatusBadRequest, "resident_id_checksum", "petitioners[0].id_number"},
		{"no region", func() map[string]any { m := petition("", nil); delete(m, "region"); return m }(), http.StatusBadRequest, "required", "region"},
		{"outside this station's jurisdiction", petition("", map[string]any{"region": "420323101219"}), http.StatusBadRequest, "out_of_jurisdiction", "region"},
		{"an event time by hand", petition("", map[string]any{"notice_at": 1767225600000}), http.StatusBadRequest, "use_transition", "notice_at"},
		{"registered as accepted", petition("", map[string]any{"state": "ACCEPTED"}), http.StatusBadRequest, "register_state", "state"},
		{"an unknown flag", petition("", map[string]any{"flags": []string{"紧急"}}), http.StatusBadRequest, "not_allowed", "flags"},
		{"a bad id", petition("a/b", nil), http.StatusBadRequest, "case_id", "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.refused(t, "POST", "/api/v1/cases", tc.body, tc.status, tc.code, tc.field)
		})
	}
	n.refused(t, "POST", "/api/v1/cases", `{"summary":"`+strings.Repeat("长", 1<<19)+`"}`, http.StatusRequestEntityTooLarge, "too_large", "")
	n.refused(t, "POST", "/api/v1/cases/nope/transitions", transition(cases.Accepted, nil), http.StatusNotFound, "no_case", "id")
	for _, q := range []string{"due_within=7", "overdue=yes", "kind=letter", "state=DONE", "limit=0"} {
		n.refused(t, "GET", "/api/v1/cases?"+q, nil, http.StatusBadRequest, "", "")
	}
}

// Two people edit the same field, each against the version they read: the second edit does
// not overwrite the first, both values are shown as a conflict; an edit against the version
// that shows both resolves it. An edit that names no version is refused.
func TestAPI_EditsAgainstTheVersionReadBecomeConflicts(t *testing.T) {
	n := newAPINode(t, "zs-chengguan", "420323100", "station")
	c := n.view(t, "POST", "/api/v1/cases", petition("P-1", nil), http.StatusCreated)
	seen := c.Version
	c = n.view(t, "PATCH", "/api/v1/cases/P-1", map[string]any{"base": seen, "set": map[string]any{"category": "城乡建设"}}, http.StatusOK)
	c = n.view(t, "PATCH", "/api/v1/cases/P-1", map[string]any{"base": seen, "set": map[string]any{"category": "涉法涉诉"}}, http.StatusOK)
	if len(c.Conflicts["category"]) != 2 {
		t.Fatalf("two edits against one version: conflicts %+v", c.Conflicts)
	}
	c = n.view(t, "PATCH", "/api/v1/cases/P-1", map[string]any{"base": c.Version, "set": map[string]any{"category": "劳动社保"},
		"add": map[string]any{"flags": []string{"supervised"}}}, http.StatusOK)
	if len(c.Conflicts) != 0 || c.Fields["category"] != "劳动社保" || !slices.ContainsFunc(c.FlagList, func(f server.FlagView) bool { return f.Code == "supervised" && !f.Computed }) {
		t.Errorf("after resolving: conflicts %+v, category %v, flags %+v", c.Conflicts, c.Fields["category"], c.FlagList)
	}
	n.refused(t, "PATCH", "/api/v1/cases/P-1", map[string]any{"set": map[string]any{"category": "x"}}, http.StatusBadRequest, "base_required", "base")
	n.refused(t, "PATCH", "/api/v1/cases/P-1", map[string]any{"base": []string{"nonsense"}}, http.StatusBadRequest, "bad_body", "base[0]")
	n.refused(t, "PATCH", "/api/v1/cases/P-1", map[string]any{"base": c.Version, "set": map[string]any{"state": "CLOSED"}}, http.StatusBadRequest, "use_transition", "state")
}

// Lists by deadline (within N days, overdue), state and kind, on the calendar in force.
func TestAPI_ListsByDeadlineStateAndKind(t *testing.T) {
	n := newAPINode(t, "zs-chengguan", "420323100", "station")
	n.call(t, "POST", "/api/v1/cases", petition("L-old", nil), http.StatusCreated, nil) // received 3/2: due 3/17
	n.clk.add(10 * 24 * time.Hour)
	n.call(t, "POST", "/api/v1/cases", petition("L-new", nil), http.StatusCreated, nil) // received 3/12: due 3/27
	n.call(t, "POST", "/api/v1/cases", petition("L-dispute", map[string]any{"kind": "dispute"}), http.StatusCreated, nil)
	n.call(t, "POST", "/api/v1/cases/L-dispute/transitions", transition(cases.Mediating, map[string]any{"committee": "城关镇人民调解委员会", "mediator": "王调解员"}), http.StatusOK, nil)
	n.clk.add(8 * 24 * time.Hour) // 3/20: L-old is overdue, L-new due in 7 days
	ids := func(q string) []string {
		var l server.WorkflowCaseList
		n.call(t, "GET", "/api/v1/cases?"+q, nil, http.StatusOK, &l)
		var out []string
		for _, c := range l.Cases {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}
	for q, want := range map[string][]string{
		"overdue=true":                   {"L-old"},
		"due_within=7d":                  {"L-new", "L-old"},
		"due_within=6d":                  {"L-old"},
		"due_within=7d&overdue=false":    {"L-new"},
		"state=MEDIATING":                {"L-dispute"},
		"kind=dispute":                   {"L-dispute"},
		"kind=petition&state=REGISTERED": {"L-new", "L-old"},
	} {
		if got := ids(q); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
}

// A petitioner registering the same matter again is flagged as a repeat pointing at the
// earlier case; once that matter went through 复核, the same facts are refused (不再受理)
// with an error pointing at it, unless new facts and reasons are given.
func TestAPI_RepeatsAndNotAcceptedAgain(t *testing.T) {
	n := newAPINode(t, "zs-chengguan", "420323100", "station")
	first := n.view(t, "POST", "/api/v1/cases", petition("R-1", nil), http.StatusCreated)
	again := n.view(t, "POST", "/api/v1/cases", petition("R-2", nil), http.StatusCreated)
	if !slices.Equal(again.RepeatOf, []string{"R-1"}) || !slices.ContainsFunc(again.FlagList, func(f server.FlagView) bool { return f.Code == cases.FlagRepeat }) {
		t.Fatalf("second registration: repeat_of %v, flags %+v", again.RepeatOf, again.FlagList)
	}
	if other := petition("R-3", map[string]any{"category": "婚姻家庭", "summary": "请求协调解决家庭赡养纠纷"}); true {
		c := n.view(t, "POST", "/api/v1/cases", other, http.StatusCreated)
		if len(c.RepeatOf) != 0 {
			t.Errorf("another matter of the same person is a repeat of %v", c.RepeatOf)
		}
	}
	// R-1 goes all the way through 复查 and 复核.
	p := "/api/v1/cases/R-1/transitions"
	step := func(to cases.State, data map[string]any) {
		t.Helper()
		n.clk.add(24 * time.Hour)
		n.call(t, "POST", p, transition(to, data), http.StatusOK, nil)
	}
	step(cases.Accepted, map[string]any{"notice_at": n.clk.now().Add(24 * time.Hour).UnixMilli()})
	step(cases.Investigating, map[string]any{"route": "Art31(6)"})
	step(cases.OpinionServed, map[string]any{"outcome": "不予支持", "served_at": n.clk.now().Add(24 * time.Hour).UnixMilli()})
	step(cases.Review, nil)
	step(cases.Review, map[string]any{"review_outcome": "维持"})
	step(cases.ReReview, nil)
	step(cases.ReReview, map[string]any{"rereview_outcome": "维持"})
	step(cases.Closed, map[string]any{"close_reason": "复核终结"})
	e := n.refused(t, "POST", "/api/v1/cases", petition("R-4", nil), http.StatusConflict, "not_accepted_again", "petitioners")
	if e.Related != "R-1" || e.Rule != "R22 Art 36(3)" || !strings.Contains(e.Message, first.Number) {
		t.Errorf("不再受理 points at %q (%q), rule %q", e.Related, e.Message, e.Rule)
	}
	c := n.view(t, "POST", "/api/v1/cases", petition("R-4", map[string]any{"new_facts": "用人单位2026年4月书面承诺补发后仍未兑现"}), http.StatusCreated)
	if !slices.Contains(c.RepeatOf, "R-1") {
		t.Errorf("with new facts: repeat_of %v", c.RepeatOf)
	}
}

// An accusation that names this very station as the accused is kept here only as a stub:
// its content is not shown and it takes no writes.
func TestAPI_AccusationOfThisStationIsAStub(t *testing.T) {
	n := newAPINode(t, "zs-chengguan", "420323100", "station")
	var c server.WorkflowCaseJSON
	c = n.view(t, "POST", "/api/v1/cases", petition("A-1", map[string]any{"matter_type": "检举控告",
		"accused": cases.Party{Kind: "unit", Name: "城关镇人民政府", Region: "420323100", Station: "zs-chengguan"}}), http.StatusCreated)
	if !c.Stub || len(c.Fields) != 0 || c.Fields["summary"] != nil {
		t.Fatalf("the accusation is shown here: stub %v, fields %v", c.Stub, c.Fields)
	}
	n.refused(t, "PATCH", "/api/v1/cases/A-1", map[string]any{"base": c.Version, "set": map[string]any{"summary": "x"}}, http.StatusConflict, "stub", "id")
	n.refused(t, "POST", "/api/v1/cases/A-1/notes", map[string]any{"text": "x"}, http.StatusConflict, "stub", "id")
	// Nor does a ledger or an export of everything carry it, in full or redacted.
	for _, q := range []string{"?redact=0", "", "?format=xlsx&redact=0"} {
		resp, err := http.Get(n.srv.URL + "/api/v1/export" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("A-1")) {
			t.Errorf("export%s (%s) holds the stub A-1: %.300q", q, resp.Status, body)
		}
	}

	// At the county hub, an accusation of a county bureau (whose region is the county's) is
	// the hub's to handle, not a stub.
	hub := newAPINode(t, "zs-hub", "420323", "hub")
	h := hub.view(t, "POST", "/api/v1/cases", petition("A-2", map[string]any{"matter_type": "检举控告",
		"accused": cases.Party{Kind: "unit", Name: "县住建局", Region: "420323"}}), http.StatusCreated)
	if h.Stub || h.Fields["summary"] == nil {
		t.Errorf("at the hub the accusation of a county bureau is a stub")
	}
}

// Configuration: a station reads the calendar and definitions in force but cannot set
// them; a hub sets them, refusing a broken file by its line, and its views count on them.
func TestAPI_Configuration(t *testing.T) {
	st := newAPINode(t, "zs-chengguan", "420323100", "station")
	var cfg server.ConfigResponse
	st.call(t, "GET", "/api/v1/config/calendar", nil, http.StatusOK, &cfg)
	if cfg.Version != cases.DefaultCalendar().Version() || cfg.Source != "" || !strings.Contains(cfg.Text, "holiday 2026-10-01") {
		t.Errorf("station's calendar %+v", cfg.Version)
	}
	st.refused(t, "PUT", "/api/v1/config/calendar", cases.DefaultCalendarText(), http.StatusForbidden, "hub_only", "")
	st.refused(t, "GET", "/api/v1/config/colours", nil, http.StatusNotFound, "unknown_config", "name")

	hub := newAPINode(t, "zs-hub", "420323", "hub")
	hub.call(t, "POST", "/api/v1/cases", petition("H-1", nil), http.StatusCreated, nil)
	hub.refused(t, "PUT", "/api/v1/config/calendar", "version x\nyears 2026\nworkday 2026-03-02 星期一\n", http.StatusBadRequest, "not_weekend", "line 3")
	text := strings.Replace(cases.DefaultCalendarText(), "version cn-2025-2026.1", "version zs-2026.2", 1)
	text = strings.Replace(text, "rollover off", "rollover on", 1) + "holiday 2026-03-17 县里的假日\n"
	hub.call(t, "PUT", "/api/v1/config/calendar", text, http.StatusOK, &cfg)
	if cfg.Version != "zs-2026.2" || cfg.Source != "cfg.calendar.420323" {
		t.Fatalf("after PUT: %+v", cfg)
	}
	var c server.WorkflowCaseJSON
	hub.call(t, "GET", "/api/v1/cases/H-1", nil, http.StatusOK, &c)
	// 15 days from 3/2 end on 3/17, now a holiday: with roll-over, on 3/18.
	if c.Calendar.Version != "zs-2026.2" || c.Deadline.LastDay != "2026-03-18" {
		t.Errorf("on the county's calendar: %+v, deadline %+v", c.Calendar, c.Deadline)
	}
	bad := strings.Replace(cases.DefaultMetricsText(), `"kind": "count"`, `"kind": "sum"`, 1)
	hub.refused(t, "PUT", "/api/v1/config/metrics", bad, http.StatusBadRequest, "kind", "metrics[7].kind")
}

func hasCJK(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}
