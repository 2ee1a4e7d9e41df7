package sync

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// Enrollment: a hub signs a station's public key and scope, and gives the station its own
// keys. Both ends keep what they learnt as replica documents: the hub one "enrollment" per
// station, the station one "hub". The hub never sees a station's private key.
//
// A county hub enrolls at its city hub the same way, as a peer of kind "hub" (KindHub): it
// is then the city's "station" for the protocol, except that it forwards ops of many
// origins (see node.WriterRule.AnyOrigin) and its scope is its whole county.

const (
	docEnrollment = "enrollment"
	docHub        = "hub"
	docAcked      = "acked"
	secretAge     = "age-identity"
)

// Kinds of enrolled peers.
const (
	KindStation = ""    // a station (网格站, 乡镇站): the default, and every record before kinds
	KindHub     = "hub" // a county hub enrolled at its city hub
)

// Enrollment is what a hub knows of one station (or, of kind KindHub, one county hub).
type Enrollment struct {
	Station   string
	Kind      string // KindStation or KindHub
	Region    string
	Key       ed25519.PublicKey
	Recipient string // the station's age recipient, for return bundles
	IssuedAt  int64  // ms
	RevokedAt int64  // ms; 0 while valid
	Sig       []byte // the hub's signature over the station, its region and key
}

// Scopes are the streams a hub serves the station: its region, its assignments, and the
// configuration in force at the hub (calendar, metric definitions: node.ScopeConfig).
func (e *Enrollment) Scopes() []string {
	return append(e.writeScopes(), node.ScopeConfig)
}

// writeScopes are the scopes whose cases the station may write: its region's and its
// assignments' (never the hub's configuration).
func (e *Enrollment) writeScopes() []string {
	return []string{node.ScopeOfRegion(e.Region), node.ScopeOfStation(e.Station)}
}

// Rule is what the station may write (see node.WriterRule): a hub peer forwards ops of
// any origin, held to its scopes like a station's own.
func (e *Enrollment) Rule() *node.WriterRule {
	return &node.WriterRule{Node: e.Station, Scopes: e.writeScopes(), AnyOrigin: e.Kind == KindHub}
}

// encode writes the record: 7 elements for a station (as every record before kinds), 8 with
// the kind last for a hub peer.
func (e *Enrollment) encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		n := 7
		if e.Kind != KindStation {
			n = 8
		}
		w.ArrayLen(n)
		w.String(e.Station)
		w.String(e.Region)
		w.Bin(e.Key)
		w.String(e.Recipient)
		w.Int(e.IssuedAt)
		w.Int(e.RevokedAt)
		w.Bin(e.Sig)
		if n == 8 {
			w.String(e.Kind)
		}
	})
}

func decodeEnrollment(b []byte) (*Enrollment, error) {
	rd := mp.NewReader(b)
	n := rd.ExpectArray(7, 8)
	e := &Enrollment{Station: rd.String(maxIDLen), Region: rd.String(16), Key: bytes.Clone(rd.Bytes(32)),
		Recipient: rd.String(256), IssuedAt: rd.Int(), RevokedAt: rd.Int(), Sig: bytes.Clone(rd.Bytes(64))}
	if n == 8 {
		e.Kind = rd.String(16)
	}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("enrollment record: %w", err)
	}
	if e.Kind != KindStation && e.Kind != KindHub {
		return nil, fmt.Errorf("enrollment record of %s: unknown kind %q", e.Station, e.Kind)
	}
	return e, nil
}

// enrollmentMessage is what an enrollment's signature covers. A hub peer's has its own
// prefix, so that a signature over a station can never stand for a hub's, nor the reverse.
func enrollmentMessage(kind, hub, station, region string, key ed25519.PublicKey) []byte {
	prefix := "enroll\x00"
	if kind == KindHub {
		prefix = "enroll hub\x00"
	}
	return []byte(prefix + hub + "\x00" + station + "\x00" + region + "\x00" + string(key))
}

