package sync

// Bundles (sneakernet): the op streams of a session, in one file carried by hand to a
// station that never gets a link, or back from it. A station's bundle ("push") carries its
// feed after what the hub is known to hold; the hub's answer ("return") carries a receipt
// (how far it has durably applied the station's feed) and the station's scope streams. Both
// are encrypted to the recipient (age, X25519: the station knows the hub's recipient from
// its enrollment, the hub the station's) and signed by the sender's Ed25519 node key.
//
// File layout (BundleVersion 1), every part in this order:
//
//	magic     "FQBUNDLE", 8 bytes
//	version   1 byte: BundleVersion
//	hlen      uvarint: the header's length in bytes, 1 .. 64 KiB
//	header    msgpack [kind, from, to, created, epoch, ranges, ops], in plain text and
//	          holding no personal data:
//	            kind     "push" (station → hub) or "return" (hub → station)
//	            from     the sender's node id
//	            to       the recipient's node id
//	            created  ms since 1970, the sender's clock
//	            epoch    the sender's feed epoch
//	            ranges   [[stream, from, to], ...]: each stream carried, the body holding
//	                     its entries after position from, up to position to. A push has
//	                     one, the station's whole feed (stream ""); a return one per scope.
//	            ops      how many ops the body holds
//	body      age (X25519) encryption, to the recipient, of a sequence of frames, each a
//	          uvarint length (1 .. MaxFrameBytes) and that many bytes:
//	            batch frames exactly as in a session (see encodeBatch), numbered 1, 2, ...
//	            across the bundle, signed heads and all; then
//	            one trailer frame, last: msgpack [32, [[stream, epoch, pos], ...]], where
//	            the sender stands in the recipient's streams. A push lists the station's
//	            checkpoints of the hub's scope streams (where a return bundle should start);
//	            a return lists the receipt: the hub's checkpoint of the station's feed
//	            (stream "").
//	sig       64 bytes: the sender's Ed25519 signature over
//	          node.SessionMessage("bundle\x00" + sha256(every byte before sig)), made with
//	          Replica.SessionSignature. The "bundle" prefix keeps it from ever being taken
//	          for a handshake transcript's signature, and the other way round.
//
// Every declared length is checked against its limit and the bytes present before anything
// is allocated for it: the header against 64 KiB and the file's size, each frame against
// MaxFrameBytes and the body's size, and inside a frame as a session checks it.
//
// An importer reads and checks the header, knows the sender (a hub: an enrollment, not
// revoked; a station: its enrolled hub), and verifies the signature over the whole file
// before it decrypts or applies anything. Then it decrypts and applies each batch in order
// through the receiver a session uses (writer rule, receipt stamp and head checks at a hub;
// scoped streams at a station), each with its checkpoint, and finally takes the trailer.
// Checkpoints only move forward, and ops already held are duplicates: importing a bundle
// twice changes nothing, and an import cut short (a failed batch, a cancelled context)
// leaves whole batches applied, which importing the bundle again completes. The body is
// read twice (signature, then decryption); the second read is hashed too, and the trailer
// is taken only if it matches the first. An exporter holds the bundle's encoded batches
// in memory until it has written the header, which counts them.

import (
	"errors"
	"fmt"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// bundleMessage is what a bundle's signature covers (inside node.SessionMessage).
func bundleMessage(sum []byte) []byte {
	return append([]byte("bundle\x00"), sum...)
}

func encodeBundleHeader(h *BundleHeader) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(7)
		w.String(h.Kind)
		w.String(h.From)
		w.String(h.To)
		w.Int(h.Created)
		w.String(h.Epoch)
		w.ArrayLen(len(h.Ranges))
		for _, r := range h.Ranges {
			w.ArrayLen(3)
			w.String(r.Stream)
			w.Uint(r.From)
			w.Uint(r.To)
		}
		w.Uint(h.Ops)
	})
}

func decodeBundleHeader(b []byte) (BundleHeader, error) {
	var h BundleHeader
	rd := mp.NewReader(b)
	rd.ExpectArray(7, 7)
	h.Kind = rd.String(16)
	h.From = rd.String(maxIDLen)
	h.To = rd.String(maxIDLen)
	h.Created = rd.Int()
	h.Epoch = rd.String(maxIDLen)
	k := rd.ArrayLen(maxStreams)
	for i := 0; i < k && rd.Err() == nil; i++ {
		rd.ExpectArray(3, 3)
		h.Ranges = append(h.Ranges, BundleRange{Stream: rd.String(maxStreamLen), From: rd.Uint(), To: rd.Uint()})
	}
	h.Ops = rd.Uint()
	if rd.Err() == nil && rd.Remaining() != 0 {
		rd.Failf("%d trailing bytes", rd.Remaining())
	}
	if err := rd.Err(); err != nil {
		return BundleHeader{}, err
	}
	switch {
	case h.Kind != BundlePush && h.Kind != BundleReturn:
		return BundleHeader{}, fmt.Errorf("kind %q", h.Kind)
	case !cases.ValidID(h.From) || !cases.ValidID(h.To) || h.From == h.To:
		return BundleHeader{}, fmt.Errorf("sender %q, recipient %q", h.From, h.To)
	case h.Created < 0:
		return BundleHeader{}, fmt.Errorf("created at %d", h.Created)
	case h.Kind == BundlePush && (len(h.Ranges) != 1 || h.Ranges[0].Stream != ""):
		return BundleHeader{}, errors.New("a push carries exactly the sender's feed")
	}
	seen := map[string]bool{}
	for _, r := range h.Ranges {
		if r.From > r.To || seen[r.Stream] || (h.Kind == BundleReturn && r.Stream == "") {
			return BundleHeader{}, fmt.Errorf("stream range %q %d..%d", r.Stream, r.From, r.To)
		}
		seen[r.Stream] = true
	}
	return h, nil
}

func encodeTrailer(cps []streamCheckpoint) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(2)
		w.Uint(codeBundleTrailer)
		writeCheckpoints(w, cps)
	})
}

func decodeTrailer(b []byte) ([]streamCheckpoint, error) {
	rd := mp.NewReader(b)
	rd.ExpectArray(2, 2)
	if code := rd.Uint(); rd.Err() == nil && code != codeBundleTrailer {
		rd.Failf("trailer code %d", code)
	}
	cps := readCheckpoints(rd)
	if rd.Err() == nil && rd.Remaining() != 0 {
		rd.Failf("%d trailing bytes", rd.Remaining())
	}
	return cps, rd.Err()
}

// frameCode returns the code of an encoded frame (its first element), without decoding it.
func frameCode(b []byte) uint64 {
	rd := mp.NewReader(b)
	rd.ArrayLen(16)
	c := rd.Uint()
	if rd.Err() != nil {
		return 0
	}
	return c
}

// The hub keeps, per station, the positions in its scope streams that the station's
// newest push bundle reported: msgpack [created, [[stream, epoch, pos], ...]].
func encodeBundlePos(created int64, cps []streamCheckpoint) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(2)
		w.Int(created)
		writeCheckpoints(w, cps)
	})
}

func loadBundlePos(r Replica, station string) (int64, []streamCheckpoint, error) {
	b, err := r.Doc(docBundlePos, station)
	if errors.Is(err, node.ErrNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	rd := mp.NewReader(b)
	rd.ExpectArray(2, 2)
	created := rd.Int()
	cps := readCheckpoints(rd)
	if err := rd.Err(); err != nil {
		return 0, nil, fmt.Errorf("bundle positions of %s: %w", station, err)
	}
	return created, cps, nil
}
