package faultproxy_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/faultproxy"
)

const (
	c2s = faultproxy.ClientToServer
	s2c = faultproxy.ServerToClient
)

func TestPassThrough(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{})
	client, server := connect(t, srv, p)

	big := pattern(200 << 10)
	send(t, client, opText, []byte("hello"))
	send(t, client, opBinary, pattern(256))
	send(t, client, opBinary, big) // one frame with a 64-bit length
	if err := client.WriteFragmented(opBinary, big, 4); err != nil {
		t.Fatal(err)
	}
	if err := client.WriteFragmented(opText, []byte("in three parts"), 3); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op byte
		p  []byte
	}{{opText, []byte("hello")}, {opBinary, pattern(256)}, {opBinary, big}, {opBinary, big}, {opText, []byte("in three parts")}}
	for i, w := range want {
		op, got := recv(t, server)
		if op != w.op || !bytes.Equal(got, w.p) {
			t.Fatalf("client→server message %d: opcode %#x, %d bytes; want %#x, %d bytes", i, op, len(got), w.op, len(w.p))
		}
	}

	send(t, server, opText, []byte("héllo back"))
	if err := server.WriteFragmented(opBinary, big, 3); err != nil {
		t.Fatal(err)
	}
	if op, got := recv(t, client); op != opText || string(got) != "héllo back" {
		t.Fatalf("server→client: %#x %q", op, got)
	}
	if op, got := recv(t, client); op != opBinary || !bytes.Equal(got, big) {
		t.Fatalf("server→client big: %#x, %d bytes", op, len(got))
	}

	waitStats(t, p, "7 messages forwarded", func(st faultproxy.Stats) bool {
		return st.Dir[c2s].Forwarded == 5 && st.Dir[s2c].Forwarded == 2
	})
	st := p.Stats()
	if st.Accepted != 1 || st.Active != 1 {
		t.Errorf("Accepted %d Active %d, want 1 1", st.Accepted, st.Active)
	}
	if d := st.Dir[c2s]; d.Messages != 5 || d.Dropped+d.Duplicated+d.Reordered != 0 {
		t.Errorf("client→server stats %+v", d)
	}
	if d := st.Dir[s2c]; d.Messages != 2 {
		t.Errorf("server→client stats %+v", d)
	}
	if min := int64(2*len(big) + 256); st.Dir[c2s].Bytes < min || st.Dir[s2c].Bytes < int64(len(big)) {
		t.Errorf("bytes %d / %d, want at least %d / %d", st.Dir[c2s].Bytes, st.Dir[s2c].Bytes, min, len(big))
	}
}

func TestDropKeepsControlFrames(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{})
	p.SetFaults(c2s, faultproxy.Faults{Drop: 1})
	client, server := connect(t, srv, p)

	for i := range 10 {
		sendText(t, client, "lost "+strconv.Itoa(i))
	}
	send(t, client, opPing, []byte("are you there"))
	if op, got := recv(t, server); op != opPing || string(got) != "are you there" {
		t.Fatalf("server got %#x %q, want the ping and nothing before it", op, got)
	}
	send(t, server, opPong, []byte("are you there"))
	sendText(t, server, "server→client is not faulted")
	if op, _ := recv(t, client); op != opPong {
		t.Fatalf("client got %#x, want a pong", op)
	}
	if got := recvText(t, client, 1); got[0] != "server→client is not faulted" {
		t.Fatalf("client got %q", got)
	}
	waitStats(t, p, "10 dropped, 1 control frame", func(st faultproxy.Stats) bool {
		d := st.Dir[c2s]
		return d.Dropped == 10 && d.Forwarded == 0 && d.Control == 1
	})

	p.SetFaults(c2s, faultproxy.Faults{})
	sendText(t, client, "healed")
	if got := recvText(t, server, 1); got[0] != "healed" {
		t.Fatalf("after healing the server got %q", got)
	}
}

