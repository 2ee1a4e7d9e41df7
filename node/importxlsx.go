package node

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/fengqiao/fengqiao/cases"
)

// Limits on a ledger workbook: an .xlsx is a zip, and a small file can declare huge
// contents. Past them the workbook is refused, never unpacked into memory.
const (
	// MaxLedgerBytes is the largest workbook file accepted.
	MaxLedgerBytes = 64 << 20
	// maxLedgerUnzipped bounds what the workbook's parts may unpack to in all.
	maxLedgerUnzipped = 512 << 20
	// maxLedgerXMLInMemory is the largest worksheet part read in memory (larger ones are
	// streamed through a temporary file by excelize).
	maxLedgerXMLInMemory = 32 << 20
	// maxLedgerRows bounds the rows read from a sheet.
	maxLedgerRows = 1_000_000
)

// ImportXLSX imports a ledger workbook (台账, .xlsx): its first sheet is read like a CSV
// ledger — a header row naming the columns (see csvColumns), then one case per row — with
// row numbers as Excel shows them. Values are read as the sheet displays them. A resident
// ID stored as a number (Excel keeps 15 significant digits, so its last digits are gone) is
// refused with a message saying how to fix the sheet. Like ImportCSV it is idempotent and
// resumable, and bad rows never block the good ones.
func (r *Replica) ImportXLSX(ctx context.Context, data io.ReaderAt, size int64, opts ImportOptions) (ImportReport, error) {
	raw, rowErrs, err := LedgerCSV(io.NewSectionReader(data, 0, size), size)
	if err != nil {
		return ImportReport{}, err
	}
	return r.importLedger(ctx, raw, rowErrs, opts)
}

// LedgerCSV reads the first sheet of the workbook in r (size bytes) as CSV, one record per
// sheet row (empty rows kept, so CSV record n is sheet row n), and the errors of rows whose
// cells cannot hold what their column needs. It is exported for the fuzz test and the
// ledger page's preview.
func LedgerCSV(r io.Reader, size int64) ([]byte, map[int]error, error) {
	if size > MaxLedgerBytes {
		return nil, nil, fmt.Errorf("workbook of %d bytes: at most %d / 台账文件过大", size, MaxLedgerBytes)
	}
	f, err := excelize.OpenReader(io.LimitReader(r, MaxLedgerBytes+1), excelize.Options{
		UnzipSizeLimit: maxLedgerUnzipped, UnzipXMLSizeLimit: maxLedgerXMLInMemory,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read workbook: %w / 无法读取 Excel 台账", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, nil, fmt.Errorf("the workbook has no sheet / 台账中没有工作表")
	}
	sheet := sheets[0]
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, nil, fmt.Errorf("read sheet %q: %w", sheet, err)
	}
	defer rows.Close()
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	rowErrs := map[int]error{}
	idCol, width := -1, 0
	for n := 1; rows.Next(); n++ {
		if n > maxLedgerRows {
			return nil, nil, fmt.Errorf("sheet %q has over %d rows / 行数过多", sheet, maxLedgerRows)
		}
		cells, err := rows.Columns()
		if err != nil {
			return nil, nil, fmt.Errorf("sheet %q row %d: %w", sheet, n, err)
		}
		if n == 1 {
			width = len(cells)
			for i, h := range cells {
				if csvColumns[strings.TrimSpace(h)] == "id_number" {
					idCol = i
				}
			}
		}
		// A sheet row holds cells up to its last non-empty one: pad it to the header's width
		// (an empty row then stays a record, so CSV record n is still sheet row n) and drop
		// empty cells past it.
		for len(cells) > width && strings.TrimSpace(cells[len(cells)-1]) == "" {
			cells = cells[:len(cells)-1]
		}
		for len(cells) < width {
			cells = append(cells, "")
		}
		if n > 1 && idCol >= 0 {
			if e := numericResidentID(f, sheet, n, idCol, cells[idCol]); e != nil {
				rowErrs[n] = e
			}
		}
		if err := w.Write(cells); err != nil {
			return nil, nil, err
		}
	}
	if err := rows.Error(); err != nil {
		return nil, nil, fmt.Errorf("read sheet %q: %w", sheet, err)
	}
	w.Flush()
	return out.Bytes(), rowErrs, w.Error()
}

// numericResidentID reports a resident ID that the sheet holds as a number: Excel keeps 15
// significant digits, so an 18-digit ID typed into a number cell has lost its last three
// (and shows as 4.20323E+17 or with zeros at the end).
func numericResidentID(f *excelize.File, sheet string, row, col int, shown string) error {
	if strings.TrimSpace(shown) == "" {
		return nil
	}
	cell, err := excelize.CoordinatesToCellName(col+1, row)
	if err != nil {
		return nil
	}
	// A cell with no type is a number in the file format; text is a shared or inline string.
	if t, err := f.GetCellType(sheet, cell); err == nil && (t == excelize.CellTypeNumber || t == excelize.CellTypeUnset) {
		return &cases.FieldError{Field: "id_number", Code: "id_number_as_number",
			Zh: "身份证号在 Excel 中被存为数字，后几位已丢失：请把该列设为“文本”格式后重新填写",
			En: "the resident ID is stored as a number in the sheet and has lost its last digits: format the column as Text and enter it again"}
	}
	return nil
}
