package node_test

// The replica's part of the workflow: case numbers issued inside the batch, durable and
// never twice; the resident-ID index; transitions judged at the batch's time with the
// calendar in force; the due index a lower bound that finds every case truly due.

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// numbered is a registration that asks for a case number of code and names no id.
func numbered(code string, serial int) node.Change {
	c := registration("x", villageA, "grid1", 0)
	c.Case, c.CaseCode = "", code
	for i, w := range c.Writes {
		if w.Field == "petitioners" {
			ps, _ := json.Marshal([]cases.Person{{Name: "张三", IDNumber: residentID(testCounty, serial)}})
			c.Writes[i].JSON = ps
		}
	}
	return c
}

// Case numbers are issued 1, 2, 3 … per station code and year inside the batch that writes
// the registration, with their check digit; a refused registration issues none; the counter
// survives a reopen; the next year starts again at 1; the case's id is made from the number.
func TestCaseNumbers_IssuedInTheBatchAndDurable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	now := time.Date(2026, 12, 31, 22, 0, 0, 0, cases.Shanghai)
	clock := func() time.Time { return now }
	open := func() *node.Replica {
		r, err := node.Open(dir, node.Options{NodeID: "zs-chengguan", Region: townA, Now: clock, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open()
	number := func(r *node.Replica, op cases.Op) string {
		c := mustCase(t, r, op.Case)
		return c.String("case_no")
	}
	// Two in one batch, one refused between them.
	bad := numbered("3204", 2)
	bad.Writes = slices.DeleteFunc(bad.Writes, func(w cases.LocalWrite) bool { return w.Field == "summary" })
	ops, errs, err := r.WriteBatch(context.Background(), []node.Change{numbered("3204", 1), bad, numbered("3204", 3)}, nil)
	if err != nil || errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("batch: %v, %v", errs, err)
	}
	var got []string
	for _, op := range []cases.Op{ops[0], ops[2]} {
		got = append(got, number(r, op))
	}
	if !slices.Equal(got, []string{"3204-26-11", "3204-26-22"}) {
		t.Fatalf("numbers %v, want the 1st and 2nd of 2026 with their check digits", got)
	}
	if ops[0].Case != "zs-chengguan-3204-26-11" {
		t.Errorf("id %q, want the station and the number", ops[0].Case)
	}
	for _, n := range got {
		if _, err := cases.ParseCaseNumber(n); err != nil {
			t.Errorf("issued %s does not parse: %v", n, err)
		}
	}
	// Asking for a number and giving one is refused.
	given := numbered("3204", 4)
	given.Writes = append(given.Writes, cases.LocalWrite{Field: "case_no", JSON: json.RawMessage(`"3204-26-99"`)})
	if _, err := r.Write(context.Background(), given); err == nil {
		t.Error("a registration that both asks for and gives a number was accepted")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = open()
	defer r.Close()
	if n := number(r, mustWrite(t, r, numbered("3204", 5))); !strings.HasPrefix(n, "3204-26-3") {
		t.Errorf("after a reopen: %s, want the 3rd of 2026", n)
	}
	if n := number(r, mustWrite(t, r, numbered("3205", 6))); !strings.HasPrefix(n, "3205-26-1") {
		t.Errorf("another code: %s, want its 1st", n)
	}
	now = now.Add(3 * time.Hour) // 01:00 on 1 January 2027 in Beijing
	if n := number(r, mustWrite(t, r, numbered("3204", 7))); !strings.HasPrefix(n, "3204-27-1") {
		t.Errorf("in the new year: %s, want the 1st of 2027", n)
	}
}

// The resident-ID index lists every case a person petitioned in, whether the case was
// written here or arrived from a peer.
func TestCasesWithResident(t *testing.T) {
	st := openTestReplica(t, "st", townA)
	hub := openTestReplica(t, "hub", testCounty)
	id := residentID(testCounty, 42)
	with := func(c node.Change) node.Change {
		for i, w := range c.Writes {
			if w.Field == "petitioners" {
				c.Writes[i].JSON, _ = json.Marshal([]cases.Person{{Name: "王芳", IDNumber: id}, {Name: "李四", IDNumber: residentID(testCounty, 7)}})
			}
		}
		return c
	}
	mustWrite(t, st, with(registration("S-1", villageA, "grid1", 0)))
	mustWrite(t, hub, with(registration("H-1", villageB, "county1", 0)))
	mustWrite(t, hub, registration("H-2", villageB, "county1", 0))
	link{st, hub}.pull(t)
	got, err := hub.CasesWithResident(id)
	if err != nil || !slices.Equal(got, []string{"H-1", "S-1"}) {
		t.Fatalf("hub: %v, %v; want H-1 and S-1", got, err)
	}
	if got, _ := st.CasesWithResident(id); !slices.Equal(got, []string{"S-1"}) {
		t.Errorf("station: %v, want S-1 only", got)
	}
	if got, _ := hub.CasesWithResident(residentID(testCounty, 999)); len(got) != 0 {
		t.Errorf("an unknown person: %v", got)
	}
}

// A transition is judged at the time of the batch that writes it and fills in that time;
// with the calendar in force at the replica (set by a configuration document), a request
// made in the window counts working days on it.
func TestTransition_AtTheBatchTimeWithTheCalendarInForce(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, cases.Shanghai)
	r := openTestReplicaOpts(t, vfs.NewMem(), node.Options{NodeID: "hub", Region: testCounty, Now: func() time.Time { return now }})
	mustWrite(t, r, registration("C-1", villageA, "county1", now.UnixMilli()))
	mustWrite(t, r, node.Change{Case: "C-1", Author: "county1", To: cases.Forwarded,
		Data: map[string]json.RawMessage{"handler_unit": jsonString("县住建局"), "handler_region": jsonString(testCounty)}})
	c := mustCase(t, r, "C-1")
	if c.Int("routed_at") != now.UnixMilli() || c.Int("forward_received_at") != now.UnixMilli() {
		t.Errorf("routed at %d, received at %d; want the batch's time %d", c.Int("routed_at"), c.Int("forward_received_at"), now.UnixMilli())
	}
	// A county calendar with an extra holiday on Tuesday 3/3 moves the 5-working-day objection.
	text := strings.Replace(cases.DefaultCalendarText(), "version cn-2025-2026.1", "version zs-2026.2", 1) + "holiday 2026-03-03 县里的假日\n"
	mustWrite(t, r, node.Change{Case: cases.ConfigID(cases.ConfigCalendar, testCounty), Kind: cases.KindConfig, Author: "admin",
		Writes: []cases.LocalWrite{{Field: "config", JSON: jsonString(text)}}})
	cal, doc, err := r.Calendar()
	if err != nil || doc.ID != "cfg.calendar.420323" || cal.Version() != "zs-2026.2" {
		t.Fatalf("calendar %s from %q: %v", cal.Version(), doc.ID, err)
	}
	cs, _ := cases.CaseClocks(c, cal, nil)
	for _, k := range cs {
		if k.Kind == cases.ClockObjection && k.Last.String() != "2026-03-10" {
			t.Errorf("objection ends %s, want 2026-03-10 (3/3 a holiday)", k.Last)
		}
	}
	// A configuration document holds configuration only.
	if _, err := r.Write(context.Background(), node.Change{Case: cases.ConfigID(cases.ConfigCalendar, testCounty), Kind: cases.KindConfig,
		Author: "admin", Writes: []cases.LocalWrite{{Field: "summary", JSON: jsonString("x")}}}); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("a summary in a configuration document: %v", err)
	}
}

