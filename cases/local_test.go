package cases_test

// Tests of local validation: Prepare, Transition, Check and ParseDot. A local write is refused
// with a *FieldError naming the field, in Chinese and English; a replicated op that breaks
// today's rules is applied and flagged.

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// wantFieldError checks that err is a *FieldError for field with code, with both messages,
// and that errors.Is(err, ErrInvalid).
func wantFieldError(t *testing.T, err error, field, code string) {
	t.Helper()
	var fe *cases.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *FieldError %s/%s", err, err, field, code)
	}
	if fe.Field != field || fe.Code != code {
		t.Errorf("FieldError %q/%q (%s), want %q/%q", fe.Field, fe.Code, fe.En, field, code)
	}
	if fe.Zh == "" || fe.En == "" {
		t.Errorf("FieldError %+v lacks a message", fe)
	}
	if !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) is false", err)
	}
}

func lw(field string, v any) cases.LocalWrite { return cases.LocalWrite{Field: field, JSON: jsonOf(v)} }

func raw(field, js string) cases.LocalWrite {
	return cases.LocalWrite{Field: field, JSON: json.RawMessage(js)}
}

func act(a cases.Action, w cases.LocalWrite) cases.LocalWrite { w.Action = a; return w }

// registration is a complete registration's writes.
func registration() []cases.LocalWrite {
	return []cases.LocalWrite{
		lw("kind", cases.MatterPetition),
		lw("region", village),
		lw("petitioners", []cases.Person{{Name: "张三", IDNumber: goodID}}),
		lw("summary", "漏水"),
	}
}

func without(ws []cases.LocalWrite, field string) []cases.LocalWrite {
	return slices.DeleteFunc(slices.Clone(ws), func(w cases.LocalWrite) bool { return w.Field == field })
}

// withNote returns a registered case holding one note, and the note's dot.
func withNote(t *testing.T) (*cases.Case, crdt.Dot) {
	c, reg := registered(t)
	n := localOp(t, c, origins[0], 2, 1, cases.KindNote, act(cases.Append, lw("notes", cases.Note{Text: "走访"})))
	return cases.Fold(caseID, []cases.Stored{reg, n}), n.Op.Dot
}

