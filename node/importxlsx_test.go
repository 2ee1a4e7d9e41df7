package node_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// workbook builds a ledger workbook the way a county office's Excel would hold one: text
// cells, and (idAsNumber) a resident ID typed into a number cell.
func workbook(t testing.TB, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var ledgerHeader = []any{"案件编号", "类别", "区划代码", "姓名", "身份证号", "联系电话", "内容分类", "信访形式", "诉求", "登记时间", "标签"}

// A county office's Excel ledger imports like its CSV: good rows are written, bad ones are
// reported by the row number Excel shows (an empty row in between keeps the numbering), a
// resident ID Excel turned into a number is refused with how to fix it, and importing the
// workbook again writes nothing.
func TestImportXLSX_RowsByExcelNumberAndNothingTwice(t *testing.T) {
	r := openTestReplica(t, "zs-chengguan", "420323100")
	book := workbook(t, [][]any{
		ledgerHeader,
		{"zs-2026-0001", "信访", "420323100201", "王芳", "11010519491231002X", "13800138000", "劳动社保", "走访", "反映拖欠工资", "2026-03-02", "重复访；积案"},
		{},
		{"zs-2026-0002", "纠纷", "420323100201", "李强", 420323198203150021, "13800138000", "邻里纠纷", "走访", "宅基地界址争议", "2026/3/2 09:30", ""},
		{"zs-2026-0003", "信访", "999999999999", "张伟", "", "", "城乡建设", "书信", "道路损坏", "2026-03-03", ""},
		{"zs-2026-0004", "纠纷", "420323100201", "赵敏", "420323198203150021", "13900139000", "邻里纠纷", "电话", "噪音扰民", "2026年3月4日", ""},
	})
	rep, err := r.ImportXLSX(context.Background(), bytes.NewReader(book), int64(len(book)), node.ImportOptions{Author: "wg001"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ops != 2 || len(rep.Rejected) != 2 {
		t.Fatalf("report %+v, want 2 rows written and 2 refused", rep)
	}
	var fe *cases.FieldError
	if rep.Rejected[0].Line != 4 || !errors.As(rep.Rejected[0].Err, &fe) || fe.Code != "id_number_as_number" {
		t.Errorf("row 4 (resident ID in a number cell) refused as %+v", rep.Rejected[0])
	}
	if rep.Rejected[1].Line != 5 || !strings.Contains(rep.Rejected[1].Err.Error(), "region") {
		t.Errorf("row 5 (unknown region) refused as %+v", rep.Rejected[1])
	}
	c := mustCase(t, r, "zs-2026-0004")
	if got := c.String("summary"); got != "噪音扰民" {
		t.Errorf("case zs-2026-0004 summary %q", got)
	}
	again, err := r.ImportXLSX(context.Background(), bytes.NewReader(book), int64(len(book)), node.ImportOptions{Author: "wg001"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Ops != 0 {
		t.Errorf("the same workbook again wrote %d ops", again.Ops)
	}
}

// A file that is not a workbook, or whose zip declares more than the limits, is refused as a
// whole with an error, and nothing is written.
func TestImportXLSX_NotAWorkbookIsRefused(t *testing.T) {
	r := openTestReplica(t, "zs-chengguan", "420323100")
	for name, b := range map[string][]byte{
		"csv renamed": []byte("案件编号,类别\nzs-1,信访\n"),
		"empty":       {},
		"truncated":   workbook(t, [][]any{ledgerHeader})[:300],
		"oversized":   make([]byte, node.MaxLedgerBytes+1),
	} {
		if _, err := r.ImportXLSX(context.Background(), bytes.NewReader(b), int64(len(b)), node.ImportOptions{}); err == nil {
			t.Errorf("%s: imported", name)
		}
	}
	if n := r.Status().FeedSeq; n != 0 {
		t.Errorf("refused workbooks wrote %d ops", n)
	}
}

func FuzzLedgerCSV(f *testing.F) {
	f.Add(workbook(f, [][]any{ledgerHeader, {"zs-1", "信访", "420323100201", "王芳", 1.5}}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, rowErrs, err := node.LedgerCSV(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if len(raw) > 64*len(b)+1<<20 {
			t.Fatalf("%d bytes of workbook became %d bytes of CSV", len(b), len(raw))
		}
		for n := range rowErrs {
			if n < 2 {
				t.Fatalf("row error on row %d (the header)", n)
			}
		}
	})
}
