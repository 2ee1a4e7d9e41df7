package server

import (
	"net/http"

	"github.com/fengqiao/fengqiao/cases"
	"strconv"
	"time"
)

// QuarantinedView is one quarantined op as GET /api/v1/quarantine shows it: what was
// written, by whom, from which station, and why it was kept aside.
type QuarantinedView struct {
	Pos        uint64   `json:"pos"`
	Dot        string   `json:"dot"`
	Case       string   `json:"case"`
	Kind       string   `json:"kind"`
	Author     string   `json:"author"`
	Via        string   `json:"via"`
	Fields     []string `json:"fields"`
	Stamp      string   `json:"stamp"` // the writer's clock, Asia/Shanghai
	ReceivedAt string   `json:"received_at,omitempty"`
	Reason     string   `json:"reason"`
}

// QuarantineList is the body of GET /api/v1/quarantine.
type QuarantineList struct {
	Ops  []QuarantinedView `json:"ops"`
	Next string            `json:"next,omitempty"` // the after= of the next page
}

// listQuarantine serves GET /api/v1/quarantine?after=POS&limit=N: ops a station sent on
// cases it may not write, kept aside for a person to decide.
func (s *station) listQuarantine(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermRead, nil); !ok {
		return
	}
	var after uint64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_after", "after 须为非负整数 / after must be a non-negative integer", "after")
			return
		}
		after = n
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit 须为 1–1000 / limit must be 1–1000", "limit")
			return
		}
		limit = n
	}
	ops, err := s.cfg.Replica.Quarantined(after, limit)
	if err != nil {
		s.cfg.Logger.Error("list quarantine", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "读取隔离记录失败 / could not read the quarantine", "")
		return
	}
	out := QuarantineList{Ops: make([]QuarantinedView, 0, len(ops))}
	for _, q := range ops {
		v := QuarantinedView{Pos: q.Pos, Dot: q.Op.Dot.String(), Case: q.Op.Case, Kind: string(q.Op.Kind),
			Author: q.Op.Author, Via: q.Via, Stamp: time.UnixMilli(q.Op.Stamp.Wall).In(Shanghai).Format(time.RFC3339),
			Reason: q.Reason}
		if q.Meta.ReceivedAt != 0 {
			v.ReceivedAt = time.UnixMilli(q.Meta.ReceivedAt).In(Shanghai).Format(time.RFC3339)
		}
		for _, wr := range q.Op.Writes {
			v.Fields = append(v.Fields, wr.Field)
		}
		out.Ops = append(out.Ops, v)
	}
	if len(ops) == limit {
		out.Next = strconv.FormatUint(ops[len(ops)-1].Pos, 10)
	}
	writeJSON(w, http.StatusOK, out)
}