func TestDuplicate(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{})
	p.SetFaults(s2c, faultproxy.Faults{Duplicate: 1})
	client, server := connect(t, srv, p)

	sendText(t, server, "a", "b", "c")
	if err := server.WriteFragmented(opText, []byte("fragmented"), 2); err != nil {
		t.Fatal(err)
	}
	got := recvText(t, client, 8)
	if want := []string{"a", "a", "b", "b", "c", "c", "fragmented", "fragmented"}; !slices.Equal(got, want) {
		t.Fatalf("client got %q, want %q", got, want)
	}
	waitStats(t, p, "4 forwarded twice", func(st faultproxy.Stats) bool {
		return st.Dir[s2c].Duplicated == 4 && st.Dir[s2c].Forwarded == 4
	})
}

func TestReorder(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{ReorderWindow: time.Minute})
	p.SetFaults(c2s, faultproxy.Faults{Reorder: 1})
	client, server := connect(t, srv, p)

	sendText(t, client, "1")
	send(t, client, opPing, nil) // a control frame overtakes the held message
	sendText(t, client, "2", "3", "4")
	if op, _ := recv(t, server); op != opPing {
		t.Fatalf("server got %#x first, want the ping", op)
	}
	if got, want := recvText(t, server, 4), []string{"2", "1", "4", "3"}; !slices.Equal(got, want) {
		t.Fatalf("server got %q, want %q", got, want)
	}
	waitStats(t, p, "2 reordered of 4", func(st faultproxy.Stats) bool {
		return st.Dir[c2s].Reordered == 2 && st.Dir[c2s].Forwarded == 4
	})
}

func TestReorderWindowSendsHeldMessageAlone(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{ReorderWindow: 20 * time.Millisecond})
	p.SetFaults(c2s, faultproxy.Faults{Reorder: 1})
	client, server := connect(t, srv, p)

	sendText(t, client, "alone")
	if got := recvText(t, server, 1); got[0] != "alone" {
		t.Fatalf("server got %q", got)
	}
}

func TestDelayAndBandwidthKeepOrder(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{Seed: 7})
	p.SetFaults(c2s, faultproxy.Faults{Delay: 30 * time.Millisecond})
	p.SetFaults(s2c, faultproxy.Faults{Bandwidth: 20000})
	client, server := connect(t, srv, p)

	var want []string
	for i := range 20 {
		want = append(want, strconv.Itoa(i))
	}
	start := time.Now()
	sendText(t, client, want...)
	if got := recvText(t, server, len(want)); !slices.Equal(got, want) {
		t.Fatalf("server got %q, want %q", got, want)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("20 messages with up to 30ms delay each took only %v", el)
	}

	big := pattern(20000)
	start = time.Now()
	send(t, server, opBinary, big)
	if _, got := recv(t, client); !bytes.Equal(got, big) {
		t.Fatal("big message corrupted")
	}
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Errorf("20000 bytes at 20000 B/s took only %v", el)
	}
}

// delivered sends n numbered messages through a fresh proxy seeded with seed that drops half
// of them, and returns the numbers that got through.
func delivered(t *testing.T, seed uint64, n int) []string {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{Seed: seed})
	p.SetFaults(c2s, faultproxy.Faults{Drop: 0.5, Duplicate: 0.2})
	client, server := connect(t, srv, p)
	for i := range n {
		sendText(t, client, strconv.Itoa(i))
	}
	waitStats(t, p, "all messages through the faults", func(st faultproxy.Stats) bool {
		return st.Dir[c2s].Messages == int64(n)
	})
	p.SetFaults(c2s, faultproxy.Faults{})
	sendText(t, client, "end")
	var got []string
	for {
		m := recvText(t, server, 1)[0]
		if m == "end" {
			return got
		}
		got = append(got, m)
	}
}

