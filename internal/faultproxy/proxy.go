// Package faultproxy is a fault-injecting TCP proxy for websocket connections, for tests that
// must show replicas converging through a bad link.
//
// A Proxy listens on 127.0.0.1 and forwards every accepted connection to one target. It passes
// the HTTP upgrade request and response through untouched, then parses the RFC 6455 frames in
// each direction and applies Faults to whole data messages (a first frame through its FIN
// frame): dropping, duplicating, reordering, delaying them, or throttling the link. Control
// frames (close, ping, pong) are forwarded as soon as they are read and never faulted. CutAll
// and Block break live connections in the middle of a frame, as a failing link would. When the
// target refuses the upgrade, or the client sends plain HTTP, bytes pass through unparsed and
// unfaulted (but throttled and cuttable).
//
// Frames are forwarded byte for byte, extension bits included; note that dropping, duplicating
// or reordering messages compressed by permessage-deflate with context takeover breaks the
// receiver's decompressor, so tests should leave compression off.
//
// The package owns the listener, every proxied connection and every goroutine it starts: all
// of them end when Close returns. Random choices come from math/rand/v2 PCG sources seeded
// with Options.Seed and the connection's sequence number, so a test replays the same faults
// for the same sequence of messages.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Direction names one half of a proxied connection.
type Direction int

const (
	// ClientToServer carries what the dialling client sends to the target.
	ClientToServer Direction = iota
	// ServerToClient carries what the target sends back.
	ServerToClient
)

func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "client-to-server"
	case ServerToClient:
		return "server-to-client"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Faults are the faults applied to the data messages of one direction. The zero value
// forwards everything unchanged at full speed.
type Faults struct {
	Drop      float64       // probability that a message is not forwarded
	Duplicate float64       // probability that a message is forwarded twice
	Reorder   float64       // probability that a message is held back and sent after the next one
	Delay     time.Duration // each message waits a uniform random time in [0, Delay] first
	Bandwidth int           // bytes per second written in this direction; 0 is unlimited
}

// Options configure a Proxy. The zero value is usable.
type Options struct {
	// Seed seeds the random choices; the same seed replays the same faults.
	Seed uint64
	// MaxPayload caps a frame's declared payload length and a message's total payload; a
	// connection that exceeds it is closed. 0 means 64 MiB.
	MaxPayload int64
	// DialTimeout bounds dialling the target. 0 means 5s.
	DialTimeout time.Duration
	// ReorderWindow is how long a message held back by Reorder waits for a next message; when
	// none comes it is sent alone. 0 means 200ms.
	ReorderWindow time.Duration
	// Raw makes the proxy a plain TCP proxy: bytes pass through unparsed from the first
	// (for protocols other than websockets, such as Raft over TLS), still cuttable and
	// blockable, never faulted.
	Raw bool
	// CutGrace bounds how long CutAll waits for a busy connection to reach a frame it can cut
	// in the middle before closing it anyway. 0 means 1s.
	CutGrace time.Duration
}

// DirStats counts what happened in one direction, over all connections.
type DirStats struct {
	Messages   int64 // data messages read in full from the sender
	Forwarded  int64 // data messages written in full to the receiver (extra copies not counted)
	Dropped    int64 // data messages dropped
	Duplicated int64 // data messages chosen to be sent twice
	Reordered  int64 // data messages held back to follow the next one
	Control    int64 // control frames forwarded
	Bytes      int64 // bytes written to the receiver, HTTP headers included
}

// Stats are a Proxy's counters since New.
type Stats struct {
	Accepted   int64       // connections accepted and forwarded to the target
	Refused    int64       // connections accepted while blocked and closed at once
	DialFailed int64       // connections closed because the target could not be dialled
	Cut        int64       // connections cut by CutAll or Block
	Violations int64       // connections closed for a malformed frame or a size limit
	Active     int64       // connections open now
	Dir        [2]DirStats // indexed by Direction
}

