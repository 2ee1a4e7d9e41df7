package sync

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/node"
)

// StationConfig configures the station end of sessions.
type StationConfig struct {
	Replica Replica
	// URLs are the hub members to try, in order; empty means the list given at enrollment.
	URLs   []string
	Logger *slog.Logger
	Now    func() time.Time
	Window int // unacknowledged batches; default 4
	// MinBackoff and MaxBackoff bound the wait between attempts (defaults 500ms and 60s);
	// each wait is drawn at random from up to twice the last, so stations that lost their
	// hub together do not come back together.
	MinBackoff, MaxBackoff time.Duration
	Dialer                 *websocket.Dialer
	// Versions overrides the protocol versions offered (tests play old and new stations).
	Versions []uint64
	Timing   Timing
}

// Station keeps a station in sync with its hub: one session at a time, reconnecting with
// backoff and jitter over the hub's members.
type Station struct {
	cfg  StationConfig
	r    Replica
	info *HubInfo // Key is re-pinned when the hub rotates its key (pinHubKey)
	log  *slog.Logger
	// hubKey is info.Key, for the TLS verification of dials (HubTLSConfig).
	hubKey atomic.Pointer[ed25519.PublicKey]

	mu     gosync.Mutex
	status StationStatus
	stats  *SessionStats
}

// StationStatus is what a station knows of its link.
type StationStatus struct {
	Hub       string          `json:"hub"`
	Connected bool            `json:"connected"`
	URL       string          `json:"url,omitempty"`
	LastSync  time.Time       `json:"last_sync,omitzero"` // both directions caught up
	LastError string          `json:"last_error,omitempty"`
	Acked     node.Checkpoint `json:"acked"` // how far the hub has durably applied our feed
	Attempts  int             `json:"attempts"`
	// ClockSkew is how far this station's clock was ahead of the hub's (negative: behind)
	// at the last connection, read from the Date of the hub's websocket upgrade (to the
	// second); SkewKnown is false before any connection.
	ClockSkew time.Duration `json:"clock_skew_ns"`
	SkewKnown bool          `json:"skew_known"`
	// HubKey is the fingerprint (KeyFingerprint) of the hub key this station trusts now: the
	// one it enrolled with, or the one a rotation led it to.
	HubKey string `json:"hub_key"`
}

// NewStation returns the sync client of an enrolled station.
func NewStation(cfg StationConfig) (*Station, error) {
	info, err := LoadHubInfo(cfg.Replica)
	if err != nil {
		return nil, err
	}
	if len(cfg.URLs) == 0 {
		cfg.URLs = info.URLs
	}
	if len(cfg.URLs) == 0 {
		return nil, errors.New("no hub URL: give --hub, or enroll again / 没有中心地址")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Window <= 0 {
		cfg.Window = defaultWindow
	}
	cfg.Window = min(cfg.Window, MaxWindow)
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{HandshakeTimeout: cfg.Timing.Handshake, ReadBufferSize: 32 << 10, WriteBufferSize: 32 << 10}
	}
	if len(cfg.Versions) == 0 {
		cfg.Versions = Versions
	}
	s := &Station{cfg: cfg, r: cfg.Replica, info: info, log: cfg.Logger.With("hub", info.Hub)}
	s.hubKey.Store(&info.Key)
	if cfg.Dialer.TLSClientConfig == nil {
		d := *cfg.Dialer
		d.TLSClientConfig = HubTLSConfig(info.Hub, func() ed25519.PublicKey { return *s.hubKey.Load() }, cfg.Now)
		s.cfg.Dialer = &d
	}
	s.status.Hub = info.Hub
	return s, nil
}

// Run keeps the station connected until ctx ends, trying the hub's members in turn.
func (s *Station) Run(ctx context.Context) error {
	backoff := s.cfg.MinBackoff
	for i := 0; ; i++ {
		url := s.cfg.URLs[i%len(s.cfg.URLs)]
		start := time.Now()
		err := s.Connect(ctx, url)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 30*time.Second {
			backoff = s.cfg.MinBackoff // it was a real session: come back quickly
		}
		s.log.Info("sync session ended", "url", url, "err", err)
		if !backoffWait(ctx, &backoff, s.cfg.MaxBackoff) {
			return nil
		}
	}
}