func TestSeedReplaysFaults(t *testing.T) {
	a, b := delivered(t, 42, 60), delivered(t, 42, 60)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different deliveries:\n%q\n%q", a, b)
	}
	if len(a) == 0 || len(a) >= 60 {
		t.Fatalf("Drop 0.5 delivered %d of 60", len(a))
	}
	if c := delivered(t, 43, 60); slices.Equal(a, c) {
		t.Errorf("seeds 42 and 43 delivered the same messages")
	}
}

func TestCutAllMidTransfer(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{CutGrace: time.Minute})
	p.SetFaults(c2s, faultproxy.Faults{Bandwidth: 64 << 10})
	client, server := connect(t, srv, p)

	serverErr := make(chan error, 1)
	go func() {
		_, _, err := server.Read()
		serverErr <- err
	}()
	before := p.Stats().Dir[c2s].Bytes
	send(t, client, opBinary, pattern(256<<10))
	waitStats(t, p, "part of the message through", func(st faultproxy.Stats) bool {
		return st.Dir[c2s].Bytes > before+16<<10
	})
	p.CutAll()

	select {
	case err := <-serverErr:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("server read error %v, want a truncated frame (io.ErrUnexpectedEOF)", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("server read did not end")
	}
	if _, _, err := client.Read(); err == nil || isTimeout(err) {
		t.Fatalf("client read error %v, want the connection closed", err)
	}
	st := p.Stats()
	if st.Cut != 1 || st.Dir[c2s].Forwarded != 0 {
		t.Errorf("Cut %d Forwarded %d, want 1 0", st.Cut, st.Dir[c2s].Forwarded)
	}
	if st.Dir[c2s].Bytes >= before+256<<10 {
		t.Errorf("%d bytes forwarded, the whole message", st.Dir[c2s].Bytes-before)
	}
	waitStats(t, p, "no live connection", func(st faultproxy.Stats) bool { return st.Active == 0 })
}

func TestCutAllIdleClosesAtOnce(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{CutGrace: time.Hour})
	client, server := connect(t, srv, p)
	sendText(t, client, "before")
	recvText(t, server, 1)

	p.CutAll()
	// Both reads end well before CutGrace: an idle connection is closed at once.
	if _, _, err := server.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("server read error %v, want io.EOF", err)
	}
	if _, _, err := client.Read(); err == nil || isTimeout(err) {
		t.Fatalf("client read error %v, want the connection closed", err)
	}
}

func TestBlockRefusesAndHeals(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{})
	client, _ := connect(t, srv, p)

	p.Block(true)
	if _, _, err := client.Read(); err == nil || isTimeout(err) {
		t.Fatalf("live connection read error %v, want it cut", err)
	}
	if c, err := dialWS(p.URL("/ws")); err == nil {
		c.Close()
		t.Fatal("handshake succeeded while blocked")
	}
	if st := p.Stats(); st.Refused != 1 || st.Cut != 1 {
		t.Errorf("Refused %d Cut %d, want 1 1", st.Refused, st.Cut)
	}

	p.Block(false)
	client, server := connect(t, srv, p)
	sendText(t, client, "up again")
	sendText(t, server, "welcome back")
	if got := recvText(t, server, 1); got[0] != "up again" {
		t.Fatalf("server got %q", got)
	}
	if got := recvText(t, client, 1); got[0] != "welcome back" {
		t.Fatalf("client got %q", got)
	}
}

func TestOversizedFrameClosesWithoutAllocating(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{})
	client, server := connect(t, srv, p)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	hdr := []byte{0x82, 0x80 | 127}
	hdr = binary.BigEndian.AppendUint64(hdr, 1<<62)
	hdr = append(hdr, 1, 2, 3, 4) // masking key
	hdr = append(hdr, pattern(1000)...)
	if err := client.WriteRaw(hdr); err != nil {
		t.Fatal(err)
	}
	if _, _, err := server.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("server read error %v, want io.EOF and no byte of the frame", err)
	}
	if _, _, err := client.Read(); err == nil || isTimeout(err) {
		t.Fatalf("client read error %v, want the connection closed", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("%d bytes allocated while rejecting the frame", grew)
	}
	if st := p.Stats(); st.Violations != 1 || st.Dir[c2s].Bytes > 1<<10 {
		t.Errorf("Violations %d, c2s bytes %d", st.Violations, st.Dir[c2s].Bytes)
	}
}

