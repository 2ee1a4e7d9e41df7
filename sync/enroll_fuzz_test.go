package sync_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/node"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// FuzzEnrollHandler: whatever body a client posts to POST /api/v1/enroll (from this machine,
// where no token is needed), the answer is a JSON object with a 200 or a 4xx, never a 5xx
// or a panic, and a refused request stores no enrollment.
func FuzzEnrollHandler(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	id, _ := age.GenerateX25519Identity()
	good, _ := json.Marshal(fsync.EnrollRequest{Station: "zs-st1", Region: "420323100", Key: pub, Recipient: id.Recipient().String(), Kind: fsync.KindStation})
	f.Add(good)
	f.Add([]byte(`{"station":"zs st","region":"420323100"}`))
	f.Add([]byte(`{"station":"zs-st1","region":"999999999","key":"AAAA","recipient":"age1x","kind":"hub"}`))
	f.Add([]byte(`{"unknown":1}`))
	f.Add([]byte(`[`))
	f.Add(bytes.Repeat([]byte(`{"station":`), 2000))
	r, err := node.Open("hub", node.Options{NodeID: "zs-hub", Region: "420323", FS: vfs.NewMem(), HeadCacheSize: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	h := fsync.NewHub(fsync.HubConfig{Replica: r, Logger: slog.New(slog.DiscardHandler), URLs: []string{"http://127.0.0.1:1"}})
	handler := h.EnrollHandler("")
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/enroll", bytes.NewReader(body))
		req.RemoteAddr = "127.0.0.1:5555"
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 || (rec.Code != 200 && (rec.Code < 400 || rec.Code >= 500)) {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("not JSON (%d): %q", rec.Code, rec.Body.String())
		}
		if rec.Code != 200 && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("a refusal without an error object: %s", rec.Body.String())
		}
	})
}