func TestPrepare_Refuses(t *testing.T) {
	existing, _ := registered(t)
	noted, noteDot := withNote(t)
	fresh := cases.NewCase(caseID)
	tooMany := make([]cases.LocalWrite, cases.MaxWrites+1)
	for i := range tooMany {
		tooMany[i] = lw("summary", "x")
	}
	for _, tc := range []struct {
		name        string
		c           *cases.Case
		kind        cases.Kind
		in          []cases.LocalWrite
		field, code string
	}{
		// Registration.
		{"register without kind", fresh, cases.KindRegister, without(registration(), "kind"), "kind", "required"},
		{"register without region", fresh, cases.KindRegister, without(registration(), "region"), "region", "required"},
		{"register without petitioners", fresh, cases.KindRegister, without(registration(), "petitioners"), "petitioners", "required"},
		{"register without summary", fresh, cases.KindRegister, without(registration(), "summary"), "summary", "required"},
		{"register an existing case", existing, cases.KindRegister, registration(), "id", "case_exists"},
		{"register with an unknown kind of matter", fresh, cases.KindRegister, append(without(registration(), "kind"), lw("kind", "lawsuit")), "kind", "not_allowed"},
		// The case must exist for everything else.
		{"edit a case that does not exist", fresh, cases.KindEdit, []cases.LocalWrite{lw("summary", "x")}, "id", "no_case"},
		{"note on a case that does not exist", fresh, cases.KindNote, []cases.LocalWrite{act(cases.Append, lw("notes", cases.Note{Text: "x"}))}, "id", "no_case"},
		{"transition of a case that does not exist", fresh, cases.KindTransition, []cases.LocalWrite{lw("state", "ACCEPTED")}, "id", "no_case"},
		{"resolve on a case that does not exist", fresh, cases.KindResolve, []cases.LocalWrite{lw("summary", "x")}, "id", "no_case"},
		{"unknown kind of action", existing, "merge-cases", []cases.LocalWrite{lw("summary", "x")}, "kind", "unknown_kind"},
		{"nothing to write", existing, cases.KindEdit, nil, "", "empty"},
		{"too many writes", existing, cases.KindEdit, tooMany, "", "too_many_writes"},
		// State and kind change only through transitions.
		{"edit the state", existing, cases.KindEdit, []cases.LocalWrite{lw("state", "CLOSED")}, "state", "use_transition"},
		{"edit the kind", existing, cases.KindEdit, []cases.LocalWrite{lw("kind", cases.MatterDispute)}, "kind", "use_transition"},
		{"resolve a state that is not in conflict", existing, cases.KindResolve, []cases.LocalWrite{lw("state", "CLOSED")}, "state", "use_transition"},
		{"transition without a state", existing, cases.KindTransition, []cases.LocalWrite{lw("notice_at", baseWall)}, "state", "required"},
		// Fields and actions.
		{"unknown field", existing, cases.KindEdit, []cases.LocalWrite{lw("priority", 1)}, "priority", "unknown_field"},
		{"set a set field", existing, cases.KindEdit, []cases.LocalWrite{lw("tags", "紧急")}, "tags", "wrong_action"},
		{"append to a set field", existing, cases.KindEdit, []cases.LocalWrite{act(cases.Append, lw("tags", "紧急"))}, "tags", "wrong_action"},
		{"add to a register", existing, cases.KindEdit, []cases.LocalWrite{act(cases.Add, lw("summary", "x"))}, "summary", "wrong_action"},
		{"set a log field", existing, cases.KindEdit, []cases.LocalWrite{lw("notes", cases.Note{Text: "x"})}, "notes", "wrong_action"},
		{"withdraw from a register", existing, cases.KindEdit, []cases.LocalWrite{act(cases.Withdraw, lw("region", "a/1/1"))}, "region", "wrong_action"},
		{"unknown action", existing, cases.KindEdit, []cases.LocalWrite{act(9, lw("summary", "x"))}, "summary", "wrong_action"},
		{"a note op that sets", existing, cases.KindNote, []cases.LocalWrite{lw("summary", "x")}, "summary", "note_only"},
		{"a withdraw op that appends", existing, cases.KindWithdraw, []cases.LocalWrite{act(cases.Append, lw("notes", cases.Note{Text: "x"}))}, "notes", "withdraw_only"},
		// JSON types.
		{"number for a string", existing, cases.KindEdit, []cases.LocalWrite{raw("summary", `5`)}, "summary", "wrong_type"},
		{"string for an integer", existing, cases.KindEdit, []cases.LocalWrite{raw("people_count", `"3"`)}, "people_count", "wrong_type"},
		{"fraction for an integer", existing, cases.KindEdit, []cases.LocalWrite{raw("people_count", `1.5`)}, "people_count", "wrong_type"},
		{"string for a time", existing, cases.KindEdit, []cases.LocalWrite{raw("received_at", `"2024-01-01"`)}, "received_at", "wrong_type"},
		{"object for a list of persons", existing, cases.KindEdit, []cases.LocalWrite{raw("petitioners", `{"name":"张三"}`)}, "petitioners", "wrong_type"},
		{"unknown key in a person", existing, cases.KindEdit, []cases.LocalWrite{raw("petitioners", `[{"name":"张三","age":3}]`)}, "petitioners", "wrong_type"},
		{"two JSON values", existing, cases.KindEdit, []cases.LocalWrite{raw("summary", `"a" "b"`)}, "summary", "wrong_type"},
		{"object for a string", existing, cases.KindEdit, []cases.LocalWrite{raw("category", `{}`)}, "category", "wrong_type"},
		{"string for a party", existing, cases.KindEdit, []cases.LocalWrite{raw("respondent", `"某公司"`)}, "respondent", "wrong_type"},
		// Values.
		{"bad resident ID of the second petitioner", existing, cases.KindEdit, []cases.LocalWrite{lw("petitioners", []cases.Person{
			{Name: "张三", IDNumber: goodID}, {Name: "李四", IDNumber: badID}})}, "petitioners[1].id_number", "resident_id_checksum"},
		{"15-digit resident ID", existing, cases.KindEdit, []cases.LocalWrite{lw("petitioners", []cases.Person{{Name: "张三", IDNumber: "110105491231002"}})}, "petitioners[0].id_number", "resident_id_length"},
		{"petitioner without a name", existing, cases.KindEdit, []cases.LocalWrite{lw("petitioners", []cases.Person{{Name: "张三"}, {Name: "  "}})}, "petitioners[1].name", "required"},
		{"petitioner with a bad phone", existing, cases.KindEdit, []cases.LocalWrite{lw("petitioners", []cases.Person{{Name: "张三", Phone: "+8613812345678"}})}, "petitioners[0].phone", "phone_format"},
		{"no petitioners", existing, cases.KindEdit, []cases.LocalWrite{lw("petitioners", []cases.Person{})}, "petitioners", "required"},
		{"unknown region", existing, cases.KindEdit, []cases.LocalWrite{lw("region", unknownCode)}, "region", "region_unknown"},
		{"county is not a region of a case", existing, cases.KindEdit, []cases.LocalWrite{lw("region", "420323")}, "region", "region_format"},
		{"channel not in the list", existing, cases.KindEdit, []cases.LocalWrite{lw("channel", "飞鸽传书")}, "channel", "not_allowed"},
		{"negative count", existing, cases.KindEdit, []cases.LocalWrite{lw("people_count", -1)}, "people_count", "int_range"},
		{"time before 2000", existing, cases.KindEdit, []cases.LocalWrite{lw("received_at", 0)}, "received_at", "time_range"},
		{"summary too long", existing, cases.KindEdit, []cases.LocalWrite{lw("summary", strings.Repeat("字", 20001))}, "summary", "too_long"},
		{"category too long", existing, cases.KindEdit, []cases.LocalWrite{lw("category", strings.Repeat("字", 201))}, "category", "too_long"},
		{"assignee with a space", existing, cases.KindEdit, []cases.LocalWrite{lw("assignee", "stn a")}, "assignee", "node_id"},
		{"empty tag", existing, cases.KindEdit, []cases.LocalWrite{act(cases.Add, lw("tags", " "))}, "tags", "required"},
		{"respondent of an unknown kind", existing, cases.KindEdit, []cases.LocalWrite{lw("respondent", cases.Party{Kind: "group", Name: "x"})}, "respondent.kind", "not_allowed"},
		{"respondent person with a bad ID", existing, cases.KindEdit, []cases.LocalWrite{lw("respondent", cases.Party{Kind: "person", Name: "王五", Code: badID})}, "respondent.code", "resident_id_checksum"},
		{"empty note", noted, cases.KindNote, []cases.LocalWrite{act(cases.Append, lw("notes", cases.Note{Text: " "}))}, "notes.text", "required"},
		{"note of an unknown kind", noted, cases.KindNote, []cases.LocalWrite{act(cases.Append, lw("notes", cases.Note{Text: "x", Kind: "rumour"}))}, "notes.kind", "not_allowed"},
		{"attachment with a bad hash", existing, cases.KindEdit, []cases.LocalWrite{act(cases.Append, lw("attachments", cases.File{Name: "a.jpg", SHA256: "ABC"}))}, "attachments.sha256", "format"},
		// Withdrawals name an existing record.
		{"withdraw a record that does not exist", noted, cases.KindWithdraw, []cases.LocalWrite{act(cases.Withdraw, lw("notes", "stn-b/1/9"))}, "notes", "no_record"},
		{"withdraw with a malformed record id", noted, cases.KindWithdraw, []cases.LocalWrite{act(cases.Withdraw, lw("notes", "stn-a-1-2"))}, "notes", "record_id"},
		{"withdraw with a number", noted, cases.KindWithdraw, []cases.LocalWrite{act(cases.Withdraw, raw("notes", `2`))}, "notes", "wrong_type"},
		{"withdraw a note from attachments", noted, cases.KindWithdraw, []cases.LocalWrite{act(cases.Withdraw, lw("attachments", noteDot.String()))}, "attachments", "no_record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, obs, err := cases.Prepare(tc.c, tc.kind, tc.in, nil)
			if err == nil {
				t.Fatalf("Prepare accepted it: %+v observing %v", ws, obs)
			}
			wantFieldError(t, err, tc.field, tc.code)
		})
	}
}

