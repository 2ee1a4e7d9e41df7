package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
	"github.com/fengqiao/fengqiao/sync"
)

// serveHub serves a hub's API (bundles included) with lim on loopback through
// server.ServeLimited, the way the commands serve it, and returns its base URL.
func serveHub(t *testing.T, lim server.Limits) string {
	t.Helper()
	r, err := node.Open("hub", node.Options{NodeID: "zs-hub", Region: "420323", FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	h := sync.NewHub(sync.HubConfig{Replica: r, Logger: slog.New(slog.DiscardHandler)})
	handler := server.NewStationHandler(server.StationConfig{Replica: r, Role: "hub", Bundles: h, Sync: h,
		Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.ServeLimited(ctx, ln, handler, slog.New(slog.DiscardHandler), time.Second, lim) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var body server.ErrorBody
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("%d %q is not a JSON error: %v", resp.StatusCode, b, err)
	}
	return body.Error.Code
}

// A bundle upload is not held to the 1 MiB cap of the JSON endpoints: a 3 MiB upload reaches
// the bundle reader (and, not being a bundle, is refused by it), instead of being cut off as
// "the upload broke off" at 1 MiB, as it was.
func TestLimits_BundleUploadIsNotCutAtOneMiB(t *testing.T) {
	base := serveHub(t, server.Limits{})
	body := bytes.Repeat([]byte("x"), 3<<20)
	resp, err := http.Post(base+"/api/v1/bundles", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if code := errorCode(t, resp); resp.StatusCode != http.StatusBadRequest || code != "bundle_refused" {
		t.Fatalf("3 MiB upload: %d %s, want 400 bundle_refused (read whole, then refused as no bundle)", resp.StatusCode, code)
	}
	// The JSON endpoints keep their cap.
	resp, err = http.Post(base+"/api/v1/status", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("3 MiB body to a JSON endpoint: %d, want a 4xx", resp.StatusCode)
	}
}

// closedWithin reports whether the server ends conn (EOF, reset, or a response followed by
// the end) before d passes; it reads whatever the server sends.
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return err == nil || !(errorsAs(err, &ne) && ne.Timeout())
}

func errorsAs(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// A client that sends half a request's headers and stops is cut after ReadHeaderTimeout; one
// that stops in the middle of a bundle upload is cut after IdleBody.
func TestLimits_SlowClientsAreCut(t *testing.T) {
	base := serveHub(t, server.Limits{ReadHeaderTimeout: 200 * time.Millisecond, IdleBody: 200 * time.Millisecond})
	addr := strings.TrimPrefix(base, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
	if !closedWithin(conn, 10*time.Second) {
		t.Fatal("a client stuck in its headers was not cut")
	}

	up, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	fmt.Fprintf(up, "POST /api/v1/bundles HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n%s", strings.Repeat("x", 1000))
	if !closedWithin(up, 10*time.Second) {
		t.Fatal("an upload that stopped moving was not cut")
	}
}

// No more than MaxConns connections are served at once: with two idle connections open a
// third client gets no answer; once one closes, it is served.
func TestLimits_ConnectionCap(t *testing.T) {
	base := serveHub(t, server.Limits{MaxConns: 2})
	addr := strings.TrimPrefix(base, "http://")
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A complete request with keep-alive: the connection stays open and is served.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		idle = append(idle, c)
	}
	quick := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := quick.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were open")
	}
	idle[0].Close()
	patient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := patient.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("after a connection closed, a new client was still not served: %v", err)
	}
	resp.Body.Close()
}

// Malformed requests of every kind the API takes get a JSON error with a 4xx, never a 500.
func TestLimits_MalformedRequestsGetJSON4xx(t *testing.T) {
	base := serveHub(t, server.Limits{})
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/cases?limit=0", ""},
		{"GET", "/api/v1/cases?limit=abc", ""},
		{"GET", "/api/v1/cases?limit=99999999999999999999", ""},
		{"GET", "/api/v1/cases?cursor=%%%", ""},
		{"GET", "/api/v1/cases?cursor=AAAA", ""},
		{"GET", "/api/v1/cases?cursor=" + strings.Repeat("A", 4000), ""},
		{"GET", "/api/v1/cases?due_within=-3d", ""},
		{"GET", "/api/v1/cases?due_within=99999d", ""},
		{"GET", "/api/v1/cases?due_within=xyz", ""},
		{"GET", "/api/v1/cases/" + strings.Repeat("z", 3000), ""},
		{"GET", "/api/v1/cases/a%00b", ""},
		{"GET", "/api/v1/cases/..%2F..%2Fetc", ""},
		{"GET", "/api/v1/quarantine?after=x", ""},
		{"GET", "/api/v1/quarantine?limit=-1", ""},
		{"GET", "/api/v1/bundles/" + strings.Repeat("s", 500), ""},
		{"GET", "/api/v1/bundles/a%00b", ""},
		{"POST", "/api/v1/bundles", ""},
		{"POST", "/api/v1/bundles", "FQB\x01garbage"},
		{"GET", "/sync", ""}, // not a websocket upgrade
		{"DELETE", "/api/v1/status", ""},
		{"GET", "/nope", ""},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			resp.Body.Close()
			continue // some are simply valid (an empty page); what matters is no 5xx
		}
		t.Logf("%s %s", tc.method, tc.path)
		code := errorCode(t, resp)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d %s, want a 4xx", tc.method, tc.path, resp.StatusCode, code)
		}
	}
}
