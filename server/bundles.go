package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/fengqiao/fengqiao/sync"
)

// BundleHub is what a hub's bundle endpoints need; *sync.Hub implements it. Both directions
// are safe without a session: a push bundle is signed by its station and checked like a
// session's batches, and a return bundle is encrypted to its station.
type BundleHub interface {
	ImportBundle(ctx context.Context, f io.ReaderAt, size int64) (sync.BundleReport, error)
	ExportBundle(ctx context.Context, w io.Writer, station string) (sync.BundleReport, error)
}

// MaxBundleUpload bounds a bundle posted to a hub.
const MaxBundleUpload = 1 << 30

// bundleUploadPath is where a station's push bundle is POSTed.
const bundleUploadPath = "/api/v1/bundles"

// importBundle serves POST /api/v1/bundles: a station's push bundle, carried by hand to a
// county office and uploaded to any member of the hub (its ops go through the Raft log).
func (s *station) importBundle(w http.ResponseWriter, r *http.Request) {
	tmp, err := os.CreateTemp("", "fengqiao-upload-*")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "无法暂存同步包 / could not spool the bundle", "")
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	// The upload may take long over a slow link: it only has to keep moving.
	rc := http.NewResponseController(w)
	body := &progressBody{r: r.Body, rc: rc, idle: limitsOf(r).IdleBody}
	n, err := io.Copy(tmp, io.LimitReader(body, MaxBundleUpload+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_upload", "同步包上传中断 / the upload broke off", "")
		return
	}
	if n > MaxBundleUpload {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("同步包超过 %d 字节 / bundle over %d bytes", MaxBundleUpload, MaxBundleUpload), "")
		return
	}
	rep, err := s.cfg.Bundles.ImportBundle(r.Context(), tmp, n)
	if errors.Is(err, sync.ErrBundle) {
		writeError(w, http.StatusBadRequest, "bundle_refused", err.Error(), "")
		return
	}
	if err != nil {
		s.cfg.Logger.Error("bundle import failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "import_failed", "导入失败，请稍后重试 / import failed, try again later", "")
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// exportBundle serves GET /api/v1/bundles/{station}: the station's return bundle.
func (s *station) exportBundle(w http.ResponseWriter, r *http.Request) {
	tmp, err := os.CreateTemp("", "fengqiao-return-*")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "无法生成同步包 / could not write the bundle", "")
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := s.cfg.Bundles.ExportBundle(r.Context(), tmp, r.PathValue("station")); err != nil {
		if errors.Is(err, sync.ErrBundle) {
			writeError(w, http.StatusNotFound, "no_station", err.Error(), "station")
			return
		}
		s.cfg.Logger.Error("bundle export failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "export_failed", "生成同步包失败 / could not write the bundle", "")
		return
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "无法读取同步包 / could not read the bundle back", "")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(size))
	_, _ = io.Copy(w, tmp)
}
