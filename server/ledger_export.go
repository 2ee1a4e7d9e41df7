package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
)

// A ledger (台账) is the workbook a county office keeps: one row per case, Chinese headers,
// times in Asia/Shanghai, identity masked unless the account may see it (the rows are the
// views the export already redacted or audited). Its columns are those the ledger import
// reads (node/importcsv.go), so an exported ledger can be imported elsewhere.

// ledgerColumns are the ledger's columns: a header and how to read it from a case view.
var ledgerColumns = []struct {
	header string
	width  float64
	value  func(v *CaseJSON) string
}{
	{"案件编号", 22, func(v *CaseJSON) string { return v.ID }},
	{"案件号", 16, func(v *CaseJSON) string { return fieldText(v, "case_no") }},
	{"类别", 10, func(v *CaseJSON) string {
		if fieldText(v, "kind") == cases.MatterDispute {
			return "矛盾纠纷"
		}
		return "信访事项"
	}},
	{"状态", 10, func(v *CaseJSON) string {
		if n, ok := cases.StateNames[cases.State(v.State)]; ok {
			return n
		}
		return v.State
	}},
	{"区划代码", 14, func(v *CaseJSON) string { return fieldText(v, "region") }},
	{"区划名称", 24, func(v *CaseJSON) string {
		var names []string
		for _, p := range regions.Path(fieldText(v, "region")) {
			if p.Level >= regions.Township {
				names = append(names, p.Name)
			}
		}
		return strings.Join(names, " ")
	}},
	{"姓名", 12, func(v *CaseJSON) string { return personText(v, func(p cases.Person) string { return p.Name }) }},
	{"身份证号", 22, func(v *CaseJSON) string { return personText(v, func(p cases.Person) string { return p.IDNumber }) }},
	{"联系电话", 14, func(v *CaseJSON) string { return personText(v, func(p cases.Person) string { return p.Phone }) }},
	{"住址", 24, func(v *CaseJSON) string { return personText(v, func(p cases.Person) string { return p.Address }) }},
	{"人数", 6, func(v *CaseJSON) string { return fieldText(v, "people_count") }},
	{"内容分类", 12, func(v *CaseJSON) string { return fieldText(v, "category") }},
	{"信访形式", 10, func(v *CaseJSON) string { return fieldText(v, "channel") }},
	{"事项类型", 10, func(v *CaseJSON) string { return fieldText(v, "matter_type") }},
	{"诉求", 40, func(v *CaseJSON) string { return fieldText(v, "summary") }},
	{"办理单位", 16, func(v *CaseJSON) string { return fieldText(v, "handler_unit") }},
	{"登记时间", 17, func(v *CaseJSON) string { return timeText(v.Fields["registered_at"]) }},
	{"收到时间", 17, func(v *CaseJSON) string { return timeText(v.Fields["received_at"]) }},
	{"下一期限", 17, func(v *CaseJSON) string {
		if v.Deadline == nil {
			return ""
		}
		t, err := time.Parse(time.RFC3339, v.Deadline.At)
		if err != nil {
			return v.Deadline.At
		}
		return t.In(Shanghai).Format("2006-01-02 15:04")
	}},
	{"标签", 16, func(v *CaseJSON) string { return strings.Join(v.Tags, "；") }},
	{"冲突", 10, func(v *CaseJSON) string {
		var fs []string
		for f := range v.Conflicts {
			fs = append(fs, f)
		}
		return strings.Join(fs, "、")
	}},
}

func fieldText(v *CaseJSON, f string) string {
	switch x := v.Fields[f].(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// personText joins one detail of every petitioner of the case.
func personText(v *CaseJSON, get func(cases.Person) string) string {
	ps, _ := v.Fields["petitioners"].([]cases.Person)
	var out []string
	for _, p := range ps {
		if s := get(p); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "；")
}

// timeText shows a time field (ms) as 2026-01-02 15:04 in Asia/Shanghai.
func timeText(v any) string {
	ms, ok := v.(int64)
	if !ok || ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).In(Shanghai).Format("2006-01-02 15:04")
}

// close removes the workbook's temporary files.
func (l *ledger) close() { _ = l.f.Close() }

// ledger is a workbook being written, row by row, to a temporary file (excelize's stream
// writer), so a county's whole list never sits in memory at once.
type ledger struct {
	f    *excelize.File
	sw   *excelize.StreamWriter
	rows int
}

const ledgerSheet = "台账"

func newLedger() (*ledger, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", ledgerSheet); err != nil {
		f.Close()
		return nil, err
	}
	sw, err := f.NewStreamWriter(ledgerSheet)
	if err != nil {
		f.Close()
		return nil, err
	}
	header := make([]any, len(ledgerColumns))
	for i, c := range ledgerColumns {
		header[i] = c.header
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := sw.SetRow("A1", header); err != nil {
		f.Close()
		return nil, err
	}
	return &ledger{f: f, sw: sw}, nil
}

// add writes one row per view.
func (l *ledger) add(views []CaseJSON) error {
	for n := range views {
		row := make([]any, len(ledgerColumns))
		for i, c := range ledgerColumns {
			row[i] = c.value(&views[n]) // strings: an ID is never turned into a number
		}
		l.rows++
		cell, _ := excelize.CoordinatesToCellName(1, l.rows+1)
		if err := l.sw.SetRow(cell, row); err != nil {
			return err
		}
	}
	return nil
}

// send finishes the workbook and answers with it, named after the node and the day.
func (l *ledger) send(w http.ResponseWriter, node string, now time.Time, redacted bool) error {
	if err := l.sw.Flush(); err != nil {
		return err
	}
	name := fmt.Sprintf("%s-台账-%s.xlsx", node, now.In(Shanghai).Format("20060102"))
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	if redacted {
		w.Header().Set(redactedHeader, "true")
	}
	_, err := l.f.WriteTo(w)
	return err
}
