package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// A county office's ledger: the list exported as an Excel workbook with Chinese headers,
// one row per case, identity masked unless asked for by someone who may see it (then the
// export is audited), and a full ledger imports into another station as it is.
func TestLedger_ExportsAWorkbookThatImportsElsewhere(t *testing.T) {
	c := newCounty(t)
	registerCase(t, c.hub.r, "zs-0001", villageA, c.staff)
	registerCase(t, c.hub.r, "zs-0002", villageA, c.staff)
	tok := c.hub.signIn(t, c.staff, testPass)

	fetch := func(query string) ([]byte, http.Header) {
		req, _ := http.NewRequest("GET", c.hub.srv.URL+"/api/v1/export?format=xlsx"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export: %d %s", resp.StatusCode, b)
		}
		return b, resp.Header
	}
	masked, hdr := fetch("")
	if !strings.Contains(hdr.Get("Content-Disposition"), ".xlsx") || hdr.Get("X-Fengqiao-Redacted") != "true" {
		t.Errorf("export headers %v", hdr)
	}
	csv, _, err := node.LedgerCSV(bytes.NewReader(masked), int64(len(masked)))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "案件编号,案件号,类别,状态,区划代码") {
		t.Fatalf("the workbook holds %d rows, header %q", len(rows), rows[0])
	}
	if strings.Contains(string(csv), "11010519491231002X") || !strings.Contains(string(csv), "王*") {
		t.Errorf("a redacted ledger shows identity:\n%s", csv)
	}
	before := c.hub.r.Status().FeedSeq
	full, _ := fetch("&redact=0")
	if c.hub.r.Status().FeedSeq != before+1 {
		t.Errorf("a full export wrote %d audit records, want 1", c.hub.r.Status().FeedSeq-before)
	}
	csv, _, _ = node.LedgerCSV(bytes.NewReader(full), int64(len(full)))
	if !strings.Contains(string(csv), "11010519491231002X") || !strings.Contains(string(csv), "2026-01-01 08:00") {
		t.Errorf("a full ledger lacks the resident ID or the registration time in Beijing time:\n%s", csv)
	}

	other := openNode(t, t.TempDir(), "zs-other", county, newTestClock())
	rep, err := other.ImportXLSX(context.Background(), bytes.NewReader(full), int64(len(full)), node.ImportOptions{Author: "import"})
	if err != nil || rep.Ops != 2 || len(rep.Rejected) != 0 {
		t.Fatalf("importing the exported ledger: %+v %v", rep, err)
	}
	got, _, err := other.Case("zs-0002")
	if err != nil {
		t.Fatal(err)
	}
	if ps, _ := cases.DecodeValue("petitioners", mustValue(t, got, "petitioners")).([]cases.Person); len(ps) != 1 || ps[0].IDNumber != "11010519491231002X" {
		t.Errorf("the imported case's petitioners: %+v", ps)
	}
}

func mustValue(t *testing.T, c *cases.Case, f string) []byte {
	t.Helper()
	v, ok := c.Value(f)
	if !ok {
		t.Fatalf("case %s has no %s", c.ID, f)
	}
	return v
}
