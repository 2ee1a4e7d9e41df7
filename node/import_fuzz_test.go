package node_test

// Fuzz targets for the two import formats, decoders of files brought in from outside (a
// county's registration ledger in CSV, the workload's JSONL). Their seeds are committed in
// testdata/fuzz/<FuzzName>/; rewrite them after changing the seeds below with
//
//	FENGQIAO_WRITE_FUZZ_SEEDS=1 go test -run '^TestImportFuzzSeeds_Committed$' ./node/

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/node"
)

var csvSeeds = []string{
	"案件编号,区划代码,姓名,身份证号,联系电话,诉求,内容分类,登记时间\n" +
		"ZS-1,420323100201,王芳,11010519491231002X,13800138000,反映拖欠工资,劳动社保,2026-01-02\n" +
		"ZS-2,420323100201,李四,11010519491231002X,13800138000,\"邻里纠纷，\n多次协商未果\",邻里纠纷,2026-01-03 09:30\n",
	"\xef\xbb\xbfid,region,name,phone,summary,tags,people_count\nA-1,420323100201,张三,13800138000,占道,紧急;重复,3\n",
	"id,region,name\nA-1,420323100201,张三\nA-1,420323100201,张三\n,,\nA-2,999999999999,李四\n",
	"id,region,name,registered_at\nB-1,420323100201,张三,2026-13-45\nB-2,420323100201,\"unterminated\n",
	"id,region,name,extra\n",
	"id,region\nC-1\nC-2,420323100201,too,many\n",
	"",
}

var jsonlSeeds = []string{
	`{"kind":"create","case":{"id":"W-1","region":"420323100201","kind":"petition","petitioners":[{"name":"王芳","id_number":"11010519491231002X","phone":"13800138000"}],"summary":"反映拖欠工资","category":"劳动社保","registered_at":1767225600000}}` + "\n" +
		`{"kind":"note","id":"W-1","text":"已电话回访"}` + "\n",
	`{"kind":"create","case":{"id":"W-2"}}` + "\n" + `not json` + "\n" + `{"kind":"edit","id":"nope","field":"summary","value":"x"}` + "\n",
	`{"kind":"create","case":{"id":"W\u0000-3","region":"420323100201"}}`,
	"\n\n\n",
	"",
}

func fuzzReplica(t *testing.T) *node.Replica {
	t.Helper()
	r, err := node.Open("fz", node.Options{NodeID: "zs-chengguan", Region: "420323100", FS: vfs.NewMem(),
		HeadCacheSize: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// checkImport imports data twice and checks what an import promises whatever the bytes: no
// panic; an error only for a file refused as a whole, and then nothing written; as many ops
// in the store as the report says were written; every refused line named with a line number
// inside the file and a reason; and the second import of the same bytes writes nothing.
func checkImport(t *testing.T, data []byte, imp func(r *node.Replica, data []byte) (node.ImportReport, error)) {
	r := fuzzReplica(t)
	rep, err := imp(r, data)
	if err != nil {
		if fs := r.Status().FeedSeq; fs != 0 {
			t.Fatalf("the import failed (%v) but wrote %d ops", err, fs)
		}
		return
	}
	if fs := r.Status().FeedSeq; fs != uint64(rep.Ops) {
		t.Fatalf("the report says %d ops written, the store holds %d", rep.Ops, fs)
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, le := range rep.Rejected {
		if le.Line < 1 || le.Line > lines || le.Err == nil || le.Err.Error() == "" {
			t.Fatalf("rejected line %d (file has %d lines): %v", le.Line, lines, le.Err)
		}
	}
	again, err := imp(r, data)
	if err != nil {
		t.Fatalf("the second import of the same bytes failed: %v", err)
	}
	if again.Ops != 0 || r.Status().FeedSeq != uint64(rep.Ops) {
		t.Fatalf("the second import of the same bytes wrote %d ops", again.Ops)
	}
}

// FuzzImportCSV: a registration ledger of any bytes is imported or refused as the import
// promises (checkImport).
func FuzzImportCSV(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkImport(t, data, func(r *node.Replica, data []byte) (node.ImportReport, error) {
			return r.ImportCSV(context.Background(), bytes.NewReader(data), int64(len(data)), node.ImportOptions{BatchSize: 3})
		})
	})
}

// FuzzImportJSONL: a workload file of any bytes is imported or refused as the import
// promises (checkImport).
func FuzzImportJSONL(f *testing.F) {
	for _, s := range jsonlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkImport(t, data, func(r *node.Replica, data []byte) (node.ImportReport, error) {
			return r.ImportJSONL(context.Background(), bytes.NewReader(data), int64(len(data)), node.ImportOptions{BatchSize: 3})
		})
	})
}

// The seeds above are committed as the targets' corpora (CI fuzzes on top of them).
func TestImportFuzzSeeds_Committed(t *testing.T) {
	for name, seeds := range map[string][]string{"FuzzImportCSV": csvSeeds, "FuzzImportJSONL": jsonlSeeds} {
		for _, s := range seeds {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(s) + ")\n"
			path := filepath.Join("testdata", "fuzz", name, fmt.Sprintf("seed-%x", sha256.Sum256([]byte(s)))[:21])
			if os.Getenv("FENGQIAO_WRITE_FUZZ_SEEDS") != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != body {
				t.Errorf("%s: seed not committed (%v); write it with FENGQIAO_WRITE_FUZZ_SEEDS=1", path, err)
			}
		}
	}
}