const (
	defaultMaxPayload    = 64 << 20
	defaultDialTimeout   = 5 * time.Second
	defaultReorderWindow = 200 * time.Millisecond
	defaultCutGrace      = time.Second
)

// Proxy is a fault-injecting websocket proxy. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	opts   Options
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and one handler per connection

	faults [2]atomic.Pointer[Faults]

	mu      sync.Mutex
	conns   map[*conn]struct{}
	nextID  uint64
	blocked bool
	closed  bool

	closeOnce sync.Once
	closeErr  error

	accepted, refused, dialFailed, cuts, violations atomic.Int64
	dir                                             [2]dirCounters
}

type dirCounters struct {
	messages, forwarded, dropped, duplicated, reordered, control, bytes atomic.Int64
}

// New listens on 127.0.0.1 on a free port and forwards each accepted connection to target
// (host:port).
func New(target string, opts Options) (*Proxy, error) {
	if target == "" {
		return nil, errors.New("faultproxy: empty target")
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = defaultMaxPayload
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	if opts.ReorderWindow <= 0 {
		opts.ReorderWindow = defaultReorderWindow
	}
	if opts.CutGrace <= 0 {
		opts.CutGrace = defaultCutGrace
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	if ln.Addr().String() == target {
		ln.Close()
		return nil, fmt.Errorf("faultproxy: target %s is the proxy's own address", target)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, opts: opts, ln: ln, ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{}}
	for d := range p.faults {
		p.faults[d].Store(&Faults{})
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the proxy listens on, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns the websocket URL of path through the proxy: "ws://" + Addr() + path.
func (p *Proxy) URL(path string) string { return "ws://" + p.Addr() + path }

// SetFaults sets the faults of one direction, from the next message on. Probabilities are
// clamped to [0, 1]; a negative Delay or Bandwidth counts as 0.
func (p *Proxy) SetFaults(dir Direction, f Faults) {
	if dir != ClientToServer && dir != ServerToClient {
		panic(fmt.Sprintf("faultproxy: SetFaults: invalid %v", dir))
	}
	clamp := func(x float64) float64 { return min(max(x, 0), 1) }
	f.Drop, f.Duplicate, f.Reorder = clamp(f.Drop), clamp(f.Duplicate), clamp(f.Reorder)
	f.Delay = max(f.Delay, 0)
	f.Bandwidth = max(f.Bandwidth, 0)
	p.faults[dir].Store(&f)
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	s := Stats{
		Accepted:   p.accepted.Load(),
		Refused:    p.refused.Load(),
		DialFailed: p.dialFailed.Load(),
		Cut:        p.cuts.Load(),
		Violations: p.violations.Load(),
	}
	p.mu.Lock()
	s.Active = int64(len(p.conns))
	p.mu.Unlock()
	for d := range p.dir {
		c := &p.dir[d]
		s.Dir[d] = DirStats{
			Messages:   c.messages.Load(),
			Forwarded:  c.forwarded.Load(),
			Dropped:    c.dropped.Load(),
			Duplicated: c.duplicated.Load(),
			Reordered:  c.reordered.Load(),
			Control:    c.control.Load(),
			Bytes:      c.bytes.Load(),
		}
	}
	return s
}

// CutAll cuts every live connection in the middle of a frame: in each direction, the next
// bytes written (the rest of a frame being written, or the next frame) stop partway through a
// frame, and then both TCP sides are closed. A connection with nothing in flight in either
// direction is closed at once; one that stays busy without writing is closed after
// Options.CutGrace. CutAll does not wait for the cuts to happen.
func (p *Proxy) CutAll() {
	for _, c := range p.live() {
		c.cut()
	}
}

// Block simulates the link going down (true) or coming back (false). While blocked, new
// connections are accepted and closed at once; Block(true) also cuts every live connection as
// CutAll does.
func (p *Proxy) Block(blocked bool) {
	p.mu.Lock()
	p.blocked = blocked
	p.mu.Unlock()
	if blocked {
		p.CutAll()
	}
}

// Close stops listening, closes every connection and waits for all the proxy's goroutines to
// end. It is idempotent; later calls return nil.
func (p *Proxy) Close() error {
	first := false
	p.closeOnce.Do(func() {
		first = true
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.closeErr = p.ln.Close()
		p.cancel()
		for _, c := range p.live() {
			c.close()
		}
	})
	p.wg.Wait()
	if first {
		return p.closeErr
	}
	return nil
}

func (p *Proxy) live() []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	return cs
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (out of file descriptors, say): back off and retry.
			t := time.NewTimer(backoff)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			nc.Close()
			return
		case p.blocked:
			p.mu.Unlock()
			p.refused.Add(1)
			nc.Close()
			continue
		}
		c := newConn(p, p.nextID, nc)
		p.nextID++
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		p.accepted.Add(1)
		go p.handle(c)
	}
}

// handle dials the target and runs both directions of c until they end.
func (p *Proxy) handle(c *conn) {
	defer p.wg.Done()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	d := net.Dialer{Timeout: p.opts.DialTimeout}
	srv, err := d.DialContext(c.ctx, "tcp", p.target)
	if err != nil {
		if c.ctx.Err() == nil {
			p.dialFailed.Add(1)
		}
		return
	}
	c2s := newPump(c, ClientToServer, c.client, srv)
	s2c := newPump(c, ServerToClient, srv, c.client)
	if !c.attach(srv, c2s, s2c) {
		srv.Close()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s2c.run()
	}()
	c2s.run()
	<-done
}

// conn is one proxied connection: the accepted client side and the dialled server side.
type conn struct {
	p      *Proxy
	id     uint64
	client net.Conn
	ctx    context.Context // cancelled on close; bounds the dial
	cancel context.CancelFunc
	done   chan struct{} // closed on close

	// verdict carries the server pump's reading of the handshake response: true when the
	// target accepted the websocket upgrade.
	verdict chan bool

	cutOnce sync.Once
	cutting atomic.Bool
	cutCh   chan struct{} // closed when the connection is to be cut

	mu     sync.Mutex
	server net.Conn
	pumps  [2]*pump
	grace  *time.Timer
	closed bool
}

func newConn(p *Proxy, id uint64, client net.Conn) *conn {
	ctx, cancel := context.WithCancel(p.ctx)
	return &conn{
		p: p, id: id, client: client, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), verdict: make(chan bool, 1), cutCh: make(chan struct{}),
	}
}

