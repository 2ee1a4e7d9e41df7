package node_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// repoRoot returns the directory holding go.mod above the test's working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// generateWorkload returns the shared workload generator's output for args (shared/ sits
// beside the repository), or skips the test when python3 or the generator is missing. The
// workloads the tests use are committed in testdata (gen.py is deterministic), so they run
// in a clean clone with no shared/ beside it.
func generateWorkload(t testing.TB, args ...string) []byte {
	t.Helper()
	if f, err := os.Open(filepath.Join("testdata", "workload-"+strings.Join(args, "-")+".jsonl.gz")); err == nil {
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	gen := filepath.Join(repoRoot(t), "..", "shared", "workload", "gen.py")
	if _, err := os.Stat(gen); err != nil {
		t.Skipf("workload generator not found at %s (shared/ beside the repository): %v", gen, err)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skipf("python3 not found, cannot run %s: %v", gen, err)
	}
	out, err := exec.Command(py, append([]string{gen}, args...)...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", gen, args, err)
	}
	return out
}

// expected is what a workload file says about one case, computed by the test: the oracle.
type expected struct {
	State, Region, Category, Handler string
	Notes                            []string
	Tags                             []string
}

// expectedCases replays a workload file's lines into what each case should be.
func expectedCases(t testing.TB, data []byte) map[string]*expected {
	t.Helper()
	out := map[string]*expected{}
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var l struct {
			Kind  string
			Case  map[string]json.RawMessage
			ID    string
			Field string
			Value json.RawMessage
			Note  struct{ Text string }
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("fixture line %d: %v", i+1, err)
		}
		str := func(raw json.RawMessage) string {
			var s string
			_ = json.Unmarshal(raw, &s)
			return s
		}
		switch l.Kind {
		case "create":
			e := &expected{State: "REGISTERED", Region: str(l.Case["region"]), Category: str(l.Case["category"]),
				Handler: str(l.Case["handler_unit"])}
			_ = json.Unmarshal(l.Case["tags"], &e.Tags)
			slices.Sort(e.Tags)
			out[str(l.Case["id"])] = e
		case "update":
			e := out[l.ID]
			switch l.Field {
			case "state":
				e.State = str(l.Value)
			case "category":
				e.Category = str(l.Value)
			case "handler_unit":
				e.Handler = str(l.Value)
			default:
				t.Fatalf("fixture line %d: field %s", i+1, l.Field)
			}
		case "note":
			out[l.ID].Notes = append(out[l.ID].Notes, l.Note.Text)
		}
	}
	return out
}

// actual renders a case as expected does.
func actual(c *cases.Case) *expected {
	e := &expected{State: string(c.State()), Region: c.String("region"), Category: c.String("category"),
		Handler: c.String("handler_unit")}
	if l := c.Logs["notes"]; l != nil {
		for _, en := range l.Entries() {
			e.Notes = append(e.Notes, cases.DecodeValue("notes", en.Value).(cases.Note).Text)
		}
	}
	if s := c.Sets["tags"]; s != nil {
		for _, el := range s.Elems() {
			e.Tags = append(e.Tags, cases.DecodeValue("tags", []byte(el)).(string))
		}
		slices.Sort(e.Tags)
	}
	return e
}

func requireImported(t testing.TB, r *node.Replica, want map[string]*expected) {
	t.Helper()
	for id, w := range want {
		c := mustCase(t, r, id)
		got := actual(c)
		// Notes of one case are applied in file order but listed in dot order; one origin
		// makes the two the same.
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("case %s:\ngot  %+v\nwant %+v", id, got, w)
		}
		if c.Creator != "import" {
			t.Fatalf("case %s registered by %q, want the import's default author", id, c.Creator)
		}
		if len(c.Conflicts()) != 0 {
			t.Fatalf("case %s has conflicts %v", id, c.Conflicts())
		}
	}
	if got := r.Status().Cases; got != uint64(len(want)) {
		t.Fatalf("%d cases, want %d", got, len(want))
	}
}

