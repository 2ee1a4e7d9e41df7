package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/fengqiao/fengqiao/sync"
)

// bundleClient carries bundles to and from a hub. Any TLS certificate is accepted: a
// bundle is signed by its sender and encrypted to its recipient end to end, verified before
// anything of it is applied, so a machine in the middle could withhold one but neither read
// nor alter it.
var bundleClient = operatorClient(true, 0)

// uploadBundle posts a station's push bundle to a running hub (any member of a cluster: the
// ops go through its Raft log) and prints the hub's report.
func uploadBundle(ctx context.Context, env *Env, hubURL, path string, asJSON bool) error {
	f, size, err := openSized(path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(hubURL, "/")+"/api/v1/bundles", f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := bundleClient.Do(req)
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", path, hubURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upload %s to %s: %s: %s", path, hubURL, resp.Status, strings.TrimSpace(string(body)))
	}
	var rep sync.BundleReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("upload %s: the hub's report: %w", path, err)
	}
	if asJSON {
		return json.NewEncoder(env.Stdout).Encode(rep)
	}
	fmt.Fprintf(env.Stdout, "已导入同步包 / imported %s bundle %s → %s: %d 批 batches, %d 条新操作 new ops, %d 条重复 duplicates, %d 条隔离 quarantined\n",
		rep.Kind, rep.From, rep.To, rep.Batches, rep.Applied, rep.Duplicates, rep.Quarantined)
	return nil
}

// downloadBundle fetches a station's return bundle from a running hub into out, atomically.
func downloadBundle(ctx context.Context, env *Env, hubURL, station, out string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(hubURL, "/")+"/api/v1/bundles/"+url.PathEscape(station), nil)
	if err != nil {
		return err
	}
	resp, err := bundleClient.Do(req)
	if err != nil {
		return fmt.Errorf("return bundle for %s from %s: %w", station, hubURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return fmt.Errorf("return bundle for %s from %s: %s: %s", station, hubURL, resp.Status, strings.TrimSpace(string(body)))
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".fengqiao-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(env.Stdout, "已写出回执包 / wrote the return bundle for %s: %s (%d bytes)\n", station, out, n)
	return nil
}

// openSized opens a file and returns its size.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