// HubInfo is what a station knows of its hub after enrolling.
type HubInfo struct {
	Hub       string            `json:"hub"`
	Key       ed25519.PublicKey `json:"key"`
	Recipient string            `json:"recipient"`
	Region    string            `json:"region"` // the station's region, as the hub granted it
	Scopes    []string          `json:"scopes"`
	URLs      []string          `json:"urls"`
	Sig       []byte            `json:"sig"`            // the hub's signature over the enrollment
	Kind      string            `json:"kind,omitempty"` // KindHub when this node is enrolled as a hub peer
}

// LoadHubInfo returns the station's enrollment, or an error saying it has none. At a county
// hub it is the enrollment at its parent (city) hub.
func LoadHubInfo(r Replica) (*HubInfo, error) {
	b, err := r.Doc(docHub, "")
	if errors.Is(err, node.ErrNotFound) {
		return nil, errors.New("this station is not enrolled with a hub (run: fengqiao enroll --hub URL --dir DIR --region CODE) / 本站尚未在中心登记")
	}
	if err != nil {
		return nil, err
	}
	var h HubInfo
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("hub record: %w", err)
	}
	return &h, nil
}

// AgeIdentity returns the node's bundle decryption identity, made on first use.
func AgeIdentity(r Replica) (*age.X25519Identity, error) {
	b, err := r.Secret(secretAge, func() ([]byte, error) {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		return []byte(id.String()), nil
	})
	if err != nil {
		return nil, err
	}
	return age.ParseX25519Identity(string(b))
}

// EnrollRequest is what a station sends to be enrolled (a county hub too, with Kind
// KindHub; a hub that does not know kinds refuses the field).
type EnrollRequest struct {
	Station   string            `json:"station"`
	Region    string            `json:"region"`
	Key       ed25519.PublicKey `json:"key"`
	Recipient string            `json:"recipient"`
	Kind      string            `json:"kind,omitempty"`
}

// Enroll registers a station at this hub: its key and region, signed by the hub. Enrolling
// again with the same key changes nothing; a new key for an enrolled station (a replaced
// laptop) replaces the old one, and the old key's sessions are closed. A request of kind
// KindHub enrolls a county hub at its city hub: only a county (6 digits) directly below
// this hub's city (4 digits).
func (h *Hub) Enroll(ctx context.Context, req EnrollRequest) (*HubInfo, error) {
	if err := h.checkRequest(req); err != nil {
		return nil, err
	}
	hubID := h.r.Origin().Node
	e := &Enrollment{Station: req.Station, Kind: req.Kind, Region: req.Region, Key: req.Key, Recipient: req.Recipient,
		IssuedAt: h.now().UnixMilli()}
	e.Sig = h.r.SessionSignature(enrollmentMessage(e.Kind, hubID, e.Station, e.Region, e.Key))
	if old, err := h.enrollment(req.Station); err == nil && old.RevokedAt == 0 && bytes.Equal(old.Key, req.Key) &&
		old.Region == req.Region && old.Kind == req.Kind {
		e = old
	} else if err := h.r.PutDoc(ctx, docEnrollment, e.Station, e.encode()); err != nil {
		return nil, fmt.Errorf("enroll %s: %w", e.Station, err)
	} else {
		h.closeSession(e.Station, ErrCodeRevoked, "enrollment replaced")
		if e.Kind == KindHub {
			h.log.Info("county hub enrolled / 县级中心已登记", "hub", e.Station, "region", e.Region)
		} else {
			h.log.Info("station enrolled", "station", e.Station, "region", e.Region)
		}
	}
	rec, err := AgeIdentity(h.r)
	if err != nil {
		return nil, err
	}
	return &HubInfo{Hub: hubID, Key: h.r.PublicKey(), Recipient: rec.Recipient().String(), Region: e.Region,
		Scopes: e.Scopes(), URLs: h.urls, Sig: e.Sig, Kind: e.Kind}, nil
}