// attach records the dialled server side; it reports false when c was closed meanwhile.
func (c *conn) attach(srv net.Conn, c2s, s2c *pump) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.server = srv
	c.pumps = [2]*pump{c2s, s2c}
	return true
}

// close closes both TCP sides; it is idempotent.
func (c *conn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.grace != nil {
		c.grace.Stop()
	}
	srv := c.server
	c.mu.Unlock()
	c.cancel()
	close(c.done)
	c.client.Close()
	if srv != nil {
		srv.Close()
	}
}

// cut marks c to be cut mid-frame by its pumps, closing it at once when it is idle.
func (c *conn) cut() {
	c.cutOnce.Do(func() {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return
		}
		c.p.cuts.Add(1)
		c.cutting.Store(true)
		close(c.cutCh)
		if c.idle() {
			c.close()
			return
		}
		c.mu.Lock()
		if !c.closed {
			c.grace = time.AfterFunc(c.p.opts.CutGrace, c.close)
		}
		c.mu.Unlock()
	})
}

// idle reports whether neither direction has a frame in flight. A connection still dialling
// or in its handshake is idle.
func (c *conn) idle() bool {
	c.mu.Lock()
	pumps := c.pumps
	c.mu.Unlock()
	for _, pu := range pumps {
		if pu != nil && pu.busy.Load() {
			return false
		}
	}
	return true
}
