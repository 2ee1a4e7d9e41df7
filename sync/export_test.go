package sync

import (
	"context"

	"github.com/gorilla/websocket"

	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// Hooks for the external tests (package sync_test), which play misbehaving peers.

var (
	EncodeHelloForTest = func(versions []uint64, node string, key []byte) []byte {
		return encodeHello(hello{Versions: versions, Node: node, Key: key, Nonce: newNonce()})
	}
	EncodeAckForTest = encodeAck
	// SetAckedForTest records an acked position as a session's ack would.
	SetAckedForTest = func(r Replica, hub string, cp node.Checkpoint) error {
		return r.PutDoc(context.Background(), docAcked, hub, encodeAcked(cp))
	}
)

// DialRawForTest completes a station's handshake with the hub at url and returns the
// connection, ready for the test to send raw frames as that station.
func DialRawForTest(ctx context.Context, s *Station, url string) (*websocket.Conn, error) {
	conn, resp, err := s.cfg.Dialer.DialContext(ctx, syncURL(url), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.handshake(ctx, conn, ""); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// ReadErrorFrameForTest reads frames until an error frame (returned as *RemoteError) or
// the connection ends (returned as is).
func ReadErrorFrameForTest(conn *websocket.Conn) error {
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		f, err := decodeFrame(b)
		if err != nil {
			return err
		}
		if f.Code == codeError {
			return &RemoteError{Code: f.N, Message: f.Text}
		}
	}
}

// EncodeBatchForTest builds a batch frame of raw ops (canonical encodings) with heads.
func EncodeBatchForTest(seq uint64, stream, epoch string, to uint64, heads []node.SignedHead, ops [][]byte) []byte {
	w := mp.NewWriter()
	for _, raw := range ops {
		appendEntry(w, entry{Raw: raw})
	}
	b := &batchFrame{Seq: seq, Stream: stream, Epoch: epoch, To: to, Heads: heads}
	sealPayload(b, w.Bytes(), len(ops))
	return encodeBatch(b)
}
