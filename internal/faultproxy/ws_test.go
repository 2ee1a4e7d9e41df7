package faultproxy_test

// A minimal websocket server and client for the tests, over net/http's Hijacker and frames
// written by hand: enough of RFC 6455 to send and receive text, binary, fragmented and control
// messages, and to write malformed frames on purpose. Then the tests' helpers.

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/internal/faultproxy"
)

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// errMidMessage is a stream that ends between the frames of a fragmented message.
var errMidMessage = errors.New("stream ended inside a fragmented message")

// ioTimeout bounds every blocking read and write of the tests.
const ioTimeout = 10 * time.Second

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsServer is an httptest server whose "/ws" upgrades to websocket and hands each connection
// to the test through Accept. "/reject" answers 403 and "/plain" a plain 200.
type wsServer struct {
	*httptest.Server
	conns chan *wsConn

	mu  sync.Mutex
	all []*wsConn
}

func newWSServer(t *testing.T) *wsServer {
	t.Helper()
	s := &wsServer{conns: make(chan *wsConn, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("/reject", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden here", http.StatusForbidden)
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain ok")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
			http.Error(w, "not a websocket handshake", http.StatusBadRequest)
			return
		}
		nc, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"+
			"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acceptKey(key))
		c := &wsConn{nc: nc, br: rw.Reader}
		s.mu.Lock()
		s.all = append(s.all, c)
		s.mu.Unlock()
		s.conns <- c
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Server.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.all {
			c.Close()
		}
	})
	return s
}

// Accept returns the next server-side websocket connection.
func (s *wsServer) Accept(t *testing.T) *wsConn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(ioTimeout):
		t.Fatal("no websocket connection reached the server")
		return nil
	}
}

// Addr returns the server's host:port.
func (s *wsServer) Addr() string { return s.Listener.Addr().String() }

// wsConn is one end of a websocket connection. The client end masks what it sends.
type wsConn struct {
	nc     net.Conn
	br     *bufio.Reader
	client bool
}

// dialWS opens a websocket to url ("ws://host:port/path") and completes the handshake.
func dialWS(url string) (*wsConn, error) {
	hostPath, ok := strings.CutPrefix(url, "ws://")
	if !ok {
		return nil, fmt.Errorf("not a ws:// URL: %q", url)
	}
	host, path, _ := strings.Cut(hostPath, "/")
	nc, err := net.DialTimeout("tcp", host, ioTimeout)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(ioTimeout))
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	_, err = fmt.Fprintf(nc, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, key)
	br := bufio.NewReader(nc)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("handshake: status %s", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		nc.Close()
		return nil, fmt.Errorf("handshake: Sec-WebSocket-Accept %q", got)
	}
	nc.SetDeadline(time.Time{})
	return &wsConn{nc: nc, br: br, client: true}, nil
}

func (c *wsConn) Close() error { return c.nc.Close() }

// frame encodes one frame, masked when c is a client.
func (c *wsConn) frame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var mbit byte
	if c.client {
		mbit = 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n < 1<<16:
		b = append(b, mbit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !c.client {
		return append(b, payload...)
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= key[i%4]
	}
	return b
}

// WriteRaw writes bytes as they are.
func (c *wsConn) WriteRaw(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := c.nc.Write(b)
	return err
}

// Write sends a message in one frame.
func (c *wsConn) Write(op byte, payload []byte) error {
	return c.WriteRaw(c.frame(true, op, payload))
}

// WriteFragmented sends a data message as parts frames (the first with op, the rest
// continuation frames).
func (c *wsConn) WriteFragmented(op byte, payload []byte, parts int) error {
	var b []byte
	size := (len(payload) + parts - 1) / parts
	for i := 0; i < parts; i++ {
		lo, hi := min(i*size, len(payload)), min((i+1)*size, len(payload))
		fop := byte(opCont)
		if i == 0 {
			fop = op
		}
		b = append(b, c.frame(i == parts-1, fop, payload[lo:hi])...)
	}
	return c.WriteRaw(b)
}

// readFrame reads one frame; a frame cut short is io.ErrUnexpectedEOF, a stream that ends
// before the frame io.EOF.
func (c *wsConn) readFrame() (fin bool, op byte, payload []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(c.br, h[:2]); err != nil {
		return false, 0, nil, err
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	full := func(b []byte) error {
		_, err := io.ReadFull(c.br, b)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	switch n {
	case 126:
		if err := full(h[:2]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if err := full(h[:8]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(h[:8])
	}
	if n > 1<<30 {
		return false, 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if masked {
		if err := full(key[:]); err != nil {
			return false, 0, nil, err
		}
	}
	payload = make([]byte, n)
	if err := full(payload); err != nil {
		return false, 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return fin, op, payload, nil
}

// Read returns the next message: a control frame as it comes, or a data message assembled
// from its fragments. It fails after ioTimeout.
func (c *wsConn) Read() (op byte, payload []byte, err error) {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	var msgOp byte
	var msg []byte
	started := false
	for {
		fin, op, p, err := c.readFrame()
		if err != nil {
			if started && errors.Is(err, io.EOF) {
				err = errMidMessage
			}
			return 0, nil, err
		}
		if op&0x08 != 0 {
			return op, p, nil
		}
		if !started {
			msgOp, started = op, true
		}
		msg = append(msg, p...)
		if fin {
			return msgOp, msg, nil
		}
	}
}

// Test helpers.

// waitFor polls cond every few milliseconds until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitStats waits until p's counters satisfy ok. Counters move once a write returns, which
// may be after the receiver has read the bytes, so tests wait for them rather than read them.
func waitStats(t *testing.T, p *faultproxy.Proxy, what string, ok func(faultproxy.Stats) bool) {
	t.Helper()
	var st faultproxy.Stats
	deadline := time.Now().Add(ioTimeout)
	for st = p.Stats(); !ok(st); st = p.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newProxy(t *testing.T, srv *wsServer, opts faultproxy.Options) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(srv.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// connect opens a websocket through p and returns its client and server ends.
func connect(t *testing.T, srv *wsServer, p *faultproxy.Proxy) (client, server *wsConn) {
	t.Helper()
	client, err := dialWS(p.URL("/ws"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client, srv.Accept(t)
}

func send(t *testing.T, c *wsConn, op byte, payload []byte) {
	t.Helper()
	if err := c.Write(op, payload); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func recv(t *testing.T, c *wsConn) (byte, []byte) {
	t.Helper()
	op, p, err := c.Read()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return op, p
}

// recvText reads n text messages.
func recvText(t *testing.T, c *wsConn, n int) []string {
	t.Helper()
	var got []string
	for range n {
		op, p := recv(t, c)
		if op != opText {
			t.Fatalf("got opcode %#x (%q), want text", op, p)
		}
		got = append(got, string(p))
	}
	return got
}

func sendText(t *testing.T, c *wsConn, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		send(t, c, opText, []byte(m))
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
