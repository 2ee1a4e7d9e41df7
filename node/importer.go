package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
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
	// Offset is how far into the file the import has read (bytes): with the file's size,
	// how far along it is.
	Offset int64
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
	lr := &lineReader{br: bufio.NewReaderSize(io.NewSectionReader(data, 0, size), 64<<10), max: maxLineBytes}
	parse := func(l line) (Change, bool, error) {
		if l.tooLong {
			return Change{}, false, &cases.FieldError{Code: "line_too_long", Zh: fmt.Sprintf("该行超过 %d 字节", maxLineBytes),
				En: fmt.Sprintf("line longer than %d bytes", maxLineBytes)}
		}
		text := bytes.TrimSpace(l.text)
		if len(text) == 0 {
			return Change{}, false, nil
		}
		ch, err := workloadChange(text, opts.author())
		return ch, err == nil, err
	}
	return importRecords(ctx, r, data, size, opts, lr.next, parse)
}

// maxLineBytes bounds one line of an import: a longer line is refused by number, and the
// lines after it are read as usual.
const maxLineBytes = 4 << 20

// line is one line of a file being imported.
type line struct {
	text    []byte // without the newline; nil when tooLong
	tooLong bool
}

// lineReader reads lines with their end offsets, refusing (not failing on) lines over max.
type lineReader struct {
	br   *bufio.Reader
	max  int
	n    int
	end  int64
	buf  []byte
	done bool
}

func (lr *lineReader) next() (int, line, int64, error) {
	if lr.done {
		return 0, line{}, lr.end, io.EOF
	}
	lr.buf = lr.buf[:0]
	tooLong := false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		lr.end += int64(len(chunk))
		if !tooLong {
			if len(lr.buf)+len(chunk) > lr.max+1 {
				tooLong, lr.buf = true, lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			lr.done = true
			if len(chunk) == 0 && len(lr.buf) == 0 && !tooLong {
				return 0, line{}, lr.end, io.EOF
			}
		case err != nil:
			return 0, line{}, lr.end, fmt.Errorf("read line %d: %w", lr.n+1, err)
		}
		lr.n++
		if tooLong {
			return lr.n, line{tooLong: true}, lr.end, nil
		}
		return lr.n, line{text: bytes.TrimSuffix(bytes.TrimSuffix(lr.buf, []byte("\n")), []byte("\r"))}, lr.end, nil
	}
}

func (o ImportOptions) author() string {
	if o.Author == "" {
		return "import"
	}
	return o.Author
}

// importRecords applies the changes parsed from a file's records in batches. next returns
// each record with its number and the file offset where it ends (io.EOF at the end); parse
// turns one into a change (ok false: skip it).
//
// An import is idempotent and resumable. With each batch, in the same synced Pebble batch as
// its ops, it stores how many records are done, the offset they end at and the SHA-256 of the
// file up to there, keyed by the hash of the file's first line. A later import of a file that
// starts with those same bytes — the same file again, or after a crash, or the file with
// lines appended — skips them and writes only what follows.
func importRecords[T any](ctx context.Context, r *Replica, data io.ReaderAt, size int64, opts ImportOptions,
	next func() (int, T, int64, error), parse func(T) (Change, bool, error)) (ImportReport, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	start, err := importStart(r, data, size)
	if err != nil {
		return ImportReport{}, err
	}
	keyPrefix, err := importKeyPrefix(data, size)
	if err != nil {
		return ImportReport{}, err
	}
	progressKey := keyPrefix + fmt.Sprintf("%016x", randomUint64())
	prefixHash := sha256.New()
	var hashed int64
	var rep ImportReport
	// Records are read and parsed one batch ahead, on a goroutine of their own, while the
	// previous batch is validated and written: parsing is a large part of an import's CPU,
	// and a station has a second core.
	pctx, stop := context.WithCancel(ctx)
	batches := make(chan *importBatch, 1)
	go parseBatches(pctx, start, opts.BatchSize, next, parse, batches)
	defer func() {
		stop()
		for range batches { // the parser has stopped reading when it closes batches
		}
	}()
	for b := range batches {
		if b.err != nil {
			return rep, b.err
		}
		rep.Lines += b.lines
		rep.Skipped += b.skipped
		rep.Offset = max(rep.Offset, b.lastEnd)
		for _, rj := range b.rejects {
			rep.reject(rj.line, rj.err)
		}
		if b.lastEnd <= start || (len(b.changes) == 0 && b.lastEnd <= hashed) {
			continue // nothing past what an earlier import did, or nothing new to record
		}
		if _, err := io.Copy(prefixHash, io.NewSectionReader(data, hashed, b.lastEnd-hashed)); err != nil {
			return rep, fmt.Errorf("hash import file: %w", err)
		}
		hashed = b.lastEnd
		v := be64(be64(nil, uint64(b.last)), uint64(b.lastEnd))
		_, errs, err := r.WriteBatch(ctx, b.changes, &Progress{Key: progressKey, Value: prefixHash.Sum(v)})
		if err != nil {
			return rep, fmt.Errorf("import record %d: %w", b.last, err)
		}
		for i, e := range errs {
			if e == nil {
				rep.Ops++
			} else {
				rep.reject(b.numbers[i], e)
			}
		}
		if opts.Progress != nil {
			opts.Progress(rep)
		}
	}
	return rep, ctx.Err()
}

