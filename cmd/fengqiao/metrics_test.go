package main

import (
	"bufio"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/server"
)

// metrics scrapes url's /metrics and returns each series (name with its labels) and value.
func metrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := testClient.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d", url, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// An operator's Prometheus sees what a station and its hub did: the ops the hub received
// and applied (with their apply latency), the live session, the station's peer and its
// pending ops; /readyz answers.
func TestMetrics_StationAndHubReportSync(t *testing.T) {
	dir := t.TempDir()
	hubAddr := freeAddr(t)
	stopHub, _ := startCommand(t, "hub", "--dir", filepath.Join(dir, "hub"), "--id", "zs-hub", "--region", "420323", "--http", hubAddr)
	defer stopHub()
	hubURL := "http://" + hubAddr
	var hubStatus server.StatusResponse
	getJSON(t, hubURL+"/api/v1/status", &hubStatus) // waits until the hub serves
	stDir := filepath.Join(dir, "st")
	if _, _, err := runApp(t, commands(), nil, "enroll", "--hub", hubURL, "--dir", stDir, "--id", "zs-chengguan", "--region", "420323100"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runApp(t, commands(), nil, "import", "--dir", stDir, filepath.Join("demodata", "sample.jsonl")); err != nil {
		t.Fatal(err)
	}
	stAddr := freeAddr(t)
	stopSt, _ := startCommand(t, "station", "--dir", stDir, "--http", stAddr)
	defer stopSt()
	stURL := "http://" + stAddr
	var stStatus server.StatusResponse
	getJSON(t, stURL+"/api/v1/status", &stStatus)
	if stStatus.Ops == 0 {
		t.Fatal("the station imported nothing")
	}
	waitUntil(t, 30*time.Second, "the station's ops at the hub and acknowledged", func() (bool, string) {
		m, s := metrics(t, hubURL), metrics(t, stURL)
		got := m["fengqiao_sync_ops_received_total"]
		pending := s[`fengqiao_peer_pending_ops{peer="zs-hub"}`]
		return got == float64(stStatus.Ops) && pending == 0, "hub received " + strconv.FormatFloat(got, 'f', 0, 64) +
			", station pending " + strconv.FormatFloat(pending, 'f', 0, 64)
	})
	m := metrics(t, hubURL)
	if m["fengqiao_feed_ops"] < float64(stStatus.Ops) {
		t.Errorf("hub fengqiao_feed_ops %v, want ≥ %d", m["fengqiao_feed_ops"], stStatus.Ops)
	}
	if m["fengqiao_sync_sessions"] != 1 {
		t.Errorf("hub fengqiao_sync_sessions %v, want 1", m["fengqiao_sync_sessions"])
	}
	if m["fengqiao_apply_seconds_count"] < 1 || m[`fengqiao_sync_batches_received_total{outcome="applied"}`] != m["fengqiao_apply_seconds_count"] {
		t.Errorf("hub apply histogram count %v, applied batches %v", m["fengqiao_apply_seconds_count"], m[`fengqiao_sync_batches_received_total{outcome="applied"}`])
	}
	s := metrics(t, stURL)
	if s[`fengqiao_peer_connected{peer="zs-hub"}`] != 1 {
		t.Errorf("station fengqiao_peer_connected = %v, want 1", s[`fengqiao_peer_connected{peer="zs-hub"}`])
	}
	if s["fengqiao_sync_ops_sent_total"] < float64(stStatus.Ops) {
		t.Errorf("station fengqiao_sync_ops_sent_total %v, want ≥ %d", s["fengqiao_sync_ops_sent_total"], stStatus.Ops)
	}
	out, _, err := runApp(t, commands(), nil, "status", "--http", stAddr)
	if err != nil || !strings.Contains(out, "zs-chengguan") || !strings.Contains(out, "对端 / peer zs-hub: 已连接 / connected，待确认 / unacknowledged 0") {
		t.Errorf("fengqiao status of the station: %v\n%s", err, out)
	}
	if _, _, err := runApp(t, commands(), nil, "status", "--http", freeAddr(t), "--timeout", "2s"); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("fengqiao status of nothing: %v", err)
	}
	for _, u := range []string{hubURL, stURL} {
		resp, err := http.Get(u + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s/readyz: %d", u, resp.StatusCode)
		}
	}
}
