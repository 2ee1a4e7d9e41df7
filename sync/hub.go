package sync

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	gosync "sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
)

// HubConfig configures the hub end of sessions.
type HubConfig struct {
	Replica Replica
	Logger  *slog.Logger
	Now     func() time.Time
	// MaxSessions bounds concurrent sessions; more are refused with ErrCodeBusy. Default 256.
	MaxSessions int
	// URLs are the hub's members' sync URLs, given to stations when they enroll.
	URLs []string
	// Window is the number of unacknowledged batches each side may have. Default 4.
	Window int
	Timing Timing
}

// Hub serves stations' sessions (GET /sync) and their enrollment.
type Hub struct {
	r      Replica
	log    *slog.Logger
	now    func() time.Time
	urls   []string
	window int
	timing Timing
	sem    chan struct{}
	up     websocket.Upgrader

	mu         gosync.Mutex
	sessions   map[string]*liveSession
	clockAhead map[string]int64     // station → ms its latest own stamp lay ahead of its receipt
	lastSeen   map[string]time.Time // station → when its latest session with this member ended
	// acked is, per station, where it stands in each of its scope streams as this member's
	// sessions with it learnt (from its prove, then from each ack): what Stations counts its
	// pending ops from.
	acked map[string]map[string]node.Checkpoint
}

type liveSession struct {
	cancel context.CancelCauseFunc
	stats  *SessionStats
	since  time.Time
}

// NewHub returns a hub over r.
func NewHub(cfg HubConfig) *Hub {
	h := &Hub{r: cfg.Replica, log: cfg.Logger, now: cfg.Now, urls: cfg.URLs, window: cfg.Window, timing: cfg.Timing.withDefaults(),
		sessions: map[string]*liveSession{}, clockAhead: map[string]int64{}, acked: map[string]map[string]node.Checkpoint{}}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.window <= 0 {
		h.window = defaultWindow
	}
	h.window = min(h.window, MaxWindow)
	n := cfg.MaxSessions
	if n <= 0 {
		n = 256
	}
	h.sem = make(chan struct{}, n)
	h.up = websocket.Upgrader{ReadBufferSize: 32 << 10, WriteBufferSize: 32 << 10,
		CheckOrigin: func(*http.Request) bool { return true }, // peers are nodes, not browsers
		Error:       upgradeError}
	return h
}

// upgradeError answers a request to /sync that is not a websocket upgrade in the API's JSON
// error shape (gorilla's default is a text line).
func upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "not_websocket",
		"message": "同步地址只接受 websocket 连接 / the sync endpoint takes websocket connections only: " + reason.Error()}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Sec-Websocket-Version", "13")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ServeHTTP upgrades GET /sync to a websocket and runs one session on it.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The upgrade's answer carries the hub's clock (gorilla writes no Date of its own): the
	// station compares it with its own to report its skew (Station.Status().ClockSkew).
	// It also carries the hub key's rotations, if any (keychain.go), for stations that
	// pinned an older key.
	answer := http.Header{"Date": {h.now().UTC().Format(http.TimeFormat)}}
	if v := EncodeKeyChainHeader(h.r.KeyChain()); v != "" {
		answer.Set(KeyChainHeader, v)
	}
	peerChain := r.Header.Get(KeyChainHeader)
	conn, err := h.up.Upgrade(w, r, answer)
	if err != nil {
		return // Upgrade has answered
	}
	conn.SetReadLimit(MaxFrameBytes)
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		refuse(conn, ErrCodeBusy, "too many sessions, try again later / 连接过多，请稍后再试")
		return
	}
	if err := h.serve(r.Context(), conn, peerChain); err != nil {
		h.log.Info("session ended", "remote", r.RemoteAddr, "err", err)
	}
}

// followPeerKey replaces an enrolled key by the one the peer presents when the peer's key
// chain (the upgrade's KeyChainHeader) leads there from the enrolled key: a county hub that
// rotated its key, at its city. The enrollment is signed again and stored before the
// session goes on. The presented key is proved by the session's handshake like any other.
func (h *Hub) followPeerKey(ctx context.Context, e *Enrollment, presented ed25519.PublicKey, header string) (*Enrollment, error) {
	chain, err := DecodeKeyChainHeader(header)
	if err != nil {
		return nil, err
	}
	if err := FollowRotation(e.Station, e.Key, presented, chain); err != nil {
		return nil, err
	}
	ne := *e
	ne.Key = bytes.Clone(presented)
	ne.Sig = h.r.SessionSignature(enrollmentMessage(ne.Kind, h.r.Origin().Node, ne.Station, ne.Region, ne.Key))
	if err := h.r.PutDoc(ctx, docEnrollment, ne.Station, ne.encode()); err != nil {
		return nil, fmt.Errorf("store the new key of %s: %w", ne.Station, err)
	}
	h.log.Warn("a peer rotated its key; its enrollment follows / 对端已更换密钥，登记随之更新", "peer", ne.Station,
		"old", KeyFingerprint(e.Key), "new", KeyFingerprint(presented))
	return &ne, nil
}

