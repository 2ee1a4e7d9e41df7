package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/server"
)

// The README's first command: the demo starts a hub and two stations, syncs the online one,
// brings the offline one's case up to the hub, serves all three, and stops on cancel.
func TestDemo_SyncsAndServes(t *testing.T) {
	dir := t.TempDir()
	hubAddr, a1, a2 := freeAddr(t), freeAddr(t), freeAddr(t)
	stop, out := startCommand(t, "demo", "--dir", filepath.Join(dir, "demo"), "--hub-http", hubAddr, "--http", a1, "--http2", a2)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not come up; output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "the hub holds st-") || !strings.Contains(out.String(), ": true") {
		t.Errorf("the offline station's case did not reach the hub:\n%s", out.String())
	}
	var hub, st1, st2 server.StatusResponse
	getJSON(t, "http://"+hubAddr+"/api/v1/status", &hub)
	getJSON(t, "http://"+a1+"/api/v1/status", &st1)
	getJSON(t, "http://"+a2+"/api/v1/status", &st2)
	if hub.Role != "hub" || st1.Cases == 0 || st2.Cases == 0 || hub.Cases <= st1.Cases {
		t.Errorf("hub %d cases, stations %d and %d", hub.Cases, st1.Cases, st2.Cases)
	}
	if err := stop(); err != nil {
		t.Fatalf("demo: %v", err)
	}
}
