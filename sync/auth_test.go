package sync_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	fsync "github.com/fengqiao/fengqiao/sync"
)

// connectOnce runs one session and returns why it ended (nil when the test cancelled it).
func connectOnce(t *testing.T, st *fsync.Station, url string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return st.Connect(ctx, url)
}

func remoteCode(err error) uint64 {
	var re *fsync.RemoteError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

// A station the hub never enrolled is refused during the handshake; the hub's store does
// not change.
func TestAuth_UnenrolledStationRefused(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))

	// The same hub info, copied to a station the hub has never heard of.
	stranger := openReplica(t, t.TempDir(), "stX", townA)
	info, _ := a.r.Doc("hub", "")
	if err := stranger.PutDoc(context.Background(), "hub", "", info); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, stranger, registration("X-1", villageA, "grid9"))
	st, err := fsync.NewStation(fsync.StationConfig{Replica: stranger, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	before := h.r.Status()
	err = connectOnce(t, st, h.srv.URL)
	if remoteCode(err) != fsync.ErrCodeUnknownNode {
		t.Fatalf("unenrolled station: got %v, want error code %d", err, fsync.ErrCodeUnknownNode)
	}
	if after := h.r.Status(); after.FeedSeq != before.FeedSeq {
		t.Errorf("hub feed moved from %d to %d", before.FeedSeq, after.FeedSeq)
	}
}

// A station presenting another key than the one enrolled under its id (a stolen id) is
// refused; so is a hub whose key is not the one the station enrolled with.
func TestAuth_WrongKeysRefusedBothWays(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)

	impostor := openReplica(t, t.TempDir(), "stA", townA) // same id, its own new key
	info, _ := a.r.Doc("hub", "")
	_ = impostor.PutDoc(context.Background(), "hub", "", info)
	mustWrite(t, impostor, registration("I-1", villageA, "grid9"))
	st, err := fsync.NewStation(fsync.StationConfig{Replica: impostor, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := connectOnce(t, st, h.srv.URL); remoteCode(err) != fsync.ErrCodeBadKey {
		t.Fatalf("station with a wrong key: got %v, want code %d", err, fsync.ErrCodeBadKey)
	}
	if caseState(t, h.r, "I-1") != "" {
		t.Error("the impostor's case reached the hub")
	}

	// A fake hub answering at the station's hub URL, under the real hub's id.
	fake := openReplica(t, t.TempDir(), "hub1", testCounty)
	fh := fsync.NewHub(fsync.HubConfig{Replica: fake, Logger: quiet()})
	info2, _ := fsync.LoadHubInfo(a.r)
	if _, err := fh.Enroll(context.Background(), fsync.EnrollRequest{Station: "stA", Region: townA, Key: a.r.PublicKey(), Recipient: info2.Recipient}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.Handler(fh))
	defer srv.Close()
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	err = connectOnce(t, a.st, srv.URL)
	if err == nil || !contains(err.Error(), "key") {
		t.Fatalf("station talking to a fake hub: got %v, want a key refusal", err)
	}
	if caseState(t, fake, "A-1") != "" {
		t.Error("the station's case reached the fake hub")
	}
}

// Revoking a station closes its live session at once and refuses the next.
func TestAuth_RevocationClosesLiveSession(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	errc := make(chan error, 1)
	go func() { errc <- connectOnce(t, a.st, h.srv.URL) }()
	waitFor(t, 10*time.Second, "session", func() bool { return len(h.hub.Sessions()) == 1 })
	if err := h.hub.Revoke(context.Background(), "stA"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if remoteCode(err) != fsync.ErrCodeRevoked {
			t.Errorf("live session ended with %v, want code %d", err, fsync.ErrCodeRevoked)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("revocation did not close the live session")
	}
	if err := connectOnce(t, a.st, h.srv.URL); remoteCode(err) != fsync.ErrCodeRevoked {
		t.Errorf("after revocation: got %v, want code %d", err, fsync.ErrCodeRevoked)
	}
}

// Protocol versions: a hub accepts any offer that includes a version it speaks and picks
// the highest shared; an offer with none in common is refused with the versions named.
func TestAuth_VersionNegotiation(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))

	future, err := fsync.NewStation(fsync.StationConfig{Replica: a.r, Logger: quiet(), Versions: []uint64{7, 8}})
	if err != nil {
		t.Fatal(err)
	}
	err = connectOnce(t, future, h.srv.URL)
	if remoteCode(err) != fsync.ErrCodeVersion || !contains(err.Error(), "[7 8]") {
		t.Fatalf("station of only future versions: got %v", err)
	}
	if caseState(t, h.r, "A-1") != "" {
		t.Fatal("ops moved without a shared version")
	}

	newer, err := fsync.NewStation(fsync.StationConfig{Replica: a.r, Logger: quiet(), Versions: []uint64{1, 2, 9}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- newer.Connect(ctx, h.srv.URL) }()
	waitFor(t, 20*time.Second, "a newer station to sync at the shared version", func() bool { return caseState(t, h.r, "A-1") != "" })
	cancel()
	<-done
}

// Bad frames after the handshake — oversized, malformed, a length bomb, a batch out of
// sequence, an ack for nothing — each get an error frame and a close, and change nothing.
func TestAuth_BadFramesRefused(t *testing.T) {
	h := startHub(t, "hub1")
	a := enrollStation(t, h, "stA", townA)
	mustWrite(t, a.r, registration("A-1", villageA, "grid1"))
	bomb := []byte{0x95, 0x05, 0xdd, 0x80, 0, 0, 0} // a batch frame whose first field is a 2^31-element array
	bomb = append(bomb, make([]byte, 7)...)
	cases := []struct {
		name  string
		frame []byte
		text  bool
		code  uint64
	}{
		// Oversized is refused by the websocket layer from the frame header, before the
		// payload is read: the answer is a websocket close 1009 (message too big).
		{"oversized", make([]byte, fsync.MaxFrameBytes+1), false, 1009},
		{"malformed", []byte{0xc1, 0x00, 0x01}, false, fsync.ErrCodeBadFrame},
		{"length bomb", bomb, false, fsync.ErrCodeBadFrame},
		{"text message", []byte("hello"), true, fsync.ErrCodeBadFrame},
		{"unknown frame code", []byte{0x92, 0x63, 0x00}, false, fsync.ErrCodeBadFrame},
		{"ack of nothing", fsync.EncodeAckForTest(5), false, fsync.ErrCodeProtocol},
		{"hello mid-session", fsync.EncodeHelloForTest([]uint64{1}, "stA", a.r.PublicKey()), false, fsync.ErrCodeProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.r.Status().FeedSeq
			conn, err := fsync.DialRawForTest(context.Background(), a.st, h.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			mt := websocket.BinaryMessage
			if tc.text {
				mt = websocket.TextMessage
			}
			if err := conn.WriteMessage(mt, tc.frame); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			err = fsync.ReadErrorFrameForTest(conn)
			var ce *websocket.CloseError
			if errors.As(err, &ce) && uint64(ce.Code) == tc.code {
				err = &fsync.RemoteError{Code: tc.code}
			}
			if remoteCode(err) != tc.code {
				t.Fatalf("got %v, want an error frame with code %d", err, tc.code)
			}
			// Whatever the hub applied came before the bad frame: the station's own one op
			// at most (the session's sender may have pushed it), never anything of the frame.
			if after := h.r.Status().FeedSeq; after > before+1 {
				t.Errorf("hub feed moved from %d to %d", before, after)
			}
		})
	}
}

// Too many sessions: beyond MaxSessions a hub answers "busy" instead of serving.
func TestAuth_SessionLimit(t *testing.T) {
	r := openReplica(t, t.TempDir(), "hub1", testCounty)
	hub := fsync.NewHub(fsync.HubConfig{Replica: r, Logger: quiet(), MaxSessions: 1})
	mux := http.NewServeMux()
	mux.Handle("/sync", hub)
	mux.Handle("/api/v1/enroll", hub.EnrollHandler(""))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	th := &testHub{r: r, hub: hub, srv: srv}
	a := enrollStation(t, th, "stA", townA)
	b := enrollStation(t, th, "stB", townB)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.st.Connect(ctx, srv.URL) }()
	waitFor(t, 10*time.Second, "first session", func() bool { return len(hub.Sessions()) == 1 })
	if err := connectOnce(t, b.st, srv.URL); remoteCode(err) != fsync.ErrCodeBusy {
		t.Errorf("second session: got %v, want code %d", err, fsync.ErrCodeBusy)
	}
	cancel()
	<-done
}