// refuse sends an error frame and closes: the handshake failed, nothing was applied.
func refuse(conn *websocket.Conn, code uint64, msg string) {
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = conn.WriteMessage(websocket.BinaryMessage, encodeError(code, msg))
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = conn.Close()
}

// serve runs the hub's half of the handshake, then the session.
func (h *Hub) serve(ctx context.Context, conn *websocket.Conn, peerChain string) error {
	fail := func(err error) error {
		var le *localError
		if errors.As(err, &le) {
			refuse(conn, le.code, le.Error())
		} else {
			_ = conn.Close()
		}
		return err
	}
	deadline := time.Now().Add(h.timing.Handshake)
	_ = conn.SetWriteDeadline(deadline)
	helloBytes, f, err := readHandshake(conn, deadline, codeHello)
	if err != nil {
		return fail(err)
	}
	hi := f.Hello
	version, ok := highestShared(hi.Versions, Versions)
	if !ok {
		return fail(failf(ErrCodeVersion, "no protocol version in common: station speaks %v, this hub %v / 协议版本不兼容", hi.Versions, Versions))
	}
	e, err := h.enrollment(hi.Node)
	switch {
	case errors.Is(err, node.ErrNotFound):
		return fail(failf(ErrCodeUnknownNode, "station %s is not enrolled at this hub / 该站点未登记", hi.Node))
	case err != nil:
		return fail(failf(ErrCodeInternal, "enrollment of %s: %v", hi.Node, err))
	case e.RevokedAt != 0:
		return fail(failf(ErrCodeRevoked, "station %s was revoked / 该站点已被注销", hi.Node))
	case !bytes.Equal(e.Key, hi.Key):
		if e, err = h.followPeerKey(ctx, e, hi.Key, peerChain); err != nil {
			return fail(failf(ErrCodeBadKey, "station %s presented a key other than the one enrolled / 密钥与登记不符: %v", hi.Node, err))
		}
	}
	ch := challenge{Version: version, Hub: h.r.Origin().Node, Key: h.r.PublicKey(), Nonce: newNonce(), Streams: e.Scopes()}
	ch.Sig = h.r.SessionSignature(transcript("hub", helloBytes, encodeChallenge(ch)))
	chBytes := encodeChallenge(ch)
	if err := conn.WriteMessage(websocket.BinaryMessage, chBytes); err != nil {
		return fail(err)
	}
	_, f, err = readHandshake(conn, deadline, codeProve)
	if err != nil {
		return fail(err)
	}
	if !ed25519.Verify(e.Key, node.SessionMessage(transcript("node", helloBytes, chBytes)), f.Prove.Sig) {
		return fail(failf(ErrCodeBadKey, "station %s did not prove its key / 密钥验证失败", hi.Node))
	}
	cp, err := h.r.PeerCheckpoint(e.Station)
	if err != nil {
		return fail(failf(ErrCodeInternal, "checkpoint of %s: %v", e.Station, err))
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, encodeReady(ready{Epoch: cp.Epoch, Pos: cp.Pos, Window: uint64(h.window)})); err != nil {
		return fail(err)
	}

	s := &session{conn: conn, r: h.r, log: h.log.With("station", e.Station), now: h.now, peer: e.Station, peerKey: e.Key,
		window: h.window, timing: h.timing, stats: &SessionStats{}, recv: h.receiverFor(e),
		recvFrom: map[string]node.Checkpoint{"": cp}}
	for _, scope := range e.Scopes() {
		var after uint64
		for _, c := range f.Prove.Checkpoints {
			if c.Stream == scope && c.Epoch == h.r.Epoch() {
				after = c.Pos
			}
		}
		s.out = append(s.out, h.scopeStream(scope, after, e, cp.Epoch != ""))
		h.setAcked(e.Station, scope, node.Checkpoint{Epoch: h.r.Epoch(), Pos: after})
	}
	s.onAck = func(stream string, c node.Checkpoint) { h.setAcked(e.Station, stream, c) }
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	h.register(e.Station, &liveSession{cancel: cancel, stats: s.stats, since: h.now()})
	defer h.unregister(e.Station, s.stats)
	h.log.Info("session started", "station", e.Station, "kind", kindName(e.Kind), "version", version, "their_checkpoint", cp.Pos)
	return s.run(ctx)
}