func TestMaxPayloadCapsMessages(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{MaxPayload: 1000})
	client, server := connect(t, srv, p)

	send(t, client, opBinary, pattern(1000))
	if _, got := recv(t, server); len(got) != 1000 {
		t.Fatalf("server got %d bytes", len(got))
	}
	// Each fragment fits, the message does not.
	if err := client.WriteFragmented(opBinary, pattern(1500), 3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := server.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("server read error %v, want io.EOF", err)
	}
	if st := p.Stats(); st.Violations != 1 {
		t.Errorf("Violations %d, want 1", st.Violations)
	}
}

func TestNonWebsocketTrafficPassesRaw(t *testing.T) {
	srv := newWSServer(t)
	p := newProxy(t, srv, faultproxy.Options{})
	p.SetFaults(c2s, faultproxy.Faults{Drop: 1})
	p.SetFaults(s2c, faultproxy.Faults{Drop: 1})

	if _, err := dialWS(p.URL("/reject")); err == nil || !bytes.Contains([]byte(err.Error()), []byte("403")) {
		t.Fatalf("refused upgrade: %v, want status 403", err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: ioTimeout}
	for range 2 { // the second request reuses the kept-alive connection
		resp, err := hc.Get("http://" + p.Addr() + "/plain")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "plain ok" {
			t.Fatalf("plain GET: %q, %v", body, err)
		}
	}
}

func TestDialFailureClosesClient(t *testing.T) {
	// Port 0 refuses every connection; a closed listener's port could be reused meanwhile.
	dead := "127.0.0.1:0"
	p, err := faultproxy.New(dead, faultproxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := dialWS(p.URL("/ws")); err == nil {
		t.Fatal("handshake through a proxy to a dead target succeeded")
	}
	waitStats(t, p, "the dial failure counted", func(st faultproxy.Stats) bool { return st.DialFailed == 1 })
}

func TestCloseStopsAllGoroutines(t *testing.T) {
	srv := newWSServer(t)
	// Let the server's connection goroutines from other tests settle first.
	runtime.GC()
	baseline := runtime.NumGoroutine()

	p, err := faultproxy.New(srv.Addr(), faultproxy.Options{ReorderWindow: time.Hour, CutGrace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p.SetFaults(c2s, faultproxy.Faults{Delay: time.Hour})            // a pump asleep in a delay
	p.SetFaults(s2c, faultproxy.Faults{Reorder: 1, Bandwidth: 1000}) // pumps holding or throttled
	var clients []*wsConn
	for i := range 3 {
		client, server := connect(t, srv, p)
		clients = append(clients, client)
		sendText(t, client, fmt.Sprint("delayed ", i))
		if i == 2 {
			sendText(t, server, "held")
			send(t, server, opBinary, pattern(10000))
		}
	}
	waitStats(t, p, "every pump busy", func(st faultproxy.Stats) bool {
		return st.Dir[c2s].Messages == 3 && st.Dir[s2c].Messages == 2 && st.Dir[s2c].Bytes > 0
	})
	if n := runtime.NumGoroutine(); n < baseline+1+3*2 {
		t.Fatalf("%d goroutines with 3 connections, baseline %d", n, baseline)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close did not return: a proxy goroutine is stuck")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitFor(t, "the proxy's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
	for _, c := range clients {
		if _, _, err := c.Read(); err == nil || isTimeout(err) {
			t.Fatalf("client read after Close: %v", err)
		}
	}
	if st := p.Stats(); st.Active != 0 {
		t.Errorf("Active %d after Close", st.Active)
	}
}
