package server

import (
	"errors"
	"net/http"

	"github.com/fengqiao/fengqiao/cases"
	fsync "github.com/fengqiao/fengqiao/sync"
)

// authorize is the one place a request is checked against the authorization table
// (cases.Allowed): it decides whether the caller of r may use perm on case c (nil when the
// action concerns no single case) and returns the account to record as the author of the
// ops the request writes. When it refuses, it has written the error response (401 when
// nobody is signed in, 403 when the table refuses) and ok is false.
//
// A node that holds no account yet (before its first run) serves only its own console
// (loopback), as the operator, allowed everything.
func (s *station) authorize(w http.ResponseWriter, r *http.Request, perm cases.Permission, c *cases.Case) (author string, ok bool) {
	cl, ok := s.authorizeCaller(w, r, perm, c)
	if !ok {
		return "", false
	}
	return cl.id(), true
}

// authorizeCaller is authorize returning the caller.
func (s *station) authorizeCaller(w http.ResponseWriter, r *http.Request, perm cases.Permission, c *cases.Case) (*caller, bool) {
	cl, aerr := s.identify(r)
	if aerr != nil {
		aerr.write(w)
		return nil, false
	}
	if cl.acct == nil {
		return cl, true
	}
	if err := cases.Allowed(cl.acct, perm, c, s.here()); err != nil {
		writeRefusal(w, err)
		return nil, false
	}
	return cl, true
}

// allowed reports whether the caller may use perm on c, writing nothing.
func (s *station) allowed(cl *caller, perm cases.Permission, c *cases.Case) bool {
	return cl.acct == nil || cases.Allowed(cl.acct, perm, c, s.here()) == nil
}

// writeRefusal writes a refusal of the table (403), or a validation error (400).
func writeRefusal(w http.ResponseWriter, err error) {
	var ref *cases.Refusal
	var fe *cases.FieldError
	switch {
	case errors.As(err, &ref):
		writeError(w, http.StatusForbidden, ref.Code, ref.Zh+" / "+ref.En, "")
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Code, fe.Zh+" / "+fe.En, fe.Field)
	default:
		writeError(w, http.StatusInternalServerError, "internal", "内部错误 / internal error", "")
	}
}

// enrollGate lets a signed-in person holding the enroll permission (an API token or
// session of a county admin, e.g. fengqiao enroll --token fqt_...) enroll stations; any
// other request goes to the hub's own check (its enrollment token, or loopback).
func (s *station) enrollGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, person := ParseToken(bearer(r)); person && s.auth.people != nil {
			author, ok := s.authorize(w, r, cases.PermEnroll, nil)
			if !ok {
				return
			}
			s.cfg.Logger.Info("enrollment by a signed-in admin", "account", author)
			r = r.WithContext(fsync.WithEnrollAuthorized(r.Context()))
		}
		next.ServeHTTP(w, r)
	})
}