// receiverFor checks and applies what station e sends.
func (h *Hub) receiverFor(e *Enrollment) *receiver {
	return &receiver{r: h.r, log: h.log.With("station", e.Station), now: h.now, peer: e.Station, peerKey: e.Key,
		streams: map[string]bool{"": true}, rule: e.Rule(), stamp: true, verify: true, forwards: e.Kind == KindHub,
		onClockAhead: func(ms int64) {
			h.mu.Lock()
			h.clockAhead[e.Station] = ms
			h.mu.Unlock()
		}}
}

// scopeStream reads one scope of the hub's feed for a station, not echoing its own ops,
// and dropping a left-scope marker when the case is still in another of its scopes.
//
// known says the hub has received the station's feed before. A stream sent from its start
// to a station the hub knows goes to a new store of that station (a replaced laptop, a store
// restored from a backup, which forgets its stream positions): it carries the station's own
// earlier ops too, which the new store may lack; the station drops those it holds as
// duplicates. A station's first contact (nothing known of it) gets no echo of what it sends.
// A return bundle never echoes (known is false there): its station has just pushed, so the
// hub cannot tell a first return from one to a new store (docs/reliability.md).
func (h *Hub) scopeStream(scope string, after uint64, e *Enrollment, known bool) *outStream {
	scopes := e.Scopes()
	skip := e.Station
	if after == 0 && known {
		skip = ""
	}
	return &outStream{name: scope, epoch: h.r.Epoch(), sent: after,
		readBatch: func(after uint64, limit int) ([]outEntry, uint64, error) {
			got, next, err := h.r.ScopeFeed(scope, after, limit, skip, nil)
			if err != nil {
				return nil, after, err
			}
			out := make([]outEntry, 0, len(got))
			for _, g := range got {
				if g.LeftCase != "" {
					now, err := h.r.CaseScopes(g.LeftCase)
					if err != nil && !errors.Is(err, node.ErrNotFound) {
						return nil, after, err
					}
					if slices.ContainsFunc(now, func(s string) bool { return slices.Contains(scopes, s) }) {
						continue
					}
					out = append(out, outEntry{pos: g.N, e: entry{LeftCase: g.LeftCase}})
					continue
				}
				out = append(out, outEntry{pos: g.N, e: entry{Raw: g.Raw, Meta: g.Meta}})
			}
			return out, next, nil
		}}
}

func (h *Hub) register(station string, ls *liveSession) {
	h.mu.Lock()
	old := h.sessions[station]
	h.sessions[station] = ls
	h.mu.Unlock()
	if old != nil {
		old.cancel(failf(ErrCodeReplaced, "a newer session of %s took over", station))
	}
}

func (h *Hub) unregister(station string, stats *SessionStats) {
	h.mu.Lock()
	if ls := h.sessions[station]; ls != nil && ls.stats == stats {
		delete(h.sessions, station)
	}
	if h.lastSeen == nil {
		h.lastSeen = map[string]time.Time{}
	}
	h.lastSeen[station] = h.now()
	h.mu.Unlock()
}

// StationInfo is one enrolled station (or county hub) as the hub's pages list it.
type StationInfo struct {
	Station   string    `json:"station"`
	Kind      string    `json:"kind,omitempty"`
	Region    string    `json:"region"`
	Enrolled  time.Time `json:"enrolled"`
	Revoked   bool      `json:"revoked,omitempty"`
	Connected bool      `json:"connected"`
	// LastSeen is when its latest session with this member ended (zero: none since this
	// member started; a station connected now was seen now).
	LastSeen         time.Time `json:"last_seen,omitzero"`
	ClockAheadMillis int64     `json:"clock_ahead_ms,omitempty"`
	// PendingOps is how many entries of its scope streams the station has not acknowledged
	// (ops, and markers of cases that left its scope), as of its latest session with this
	// member; nil when it had none since this member started (another member may know).
	PendingOps *uint64 `json:"pending_ops,omitempty"`
}

// setAcked records that station stands at c in stream.
func (h *Hub) setAcked(station, stream string, c node.Checkpoint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.acked[station] == nil {
		h.acked[station] = map[string]node.Checkpoint{}
	}
	h.acked[station][stream] = c
}

// pendingForLocked counts the entries of station's scope streams after where it stands (every
// entry of a stream whose position is of another epoch of this hub's feed), or nil when no
// session with this member told where it stands. The caller holds h.mu.
func (h *Hub) pendingForLocked(station string) *uint64 {
	streams, ok := h.acked[station]
	if !ok {
		return nil
	}
	var n uint64
	for scope, c := range streams {
		seq := h.r.ScopeSeq(scope)
		switch {
		case c.Epoch != h.r.Epoch():
			n += seq
		case seq > c.Pos:
			n += seq - c.Pos
		}
	}
	return &n
}

