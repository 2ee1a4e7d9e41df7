package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	gosync "sync"
	"time"

	"github.com/gorilla/websocket"
)

// The uplink: a county hub syncs with its city hub as one peer. To the city the county is a
// station of kind KindHub (enrolled under its county code, served the county's scope and
// its own assignment scope); to the county the city is its hub, reached through the same
// Station client as a village station's. Everything the uplink keeps — the city's HubInfo,
// the checkpoints of the city's streams, the acked position — lives in the county's
// Replica, written with its Apply and PutDoc: at a Raft hub those go through the log, so a
// new leader that starts the uplink again resumes where the last one's acknowledgements
// stood, sending nothing the city already holds.

// UplinkConfig configures a county hub's link to its parent (city) hub.
type UplinkConfig struct {
	// Replica is the county hub's replica (a node.Replica or a Raft member's view of one).
	Replica Replica
	// Parent are the city hub's URLs (--parent). Enrollment tries them in turn; sessions
	// try them first, then the member URLs the city gave at enrollment.
	Parent []string
	// Token is the city's enrollment token ("" when the city accepts loopback callers).
	Token  string
	Logger *slog.Logger
	Now    func() time.Time
	// MinBackoff and MaxBackoff bound the wait between attempts, to enroll and to connect
	// (defaults 500ms and 60s), as for a station.
	MinBackoff, MaxBackoff time.Duration
	Window                 int
	Dialer                 *websocket.Dialer
	Timing                 Timing
}

// Uplink keeps a county hub in sync with its city hub. Run it on one member at a time (the
// Raft leader); it may be stopped and started again, on this member or another.
type Uplink struct {
	cfg UplinkConfig
	log *slog.Logger

	mu      gosync.Mutex
	st      *Station
	lastErr string
}

// NewUplink returns the uplink of the county hub cfg.Replica.
func NewUplink(cfg UplinkConfig) (*Uplink, error) {
	if cfg.Replica == nil {
		return nil, errors.New("uplink: no replica")
	}
	if reg := cfg.Replica.Region(); len(reg) != 6 {
		return nil, fmt.Errorf("uplink: only a county hub (6-digit region) syncs with a parent hub; this one serves %q / 只有县级中心可与上级中心同步", reg)
	}
	if len(cfg.Parent) == 0 {
		return nil, errors.New("uplink: no parent hub URL (--parent) / 未指定上级中心地址")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	return &Uplink{cfg: cfg, log: cfg.Logger.With("uplink", "parent")}, nil
}

// Run enrolls at the parent when the county is not enrolled there yet (retrying with
// backoff while the parent is unreachable), then keeps one session at a time with it until
// ctx ends, resuming from the replica's checkpoints. It returns nil when ctx ends, and an
// error wrapping ErrEnroll when the parent refuses the enrollment (a county not directly
// below it, a wrong token): retrying would not help.
func (u *Uplink) Run(ctx context.Context) error {
	info, err := u.enroll(ctx)
	if err != nil || info == nil {
		return err
	}
	urls := slices.Clone(u.cfg.Parent)
	for _, m := range info.URLs {
		if !slices.Contains(urls, m) {
			urls = append(urls, m)
		}
	}
	st, err := NewStation(StationConfig{Replica: u.cfg.Replica, URLs: urls, Logger: u.cfg.Logger.With("uplink", "parent"),
		Now: u.cfg.Now, Window: u.cfg.Window, MinBackoff: u.cfg.MinBackoff, MaxBackoff: u.cfg.MaxBackoff,
		Dialer: u.cfg.Dialer, Timing: u.cfg.Timing})
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.st = st
	u.mu.Unlock()
	u.log.Info("syncing with the parent hub / 与上级中心同步", "parent", info.Hub, "scopes", info.Scopes)
	return st.Run(ctx)
}

// enroll returns the county's enrollment at its parent, enrolling first when there is none
// (or only a station's). It returns nil, nil when ctx ended first.
func (u *Uplink) enroll(ctx context.Context) (*HubInfo, error) {
	info, err := LoadHubInfo(u.cfg.Replica)
	if err == nil && info.Kind == KindHub {
		return info, nil
	}
	backoff := u.cfg.MinBackoff
	for i := 0; ; i++ {
		url := u.cfg.Parent[i%len(u.cfg.Parent)]
		info, err := EnrollHub(ctx, u.cfg.Replica, url, u.cfg.Token)
		if err == nil {
			u.log.Info("enrolled at the parent hub / 已在上级中心登记", "parent", info.Hub, "url", url, "region", info.Region)
			return info, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		u.mu.Lock()
		u.lastErr = err.Error()
		u.mu.Unlock()
		if errors.Is(err, ErrEnroll) {
			u.log.Error("the parent hub refused this county's enrollment / 上级中心拒绝登记", "url", url, "err", err)
			return nil, err
		}
		u.log.Warn("cannot enroll at the parent hub yet, will retry / 暂时无法在上级中心登记，稍后重试", "url", url, "err", err)
		if !backoffWait(ctx, &backoff, u.cfg.MaxBackoff) {
			return nil, nil
		}
	}
}

// Status returns the link's status (Hub empty while not enrolled).
func (u *Uplink) Status() StationStatus {
	u.mu.Lock()
	st, lastErr := u.st, u.lastErr
	u.mu.Unlock()
	if st == nil {
		return StationStatus{LastError: lastErr}
	}
	return st.Status()
}

// Stats returns the current (or last) session's counters, nil before the first session.
func (u *Uplink) Stats() *SessionStats {
	u.mu.Lock()
	st := u.st
	u.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.Stats()
}

// kindName names an enrollment kind in logs.
func kindName(kind string) string {
	if kind == KindStation {
		return "station"
	}
	return kind
}