// backoffWait waits a jittered backoff (from half to one and a half times *backoff), then
// doubles *backoff up to max. It reports false when ctx ended first.
func backoffWait(ctx context.Context, backoff *time.Duration, max time.Duration) bool {
	wait := time.Duration(rand.Int64N(int64(*backoff)) + int64(*backoff)/2)
	*backoff = min(2*(*backoff), max)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Connect runs one session with the hub member at url until ctx ends or the link fails.
func (s *Station) Connect(ctx context.Context, url string) error {
	s.mu.Lock()
	s.status.Attempts++
	s.mu.Unlock()
	err := s.connect(ctx, url)
	s.mu.Lock()
	s.status.Connected = false
	if err != nil {
		s.status.LastError = err.Error()
	}
	s.mu.Unlock()
	return err
}

func (s *Station) connect(ctx context.Context, url string) error {
	hdr := http.Header{}
	if v := EncodeKeyChainHeader(s.r.KeyChain()); v != "" {
		hdr.Set(KeyChainHeader, v) // a county hub that rotated its key, toward its city
	}
	conn, resp, err := s.cfg.Dialer.DialContext(ctx, syncURL(url), hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("dial %s: %w", url, err)
	}
	if resp != nil {
		if hubTime, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			skew := s.cfg.Now().Sub(hubTime).Round(time.Second)
			s.mu.Lock()
			s.status.ClockSkew, s.status.SkewKnown = skew, true
			s.mu.Unlock()
		}
	}
	conn.SetReadLimit(MaxFrameBytes)
	var hubChain string
	if resp != nil {
		hubChain = resp.Header.Get(KeyChainHeader)
	}
	sess, err := s.handshake(ctx, conn, hubChain)
	if err != nil {
		var le *localError
		if errors.As(err, &le) {
			refuse(conn, le.code, le.Error())
		} else {
			_ = conn.Close()
		}
		return err
	}
	s.mu.Lock()
	s.status.Connected, s.status.URL, s.stats = true, url, sess.stats
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.watchCaughtUp(ctx, sess.stats)
	return sess.run(ctx)
}

// watchCaughtUp records the last time both directions were caught up.
func (s *Station) watchCaughtUp(ctx context.Context, st *SessionStats) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if st.CaughtUp.Load() && st.PeerCaughtUp.Load() {
				s.mu.Lock()
				s.status.LastSync = s.cfg.Now()
				s.mu.Unlock()
			}
		}
	}
}

func (s *Station) handshake(ctx context.Context, conn *websocket.Conn, hubChain string) (*session, error) {
	deadline := time.Now().Add(s.cfg.Timing.Handshake)
	_ = conn.SetWriteDeadline(deadline)
	me := s.r.Origin().Node
	helloBytes := encodeHello(hello{Versions: s.cfg.Versions, Node: me, Key: s.r.PublicKey(), Nonce: newNonce()})
	if err := conn.WriteMessage(websocket.BinaryMessage, helloBytes); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	chBytes, f, err := readHandshake(conn, deadline, codeChallenge)
	if err != nil {
		return nil, err
	}
	ch := f.Challenge
	unsigned := *ch
	unsigned.Sig = nil
	switch {
	case !containsVersion(s.cfg.Versions, ch.Version):
		return nil, failf(ErrCodeVersion, "hub chose protocol version %d, which this station does not speak", ch.Version)
	case ch.Hub != s.info.Hub:
		return nil, failf(ErrCodeBadKey, "the hub answered as %s, this station enrolled with %s / 中心与登记不符", ch.Hub, s.info.Hub)
	case !bytes.Equal(ch.Key, s.info.Key):
		if err := s.pinHubKey(ctx, ch.Key, hubChain); err != nil {
			return nil, failf(ErrCodeBadKey, "the hub answered with a key other than the one enrolled / 中心密钥与登记不符: %v", err)
		}
	}
	switch {
	case !ed25519.Verify(s.info.Key, node.SessionMessage(transcript("hub", helloBytes, encodeChallenge(unsigned))), ch.Sig):
		return nil, failf(ErrCodeBadKey, "the hub did not prove its key / 中心密钥验证失败")
	}
	p := prove{Sig: s.r.SessionSignature(transcript("node", helloBytes, chBytes))}
	in := map[string]bool{}
	from := map[string]node.Checkpoint{}
	for _, st := range ch.Streams {
		cp, err := s.r.PeerCheckpoint(node.StreamName(ch.Hub, st))
		if err != nil {
			return nil, err
		}
		p.Checkpoints = append(p.Checkpoints, streamCheckpoint{Stream: st, Epoch: cp.Epoch, Pos: cp.Pos})
		in[st] = true
		from[st] = cp
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, encodeProve(p)); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	_, f, err = readHandshake(conn, deadline, codeReady)
	if err != nil {
		return nil, err
	}
	var after uint64
	if f.Ready.Epoch == s.r.Epoch() {
		after = f.Ready.Pos
		// What the hub says it holds durably is acknowledged, whether or not the ack of the
		// batch that brought it arrived: a session cut after the hub applied our last batch
		// and before its ack reached us would otherwise leave those ops counted as pending
		// for good once nothing new is written (seen in a 30-minute chaos run).
		if err := advanceAcked(s.r, ch.Hub, node.Checkpoint{Epoch: f.Ready.Epoch, Pos: f.Ready.Pos}); err != nil {
			return nil, fmt.Errorf("record acked position: %w", err)
		}
	}
	window := s.cfg.Window
	if w := int(f.Ready.Window); w > 0 && w < window {
		window = w
	}
	hub := ch.Hub
	sess := &session{conn: conn, r: s.r, log: s.log, now: s.cfg.Now, peer: hub, peerKey: s.info.Key,
		window: window, timing: s.cfg.Timing, stats: &SessionStats{}, signHeads: true, recvFrom: from,
		recv: &receiver{r: s.r, log: s.log, now: s.cfg.Now, peer: hub, peerKey: s.info.Key, streams: in, partial: true}}
	sess.out = []*outStream{feedStream(s.r, hub, after)}
	sess.onAck = func(_ string, cp node.Checkpoint) {
		if err := advanceAcked(s.r, hub, cp); err != nil {
			s.log.Warn("record acked position", "err", err)
		}
	}
	s.log.Info("session started", "version", ch.Version, "hub_has", after)
	return sess, nil
}

