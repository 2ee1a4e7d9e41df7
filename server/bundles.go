package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/fengqiao/fengqiao/cases"

	"github.com/fengqiao/fengqiao/sync"
)

// BundleHub is what a hub's bundle endpoints need; *sync.Hub implements it. Both directions
// are safe without a session: a push bundle is signed by its station and checked like a
// session's batches, and a return bundle is encrypted to its station.
type BundleHub interface {
	ImportBundle(ctx context.Context, f io.ReaderAt, size int64) (sync.BundleReport, error)
	ExportBundle(ctx context.Context, w io.Writer, station string) (sync.BundleReport, error)
}

// MaxBundleUpload bounds a bundle posted to a hub or a station.
const MaxBundleUpload = 1 << 30

// bundleUploadPath is where a station's push bundle is POSTed.
const bundleUploadPath = "/api/v1/bundles"

// returnBundlePath is where a station takes its hub's return bundle (POST) and gives its
// own push bundle (GET).
const returnBundlePath = "/api/v1/bundle"

// StationBundles is what a station's bundle endpoints need: its push bundle for the hub,
// and the import of the hub's return bundle. LocalBundles implements it over a replica.
type StationBundles interface {
	ExportPush(ctx context.Context, w io.Writer) (sync.BundleReport, error)
	ImportReturn(ctx context.Context, f io.ReaderAt, size int64) (sync.BundleReport, error)
}

// LocalBundles is StationBundles over the station's own replica.
type LocalBundles struct{ Replica sync.Replica }

func (b LocalBundles) ExportPush(ctx context.Context, w io.Writer) (sync.BundleReport, error) {
	return sync.ExportBundle(ctx, b.Replica, w, sync.BundleOptions{})
}

func (b LocalBundles) ImportReturn(ctx context.Context, f io.ReaderAt, size int64) (sync.BundleReport, error) {
	info, err := sync.LoadHubInfo(b.Replica)
	if err != nil {
		return sync.BundleReport{}, fmt.Errorf("%w: this station is not enrolled at a hub / 本站尚未在中心登记", sync.ErrBundle)
	}
	return sync.ImportBundle(ctx, b.Replica, f, size, sync.BundleOptions{Peer: info.Hub})
}

// importBundle serves POST /api/v1/bundles: a station's push bundle, carried by hand to a
// county office and uploaded to any member of the hub (its ops go through the Raft log).
func (s *station) importBundle(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermImport, nil); !ok {
		return
	}
	s.importSpooled(w, r, s.cfg.Bundles.ImportBundle)
}

// importReturnBundle serves POST /api/v1/bundle at a station: the return bundle carried
// back from the hub.
func (s *station) importReturnBundle(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermImport, nil); !ok {
		return
	}
	s.importSpooled(w, r, s.cfg.StationBundles.ImportReturn)
}

// importSpooled spools the request body to a temporary file (bundles are read at random
// offsets, and verified whole before anything is applied) and imports it.
func (s *station) importSpooled(w http.ResponseWriter, r *http.Request, imp func(context.Context, io.ReaderAt, int64) (sync.BundleReport, error)) {
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
	rep, err := imp(r.Context(), tmp, n)
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
	if _, ok := s.authorize(w, r, cases.PermExport, nil); !ok {
		return
	}
	station := r.PathValue("station")
	s.exportSpooled(w, station+"-return.fqb", func(ctx context.Context, out io.Writer) error {
		_, err := s.cfg.Bundles.ExportBundle(ctx, out, station)
		return err
	}, r)
}

// exportPushBundle serves GET /api/v1/bundle at a station: its push bundle, to carry to
// the hub.
func (s *station) exportPushBundle(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermExport, nil); !ok {
		return
	}
	name := s.cfg.Replica.Status().Node + "-" + time.Now().In(Shanghai).Format("20060102-1504") + ".fqb"
	s.exportSpooled(w, name, func(ctx context.Context, out io.Writer) error {
		_, err := s.cfg.StationBundles.ExportPush(ctx, out)
		return err
	}, r)
}

// exportSpooled writes a bundle to a temporary file first, so that a failure halfway is an
// error response, never a cut-off download that looks whole.
func (s *station) exportSpooled(w http.ResponseWriter, filename string, export func(context.Context, io.Writer) error, r *http.Request) {
	tmp, err := os.CreateTemp("", "fengqiao-bundle-*")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "无法生成同步包 / could not write the bundle", "")
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := export(r.Context(), tmp); err != nil {
		if errors.Is(err, sync.ErrBundle) {
			writeError(w, http.StatusNotFound, "no_peer", err.Error(), "station")
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
	w.Header().Set("Content-Disposition", "attachment; filename=\""+filename+"\"")
	_, _ = io.Copy(w, tmp)
}
