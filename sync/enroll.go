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

const (
	docEnrollment = "enrollment"
	docHub        = "hub"
	docAcked      = "acked"
	secretAge     = "age-identity"
)

// Enrollment is what a hub knows of one station.
type Enrollment struct {
	Station   string
	Region    string
	Key       ed25519.PublicKey
	Recipient string // the station's age recipient, for return bundles
	IssuedAt  int64  // ms
	RevokedAt int64  // ms; 0 while valid
	Sig       []byte // the hub's signature over the station, its region and key
}

// Scopes are the streams a hub serves the station: its region and its assignments.
func (e *Enrollment) Scopes() []string {
	return []string{node.ScopeOfRegion(e.Region), node.ScopeOfStation(e.Station)}
}

// Rule is what the station may write (see node.WriterRule).
func (e *Enrollment) Rule() *node.WriterRule {
	return &node.WriterRule{Node: e.Station, Scopes: e.Scopes()}
}

func (e *Enrollment) encode() []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(7)
		w.String(e.Station)
		w.String(e.Region)
		w.Bin(e.Key)
		w.String(e.Recipient)
		w.Int(e.IssuedAt)
		w.Int(e.RevokedAt)
		w.Bin(e.Sig)
	})
}

func decodeEnrollment(b []byte) (*Enrollment, error) {
	rd := mp.NewReader(b)
	rd.ExpectArray(7, 7)
	e := &Enrollment{Station: rd.String(maxIDLen), Region: rd.String(16), Key: bytes.Clone(rd.Bytes(32)),
		Recipient: rd.String(256), IssuedAt: rd.Int(), RevokedAt: rd.Int(), Sig: bytes.Clone(rd.Bytes(64))}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("enrollment record: %w", err)
	}
	return e, nil
}

func enrollmentMessage(hub, station, region string, key ed25519.PublicKey) []byte {
	return []byte("enroll\x00" + hub + "\x00" + station + "\x00" + region + "\x00" + string(key))
}

// HubInfo is what a station knows of its hub after enrolling.
type HubInfo struct {
	Hub       string            `json:"hub"`
	Key       ed25519.PublicKey `json:"key"`
	Recipient string            `json:"recipient"`
	Region    string            `json:"region"` // the station's region, as the hub granted it
	Scopes    []string          `json:"scopes"`
	URLs      []string          `json:"urls"`
	Sig       []byte            `json:"sig"` // the hub's signature over the enrollment
}

// LoadHubInfo returns the station's enrollment, or an error saying it has none.
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

// EnrollRequest is what a station sends to be enrolled.
type EnrollRequest struct {
	Station   string            `json:"station"`
	Region    string            `json:"region"`
	Key       ed25519.PublicKey `json:"key"`
	Recipient string            `json:"recipient"`
}

// Enroll registers a station at this hub: its key and region, signed by the hub. Enrolling
// again with the same key changes nothing; a new key for an enrolled station (a replaced
// laptop) replaces the old one, and the old key's sessions are closed.
func (h *Hub) Enroll(ctx context.Context, req EnrollRequest) (*HubInfo, error) {
	hubRegion := h.r.Region()
	switch {
	case !cases.ValidID(req.Station) || len(req.Station) > maxIDLen:
		return nil, fmt.Errorf("%w: station id %q", ErrEnroll, req.Station)
	case len(req.Key) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("%w: public key of %d bytes", ErrEnroll, len(req.Key))
	case !regions.Known(req.Region):
		return nil, fmt.Errorf("%w: %q is not a division code / 不是有效的行政区划代码", ErrEnroll, req.Region)
	case len(req.Region) <= len(hubRegion) || !strings.HasPrefix(req.Region, hubRegion):
		return nil, fmt.Errorf("%w: region %s is not below this hub's region %s / 不在本中心辖区内", ErrEnroll, req.Region, hubRegion)
	}
	if req.Recipient != "" {
		if _, err := age.ParseX25519Recipient(req.Recipient); err != nil {
			return nil, fmt.Errorf("%w: bundle recipient: %v", ErrEnroll, err)
		}
	}
	hubID := h.r.Origin().Node
	e := &Enrollment{Station: req.Station, Region: req.Region, Key: req.Key, Recipient: req.Recipient,
		IssuedAt: h.now().UnixMilli()}
	e.Sig = h.r.SessionSignature(enrollmentMessage(hubID, e.Station, e.Region, e.Key))
	if old, err := h.enrollment(req.Station); err == nil && old.RevokedAt == 0 && bytes.Equal(old.Key, req.Key) && old.Region == req.Region {
		e = old
	} else if err := h.r.PutDoc(ctx, docEnrollment, e.Station, e.encode()); err != nil {
		return nil, fmt.Errorf("enroll %s: %w", e.Station, err)
	} else {
		h.closeSession(e.Station, ErrCodeRevoked, "enrollment replaced")
		h.log.Info("station enrolled", "station", e.Station, "region", e.Region)
	}
	rec, err := AgeIdentity(h.r)
	if err != nil {
		return nil, err
	}
	return &HubInfo{Hub: hubID, Key: h.r.PublicKey(), Recipient: rec.Recipient().String(), Region: e.Region,
		Scopes: e.Scopes(), URLs: h.urls, Sig: e.Sig}, nil
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
		if token == "" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				httpError(w, http.StatusForbidden, "forbidden", "enrollment without a token is accepted only from this machine / 未配置登记口令时仅接受本机登记")
				return
			}
		} else if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			httpError(w, http.StatusUnauthorized, "unauthorized", "wrong or missing enrollment token / 登记口令错误")
			return
		}
		var req EnrollRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			httpError(w, http.StatusBadRequest, "bad_request", "enrollment request: "+err.Error())
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

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// EnrollStation asks the hub at hubURL (http or https) to enroll the station replica r
// under region, checks the hub's signature, and stores what it learnt.
func EnrollStation(ctx context.Context, r Replica, hubURL, region, token string) (*HubInfo, error) {
	rec, err := AgeIdentity(r)
	if err != nil {
		return nil, err
	}
	req := EnrollRequest{Station: r.Origin().Node, Region: region, Key: r.PublicKey(), Recipient: rec.Recipient().String()}
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
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("enroll at %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("enroll at %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("enroll at %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	var info HubInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("enroll at %s: answer: %w", u, err)
	}
	if len(info.Key) != ed25519.PublicKeySize || !ed25519.Verify(info.Key, node.SessionMessage(enrollmentMessage(info.Hub, req.Station, info.Region, req.Key)), info.Sig) {
		return nil, fmt.Errorf("enroll at %s: the hub's signature over this station does not verify", u)
	}
	if len(info.URLs) == 0 {
		info.URLs = []string{hubURL}
	}
	stored, _ := json.Marshal(info)
	if err := r.PutDoc(ctx, docHub, "", stored); err != nil {
		return nil, err
	}
	return &info, nil
}
