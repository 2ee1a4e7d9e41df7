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
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/fengqiao/fengqiao/node"
)

func exportPush(ctx context.Context, r Replica, w io.Writer, info *HubInfo, opts BundleOptions) (BundleReport, error) {
	hub := info.Hub
	var after uint64
	switch cp, err := loadAcked(r, hub); {
	case err == nil && cp.Epoch == r.Epoch():
		after = cp.Pos
	case err != nil && !errors.Is(err, node.ErrNotFound):
		// From the start: the hub takes what it holds as duplicates.
		opts.Logger.Warn("acked position unreadable; the bundle starts from the beginning of the feed", "err", err)
	}
	out := bundleOut{progress: opts.Progress}
	if err := out.drain(ctx, r, true, feedStream(r, hub, after)); err != nil {
		return BundleReport{}, err
	}
	var cps []streamCheckpoint
	for _, scope := range info.Scopes {
		cp, err := r.PeerCheckpoint(node.StreamName(hub, scope))
		if err != nil {
			return BundleReport{}, err
		}
		cps = append(cps, streamCheckpoint{Stream: scope, Epoch: cp.Epoch, Pos: cp.Pos})
	}
	hdr := BundleHeader{Kind: BundlePush, From: r.Origin().Node, To: hub, Created: opts.Now().UnixMilli(),
		Epoch: r.Epoch(), Ranges: out.ranges, Ops: uint64(out.ops)}
	return out.write(w, hdr, cps, info.Recipient, r.SessionSignature)
}

func (h *Hub) exportReturn(ctx context.Context, w io.Writer, e *Enrollment, progress func(done, total int)) (BundleReport, error) {
	if e.RevokedAt != 0 {
		return BundleReport{}, fmt.Errorf("%w: station %s was revoked / 该站点已被注销", ErrBundle, e.Station)
	}
	receipt, err := h.r.PeerCheckpoint(e.Station)
	if err != nil {
		return BundleReport{}, err
	}
	_, reported, err := loadBundlePos(h.r, e.Station)
	if err != nil {
		return BundleReport{}, err
	}
	out := bundleOut{progress: progress}
	for _, scope := range e.Scopes() {
		var after uint64
		for _, c := range reported {
			if c.Stream == scope && c.Epoch == h.r.Epoch() {
				after = c.Pos
			}
		}
		if err := out.drain(ctx, h.r, false, h.scopeStream(scope, after, e, false)); err != nil {
			return BundleReport{}, err
		}
	}
	hdr := BundleHeader{Kind: BundleReturn, From: h.r.Origin().Node, To: e.Station, Created: h.now().UnixMilli(),
		Epoch: h.r.Epoch(), Ranges: out.ranges, Ops: uint64(out.ops)}
	cps := []streamCheckpoint{{Stream: "", Epoch: receipt.Epoch, Pos: receipt.Pos}}
	return out.write(w, hdr, cps, e.Recipient, h.r.SessionSignature)
}

// bundleOut collects a bundle's batch frames before the header, which names their ranges
// and count, is written ahead of them.
type bundleOut struct {
	frames  [][]byte
	seq     uint64
	ops     int
	ranges  []BundleRange
	batches int
	// progress, when set, hears the ops read after each batch (BundleOptions.Progress).
	progress func(done, total int)
}

// drain reads st to its end in batches, as a session's sender would.
func (o *bundleOut) drain(ctx context.Context, r Replica, signHeads bool, st *outStream) error {
	rng := BundleRange{Stream: st.name, From: st.sent}
	perEntry := 300
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		limit := max(16, min(bundleRawBatch/perEntry+1, MaxBatchEntries))
		got, next, err := st.readBatch(st.sent, limit)
		if err != nil {
			return fmt.Errorf("read stream %q after %d: %w", st.name, st.sent, err)
		}
		if len(got) == 0 && next == st.sent {
			break
		}
		b, n, rawLen, err := buildBatch(r, signHeads, st, got, bundleRawBatch)
		if err != nil {
			return fmt.Errorf("bundle batch of stream %q: %w", st.name, err)
		}
		if n < len(got) {
			next = got[n-1].pos
		}
		if n > 0 {
			perEntry = max(32, rawLen/n)
		}
		for _, oe := range got[:n] {
			if oe.e.Raw != nil {
				o.ops++
			}
		}
		o.seq++
		b.Seq, b.To = o.seq, next
		fb := encodeBatch(b)
		if len(fb) > MaxFrameBytes {
			return fmt.Errorf("bundle batch of stream %q after %d: %d bytes, over %d", st.name, st.sent, len(fb), MaxFrameBytes)
		}
		o.frames = append(o.frames, fb)
		o.batches++
		st.sent = next
		if o.progress != nil {
			o.progress(o.ops, 0)
		}
	}
	rng.To = st.sent
	o.ranges = append(o.ranges, rng)
	return nil
}

// write writes the whole file: magic, version, header, the encrypted frames and trailer,
// and the signature.
func (o *bundleOut) write(w io.Writer, hdr BundleHeader, trailer []streamCheckpoint, recipient string, sign func([]byte) []byte) (BundleReport, error) {
	rep := reportOf(&hdr)
	rep.Batches, rep.Ops = o.batches, o.ops
	if recipient == "" {
		return rep, fmt.Errorf("%w: %s has no bundle key on record (enroll it again) / 对端没有登记文件加密密钥", ErrBundle, hdr.To)
	}
	rec, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return rep, fmt.Errorf("bundle recipient of %s: %w", hdr.To, err)
	}
	hb := encodeBundleHeader(&hdr)
	if len(hb) > maxBundleHeader {
		return rep, fmt.Errorf("bundle header of %d bytes, over %d", len(hb), maxBundleHeader)
	}
	sum := sha256.New()
	cw := &countingWriter{w: w}
	mw := io.MultiWriter(cw, sum)
	prefix := append([]byte(bundleMagic), BundleVersion)
	prefix = binary.AppendUvarint(prefix, uint64(len(hb)))
	if _, err := mw.Write(append(prefix, hb...)); err != nil {
		return rep, err
	}
	aw, err := age.Encrypt(mw, rec)
	if err != nil {
		return rep, err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	for _, fb := range append(o.frames, encodeTrailer(trailer)) {
		if _, err := aw.Write(binary.AppendUvarint(lenBuf[:0], uint64(len(fb)))); err != nil {
			return rep, err
		}
		if _, err := aw.Write(fb); err != nil {
			return rep, err
		}
	}
	if err := aw.Close(); err != nil {
		return rep, err
	}
	if _, err := cw.Write(sign(bundleMessage(sum.Sum(nil)))); err != nil {
		return rep, err
	}
	rep.Bytes = cw.n
	return rep, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
