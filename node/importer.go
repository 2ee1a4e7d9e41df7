package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/fengqiao/fengqiao/cases"
)

// ImportOptions tune an import.
type ImportOptions struct {
	// Author is recorded on imported ops that name no author. Default "import".
	Author string
	// BatchSize is the number of lines applied per synced batch. Default 1000.
	BatchSize int
	// Progress, if set, is called after each batch with the lines done so far.
	Progress func(ImportReport)
}

// ImportReport says what an import did. Bad lines are reported by number and reason and
// never block the good ones.
type ImportReport struct {
	Lines    int         // lines read (this run, including those skipped as already imported)
	Ops      int         // ops written
	Skipped  int         // lines already imported by an earlier run of the same file
	Rejected []LineError // lines refused, with the reason
}

// LineError is a refused input line.
type LineError struct {
	Line int
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// maxRejectedKept bounds the rejected lines an import report holds (the count stays exact).
const maxRejectedKept = 1000

// ImportJSONL imports the benchmark workload format (../shared/workload/gen.py) as local ops:
// one op per line. See importRecords for idempotence and resumption.
func (r *Replica) ImportJSONL(ctx context.Context, data io.ReaderAt, size int64, opts ImportOptions) (ImportReport, error) {
	sc := bufio.NewScanner(io.NewSectionReader(data, 0, size))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	line := 0
	next := func() (int, []byte, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return 0, nil, fmt.Errorf("read line %d: %w", line+1, err)
			}
			return 0, nil, io.EOF
		}
		line++
		return line, sc.Bytes(), nil
	}
	parse := func(text []byte) (Change, bool, error) {
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			return Change{}, false, nil
		}
		ch, err := workloadChange(text, opts.author())
		return ch, err == nil, err
	}
	return importRecords(ctx, r, data, size, opts, next, parse)
}

func (o ImportOptions) author() string {
	if o.Author == "" {
		return "import"
	}
	return o.Author
}

// importRecords applies the changes parsed from a file's records in batches. An import is
// idempotent and resumable: the number of records applied is stored atomically with each
// batch under the file's hash, so running it again, or after a crash, continues where the
// last synced batch ended and never writes a record twice. next returns the records with
// their numbers (io.EOF at the end); parse turns one into a change (ok false: skip it).
func importRecords[T any](ctx context.Context, r *Replica, data io.ReaderAt, size int64, opts ImportOptions,
	next func() (int, T, error), parse func(T) (Change, bool, error)) (ImportReport, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	sum, err := hashReader(io.NewSectionReader(data, 0, size))
	if err != nil {
		return ImportReport{}, fmt.Errorf("hash import file: %w", err)
	}
	progressKey := "import/" + sum
	done := uint64(0)
	if v, err := r.getMeta(progressKey); err == nil && len(v) == 8 {
		done = binary.BigEndian.Uint64(v)
	}
	var rep ImportReport
	var batch []Change
	var numbers []int
	last := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, errs, err := r.WriteBatch(ctx, batch, &Progress{Key: progressKey, Value: be64(nil, uint64(last))})
		if err != nil {
			return err
		}
		for i, e := range errs {
			if e == nil {
				rep.Ops++
			} else {
				rep.reject(numbers[i], e)
			}
		}
		batch, numbers = batch[:0], numbers[:0]
		if opts.Progress != nil {
			opts.Progress(rep)
		}
		return nil
	}
	for {
		n, rec, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, err
		}
		last = n
		rep.Lines++
		if uint64(n) <= done {
			rep.Skipped++
			continue
		}
		ch, ok, err := parse(rec)
		if err != nil {
			rep.reject(n, err)
			continue
		}
		if !ok {
			continue
		}
		batch = append(batch, ch)
		numbers = append(numbers, n)
		if len(batch) >= opts.BatchSize {
			if err := flush(); err != nil {
				return rep, fmt.Errorf("import record %d: %w", n, err)
			}
		}
	}
	if err := flush(); err != nil {
		return rep, fmt.Errorf("import record %d: %w", last, err)
	}
	return rep, nil
}

func (rep *ImportReport) reject(line int, err error) {
	if len(rep.Rejected) < maxRejectedKept {
		rep.Rejected = append(rep.Rejected, LineError{Line: line, Err: err})
	}
}