// The due index holds a lower bound of each case's next deadline, so a query for what falls
// due within N days finds every case that truly does on the calendar in force; extensions
// move it; a closed case leaves it.
func TestDueIndex_FindsEveryCaseDue(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, cases.Shanghai)
	r := openTestReplicaOpts(t, vfs.NewMem(), node.Options{NodeID: "hub", Region: testCounty, Now: func() time.Time { return now }})
	day := 24 * time.Hour
	mustWrite(t, r, registration("D-1", villageA, "county1", now.UnixMilli()))              // decide by 01-20
	mustWrite(t, r, registration("D-2", villageA, "county1", now.Add(-20*day).UnixMilli())) // overdue since 12-31
	mustWrite(t, r, registration("D-3", villageA, "county1", now.Add(-80*day).UnixMilli())) // accepted, extended
	mustWrite(t, r, registration("D-4", villageA, "county1", now.Add(-2*day).UnixMilli()))  // closed
	mustWrite(t, r, node.Change{Case: "D-3", Author: "c", To: cases.Accepted, Data: map[string]json.RawMessage{"notice_at": jsonInt(now.Add(-70 * day).UnixMilli())}})
	mustWrite(t, r, node.Change{Case: "D-3", Author: "c", To: cases.Investigating, Data: map[string]json.RawMessage{"route": jsonString("Art31(6)")}})
	// 60 days from 10-27 end on 12-26 — already past: the extension is refused as late.
	if _, err := r.Write(context.Background(), node.Change{Case: "D-3", Author: "c", To: cases.Extended, Data: map[string]json.RawMessage{
		"days": jsonInt(30), "approver": jsonString("李局长"), "approver_role": jsonString("unit_head"), "reason": jsonString("需会同调查")}}); err == nil {
		t.Error("an extension after the handling period ended was accepted")
	}
	mustWrite(t, r, node.Change{Case: "D-4", Author: "c", To: cases.NotAccepted, Data: map[string]json.RawMessage{"refusal": jsonString("不予受理")}})
	mustWrite(t, r, node.Change{Case: "D-4", Author: "c", To: cases.Closed, Data: map[string]json.RawMessage{"close_reason": jsonString("已告知")}})
	list := func(within time.Duration) []string {
		p, err := r.List(node.Query{DueBefore: now.Add(within).UnixMilli(), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range p.Cases {
			ids = append(ids, c.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := list(0); !slices.Equal(got, []string{"D-2", "D-3"}) {
		t.Errorf("overdue now: %v, want D-2 and D-3", got)
	}
	if got := list(16 * day); !slices.Equal(got, []string{"D-1", "D-2", "D-3"}) {
		t.Errorf("due within 16 days: %v, want D-1 too (D-4 is closed)", got)
	}
}
