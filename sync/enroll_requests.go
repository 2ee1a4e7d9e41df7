package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fengqiao/fengqiao/node"
)

// Enrollment requests: a station that asks to enroll from the network without the
// enrollment token (a township office installing its laptop) is not refused outright: the
// hub keeps its request, a county admin approves or declines it on the hub's pages, and the
// station's next request with the same key is answered with its enrollment. Nothing a
// request carries is trusted until a person approved it; a request never replaces an
// enrollment, and at most maxPendingRequests wait at a time.

const (
	docEnrollRequest   = "enroll-request"
	maxPendingRequests = 200
)

// ErrPendingApproval says the hub keeps the station's enrollment request for a county admin
// to approve: ask again (the same key) once approved.
var ErrPendingApproval = errors.New("enrollment request waiting for a county admin's approval / 登记申请等待县级管理员批准")

// EnrollmentRequest is a request kept for a person to decide.
type EnrollmentRequest struct {
	EnrollRequest
	RequestedAt time.Time `json:"requested_at"`
	From        string    `json:"from"` // the address it came from
	Declined    bool      `json:"declined,omitempty"`
	Fingerprint string    `json:"fingerprint"` // of Key, as the station's enroll printed it
}

// answerUnauthorized decides what an enrollment request without the token gets: its
// enrollment when it matches one (same station, key, region and kind: it was approved, or
// enrolled before), ErrPendingApproval once it is kept for approval, or a refusal.
func (h *Hub) answerUnauthorized(ctx context.Context, req EnrollRequest, from string) (*HubInfo, error) {
	if err := h.checkRequest(req); err != nil {
		return nil, err
	}
	if e, err := h.enrollment(req.Station); err == nil && e.RevokedAt == 0 && bytes.Equal(e.Key, req.Key) &&
		e.Region == req.Region && e.Kind == req.Kind {
		return h.Enroll(ctx, req) // the same enrollment again: nothing changes
	}
	if old, err := h.request(req.Station); err == nil {
		if old.Declined && bytes.Equal(old.Key, req.Key) {
			return nil, fmt.Errorf("%w: a county admin declined this station's request / 登记申请已被拒绝", ErrEnroll)
		}
		if bytes.Equal(old.Key, req.Key) && old.Region == req.Region && old.Kind == req.Kind {
			return nil, ErrPendingApproval // already kept: no second write
		}
		if !old.Declined {
			// Another request for this id waits: a second one must not replace it (whoever
			// sent it could swap in their own key); the admin declines the wrong one first.
			return nil, fmt.Errorf("%w: another request for %s is waiting (key %s); ask the county admin / 该站点已有待批准的申请",
				ErrEnroll, req.Station, KeyFingerprint(old.Key))
		}
	}
	pending, err := h.EnrollmentRequests()
	if err != nil {
		return nil, err
	}
	if len(pending) >= maxPendingRequests {
		return nil, fmt.Errorf("%w: %d requests are already waiting; ask the county admin / 待批准的登记申请过多", ErrEnroll, len(pending))
	}
	b, _ := json.Marshal(EnrollmentRequest{EnrollRequest: req, RequestedAt: h.now(), From: from})
	if err := h.r.PutDoc(ctx, docEnrollRequest, req.Station, b); err != nil {
		return nil, fmt.Errorf("keep the enrollment request of %s: %w", req.Station, err)
	}
	h.log.Info("enrollment request kept for approval / 收到待批准的登记申请", "station", req.Station, "region", req.Region, "from", from)
	return nil, ErrPendingApproval
}

func (h *Hub) request(station string) (*EnrollmentRequest, error) {
	b, err := h.r.Doc(docEnrollRequest, station)
	if err != nil {
		return nil, err
	}
	var r EnrollmentRequest
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("enrollment request of %s: %w", station, err)
	}
	return &r, nil
}

// EnrollmentRequests lists the requests kept for approval (declined ones too), by station.
func (h *Hub) EnrollmentRequests() ([]EnrollmentRequest, error) {
	var out []EnrollmentRequest
	err := h.r.Docs(docEnrollRequest, func(id string, v []byte) error {
		var r EnrollmentRequest
		if json.Unmarshal(v, &r) == nil {
			r.Fingerprint = KeyFingerprint(r.Key)
			out = append(out, r)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b EnrollmentRequest) int { return cmpString(a.Station, b.Station) })
	return out, err
}

// ApproveEnrollment enrolls the station whose request is kept, as it asked, and forgets the
// request; the station's next request is answered with its enrollment.
func (h *Hub) ApproveEnrollment(ctx context.Context, station string) (*HubInfo, error) {
	r, err := h.request(station)
	if errors.Is(err, node.ErrNotFound) {
		return nil, fmt.Errorf("%w: no request of %s is waiting / 没有该站点的登记申请", ErrEnroll, station)
	}
	if err != nil {
		return nil, err
	}
	info, err := h.Enroll(ctx, r.EnrollRequest)
	if err != nil {
		return nil, err
	}
	if err := h.r.PutDoc(ctx, docEnrollRequest, station, nil); err != nil {
		return nil, fmt.Errorf("forget the request of %s: %w", station, err)
	}
	h.log.Info("enrollment request approved / 登记申请已批准", "station", station)
	return info, nil
}

// DeclineEnrollment marks the station's request declined: the same key is refused from
// then on (a new request with another key is kept again).
func (h *Hub) DeclineEnrollment(ctx context.Context, station string) error {
	r, err := h.request(station)
	if errors.Is(err, node.ErrNotFound) {
		return fmt.Errorf("%w: no request of %s is waiting / 没有该站点的登记申请", ErrEnroll, station)
	}
	if err != nil {
		return err
	}
	r.Declined = true
	b, _ := json.Marshal(r)
	if err := h.r.PutDoc(ctx, docEnrollRequest, station, b); err != nil {
		return fmt.Errorf("decline the request of %s: %w", station, err)
	}
	h.log.Info("enrollment request declined / 登记申请已拒绝", "station", station)
	return nil
}

// KeyFingerprint is a short form of a public key for people to compare (the station's
// `fengqiao enroll` prints its own; the hub's pages show the request's).
func KeyFingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return fmt.Sprintf("%X-%X-%X-%X", sum[0:2], sum[2:4], sum[4:6], sum[6:8])
}