func TestPrepare_Register(t *testing.T) {
	in := append(without(registration(), "summary"), lw("summary", "  漏水  "), act(cases.Add, lw("tags", "紧急")))
	ws, obs, err := cases.Prepare(cases.NewCase(caseID), cases.KindRegister, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 0 {
		t.Errorf("a registration observes %v", obs)
	}
	op := cases.Op{Writes: ws}
	op.Normalize()
	if !slices.EqualFunc(op.Writes, ws, func(a, b cases.Write) bool {
		return a.Field == b.Field && a.Action == b.Action && string(a.Value) == string(b.Value)
	}) {
		t.Errorf("writes not normalized: %+v", ws)
	}
	got := map[string]any{}
	for _, w := range ws {
		got[w.Field] = cases.DecodeValue(w.Field, w.Value)
	}
	if got["state"] != string(cases.Registered) {
		t.Errorf("a registration without a state gets REGISTERED, got %v", got["state"])
	}
	if got["summary"] != "漏水" {
		t.Errorf("summary %q: values are trimmed", got["summary"])
	}
	// A registration that names its state (an offline capture) keeps it.
	ws, _, err = cases.Prepare(cases.NewCase(caseID), cases.KindRegister, append(registration(), lw("state", cases.Captured)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := slices.IndexFunc(ws, func(w cases.Write) bool { return w.Field == "state" }); n < 0 || cases.DecodeValue("state", ws[n].Value) != string(cases.Captured) ||
		slices.ContainsFunc(ws[n+1:], func(w cases.Write) bool { return w.Field == "state" }) {
		t.Errorf("writes %+v, want one state CAPTURED", ws)
	}
}

// TestPrepare_Observed: a local edit observes what its author sees (or the base it names).
func TestPrepare_Observed(t *testing.T) {
	c, reg := registered(t, act(cases.Add, lw("tags", "紧急")))
	x := localOp(t, c, origins[1], 1, 1, cases.KindEdit, lw("summary", "楼上漏水"), act(cases.Add, lw("tags", "紧急")))
	c2 := cases.Fold(caseID, []cases.Stored{reg, x})

	_, obs, err := cases.Prepare(c2, cases.KindEdit, []cases.LocalWrite{lw("summary", "已修好"), lw("category", "住房")}, nil)
	if err != nil || !slices.Equal(obs, []crdt.Dot{x.Op.Dot}) {
		t.Errorf("edit of summary and a new field observes %v, %v; want summary's visible dot %v", obs, err, x.Op.Dot)
	}
	_, obs, err = cases.Prepare(c2, cases.KindEdit, []cases.LocalWrite{act(cases.Remove, lw("tags", "紧急"))}, nil)
	if want := crdt.SortDots([]crdt.Dot{reg.Op.Dot, x.Op.Dot}); err != nil || !slices.Equal(obs, want) {
		t.Errorf("remove of a tag observes %v, %v; want its adds %v", obs, err, want)
	}
	_, obs, err = cases.Prepare(c2, cases.KindEdit, []cases.LocalWrite{act(cases.Add, lw("tags", "重复"))}, nil)
	if err != nil || len(obs) != 0 {
		t.Errorf("an add observes %v, %v", obs, err)
	}
	// With a base (what a GET returned before x arrived), the edit observes the base only,
	// so x stays visible beside it: a conflict instead of a lost update.
	base := []crdt.Dot{reg.Op.Dot}
	ws, obs, err := cases.Prepare(c2, cases.KindEdit, []cases.LocalWrite{lw("summary", "已修好")}, base)
	if err != nil || !slices.Equal(obs, base) {
		t.Fatalf("with base: observes %v, %v; want %v", obs, err, base)
	}
	y := cases.Stored{Op: cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 2}, Stamp: crdt.Timestamp{Wall: baseWall + 9000}, Case: caseID, Kind: cases.KindEdit, Author: "u-a", Writes: ws, Observed: obs}}
	if got := cases.Fold(caseID, []cases.Stored{reg, x, y}).Conflicts(); !slices.Equal(got, []string{"summary"}) {
		t.Errorf("conflicts %v, want summary", got)
	}
	// Withdraw of an existing note is accepted and encodes the record's dot.
	noted, d := withNote(t)
	ws, _, err = cases.Prepare(noted, cases.KindWithdraw, []cases.LocalWrite{act(cases.Withdraw, lw("notes", d.String()))}, nil)
	if err != nil || len(ws) != 1 {
		t.Fatalf("withdraw: %+v, %v", ws, err)
	}
	if got, err := cases.DecodeDot(ws[0].Value); err != nil || got != d {
		t.Errorf("withdraw value decodes to %v, %v; want %v", got, err, d)
	}
}

// TestPrepare_ResolveStateConflict: a conflict on the state (two stations transitioned the
// case offline) is resolved with KindResolve, which may write the state.
func TestPrepare_ResolveStateConflict(t *testing.T) {
	c := inConflict(t)
	_, obs, err := cases.Prepare(c, cases.KindResolve, []cases.LocalWrite{lw("state", cases.Accepted)}, nil)
	if err != nil {
		t.Fatalf("resolving the state: %v", err)
	}
	if want := c.Observe("state"); len(want) != 2 || !slices.Equal(obs, want) {
		t.Errorf("resolution observes %v, want both states %v", obs, want)
	}
	// KindEdit still may not.
	_, _, err = cases.Prepare(c, cases.KindEdit, []cases.LocalWrite{lw("state", cases.Accepted)}, nil)
	wantFieldError(t, err, "state", "use_transition")
}

// inState returns a case of kind matter whose state is s (set by a replicated op).
func inState(t *testing.T, matter string, s cases.State) *cases.Case {
	t.Helper()
	in := append(without(registration(), "kind"), lw("kind", matter))
	ws, _, err := cases.Prepare(cases.NewCase(caseID), cases.KindRegister, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := cases.Stored{Op: cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 1}, Stamp: crdt.Timestamp{Wall: baseWall}, Case: caseID, Kind: cases.KindRegister, Author: "u-a", Writes: ws}}
	set := cases.Stored{Op: cases.Op{Dot: crdt.Dot{Origin: origins[0], Seq: 2}, Stamp: crdt.Timestamp{Wall: baseWall + 1}, Case: caseID, Kind: cases.KindTransition, Author: "u-a",
		Writes: []cases.Write{{Field: "state", Action: cases.Set, Value: cases.EncodeString(string(s))}}, Observed: []crdt.Dot{reg.Op.Dot}}}
	got := cases.Fold(caseID, []cases.Stored{reg, set})
	if got.State() != s || got.String("kind") != matter {
		t.Fatalf("fixture: state %q kind %q, want %q %q", got.State(), got.String("kind"), s, matter)
	}
	return got
}

