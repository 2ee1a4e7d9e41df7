package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// Replica is what the station API needs of a replica. *node.Replica implements it.
type Replica interface {
	Status() node.Status
	Case(id string) (*cases.Case, []cases.Stored, error)
	List(q node.Query) (node.Page, error)
	Quarantined(after uint64, limit int) ([]node.QuarantinedOp, error)
}

var _ Replica = (*node.Replica)(nil)

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
}

// PeerStatus is one sync peer as the status shows it.
type PeerStatus struct {
	ID         string `json:"id"`
	Connected  bool   `json:"connected"`
	PendingOps uint64 `json:"pending_ops"`         // our ops the peer has not acknowledged (station), or 0
	LastSync   string `json:"last_sync,omitempty"` // both ways caught up, Asia/Shanghai
	LastError  string `json:"last_error,omitempty"`
	// ClockAheadSeconds (a hub's view of a station) is how far the station's clock was ahead
	// of the hub's in its latest batch, when beyond the 5-minute bound its ops are flagged at.
	ClockAheadSeconds int64 `json:"clock_ahead_seconds,omitempty"`
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
	s := &station{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.HandleFunc("GET /api/v1/cases", s.listCases)
	mux.HandleFunc("GET /api/v1/cases/{id}", s.getCase)
	mux.HandleFunc("GET /api/v1/quarantine", s.listQuarantine)
	if cfg.Sync != nil {
		mux.Handle("GET /sync", cfg.Sync)
	}
	if cfg.Bundles != nil {
		mux.HandleFunc("POST "+bundleUploadPath, s.importBundle)
		mux.HandleFunc("GET /api/v1/bundles/{station}", s.exportBundle)
	}
	if cfg.Enroll != nil {
		mux.Handle("POST /api/v1/enroll", cfg.Enroll)
	}

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "没有这个地址 / no such endpoint", "")
	})
	return limitBody(mux, 1<<20)
}

type station struct {
	cfg StationConfig
}

func (s *station) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
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
	Now           string       `json:"now"`            // the station's clock, Asia/Shanghai
	UptimeSeconds int64        `json:"uptime_seconds"`
}

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
	writeJSON(w, http.StatusOK, StatusResponse{
		Node: st.Node, Role: s.cfg.Role, Region: st.Region, Incarnation: st.Incarnation, Epoch: st.Epoch,
		Cases: st.Cases, Ops: st.FeedSeq, FeedSeq: st.FeedSeq, PendingOps: st.Pending,
		Equivocations: st.Equivocations, Quarantined: st.Quarantined, Peers: peers, Raft: raftState,
		Now: now.In(Shanghai).Format(time.RFC3339), UptimeSeconds: int64(now.Sub(s.cfg.Started).Seconds()),
	})
}

func (s *station) getCase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, hist, err := s.cfg.Replica.Case(id)
	if errors.Is(err, node.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no_case", "案件不存在 / no such case", "id")
		return
	}
	if err != nil {
		s.cfg.Logger.Error("read case", "case", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "读取案件失败 / could not read the case", "")
		return
	}
	writeJSON(w, http.StatusOK, CaseView(c, hist))
}

// CaseList is the body of GET /api/v1/cases: one page, and the cursor of the next (empty on
// the last page).
type CaseList struct {
	Cases []CaseJSON `json:"cases"`
	Next  string     `json:"next,omitempty"`
}

// listCases serves GET /api/v1/cases?state=S&region=PREFIX&due_within=7d&limit=N&cursor=C.
func (s *station) listCases(w http.ResponseWriter, r *http.Request) {
	q := node.Query{State: r.URL.Query().Get("state"), Region: r.URL.Query().Get("region")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit 应为 1 到 1000 / limit must be 1 to 1000", "limit")
			return
		}
		q.Limit = n
	}
	if v := r.URL.Query().Get("due_within"); v != "" {
		d, err := parseDays(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_due_within", "due_within 应为天数，如 7d / due_within must be days, e.g. 7d", "due_within")
			return
		}
		q.DueBefore = s.cfg.Now().Add(d).UnixMilli()
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		c, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_cursor", "游标无效 / invalid cursor", "cursor")
			return
		}
		q.Cursor = c
	}
	page, err := s.cfg.Replica.List(q)
	if err != nil {
		if errors.Is(err, node.ErrBadCursor) {
			writeError(w, http.StatusBadRequest, "bad_cursor", "游标与查询不符 / the cursor belongs to another query", "cursor")
			return
		}
		s.cfg.Logger.Error("list cases", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "读取案件列表失败 / could not list cases", "")
		return
	}
	out := CaseList{Cases: make([]CaseJSON, 0, len(page.Cases))}
	for _, c := range page.Cases {
		out.Cases = append(out.Cases, CaseView(c, nil))
	}
	if page.Next != nil {
		out.Next = base64.RawURLEncoding.EncodeToString(page.Next)
	}
	writeJSON(w, http.StatusOK, out)
}

// parseDays reads "7d" (days) or a Go duration ("36h").
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 || d > 3650 {
			return 0, fmt.Errorf("days %q", v)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
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
		if r.Method != http.MethodPost || r.URL.Path != bundleUploadPath {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		h.ServeHTTP(w, r)
	})
}
