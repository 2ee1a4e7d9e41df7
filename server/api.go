package server

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server/web"
	"github.com/fengqiao/fengqiao/sync"
)

// Replica is what the station API needs of a replica. *node.Replica implements it.
type Replica interface {
	Status() node.Status
	Case(id string) (*cases.Case, []cases.Stored, error)
	List(q node.Query) (node.Page, error)
	Quarantined(after uint64, limit int) ([]node.QuarantinedOp, error)
}

var _ Replica = (*node.Replica)(nil)

// keyed is a replica whose key the status shows (a station's replica, a hub member).
type keyed interface {
	PublicKey() ed25519.PublicKey
	KeyChain() []node.KeyLink
}

// Writer writes people's changes: a station's replica, or a hub member, whose writes go
// through the Raft log and return once applied at that member (so a read that follows on the
// same member sees them).
type Writer interface {
	Write(ctx context.Context, c node.Change) (cases.Op, error)
}

var _ Writer = (*node.Replica)(nil)

// StationConfig configures a station's HTTP API.
type StationConfig struct {
	Replica Replica
	// Writer, when set, takes the writes of the API (registrations, edits, transitions,
	// notes); without it the API is read-only.
	Writer Writer
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. The status reports it so an operator can compare
	// the station's clock with their own.
	Now func() time.Time
	// Started is when the station started, for the status's uptime.
	Started time.Time
	// Role is "station" (default) or "hub".
	Role string
	// Sync, when set, serves GET /sync (a hub's websocket endpoint); Enroll serves
	// POST /api/v1/enroll.
	Sync, Enroll http.Handler
	// Peers, when set, reports the node's sync peers for the status.
	Peers func() []PeerStatus
	// Raft, when set, reports a hub member's Raft state for the status (its "raft" field).
	Raft func() any
	// Bundles, when set, serves POST /api/v1/bundles (a station's push bundle) and
	// GET /api/v1/bundles/{station} (its return bundle).
	Bundles BundleHub
	// Enrollments, when set (a hub), serves the enrollment requests a county admin decides.
	Enrollments EnrollmentDesk
	// StationBundles, when set, serves GET /api/v1/bundle (this station's push bundle) and
	// POST /api/v1/bundle (the import of its hub's return bundle).
	StationBundles StationBundles
	// Metrics, when set, is served at GET /metrics with the node's gauges added; give the
	// replica that sync uses through Metrics.Instrument so applies are timed.
	Metrics *Metrics
	// Sessions, when set, reports the number of live sync sessions (a hub) for /metrics.
	Sessions func() int
	// RaftMetrics, when set, reports a hub member's Raft state for /metrics.
	RaftMetrics func() RaftMetrics
	// Ready, when set, says whether the node can serve (GET /readyz answers 503 with its
	// error until it returns nil): a hub member that has no leader or is still catching up
	// is alive (/healthz) but not ready. Nil means ready whenever serving.
	Ready func() error
	// Auth tunes sign-in (auth.go); accounts are served when Replica is also People.
	Auth AuthConfig
	// CaseCode is the station code of the case numbers this node issues (2–6 digits, no
	// leading 0, unique in the deployment; cases.CaseNumber). Empty: one made from the node's
	// id and incarnation, unique only with high probability.
	CaseCode string
}

// PeerStatus is one sync peer as the status shows it.
type PeerStatus struct {
	ID         string `json:"id"`
	Connected  bool   `json:"connected"`
	PendingOps uint64 `json:"pending_ops"`         // our ops (a hub: scope entries) the peer has not acknowledged
	LastSync   string `json:"last_sync,omitempty"` // both ways caught up (a hub: the last session's end), Asia/Shanghai
	LastError  string `json:"last_error,omitempty"`
	// ClockAheadSeconds (a hub's view of a station) is how far the station's clock was ahead
	// of the hub's in its latest batch, when beyond the 5-minute bound its ops are flagged at.
	ClockAheadSeconds int64 `json:"clock_ahead_seconds,omitempty"`
	// ClockSkewSeconds (a station's view of its hub) is how far this node's clock was ahead
	// of the peer's (negative: behind) at the last connection, to the second.
	ClockSkewSeconds *int64 `json:"clock_skew_seconds,omitempty"`
	// Region and Revoked describe an enrolled station, in a hub's list of its stations.
	Region  string `json:"region,omitempty"`
	Revoked bool   `json:"revoked,omitempty"`
	// KeyFingerprint (a station's view of its hub) is the hub key the station trusts now.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// PendingUnknown (a hub's view of a station) says PendingOps is not known here: the
	// station had no session with this member since it started.
	PendingUnknown bool `json:"pending_unknown,omitempty"`
}

// HubPeers reports a hub's stations for its status: every station enrolled, connected to
// this member or not, with its last contact, what it has still to take from the hub and how
// far its clock ran ahead.
func HubPeers(h *sync.Hub) func() []PeerStatus {
	return func() []PeerStatus {
		out := []PeerStatus{}
		sts, err := h.Stations()
		if err != nil {
			return out
		}
		for _, st := range sts {
			p := PeerStatus{ID: st.Station, Connected: st.Connected, ClockAheadSeconds: st.ClockAheadMillis / 1000,
				Region: st.Region, Revoked: st.Revoked, PendingUnknown: st.PendingOps == nil}
			if st.PendingOps != nil {
				p.PendingOps = *st.PendingOps
			}
			if !st.LastSeen.IsZero() {
				p.LastSync = st.LastSeen.In(Shanghai).Format(time.RFC3339)
			}
			out = append(out, p)
		}
		return out
	}
}