// inConflict returns a petition whose state two stations changed concurrently.
func inConflict(t *testing.T) *cases.Case {
	c, reg := registered(t)
	x := localOp(t, c, origins[0], 2, 1, cases.KindTransition, lw("state", cases.Accepted), lw("notice_at", baseWall))
	y := localOp(t, c, origins[1], 1, 1, cases.KindTransition, lw("state", cases.Forwarded))
	both := cases.Fold(caseID, []cases.Stored{reg, x, y})
	if !slices.Equal(both.Conflicts(), []string{"state"}) {
		t.Fatalf("fixture: conflicts %v", both.Conflicts())
	}
	return both
}

// data returns transition data as JSON.
func data(kv ...any) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = jsonOf(kv[i+1])
	}
	return m
}

func fieldsOf(ws []cases.LocalWrite) []string {
	var fs []string
	for _, w := range ws {
		fs = append(fs, w.Field)
	}
	return fs
}

// TestCheck_FlagsButApplies: a replicated op that breaks today's rules (a bad resident ID, a
// region code not in this edition, a value of the wrong type, a wrong action) is applied all
// the same, and Fold lists what it breaks in Flags.
func TestCheck_FlagsButApplies(t *testing.T) {
	_, reg := registered(t)
	replicated := func(seq uint64, ws ...cases.Write) cases.Stored {
		op := cases.Op{Dot: crdt.Dot{Origin: origins[1], Seq: seq}, Stamp: crdt.Timestamp{Wall: baseWall + int64(seq)}, Case: caseID,
			Kind: cases.KindEdit, Author: "u-old-station", Writes: ws, Observed: []crdt.Dot{reg.Op.Dot}}
		op.Normalize()
		return cases.Stored{Op: op}
	}
	badPerson := replicated(1, cases.Write{Field: "petitioners", Action: cases.Set,
		Value: cases.EncodePersons([]cases.Person{{Name: "张三", IDNumber: goodID}, {Name: "李四", IDNumber: badID}})})
	oldRegion := replicated(2, cases.Write{Field: "region", Action: cases.Set, Value: cases.EncodeString(unknownCode)})
	wrongType := replicated(3, cases.Write{Field: "people_count", Action: cases.Set, Value: cases.EncodeString("三")})
	wrongAction := replicated(4, cases.Write{Field: "tags", Action: cases.Set, Value: cases.EncodeString("紧急")})
	fine := replicated(5, cases.Write{Field: "category", Action: cases.Set, Value: cases.EncodeString("土地")},
		cases.Write{Field: "x_new_field", Action: cases.Set, Value: cases.EncodeString("?")})

	if vs := cases.Check(&badPerson.Op); len(vs) != 1 {
		t.Fatalf("Check = %v, want one violation", vs)
	} else {
		wantFieldError(t, vs[0], "petitioners[1].id_number", "resident_id_checksum")
	}
	if vs := cases.Check(&oldRegion.Op); len(vs) != 1 {
		t.Fatalf("Check = %v, want one violation", vs)
	} else {
		wantFieldError(t, vs[0], "region", "region_unknown")
	}
	if vs := cases.Check(&fine.Op); len(vs) != 0 {
		t.Errorf("Check of a valid op (with a newer version's field) = %v", vs)
	}

	c := cases.Fold(caseID, []cases.Stored{reg, badPerson, oldRegion, wrongType, wrongAction, fine})
	want := []cases.Flag{
		{Dot: badPerson.Op.Dot, Field: "petitioners[1].id_number", Code: "resident_id_checksum"},
		{Dot: oldRegion.Op.Dot, Field: "region", Code: "region_unknown"},
		{Dot: wrongType.Op.Dot, Field: "people_count", Code: "wrong_type"},
		{Dot: wrongAction.Op.Dot, Field: "tags", Code: "wrong_action"},
	}
	if !slices.Equal(c.Flags, want) {
		t.Errorf("Flags = %+v\nwant %+v", c.Flags, want)
	}
	if got := c.String("region"); got != unknownCode {
		t.Errorf("region %q: the flagged write was not applied", got)
	}
	if ps, _ := cases.DecodeValue("petitioners", mustValue(t, c, "petitioners")).([]cases.Person); len(ps) != 2 || ps[1].IDNumber != badID {
		t.Errorf("petitioners %+v: the flagged write was not applied", ps)
	}
	// A remove or a withdrawal carries no value to check.
	rm := replicated(6, cases.Write{Field: "tags", Action: cases.Remove, Value: []byte{0xc1}})
	if vs := cases.Check(&rm.Op); len(vs) != 0 {
		t.Errorf("Check of a remove = %v", vs)
	}
}