// Stations lists every station enrolled at the hub, by id, with what this member knows of
// its sessions.
func (h *Hub) Stations() ([]StationInfo, error) {
	var out []StationInfo
	err := h.r.Docs(docEnrollment, func(id string, v []byte) error {
		e, err := decodeEnrollment(v)
		if err != nil {
			return nil // an unreadable record is the enrollment check's to refuse
		}
		out = append(out, StationInfo{Station: e.Station, Kind: e.Kind, Region: e.Region,
			Enrolled: time.UnixMilli(e.IssuedAt), Revoked: e.RevokedAt != 0})
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range out {
		id := out[i].Station
		_, out[i].Connected = h.sessions[id]
		if out[i].Connected {
			out[i].LastSeen = h.now()
		} else {
			out[i].LastSeen = h.lastSeen[id]
		}
		out[i].ClockAheadMillis = h.clockAhead[id]
		out[i].PendingOps = h.pendingForLocked(id)
	}
	slices.SortFunc(out, func(a, b StationInfo) int { return cmpString(a.Station, b.Station) })
	return out, nil
}

func (h *Hub) closeSession(station string, code uint64, why string) {
	h.mu.Lock()
	ls := h.sessions[station]
	h.mu.Unlock()
	if ls != nil {
		ls.cancel(failf(code, "%s", why))
	}
}

// PeerInfo describes one station's live session.
type PeerInfo struct {
	Station     string    `json:"station"`
	Since       time.Time `json:"since"`
	OpsReceived uint64    `json:"ops_received"`
	OpsSent     uint64    `json:"ops_sent"`
	Quarantined uint64    `json:"quarantined"`
	// ClockAheadMillis is how far the station's latest stamp lay ahead of the hub's clock when
	// its batch arrived (the last batch this hub member received from it, in any session), when
	// that is beyond the HLC's bound (crdt.DefaultMaxSkew); 0 otherwise. Its ops beyond the
	// bound are flagged and never displayed over others.
	ClockAheadMillis int64 `json:"clock_ahead_ms,omitempty"`
}

// Sessions lists the live sessions, by station.
func (h *Hub) Sessions() []PeerInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]PeerInfo, 0, len(h.sessions))
	for id, ls := range h.sessions {
		out = append(out, PeerInfo{Station: id, Since: ls.since, OpsReceived: ls.stats.OpsReceived.Load(),
			OpsSent: ls.stats.OpsSent.Load(), Quarantined: ls.stats.Quarantined.Load(), ClockAheadMillis: h.aheadLocked(id)})
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return cmpString(a.Station, b.Station) })
	return out
}

// ClockAhead reports, for each station whose latest batch carried a stamp beyond the HLC's
// bound ahead of this hub's clock, how far ahead it was (ms), sessions live or not.
func (h *Hub) ClockAhead() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int64{}
	for id := range h.clockAhead {
		if ms := h.aheadLocked(id); ms > 0 {
			out[id] = ms
		}
	}
	return out
}

func (h *Hub) aheadLocked(station string) int64 {
	if ms := h.clockAhead[station]; ms > crdt.DefaultMaxSkew {
		return ms
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readHandshake reads one handshake frame, which must be of the code expected (an error
// frame from the peer is returned as a *RemoteError).
func readHandshake(conn *websocket.Conn, deadline time.Time, want uint64) ([]byte, frame, error) {
	_ = conn.SetReadDeadline(deadline)
	mt, b, err := conn.ReadMessage()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return nil, frame{}, failf(ErrCodeBadFrame, "frame over %d bytes", MaxFrameBytes)
		}
		return nil, frame{}, fmt.Errorf("handshake: %w", err)
	}
	if mt != websocket.BinaryMessage {
		return nil, frame{}, failf(ErrCodeBadFrame, "handshake: text message where frames are binary")
	}
	f, err := decodeFrame(b)
	if err != nil {
		return nil, frame{}, &localError{code: ErrCodeBadFrame, err: fmt.Errorf("handshake: %w", err)}
	}
	if f.Code == codeError {
		return nil, frame{}, &RemoteError{Code: f.N, Message: f.Text}
	}
	if f.Code != want {
		return nil, frame{}, failf(ErrCodeProtocol, "handshake: frame %d where %d was expected", f.Code, want)
	}
	return b, f, nil
}

// transcript binds a handshake signature to both ends' frames (and so both nonces) and to
// the signer's role, so that neither signature can be replayed as the other.
func transcript(role string, helloBytes, challengeBytes []byte) []byte {
	a, b := sha256.Sum256(helloBytes), sha256.Sum256(challengeBytes)
	out := append([]byte(role+"\x00"), a[:]...)
	return append(out, b[:]...)
}

func newNonce() []byte {
	b := make([]byte, nonceSize)
	_, _ = rand.Read(b)
	return b
}

// highestShared returns the highest version in both lists.
func highestShared(theirs, ours []uint64) (uint64, bool) {
	var best uint64
	for _, v := range theirs {
		if slices.Contains(ours, v) && v > best {
			best = v
		}
	}
	return best, best != 0
}