// checkRequest refuses an enrollment request this hub may not grant, whoever asks.
func (h *Hub) checkRequest(req EnrollRequest) error {
	hubRegion := h.r.Region()
	switch {
	case req.Kind != KindStation && req.Kind != KindHub:
		return fmt.Errorf("%w: unknown kind %q", ErrEnroll, req.Kind)
	case !cases.ValidID(req.Station) || len(req.Station) > maxIDLen:
		return fmt.Errorf("%w: station id %q", ErrEnroll, req.Station)
	case req.Station == h.r.Origin().Node:
		return fmt.Errorf("%w: %s is this hub's own id", ErrEnroll, req.Station)
	case len(req.Key) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: public key of %d bytes", ErrEnroll, len(req.Key))
	case !regions.Known(req.Region):
		return fmt.Errorf("%w: %q is not a division code / 不是有效的行政区划代码", ErrEnroll, req.Region)
	case len(req.Region) <= len(hubRegion) || !strings.HasPrefix(req.Region, hubRegion):
		return fmt.Errorf("%w: region %s is not below this hub's region %s / 不在本中心辖区内", ErrEnroll, req.Region, hubRegion)
	case req.Kind == KindHub && (len(hubRegion) != 4 || len(req.Region) != 6):
		return fmt.Errorf("%w: a hub enrolls only as a county (6 digits) at its city hub (4 digits); this hub serves %s, the request names %s / 县级中心只能在其所属市级中心登记",
			ErrEnroll, hubRegion, req.Region)
	}
	if req.Recipient != "" {
		if _, err := age.ParseX25519Recipient(req.Recipient); err != nil {
			return fmt.Errorf("%w: bundle recipient: %v", ErrEnroll, err)
		}
	}
	return nil
}

// ErrEnroll marks a refused enrollment.
var ErrEnroll = errors.New("enrollment refused")

// Revoke ends a station's enrollment: its live session is closed now, and it is refused
// from then on, until it enrolls again.
func (h *Hub) Revoke(ctx context.Context, station string) error {
	e, err := h.enrollment(station)
	if err != nil {
		return err
	}
	e.RevokedAt = h.now().UnixMilli()
	if err := h.r.PutDoc(ctx, docEnrollment, station, e.encode()); err != nil {
		return fmt.Errorf("revoke %s: %w", station, err)
	}
	h.closeSession(station, ErrCodeRevoked, "enrollment revoked")
	h.log.Warn("station revoked", "station", station)
	return nil
}

func (h *Hub) enrollment(station string) (*Enrollment, error) {
	b, err := h.r.Doc(docEnrollment, station)
	if err != nil {
		return nil, err
	}
	return decodeEnrollment(b)
}

// EnrollHandler serves POST /api/v1/enroll. With no token configured it accepts only
// loopback callers (a county admin at the hub's own console); with one, callers must send
// it as a bearer token.
func (h *Hub) EnrollHandler(token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			httpError(w, http.StatusMethodNotAllowed, "method", "use POST")
			return
		}
		var req EnrollRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			httpError(w, http.StatusBadRequest, "bad_request", "enrollment request: "+err.Error())
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		authorized := r.Context().Value(enrollAuthorized{}) != nil || // a signed-in person with the enroll permission
			token == "" && ip != nil && ip.IsLoopback() // the hub's own console
		if !authorized && token != "" && r.Header.Get("Authorization") != "" {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
				httpError(w, http.StatusUnauthorized, "unauthorized", "wrong enrollment token / 登记口令错误")
				return
			}
			authorized = true
		}
		if !authorized {
			// No token: the request waits for a county admin (enroll_requests.go).
			info, err := h.answerUnauthorized(r.Context(), req, host)
			switch {
			case errors.Is(err, ErrPendingApproval):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusAccepted)
				_ = json.NewEncoder(w).Encode(map[string]any{"pending": true, "message": ErrPendingApproval.Error()})
			case errors.Is(err, ErrEnroll):
				httpError(w, http.StatusForbidden, "enroll_refused", err.Error())
			case err != nil:
				httpError(w, http.StatusInternalServerError, "internal", err.Error())
			default:
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(info)
			}
			return
		}
		info, err := h.Enroll(r.Context(), req)
		if errors.Is(err, ErrEnroll) {
			httpError(w, http.StatusBadRequest, "enroll_refused", err.Error())
			return
		}
		if err != nil {
			httpError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
	})
}

