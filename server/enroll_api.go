package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/sync"
)

// EnrollmentDesk is what a hub's pages need to decide on enrollment requests that came
// without the enrollment token; *sync.Hub implements it.
type EnrollmentDesk interface {
	EnrollmentRequests() ([]sync.EnrollmentRequest, error)
	ApproveEnrollment(ctx context.Context, station string) (*sync.HubInfo, error)
	DeclineEnrollment(ctx context.Context, station string) error
}

var _ EnrollmentDesk = (*sync.Hub)(nil)

func (s *station) registerEnrollmentDesk(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/enrollments/requests", s.listEnrollmentRequests)
	mux.HandleFunc("POST /api/v1/enrollments/requests/{station}/approve", s.decideEnrollment(true))
	mux.HandleFunc("POST /api/v1/enrollments/requests/{station}/decline", s.decideEnrollment(false))
}

// listEnrollmentRequests serves GET /api/v1/enrollments/requests: the stations that asked
// to enroll without the token, with their key fingerprints, for a county admin.
func (s *station) listEnrollmentRequests(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, cases.PermEnroll, nil); !ok {
		return
	}
	reqs, err := s.cfg.Enrollments.EnrollmentRequests()
	if err != nil {
		s.writeFailure(w, "enrollment requests", err)
		return
	}
	if reqs == nil {
		reqs = []sync.EnrollmentRequest{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": reqs})
}

// decideEnrollment serves POST /api/v1/enrollments/requests/{station}/approve|decline.
func (s *station) decideEnrollment(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.authorize(w, r, cases.PermEnroll, nil); !ok {
			return
		}
		station := r.PathValue("station")
		var err error
		if approve {
			_, err = s.cfg.Enrollments.ApproveEnrollment(r.Context(), station)
		} else {
			err = s.cfg.Enrollments.DeclineEnrollment(r.Context(), station)
		}
		if errors.Is(err, sync.ErrEnroll) {
			writeError(w, http.StatusNotFound, "no_request", err.Error(), "station")
			return
		}
		if err != nil {
			s.writeFailure(w, "enrollment decision", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"station": station, "approved": approve})
	}
}