func hashReader(rd io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, rd); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// workloadLine is one line of the workload JSONL.
type workloadLine struct {
	Kind  string                     `json:"kind"`
	Case  map[string]json.RawMessage `json:"case"`
	ID    string                     `json:"id"`
	Field string                     `json:"field"`
	Value json.RawMessage            `json:"value"`
	Data  map[string]json.RawMessage `json:"data"`
	At    int64                      `json:"at"`
	Note  *struct {
		At     int64  `json:"at"`
		Author string `json:"author"`
		Text   string `json:"text"`
	} `json:"note"`
}

// workloadChange turns a workload line into a local change. Field values keep their JSON so
// that they pass the same validation as an API write.
func workloadChange(text []byte, author string) (Change, error) {
	var l workloadLine
	if err := json.Unmarshal(text, &l); err != nil {
		return Change{}, &cases.FieldError{Code: "json", Zh: "不是有效的JSON", En: "not valid JSON: " + err.Error()}
	}
	switch l.Kind {
	case "create":
		return registerFromWorkload(l.Case, author)
	case "update":
		if l.Field == "state" {
			var to string
			if err := json.Unmarshal(l.Value, &to); err != nil {
				return Change{}, &cases.FieldError{Field: "value", Code: "wrong_type", Zh: "状态应为文本", En: "state must be a string"}
			}
			data := make(map[string]json.RawMessage, len(l.Data))
			for k, v := range l.Data {
				if k == "reason" { // the workload's name for the closing reason
					k = "close_reason"
				}
				data[k] = v
			}
			return Change{Case: l.ID, Author: author, To: cases.State(to), Data: data}, nil
		}
		return Change{Case: l.ID, Kind: cases.KindEdit, Author: author,
			Writes: []cases.LocalWrite{{Field: l.Field, Action: cases.Set, JSON: l.Value}}}, nil
	case "note":
		if l.Note == nil {
			return Change{}, &cases.FieldError{Field: "note", Code: "required", Zh: "缺少记录内容", En: "note is missing"}
		}
		who := l.Note.Author
		if who == "" {
			who = author
		}
		note, _ := json.Marshal(cases.Note{Text: l.Note.Text, Kind: "note", At: l.Note.At})
		return Change{Case: l.ID, Kind: cases.KindNote, Author: who,
			Writes: []cases.LocalWrite{{Field: "notes", Action: cases.Append, JSON: note}}}, nil
	}
	return Change{}, &cases.FieldError{Field: "kind", Code: "unknown_kind", Zh: "未知的行类型", En: "unknown line kind " + strconv.Quote(l.Kind)}
}

// registerFromWorkload maps a workload "create" case onto the case document's fields.
func registerFromWorkload(c map[string]json.RawMessage, author string) (Change, error) {
	var id string
	if err := json.Unmarshal(c["id"], &id); err != nil || id == "" {
		return Change{}, &cases.FieldError{Field: "id", Code: "required", Zh: "缺少案件编号", En: "case id is missing"}
	}
	ch := Change{Case: id, Kind: cases.KindRegister, Author: author}
	set := func(field string, v json.RawMessage) {
		ch.Writes = append(ch.Writes, cases.LocalWrite{Field: field, Action: cases.Set, JSON: v})
	}
	if _, ok := c["kind"]; !ok {
		set("kind", json.RawMessage(`"petition"`))
	}
	for k, v := range c {
		switch k {
		case "id":
		case "petitioner":
			set("petitioners", append(append([]byte{'['}, v...), ']'))
		case "registered_at":
			set("registered_at", v)
			if _, ok := c["received_at"]; !ok {
				set("received_at", v)
			}
		case "tags":
			var tags []json.RawMessage
			if err := json.Unmarshal(v, &tags); err != nil {
				return Change{}, &cases.FieldError{Field: "tags", Code: "wrong_type", Zh: "标签应为列表", En: "tags must be a list"}
			}
			for _, t := range tags {
				ch.Writes = append(ch.Writes, cases.LocalWrite{Field: "tags", Action: cases.Add, JSON: t})
			}
		default:
			set(k, v)
		}
	}
	return ch, nil
}