func importBytes(t testing.TB, r *node.Replica, data []byte, opts node.ImportOptions) node.ImportReport {
	t.Helper()
	rep, err := r.ImportJSONL(context.Background(), bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep
}

func lineCount(data []byte) int { return bytes.Count(data, []byte("\n")) }

// testImportClean imports a clean workload file: every line becomes one op, and a second
// import of the same file adds nothing.
func testImportClean(t *testing.T, data []byte, nCases int, batch int) {
	lines := lineCount(data)
	r := openTestReplica(t, "st-import", "")
	rep := importBytes(t, r, data, node.ImportOptions{BatchSize: batch})
	if len(rep.Rejected) != 0 {
		t.Fatalf("rejected %d lines, first: %v", len(rep.Rejected), rep.Rejected[0])
	}
	if rep.Lines != lines || rep.Ops != lines || rep.Skipped != 0 {
		t.Fatalf("report %+v, want %d lines and ops", rep, lines)
	}
	if got := r.Status().FeedSeq; got != uint64(lines) {
		t.Fatalf("feed %d, want %d", got, lines)
	}
	requireImported(t, r, expectedCases(t, data))
	if got := r.Status().Cases; got != uint64(nCases) {
		t.Fatalf("%d cases, want %d", got, nCases)
	}

	again := importBytes(t, r, data, node.ImportOptions{BatchSize: batch})
	if again.Skipped != lines || again.Lines != lines || again.Ops != 0 || len(again.Rejected) != 0 {
		t.Fatalf("second import %+v, want every line skipped", again)
	}
	if got := r.Status().FeedSeq; got != uint64(lines) {
		t.Fatalf("second import moved the feed to %d", got)
	}
}

func TestImportJSONL_Fixture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "small.jsonl")) // gen.py 4 4
	if err != nil {
		t.Fatal(err)
	}
	if lineCount(data) != 20 {
		t.Fatalf("fixture has %d lines", lineCount(data))
	}
	testImportClean(t, data, 4, 3)
}

func TestImportJSONL_GeneratedWorkload(t *testing.T) {
	data := generateWorkload(t, "200", "4")
	if lineCount(data) != 5*200 { // a create and 4 updates or notes per case
		t.Fatalf("generator wrote %d lines, want %d", lineCount(data), 5*200)
	}
	testImportClean(t, data, 200, 0)
}

// A file with bad lines: each is reported by number and reason, the good ones are imported,
// and a second run imports nothing more.
func TestImportJSONL_BadLines(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "small.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	goodLines := strings.Split(strings.TrimSpace(string(good)), "\n")

	// A registration whose resident ID has a wrong check digit.
	var create map[string]any
	if err := json.Unmarshal([]byte(goodLines[0]), &create); err != nil {
		t.Fatal(err)
	}
	c := create["case"].(map[string]any)
	c["id"] = "c99999999"
	p := c["petitioner"].(map[string]any)
	id := p["id_number"].(string)
	wrong := byte('0')
	if id[17] == '0' {
		wrong = '1'
	}
	p["id_number"] = id[:17] + string(wrong)
	badID, _ := json.Marshal(create)

	type bad struct {
		line string
		code string
	}
	bads := map[int]bad{ // inserted at these 1-based line numbers of the result
		2:  {`{"kind": "create", "case": {"id": "c1"`, "json"},
		4:  {string(badID), "resident_id_checksum"},
		6:  {`{"kind": "update", "id": "c00000001", "field": "state", "value": "CLOSED", "data": {"reason": "办结"}}`, "illegal_transition"},
		9:  {`{"kind": "update", "id": "c00000000", "field": "favourite_colour", "value": "红"}`, "unknown_field"},
		12: {`{"kind": "delete", "id": "c00000000"}`, "unknown_kind"},
		15: {`{"kind": "note", "id": "c12345678", "note": {"text": "没有这个案件"}}`, "no_case"},
		21: {`{"kind": "update", "id": "c00000002", "field": "category", "value": 7}`, "wrong_type"},
	}
	var lines []string
	for n, g := 1, 0; n <= len(goodLines)+len(bads); n++ {
		if b, ok := bads[n]; ok {
			lines = append(lines, b.line)
		} else {
			lines = append(lines, goodLines[g])
			g++
		}
	}
	lines = append(lines, "") // a blank line: skipped, not an error
	data := []byte(strings.Join(lines, "\n") + "\n")

	r := openTestReplica(t, "st-import", "")
	rep := importBytes(t, r, data, node.ImportOptions{BatchSize: 4})
	if rep.Lines != len(lines) || rep.Ops != 20 || rep.Skipped != 0 {
		t.Fatalf("report: %d lines, %d ops, %d skipped; want %d, 20, 0", rep.Lines, rep.Ops, rep.Skipped, len(lines))
	}
	got := map[int]string{}
	for _, le := range rep.Rejected {
		var fe *cases.FieldError
		if !errors.As(le.Err, &fe) || !errors.Is(le.Err, cases.ErrInvalid) {
			t.Fatalf("line %d: %v is not a field error", le.Line, le.Err)
		}
		if _, dup := got[le.Line]; dup {
			t.Fatalf("line %d reported twice", le.Line)
		}
		got[le.Line] = fe.Code
		if !strings.Contains(le.Error(), fmt.Sprintf("line %d", le.Line)) {
			t.Fatalf("message %q does not name the line", le.Error())
		}
	}
	for n, b := range bads {
		if got[n] != b.code {
			t.Errorf("line %d: rejected as %q, want %q (all: %v)", n, got[n], b.code, got)
		}
	}
	if len(got) != len(bads) {
		t.Fatalf("rejected lines %v, want %d", got, len(bads))
	}
	for _, le := range rep.Rejected {
		if le.Line == 4 && !strings.Contains(le.Err.Error(), "petitioners[0].id_number") {
			t.Fatalf("line 4: %v does not name the field", le.Err)
		}
	}
	requireImported(t, r, expectedCases(t, good))
	if _, _, err := r.Case("c99999999"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("the refused registration exists: %v", err)
	}

	again := importBytes(t, r, data, node.ImportOptions{BatchSize: 4})
	if again.Skipped != len(lines) || again.Ops != 0 || len(again.Rejected) != 0 {
		t.Fatalf("second import: %+v", again)
	}
	if got := r.Status().FeedSeq; got != 20 {
		t.Fatalf("feed %d after the second import", got)
	}
}