func mustValue(t *testing.T, c *cases.Case, field string) []byte {
	t.Helper()
	v, ok := c.Value(field)
	if !ok {
		t.Fatalf("%s never written", field)
	}
	return v
}

func TestParseDot(t *testing.T) {
	for _, d := range []crdt.Dot{
		{Origin: crdt.Origin{Node: "stn-a", Incarnation: 1}, Seq: 1},
		{Origin: crdt.Origin{Node: "county/hub-1", Incarnation: 0}, Seq: 18446744073709551615},
		{Origin: crdt.Origin{Node: "站点", Incarnation: 4294967295}, Seq: 7},
	} {
		got, err := cases.ParseDot(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDot(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
	}
	for _, s := range []string{"", "a", "a/1", "/1/2", "a//2", "a/1/", "a/x/1", "a/1/x", "a/1/0", "a/-1/2", "a/4294967296/1", "a/1/18446744073709551616", "a/1/ 2"} {
		if d, err := cases.ParseDot(s); err == nil {
			t.Errorf("ParseDot(%q) = %v", s, d)
		}
	}
}

// TestPrepare_SameRegisterTwice: one action that sets a register twice ([summary "a",
// summary "b"]) is ambiguous. Prepare accepts it and the op carries both writes under one dot;
// Fold then keeps whichever value sorts first by its encoding, not the one given last, and
// the other is dropped without a trace. Prepare should refuse it.
func TestPrepare_SameRegisterTwice(t *testing.T) {
	c, _ := registered(t)
	_, _, err := cases.Prepare(c, cases.KindEdit, []cases.LocalWrite{lw("summary", "后写的"), lw("summary", "先写的")}, nil)
	if err == nil {
		t.Fatalf("Prepare accepted two values for summary in one action")
	}
	wantFieldError(t, err, "summary", "duplicate_field")
}
