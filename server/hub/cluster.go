package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/raftstore"
)

// ClusterConfig configures one member of a hub's Raft cluster.
type ClusterConfig struct {
	// Dir holds the member's state: replica/ (the FSM), raft/ (the log), snapshots/.
	Dir string
	// MemberID is the member's Raft server id. A member that lost its data rejoins under a
	// new one, after the old one is removed.
	MemberID string
	// RaftBind is the address the Raft transport listens on; RaftAdvertise the one other
	// members dial (default RaftBind).
	RaftBind, RaftAdvertise string
	// URL is this member's HTTP base URL as the other members reach it (forwarded writes,
	// joins).
	URL string
	// Token is the cluster secret every member is started with: it authenticates joins,
	// the bootstrap's state checks and removals. Never logged.
	Token string
	// Replica sizes the member's replica (caches, compression); its identity comes from
	// the cluster, so NodeID, Region and Identity are ignored.
	Replica node.Options
	// Now stamps the entries this member proposes (the hub's own writes); nil: time.Now.
	Now func() time.Time
	// RaftAddressOf, when set, gives the address to dial for a member (tests put fault
	// proxies between members); nil dials the addresses in the Raft configuration.
	RaftAddressOf raft.ServerAddressProvider
	// Tune, when set, adjusts the Raft configuration (tests shorten its timeouts).
	Tune   func(*raft.Config)
	Logger *slog.Logger
	// Client makes the HTTP calls to other members; nil means a client with a 30 s timeout
	// (HTTPS.MemberClient when HTTPS is set).
	Client *http.Client
	// HTTPS, when set, is the certificate the member's HTTPS listener presents: the
	// cluster issues it a leaf signed by the hub key as soon as the member holds that key.
	HTTPS *ServingCert
	// DiskFree reads the free bytes of the disk holding dir (Dir: the Raft log and the
	// replica); below the replica's reserve (Replica.MinFreeBytes) the member proposes
	// nothing (diskspace.go). Nil: DiskFree, the real disk; tests fake a full one.
	DiskFree func(dir string) (uint64, error)
}

// Cluster is one member of a hub's Raft cluster over its whole life: empty (waiting to be
// bootstrapped or to join), then running. Its HTTP handler (Handler) serves the other
// members in both states.
type Cluster struct {
	cfg ClusterConfig
	log *slog.Logger

	mu      gosync.Mutex
	running bool
	fsm     *FSM
	store   *raftstore.Store
	trans   *raft.NetworkTransport
	raft    *raft.Raft
	member  *Member
	ready   chan struct{} // closed once running
	cancel  context.CancelFunc
	done    chan struct{} // closed when the member's own goroutine has stopped
}

// Cluster errors.
var (
	ErrNotEmpty  = errors.New("this member already holds a hub's state: it never bootstraps or joins again")
	ErrPeerState = errors.New("a listed peer is not an empty member")
	ErrRefused   = errors.New("refused by the cluster")
)

// OpenCluster opens a member. A member with state on disk starts at once; an empty one waits
// for Bootstrap or Join.
func OpenCluster(cfg ClusterConfig) (*Cluster, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Client == nil && cfg.HTTPS != nil {
		cfg.Client = cfg.HTTPS.MemberClient(30 * time.Second)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.RaftAdvertise == "" {
		cfg.RaftAdvertise = cfg.RaftBind
	}
	switch {
	case cfg.Dir == "" || cfg.MemberID == "" || cfg.RaftBind == "" || cfg.URL == "":
		return nil, errors.New("hub member: Dir, MemberID, RaftBind and URL are required")
	case len(cfg.Token) < 16:
		return nil, errors.New("hub member: the cluster token must be at least 16 characters / 集群口令至少 16 个字符")
	case strings.ContainsAny(cfg.MemberID, "/ \t\n\x00"):
		return nil, fmt.Errorf("hub member: id %q: no spaces, '/' or NUL", cfg.MemberID)
	}
	c := &Cluster{cfg: cfg, log: cfg.Logger.With("member", cfg.MemberID), ready: make(chan struct{})}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "replica")); err == nil {
		if err := c.start(nil, nil); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return c, nil
}

// Empty reports whether the member holds no state yet.
func (c *Cluster) Empty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.running
}

// Ready is closed once the member runs (it had state, or bootstrapped, or joined).
func (c *Cluster) Ready() <-chan struct{} { return c.ready }

// Member returns the running member (sync.Replica over Raft), nil while empty.
func (c *Cluster) Member() *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.member
}

// Raft returns the member's Raft server, nil while empty.
func (c *Cluster) Raft() *raft.Raft {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raft
}