// pinHubKey replaces the pinned hub key by presented, if the hub's key chain (the upgrade's
// KeyChainHeader) leads there from the pinned key: the hub rotated its key. The new pin is
// stored before any session runs under it.
func (s *Station) pinHubKey(ctx context.Context, presented ed25519.PublicKey, header string) error {
	chain, err := DecodeKeyChainHeader(header)
	if err != nil {
		return err
	}
	if err := FollowRotation(s.info.Hub, s.info.Key, presented, chain); err != nil {
		return err
	}
	info := *s.info
	info.Key = bytes.Clone(presented)
	stored, _ := json.Marshal(info)
	if err := s.r.PutDoc(ctx, docHub, "", stored); err != nil {
		return fmt.Errorf("store the hub's new key: %w", err)
	}
	old := s.info.Key
	s.info.Key = info.Key // only this goroutine reads Key; Status reads Hub
	s.hubKey.Store(&info.Key)
	s.log.Warn("the hub rotated its key; following it / 中心已更换密钥，本站随之更新", "old", KeyFingerprint(old), "new", KeyFingerprint(presented))
	return nil
}

// Status returns the station's link status.
func (s *Station) Status() StationStatus {
	acked, _ := loadAcked(s.r, s.info.Hub) // a session's acks, or an imported bundle's receipt
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Acked = acked
	st.HubKey = KeyFingerprint(*s.hubKey.Load())
	return st
}

// advanceAcked records how far the hub has durably applied our feed, only ever forward
// within an epoch (a session's acks and a bundle's receipt may race).
func advanceAcked(r Replica, hub string, cp node.Checkpoint) error {
	ackedMu.Lock()
	defer ackedMu.Unlock()
	if cur, err := loadAcked(r, hub); err == nil && cur.Epoch == cp.Epoch && cur.Pos >= cp.Pos {
		return nil
	}
	return r.PutDoc(context.Background(), docAcked, hub, encodeAcked(cp))
}

var ackedMu gosync.Mutex

// Stats returns the current (or last) session's counters, nil before the first session.
func (s *Station) Stats() *SessionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func containsVersion(vs []uint64, v uint64) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// syncURL turns a hub's base URL (http://host:port) into its websocket endpoint.
func syncURL(base string) string {
	u := strings.TrimSuffix(base, "/")
	switch {
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + u[len("http://"):]
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + u[len("https://"):]
	}
	if !strings.HasSuffix(u, "/sync") {
		u += "/sync"
	}
	return u
}

func encodeAcked(cp node.Checkpoint) []byte {
	return append(binary.AppendUvarint(nil, cp.Pos), cp.Epoch...)
}

func loadAcked(r Replica, hub string) (node.Checkpoint, error) {
	b, err := r.Doc(docAcked, hub)
	if err != nil {
		return node.Checkpoint{}, err
	}
	pos, n := binary.Uvarint(b)
	if n <= 0 {
		return node.Checkpoint{}, errors.New("corrupt acked position")
	}
	return node.Checkpoint{Pos: pos, Epoch: string(b[n:])}, nil
}

// feedStream reads the station's whole feed after `after` for its hub, never echoing the
// hub's own ops back.
func feedStream(r Replica, hub string, after uint64) *outStream {
	return &outStream{name: "", epoch: r.Epoch(), sent: after,
		readBatch: func(after uint64, limit int) ([]outEntry, uint64, error) {
			got, next, err := r.Feed(after, limit, hub)
			out := make([]outEntry, len(got))
			for i, g := range got {
				out[i] = outEntry{pos: g.Pos, e: entry{Raw: g.Raw, Meta: g.Meta}}
			}
			return out, next, err
		}}
}
