package node

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
)

// csvColumns maps the accepted header names of a registration ledger (台账) to case fields.
// Chinese headers are what county ledgers use; English ones are for scripts.
var csvColumns = map[string]string{
	"id": "id", "案件编号": "id", "编号": "id",
	"kind": "kind", "类别": "kind",
	"region": "region", "区划代码": "region", "所属区划": "region",
	"name": "name", "姓名": "name", "信访人": "name", "当事人": "name",
	"id_number": "id_number", "身份证号": "id_number", "身份证号码": "id_number",
	"phone": "phone", "电话": "phone", "联系电话": "phone",
	"address": "address", "住址": "address", "地址": "address",
	"people_count": "people_count", "人数": "people_count",
	"category": "category", "内容分类": "category",
	"channel": "channel", "信访形式": "channel",
	"matter_type": "matter_type", "事项类型": "matter_type",
	"summary": "summary", "诉求": "summary", "诉求及事实理由": "summary",
	"handler_unit": "handler_unit", "办理单位": "handler_unit",
	"registered_at": "registered_at", "登记时间": "registered_at",
	"tags": "tags", "标签": "tags",
}

// ledgerShownOnly are the columns a ledger exported by Fengqiao shows for people that an
// import does not write: they are computed (the case number, the state, deadlines), or a
// name beside a code. An import passes over them, so an exported ledger imports elsewhere.
var ledgerShownOnly = map[string]bool{"案件号": true, "状态": true, "区划名称": true, "收到时间": true, "下一期限": true, "冲突": true}

// ImportCSV imports a registration ledger: a header row naming the columns (Chinese or
// English, see csvColumns; unknown headers are an error naming them), then one case per row.
// Like ImportJSONL it is idempotent and resumable; a row for a case id that exists is reported
// as already registered, not written twice. Bad rows are reported by row number and reason;
// good rows are imported.
func (r *Replica) ImportCSV(ctx context.Context, data io.ReaderAt, size int64, opts ImportOptions) (ImportReport, error) {
	raw, err := io.ReadAll(io.NewSectionReader(data, 0, size))
	if err != nil {
		return ImportReport{}, fmt.Errorf("read csv: %w", err)
	}
	return r.importLedger(ctx, raw, nil, opts)
}

// importLedger imports the CSV ledger raw. rowErrs, when set, are errors found for rows
// before they became CSV (a workbook's cell that cannot hold what its column needs), by row
// number: such a row is refused with that error.
func (r *Replica) importLedger(ctx context.Context, raw []byte, rowErrs map[int]error, opts ImportOptions) (ImportReport, error) {
	data, size := bytes.NewReader(raw), int64(len(raw))
	body := bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // Excel writes a BOM
	bom := int64(len(raw) - len(body))
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return ImportReport{}, fmt.Errorf("csv header: %w", err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		f, ok := csvColumns[strings.TrimSpace(h)]
		if ledgerShownOnly[strings.TrimSpace(h)] {
			continue // cols[i] stays "": the column is not written
		}
		if !ok {
			return ImportReport{}, fmt.Errorf("csv header: unknown column %q (known: 案件编号, 区划代码, 姓名, 身份证号, 联系电话, 住址, 内容分类, 信访形式, 诉求, 办理单位, 登记时间, 标签, ...)", h)
		}
		cols[i] = f
	}
	type row struct {
		fields []string
		err    error // a malformed row, reported against its number
	}
	n := 1
	next := func() (int, row, int64, error) {
		rec, err := cr.Read()
		end := bom + cr.InputOffset()
		if err == io.EOF {
			return 0, row{}, end, io.EOF
		}
		n++
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return n, row{err: err}, end, nil
		}
		if e := rowErrs[n]; e != nil && err == nil {
			return n, row{err: e}, end, nil
		}
		return n, row{fields: rec}, end, err
	}
	parse := func(x row) (Change, bool, error) {
		var fe *cases.FieldError
		if errors.As(x.err, &fe) {
			return Change{}, false, fe
		}
		if x.err != nil {
			return Change{}, false, &cases.FieldError{Code: "csv", Zh: "CSV 格式错误", En: x.err.Error()}
		}
		return csvChange(cols, x.fields, opts.author())
	}
	return importRecords(ctx, r, data, size, opts, next, parse)
}

func csvChange(cols, rec []string, author string) (Change, bool, error) {
	if len(rec) != len(cols) {
		return Change{}, false, &cases.FieldError{Code: "csv_columns", Zh: fmt.Sprintf("列数为%d，表头为%d列", len(rec), len(cols)),
			En: fmt.Sprintf("%d columns, header has %d", len(rec), len(cols))}
	}
	v := map[string]string{}
	empty := true
	for i, c := range cols {
		if c == "" {
			continue // shown only (ledgerShownOnly)
		}
		v[c] = strings.TrimSpace(rec[i])
		if v[c] != "" {
			empty = false
		}
	}
	if empty {
		return Change{}, false, nil
	}
	ch := Change{Case: v["id"], Kind: cases.KindRegister, Author: author}
	str := func(field, s string) {
		b, _ := json.Marshal(s)
		ch.Writes = append(ch.Writes, cases.LocalWrite{Field: field, JSON: b})
	}
	kind := v["kind"]
	switch kind {
	case "", "信访", "信访事项", cases.MatterPetition:
		kind = cases.MatterPetition
	case "纠纷", "矛盾纠纷", cases.MatterDispute:
		kind = cases.MatterDispute
	}
	str("kind", kind)
	for _, f := range []string{"region", "category", "channel", "matter_type", "summary", "handler_unit"} {
		if v[f] != "" {
			str(f, v[f])
		}
	}
	p, _ := json.Marshal([]cases.Person{{Name: v["name"], IDNumber: v["id_number"], Phone: v["phone"], Address: v["address"]}})
	ch.Writes = append(ch.Writes, cases.LocalWrite{Field: "petitioners", JSON: p})
	if n := v["people_count"]; n != "" {
		ch.Writes = append(ch.Writes, cases.LocalWrite{Field: "people_count", JSON: json.RawMessage(n)})
	}
	if t := v["registered_at"]; t != "" {
		ms, err := parseLedgerTime(t)
		if err != nil {
			return Change{}, false, &cases.FieldError{Field: "registered_at", Code: "time_format",
				Zh: "登记时间格式应为 2026-01-02 或 2026-01-02 15:04", En: "registered_at must be 2026-01-02 or 2026-01-02 15:04"}
		}
		ch.Writes = append(ch.Writes,
			cases.LocalWrite{Field: "registered_at", JSON: json.RawMessage(strconv.FormatInt(ms, 10))},
			cases.LocalWrite{Field: "received_at", JSON: json.RawMessage(strconv.FormatInt(ms, 10))})
	}
	for _, tag := range strings.FieldsFunc(v["tags"], func(r rune) bool { return r == ';' || r == '；' || r == '、' || r == ',' || r == '，' }) {
		b, _ := json.Marshal(strings.TrimSpace(tag))
		ch.Writes = append(ch.Writes, cases.LocalWrite{Field: "tags", Action: cases.Add, JSON: b})
	}
	return ch, true, nil
}

// parseLedgerTime reads a ledger's date or date-time, in Asia/Shanghai.
func parseLedgerTime(s string) (int64, error) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02", "2006/01/02", "2006/1/2",
		"2006/1/2 15:04", "2006/1/2 15:04:05", "2006年1月2日"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("time %q", s)
}
