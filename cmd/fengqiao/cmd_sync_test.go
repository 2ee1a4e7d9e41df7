package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/server"
)

// The operator's path through the binary: start a hub, enroll a station with it, import
// cases at the station, run the station: its cases reach the hub. Then the same by hand:
// a second station exports a bundle, the hub imports it (twice: nothing changes), the hub
// exports the return bundle and the station imports it.
func TestSync_HubEnrollStationExportImport(t *testing.T) {
	dir := t.TempDir()
	hubAddr := freeAddr(t)
	stopHub, _ := startCommand(t, "hub", "--dir", filepath.Join(dir, "hub"), "--id", "zs-hub", "--region", "420323", "--http", hubAddr)
	hubURL := "http://" + hubAddr
	var st server.StatusResponse
	getJSON(t, hubURL+"/api/v1/status", &st)
	if st.Role != "hub" {
		t.Fatalf("hub status role %q", st.Role)
	}

	stDir := filepath.Join(dir, "st")
	out, errOut, err := runApp(t, commands(), nil, "enroll", "--hub", hubURL, "--dir", stDir, "--id", "zs-chengguan", "--region", "420323100")
	if err != nil || !strings.Contains(out, "enrolled") {
		t.Fatalf("enroll: %v\n%s\n%s", err, out, errOut)
	}
	if _, _, err := runApp(t, commands(), nil, "import", "--dir", stDir, filepath.Join("demodata", "sample.jsonl")); err != nil {
		t.Fatalf("import: %v", err)
	}
	stAddr := freeAddr(t)
	stopSt, _ := startCommand(t, "station", "--dir", stDir, "--http", stAddr)
	var stationStatus server.StatusResponse
	getJSON(t, "http://"+stAddr+"/api/v1/status", &stationStatus)
	deadline := time.Now().Add(30 * time.Second)
	for {
		getJSON(t, hubURL+"/api/v1/status", &st)
		if st.Ops >= stationStatus.Ops && st.Ops > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub holds %d ops, station %d", st.Ops, stationStatus.Ops)
		}
		time.Sleep(20 * time.Millisecond)
	}
	getJSON(t, "http://"+stAddr+"/api/v1/status", &stationStatus)
	if len(stationStatus.Peers) != 1 || stationStatus.Peers[0].ID != "zs-hub" {
		t.Errorf("station status peers: %+v", stationStatus.Peers)
	}
	if err := stopSt(); err != nil {
		t.Errorf("station: %v", err)
	}

	// By hand: a second station, never online after enrolling.
	st2 := filepath.Join(dir, "st2")
	if _, _, err := runApp(t, commands(), nil, "enroll", "--hub", hubURL, "--dir", st2, "--id", "zs-baofeng", "--region", "420323103"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runApp(t, commands(), nil, "import", "--dir", st2, "--author", "grid2", filepath.Join("demodata", "sample.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := stopHub(); err != nil { // the hub's store is opened by the commands below
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "st2.fqb")
	if out, _, err := runApp(t, commands(), nil, "export", "--dir", st2, "--out", bundle); err != nil || !strings.Contains(out, "push") {
		t.Fatalf("export: %v %s", err, out)
	}
	first, _, err := runApp(t, commands(), nil, "import", "--dir", filepath.Join(dir, "hub"), bundle)
	if err != nil {
		t.Fatalf("hub import: %v", err)
	}
	again, _, err := runApp(t, commands(), nil, "import", "--dir", filepath.Join(dir, "hub"), bundle)
	if err != nil || !strings.Contains(again, " 0 条新操作") {
		t.Fatalf("second import should apply nothing: %v\nfirst: %s\nagain: %s", err, first, again)
	}
	ret := filepath.Join(dir, "return.fqb")
	if out, _, err := runApp(t, commands(), nil, "export", "--dir", filepath.Join(dir, "hub"), "--peer", "zs-baofeng", "--out", ret); err != nil || !strings.Contains(out, "return") {
		t.Fatalf("return export: %v %s", err, out)
	}
	if out, _, err := runApp(t, commands(), nil, "import", "--dir", st2, ret); err != nil {
		t.Fatalf("station import of the return bundle: %v %s", err, out)
	}
}