// importBatch is one batch of parsed records, in file order: the changes to write and the
// records refused before writing (parse errors), with the position the batch ends at.
type importBatch struct {
	changes        []Change
	numbers        []int // record number of each change
	rejects        []lineReject
	lines, skipped int
	last           int   // the last record read
	lastEnd        int64 // the file offset it ends at
	err            error // reading failed: the import stops here
}

type lineReject struct {
	line int
	err  error
}

// parseBatches reads and parses records into batches of size changes until the end of the
// file, an error or ctx's end, and closes out. Records ending at or before start were done
// by an earlier import and are counted as skipped.
func parseBatches[T any](ctx context.Context, start int64, size int, next func() (int, T, int64, error),
	parse func(T) (Change, bool, error), out chan<- *importBatch) {
	defer close(out)
	send := func(b *importBatch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	b := &importBatch{}
	for {
		n, rec, end, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.err = err
			send(b)
			return
		}
		b.last, b.lastEnd = n, end
		b.lines++
		if end <= start {
			b.skipped++
			continue
		}
		ch, ok, err := parse(rec)
		switch {
		case err != nil:
			b.rejects = append(b.rejects, lineReject{n, err})
		case ok:
			b.changes = append(b.changes, ch)
			b.numbers = append(b.numbers, n)
		}
		if len(b.changes) >= size {
			if !send(b) {
				return
			}
			b = &importBatch{last: b.last, lastEnd: b.lastEnd}
		}
	}
	if b.lastEnd > start || b.lines > 0 {
		send(b)
	}
}

// importKeyPrefix names the progress records of files that start like this one: with the
// same first line (a JSONL record, a CSV header), which stays the same as a file grows.
func importKeyPrefix(data io.ReaderAt, size int64) (string, error) {
	head := make([]byte, min(size, 4096))
	if _, err := data.ReadAt(head, 0); err != nil && err != io.EOF {
		return "", fmt.Errorf("read import file: %w", err)
	}
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i+1]
	}
	h := sha256.Sum256(head)
	return "import/" + hex.EncodeToString(h[:12]) + "/", nil
}

// importStart returns the offset up to which this file was already imported: the longest
// recorded prefix whose hash matches the file's first bytes.
func importStart(r *Replica, data io.ReaderAt, size int64) (int64, error) {
	keyPrefix, err := importKeyPrefix(data, size)
	if err != nil {
		return 0, err
	}
	var best int64
	err = r.scanMeta(keyPrefix, func(_, v []byte) error {
		if len(v) != 16+sha256.Size {
			return nil
		}
		end := int64(binary.BigEndian.Uint64(v[8:16]))
		if end <= best || end > size {
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(data, 0, end)); err != nil {
			return fmt.Errorf("hash import file: %w", err)
		}
		if bytes.Equal(h.Sum(nil), v[16:]) {
			best = end
		}
		return nil
	})
	return best, err
}

func randomUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

func (rep *ImportReport) reject(line int, err error) {
	if len(rep.Rejected) < maxRejectedKept {
		rep.Rejected = append(rep.Rejected, LineError{Line: line, Err: err})
	}
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

// WorkloadChange turns one line of the workload JSONL (../shared/workload/gen.py's format)
// into a local change by author, as ImportJSONL does: for writing through something other
// than this replica (a Raft hub's log).
func WorkloadChange(line []byte, author string) (Change, error) {
	return workloadChange(line, author)
}
