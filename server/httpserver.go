package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	gosync "sync"
	"time"
)

// Limits bound what one client can hold of a server. The zero value of each field means its
// default.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers (a slowloris client is cut). 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, except a bundle upload,
	// which only has to keep moving (IdleBody). 60 s.
	ReadTimeout time.Duration
	// IdleBody is how long a bundle upload may go without a byte arriving. 60 s.
	IdleBody time.Duration
	// WriteTimeout bounds writing a response, except a websocket session and a bundle
	// download, which set their own deadlines. 0: none (a return bundle may be large).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection without a request. 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's headers. 64 KiB.
	MaxHeaderBytes int
	// MaxConns caps the connections served at once (websocket sessions included); the next
	// ones wait in the kernel's backlog until one closes. 1024.
	MaxConns int
}

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ReadHeaderTimeout, 10*time.Second)
	def(&l.ReadTimeout, 60*time.Second)
	def(&l.IdleBody, 60*time.Second)
	def(&l.IdleTimeout, 120*time.Second)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	return l
}

// Serve serves h on ln until ctx is cancelled, then shuts down: it stops accepting, lets
// requests in flight finish for up to grace, and returns. The default Limits bound slow
// clients and the number of connections.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, grace time.Duration) error {
	return ServeLimited(ctx, ln, h, log, grace, Limits{})
}

// ServeLimited is Serve with the given limits.
func ServeLimited(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, grace time.Duration, lim Limits) error {
	lim = lim.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithValue(context.Background(), limitsKey{}, lim) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limitListener(ln, lim.MaxConns)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type limitsKey struct{}

// limitsOf returns the limits the request's server runs with (the defaults outside Serve).
func limitsOf(r *http.Request) Limits {
	if l, ok := r.Context().Value(limitsKey{}).(Limits); ok {
		return l
	}
	return Limits{}.withDefaults()
}

// limitListener accepts at most n connections at once: Accept waits for a slot, so the
// kernel's backlog holds the rest instead of the process opening a goroutine and buffers for
// each.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce gosync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    gosync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// progressBody is a request body that must keep moving: each Read pushes the connection's
// read deadline idle into the future, so a large upload over a slow link is never cut while
// bytes arrive, and a stalled one is.
type progressBody struct {
	r    interface{ Read([]byte) (int, error) }
	rc   *http.ResponseController
	idle time.Duration
}

func (b *progressBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	return b.r.Read(p)
}