type enrollAuthorized struct{}

// WithEnrollAuthorized marks a request's context as coming from a signed-in person the
// authorization table allows to enroll stations: EnrollHandler then needs neither the
// enrollment token nor loopback.
func WithEnrollAuthorized(ctx context.Context) context.Context {
	return context.WithValue(ctx, enrollAuthorized{}, true)
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// EnrollStation asks the hub at hubURL (http or https) to enroll the station replica r
// under region, checks the hub's signature, and stores what it learnt.
func EnrollStation(ctx context.Context, r Replica, hubURL, region, token string) (*HubInfo, error) {
	return enrollAt(ctx, r, hubURL, region, KindStation, token)
}

// EnrollHub asks the city hub at parentURL to enroll the county hub whose replica is r, as a
// peer of kind KindHub under r's own region, checks the city's signature, and stores what
// it learnt (through r.PutDoc: a Raft hub replicates it). A refusal by the city (a region
// not directly below it, a wrong token) wraps ErrEnroll.
func EnrollHub(ctx context.Context, r Replica, parentURL, token string) (*HubInfo, error) {
	if reg := r.Region(); len(reg) != 6 {
		return nil, fmt.Errorf("%w: only a county hub (6-digit region) enrolls at a parent hub; this one serves %q / 只有县级中心可向上级中心登记", ErrEnroll, reg)
	}
	return enrollAt(ctx, r, parentURL, r.Region(), KindHub, token)
}

// refusedError is a hub's refusal of an enrollment (4xx): it wraps ErrEnroll, keeping the
// hub's words as its text.
type refusedError struct{ msg string }

func (e *refusedError) Error() string        { return e.msg }
func (e *refusedError) Is(target error) bool { return target == ErrEnroll }

func enrollAt(ctx context.Context, r Replica, hubURL, region, kind, token string) (*HubInfo, error) {
	rec, err := AgeIdentity(r)
	if err != nil {
		return nil, err
	}
	req := EnrollRequest{Station: r.Origin().Node, Region: region, Key: r.PublicKey(), Recipient: rec.Recipient().String(), Kind: kind}
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := strings.TrimSuffix(hubURL, "/") + "/api/v1/enroll"
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	fc := &firstContact{now: time.Now}
	resp, err := fc.client().Do(hr)
	if err != nil {
		return nil, fmt.Errorf("enroll at %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("enroll at %s: %w", u, err)
	}
	if resp.StatusCode == http.StatusAccepted {
		return nil, fmt.Errorf("enroll at %s: %w", u, ErrPendingApproval)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("enroll at %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return nil, &refusedError{msg: err.Error()}
		}
		return nil, err
	}
	var info HubInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("enroll at %s: answer: %w", u, err)
	}
	if len(info.Key) != ed25519.PublicKeySize || !ed25519.Verify(info.Key, node.SessionMessage(enrollmentMessage(kind, info.Hub, req.Station, info.Region, req.Key)), info.Sig) {
		return nil, fmt.Errorf("enroll at %s: the hub's signature over this station does not verify", u)
	}
	if err := fc.check(info.Key); err != nil {
		return nil, fmt.Errorf("enroll at %s: %w", u, err)
	}
	info.Kind = kind
	if len(info.URLs) == 0 {
		info.URLs = []string{hubURL}
	}
	stored, _ := json.Marshal(info)
	if err := r.PutDoc(ctx, docHub, "", stored); err != nil {
		return nil, err
	}
	return &info, nil
}