// start opens the member's stores and starts Raft: over the state on disk (id nil), from a
// received identity (join) or a new one (bootstrap, with its configuration).
func (c *Cluster) start(id *node.Identity, bootstrap *raft.Configuration) (err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return ErrNotEmpty
	}
	opts := c.cfg.Replica
	opts.NodeID, opts.Region, opts.Identity, opts.FS, opts.Logger = "", "", id, nil, c.cfg.Logger
	var closers []io.Closer
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i].Close()
			}
		}
	}()
	fsm, err := OpenFSM(filepath.Join(c.cfg.Dir, "replica"), opts, c.cfg.Logger)
	if err != nil {
		return fmt.Errorf("open replica: %w", err)
	}
	closers = append(closers, fsm)
	diskFree, dir := c.cfg.DiskFree, c.cfg.Dir
	if diskFree == nil {
		diskFree = DiskFree
	}
	fsm.diskFree = func() (uint64, error) { return diskFree(dir) }
	store, err := raftstore.Open(filepath.Join(c.cfg.Dir, "raft"), raftstore.Options{Logger: c.cfg.Logger})
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	closers = append(closers, store)
	logger := raftLogger(c.cfg.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(c.cfg.Dir, "snapshots"), 2, logger)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	ident := fsm.Replica().Identity()
	// The hub key is read from the replica at each handshake: a rotation (RotateKey)
	// applied while the member runs changes the certificates it presents and trusts.
	keys := ReplicaKeys(fsm)
	serverTLS, clientTLS, err := MemberTLS(keys, ident.Node, c.cfg.MemberID)
	if err != nil {
		return fmt.Errorf("member certificate: %w", err)
	}
	if c.cfg.HTTPS != nil {
		if err := c.cfg.HTTPS.Follow(keys, ident.Node, c.cfg.MemberID); err != nil {
			return err
		}
	}
	trans, err := newTLSTransport(c.cfg.RaftBind, c.cfg.RaftAdvertise, serverTLS, clientTLS, slogWriter{c.cfg.Logger}, c.cfg.RaftAddressOf)
	if err != nil {
		return fmt.Errorf("raft transport on %s: %w", c.cfg.RaftBind, err)
	}
	closers = append(closers, trans)
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(c.cfg.MemberID)
	conf.Logger = logger
	// Entries hold up to ~1 MB of a station's ops: keep enough log after a snapshot that a
	// follower which just installed one catches up from the log, not from another snapshot.
	conf.TrailingLogs = 4096
	conf.SnapshotThreshold = 8192
	if c.cfg.Tune != nil {
		c.cfg.Tune(conf)
	}
	if bootstrap != nil {
		if err := raft.BootstrapCluster(conf, store, store, snaps, trans, *bootstrap); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	r, err := raft.NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	c.fsm, c.store, c.trans, c.raft = fsm, store, trans, r
	sign := func(msg []byte) []byte { return fsm.Replica().SessionSignature(msg) }
	c.member = NewMember(fsm, r, MemberOptions{Forward: HTTPForwardTo(r, sign, c.memberURL, c.cfg.Client), Now: c.cfg.Now,
		ID: c.cfg.MemberID, DiskFree: fsm.diskFree, MinFreeBytes: fsm.Replica().MinFreeBytes()})
	c.running = true
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		c.recordSelf(ctx)
	}()
	close(c.ready)
	c.log.Info("hub member running", "hub", ident.Node, "region", ident.Region, "raft", c.cfg.RaftAdvertise)
	return nil
}

// memberRecord is what the cluster keeps of a member (doc kind "member"): where it is, and
// that it has held the hub's state, so that its id is never handed the identity again.
type memberRecord struct {
	Raft    string `json:"raft"`
	URL     string `json:"url"`
	Ran     bool   `json:"ran,omitempty"` // the member itself wrote this: it has run, and may hold votes and acks
	Removed bool   `json:"removed,omitempty"`
}

const docMember = "member"

// record reads what this member's replica holds now: it never waits for entries it has not
// applied (Member.Doc does), since the status and every forwarded write look records up.
func (c *Cluster) record(id string) (memberRecord, bool) {
	m := c.Member()
	if m == nil {
		return memberRecord{}, false
	}
	b, err := m.fsm.Replica().Doc(docMember, id)
	if err != nil {
		return memberRecord{}, false
	}
	var rec memberRecord
	return rec, json.Unmarshal(b, &rec) == nil
}

// memberURL is where the member with id serves HTTP: from its record, or, for this member,
// its own configuration.
func (c *Cluster) memberURL(id raft.ServerID) (string, bool) {
	if string(id) == c.cfg.MemberID {
		return c.cfg.URL, true
	}
	rec, ok := c.record(string(id))
	return rec.URL, ok && rec.URL != ""
}

// recordSelf writes this member's record through the log once there is a leader, so every
// member knows its URL and no later join can reuse its id. It retries until it lands.
func (c *Cluster) recordSelf(ctx context.Context) {
	want := memberRecord{Raft: c.cfg.RaftAdvertise, URL: c.cfg.URL, Ran: true}
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		if rec, ok := c.record(c.cfg.MemberID); ok && rec == want {
			return
		}
		value, _ := json.Marshal(want)
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.member.PutDoc(actx, docMember, c.cfg.MemberID, value)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// Close stops Raft and closes the member's stores.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	c.cancel()
	<-c.done
	var errs []error
	if err := c.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	errs = append(errs, c.trans.Close(), c.store.Close(), c.fsm.Close())
	c.running = false
	return errors.Join(errs...)
}

// raftLogger routes hashicorp/raft's log into slog, at Info and above.
func raftLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: slogWriter{l}, DisableTime: true})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	switch {
	case strings.Contains(line, "[ERROR]"):
		level = slog.LevelError
	case strings.Contains(line, "[WARN]"):
		level = slog.LevelWarn
	}
	w.l.Log(context.Background(), level, line, "component", "raft")
	return len(p), nil
}