// An import interrupted between batches continues where the last batch ended: no line is
// written twice or lost.
func TestImportJSONL_ResumesAfterInterruption(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "small.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	r := openTestReplica(t, "st-import", "")
	ctx, cancel := context.WithCancel(context.Background())
	var progress []node.ImportReport
	rep, err := r.ImportJSONL(ctx, bytes.NewReader(data), int64(len(data)), node.ImportOptions{BatchSize: 6,
		Progress: func(p node.ImportReport) {
			progress = append(progress, p)
			if len(progress) == 2 {
				cancel() // stops the import before its third batch
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
	if rep.Ops != 12 || r.Status().FeedSeq != 12 || len(progress) != 2 || progress[1].Ops != 12 {
		t.Fatalf("interrupted import: %+v, feed %d, progress %+v", rep, r.Status().FeedSeq, progress)
	}
	rest := importBytes(t, r, data, node.ImportOptions{BatchSize: 6})
	if rest.Skipped != 12 || rest.Ops != 8 || rest.Lines != 20 || len(rest.Rejected) != 0 {
		t.Fatalf("resumed import: %+v, want 12 skipped and 8 ops", rest)
	}
	if got := r.Status().FeedSeq; got != 20 {
		t.Fatalf("feed %d, want 20", got)
	}
	requireImported(t, r, expectedCases(t, data))
}

// A ledger grows: the same file with lines appended imports only the new lines.
func TestImportJSONL_GrownFileImportsOnlyNewLines(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "small.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.Index(data, []byte("\n")) + 1
	for i := 1; i < 10; i++ { // the first 10 lines
		cut += bytes.Index(data[cut:], []byte("\n")) + 1
	}
	r := openTestReplica(t, "st-import", "")
	first := importBytes(t, r, data[:cut], node.ImportOptions{BatchSize: 4})
	if first.Ops != 10 {
		t.Fatalf("first half: %+v", first)
	}
	all := importBytes(t, r, data, node.ImportOptions{BatchSize: 4})
	if all.Skipped != 10 || all.Ops != 10 || len(all.Rejected) != 0 {
		t.Fatalf("grown file: %+v, want the first 10 lines skipped and 10 written", all)
	}
	if got := r.Status().FeedSeq; got != 20 {
		t.Fatalf("feed %d, want 20", got)
	}
	requireImported(t, r, expectedCases(t, data))

	// A different file that happens to start the same way is not mistaken for it.
	other := append(append([]byte(nil), data[:cut]...), []byte(`{"kind":"note","id":"c00000001","note":{"at":1767225904404,"author":"网格员121","text":"另一份文件"}}`+"\n")...)
	rep := importBytes(t, r, other, node.ImportOptions{})
	if rep.Skipped != 10 || rep.Ops != 1 {
		t.Fatalf("file sharing the first 10 lines: %+v, want 10 skipped and 1 written", rep)
	}
}

// A line too long to read is refused by its number; the lines around it are imported.
func TestImportJSONL_OverlongLineDoesNotBlockOthers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "small.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	first := data[:bytes.Index(data, []byte("\n"))+1]
	rest := data[len(first):]
	long := append([]byte(`{"kind":"note","id":"c00000001","note":{"text":"`), bytes.Repeat([]byte("长"), 2<<20)...)
	long = append(long, []byte("\"}}\n")...)
	file := append(append(append([]byte(nil), first...), long...), rest...)
	r := openTestReplica(t, "st-import", "")
	rep := importBytes(t, r, file, node.ImportOptions{})
	if len(rep.Rejected) != 1 || rep.Rejected[0].Line != 2 || rep.Ops != lineCount(data) {
		t.Fatalf("report %+v, want line 2 refused and the other %d imported", rep, lineCount(data))
	}
}