// NewStationHandler returns the HTTP handler of a station's API.
func NewStationHandler(cfg StationConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Started.IsZero() {
		cfg.Started = cfg.Now()
	}
	if cfg.Role == "" {
		cfg.Role = "station"
	}
	s := &station{cfg: cfg, auth: newAuth(cfg)}
	mux := http.NewServeMux()
	s.registerPeople(mux) // accounts_api.go
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if cfg.Metrics != nil {
		cfg.Metrics.registerNodeGauges(cfg)
		mux.Handle("GET /metrics", cfg.Metrics.Handler())
	}
	mux.HandleFunc("GET /api/v1/status", s.status)
	s.registerWorkflowRoutes(mux) // cases, transitions, notes, metrics, configuration (cases_api.go)
	mux.HandleFunc("GET /api/v1/quarantine", s.listQuarantine)
	if cfg.Sync != nil {
		mux.Handle("GET /sync", cfg.Sync)
	}
	if cfg.Bundles != nil {
		mux.HandleFunc("POST "+bundleUploadPath, s.importBundle)
		mux.HandleFunc("GET /api/v1/bundles/{station}", s.exportBundle)
	}
	if cfg.Enroll != nil {
		mux.Handle("POST /api/v1/enroll", s.enrollGate(cfg.Enroll)) // a county admin's sign-in, or as before
	}

	if cfg.StationBundles != nil {
		mux.HandleFunc("GET /api/v1/bundle", s.exportPushBundle)
		mux.HandleFunc("POST "+returnBundlePath, s.importReturnBundle)
	}
	if cfg.Enrollments != nil {
		s.registerEnrollmentDesk(mux)
	}
	mux.HandleFunc("GET /api/v1/stats", s.stats)
	mux.HandleFunc("GET /api/v1/schema", s.schema)
	mux.HandleFunc("GET /api/v1/regions", s.regions)
	mux.HandleFunc("GET /api/v1/check", s.check)

	pages := web.Handler()
	mux.Handle("GET /{$}", pages)
	mux.Handle("GET /assets/", pages)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "没有这个地址 / no such endpoint", "")
	})
	return limitBody(mux, 1<<20)
}

type station struct {
	cfg  StationConfig
	auth *auth
}

func (s *station) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers whether the node can serve now: 200, or 503 with the reason.
func (s *station) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", "尚未就绪 / not ready: "+err.Error(), "")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// StatusResponse is the body of GET /api/v1/status. Field names are a stable interface.
type StatusResponse struct {
	Node          string       `json:"node"`
	Role          string       `json:"role"`
	Region        string       `json:"region"`
	Incarnation   uint32       `json:"incarnation"`
	Epoch         string       `json:"epoch"`
	Cases         uint64       `json:"cases"`
	Ops           uint64       `json:"ops"`
	FeedSeq       uint64       `json:"feed_seq"`
	PendingOps    uint64       `json:"pending_ops"`
	Equivocations uint64       `json:"equivocations"`
	Quarantined   uint64       `json:"quarantined_ops"`
	Peers         []PeerStatus `json:"peers"`
	Raft          any          `json:"raft,omitempty"` // a hub member's raft state, leader, term, indexes, members
	// KeyFingerprint is the node's public key as people compare it (sync.KeyFingerprint);
	// KeyRotations how often the key was rotated (fengqiao rotate-key).
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	KeyRotations   int    `json:"key_rotations,omitempty"`
	Now            string `json:"now"` // the station's clock, Asia/Shanghai
	UptimeSeconds  int64  `json:"uptime_seconds"`
}

// status serves GET /api/v1/status to anyone, like /healthz and /metrics: it holds counts,
// clocks and the ids of nodes, nothing of a case or a person, and operators' scripts and
// monitoring read it without an account (a stable interface).
func (s *station) status(w http.ResponseWriter, r *http.Request) {
	st := s.cfg.Replica.Status()
	now := s.cfg.Now()
	peers := []PeerStatus{}
	if s.cfg.Peers != nil {
		peers = s.cfg.Peers()
	}
	var raftState any
	if s.cfg.Raft != nil {
		raftState = s.cfg.Raft()
	}
	resp := StatusResponse{
		Node: st.Node, Role: s.cfg.Role, Region: st.Region, Incarnation: st.Incarnation, Epoch: st.Epoch,
		Cases: st.Cases, Ops: st.FeedSeq, FeedSeq: st.FeedSeq, PendingOps: st.Pending,
		Equivocations: st.Equivocations, Quarantined: st.Quarantined, Peers: peers, Raft: raftState,
		Now: now.In(Shanghai).Format(time.RFC3339), UptimeSeconds: int64(now.Sub(s.cfg.Started).Seconds()),
	}
	if k, ok := s.cfg.Replica.(keyed); ok {
		resp.KeyFingerprint, resp.KeyRotations = sync.KeyFingerprint(k.PublicKey()), len(k.KeyChain())
	}
	writeJSON(w, http.StatusOK, resp)
}

// CaseList is the body of GET /api/v1/cases: one page, and the cursor of the next (empty on
// the last page).
type CaseList struct {
	Cases []CaseJSON `json:"cases"`
	Next  string     `json:"next,omitempty"`
}

// Shanghai is the time zone people's times are shown in.
var Shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600) // no tzdata on the machine: China has no DST
	}
	return loc
}()

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong: a stable code, a message for people, the field at fault.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`         // the provision a workflow refusal rests on
	Related string `json:"related_case,omitempty"` // the case a refusal points at (不再受理)
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg, Field: field}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// limitBody caps request bodies: a larger body is an error, never a memory problem. A
// bundle upload is spooled to disk under its own cap (MaxBundleUpload) instead.
func limitBody(h http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != bundleUploadPath && r.URL.Path != returnBundlePath {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		h.ServeHTTP(w, r)
	})
}
